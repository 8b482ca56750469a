"""PostgreSQL through psycopg 3, compatible with golang-migrate's postgres and pgx drivers."""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from ..errors import DatabaseError, LockTimeoutError, SafemigrateError, UsageError
from ..redact import redact_text
from ..urls import DatabaseURL
from .base import (
    DbErrorInfo,
    Driver,
    LockHolder,
    Query,
    StatementFailed,
    TableName,
    VersionState,
    check_timeout_ms,
)
from .watchdog import Watchdog, shutdown_socket

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "ADVISORY_LOCK_SALT",
    "TIMEOUT_DEFAULTS",
    "PostgresDriver",
    "advisory_lock_id",
    "connection_params",
    "libpq_keywords",
]

ADVISORY_LOCK_SALT = 1486364155

# Client-side options of lib/pq and pgx that mean nothing to libpq or the server.
_CLIENT_ONLY_PARAMS = {
    "binary_parameters",
    "disable_prepared_binary_result",
    "pool_max_conns",
    "pool_min_conns",
    "pool_max_conn_lifetime",
    "pool_max_conn_idle_time",
    "pool_health_check_period",
    "pool_max_conn_lifetime_jitter",
    "default_query_exec_mode",
    "statement_cache_capacity",
    "description_cache_capacity",
    "prefer_simple_protocol",
}


def advisory_lock_id(database_name: str, *additional_names: str) -> int:
    """golang-migrate's GenerateAdvisoryLockId: CRC-32 (IEEE) of the names joined by NUL, times a salt, mod 2^32."""
    key = "\x00".join([*additional_names, database_name]) if additional_names else database_name
    return (zlib.crc32(key.encode("utf-8")) * ADVISORY_LOCK_SALT) % (2**32)


def libpq_keywords() -> set[str]:
    from psycopg import pq

    return {opt.keyword.decode() for opt in pq.Conninfo.get_defaults()}


def _escape_option_value(value: str) -> str:
    # libpq's "options" splits on spaces; a backslash escapes one.
    return value.replace("\\", "\\\\").replace(" ", "\\ ")


# Defaults a URL (or libpq's environment) may override: a connection attempt gives up after
# 10 s, and a dead peer is found within 30 s by TCP keepalives (10 s idle, then 3 probes 5 s
# apart) and tcp_user_timeout (data unacknowledged for 30 s), also during a long statement.
TIMEOUT_DEFAULTS: dict[str, tuple[str, str | None]] = {
    "connect_timeout": ("10", "PGCONNECT_TIMEOUT"),
    "keepalives": ("1", None),
    "keepalives_idle": ("10", None),
    "keepalives_interval": ("5", None),
    "keepalives_count": ("3", None),
    "tcp_user_timeout": ("30000", None),
}
# golang-migrate's postgres:// driver is lib/pq, whose default sslmode is "require"
# (a server without TLS is refused); pgx:// keeps libpq's and pgx's "prefer".
_LIB_PQ_SCHEMES = ("postgres", "postgresql")


def connection_params(url: DatabaseURL, *, application_name: str | None = None) -> dict[str, str]:
    """libpq keyword/value parameters for ``url``, as lib/pq would connect.

    Query parameters libpq does not know become server settings (``-c name=value``
    in ``options``), which is how lib/pq honours ``search_path`` and friends.
    """
    import os

    from psycopg.conninfo import conninfo_to_dict

    split = url.split
    base = f"postgresql://{split.netloc}{split.path}"
    try:
        params = {k: str(v) for k, v in conninfo_to_dict(base).items() if v is not None}
    except Exception as exc:  # psycopg.ProgrammingError for malformed URIs
        # libpq's message quotes the offending part of the URL, which may be the password.
        why = ("bad percent-encoding (a % not followed by two hexadecimal digits)"
               if "percent" in str(exc) else "the user name, password, host or port cannot be read")
        raise UsageError(
            f"malformed PostgreSQL URL: {why}",
            hint="check the host and port, and percent-encode special characters in the user name "
            "and password (@ is %40, / is %2F, : is %3A, # is %23, % is %25)",
        ) from None
    known = libpq_keywords()
    settings: list[str] = []
    for key, value in url.query:
        if key in known:
            params[key] = value
        elif key in _CLIENT_ONLY_PARAMS:
            continue
        else:
            settings.append(f"-c {key}={_escape_option_value(value)}")
    if settings:
        params["options"] = " ".join(filter(None, [params.get("options", ""), *settings]))
    if application_name and "application_name" not in params:
        params["application_name"] = application_name
    if url.scheme in _LIB_PQ_SCHEMES and "sslmode" not in params and "requiressl" not in params \
            and not os.environ.get("PGSSLMODE"):
        params["sslmode"] = "require"
    for key, (default, env_var) in TIMEOUT_DEFAULTS.items():
        if key in known and key not in params and not (env_var and os.environ.get(env_var)):
            params[key] = default
    return params


def _text_literal(value: str) -> str:
    """An E'' string: it escapes backslashes itself, so it reads the same whatever
    standard_conforming_strings says; PostgreSQL text cannot hold NUL."""
    if "'" in value or "\\" in value or "\x00" in value:
        value = value.replace("\x00", "").replace("\\", "\\\\").replace("'", "''")
    return f"E'{value}'"


def _seconds(params: dict[str, str], key: str, scale: float = 1.0) -> float:
    try:
        return max(float(params.get(key) or 0) / scale, 0.0)
    except ValueError:
        return 0.0


def dead_peer_bound(params: dict[str, str]) -> tuple[float, str]:
    """How long a round trip may go unanswered before the watchdog asks, and which parameters say so."""
    bounds: list[tuple[float, str]] = []
    if params.get("keepalives", "1") != "0":
        idle, interval = _seconds(params, "keepalives_idle"), _seconds(params, "keepalives_interval")
        count = _seconds(params, "keepalives_count")
        if idle or interval:
            bounds.append((idle + interval * count,
                           f"keepalives_idle={params.get('keepalives_idle', '')} + keepalives_interval="
                           f"{params.get('keepalives_interval', '')} x keepalives_count={params.get('keepalives_count', '')}"))
    user_timeout = _seconds(params, "tcp_user_timeout", 1000.0)
    if user_timeout:
        bounds.append((user_timeout, f"tcp_user_timeout={params['tcp_user_timeout']} ms"))
    return min(bounds) if bounds else (30.0, "safemigrate's default of 30 s")


def _connect_timeout(params: dict[str, str]) -> float:
    import os

    text = params.get("connect_timeout") or os.environ.get("PGCONNECT_TIMEOUT") or "0"
    try:
        value = float(text)
    except ValueError:
        return 0.0
    return max(value, 2.0) if value > 0 else 0.0  # libpq treats 1 as 2


class PostgresDriver(Driver):
    dialect = "postgres"
    transactional_ddl = True
    placeholder = "%s"
    multi_statement = True

    def __init__(self, url: DatabaseURL, *, application_name: str = "safemigrate") -> None:
        super().__init__(url)
        self._application_name = application_name
        self._conn: psycopg.Connection[Any] | None = None
        self._lock_key: int | None = None
        self._locked = False
        self._database_name = ""
        self._server_version = ""
        self._user: str | None = None
        self._params: dict[str, str] = {}
        self._patience, self._patience_source = 0.0, ""
        self._backend_pid = 0
        self._server_address = ""
        self._current_database = ""
        self._watchdog: Watchdog | None = None
        # One cursor for execute and query, made once per connection: psycopg's conn.execute makes
        # a new cursor (and its adapters) for every call, two per migration.
        self._cursor: psycopg.Cursor[Any] | None = None
        self.no_lock = url.custom_bool("x-no-lock")
        self.statement_timeout_ms = check_timeout_ms(url.custom_int("x-statement-timeout", 0),
                                                     "x-statement-timeout")
        quoted = url.custom_bool("x-migrations-table-quoted")
        table = url.custom.get("x-migrations-table") or ""
        if table and quoted and not (table.startswith('"') and table.endswith('"')):
            raise UsageError(
                "x-migrations-table must be quoted (for instance '\"migrate\".\"schema_migrations\"') "
                f"when x-migrations-table-quoted is enabled, current value is: {table}",
            )
        self._quoted_table = table if quoted and table else None

    # -- connection ------------------------------------------------------------
    @property
    def conn(self) -> psycopg.Connection[Any]:
        if self._conn is None:
            raise RuntimeError("not connected")
        return self._conn

    def connect(self) -> None:
        import psycopg

        params = connection_params(self.url, application_name=self._application_name)
        self._params = params
        self._patience, self._patience_source = dead_peer_bound(params)
        connect_timeout = _connect_timeout(params)
        # prepare_threshold=None: nothing is ever prepared (every execute passes prepare=False, each
        # migration's bookkeeping is new text), and psycopg then keeps no per-execute cache of texts.
        try:
            self._conn = psycopg.connect(autocommit=True, prepare_threshold=None, **params)  # type: ignore[arg-type]
        except psycopg.Error as exc:
            raise self._connect_error(exc, params, connect_timeout) from None
        conn = self._conn
        self._backend_pid = conn.info.backend_pid
        self._watchdog = Watchdog(lambda: shutdown_socket(conn.fileno()),
                                  probe_budget=max(connect_timeout, 2.0) + 3.0)
        # Connecting ends when we know which database we are on: the first query is bounded by
        # connect_timeout too, so a server (or proxy) that stops answering here cannot hang us.
        # Our bookkeeping waits on the version and history tables at most the lock timeout; the
        # session's own lock_timeout is kept (server side) for the migrations' SQL. Same round trip.
        try:
            with self._watchdog.watch(connect_timeout, None):
                row = conn.execute(
                    "SELECT current_database(), current_schema(), current_user, "
                    "current_setting('server_version'), inet_server_addr()::text, inet_server_port(), "
                    "set_config('safemigrate.migration_lock_timeout', current_setting('lock_timeout'), false), "
                    "set_config('lock_timeout', %s, false)", (self._bookkeeping_lock_timeout(),)
                ).fetchone()
        except psycopg.OperationalError as exc:
            fired = self._watchdog.fired
            self.close()
            if fired:
                raise DatabaseError(
                    f"connect timeout: {self._where()} accepted the connection but did not answer "
                    f"within {connect_timeout:g} s (connect_timeout={params.get('connect_timeout', '')})",
                    hint="check that the server is up and not overloaded, and that nothing between "
                    "(proxy, firewall, VPN) holds the connection; raise connect_timeout in the URL "
                    "if the server is just slow",
                    details={"timeout": "connect_timeout"},
                ) from None
            raise self._connect_error(exc, params, connect_timeout) from None
        assert row is not None
        current_db, schema, user, server_version, server_addr, server_port = row[:6]
        self._server_address = (f"{server_addr.split('/')[0]}:{server_port}" if server_addr
                                else f"local socket {params.get('host', '')}".strip())
        self._current_database = current_db
        self._user = user
        self._server_version = server_version
        # golang-migrate keys its lock on the URL path, leading "/" included, and
        # falls back to current_database() only when the URL names no database.
        self._database_name = unquote(self.url.path) if self.url.path else current_db
        if schema is None:
            raise DatabaseError(
                "no schema: the search_path names no existing schema",
                hint="set search_path in the URL (?search_path=public) or create the schema",
            )
        table_name = self.version_table.name
        table_schema = schema
        if self._quoted_table:
            parts = re.findall(r'"(.*?)"', self._quoted_table)
            if len(parts) > 2:
                raise UsageError(
                    f'"{self._quoted_table}" MigrationsTable contains too many dot characters'
                )
            table_name = parts[-1]
            if len(parts) == 2:
                table_schema = parts[0]
        self.version_table = TableName(table_name, table_schema)
        self.history_table = TableName(self.history_table.name, table_schema)
        self._lock_key = advisory_lock_id(self._database_name, table_schema, table_name)
        if self.statement_timeout_ms:
            self._exec(
                "SELECT set_config('statement_timeout', %s, false)", (f"{self.statement_timeout_ms}ms",)
            )

    def _where(self) -> str:
        host = self._params.get("host") or self._params.get("hostaddr") or "the server"
        port = self._params.get("port")
        return f"{host}:{port}" if port and not host.startswith("/") else host

    def _connect_error(self, exc: BaseException, params: dict[str, str], connect_timeout: float) -> DatabaseError:
        text = self._clean(str(exc).strip())
        lowered = text.lower()
        hint = ("check that the server is running and that host, port, user, password and "
                "database in the URL are right")
        details: dict[str, Any] = {}
        if "timeout expired" in lowered:
            details["timeout"] = "connect_timeout"
            return DatabaseError(
                f"connect timeout: no connection to {self._where()} within {connect_timeout:g} s "
                f"(connect_timeout={params.get('connect_timeout', '')}): {text}",
                hint="check that the server is up and reachable from here (host, port, firewall); "
                "raise connect_timeout in the URL if the network is just slow",
                details=details,
            )
        if "ssl" in lowered and ("not support" in lowered or "ssl was required" in lowered):
            hint = ("the server does not offer TLS, and postgres:// and postgresql:// URLs require it "
                    "by default (as golang-migrate's lib/pq driver does): add ?sslmode=disable to "
                    "the URL for a server without TLS (or use pgx5://, whose default is prefer)")
        return DatabaseError(f"cannot connect to {self.url.redacted()}: {text}", hint=hint, details=details)

    @contextmanager
    def _round_trip(self) -> Iterator[None]:  # execute() inlines it: keep the two alike
        """One exchange with the server, watched for a frozen connection (see watchdog.py)."""
        import psycopg

        watchdog = self._watchdog
        if watchdog is None:
            yield
            return
        try:
            with watchdog.watch(self._patience, self._server_still_working):
                yield
        except (psycopg.OperationalError, StatementFailed) as exc:
            if watchdog.fired:
                raise self._frozen_error(watchdog.waited) from exc
            raise

    def _server_still_working(self) -> bool:
        """Over a second connection: is our backend still running our request?"""
        import psycopg

        params = dict(self._params)
        params["application_name"] = "safemigrate-probe"
        params["connect_timeout"] = str(int(max(2.0, min(self._patience, 10.0))))
        with psycopg.connect(autocommit=True, **params) as probe:  # type: ignore[arg-type]
            row = probe.execute("SELECT state FROM pg_stat_activity WHERE pid = %s",
                                (self._backend_pid,)).fetchone()
        return row is not None and row[0] == "active"

    def _frozen_error(self, waited: float) -> DatabaseError:
        return DatabaseError(
            f"read timeout: no answer from {self._server_address or self._where()} for {waited:.0f} s, "
            f"and the server could not confirm it is still working on this session's request "
            f"({self._patience_source}): the connection is frozen (network partition, stuck proxy) "
            "or the server is gone",
            hint="check the network path to the server, then run safemigrate status to see where "
            "the run stopped; the keepalives_* and tcp_user_timeout URL parameters set how long "
            "to wait",
            details={"timeout": "keepalives/tcp_user_timeout", "waited_seconds": round(waited, 1)},
        )

    def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.close()
            self._watchdog = None
        self._cursor = None
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def cancel(self) -> None:
        if self._conn is None:
            return
        cancel_safe = getattr(self._conn, "cancel_safe", None)
        try:
            if cancel_safe is not None:
                cancel_safe(timeout=5.0)
            else:
                self._conn.cancel()
        except Exception:
            pass

    def _bookkeeping_lock_timeout(self) -> str:
        # lock_timeout 0 would mean "wait for ever": -lock-timeout 0 waits as little as possible.
        return f"{max(1, round(self.lock_wait_timeout * 1000))}ms"

    def enter_migration_sql(self) -> list[Query]:
        return [("SELECT set_config('lock_timeout', current_setting('safemigrate.migration_lock_timeout'), "
                 "false)", None)]

    def migration_lock_wait_sql(self, seconds: float) -> list[Query]:
        # The value enter_migration_sql() hands to the migrations' SQL.
        return [("SELECT set_config('safemigrate.migration_lock_timeout', %s, false)",
                 (f"{max(1, round(seconds * 1000))}ms",))]

    def leave_migration_sql(self) -> list[Query]:
        # Keep what the migration set (SET lock_timeout in one file holds for the next statements,
        # as on golang-migrate's connection), then bound our own waits again.
        return [("SELECT set_config('safemigrate.migration_lock_timeout', current_setting('lock_timeout'), "
                 "false), set_config('lock_timeout', %s, false)", (self._bookkeeping_lock_timeout(),))]

    @property
    def database_name(self) -> str:
        return self._database_name

    @property
    def server_version(self) -> str:
        return self._server_version

    @property
    def connected_database(self) -> str:
        return self._current_database

    @property
    def server_address(self) -> str | None:
        return self._server_address or None

    @property
    def current_user(self) -> str | None:
        return self._user

    @property
    def lock_key(self) -> int:
        assert self._lock_key is not None
        return self._lock_key

    # -- SQL -------------------------------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        # What ``with self._round_trip(): self.conn.execute(...)`` does, without two generator-based
        # context managers and a new cursor per call: this runs twice for every migration.
        cursor = self._cursor or self._new_cursor()
        watchdog = self._watchdog
        if watchdog is None or not watchdog.arm(self._patience, self._server_still_working):
            cursor.execute(sql, params, prepare=False)
            return
        try:
            cursor.execute(sql, params, prepare=False)
        except Exception as exc:
            if watchdog.fired and _is_connection_failure(exc):
                raise self._frozen_error(watchdog.waited) from exc
            raise
        finally:
            watchdog.disarm()

    def _new_cursor(self) -> psycopg.Cursor[Any]:
        self._cursor = self.conn.cursor()
        return self._cursor

    def _exec(self, sql: str, params: Sequence[Any] | None = None) -> psycopg.Cursor[Any]:
        """Run one statement under the watchdog; its whole result is already on the client."""
        with self._round_trip():
            return self.conn.execute(sql, params)

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        cursor = self._cursor or self._new_cursor()
        with self._round_trip():
            return list(cursor.execute(sql, params, prepare=False).fetchall())

    def query_rows(self, sql: str) -> list[tuple[Any, ...]]:
        # In binary: the same values (psycopg's loaders of each format give equal objects), and
        # loading timestamps, numbers and floats from binary costs about a third less than
        # parsing their text (status reads 10,000 history rows of 21 columns).
        cursor = self._cursor or self._new_cursor()
        with self._round_trip():
            return list(cursor.execute(sql, prepare=False, binary=True).fetchall())

    def execute_statements(self, statements: Sequence[str]) -> None:
        import psycopg

        if not psycopg.Pipeline.is_supported():
            super().execute_statements(statements)
            return
        cursors: list[psycopg.Cursor[Any]] = []
        try:
            with self._round_trip(), self.conn.pipeline() as pipeline:
                for sql in statements:
                    cursor = self.conn.cursor()
                    cursor.execute(sql, prepare=False)
                    cursors.append(cursor)
                pipeline.sync()
        except psycopg.Error as exc:
            # Results arrive in order: the statements before the failing one have theirs,
            # the failing one and those after it (skipped by the server) have none.
            index = next((i for i, c in enumerate(cursors) if c.pgresult is None), len(cursors) - 1)
            raise StatementFailed(index, exc) from exc

    def in_transaction(self) -> bool:
        from psycopg import pq

        return self.conn.info.transaction_status != pq.TransactionStatus.IDLE

    def quote_ident(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def literal(self, value: Any) -> str:
        # Called for every value of every bookkeeping batch, so the common types go first.
        kind = type(value)
        if kind is str:
            return _text_literal(value)
        if kind is int:
            return str(value)
        if value is None:
            return "NULL"
        if isinstance(value, datetime):
            return _text_literal(value.isoformat()) + "::timestamptz"
        if isinstance(value, float) and not math.isfinite(value):
            return "'NaN'::float8" if math.isnan(value) else f"'{'-' if value < 0 else ''}Infinity'::float8"
        return super().literal(value)

    def describe_error(self, exc: BaseException) -> DbErrorInfo | None:
        import psycopg

        if not isinstance(exc, psycopg.Error):
            return None
        diag = getattr(exc, "diag", None)
        message = (diag.message_primary if diag is not None else None) or str(exc).splitlines()[0]
        position = diag.statement_position if diag is not None else None
        extra: dict[str, Any] = {}
        if diag is not None:
            for key in ("schema_name", "table_name", "column_name", "constraint_name", "context"):
                value = getattr(diag, key, None)
                if value:
                    extra[key] = value
        return DbErrorInfo(
            message=self._clean(message),
            code=getattr(exc, "sqlstate", None),
            detail=diag.message_detail if diag is not None else None,
            hint=diag.message_hint if diag is not None else None,
            position=int(position) if position else None,
            extra=extra,
        )

    def _clean(self, text: str) -> str:
        return redact_text(text, self.url.secrets)

    # -- locking ---------------------------------------------------------------
    def lock(self, timeout: float) -> None:
        if self._locked:
            raise DatabaseError("database locked: this session already holds the migration lock")
        if self.no_lock:
            self._locked = True
            return
        import psycopg

        key = self.lock_key
        if timeout <= 0:
            row = self._exec("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
            if not (row and row[0]):
                self._raise_lock_timeout(timeout)
            self._locked = True
            return
        # Only lock_timeout bounds this wait: a shorter x-statement-timeout would otherwise
        # cancel it and report "canceling statement" instead of who holds the lock.
        previous = self._exec(
            "SELECT current_setting('lock_timeout'), current_setting('statement_timeout'), "
            "set_config('statement_timeout', '0', false), set_config('lock_timeout', %s, false)",
            (f"{max(1, int(timeout * 1000))}ms",),
        ).fetchone()
        try:
            self._exec("SELECT pg_advisory_lock(%s)", (key,))
        except psycopg.errors.LockNotAvailable:
            self._raise_lock_timeout(timeout)
        finally:
            self._exec(
                "SELECT set_config('lock_timeout', %s, false), set_config('statement_timeout', %s, false)",
                (previous[0], previous[1]) if previous else ("0", "0"),
            )
        self._locked = True

    def _raise_lock_timeout(self, timeout: float) -> None:
        holder = self.lock_holder()
        who = holder.describe() if holder else "a session that has since ended"
        pid = holder.pid if holder else None
        hint = "wait for it to finish and run the command again"
        if pid is not None:
            hint += (
                f"; if that process is gone or stuck, end its session with "
                f"SELECT pg_terminate_backend({pid}) (its transaction is rolled back and the lock released)"
            )
        raise LockTimeoutError(
            f"timeout: can't acquire database lock after {timeout:g}s: the migration lock "
            f"(advisory lock {self.lock_key}) is held by {who}",
            hint=hint,
            details={"lock_id": self.lock_key, "holder": holder.__dict__ if holder else None},
        )

    def lock_holder(self) -> LockHolder | None:
        rows = self.query(
            """
            SELECT a.pid, a.application_name, a.usename, host(a.client_addr),
                   to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                   a.state, a.query
              FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.granted
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND l.classid::bigint = %s AND l.objid::bigint = %s AND l.objsubid = 1
             LIMIT 1
            """,
            (self.lock_key >> 32, self.lock_key & 0xFFFFFFFF),
        )
        if not rows:
            return None
        pid, app, user, client, since, state, query = rows[0]
        return LockHolder(pid=pid, application_name=app or None, user=user, client=client or "local socket",
                          since=since, state=state, query=query)

    # -- our bookkeeping's failures ------------------------------------------------
    def bookkeeping_error(self, exc: BaseException) -> SafemigrateError | None:
        import psycopg
        from psycopg import pq

        # x-statement-timeout shorter than the lock timeout cancels a wait on our tables first.
        statement_timeout = (isinstance(exc, psycopg.errors.QueryCanceled) and self.statement_timeout_ms > 0
                             and "statement timeout" in str(exc))
        if not (statement_timeout or isinstance(
                exc, psycopg.errors.LockNotAvailable | psycopg.errors.InsufficientPrivilege)):
            return None
        if self._conn is not None and self.conn.info.transaction_status == pq.TransactionStatus.INERROR:
            self.conn.execute("ROLLBACK")  # the failed transaction can only be rolled back
        if isinstance(exc, psycopg.errors.InsufficientPrivilege):
            return self._privilege_error(exc)
        if statement_timeout:
            error = self._table_lock_timeout(f"{self.statement_timeout_ms}ms (x-statement-timeout)")
            return error if error.details else None
        return self._table_lock_timeout(f"{self.lock_wait_timeout:g}s (`lock_timeout`)")

    def _privilege_error(self, exc: BaseException) -> SafemigrateError:
        grants: list[str] = []
        for table, wanted in ((self.version_table, ("SELECT", "INSERT", "DELETE")),
                              (self.history_table, ("SELECT", "INSERT", "UPDATE"))):
            missing = self.missing_privileges(table, wanted)
            if missing:
                grants.append(f"GRANT {', '.join(missing)} ON {self.qualified(table)} TO {self._user}")
        message = self._clean(str(exc).splitlines()[0] if str(exc) else "permission denied")
        if not grants and "permission denied for schema" in message:
            schema = message.rsplit(" ", 1)[-1]
            grants.append(f"GRANT CREATE ON SCHEMA {schema} TO {self._user}")
        return DatabaseError(
            f"role {self._user} lacks a privilege on safemigrate's tables: {message}",
            hint=("ask the owner to run: " + "; ".join(grants)) if grants
            else "ask the tables' owner to grant this role the missing privilege",
            details={"missing_grants": grants},
        )

    def _table_lock_timeout(self, waited: str) -> LockTimeoutError:
        tables = [self.qualified(self.version_table), self.qualified(self.history_table)]
        rows = self.query(
            """
            SELECT a.pid, a.application_name, a.usename, host(a.client_addr),
                   to_char(coalesce(a.xact_start, a.backend_start) AT TIME ZONE 'UTC',
                           'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                   a.state, a.query, l.mode, l.relation::regclass::text
              FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'relation' AND l.granted AND l.pid <> pg_backend_pid()
               AND l.relation IN (to_regclass(%s), to_regclass(%s))
             ORDER BY l.mode IN ('AccessShareLock', 'RowShareLock', 'RowExclusiveLock'), a.xact_start
             LIMIT 1
            """,
            tables,
        )
        if not rows:
            return LockTimeoutError(
                f"timeout: waited {waited} for a lock on {tables[0]} or {tables[1]}; "
                "the session holding it has since ended",
                hint="run the command again",
                settings=("lock_timeout",),
            )
        pid, app, user, client, since, state, query, mode, relation = rows[0]
        holder = LockHolder(pid=pid, application_name=app or None, user=user, client=client or "local socket",
                            since=since, state=state, query=query)
        return LockTimeoutError(
            f"timeout: waited {waited} for a lock on {relation}: {holder.describe()} "
            f"holds {mode} on it",
            hint=f"wait for that session to finish and run the command again; if it is stuck, end it with "
            f"SELECT pg_terminate_backend({pid}) (its transaction is rolled back and the lock released)",
            details={"table": relation, "lock_mode": mode, "holder": holder.__dict__},
            settings=("lock_timeout",),
        )

    def missing_privileges(self, table: TableName, privileges: Sequence[str]) -> list[str]:
        name = self.qualified(table)
        rows = self.query(
            "SELECT p FROM unnest(%s::text[]) AS p "
            "WHERE to_regclass(%s) IS NOT NULL AND NOT has_table_privilege(to_regclass(%s), p)",
            (list(privileges), name, name),
        )
        missing = [str(r[0]) for r in rows]
        if not self.query("SELECT to_regclass(%s) IS NOT NULL", (name,))[0][0]:
            return []  # not created yet: nothing to grant on it (a missing CREATE on the schema is said instead)
        if "INSERT" in privileges and "INSERT" not in missing and table == self.history_table:
            # The history's id is a bigserial: inserting also needs its sequence.
            seq = self.query("SELECT pg_get_serial_sequence(%s, 'id')", (name,))
            if seq and seq[0][0] and not self.query("SELECT has_sequence_privilege(%s, 'USAGE')",
                                                    (seq[0][0],))[0][0]:
                missing.append(f"USAGE ON SEQUENCE {seq[0][0]}")
        return missing

    def unlock(self) -> None:
        if not self._locked:
            return
        self._locked = False
        if self.no_lock or self._conn is None:
            return
        self._exec("SELECT pg_advisory_unlock(%s)", (self.lock_key,))

    # -- version table ---------------------------------------------------------
    def table_exists(self, table: TableName) -> bool:
        # pg_class, not information_schema.tables: the latter hides tables the role may not read,
        # and status must not take "may not read the history" for "no history yet".
        rows = self.query(
            "SELECT COUNT(1) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s "
            "AND c.relkind IN ('r', 'p', 'v', 'm', 'f')",
            (table.schema, table.name),
        )
        return bool(rows and rows[0][0])

    def table_columns(self, table: TableName) -> set[str]:
        rows = self.query(
            "SELECT attname FROM pg_catalog.pg_attribute WHERE attrelid = to_regclass(%s) "
            "AND attnum > 0 AND NOT attisdropped",
            (self.qualified(table),),
        )
        return {str(r[0]).lower() for r in rows}

    def create_version_table_sql(self) -> list[Query]:
        return [(
            f"CREATE TABLE IF NOT EXISTS {self.qualified(self.version_table)} "
            "(version bigint not null primary key, dirty boolean not null)",
            None,
        )]

    def read_version(self) -> VersionState:
        import psycopg

        try:
            rows = self.query(f"SELECT version, dirty FROM {self.qualified(self.version_table)} LIMIT 1")
        except psycopg.errors.UndefinedTable:
            return VersionState(None, False)
        except psycopg.errors.UndefinedColumn:
            problem = self.version_table_problem()
            if problem is None:
                raise
            raise problem from None
        except psycopg.Error as exc:
            error = self.bookkeeping_error(exc)
            if error is None:
                raise
            raise error from None
        if not rows:
            return VersionState(None, False)
        version, dirty = rows[0]
        return VersionState(None if version == -1 else int(version), bool(dirty))

    def drop_all_tables(self) -> list[str]:
        rows = self.query(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema=(SELECT current_schema()) AND table_type='BASE TABLE'"
        )
        names = [r[0] for r in rows if r[0]]
        for name in names:
            self.execute(f"DROP TABLE IF EXISTS {self.quote_ident(name)} CASCADE")
        return names


def _is_connection_failure(exc: BaseException) -> bool:
    """What ``_round_trip`` turns into the frozen-connection error once the watchdog has cut it."""
    import psycopg

    return isinstance(exc, psycopg.OperationalError | StatementFailed)
