"""``python -m safemigrate.demo.probe URL``: the demo app's readiness probe as a command (exit 0 on 2xx).

The release's ``--health-cmd`` runs it when 127.0.0.1 is unreachable (the app then listens on a
Unix socket, as ``curl --unix-socket`` would reach it).
"""

from __future__ import annotations

import sys

from .app import get_ready


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m safemigrate.demo.probe http://HOST:PORT/health/ready | unix:SOCKET",
              file=sys.stderr)
        return 2
    try:
        status, body = get_ready(argv[0])
    except OSError as exc:
        print(f"no answer: {exc}", file=sys.stderr)
        return 1
    print(f"{status} {body}")
    return 0 if 200 <= status < 300 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
