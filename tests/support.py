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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

CANARY_PASSWORD = "Canary-Pa55w0rd-7f3a"
# The canary and the pieces of it a URL parser could cut out and quote: none may be printed.
CANARY_PIECES = (CANARY_PASSWORD, "Pa55w0rd")
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
    """Put ``password`` into the URL's user info (the test servers use trust auth and ignore it).

    Also for socket URLs with an empty password, such as the embedded server's postgresql://postgres:@/db.
    """
    parts = urlsplit(url)
    if parts.password or not parts.username:
        return url
    _, _, hostport = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{parts.username}:{password}@{hostport}"))


# URLs no parser reads as meant, each with the canary where a password goes: every error
# about them must be clear and must not show the canary (or a piece of it).
MALFORMED_URLS: tuple[str, ...] = (
    f"postgres:{CANARY_PASSWORD}@127.0.0.1/db",  # no scheme separator
    f"postgres://u:{CANARY_PASSWORD}/x@127.0.0.1/db",  # raw / in the password
    f"postgres://u:{CANARY_PASSWORD}@x@127.0.0.1:notaport/db",  # raw @ in the password, bad port
    f"postgres://u:{CANARY_PASSWORD}#x@127.0.0.1/db",  # raw # in the password
    f"postgres://u:{CANARY_PASSWORD}%zz@127.0.0.1/db",  # bad percent-encoding
    f"postgres://u:{CANARY_PASSWORD}@[::1/db",  # unclosed IPv6 bracket
    f"postgres://u:{CANARY_PASSWORD}@/db",  # user info, empty host
    f"mysql://u:{CANARY_PASSWORD}@tcp(127.0.0.1:x)/db",  # bad port, DSN form
    f"mysql://u:{CANARY_PASSWORD}@/db",  # user info, no address
    f"mysql://u:{CANARY_PASSWORD}/x@127.0.0.1/db",  # raw / in the password, URL form
)


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
    """No canary, and no recognisable piece of it (a parser may cut a password at / @ # :)."""
    for text in texts:
        for piece in CANARY_PIECES:
            assert piece not in text, f"password leaked into output:\n{text}"


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


def run_cli_with_env_url(url: str, *args: str, cwd: Path | None = None) -> CliResult:
    """Run the CLI with the database URL only in $DATABASE_URL (never on the command line)."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DATABASE_URL"] = url
    return run_cli(*args, env=env, cwd=cwd)


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


class TestDatabase:
    """A database under test plus a side connection for the test's own checks."""

    __test__ = False  # not a test class

    def __init__(self, dialect: str, url: str, connect_to: str) -> None:
        self.dialect = dialect
        self.url = url
        self._connect_to = connect_to

    @property
    def transactional_ddl(self) -> bool:
        return self.dialect != "mysql"

    def _connect(self) -> Any:
        if self.dialect == "postgres":
            import psycopg

            return psycopg.connect(self._connect_to, autocommit=True)
        if self.dialect == "sqlite":
            import sqlite3

            return sqlite3.connect(self._connect_to, isolation_level=None)
        import pymysql

        from safemigrate.drivers.mysql import MysqlDriver  # type: ignore[import-not-found]
        from safemigrate.urls import parse_database_url

        return pymysql.connect(**MysqlDriver.connect_kwargs(parse_database_url(self.url)),
                               autocommit=True)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        conn = self._connect()
        try:
            cur = conn.cursor()
            cur.execute(sql)
            return [tuple(r) for r in cur.fetchall()]
        finally:
            conn.close()

    def execute(self, sql: str) -> None:
        conn = self._connect()
        try:
            conn.cursor().execute(sql)
        finally:
            conn.close()

    def tables(self) -> set[str]:
        if self.dialect == "postgres":
            rows = self.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
        elif self.dialect == "sqlite":
            rows = self.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        else:
            rows = self.query("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()")
        return {r[0] for r in rows}

    def version_row(self) -> list[tuple[Any, ...]]:
        return [(int(v), bool(d)) for v, d in self.query("SELECT version, dirty FROM schema_migrations")]

    def autoincrement_table(self, name: str) -> None:
        """A log table whose rows keep insertion order, in each dialect's spelling."""
        key = {
            "postgres": "seq bigserial PRIMARY KEY",
            "sqlite": "seq INTEGER PRIMARY KEY AUTOINCREMENT",
            "mysql": "seq BIGINT AUTO_INCREMENT PRIMARY KEY",
        }[self.dialect]
        self.execute(f"CREATE TABLE {name} ({key}, body VARCHAR(200) NOT NULL)")


def falls_back_to_click(parse: Callable[[list[str], Any], object], args: list[str]) -> bool:
    """A click-free reader (``parse_lint_command``, ``parse_status_command`` ...) declines ``args``
    and stores nothing on the way: click then reads them and gives its own answer."""
    from safemigrate.cli.settings import Settings

    settings = Settings()
    return parse(list(args), settings) is None and settings == Settings(output=settings.output)


def write_migrations(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, body in files.items():
        (folder / name).write_text(body, encoding="utf-8")
    return folder


def database_name(url: str) -> str:
    """The database a URL names (its path), also for socket URLs such as postgresql://u@/db?host=/run."""
    return urlsplit(url).path.lstrip("/")


def python_calls(work: Callable[[], object]) -> int:
    """Python-level function calls (generators resumed included) made while running ``work()``:
    a count of work that does not depend on the machine's speed or load."""
    calls = 0

    def count(_frame: object, event: str, _arg: object) -> None:
        nonlocal calls
        if event == "call":
            calls += 1

    sys.setprofile(count)
    try:
        work()
    finally:
        sys.setprofile(None)
    return calls


@contextmanager
def login_role(plain_url: str, admin_url: str, prefix: str, *setup: str) -> Iterator[str]:
    """A new login role with USAGE on schema public, then ``setup`` (``{role}`` filled in) run as
    the test's owner; its objects and the role itself dropped afterwards."""
    import psycopg

    name = f"{prefix}{uuid.uuid4().hex[:10]}"
    with psycopg.connect(plain_url, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{name}" LOGIN')
        conn.execute(f'GRANT USAGE ON SCHEMA public TO "{name}"')
        for statement in setup:
            conn.execute(statement.format(role=f'"{name}"'))
    try:
        yield name
    finally:
        with psycopg.connect(plain_url, autocommit=True) as conn:
            conn.execute(f'DROP OWNED BY "{name}"')
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{name}"')


def as_role(url: str, role: str) -> str:
    """``url`` logging in as ``role`` (with the canary password, so any leak of it is caught)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{role}:{CANARY_PASSWORD}@{parts.hostname}:{parts.port}"))
