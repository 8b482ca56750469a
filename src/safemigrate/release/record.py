"""``safemigrate_releases``: one row per release, beside the history table.

It answers "was exactly this set of files released successfully on staging?"
(the runbook's "test migration in staging environment first"), and lets
``history --release ID`` show a release's report later.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..drivers.base import Driver, Query, TableName

__all__ = ["ReleaseFile", "ReleaseRow", "ReleasesTable"]

_COLUMNS = ("id", "env", "outcome", "started_at", "finished_at", "from_version", "to_version",
            "version_after", "backup_id", "files", "db_user", "os_user", "host", "tool_version", "report")

_TYPES = {
    "postgres": {"key": "text PRIMARY KEY", "text": "text", "int": "bigint", "ts": "timestamptz"},
    "sqlite": {"key": "TEXT PRIMARY KEY", "text": "TEXT", "int": "INTEGER", "ts": "TEXT"},
    "mysql": {"key": "VARCHAR(64) PRIMARY KEY", "text": "LONGTEXT", "int": "BIGINT", "ts": "DATETIME(6)"},
}
_KINDS = {"id": "key", "env": "text", "outcome": "text", "started_at": "ts", "finished_at": "ts",
          "from_version": "int", "to_version": "int", "version_after": "int", "backup_id": "text",
          "files": "text", "db_user": "text", "os_user": "text", "host": "text", "tool_version": "text",
          "report": "text"}


@dataclass(frozen=True)
class ReleaseFile:
    version: int
    name: str
    checksum: str

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "name": self.name, "checksum": self.checksum}


@dataclass(frozen=True)
class ReleaseRow:
    id: str
    env: str | None
    outcome: str
    started_at: datetime
    files: tuple[ReleaseFile, ...]
    to_version: int | None
    report: dict[str, Any] | None
    backup_id: str | None = None


class ReleasesTable:
    """SQL for the releases table of one driver (the caller runs it under the migration lock)."""

    NAME = "safemigrate_releases"

    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self.name = TableName(self.NAME, driver.history_table.schema)
        self.table = driver.qualified(self.name)

    def exists(self) -> bool:
        return self.driver.table_exists(self.name)

    def create_sql(self) -> Query:
        types = _TYPES[self.driver.dialect]
        columns = ", ".join(f"{name} {types[_KINDS[name]]}" for name in _COLUMNS)
        return (f"CREATE TABLE IF NOT EXISTS {self.table} ({columns})", None)

    def _ts(self, value: datetime | None) -> Any:
        if value is None:
            return None
        value = value.astimezone(UTC)
        if self.driver.dialect == "sqlite":
            return value.isoformat(timespec="microseconds")
        return value.replace(tzinfo=None) if self.driver.dialect == "mysql" else value

    def upsert_sql(self, values: dict[str, Any]) -> list[Query]:
        """Delete then insert the row: the same SQL on every database, in one transaction by the caller."""
        p = self.driver.placeholder
        row = [self._ts(values.get(c)) if c in ("started_at", "finished_at") else values.get(c) for c in _COLUMNS]
        return [
            (f"DELETE FROM {self.table} WHERE id = {p}", [values["id"]]),
            (f"INSERT INTO {self.table} ({', '.join(_COLUMNS)}) VALUES ({', '.join([p] * len(_COLUMNS))})", row),
        ]

    def read(self, *, env: str | None = None, release_id: str | None = None) -> list[ReleaseRow]:
        if not self.exists():
            return []
        p = self.driver.placeholder
        where, params = [], []
        if env is not None:
            where.append(f"env = {p}")
            params.append(env)
        if release_id is not None:
            where.append(f"id = {p}")
            params.append(release_id)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self.driver.query(
            f"SELECT id, env, outcome, started_at, files, to_version, report, backup_id FROM {self.table}{clause} "
            "ORDER BY started_at", params or None)
        return [self._row(row) for row in rows]

    def last_released_backup(self, env: str | None) -> str | None:
        """The backup of the environment's latest successful release: the one still pinned.

        Each successful release unpins its predecessor's, so only this one can be pinned; the
        query reads one id (no report) and a release without ``--env`` matches only releases
        without one, never another environment's.
        """
        if not self.exists():
            return None
        p = self.driver.placeholder
        env_clause, params = ("env IS NULL", []) if env is None else (f"env = {p}", [env])
        rows = self.driver.query(
            f"SELECT backup_id FROM {self.table} WHERE {env_clause} AND outcome = {p} AND backup_id IS NOT NULL "
            "ORDER BY started_at DESC LIMIT 1", [*params, "released"])
        return str(rows[0][0]) if rows else None

    def _row(self, row: Sequence[Any]) -> ReleaseRow:
        release_id, env, outcome, started, files, to_version, report, backup_id = row
        if isinstance(started, str):
            started = datetime.fromisoformat(started)
        elif isinstance(started, datetime) and started.tzinfo is None:
            started = started.replace(tzinfo=UTC)
        elif isinstance(started, datetime):
            started = started.astimezone(UTC)  # PostgreSQL's, in the session's time zone
        parsed = tuple(ReleaseFile(int(f["version"]), str(f["name"]), str(f["checksum"]))
                       for f in json.loads(files or "[]"))
        return ReleaseRow(str(release_id), env, str(outcome), started, parsed, to_version,
                          json.loads(report) if report else None, backup_id)
