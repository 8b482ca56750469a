"""Before a rollback: would the down files destroy data that was written after the release applied?

A down migration that drops a table the release created, or a column it added,
also drops whatever the application wrote there since. Every tool warns about it;
none checks. The release marks the moment its migrations were applied
(:func:`mark`), and before running the downs asks, for each table or column a
down file drops:

* on PostgreSQL, exactly: how many rows were written (inserted or updated) after
  the mark, read from each row's ``xmin`` against the transaction id recorded at
  the mark; rows the migration itself inserted (seed data) do not count;
* on MySQL, MariaDB and SQLite, by counting: rows of a table, or non-null values of
  a column, beyond those there at the mark (an update of a value already there is
  not seen: the docs say so).

A drop of a table or column that existed *before* the release is always at risk:
such a down file would destroy data the release did not create.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..drivers.base import Driver

__all__ = ["Mark", "Risk", "data_at_risk", "drop_targets", "mark", "snapshot_columns"]


@dataclass(frozen=True)
class Risk:
    table: str
    column: str | None
    rows: int
    reason: str
    version: int

    def describe(self) -> str:
        what = f"column {self.table}.{self.column}" if self.column else f"table {self.table}"
        return f"migration {self.version}'s down file drops {what}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "table": self.table, "column": self.column, "rows": self.rows,
                "reason": self.reason}


@dataclass(frozen=True)
class Mark:
    """The catalog before the release, and the moment its migrations were applied."""

    before: Mapping[str, frozenset[str]]  # table -> columns, before the release
    at_apply: Mapping[str, frozenset[str]] = field(default_factory=dict)
    txid: int | None = None  # PostgreSQL: txid_current() right after the apply
    counts: Mapping[tuple[str, str | None], int] = field(default_factory=dict)  # elsewhere


# -- the catalog ------------------------------------------------------------------------------

def snapshot_columns(driver: Driver) -> dict[str, frozenset[str]]:
    """Every table of the migration schema and its columns (lower-cased names)."""
    if driver.dialect == "postgres":
        rows = driver.query(
            "SELECT c.relname, a.attname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid "
            "WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') "
            "AND a.attnum > 0 AND NOT a.attisdropped")
    elif driver.dialect == "mysql":
        rows = driver.query("SELECT table_name, column_name FROM information_schema.columns "
                            "WHERE table_schema = DATABASE()")
    else:
        rows = []
        tables = driver.query("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        for (table,) in tables:
            quoted = driver.quote_ident(str(table))
            rows.extend((table, info[1]) for info in driver.query(f"PRAGMA table_info({quoted})"))
    found: dict[str, set[str]] = {}
    for table, column in rows:
        found.setdefault(str(table).lower(), set()).add(str(column).lower())
    return {table: frozenset(columns) for table, columns in found.items()}


# -- what a down file drops -------------------------------------------------------------------

_TEXT_DROP_TABLE = re.compile(r"\bDROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?([^;]+)", re.IGNORECASE)
_TEXT_ALTER = re.compile(r"\bALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?([`\"\w.]+)\s+([^;]+)", re.IGNORECASE)
_TEXT_DROP_COLUMN = re.compile(r"\bDROP\s+(?:COLUMN\s+)?(?:IF\s+EXISTS\s+)?([`\"\w]+)", re.IGNORECASE)
_NOT_COLUMNS = {"constraint", "index", "key", "primary", "foreign", "check", "default", "not", "partition"}


def _bare(name: str) -> str:
    """``public."Users"`` -> ``users``: the table's own name, unquoted, lower-cased."""
    return name.strip().split(".")[-1].strip('`"').lower()


def drop_targets(sql: str, dialect: str) -> list[tuple[str, str | None]]:
    """(table, column or None) for each table or column ``sql`` drops."""
    if dialect == "postgres":
        from .catalog import statement_targets

        parsed = [(_bare(t.table), t.column.lower() if t.column else None)
                  for t in statement_targets(sql) if t.action == "drop" and t.kind in ("table", "column")]
        if parsed or "drop" not in sql.lower():
            return parsed
    found: list[tuple[str, str | None]] = []
    for match in _TEXT_DROP_TABLE.finditer(sql):
        names = re.sub(r"\b(CASCADE|RESTRICT)\b", "", match.group(1), flags=re.IGNORECASE)
        found.extend((_bare(name), None) for name in names.split(",") if name.strip())
    for match in _TEXT_ALTER.finditer(sql):
        table = _bare(match.group(1))
        for clause in match.group(2).split(","):
            drop = _TEXT_DROP_COLUMN.search(clause)
            if drop and drop.group(1).lower() not in _NOT_COLUMNS:
                found.append((table, _bare(drop.group(1))))
    return found


# -- marking and checking ---------------------------------------------------------------------

def mark(driver: Driver, before: Mapping[str, frozenset[str]]) -> Mark:
    """Record the moment the release's migrations were applied (call right after they commit)."""
    at_apply = snapshot_columns(driver)
    if driver.dialect == "postgres":
        # Its own transaction (the driver is in autocommit): every later write has a newer xid.
        rows = driver.query("SELECT txid_current()")
        return Mark(before=before, at_apply=at_apply, txid=int(rows[0][0]))
    counts: dict[tuple[str, str | None], int] = {}
    for table, columns in at_apply.items():
        old = before.get(table)
        if old is None:
            counts[(table, None)] = _count(driver, table, None)
        else:
            for column in columns - old:
                counts[(table, column)] = _count(driver, table, column)
    return Mark(before=before, at_apply=at_apply, counts=counts)


def _count(driver: Driver, table: str, column: str | None) -> int:
    where = f" WHERE {driver.quote_ident(column)} IS NOT NULL" if column else ""
    rows = driver.query(f"SELECT count(*) FROM {driver.quote_ident(table)}{where}")
    return int(rows[0][0])


def _written_since(driver: Driver, table: str, column: str | None, txid: int) -> int:
    """PostgreSQL: rows inserted or updated after ``txid`` (with a non-null ``column`` if given).

    A row's ``xmin`` is the 32-bit id of the transaction that wrote it; compared with the
    mark's id modulo 2^32 the way PostgreSQL compares xids (newer when less than 2^31 ahead).
    Frozen and bootstrap rows (xmin 1 or 2) are old by definition.
    """
    condition = f" AND {driver.quote_ident(column)} IS NOT NULL" if column else ""
    rows = driver.query(
        f"SELECT count(*) FROM {driver.quote_ident(table)} "
        "WHERE xmin::text::bigint > 2 "
        "AND (xmin::text::bigint - %s + 4294967296) %% 4294967296 BETWEEN 1 AND 2147483647"
        f"{condition}", [txid % 4294967296])
    return int(rows[0][0])


def data_at_risk(driver: Driver, downs: Sequence[tuple[int, str]], marked: Mark) -> list[Risk]:
    """For each (version, down SQL) about to run, what it would destroy; [] when nothing."""
    risks: list[Risk] = []
    current = snapshot_columns(driver)
    for version, sql in downs:
        for table, column in drop_targets(sql, driver.dialect):
            if table not in current or (column is not None and column not in current[table]):
                continue  # not there (any more): the down file's IF EXISTS, or a typo it will hit itself
            existed = marked.before.get(table)
            if existed is not None and (column is None or column in existed):
                rows = _count(driver, table, column)
                risks.append(Risk(table, column, rows, "it existed before this release; the down file "
                                  f"would destroy {rows} row(s) the release did not create", version))
                continue
            if marked.txid is not None:
                rows = _written_since(driver, table, column, marked.txid)
                reason = f"{rows} row(s) were written there after the release applied"
            else:
                rows = _count(driver, table, column) - marked.counts.get((table, column), 0)
                reason = f"{rows} more row(s) than when the release applied"
            if rows > 0:
                risks.append(Risk(table, column, rows, reason, version))
    return risks
