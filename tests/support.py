"""Helpers shared by the tests: real servers, per-test databases, and running the CLI.

Every URL handed to the code under test carries CANARY_PASSWORD where the server
ignores it (trust authentication), and every output the helpers capture is checked
for it, so a leaked password fails the test that leaked it.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

CANARY_PASSWORD = "Canary-Pa55w0rd-7f3a"
REPO = Path(__file__).resolve().parent.parent


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def port_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def with_database(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + dbname))


def with_password(url: str, password: str = CANARY_PASSWORD) -> str:
    """Put ``password`` into the URL's user info (the test servers use trust auth and ignore it)."""
    parts = urlsplit(url)
    if parts.password is not None or not parts.username:
        return url
    netloc = parts.netloc
    userinfo, _, hostport = netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{userinfo}:{password}@{hostport}"))


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def json(self) -> Any:
        import json

        return json.loads(self.stdout)


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert CANARY_PASSWORD not in text, f"password leaked into output:\n{text}"


def run_cli(*args: str, env: dict[str, str] | None = None, input: str | None = None,
            cwd: Path | None = None) -> CliResult:
    """Run the CLI in this process with captured streams (fast; same code path as the console script)."""
    from safemigrate.cli import run
    from safemigrate.cli.output import Output  # noqa: F401  (import check)

    old_env = dict(os.environ)
    old_cwd = Path.cwd()
    old_streams = (sys.stdout, sys.stderr, sys.stdin)
    out, err = io.StringIO(), io.StringIO()
    try:
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        if cwd is not None:
            os.chdir(cwd)
        sys.stdout, sys.stderr = out, err
        sys.stdin = io.StringIO(input or "")
        code = run(list(args))
    finally:
        sys.stdout, sys.stderr, sys.stdin = old_streams
        if env is not None:
            os.environ.clear()
            os.environ.update(old_env)
        os.chdir(old_cwd)
    result = CliResult(code, out.getvalue(), err.getvalue())
    assert_no_secret(result.stdout, result.stderr)
    return result


def run_cli_process(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
                    timeout: float = 120, input: str | None = None) -> CliResult:
    """Run ``python -m safemigrate`` as a separate process (for signals, concurrency, start-up)."""
    full_env = dict(os.environ if env is None else env)
    full_env.setdefault("PYTHONUNBUFFERED", "1")
    proc = subprocess.run(
        [sys.executable, "-m", "safemigrate", *args],
        capture_output=True, text=True, env=full_env, cwd=cwd, timeout=timeout, input=input,
    )
    result = CliResult(proc.returncode, proc.stdout, proc.stderr)
    assert_no_secret(result.stdout, result.stderr)
    return result
