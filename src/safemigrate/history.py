"""The history table: one row per step safemigrate ran, beside golang-migrate's version table.

golang-migrate keeps only the current version. ``safemigrate_history`` keeps who
ran what, when, from which file content (SHA-256), how long it took and how it
ended, so that ``status`` can flag edited files and skipped versions and a
failure can be reconstructed. Rows are written in the same transaction as the
migration where the database allows it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from .drivers.base import Driver, Query

__all__ = ["HISTORY_COLUMNS", "HistoryRecord", "HistoryTable", "new_run_id"]


def new_run_id() -> str:
    return uuid.uuid4().hex


@dataclass
class HistoryRecord:
    run_id: str
    version: int
    name: str
    direction: str  # up | down | force
    from_version: int | None
    to_version: int | None
    started_at: datetime
    outcome: str  # running | applied | failed | interrupted | forced
    mode: str = "transaction"  # transaction | statements | atomic | none
    checksum: str | None = None
    finished_at: datetime | None = None
    duration_ms: float | None = None
    statements_total: int | None = None
    statements_committed: int | None = None
    error: str | None = None
    db_user: str | None = None
    os_user: str | None = None
    host: str | None = None
    tool_version: str | None = None
    id: int | None = field(default=None)


HISTORY_COLUMNS = [f.name for f in fields(HistoryRecord) if f.name != "id"]

_TYPES: dict[str, dict[str, str]] = {
    "postgres": {
        "id": "bigserial PRIMARY KEY", "text": "text", "int": "bigint", "ts": "timestamptz",
        "float": "double precision",
    },
    "sqlite": {
        "id": "INTEGER PRIMARY KEY", "text": "TEXT", "int": "INTEGER", "ts": "TEXT", "float": "REAL",
    },
    "mysql": {
        "id": "BIGINT AUTO_INCREMENT PRIMARY KEY", "text": "TEXT", "int": "BIGINT",
        "ts": "DATETIME(6)", "float": "DOUBLE",
    },
}

_COLUMN_KINDS = {
    "run_id": ("text", True), "version": ("int", True), "name": ("text", True),
    "direction": ("text", True), "from_version": ("int", False), "to_version": ("int", False),
    "started_at": ("ts", True), "outcome": ("text", True), "mode": ("text", False),
    "checksum": ("text", False), "finished_at": ("ts", False), "duration_ms": ("float", False),
    "statements_total": ("int", False), "statements_committed": ("int", False),
    "error": ("text", False), "db_user": ("text", False), "os_user": ("text", False),
    "host": ("text", False), "tool_version": ("text", False),
}


class HistoryTable:
    """SQL for the history table of one driver; the engine executes it."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self.dialect = driver.dialect
        self.table = driver.qualified(driver.history_table)

    def _ts(self, value: datetime | None) -> Any:
        if value is None:
            return None
        value = value.astimezone(UTC)
        if self.dialect == "sqlite":
            return value.isoformat(timespec="microseconds")
        if self.dialect == "mysql":
            return value.replace(tzinfo=None)
        return value

    def create_sql(self) -> list[Query]:
        types = _TYPES[self.dialect]
        columns = [f"id {types['id']}"]
        for name in HISTORY_COLUMNS:
            kind, required = _COLUMN_KINDS[name]
            columns.append(f"{name} {types[kind]}{' NOT NULL' if required else ''}")
        return [(f"CREATE TABLE IF NOT EXISTS {self.table} ({', '.join(columns)})", None)]

    def insert_sql(self, *records: HistoryRecord) -> Query:
        """One INSERT for one or more rows (--atomic writes all of its rows at once)."""
        p = self.driver.placeholder
        values: list[Any] = []
        for record in records:
            for name in HISTORY_COLUMNS:
                value = getattr(record, name)
                values.append(self._ts(value) if isinstance(value, datetime) else value)
        cols = ", ".join(HISTORY_COLUMNS)
        row = "(" + ", ".join([p] * len(HISTORY_COLUMNS)) + ")"
        return (f"INSERT INTO {self.table} ({cols}) VALUES {', '.join([row] * len(records))}", values)

    def update_sql(self, run_id: str, **changes: Any) -> Query:
        p = self.driver.placeholder
        assignments = ", ".join(f"{name} = {p}" for name in changes)
        values = [self._ts(v) if isinstance(v, datetime) else v for v in changes.values()]
        return (f"UPDATE {self.table} SET {assignments} WHERE run_id = {p}", [*values, run_id])

    def read(self) -> list[HistoryRecord]:
        """All rows, oldest first; an empty list when the table does not exist (yet)."""
        if not self.driver.table_exists(self.driver.history_table):
            return []
        cols = ", ".join(["id", *HISTORY_COLUMNS])
        rows = self.driver.query(f"SELECT {cols} FROM {self.table} ORDER BY id")
        return [self._record(row) for row in rows]

    def _record(self, row: Sequence[Any]) -> HistoryRecord:
        data = dict(zip(["id", *HISTORY_COLUMNS], row, strict=True))
        for key in ("started_at", "finished_at"):
            value = data[key]
            if isinstance(value, str):
                data[key] = datetime.fromisoformat(value)
            elif isinstance(value, datetime) and value.tzinfo is None:
                data[key] = value.replace(tzinfo=UTC)
        return HistoryRecord(**data)
