"""SQLite through the standard library, compatible with golang-migrate's sqlite3 and sqlite drivers.

golang-migrate locks SQLite only inside one process. safemigrate also excludes
other processes, with an advisory ``flock`` on a file beside the database
(``<database>-safemigrate.lock``), released by the kernel if the process dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import sqlite3
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from ..errors import DatabaseError, LockTimeoutError, SafemigrateError
from ..urls import DatabaseURL
from .base import DbErrorInfo, Driver, LockHolder, Query, TableName, VersionState, local_identity

__all__ = ["SqliteDriver", "sqlite_path"]

_PLAIN_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# go-sqlite3 (mattn) DSN parameters we can honour, mapped to PRAGMAs.
_PRAGMA_PARAMS = {
    "_foreign_keys": "foreign_keys",
    "_fk": "foreign_keys",
    "_journal_mode": "journal_mode",
    "_journal": "journal_mode",
    "_synchronous": "synchronous",
    "_sync": "synchronous",
    "_busy_timeout": "busy_timeout",
    "_timeout": "busy_timeout",
}


def sqlite_path(url: DatabaseURL) -> tuple[str, list[tuple[str, str]]]:
    """What golang-migrate would open: the URL minus scheme and x- parameters.

    A ``file:`` URI keeps its query, as go-sqlite3 passes it to SQLite, so that ``mode=ro``,
    ``cache=shared`` or ``immutable=1`` take effect; a plain path drops it (go-sqlite3 too).
    """
    rest = url.raw.split("://", 1)[1]
    path, _, query = rest.partition("?")
    if path.startswith("file:") and query:
        kept = [part for part in query.split("&") if part and not part.startswith("x-")]
        if kept:
            path += "?" + "&".join(kept)
    return path, list(url.query)


def uri_file(path: str) -> str:
    """The file a ``file:`` URI names (``file:app.db?mode=ro`` -> ``app.db``), else ``path`` itself."""
    if not path.startswith("file:"):
        return path
    name = path[len("file:"):].split("?", 1)[0].split("#", 1)[0]
    if name.startswith("//"):
        name = name[2:]
        name = name[name.find("/"):] if "/" in name else ""  # file://host/path: SQLite allows only localhost
    from urllib.parse import unquote

    return unquote(name)


class SqliteDriver(Driver):
    dialect = "sqlite"
    transactional_ddl = True
    placeholder = "?"

    def __init__(self, url: DatabaseURL) -> None:
        super().__init__(url)
        self.path, self.params = sqlite_path(url)
        self.statement_mode_everywhere = url.custom_bool("x-no-tx-wrap")
        self._conn: sqlite3.Connection | None = None
        self._lock_file: IO[str] | None = None
        self._locked = False
        self._cancel_requested = False
        if not self.path:
            raise DatabaseError(
                f"no database file in {url.redacted()}",
                hint="write the URL as sqlite3://path/to/file.db (relative) or sqlite3:///abs/path.db",
            )
        # Read before the query is cut off: a password may hold '?' or '#'.
        head = url.raw.split("://", 1)[1].split("/", 1)[0]
        if not head.startswith("file:") and ":" in head.rpartition("@")[0]:
            # sqlite3://user:password@host/db names the file "user:password@host/db": opening it
            # would create a file whose name holds the password. A server's URL given to the
            # sqlite3 scheme, almost surely: refused, the file left unmade.
            raise DatabaseError(
                f"{url.redacted()} names a SQLite file that starts like user:password@host: SQLite has no "
                "server to log in to, and no file was made",
                hint="write sqlite3://path/to/file.db, or use the server's scheme (postgres://, mysql://); "
                "a file whose name really holds ':' and '@' can be named by a file: URI "
                "(sqlite3://file:NAME)",
            )

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("not connected")
        return self._conn

    @property
    def in_memory(self) -> bool:
        return self.path == ":memory:" or "mode=memory" in self.path or uri_file(self.path) == ":memory:"

    @property
    def file(self) -> str:
        """The database file (a ``file:`` URI's path, without its query)."""
        return uri_file(self.path)

    def connect(self) -> None:
        uri = self.path.startswith("file:")
        if not self.in_memory:
            parent = Path(self.file).parent
            if not parent.exists():
                raise DatabaseError(
                    f"cannot open SQLite database {self.file!r}: folder {str(parent)!r} does not exist",
                    hint="create the folder, or fix the path in the database URL",
                )
        try:
            # isolation_level=None: the engine issues BEGIN/COMMIT itself.
            self._conn = sqlite3.connect(self.path, uri=uri, isolation_level=None, timeout=15.0,
                                         check_same_thread=False)
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot open SQLite database {self.file!r}: {exc}",
                                hint="check the path and its permissions; a file: URI with mode=ro "
                                "or mode=rw needs the file to exist") from None
        # A Python callback now and then lets signal handlers run during long statements.
        self._conn.set_progress_handler(lambda: 0, 100_000)
        for key, value in self.params:
            pragma = _PRAGMA_PARAMS.get(key)
            if pragma is not None:
                self._conn.execute(f"PRAGMA {pragma} = {self._pragma_value(value)}")

    @staticmethod
    def _pragma_value(value: str) -> str:
        lowered = value.lower()
        if lowered in ("true", "yes", "on"):
            return "1"
        if lowered in ("false", "no", "off"):
            return "0"
        return "".join(ch for ch in value if ch.isalnum() or ch == "_") or "0"

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
        self._release_lock_file()

    def cancel(self) -> None:
        self._cancel_requested = True  # also ends a wait for the lock file
        if self._conn is not None:
            self._conn.interrupt()

    @property
    def database_name(self) -> str:
        return self.path

    @property
    def connected_database(self) -> str:
        return "in-memory database" if self.in_memory else str(Path(self.file).resolve())

    @property
    def server_version(self) -> str:
        return sqlite3.sqlite_version

    @property
    def current_user(self) -> str | None:
        return None

    # -- SQL -------------------------------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        self.conn.execute(sql, tuple(params) if params is not None else ())

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        return list(self.conn.execute(sql, tuple(params) if params is not None else ()).fetchall())

    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    def quote_ident(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def literal(self, value: Any) -> str:
        if isinstance(value, bool):
            return "1" if value else "0"
        return super().literal(value)

    def describe_error(self, exc: BaseException) -> DbErrorInfo | None:
        if not isinstance(exc, sqlite3.Error):
            return None
        code = getattr(exc, "sqlite_errorname", None)
        message = str(exc)
        if code is not None and code.startswith("SQLITE_READONLY"):
            # Said in the message itself: every report that shows the error shows why.
            message += f" ({self._read_only_reason()})"
        return DbErrorInfo(message=message, code=code)

    def _read_only_reason(self) -> str:
        query = self.path.partition("?")[2]
        given = [part for part in query.split("&") if part in ("mode=ro", "immutable=1")]
        if given:
            return (f"the URL opens it read-only with {' and '.join(given)}: remove that from the "
                    "file: URI to let migrations write")
        return "the file or its folder is not writable by this user: fix the permissions"

    # -- locking ---------------------------------------------------------------
    def lock_path(self) -> Path | None:
        if self.in_memory:
            return None
        return Path(self.file + "-safemigrate.lock")

    def lock(self, timeout: float) -> None:
        if self._locked:
            raise DatabaseError("database locked: this process already holds the migration lock")
        self.conn.execute(f"PRAGMA busy_timeout = {min(int(max(timeout, 0) * 1000), 2**31 - 1)}")
        path = self.lock_path()
        if path is None:
            self._locked = True
            return
        try:
            handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held until unlock
        except OSError as exc:
            raise DatabaseError(
                f"cannot create the lock file {str(path)!r} beside the database: {exc.strerror}",
                hint="the folder of the database file must be writable for a command that writes",
            ) from None
        deadline = time.monotonic() + max(timeout, 0)
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if self._cancel_requested:
                    handle.close()
                    raise DatabaseError("the wait for the migration lock was interrupted") from None
                if time.monotonic() >= deadline:
                    holder = self._read_holder(path)
                    handle.close()
                    raise LockTimeoutError(
                        f"timeout: can't acquire database lock after {timeout:g}s: {path} is locked by "
                        + (holder.describe() if holder else "another process"),
                        hint="wait for the other run to finish and run the command again",
                        details={"lock_file": str(path), "holder": holder.__dict__ if holder else None},
                    ) from None
                time.sleep(0.05)
        handle.seek(0)
        handle.truncate()
        info = {"pid": os.getpid(), **local_identity(),
                "since": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
        handle.write(json.dumps(info))
        handle.flush()
        self._lock_file = handle
        self._locked = True

    @staticmethod
    def _read_holder(path: Path) -> LockHolder | None:
        try:
            info = json.loads(path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            return None
        if not info:
            return None
        return LockHolder(pid=info.get("pid"), user=info.get("os_user"), client=info.get("host"),
                          since=info.get("since"), application_name="safemigrate")

    def _release_lock_file(self) -> None:
        if self._lock_file is not None:
            with contextlib.suppress(OSError):
                self._lock_file.seek(0)
                self._lock_file.truncate()
            self._lock_file.close()  # closing releases the flock
            self._lock_file = None

    def unlock(self) -> None:
        self._locked = False
        self._release_lock_file()

    # -- version table ---------------------------------------------------------
    def table_exists(self, table: TableName) -> bool:
        rows = self.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table.name,))
        return bool(rows)

    def table_columns(self, table: TableName) -> set[str]:
        rows = self.query("SELECT name FROM pragma_table_info(?)", (table.name,))
        return {str(r[0]).lower() for r in rows}

    def bookkeeping_error(self, exc: BaseException) -> SafemigrateError | None:
        if isinstance(exc, sqlite3.OperationalError) and "database is locked" in str(exc):
            return LockTimeoutError(
                f"timeout: waited {self.lock_wait_timeout:g}s (`lock_timeout`) for another connection's "
                f"write lock on {self.path} to be released",
                hint="find the program that keeps a transaction open on the database file "
                f"(fuser {self.path}), let it finish, and run the command again",
                settings=("lock_timeout",),
            )
        return None

    def create_version_table_sql(self) -> list[Query]:
        # golang-migrate's exact DDL, index name included. x-migrations-table is a name, never
        # SQL: anything but a plain identifier is quoted (a plain one stays bare, byte for byte
        # golang-migrate's schema).
        name = self.version_table.name
        table = name if _PLAIN_IDENTIFIER.fullmatch(name) else self.quote_ident(name)
        return [
            (f"CREATE TABLE IF NOT EXISTS {table} (version uint64,dirty bool)", None),
            (f"CREATE UNIQUE INDEX IF NOT EXISTS version_unique ON {table} (version)", None),
        ]

    def read_version(self) -> VersionState:
        try:
            rows = self.query(f"SELECT version, dirty FROM {self.qualified(self.version_table)} LIMIT 1")
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return VersionState(None, False)
            problem = self.version_table_problem() if "no such column" in str(exc) else None
            problem = problem or self.bookkeeping_error(exc)
            if problem is None:
                raise
            raise problem from None
        if not rows:
            return VersionState(None, False)
        version, dirty = rows[0]
        return VersionState(None if int(version) == -1 else int(version), bool(dirty))

    def drop_all_tables(self) -> list[str]:
        rows = self.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
        )
        names = [r[0] for r in rows if r[0]]
        for name in names:
            self.execute("BEGIN")
            try:
                self.execute(f"DROP TABLE IF EXISTS {self.quote_ident(name)}")
                self.execute("COMMIT")
            except sqlite3.Error:
                self.execute("ROLLBACK")
                raise
        if names:
            self.execute("VACUUM")
        return names
