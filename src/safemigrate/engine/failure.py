"""The failure report of a step, as data, and the one function that words it.

:func:`build_report` collects what a failed step left (where it failed, what committed, the
version it left, what to do next) into a :class:`FailureReport`: plain, frozen data, no text.
:func:`render` words it (the message, the hint and the report lines the CLI prints under the
message), a pure function of the report; :func:`failure_error` makes the exception, which
carries the report and renders its lines when they are asked for.
"""

from __future__ import annotations

import bisect
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from ..drivers.base import DbErrorInfo, VersionState
from ..errors import MigrationFailedError, RunInterruptedError
from ..planner import Step
from ..sql.script import LEADING_NOISE, LineIndex, Script, Statement

__all__ = ["FailureReport", "Leftover", "Location", "build_report", "failure_error", "history_error", "render"]

_NAME = r'(?:"[^"]+"|[\w$]+)'
_CREATE_INDEX_CONCURRENTLY = re.compile(
    rf"CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>{_NAME}(?:\.{_NAME})?)?",
    re.IGNORECASE)
_REINDEX_CONCURRENTLY = re.compile(r"REINDEX\s+(?:\([^)]*\)\s*)?\w+\s+CONCURRENTLY\b", re.IGNORECASE)


# -- what an interrupted statement that cannot run in a transaction may have left -------------


@dataclass(frozen=True)
class Leftover:
    """A statement that cannot run in a transaction and, interrupted, leaves something behind
    that we know how to check (PostgreSQL's concurrent index builds)."""

    kind: Literal["create_index_concurrently", "reindex_concurrently"]
    index: str | None = None  # the index CREATE INDEX CONCURRENTLY builds, when it names it


def leftover_of(statement: Statement, dialect: str) -> Leftover | None:
    noise = LEADING_NOISE.match(statement.text)
    text = statement.text[noise.end():] if noise else statement.text
    if dialect != "postgres":
        return None
    match = _CREATE_INDEX_CONCURRENTLY.match(text)
    if match:
        name = match.group("name")
        return Leftover("create_index_concurrently", name if name and name.upper() != "ON" else None)
    if _REINDEX_CONCURRENTLY.match(text):
        return Leftover("reindex_concurrently")
    return None


def describe_leftover(leftover: Leftover) -> str:
    """How to check what the interrupted statement left behind."""
    if leftover.kind == "reindex_concurrently":
        return ("an interrupted REINDEX CONCURRENTLY leaves INVALID indexes named *_ccnew / *_ccold: list them "
                "with SELECT indexrelid::regclass FROM pg_index WHERE NOT indisvalid and drop them first")
    name = leftover.index
    if name is not None:
        literal = name.replace("'", "''")
        return (f"check with SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('{literal}'): "
                f"true means it completed; false means it was interrupted and left an INVALID index, "
                f"which must be dropped first (DROP INDEX CONCURRENTLY {name}) before it runs again; "
                "no row means the index was never created")
    return ("check pg_index.indisvalid of the index it builds: an interrupted CREATE INDEX CONCURRENTLY "
            "leaves an INVALID index, which must be dropped first (DROP INDEX CONCURRENTLY) before it "
            "runs again")


def _leftover_check(statement: Statement, dialect: str) -> str | None:
    """How to check what an interrupted statement that cannot run in a transaction left behind,
    when we know a specific way."""
    leftover = leftover_of(statement, dialect)
    return None if leftover is None else describe_leftover(leftover)


def _may_not_have_completed(statement: Statement, number: int, dialect: str) -> str:
    """What every report says about a statement that was sent but never reported back."""
    first = statement.text.strip().splitlines()[0][:80] if statement.text.strip() else statement.kind
    check = _leftover_check(statement, dialect) or "check in the database whether its change is there"
    return (f"statement {number} (line {statement.line}: {first}) cannot run in a transaction; it was sent "
            f"but never reported back, so it may or may not have completed: {check}")


# -- the report ---------------------------------------------------------------------------------


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



@dataclass(frozen=True)
class Location:
    """Where in the file the failure is (1-based), and that line of the file for the caret."""

    line: int
    column: int
    source: str | None  # the file's text of ``line``; None when the line is outside the file


HintKind = Literal[
    "fix_then_up_atomic",  # fix the file, run up --atomic again
    "fix_then_up",  # fix the file, run up again
    "fix_then_same_command",  # fix the file, run the same command again
    "force_by_hand",  # dirty: undo or finish the committed statements by hand, then force
    "run_again",  # interrupted with nothing changed: run the same command again
    "lock_table_full",  # PostgreSQL's lock table filled up: smaller transactions or a bigger table
]


@dataclass(frozen=True)
class FailureReport:
    """What a failed (or interrupted) step left: data only; :func:`render` words it."""

    version: int
    name: str
    direction: str
    file: str | None
    mode: str  # "transaction", "statements" or "atomic"
    location: Location | None
    statement_number: int | None  # 1-based; None: our own SQL failed, or the step stopped after its last
    statements_total: int
    database_error: DbErrorInfo | None
    stopped: bool  # a signal stopped the step (then ``signal`` is set when the signal came first)
    signal: int | None
    statements_committed: int  # statement mode: the statements whose effects are final
    committed_lines: tuple[int, int] | None  # first and last line of the committed statements
    own_transaction_line: int | None  # statement mode: the BEGIN of the file's block that was rolled back
    statements_not_run: int  # statements after the failing one
    leftover: Leftover | None  # the failing statement cannot run in a transaction and may leave this
    atomic_steps: int  # --atomic: the migrations of the run
    version_before: int | None
    version_after: VersionState
    hint_kind: HintKind
    migrations_reached: int  # lock table full: the failing step is the n-th of the run

    @property
    def lock_table_full(self) -> bool:
        return self.hint_kind == "lock_table_full"

    def lines(self) -> list[str]:
        return render(self).lines

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RenderedFailure:
    message: str
    hint: str
    lines: list[str]


def _lock_table_full(error: DbErrorInfo | None) -> bool:
    """PostgreSQL's "out of shared memory" that means its lock table is full (SQLSTATE 53200, with
    max_locks_per_transaction in the hint): one transaction holds a lock on every table it creates
    or changes until it ends, and the server has room for max_locks_per_transaction x
    (max_connections + max_prepared_transactions) of them."""
    return error is not None and error.code == "53200" and "max_locks_per_transaction" in (error.hint or "")


def _location(failure: _Failure) -> Location | None:
    if failure.script is None or failure.statement_index is None:
        return None
    if failure.statement_index >= len(failure.script.statements):
        return None
    text = failure.script.text
    statement = failure.script.statements[failure.statement_index]
    position = failure.error.position if failure.error else None
    if position:
        offset = statement.start + position - 1
        line, column = LineIndex(text).position(min(offset, len(text)))
    else:
        line, column = statement.line, statement.column
    lines = text.splitlines()
    return Location(line, column, lines[line - 1] if 1 <= line <= len(lines) else None)


def build_report(failure: _Failure, *, current: int | None, stopped: bool, signal: int | None, dialect: str,
                 versions: Sequence[int], restored: bool = True) -> FailureReport:
    """The report of ``failure``, the step having started at version ``current``; ``restored``:
    (statement mode) the version table was set back to ``current``, clean."""
    step = failure.step
    statements = failure.script.statements if failure.script else ()
    index = failure.statement_index
    before = VersionState(current, False)
    committed_lines = own_line = leftover = None
    not_run = 0
    hint: HintKind
    if failure.mode == "atomic":
        after, hint = before, "fix_then_up_atomic"
    elif failure.mode == "transaction":
        after, hint = before, "fix_then_up" if step.direction == "up" else "fix_then_same_command"
    else:
        if failure.settled:
            committed_lines = (statements[0].line, statements[failure.settled - 1].end_line)
        if failure.block_start is not None and failure.block_start < len(statements):
            own_line = statements[failure.block_start].line
        if index is not None:
            not_run = max(len(statements) - index - 1, 0)
            if index < len(statements) and not statements[index].transactional:
                leftover = leftover_of(statements[index], dialect)
        if restored:
            after, hint = before, "fix_then_same_command"
        else:
            after, hint = VersionState(step.target, True), "force_by_hand"
    reached = 0
    if stopped:
        hint = "run_again" if after == before else hint
    elif _lock_table_full(failure.error):
        hint = "lock_table_full"
        # The failing step is the n-th after ``current``.
        reached = bisect.bisect_right(versions, step.version) - (
            0 if current is None else bisect.bisect_right(versions, current))
    return FailureReport(
        version=step.version, name=step.name, direction=step.direction,
        file=str(step.file.path) if step.file else None, mode=failure.mode, location=_location(failure),
        statement_number=index + 1 if index is not None else None, statements_total=len(statements),
        database_error=failure.error, stopped=stopped, signal=signal,
        statements_committed=failure.settled, committed_lines=committed_lines,
        own_transaction_line=own_line, statements_not_run=not_run, leftover=leftover,
        atomic_steps=failure.atomic_steps, version_before=before.version, version_after=after,
        hint_kind=hint, migrations_reached=reached)


# -- the words ----------------------------------------------------------------------------------


def render(report: FailureReport) -> RenderedFailure:
    """The message, the hint and the report lines of ``report``."""
    migration = f"{report.version}/{'u' if report.direction == 'up' else 'd'} {report.name}"
    location = report.location
    where = report.file or migration
    if location:
        where += f":{location.line}:{location.column}"
    error = report.database_error
    if report.stopped:
        message = f"migration {migration} interrupted at {where}"
    else:
        message = f"migration {migration} failed at {where}: {error.message if error else 'failed'}"
        if report.lock_table_full:
            message += " (the server's lock table is full: max_locks_per_transaction)"
    lines: list[str] = []
    if location:
        number, total = report.statement_number, report.statements_total
        lines.append(f"  file:      {report.file}, line {location.line}, column {location.column}"
                     + (f" (statement {number} of {total})" if number is not None and number <= total else ""))
        lines.extend("  " + line for line in _caret_lines(location))
    if error is not None and not (report.stopped and report.signal):
        code = f" {error.code}" if error.code else ""
        lines.append(f"  database:  ERROR{code}: {error.message}")
        if error.detail:
            lines.append(f"  detail:    {error.detail}")
        if error.hint:
            lines.append(f"  db hint:   {error.hint}")
    lines.append(f"  committed: {_committed(report)}")
    lines.append(f"  version:   {report.version_after.describe()}")
    return RenderedFailure(message, _hint(report), lines)


def _caret_lines(location: Location) -> list[str]:
    if location.source is None:
        return []
    gutter = f"{location.line:>5} | "
    return [gutter + location.source.expandtabs(4),
            " " * (len(gutter) - 2) + "| " + " " * max(location.column - 1, 0) + "^"]


def _committed(report: FailureReport) -> str:
    if report.mode == "atomic":
        return (f"nothing: the atomic run put all {report.atomic_steps} migrations in one transaction, "
                "which was rolled back")
    if report.mode == "transaction":
        return "nothing: the migration ran in one transaction, which was rolled back"
    settled = report.statements_committed
    if report.committed_lines is None:
        committed = "nothing"
    else:
        first, last = report.committed_lines
        committed = (f"statements 1-{settled} of {report.statements_total} (lines {first}-"
                     f"{last}) were committed before the failure")
    if report.own_transaction_line is not None:
        committed += f"; the file's own transaction from line {report.own_transaction_line} was rolled back"
    if report.statements_not_run > 0:
        committed += f"; {report.statements_not_run} statement(s) after the failing one did not run"
    if report.leftover is not None:
        committed += (f"; statement {report.statement_number} cannot run in a transaction: "
                      f"{describe_leftover(report.leftover)}")
    return committed


def _hint(report: FailureReport) -> str:
    name = os.path.basename(report.file) if report.file else report.name
    kind = report.hint_kind
    if kind == "fix_then_up_atomic":
        return f"fix {name}, then run: safemigrate up --atomic"
    if kind == "fix_then_up":
        return f"fix {name}, then run: safemigrate up"
    if kind == "fix_then_same_command":
        return f"fix {name}, then run the same command again"
    if kind == "run_again":
        return "run the same command again to continue"
    if kind == "force_by_hand":
        dirty = report.version_after.as_int
        previous = VersionState(report.version_before).as_int  # the CLI's spelling: force -1
        return (f"the database is dirty at version {dirty}: inspect what the committed statements "
                f"changed, then either undo them by hand and run: safemigrate force {previous}, or "
                f"finish the migration by hand and run: safemigrate force {dirty}")
    return _lock_table_full_hint(report, name)


def _lock_table_full_hint(report: FailureReport, name: str) -> str:
    """What to do when the lock table filled up: smaller transactions, or a bigger lock table."""
    raise_it = ("or raise max_locks_per_transaction on the server (ALTER SYSTEM SET "
                "max_locks_per_transaction = ...; it takes effect after a restart)")
    if report.mode == "atomic":
        reached = report.migrations_reached
        batch = max(1, reached // 2)
        return (f"the server's lock table is full: an atomic run holds a lock on every table of all "
                f"{report.atomic_steps} migrations until it commits, and it filled up at migration "
                f"{reached}. Nothing was applied. Apply them in batches: safemigrate up {batch} "
                f"--atomic (repeat until up to date), or one transaction per migration: safemigrate up, "
                f"{raise_it}")
    return (f"the server's lock table is full: {name} touches more tables in one transaction than "
            f"the server can lock at once. Split it into several migrations, {raise_it}")


def history_error(report: FailureReport) -> str:
    """The history row's ``error``: the database's error and where, or "interrupted"."""
    error = report.database_error
    if error is None:
        return "interrupted"
    text = f"{error.code}: {error.message}" if error.code else error.message
    if report.location is not None:
        text += f" (line {report.location.line}, column {report.location.column})"
    return text


def _details(report: FailureReport) -> dict[str, Any]:
    """The report's fields as the JSON error has always had them."""
    error, location, after = report.database_error, report.location, report.version_after
    return {
        "version": report.version,
        "name": report.name,
        "direction": report.direction,
        "file": report.file,
        "line": location.line if location else None,
        "column": location.column if location else None,
        "statement_index": report.statement_number,
        "statements_total": report.statements_total,
        "mode": report.mode,
        "database_error": error.__dict__ if error else None,
        "statements_committed": report.statements_committed if report.mode == "statements" else 0,
        "version_after": {"version": after.version, "dirty": after.dirty},
    }


def failure_error(report: FailureReport) -> MigrationFailedError | RunInterruptedError:
    """The exception for ``report``: it carries the report; its message and hint are rendered."""
    text = render(report)
    if report.stopped:
        return RunInterruptedError(text.message, signal_number=report.signal or 2, hint=text.hint,
                                   details=_details(report), report=report)
    return MigrationFailedError(text.message, hint=text.hint, details=_details(report), report=report)
