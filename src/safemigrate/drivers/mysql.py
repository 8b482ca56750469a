"""MySQL and MariaDB through PyMySQL, compatible with golang-migrate's mysql driver.

URLs, in golang-migrate's (go-sql-driver DSN) form or the ordinary URL form::

    mysql://user:pass@tcp(host:3306)/dbname?param=value
    mysql://user:pass@unix(/run/mysqld/mysqld.sock)/dbname
    mysql://user:pass@host:3306/dbname        (also mariadb://)

go-sql-driver's parameters are honoured where they mean something here
(``charset``, ``collation``, ``timeout``, ``readTimeout``, ``writeTimeout``,
``tls``, ``allowAllFiles``, ``maxAllowedPacket``); its client-only ones are
ignored, and any other parameter is set as a session variable (``SET name=value``),
as go-sql-driver does. golang-migrate's own parameters: ``x-migrations-table``,
``x-no-lock``, ``x-statement-timeout`` (milliseconds, enforced by the client: the
statement is killed), ``x-try-lock-timeout`` (seconds, caps the lock wait),
``x-tls-ca``, ``x-tls-cert``, ``x-tls-key``, ``x-tls-insecure-skip-verify`` (with
``tls=<name>``); other ``x-`` parameters are ignored.

Compatibility with golang-migrate: the same version table
(``version bigint not null primary key, dirty boolean not null``), written the
same way (``DELETE ... LIMIT 1`` then ``INSERT``, in one transaction), and the same
``GET_LOCK`` name (golang-migrate's advisory lock id of ``dbname:tablename``, as a
decimal string), so a safemigrate run and a golang-migrate run exclude each other.

MySQL has no transactional DDL (``transactional_ddl = False``): the engine runs
each file statement by statement, each committed on its own.
"""

from __future__ import annotations

import contextlib
import math
import re
import ssl
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, unquote_plus, urlsplit

import pymysql
from pymysql.constants import SERVER_STATUS

from ..errors import DatabaseError, LockTimeoutError, SafemigrateError, UsageError
from ..redact import redact_text
from ..urls import DatabaseURL
from .base import DbErrorInfo, Driver, LockHolder, Query, TableName, VersionState, check_timeout_ms
from .postgres import advisory_lock_id
from .watchdog import Watchdog, shutdown_socket

__all__ = ["MysqlDriver", "MysqlTarget", "StatementTimeout", "lock_name", "parse_mysql_url"]

DEFAULT_PORT = 3306
DEFAULT_CONNECT_TIMEOUT = 10.0
# A round trip unanswered this long makes the watchdog ask the server whether it is still
# working on it; TCP keepalives (10 s idle, 3 probes 5 s apart) cover a dead peer as well.
DEAD_PEER_SECONDS = 25.0
PROGRAM_NAME = "safemigrate"

# go-sql-driver options that only change client-side behaviour: accepted and ignored.
_CLIENT_ONLY_PARAMS = {
    "allowCleartextPasswords", "allowFallbackToPlaintext", "allowNativePasswords",
    "allowOldPasswords", "checkConnLiveness", "clientFoundRows", "columnsWithAlias",
    "interpolateParams", "loc", "multiStatements", "parseTime", "rejectReadOnly",
    "serverPubKey", "timeTruncate", "connectionAttributes",
}
_SESSION_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
_GO_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_GO_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DSN_FORM = re.compile(r"^(?:(?P<userinfo>.*)@)?(?P<net>[A-Za-z0-9]+)\((?P<addr>[^()]*)\)/(?P<tail>.*)$",
                       re.DOTALL)
_DSN_NO_ADDRESS = re.compile(r"^(?:(?P<userinfo>.*)@)?/(?P<tail>[^/]*)$", re.DOTALL)
_SYNTAX_NEAR = re.compile(r"near '(?P<near>.*)' at line (?P<line>\d+)\s*$", re.DOTALL)

# MySQL error numbers the driver treats specially.
ER_EMPTY_QUERY = 1065  # a statement that is only a comment, e.g. /*!99999 ... */ on an older server
ER_NO_SUCH_TABLE = 1146
ER_WRONG_TABLE_NAME = 1103  # a name the server refuses (trailing blanks, control characters)
ER_TOO_LONG_IDENT = 1059
ER_BAD_FIELD = 1054
ER_LOCK_WAIT_TIMEOUT = 1205  # metadata lock (lock_wait_timeout) and row lock (innodb_lock_wait_timeout)
ER_TABLE_ACCESS_DENIED = 1142
ER_COLUMN_ACCESS_DENIED = 1143
ER_QUERY_INTERRUPTED = 1317
ER_STATEMENT_TIMEOUT = 1969  # MariaDB's max_statement_time
CR_SERVER_LOST = 2013
CR_SERVER_GONE = 2006


class StatementTimeout(pymysql.err.OperationalError):  # type: ignore[misc]
    """A statement ran longer than ``x-statement-timeout`` and was killed."""


@dataclass(frozen=True)
class MysqlTarget:
    """Where and how to connect, parsed from a mysql:// or mariadb:// URL."""

    user: str
    password: str | None = field(repr=False)
    host: str | None
    port: int
    unix_socket: str | None
    database: str
    params: tuple[tuple[str, str], ...]  # go-sql-driver parameters (not x-)
    custom: dict[str, str]  # x- parameters
    dsn_form: bool  # golang-migrate's user@tcp(host:port)/db form


def _malformed(url: DatabaseURL, why: str) -> UsageError:
    # Never the URL's text (a password with a raw "@" or "/" would be shown in pieces).
    return UsageError(
        f"malformed MySQL URL: {why}",
        hint="write it as mysql://user:password@tcp(host:3306)/dbname (golang-migrate's form) or "
        "mysql://user:password@host:3306/dbname; percent-encode special characters in the "
        "user name and password (@ is %40, / is %2F, : is %3A)",
    )


def _split_params(url: DatabaseURL, query: str) -> tuple[tuple[tuple[str, str], ...], dict[str, str]]:
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=False)
    except ValueError:
        raise _malformed(url, "bad query string") from None
    params = tuple((k, v) for k, v in pairs if not k.startswith("x-"))
    custom = {k: v for k, v in pairs if k.startswith("x-")}
    return params, custom


def _port(url: DatabaseURL, text: str) -> int:
    if not text:
        return DEFAULT_PORT
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise _malformed(url, "the port is not a number between 1 and 65535")
    return int(text)


def parse_mysql_url(url: DatabaseURL) -> MysqlTarget:
    """Parse golang-migrate's DSN form or the ordinary URL form; never shows the password."""
    rest = url.raw.split("://", 1)[1]
    dsn = _DSN_FORM.match(rest) or _DSN_NO_ADDRESS.match(rest)
    if dsn is not None:
        # go-sql-driver: [user[:password]@][net[(addr)]]/dbname[?params]; golang-migrate
        # query-unescapes the user name and password.
        groups = dsn.groupdict()
        userinfo = groups.get("userinfo") or ""
        user, _, password = userinfo.partition(":")
        net = (groups.get("net") or "tcp").lower()
        addr = groups.get("addr") or ""
        tail = groups["tail"]
        dbname, _, query = tail.partition("?")
        params, custom = _split_params(url, query)
        host: str | None = None
        port = DEFAULT_PORT
        socket_path: str | None = None
        if dsn.re is _DSN_NO_ADDRESS or (net != "unix" and not addr):
            # go-sql-driver would pick 127.0.0.1:3306: a URL that names no server is refused
            # rather than migrating whichever database answers there.
            raise _malformed(url, "it names no host (user@/db or tcp() without an address)")
        if net == "unix":
            socket_path = addr or "/tmp/mysql.sock"
        elif net in ("tcp", "tcp4", "tcp6"):
            host_text, port_text = addr, ""
            if addr.startswith("["):
                close = addr.find("]")
                if close < 0:
                    raise _malformed(url, "unclosed [ in the address")
                host_text, port_text = addr[1:close], addr[close + 2 :]
            elif ":" in addr:
                host_text, _, port_text = addr.rpartition(":")
            host = host_text or "127.0.0.1"
            port = _port(url, port_text)
        else:
            raise _malformed(url, f"unknown network {net!r} (use tcp(host:port) or unix(/path/to/socket))")
        return MysqlTarget(
            user=unquote_plus(user), password=unquote_plus(password) if ":" in userinfo else None,
            host=host, port=port, unix_socket=socket_path, database=unquote(dbname),
            params=params, custom=custom, dsn_form=True,
        )
    try:
        split = urlsplit(url.raw)
        port = split.port or DEFAULT_PORT
        hostname = split.hostname
    except ValueError:
        raise _malformed(url, "the port is not a number, or the host cannot be read") from None
    if not hostname:
        raise _malformed(url, "it names no host")
    path = split.path[1:] if split.path.startswith("/") else split.path
    if "/" in path:
        raise _malformed(url, "the path must be just the database name")
    params, custom = _split_params(url, split.query)
    return MysqlTarget(
        user=unquote(split.username or ""),
        password=unquote(split.password) if split.password is not None else None,
        host=hostname, port=port, unix_socket=None, database=unquote(path),
        params=params, custom=custom, dsn_form=False,
    )


def _go_duration(url: DatabaseURL, name: str, text: str) -> float:
    """A Go duration ("30s", "1m30s", "500ms") in seconds."""
    position = 0
    total = 0.0
    for match in _GO_DURATION_PART.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _GO_DURATION_UNITS[match.group(2)]
        position = match.end()
    if position != len(text) or not text:
        raise UsageError(
            f"invalid {name} {text!r} in {url.redacted()}",
            hint=f"use a Go duration such as {name}=30s or {name}=500ms",
        )
    return total


def _bool(name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "t", "true", "y", "yes", "on"):
        return True
    if lowered in ("0", "f", "false", "n", "no", "off"):
        return False
    raise UsageError(
        f"could not parse {name} as bool: {value!r}",
        hint=f"use {name}=true or {name}=false in the database URL",
    )


def _tls_context(url: DatabaseURL, mode: str, custom: dict[str, str]) -> ssl.SSLContext | None:
    """The TLS set-up of go-sql-driver's ``tls`` parameter (None: no TLS)."""
    lowered = mode.lower()
    if lowered in ("false", "0", "f"):
        return None
    if lowered in ("true", "1", "t"):
        return ssl.create_default_context()
    if lowered in ("skip-verify", "preferred"):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    # A custom configuration, from golang-migrate's x-tls-* parameters.
    ca = custom.get("x-tls-ca", "")
    cert, key = custom.get("x-tls-cert", ""), custom.get("x-tls-key", "")
    if bool(cert) != bool(key):
        raise UsageError(
            "To use TLS client authentication, both x-tls-cert and x-tls-key must not be empty",
            hint="give both x-tls-cert=<file> and x-tls-key=<file>, or neither",
        )
    try:
        context = ssl.create_default_context(cafile=ca or None)
        if cert:
            context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(
            f"cannot set up TLS configuration {mode!r} from {url.redacted()}: {exc}",
            hint="x-tls-ca, x-tls-cert and x-tls-key must name readable PEM files",
        ) from None
    if _bool("x-tls-insecure-skip-verify", custom.get("x-tls-insecure-skip-verify") or "false"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _enable_keepalives(conn: Any) -> None:
    """TCP keepalives and TCP_USER_TIMEOUT on PyMySQL's socket, where the platform has them."""
    import socket

    sock = getattr(conn, "_sock", None)
    if sock is None or sock.family == socket.AF_UNIX:
        return
    options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    for name, value in (("TCP_KEEPIDLE", 10), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 3),
                        ("TCP_USER_TIMEOUT", 30000)):
        if hasattr(socket, name):
            options.append((socket.IPPROTO_TCP, getattr(socket, name), value))
    for level, option, value in options:
        with contextlib.suppress(OSError):
            sock.setsockopt(level, option, value)


def lock_name(database: str, table: str) -> str:
    """golang-migrate's GET_LOCK name: its advisory lock id of ``database:table``, in decimal."""
    return str(advisory_lock_id(f"{database}:{table}"))


def _syntax_position(sql: str, message: str) -> int | None:
    """The 1-based position in ``sql`` of a syntax error ("... near 'rest' at line N")."""
    match = _SYNTAX_NEAR.search(message)
    if match is None:
        return None
    near, line = match.group("near"), int(match.group("line"))
    offset = 0
    for _ in range(line - 1):
        newline = sql.find("\n", offset)
        if newline < 0:
            return None
        offset = newline + 1
    if not near:
        return len(sql.rstrip()) + 1 if sql.strip() else None
    found = sql.find(near, offset)
    if found < 0:
        return None
    return found + 1


class MysqlDriver(Driver):
    dialect = "mysql"
    transactional_ddl = False
    placeholder = "%s"

    def __init__(self, url: DatabaseURL) -> None:
        super().__init__(url)
        self.target = parse_mysql_url(url)
        custom = self.target.custom
        self.version_table = TableName(custom.get("x-migrations-table") or "schema_migrations")
        if any(ord(c) > 0xFFFF for c in self.version_table.name):
            # MariaDB/MySQL identifiers are utf8mb3: the server answered error 1300 ("internal error")
            raise UsageError("x-migrations-table has a character outside the Basic Multilingual Plane "
                             "(an emoji, for instance), which MySQL and MariaDB do not allow in a table name",
                             hint="choose a version table name without such characters")
        self.no_lock = _bool("x-no-lock", custom.get("x-no-lock") or "false")
        self.statement_timeout_ms = check_timeout_ms(self._int_param("x-statement-timeout"),
                                                     "x-statement-timeout")
        try_lock = custom.get("x-try-lock-timeout")
        self.try_lock_timeout: float | None = None
        if try_lock:
            try:
                self.try_lock_timeout = float(try_lock)
            except ValueError:
                raise UsageError(
                    f"could not parse x-try-lock-timeout: {try_lock!r} is not a number of seconds",
                    hint="use x-try-lock-timeout=<seconds> (negative: wait as long as `lock_timeout`)",
                    settings=("lock_timeout",),
                ) from None
        self._kwargs = self.connect_kwargs(url)  # validates every parameter up front
        # Only the URL's readTimeout/writeTimeout apply after connecting (see connect()).
        self._read_timeout: float | None = self._kwargs.pop("read_timeout", None)
        self._write_timeout: float | None = self._kwargs.pop("write_timeout", None)
        self._watchdog: Watchdog | None = None
        self.dead_peer_seconds = DEAD_PEER_SECONDS
        self._server_address = ""
        self._server_name = ""
        self._current_database = ""
        self._conn: pymysql.connections.Connection[Any] | None = None
        self._connection_id: int | None = None
        self._database_name = ""
        self._server_version = ""
        self._user: str | None = None
        self._locked = False
        self._last_sql = ""

    def _int_param(self, name: str) -> int:
        value = self.target.custom.get(name)
        if not value:
            return 0
        try:
            return int(value)
        except ValueError:
            raise UsageError(
                f"could not parse {name}: {value!r} is not a whole number",
                hint=f"use {name}=<milliseconds> in the database URL",
            ) from None

    # -- connection ------------------------------------------------------------
    @staticmethod
    def connect_kwargs(url: DatabaseURL) -> dict[str, Any]:
        """Keyword arguments for ``pymysql.connect`` (without ``autocommit``) for ``url``."""
        target = parse_mysql_url(url)
        kwargs: dict[str, Any] = {
            "user": target.user,
            "password": target.password or "",
            "database": target.database or None,
            "program_name": PROGRAM_NAME,
        }
        if target.unix_socket:
            kwargs["unix_socket"] = target.unix_socket
        else:
            kwargs["host"] = target.host
            kwargs["port"] = target.port
        session: list[str] = []
        for key, value in target.params:
            if key == "charset":
                kwargs["charset"] = value.split(",")[0].strip()
            elif key == "collation":
                kwargs["collation"] = value
            elif key == "timeout":
                kwargs["connect_timeout"] = _go_duration(url, key, value)
            elif key == "readTimeout":
                kwargs["read_timeout"] = _go_duration(url, key, value)
            elif key == "writeTimeout":
                kwargs["write_timeout"] = _go_duration(url, key, value)
            elif key == "tls":
                context = _tls_context(url, value, target.custom)
                if context is None:
                    kwargs["ssl_disabled"] = True
                elif value.lower() != "preferred":
                    kwargs["ssl"] = context  # required: PyMySQL refuses a server without TLS
            elif key == "allowAllFiles":
                kwargs["local_infile"] = _bool(key, value)
            elif key == "maxAllowedPacket":
                if not value.isdigit():
                    raise UsageError(f"invalid maxAllowedPacket {value!r} in {url.redacted()}")
                if int(value) > 0:
                    kwargs["max_allowed_packet"] = int(value)
            elif key in _CLIENT_ONLY_PARAMS:
                continue
            elif _SESSION_VARIABLE.match(key):
                session.append(f"{key}={value}")  # go-sql-driver sends "SET key=value" as given
            else:
                raise UsageError(
                    f"invalid URL parameter {key!r} in {url.redacted()}",
                    hint="parameters that are not go-sql-driver options are set as session "
                    "variables, so they must be variable names",
                )
        if session:
            kwargs["init_command"] = "SET " + ", ".join(session)
        return kwargs

    @property
    def conn(self) -> pymysql.connections.Connection[Any]:
        if self._conn is None:
            raise RuntimeError("not connected")
        return self._conn

    def connect(self) -> None:
        kwargs = dict(self._kwargs)
        connect_timeout = float(kwargs.get("connect_timeout") or DEFAULT_CONNECT_TIMEOUT)
        kwargs["connect_timeout"] = connect_timeout
        # PyMySQL bounds only the TCP connect by connect_timeout: the server's greeting and the
        # authentication are read with read_timeout, so a server that accepts TCP and never
        # answers would hang us. Connecting is bounded as a whole by the connect timeout.
        kwargs["read_timeout"] = min(self._read_timeout or connect_timeout, connect_timeout)
        kwargs["write_timeout"] = min(self._write_timeout or connect_timeout, connect_timeout)
        try:
            self._conn = pymysql.connect(**kwargs, autocommit=True)
        except (pymysql.err.MySQLError, OSError, ValueError) as exc:
            raise self._connect_error(exc, connect_timeout) from None
        conn = self._conn
        try:
            row = self.query("SELECT DATABASE(), CURRENT_USER(), VERSION(), CONNECTION_ID(), "
                             "@@hostname, @@port")[0]
        except pymysql.err.MySQLError as exc:
            self.close()
            raise self._connect_error(exc, connect_timeout) from None
        # After connecting: the URL's readTimeout/writeTimeout (go-sql-driver: every read and
        # write), else none, so a long migration is not cut short; the watchdog and TCP
        # keepalives find a frozen connection instead.
        setattr(conn, "_read_timeout", self._read_timeout)  # noqa: B010 - PyMySQL reads it per read
        setattr(conn, "_write_timeout", self._write_timeout)  # noqa: B010
        _enable_keepalives(conn)
        self._watchdog = Watchdog(self._sever, probe_budget=connect_timeout + 3.0)
        current_db, user, version, connection_id, server_host, server_port = row
        self._server_address = (f"{self.target.host}:{self.target.port}" if not self.target.unix_socket
                                else f"local socket {self.target.unix_socket}")
        self._server_name = f"{server_host}:{server_port}"
        self._current_database = current_db or ""
        self._user = user
        self._server_version = version
        self._connection_id = int(connection_id)
        # golang-migrate keys its lock on the database name of the URL, else DATABASE().
        self._database_name = self.target.database or (current_db or "")
        if not self._database_name:
            self.close()
            raise DatabaseError(
                f"no database name in {self.url.redacted()}",
                hint="name the database in the URL path: mysql://user@tcp(host:3306)/dbname",
            )
        # Our bookkeeping waits on the version and history tables at most the lock timeout (the
        # server's lock_wait_timeout defaults to a day); the session's values are kept in user
        # variables for the migrations' own SQL.
        self.execute(self._leave_sql())
        # Qualified by the database, so a migration's USE statement cannot send the
        # bookkeeping to another database (golang-migrate's names are unqualified).
        self.version_table = TableName(self.version_table.name, self._database_name)
        self.history_table = TableName(self.history_table.name, self._database_name)

    def _sever(self) -> None:
        sock = getattr(self._conn, "_sock", None)
        if sock is not None:
            shutdown_socket(sock.fileno())

    def _connect_error(self, exc: BaseException, connect_timeout: float) -> DatabaseError:
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
        text = exc.args[1] if len(exc.args) > 1 else str(exc)
        if "timed out" in str(text):
            where = (f"{self.target.host}:{self.target.port}" if not self.target.unix_socket
                     else self.target.unix_socket)
            return DatabaseError(
                f"connect timeout: no answer from {where} within {connect_timeout:g} s while "
                f"connecting (timeout={self._param('timeout') or f'{DEFAULT_CONNECT_TIMEOUT:g}s, the default'})",
                hint="check that the server is up and reachable from here (host, port, firewall, proxy); "
                "raise timeout= in the URL (a Go duration such as timeout=30s) if it is just slow",
                details={"code": code, "timeout": "timeout"},
            )
        message = f"cannot connect to {self.url.redacted()}: {self._clean(str(text))}"
        if code is not None:
            message += f" (MySQL error {code})"
        hint = ("check that the server is running and that host, port, user, password and database "
                "in the URL are right")
        if code == 1045:
            hint = ("check the user name and password in the URL (percent-encode special characters: "
                    "@ is %40, : is %3A, / is %2F)")
        elif code == 1049:
            hint = (f"create the database first (CREATE DATABASE `{self.target.database}`) or fix "
                    "its name in the URL")
        elif code in (2002, 2003, 2005, 2006, 2013):
            hint = "check that the server is running and that the host and port in the URL are right"
        elif code == 2026 or isinstance(exc, ssl.SSLError) or "SSL" in str(text):
            hint = ("check the tls parameter: tls=true (verified), tls=skip-verify, tls=preferred, "
                    "tls=false, or tls=<name> with x-tls-ca/x-tls-cert/x-tls-key")
        elif code == 1193:
            hint = ("a URL parameter that is not a go-sql-driver option is set as a session variable, "
                    "and the server does not know this one: remove it from the URL")
        return DatabaseError(message, hint=hint, details={"code": code})

    def _leave_sql(self) -> str:
        seconds = max(1, math.ceil(self.lock_wait_timeout))
        return ("SET @safemigrate_lwt = @@SESSION.lock_wait_timeout, "
                "@safemigrate_ilwt = @@SESSION.innodb_lock_wait_timeout, "
                f"SESSION lock_wait_timeout = {seconds}, SESSION innodb_lock_wait_timeout = {seconds}")

    def enter_migration_sql(self) -> list[Query]:
        return [("SET SESSION lock_wait_timeout = @safemigrate_lwt, "
                 "SESSION innodb_lock_wait_timeout = @safemigrate_ilwt", None)]

    def leave_migration_sql(self) -> list[Query]:
        return [(self._leave_sql(), None)]

    def migration_lock_wait_sql(self, seconds: float) -> list[Query]:
        # The values enter_migration_sql() hands to the migrations' SQL (whole seconds, at least 1).
        whole = max(1, round(seconds))
        return [(f"SET @safemigrate_lwt = {whole}, @safemigrate_ilwt = {whole}", None)]

    def _param(self, name: str) -> str | None:
        return next((value for key, value in self.target.params if key == name), None)

    def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.close()
            self._watchdog = None
        if self._conn is not None:
            conn, self._conn = self._conn, None
            self._locked = False
            with contextlib.suppress(Exception):
                conn.close()

    def cancel(self) -> None:
        """Stop the running statement with ``KILL QUERY`` sent over a second connection."""
        connection_id = self._connection_id
        if self._conn is None or connection_id is None:
            return
        kwargs = dict(self._kwargs)
        kwargs["connect_timeout"] = min(float(kwargs.get("connect_timeout", 5)), 5.0)
        kwargs.pop("init_command", None)
        try:
            killer = pymysql.connect(**kwargs, autocommit=True)
            try:
                with killer.cursor() as cursor:
                    cursor.execute(f"KILL QUERY {int(connection_id)}")
            finally:
                killer.close()
        except Exception:
            pass

    @property
    def connection_id(self) -> int | None:
        return self._connection_id

    @property
    def database_name(self) -> str:
        return self._database_name

    @property
    def server_version(self) -> str:
        return self._server_version

    @property
    def current_user(self) -> str | None:
        return self._user

    @property
    def connected_database(self) -> str:
        return self._current_database or self._database_name

    @property
    def server_address(self) -> str | None:
        if not self._server_address:
            return None
        if self._server_name and not self._server_address.startswith(self._server_name):
            return f"{self._server_address} (server {self._server_name})"
        return self._server_address

    @property
    def lock_name(self) -> str:
        """The GET_LOCK name golang-migrate uses for this database and version table."""
        return lock_name(self._database_name or self.target.database, self.version_table.name)

    # -- SQL -------------------------------------------------------------------
    def _run(self, sql: str, params: Sequence[Any] | None, fetch: bool,
             timed: bool = True) -> list[tuple[Any, ...]]:
        self._last_sql = sql
        timer: threading.Timer | None = None
        fired = threading.Event()
        if self.statement_timeout_ms > 0 and timed:
            def expire() -> None:
                fired.set()
                self.cancel()

            timer = threading.Timer(self.statement_timeout_ms / 1000, expire)
            timer.daemon = True
            timer.start()
        watchdog = self._watchdog
        try:
            with watchdog.watch(self.dead_peer_seconds, self._server_still_working) if watchdog \
                    else contextlib.nullcontext(), self.conn.cursor() as cursor:
                cursor.execute(sql, tuple(params) if params is not None else None)
                rows = [tuple(row) for row in cursor.fetchall()] if fetch else []
            if fired.is_set():
                # KILL QUERY cuts SLEEP() and BENCHMARK() short without an error: the statement was
                # still stopped by x-statement-timeout, and must not count as completed.
                raise pymysql.err.OperationalError(ER_QUERY_INTERRUPTED, "Query execution was interrupted")
            return rows
        except pymysql.err.MySQLError as exc:
            code = exc.args[0] if exc.args else None
            if code in (CR_SERVER_LOST, CR_SERVER_GONE) or (watchdog is not None and watchdog.fired):
                self._raise_if_timed_out(exc, watchdog)
            if code == ER_EMPTY_QUERY and not fetch:
                return []  # only a comment reached the server (a /*!NNNNN */ above its version)
            if fired.is_set() and code in (ER_QUERY_INTERRUPTED, ER_STATEMENT_TIMEOUT, CR_SERVER_LOST):
                raise StatementTimeout(
                    code, f"statement timeout: canceled after {self.statement_timeout_ms} ms "
                    "(x-statement-timeout)"
                ) from exc
            raise
        finally:
            if timer is not None:
                timer.cancel()
                timer.join()

    def _server_still_working(self) -> bool:
        """Over a second connection: is our connection's statement still running on the server?"""
        kwargs = dict(self._kwargs)
        kwargs.pop("init_command", None)
        kwargs["read_timeout"] = kwargs["write_timeout"] = kwargs["connect_timeout"] = min(
            float(kwargs.get("connect_timeout") or DEFAULT_CONNECT_TIMEOUT), 10.0)
        probe = pymysql.connect(**kwargs, autocommit=True)
        try:
            with probe.cursor() as cursor:
                cursor.execute("SELECT COMMAND FROM information_schema.PROCESSLIST WHERE ID = %s",
                               (self._connection_id,))
                row = cursor.fetchone()
        finally:
            probe.close()
        return row is not None and str(row[0]) not in ("Sleep", "Killed")

    def _raise_if_timed_out(self, exc: BaseException, watchdog: Watchdog | None) -> None:
        """Name the timeout that ended a round trip, if one did."""
        where = self._server_address or "the server"
        if watchdog is not None and watchdog.fired:
            raise DatabaseError(
                f"read timeout: no answer from {where} for {watchdog.waited:.0f} s, and the server "
                "could not confirm it is still running this session's statement: the connection is "
                "frozen (network partition, stuck proxy) or the server is gone",
                hint="check the network path to the server, then run safemigrate status to see where "
                "the run stopped",
                details={"timeout": "watchdog", "waited_seconds": round(watchdog.waited, 1)},
            ) from exc
        text = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
        code = exc.args[0] if exc.args else None
        if "timed out" not in text or code not in (CR_SERVER_LOST, CR_SERVER_GONE):
            return
        name = "readTimeout" if code == CR_SERVER_LOST else "writeTimeout"
        value = self._param(name)
        raise DatabaseError(
            f"{'read' if code == CR_SERVER_LOST else 'write'} timeout: no answer from {where} within "
            f"{value} ({name}={value} in the URL); the statement may still be running on the server",
            hint=f"raise or remove {name} in the URL if the statement is just slow; otherwise check the "
            "network path to the server, then run safemigrate status to see where the run stopped",
            details={"timeout": name},
        ) from exc

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        self._run(sql, params, fetch=False)

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        return self._run(sql, params, fetch=True)

    def in_transaction(self) -> bool:
        return bool(self.conn.server_status & SERVER_STATUS.SERVER_STATUS_IN_TRANS)

    def quote_ident(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def literal(self, value: Any) -> str:
        if isinstance(value, str):
            return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
        return super().literal(value)

    def describe_error(self, exc: BaseException) -> DbErrorInfo | None:
        if not isinstance(exc, pymysql.err.MySQLError):
            return None
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
        message = str(exc.args[1]) if len(exc.args) > 1 else (str(exc) or type(exc).__name__)
        extra: dict[str, Any] = {}
        sqlstate = getattr(exc, "sqlstate", None)
        if sqlstate:
            extra["sqlstate"] = sqlstate
        position = _syntax_position(self._last_sql, message) if code in (1064, 1149) else None
        hint = None
        if isinstance(exc, StatementTimeout):
            hint = "raise x-statement-timeout in the database URL, or make the statement faster"
        elif code == ER_QUERY_INTERRUPTED:
            hint = "the statement was canceled (KILL QUERY)"
        return DbErrorInfo(
            message=self._clean(message),
            code=str(code) if code is not None else None,
            hint=hint,
            position=position,
            extra=extra,
        )

    def _clean(self, text: str) -> str:
        secrets = self.url.secrets | ({self.target.password} if self.target.password else set())
        return redact_text(text, secrets)

    # -- locking ---------------------------------------------------------------
    def lock(self, timeout: float) -> None:
        if self._locked:
            raise DatabaseError("can't acquire lock: database locked by this session already",
                                hint="unlock before locking again")
        if self.no_lock:
            self._locked = True
            return
        wait = max(timeout, 0.0)
        if self.try_lock_timeout is not None and self.try_lock_timeout >= 0:
            wait = min(wait, self.try_lock_timeout)
        try:
            # Only the lock timeout bounds this wait, not x-statement-timeout.
            rows = self._run("SELECT GET_LOCK(%s, %s)", (self.lock_name, wait), fetch=True, timed=False)
        except pymysql.err.MySQLError as exc:
            info = self.describe_error(exc)
            raise DatabaseError(
                f"try lock failed: {info.message if info else exc}",
                details={"lock_name": self.lock_name},
            ) from None
        result = rows[0][0] if rows else None
        if result == 1:
            self._locked = True
            return
        if result is None:
            raise DatabaseError(
                f"try lock failed: GET_LOCK({self.lock_name}) was interrupted",
                details={"lock_name": self.lock_name},
            )
        self._raise_lock_timeout(wait)

    def _raise_lock_timeout(self, waited: float) -> None:
        holder = self.lock_holder()
        if holder is None:
            who = "a session that has since ended"
        elif holder.user is None and holder.pid is not None:
            who = (f"connection {holder.pid} (its user and host are hidden: "
                   "grant PROCESS to see who it is)")
        else:
            who = holder.describe()
        hint = "wait for it to finish and run the command again"
        if holder is not None and holder.pid is not None:
            hint += (f"; if that process is gone or stuck, end its session with KILL {holder.pid} "
                     "(its lock is released)")
        raise LockTimeoutError(
            f"timeout: can't acquire database lock after {waited:g}s: the migration lock "
            f"(GET_LOCK name {self.lock_name!r}, golang-migrate's lock for "
            f"{self._database_name}:{self.version_table.name}) is held by {who}",
            hint=hint,
            details={"lock_name": self.lock_name, "holder": holder.__dict__ if holder else None},
        )

    def lock_holder(self) -> LockHolder | None:
        """Who holds the migration lock: IS_USED_LOCK names the connection, the process list the rest."""
        rows = self.query("SELECT IS_USED_LOCK(%s)", (self.lock_name,))
        if not rows or rows[0][0] is None:
            return None
        connection_id = int(rows[0][0])
        processes = self.query(
            "SELECT USER, HOST, COMMAND, STATE, INFO, "
            "DATE_FORMAT(UTC_TIMESTAMP() - INTERVAL TIME SECOND, '%%Y-%%m-%%dT%%H:%%i:%%sZ') "
            "FROM information_schema.PROCESSLIST WHERE ID = %s",
            (connection_id,),
        )
        if not processes:
            return LockHolder(pid=connection_id)
        user, host, command, state, info, since = processes[0]
        program = self._program_of(connection_id)
        status = str(command or "")
        if state:
            status += f" ({state})"
        return LockHolder(pid=connection_id, application_name=program, user=user, client=host,
                          since=since, state=status or None, query=info)

    def _program_of(self, connection_id: int) -> str | None:
        """The client program and OS pid, from performance_schema when it is on and readable."""
        try:
            rows = self.query(
                "SELECT ATTR_NAME, ATTR_VALUE FROM performance_schema.session_connect_attrs "
                "WHERE PROCESSLIST_ID = %s AND ATTR_NAME IN ('program_name', '_pid', '_client_name')",
                (connection_id,),
            )
        except pymysql.err.MySQLError:
            return None
        attrs = {name: value for name, value in rows}
        name = attrs.get("program_name") or attrs.get("_client_name")
        if not name:
            return None
        return f"{name} (OS pid {attrs['_pid']})" if attrs.get("_pid") else str(name)

    # -- our bookkeeping's failures ------------------------------------------------
    def bookkeeping_error(self, exc: BaseException) -> SafemigrateError | None:
        if not isinstance(exc, pymysql.err.MySQLError) or not exc.args:
            return None
        code = exc.args[0]
        if code in (ER_WRONG_TABLE_NAME, ER_TOO_LONG_IDENT):
            message = self._clean(str(exc.args[1]) if len(exc.args) > 1 else str(exc))
            return UsageError(
                f"the server refuses the name of safemigrate's tables ({message}): "
                f"{self.version_table.name!r} (x-migrations-table) or {self.history_table.name!r}; "
                "nothing was changed",
                hint="name the table in x-migrations-table with at most 64 characters, no control "
                "characters and no trailing blank",
            )
        if code in (ER_TABLE_ACCESS_DENIED, ER_COLUMN_ACCESS_DENIED):
            message = self._clean(str(exc.args[1]) if len(exc.args) > 1 else str(exc))
            tables = f"{self.qualified(self.version_table)} and {self.qualified(self.history_table)}"
            return DatabaseError(
                f"user {self._user} lacks a privilege on safemigrate's tables: {message}",
                hint=f"ask an administrator to run: GRANT SELECT, INSERT, UPDATE, DELETE ON each of {tables} "
                f"TO {self._user}",
            )
        # x-statement-timeout shorter than the lock timeout kills a wait on our tables first.
        statement_timeout = isinstance(exc, StatementTimeout)
        if code != ER_LOCK_WAIT_TIMEOUT and not statement_timeout:
            return None
        with contextlib.suppress(pymysql.err.MySQLError):
            if self.in_transaction():
                self.execute("ROLLBACK")
        holders = self._table_lock_candidates()
        if statement_timeout and not holders:
            return None
        waited = (f"{self.statement_timeout_ms}ms (x-statement-timeout)" if statement_timeout
                  else f"{self.lock_wait_timeout:g}s (`lock_timeout`)")
        who = "; ".join(h.describe() for h in holders) if holders else "a session that has since ended"
        hint = "wait for that session to finish and run the command again"
        if holders and holders[0].pid is not None:
            hint += f"; if it is stuck, end it with KILL {holders[0].pid}"
        return LockTimeoutError(
            f"timeout: waited {waited} for a lock on "
            f"{self.qualified(self.version_table)} or {self.qualified(self.history_table)}; "
            f"held by {who}",
            hint=hint,
            details={"holders": [h.__dict__ for h in holders]},
            settings=("lock_timeout",),
        )

    def _table_lock_candidates(self) -> list[LockHolder]:
        """Who holds a lock on our tables: the metadata lock plugin when installed, else the open
        transactions and the other sessions of this database (the server cannot say more)."""
        ids: list[int] = []
        with contextlib.suppress(pymysql.err.MySQLError):
            rows = self.query(
                "SELECT DISTINCT THREAD_ID FROM information_schema.METADATA_LOCK_INFO "
                "WHERE TABLE_SCHEMA = %s AND TABLE_NAME IN (%s, %s) AND THREAD_ID <> CONNECTION_ID()",
                (self._database_name, self.version_table.name, self.history_table.name),
            )
            ids = [int(r[0]) for r in rows]
        if not ids:
            with contextlib.suppress(pymysql.err.MySQLError):
                rows = self.query("SELECT trx_mysql_thread_id FROM information_schema.INNODB_TRX "
                                  "WHERE trx_mysql_thread_id <> CONNECTION_ID()")
                ids = [int(r[0]) for r in rows]
        where = "ID IN (" + ", ".join(str(i) for i in ids) + ")" if ids else "DB = %s AND ID <> CONNECTION_ID()"
        processes = self.query(
            "SELECT ID, USER, HOST, COMMAND, INFO, "
            "DATE_FORMAT(UTC_TIMESTAMP() - INTERVAL TIME SECOND, '%%Y-%%m-%%dT%%H:%%i:%%sZ') "
            f"FROM information_schema.PROCESSLIST WHERE {where} ORDER BY TIME DESC LIMIT 3",
            () if ids else (self._database_name,),
        )
        return [LockHolder(pid=int(pid), application_name=self._program_of(int(pid)), user=user, client=host,
                           since=since, state=str(command or "") or None, query=info)
                for pid, user, host, command, info, since in processes]

    def unlock(self) -> None:
        if not self._locked:
            return
        self._locked = False
        if self.no_lock or self._conn is None:
            return
        self.query("SELECT RELEASE_LOCK(%s)", (self.lock_name,))

    # -- version table ---------------------------------------------------------
    def table_exists(self, table: TableName) -> bool:
        if table.schema:
            rows = self.query(
                "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
                (table.schema, table.name),
            )
        else:
            rows = self.query(
                "SELECT COUNT(*) FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
                (table.name,),
            )
        return bool(rows and rows[0][0])

    def create_version_table_sql(self) -> list[Query]:
        # golang-migrate's exact DDL.
        return [(
            f"CREATE TABLE IF NOT EXISTS {self.qualified(self.version_table)} "
            "(version bigint not null primary key, dirty boolean not null)",
            None,
        )]

    def set_version_sql(self, version: int | None, dirty: bool) -> list[Query]:
        """golang-migrate's SetVersion: ``DELETE ... LIMIT 1`` then ``INSERT``, in the caller's transaction."""
        table = self.qualified(self.version_table)
        queries: list[Query] = [(f"DELETE FROM {table} LIMIT 1", None)]
        if version is not None or dirty:
            queries.append((f"INSERT INTO {table} (version, dirty) VALUES (%s, %s)",
                            (-1 if version is None else version, dirty)))
        return queries

    def read_version(self) -> VersionState:
        try:
            rows = self.query(f"SELECT version, dirty FROM {self.qualified(self.version_table)} LIMIT 1")
        except pymysql.err.MySQLError as exc:
            if exc.args and exc.args[0] == ER_NO_SUCH_TABLE:
                return VersionState(None, False)
            problem = self.version_table_problem() if exc.args and exc.args[0] == ER_BAD_FIELD else None
            problem = problem or self.bookkeeping_error(exc)
            if problem is None:
                raise
            raise problem from None
        if not rows:
            return VersionState(None, False)
        version, dirty = rows[0]
        return VersionState(None if int(version) == -1 else int(version), bool(dirty))

    def drop_all_tables(self) -> list[str]:
        """golang-migrate's Drop: every table, with foreign key checks off; views are dropped too."""
        database = self.quote_ident(self._database_name)
        rows = self.query(f"SHOW FULL TABLES FROM {database}")
        names = [str(name) for name, _ in rows if name]
        if not names:
            return []
        previous = self.query("SELECT @@SESSION.foreign_key_checks")[0][0]
        self.execute("SET foreign_key_checks = 0")
        try:
            for name, kind in rows:
                if not name:
                    continue
                what = "VIEW" if str(kind).upper() == "VIEW" else "TABLE"
                self.execute(f"DROP {what} IF EXISTS {database}.{self.quote_ident(str(name))}")
        finally:
            self.execute(f"SET foreign_key_checks = {int(previous)}")
        return names
