"""Hooks: commands the release runs at its phases (``--before``, ``--after``, ``--before-restore`` ...).

Each hook is an argument list run without a shell (a string is split as a POSIX
shell would split it, but no shell ever sees it: no globbing, no ``$VAR``, no
``;``), with a timeout, its output kept (redacted) for the report, and the
release's context in ``SAFEMIGRATE_RELEASE_ID``, ``_ENV``, ``_FROM_VERSION``,
``_TO_VERSION``, ``_PHASE``, ``_BACKUP_ID`` and ``_OUTCOME``. The database URL is
never in a hook's environment.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..childenv import child_environment
from ..errors import UsageError
from ..redact import redact_text

__all__ = ["Hook", "HookResult", "parse_hook", "run_hook"]

_OUTPUT_LIMIT = 64 * 1024  # per stream, kept for the report


@dataclass(frozen=True)
class Hook:
    argv: tuple[str, ...]
    timeout: float = 300.0

    @property
    def shown(self) -> str:
        return redact_text(shlex.join(self.argv))


@dataclass(frozen=True)
class HookResult:
    hook: Hook
    phase: str
    exit_code: int | None  # None: it did not finish (timed out)
    output: str
    duration: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def to_dict(self) -> dict[str, Any]:
        return {"command": self.hook.shown, "phase": self.phase, "exit_code": self.exit_code,
                "ok": self.ok, "duration_s": round(self.duration, 3), "output": self.output}


def parse_hook(spec: str | Sequence[str], *, what: str = "hook", timeout: float = 300.0) -> Hook:
    """A hook from ``"kubectl scale deployment/chat --replicas=0"`` or ``["kubectl", "scale", ...]``."""
    if isinstance(spec, str):
        try:
            argv = tuple(shlex.split(spec))
        except ValueError as exc:
            raise UsageError(f"`{what}` {spec!r}: {exc}", hint="quote arguments as a shell would",
                             settings=(what,)) from None
    else:
        argv = tuple(str(part) for part in spec)
    if not argv:
        raise UsageError(f"`{what}`: the command is empty", settings=(what,))
    if shutil.which(argv[0]) is None:
        raise UsageError(f"{what}: {argv[0]!r} is not an executable on PATH",
                         hint="give the program's full path (hooks run without a shell)")
    if timeout <= 0:
        raise UsageError(f"`{what}`: the timeout must be more than 0 seconds", settings=(what,))
    return Hook(argv=argv, timeout=timeout)


def run_hook(hook: Hook, phase: str, context: Mapping[str, str | int | None], *,
             secrets: Iterable[str] = (), named_secrets: frozenset[str] = frozenset()) -> HookResult:
    """Run one hook to its end or its timeout; its output (stdout then stderr) is redacted."""
    extra = {"SAFEMIGRATE_PHASE": phase}
    for key, value in context.items():
        extra[f"SAFEMIGRATE_{key.upper()}"] = "" if value is None else str(value)
    secrets = tuple(secrets)
    env = child_environment(extra, named_secrets=named_secrets, secret_values=secrets)
    started = time.monotonic()
    try:
        done = subprocess.run(list(hook.argv), capture_output=True, env=env, timeout=hook.timeout,
                              stdin=subprocess.DEVNULL, check=False)
        code: int | None = done.returncode
        raw = _tail(done.stdout) + _tail(done.stderr)
    except subprocess.TimeoutExpired as exc:
        code = None
        raw = _tail(exc.stdout or b"") + _tail(exc.stderr or b"") + \
            f"\n(stopped after its {hook.timeout:g} s timeout)".encode()
    except OSError as exc:
        code, raw = 127, f"could not run it: {exc.strerror}".encode()
    output = redact_text(raw.decode("utf-8", errors="replace"), secrets)
    return HookResult(hook=hook, phase=phase, exit_code=code, output=output,
                      duration=time.monotonic() - started)


def _tail(data: bytes | str) -> bytes:
    raw = data.encode() if isinstance(data, str) else data
    return raw[-_OUTPUT_LIMIT:]
