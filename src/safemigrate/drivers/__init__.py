"""Database drivers behind one interface (:class:`~safemigrate.drivers.base.Driver`).

Drivers are imported only when their scheme is used, so the SQLite path never
imports psycopg and the PostgreSQL path never imports PyMySQL.
"""

from __future__ import annotations

from ..urls import DatabaseURL, parse_database_url
from .base import DbErrorInfo, Driver, LockHolder, TableName, VersionState

__all__ = ["DbErrorInfo", "Driver", "LockHolder", "TableName", "VersionState", "open_driver"]


def open_driver(url: str | DatabaseURL) -> Driver:
    """Create (not yet connect) the driver for ``url``."""
    parsed = url if isinstance(url, DatabaseURL) else parse_database_url(url)
    if parsed.dialect == "postgres":
        from .postgres import PostgresDriver

        return PostgresDriver(parsed)
    if parsed.dialect == "sqlite":
        from .sqlite import SqliteDriver

        return SqliteDriver(parsed)
    from .mysql import MysqlDriver  # type: ignore[import-not-found,unused-ignore]

    driver: Driver = MysqlDriver(parsed)
    return driver
