"""Database URLs as golang-migrate reads them.

The scheme picks the driver; query parameters starting with ``x-`` configure
the migration tool itself and are removed before connecting (golang-migrate's
``FilterCustomQuery``). Printing a :class:`DatabaseURL` always shows it redacted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Literal
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

from ._record import Record
from .errors import UsageError
from .redact import redact_url, url_secrets

__all__ = ["SCHEMES", "DatabaseURL", "Dialect", "parse_database_url", "parse_source_url"]

Dialect = Literal["postgres", "sqlite", "mysql"]

SCHEMES: Mapping[str, Dialect] = {
    "postgres": "postgres",
    "postgresql": "postgres",
    "pgx": "postgres",
    "pgx4": "postgres",
    "pgx5": "postgres",
    "sqlite3": "sqlite",
    "sqlite": "sqlite",
    "mysql": "mysql",
    "mariadb": "mysql",
}

_TRUE = {"1", "t", "true", "y", "yes", "on"}
_FALSE = {"0", "f", "false", "n", "no", "off"}


class DatabaseURL(Record, frozen=True, hidden=("raw", "split")):
    """A parsed database URL. ``raw`` holds the secret; ``str()`` never does."""

    raw: str
    scheme: str
    dialect: Dialect
    custom: Mapping[str, str]
    query: tuple[tuple[str, str], ...]
    split: SplitResult

    def __init__(self, raw: str, scheme: str, dialect: Dialect, custom: Mapping[str, str],
                 query: tuple[tuple[str, str], ...], split: SplitResult) -> None:
        self.__dict__.update(raw=raw, scheme=scheme, dialect=dialect, custom=custom, query=query, split=split)

    def __str__(self) -> str:
        return self.redacted()

    def __repr__(self) -> str:
        return f"DatabaseURL({self.redacted()!r})"

    def redacted(self) -> str:
        return redact_url(self.raw)

    @property
    def secrets(self) -> set[str]:
        """Every text of the URL that may be its password (for verbatim masking)."""
        return url_secrets(self.raw)

    @property
    def password(self) -> str | None:
        try:
            return self.split.password
        except ValueError:
            return None

    @property
    def path(self) -> str:
        """The URL path as Go's net/url gives it, leading ``/`` included."""
        return self.split.path

    def without_custom(self) -> str:
        """The URL with every ``x-`` parameter removed (what golang-migrate connects with)."""
        return urlunsplit(self.split._replace(query=urlencode(list(self.query))))

    def custom_bool(self, name: str, default: bool = False) -> bool:
        value = self.custom.get(name)
        if value is None or value == "":
            return default
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise UsageError(
            f"Unable to parse option {name}: {value!r} is not a boolean",
            hint=f"use {name}=true or {name}=false in the database URL",
        )

    def custom_int(self, name: str, default: int) -> int:
        value = self.custom.get(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except ValueError:
            raise UsageError(
                f"Unable to parse option {name}: {value!r} is not a whole number",
                hint=f"use {name}=<integer> in the database URL",
            ) from None


_PERCENT_HINT = "percent-encode special characters in the user name and password (@ is %40, / is %2F, : is %3A, # is %23, % is %25)"
_SCHEME_TEXT = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]{0,30}$")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _malformed(why: str, hint: str = _PERCENT_HINT) -> UsageError:
    # Never the URL's text: a password with a raw "/", "@" or "#" is cut into pieces that
    # would show up in any quotation of the URL or of a parser's message.
    return UsageError(f"malformed database URL: {why}", hint=hint)


def _split(url: str, dialect: Dialect) -> SplitResult:
    try:
        split = urlsplit(url)
        if dialect == "postgres":
            _ = split.port  # validates the port
    except ValueError as exc:
        text = str(exc)
        if "Port out of range" in text:
            raise _malformed("the port is out of range (1-65535)") from None
        if "Port" in text or "port" in text:
            raise _malformed("the port is not a number") from None
        if "IPv6" in text or "]" in text or "[" in text:
            raise _malformed("an unclosed [ in the host") from None
        raise _malformed("it cannot be read as a URL") from None
    return split


def _check_names_a_server(split: SplitResult, dialect: Dialect, query: Sequence[tuple[str, str]]) -> None:
    """A URL that names no server would connect wherever libpq's defaults point: refuse it."""
    if dialect != "postgres" or split.hostname:
        return
    if any(key in ("host", "hostaddr") and value for key, value in query):
        return
    what = "the user name is followed by an empty host" if "@" in split.netloc else "it names no host"
    raise UsageError(
        f"malformed database URL: {what}, so libpq would connect to its default server and "
        "database (a local socket, the database named like the OS user) instead of the one you mean",
        hint="name the server: postgres://user:password@HOST:5432/DBNAME, or for a socket "
        "postgres://user@/DBNAME?host=/var/run/postgresql",
    )


def parse_database_url(url: str | None) -> DatabaseURL:
    """Parse and validate a database URL; raise :class:`UsageError` with a next step if it is wrong.

    No error quotes the URL: it may hold the password in pieces no redactor can find.
    """
    if url is None or not url.strip():
        raise UsageError(
            "no database URL given",
            hint="pass `database_url` (for example sqlite3://app.db) or set DATABASE_URL",
            settings=("database_url",),
        )
    url = url.strip()
    if "://" not in url:
        raise UsageError(
            "the database URL has no scheme (driver://)",
            hint="write it as driver://..., for example postgres://user@host:5432/db or sqlite3://app.db",
        )
    scheme = url.split("://", 1)[0].lower()
    dialect = SCHEMES.get(scheme)
    if dialect is None:
        shown = f" {scheme!r}" if _SCHEME_TEXT.match(scheme) else ""
        raise UsageError(
            f"unsupported database URL scheme{shown}",
            hint="supported schemes: " + ", ".join(f"{s}://" for s in SCHEMES),
        )
    if dialect != "sqlite" and "#" in url:
        raise _malformed(
            "it contains an unencoded '#', which ends a URL: the host and database after it "
            "would be ignored and another database used",
            hint="percent-encode # as %23 (in a password too)",
        )
    if dialect != "sqlite" and _BAD_PERCENT.search(url.split("?", 1)[0]):
        raise _malformed("a '%' is not followed by two hexadecimal digits (bad percent-encoding)")
    split = _split(url, dialect)
    pairs = parse_qsl(split.query, keep_blank_values=True)
    custom = {k: v for k, v in pairs if k.startswith("x-")}
    query = tuple((k, v) for k, v in pairs if not k.startswith("x-"))
    _check_names_a_server(split, dialect, query)
    return DatabaseURL(raw=url, scheme=scheme, dialect=dialect, custom=custom, query=query, split=split)


def parse_source_url(source: str | None, path: str | None, default: str = "migrations") -> str:
    """Resolve ``-source file://...`` / ``-path DIR`` to a folder path, as golang-migrate does."""
    if source:
        if not source.startswith("file://"):
            scheme = source.split("://", 1)[0] if "://" in source else source
            raise UsageError(
                f"unsupported migration source {redact_url(source)!r} ({scheme})",
                hint="use `source` file://path/to/migrations or `path` path/to/migrations",
                settings=("source", "path"),
            )
        rest = source[len("file://") :]
        return rest.split("?", 1)[0] or "."
    if path:
        return path
    return default
