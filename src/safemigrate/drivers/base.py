"""The one interface every database driver implements.

A driver knows how to connect, lock, read and write golang-migrate's version
table, run one SQL statement, and describe its database's errors. It knows
nothing of planning, history or the command line: the engine does that.
"""

from __future__ import annotations

import getpass
import os
import socket
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from ..errors import SafemigrateError, UsageError
from ..sql import Script, split_sql
from ..urls import DatabaseURL

__all__ = [
    "DbErrorInfo",
    "Driver",
    "LockHolder",
    "Query",
    "StatementFailed",
    "TableName",
    "VersionState",
    "check_lock_timeout",
    "local_identity",
]

# PostgreSQL's lock_timeout and statement_timeout are int milliseconds: the largest bound every
# database accepts (about 24.8 days).
MAX_TIMEOUT_MS = 2_147_483_647
# The version table is bigint (PostgreSQL, MySQL) or a signed 64-bit INTEGER (SQLite).
MAX_VERSION = 2**63 - 1


def check_lock_timeout(seconds: float, what: str = "-lock-timeout") -> float:
    """A usable lock timeout in seconds, or a usage error naming the accepted range."""
    if not 0 <= seconds <= MAX_TIMEOUT_MS // 1000:
        raise UsageError(
            f"{what} {seconds:.0f} is out of range: give a number of seconds from 0 to "
            f"{MAX_TIMEOUT_MS // 1000} (about 24 days)",
            hint=f"for example {what} 15 (the default)",
        )
    return seconds


def check_timeout_ms(value: int, what: str) -> int:
    """A usable timeout in milliseconds from a URL parameter, or a usage error."""
    if not 0 <= value <= MAX_TIMEOUT_MS:
        raise UsageError(
            f"{what}={value} is out of range: give milliseconds from 0 (no timeout) to {MAX_TIMEOUT_MS}",
            hint=f"for example {what}=60000 for one minute",
        )
    return value

Query = tuple[str, Sequence[Any] | None]


@dataclass(frozen=True)
class VersionState:
    """What the version table says. ``version`` None means no version (golang-migrate's -1)."""

    version: int | None
    dirty: bool = False

    @property
    def as_int(self) -> int:
        """golang-migrate's int spelling (-1: no version), for its table and its texts only
        (``Dirty database version -1``, ``force -1``); everything else uses :attr:`version`."""
        return -1 if self.version is None else self.version

    def describe(self) -> str:
        if self.version is None:
            return "no version (dirty)" if self.dirty else "no version"
        return f"{self.version} (dirty)" if self.dirty else str(self.version)


@dataclass(frozen=True)
class TableName:
    name: str
    schema: str | None = None

    def __post_init__(self) -> None:
        # No database allows a NUL byte in an identifier (MariaDB failed with a syntax error that
        # surfaced as "internal error"): a usage error before anything is sent.
        if "\x00" in self.name or "\x00" in (self.schema or ""):
            raise UsageError("x-migrations-table contains a NUL byte, which no database allows in a table name",
                             hint="name the version table with printable characters, e.g. x-migrations-table=schema_migrations")


@dataclass(frozen=True)
class DbErrorInfo:
    """A database error in a form the failure report can use."""

    message: str
    code: str | None = None
    detail: str | None = None
    hint: str | None = None
    position: int | None = None  # 1-based character position inside the statement that was sent
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LockHolder:
    """Who holds the migration lock, as far as the database can tell."""

    pid: int | str | None = None
    application_name: str | None = None
    user: str | None = None
    client: str | None = None
    since: str | None = None
    state: str | None = None
    query: str | None = None

    def describe(self) -> str:
        parts = [f"pid {self.pid}" if self.pid is not None else "an unknown process"]
        if self.application_name:
            parts.append(f"application {self.application_name!r}")
        if self.user:
            parts.append(f"user {self.user}")
        if self.client:
            parts.append(f"from {self.client}")
        if self.since:
            parts.append(f"since {self.since}")
        if self.state:
            parts.append(f"state {self.state}")
        text = ", ".join(parts)
        if self.query:
            text += f"; last query: {self.query.strip()[:120]}"
        return text


class StatementFailed(Exception):
    """Statement number ``index`` of a list failed with the database error ``error``."""

    def __init__(self, index: int, error: BaseException) -> None:
        super().__init__(str(error))
        self.index = index
        self.error = error


def local_identity() -> dict[str, str]:
    """The operating-system user and host running the tool, for the history table."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return {"os_user": user, "host": socket.gethostname()}


class Driver(ABC):
    """A connection to one database, owned by one engine run."""

    dialect: ClassVar[str]
    transactional_ddl: ClassVar[bool]
    placeholder: ClassVar[str] = "%s"
    # True when one execute() may carry several statements (rendered with literal()).
    multi_statement: ClassVar[bool] = False

    def __init__(self, url: DatabaseURL) -> None:
        self.url = url
        self.version_table = TableName(url.custom.get("x-migrations-table") or "schema_migrations")
        self.history_table = TableName("safemigrate_history")
        self.statement_mode_everywhere = False  # a driver option may force it (sqlite x-no-tx-wrap)
        # Bounds every wait of our own bookkeeping on the version and history tables (seconds);
        # the engine sets it to -lock-timeout before connecting.
        self.lock_wait_timeout: float = 15.0

    # -- connection ------------------------------------------------------------
    @abstractmethod
    def connect(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def cancel(self) -> None:
        """Ask the database to stop the running statement; safe to call from a signal handler."""

    @property
    @abstractmethod
    def database_name(self) -> str: ...

    @property
    @abstractmethod
    def server_version(self) -> str: ...

    @property
    @abstractmethod
    def current_user(self) -> str | None: ...

    @property
    def connected_database(self) -> str:
        """The database the server says we are on (``current_database()``, ``DATABASE()``, the file)."""
        return self.database_name

    @property
    def server_address(self) -> str | None:
        """Where the server answered (``host:port`` or a socket); None for a file database."""
        return None

    def connection_summary(self) -> dict[str, str | None]:
        """What a command that writes prints before it changes anything."""
        return {"dialect": self.dialect, "database": self.connected_database,
                "server": self.server_address, "user": self.current_user}

    def describe_connection(self) -> str:
        summary = self.connection_summary()
        text = f"database {summary['database']}"
        if summary["server"]:
            text += f" on {summary['server']}"
        if summary["user"]:
            text += f" as {summary['user']}"
        return text

    # -- SQL -------------------------------------------------------------------
    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None: ...

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]: ...

    def query_rows(self, sql: str) -> list[tuple[Any, ...]]:
        """``query`` for a result of many rows (the whole history): the same values, in the
        driver's cheapest format to load."""
        return self.query(sql)

    def execute_statements(self, statements: Sequence[str]) -> None:
        """Run several statements in order, stopping at the first failure (StatementFailed says which).

        Drivers that can send them without waiting for each result (PostgreSQL's pipeline
        mode) do, so the client's work overlaps the server's.
        """
        for index, sql in enumerate(statements):
            try:
                self.execute(sql)
            except Exception as exc:
                if self.describe_error(exc) is None:
                    raise
                raise StatementFailed(index, exc) from exc

    @abstractmethod
    def in_transaction(self) -> bool: ...

    @abstractmethod
    def describe_error(self, exc: BaseException) -> DbErrorInfo | None:
        """Return details for a database error, or None if ``exc`` is not one."""

    def split(self, text: str) -> Script:
        return split_sql(text, self.dialect, nodes=False)

    @abstractmethod
    def quote_ident(self, name: str) -> str: ...

    def qualified(self, table: TableName) -> str:
        if table.schema:
            return f"{self.quote_ident(table.schema)}.{self.quote_ident(table.name)}"
        return self.quote_ident(table.name)

    def literal(self, value: Any) -> str:
        """Render a parameter as an SQL literal (dry runs; batches on multi-statement drivers)."""
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        if isinstance(value, int | float):
            return repr(value)
        if isinstance(value, datetime):
            value = value.isoformat()
        return "'" + str(value).replace("'", "''") + "'"

    # -- locking ---------------------------------------------------------------
    @abstractmethod
    def lock(self, timeout: float) -> None:
        """Take the migration lock, waiting at most ``timeout`` seconds (0: do not wait)."""

    @abstractmethod
    def unlock(self) -> None: ...

    # -- golang-migrate's version table ----------------------------------------
    def version_table_exists(self) -> bool:
        return self.table_exists(self.version_table)

    @abstractmethod
    def create_version_table_sql(self) -> list[Query]: ...

    @abstractmethod
    def read_version(self) -> VersionState: ...

    def set_version_sql(self, version: int | None, dirty: bool) -> list[Query]:
        """golang-migrate's SetVersion: empty the table, then insert the row.

        As in golang-migrate, a nil version that is dirty is written as -1 so that a
        failed down migration of the first version is not mistaken for a clean start.
        """
        table = self.qualified(self.version_table)
        queries: list[Query] = [(f"DELETE FROM {table}", None)]
        if version is not None or dirty:
            p = self.placeholder
            queries.append(
                (f"INSERT INTO {table} (version, dirty) VALUES ({p}, {p})",
                 (-1 if version is None else version, dirty))
            )
        return queries

    @abstractmethod
    def table_exists(self, table: TableName) -> bool: ...

    def table_columns(self, table: TableName) -> set[str]:
        """The (lower-case) column names of ``table``; empty when it does not exist."""
        rows = self.query(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = "
            f"{self.placeholder} AND table_name = {self.placeholder}",
            (table.schema, table.name),
        )
        return {str(r[0]).lower() for r in rows}

    # -- bookkeeping under the lock timeout ------------------------------------
    def enter_migration_sql(self) -> list[Query]:
        """Before a migration's own SQL: give it back the session's lock-wait settings."""
        return []

    def leave_migration_sql(self) -> list[Query]:
        """After a migration's own SQL: bound our bookkeeping's lock waits by the lock timeout again."""
        return []

    def migration_lock_wait_sql(self, seconds: float) -> list[Query]:
        """Make the migrations' own statements wait at most ``seconds`` for a lock (release does)."""
        return []

    def bookkeeping_error(self, exc: BaseException) -> SafemigrateError | None:
        """A clear error for a failure of our own SQL on the version or history table (a lock wait
        that timed out, a missing privilege), or None when ``exc`` is none of those."""
        return None

    def missing_privileges(self, table: TableName, privileges: Sequence[str]) -> list[str]:
        """Which of ``privileges`` the current role lacks on ``table`` (where the database can tell)."""
        return []

    def version_table_problem(self) -> SafemigrateError | None:
        """An error when the version table exists but is not golang-migrate's (an application table
        named by x-migrations-table): its columns must include version and dirty."""
        columns = self.table_columns(self.version_table)
        if not columns or {"version", "dirty"} <= columns:
            return None
        name = self.qualified(self.version_table)
        return UsageError(
            f"the version table {name} is an existing table without golang-migrate's version and "
            f"dirty columns (it has: {', '.join(sorted(columns))}); nothing was changed",
            hint="x-migrations-table must name a table of its own (or one that does not exist yet): "
            "fix it in the database URL",
            details={"table": name, "columns": sorted(columns)},
        )

    @abstractmethod
    def drop_all_tables(self) -> list[str]:
        """Drop every table in the migration schema (golang-migrate's drop); return their names."""
