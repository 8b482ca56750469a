"""What went wrong in a step, and what it left: the failure report's pieces."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..drivers.base import DbErrorInfo
from ..planner import Step
from ..sql.script import LEADING_NOISE, Script, Statement

_NAME = r'(?:"[^"]+"|[\w$]+)'
_CREATE_INDEX_CONCURRENTLY = re.compile(
    rf"CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>{_NAME}(?:\.{_NAME})?)?",
    re.IGNORECASE)
_REINDEX_CONCURRENTLY = re.compile(r"REINDEX\s+(?:\([^)]*\)\s*)?\w+\s+CONCURRENTLY\b", re.IGNORECASE)


def _leftover_check(statement: Statement, dialect: str) -> str | None:
    """How to check what an interrupted statement that cannot run in a transaction left behind,
    when we know a specific way (PostgreSQL's concurrent index builds)."""
    noise = LEADING_NOISE.match(statement.text)
    text = statement.text[noise.end():] if noise else statement.text
    if dialect != "postgres":
        return None
    match = _CREATE_INDEX_CONCURRENTLY.match(text)
    if match:
        name = match.group("name")
        if name and name.upper() != "ON":
            literal = name.replace("'", "''")
            return (f"check with SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('{literal}'): "
                    f"true means it completed; false means it was interrupted and left an INVALID index, "
                    f"which must be dropped first (DROP INDEX CONCURRENTLY {name}) before it runs again; "
                    "no row means the index was never created")
        return ("check pg_index.indisvalid of the index it builds: an interrupted CREATE INDEX CONCURRENTLY "
                "leaves an INVALID index, which must be dropped first (DROP INDEX CONCURRENTLY) before it "
                "runs again")
    if _REINDEX_CONCURRENTLY.match(text):
        return ("an interrupted REINDEX CONCURRENTLY leaves INVALID indexes named *_ccnew / *_ccold: list them "
                "with SELECT indexrelid::regclass FROM pg_index WHERE NOT indisvalid and drop them first")
    return None


def _may_not_have_completed(statement: Statement, number: int, dialect: str) -> str:
    """What every report says about a statement that was sent but never reported back."""
    first = statement.text.strip().splitlines()[0][:80] if statement.text.strip() else statement.kind
    check = _leftover_check(statement, dialect) or "check in the database whether its change is there"
    return (f"statement {number} (line {statement.line}: {first}) cannot run in a transaction; it was sent "
            f"but never reported back, so it may or may not have completed: {check}")

@dataclass
class _Failure:
    """What went wrong in a step, collected while it is rolled back."""

    step: Step
    script: Script | None
    mode: str
    statement_index: int | None  # 0-based index of the failing statement, None for bookkeeping
    error: DbErrorInfo | None
    settled: int = 0  # statements whose effects are final (statement mode)
    block_start: int | None = None  # first statement of the file's own open transaction
    atomic_steps: int = 0


def _lock_table_full(error: DbErrorInfo | None) -> bool:
    """PostgreSQL's "out of shared memory" that means its lock table is full (SQLSTATE 53200, with
    max_locks_per_transaction in the hint): one transaction holds a lock on every table it creates
    or changes until it ends, and the server has room for max_locks_per_transaction x
    (max_connections + max_prepared_transactions) of them."""
    return error is not None and error.code == "53200" and "max_locks_per_transaction" in (error.hint or "")


def _lock_table_full_hint(failure: _Failure, migrations_run: int) -> str:
    """What to do when the lock table filled up: smaller transactions, or a bigger lock table."""
    raise_it = ("or raise max_locks_per_transaction on the server (ALTER SYSTEM SET "
                "max_locks_per_transaction = ...; it takes effect after a restart)")
    if failure.mode == "atomic":
        batch = max(1, migrations_run // 2)
        return (f"the server's lock table is full: --atomic holds a lock on every table of all "
                f"{failure.atomic_steps} migrations until it commits, and it filled up at migration "
                f"{migrations_run}. Nothing was applied. Apply them in batches: safemigrate up {batch} "
                f"--atomic (repeat until up to date), or run without --atomic (one transaction per "
                f"migration: safemigrate up), {raise_it}")
    name = failure.step.file.path.name if failure.step.file else failure.step.name
    return (f"the server's lock table is full: {name} touches more tables in one transaction than "
            f"the server can lock at once. Split it into several migrations, {raise_it}")


def _caret_lines(text: str, line: int, column: int) -> list[str]:
    lines = text.splitlines()
    if not 1 <= line <= len(lines):
        return []
    source = lines[line - 1].expandtabs(4)
    gutter = f"{line:>5} | "
    return [gutter + source, " " * (len(gutter) - 2) + "| " + " " * max(column - 1, 0) + "^"]

