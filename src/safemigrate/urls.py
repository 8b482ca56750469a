"""Database URLs as golang-migrate reads them.

The scheme picks the driver; query parameters starting with ``x-`` configure
the migration tool itself and are removed before connecting (golang-migrate's
``FilterCustomQuery``). Printing a :class:`DatabaseURL` always shows it redacted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

from .errors import UsageError
from .redact import redact_url

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


@dataclass(frozen=True)
class DatabaseURL:
    """A parsed database URL. ``raw`` holds the secret; ``str()`` never does."""

    raw: str = field(repr=False)
    scheme: str
    dialect: Dialect
    custom: Mapping[str, str]
    query: tuple[tuple[str, str], ...]
    split: SplitResult = field(repr=False)

    def __str__(self) -> str:
        return self.redacted()

    def __repr__(self) -> str:
        return f"DatabaseURL({self.redacted()!r})"

    def redacted(self) -> str:
        return redact_url(self.raw)

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


def parse_database_url(url: str | None) -> DatabaseURL:
    """Parse and validate a database URL; raise :class:`UsageError` with a next step if it is wrong."""
    if url is None or not url.strip():
        raise UsageError(
            "no database URL given",
            hint="pass -database URL (for example -database sqlite3://app.db) or set DATABASE_URL",
        )
    url = url.strip()
    shown = redact_url(url)
    if "://" not in url:
        raise UsageError(
            f"database URL {shown!r} has no scheme",
            hint="write it as driver://..., for example postgres://user@host:5432/db or sqlite3://app.db",
        )
    scheme = url.split("://", 1)[0].lower()
    dialect = SCHEMES.get(scheme)
    if dialect is None:
        raise UsageError(
            f"unsupported database URL scheme {scheme!r} in {shown!r}",
            hint="supported schemes: " + ", ".join(f"{s}://" for s in SCHEMES),
        )
    try:
        split = urlsplit(url)
        if dialect == "postgres":
            _ = split.port  # validates the port
    except ValueError as exc:
        raise UsageError(
            f"malformed database URL {shown!r}: {redact_url(str(exc))}",
            hint="percent-encode special characters in the user name and password (@ is %40, / is %2F, : is %3A)",
        ) from None
    pairs = parse_qsl(split.query, keep_blank_values=True)
    custom = {k: v for k, v in pairs if k.startswith("x-")}
    query = tuple((k, v) for k, v in pairs if not k.startswith("x-"))
    return DatabaseURL(raw=url, scheme=scheme, dialect=dialect, custom=custom, query=query, split=split)


def parse_source_url(source: str | None, path: str | None, default: str = "migrations") -> str:
    """Resolve ``-source file://...`` / ``-path DIR`` to a folder path, as golang-migrate does."""
    if source:
        if not source.startswith("file://"):
            scheme = source.split("://", 1)[0] if "://" in source else source
            raise UsageError(
                f"unsupported migration source {redact_url(source)!r} ({scheme})",
                hint="use -source file://path/to/migrations or -path path/to/migrations",
            )
        rest = source[len("file://") :]
        return rest.split("?", 1)[0] or "."
    if path:
        return path
    return default
