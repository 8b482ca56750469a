"""The history table: one row per step safemigrate ran, beside golang-migrate's version table.

golang-migrate keeps only the current version. ``safemigrate_history`` keeps who
ran what, when, from which file content (SHA-256), how long it took and how it
ended, so that ``status`` can flag edited files and skipped versions and a
failure can be reconstructed. Rows are written in the same transaction as the
migration where the database allows it.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from ._gc import cyclic_gc_paused
from ._record import Record
from .drivers.base import Driver, Query

__all__ = ["HISTORY_COLUMNS", "HistoryRecord", "HistoryStep", "HistoryTable", "StepFacts", "new_run_id"]


def new_run_id() -> str:
    """A random (version 4) UUID as 32 hex digits, exactly ``uuid.uuid4().hex``, made without
    building a UUID object: one is made for every step."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    return raw.hex()


class HistoryRecord(Record):
    """One row of the history table.

    A :class:`Record`, not a dataclass: generating and compiling a 21-field dataclass's methods
    cost every command that reads or writes the history about 6 M instructions at import.
    """

    run_id: str
    version: int
    name: str
    direction: str  # up | down | force
    from_version: int | None
    to_version: int | None
    started_at: datetime
    outcome: str  # running | applied | failed | interrupted | forced
    mode: str  # transaction | statements | atomic | none
    checksum: str | None
    finished_at: datetime | None
    duration_ms: float | None
    statements_total: int | None
    statements_committed: int | None
    error: str | None
    db_user: str | None
    os_user: str | None
    host: str | None
    tool_version: str | None
    # Statement mode: the 1-based number of a statement that cannot run in a transaction, written
    # (and committed) BEFORE it is sent and cleared once it has completed. Still set after a crash:
    # that statement may or may not have completed.
    statement_started: int | None
    id: int | None

    def __init__(self, run_id: str, version: int, name: str, direction: str, from_version: int | None,
                 to_version: int | None, started_at: datetime, outcome: str, mode: str = "transaction",
                 checksum: str | None = None, finished_at: datetime | None = None,
                 duration_ms: float | None = None, statements_total: int | None = None,
                 statements_committed: int | None = None, error: str | None = None, db_user: str | None = None,
                 os_user: str | None = None, host: str | None = None, tool_version: str | None = None,
                 statement_started: int | None = None, id: int | None = None) -> None:
        self.run_id = run_id
        self.version = version
        self.name = name
        self.direction = direction
        self.from_version = from_version
        self.to_version = to_version
        self.started_at = started_at
        self.outcome = outcome
        self.mode = mode
        self.checksum = checksum
        self.finished_at = finished_at
        self.duration_ms = duration_ms
        self.statements_total = statements_total
        self.statements_committed = statements_committed
        self.error = error
        self.db_user = db_user
        self.os_user = os_user
        self.host = host
        self.tool_version = tool_version
        self.statement_started = statement_started
        self.id = id

    @property
    def applied_at(self) -> datetime:
        """When the step finished, else when it started: the time ``status`` shows."""
        return self.finished_at or self.started_at


# The names PostgreSQL's session TimeZone gives UTC itself (psycopg's datetimes carry that zone).
_UTC_ZONES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Etc/Zulu", "Zulu"})


def _is_utc(value: datetime) -> bool:
    """Whether psycopg gave ``value`` in UTC (the server's default session zone). Every value of one
    read carries the connection's zone, so one value tells for all: in another session zone
    (PGTZ=America/St_Johns, a role's SET timezone) they are converted, as the table and the
    history print them as UTC."""
    zone = value.tzinfo
    return zone is UTC or getattr(zone, "key", None) in _UTC_ZONES


class HistoryStep(NamedTuple):
    """What ``status`` reads of a history row (on PostgreSQL), as the row itself (a tuple, named).

    ``status`` reads the whole history (10,000 rows and more): loading the other columns and
    building a 21-field record per row was about 70 M instructions of its run. Each field is
    read by the tuple's own C accessor, not a Python function per access. Of the two times,
    only the one ``status`` shows: ``applied_at``, as :attr:`HistoryRecord.applied_at`.
    """

    version: int
    direction: str
    outcome: str
    from_version: int | None
    checksum: str | None
    applied_at: datetime  # when it finished, else when it started; aware, in UTC
    os_user: str | None
    host: str | None
    db_user: str | None


# HistoryStep's columns in one SELECT, of the steps status replays: the applied up and down steps
# (the others change nothing it shows; their outcome, "applied", is not loaded 10,000 times).
# The applied time as text, in UTC: psycopg's timestamptz loader converts each value to the
# session's time zone (ZoneInfo's offsets: about 2,300 instructions a value), and
# datetime.fromisoformat of this text (its UTC offset written out) gives the same aware datetime
# for a fifth of the whole value's cost; one value, not the two times, and no session zone to
# convert from.
_STEP_SELECT = ("SELECT version, direction, from_version, checksum, "
                "(coalesce(finished_at, started_at) AT TIME ZONE 'UTC')::text || '+00:00', os_user, host, db_user "
                "FROM {table} WHERE outcome = 'applied' AND direction IN ('up', 'down') ORDER BY id")

# What ``status`` reads of a history row: a whole record, or (PostgreSQL) just its ten columns.
StepFacts = HistoryRecord | HistoryStep

HISTORY_COLUMNS = [name for name in HistoryRecord._fields if name != "id"]
# A record's values in column order, read in one call (the INSERT of every step reads all 20).
_ROW_VALUES = operator.attrgetter(*HISTORY_COLUMNS)
# The record's fields in order (the history's columns, then id): a full row builds a record
# positionally.
_FIELD_ORDER = HistoryRecord._fields
# The columns that hold a timestamp (stored per dialect, see HistoryTable._ts).
_TIMESTAMP_INDEXES = tuple(i for i, name in enumerate(HISTORY_COLUMNS) if name in ("started_at", "finished_at"))

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
    "host": ("text", False), "tool_version": ("text", False), "statement_started": ("int", False),
}
# Columns added after the first release: tables created before get them with ALTER TABLE.
_ADDED_COLUMNS = ("statement_started",)


class HistoryTable:
    """SQL for the history table of one driver; the engine executes it."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self.dialect = driver.dialect
        self.table = driver.qualified(driver.history_table)
        # The INSERT's text for n rows, built once: every step writes one with the same text.
        self._insert_texts: dict[int, str] = {}

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

    def upgrade_sql(self) -> list[Query]:
        """ALTER TABLE for the columns an existing history table (from an older release) lacks."""
        present = self.driver.table_columns(self.driver.history_table)
        types = _TYPES[self.dialect]
        return [(f"ALTER TABLE {self.table} ADD COLUMN {name} {types[_COLUMN_KINDS[name][0]]}", None)
                for name in _ADDED_COLUMNS if present and name not in present]

    def insert_sql(self, *records: HistoryRecord) -> Query:
        """One INSERT for one or more rows (--atomic writes all of its rows at once)."""
        values: list[Any] = []
        for record in records:
            row = list(_ROW_VALUES(record))
            for i in _TIMESTAMP_INDEXES:
                if isinstance(row[i], datetime):
                    row[i] = self._ts(row[i])
            values.extend(row)
        return (self._insert_text(len(records)), values)

    def _insert_text(self, rows: int) -> str:
        text = self._insert_texts.get(rows)
        if text is None:
            p = self.driver.placeholder
            cols = ", ".join(HISTORY_COLUMNS)
            row = "(" + ", ".join([p] * len(HISTORY_COLUMNS)) + ")"
            text = self._insert_texts[rows] = f"INSERT INTO {self.table} ({cols}) VALUES {', '.join([row] * rows)}"
        return text

    def update_sql(self, run_id: str, **changes: Any) -> Query:
        p = self.driver.placeholder
        assignments = ", ".join(f"{name} = {p}" for name in changes)
        values = [self._ts(v) if isinstance(v, datetime) else v for v in changes.values()]
        return (f"UPDATE {self.table} SET {assignments} WHERE run_id = {p}", [*values, run_id])

    def read(self) -> list[HistoryRecord]:
        """All rows, oldest first; an empty list when the table does not exist (yet)."""
        if not self.driver.table_exists(self.driver.history_table):
            return []
        present = self.driver.table_columns(self.driver.history_table)
        names = [*(name for name in HISTORY_COLUMNS if name not in _ADDED_COLUMNS or name in present), "id"]
        with cyclic_gc_paused():  # 10,000 rows and records, no cycle among them
            rows = self.driver.query_rows(f"SELECT {', '.join(names)} FROM {self.table} ORDER BY id")
            if tuple(names) != _FIELD_ORDER:  # a table from an older release: by name
                return [self._record(names, row) for row in rows]
            # Every column, in the record's field order: positional, without a dict per row
            # (status reads the whole history: 10,000 rows and more).
            records = [HistoryRecord(*row) for row in rows]
            if self.dialect == "postgres" and (not records or _is_utc(records[0].started_at)):
                return records  # timestamptz in the default session zone: aware UTC datetimes already
            for record in records:
                record.started_at = self._read_ts(record.started_at)
                record.finished_at = self._read_ts(record.finished_at)
            return records

    def read_steps(self) -> Sequence[StepFacts]:
        """What ``status`` needs of the applied up and down steps, oldest first (on PostgreSQL;
        :meth:`read`'s whole records, every row, on the other dialects: their timestamps need
        converting); empty when the table does not exist."""
        if self.dialect != "postgres":
            return self.read()
        if not self.driver.table_exists(self.driver.history_table):
            return []
        with cyclic_gc_paused():  # 10,000 rows, no cycle among them
            rows = self.driver.query_rows(_STEP_SELECT.format(table=self.table))
            parse = datetime.fromisoformat
            new = tuple.__new__
            try:
                return [new(HistoryStep, (version, direction, "applied", from_version, checksum, parse(at),
                                          os_user, host, db_user))
                        for version, direction, from_version, checksum, at, os_user, host, db_user in rows]
            except ValueError:  # not ISO text (another DateStyle), a year past 9999 or BC: as read() does
                return [HistoryStep(r.version, r.direction, r.outcome, r.from_version, r.checksum, r.applied_at,
                                    r.os_user, r.host, r.db_user) for r in self.read()
                        if r.outcome == "applied" and r.direction in ("up", "down")]

    def _record(self, names: Sequence[str], row: Sequence[Any]) -> HistoryRecord:
        data = dict(zip(names, row, strict=True))
        for key in ("started_at", "finished_at"):
            data[key] = self._read_ts(data[key])
        return HistoryRecord(**data)

    @staticmethod
    def _read_ts(value: Any) -> Any:
        """A stored timestamp as an aware datetime (SQLite keeps text, MySQL naive UTC)."""
        if isinstance(value, str):
            return datetime.fromisoformat(value)
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        if isinstance(value, datetime) and not _is_utc(value):
            return value.astimezone(UTC)  # PostgreSQL's, in the session's time zone
        return value
