"""The three ways to run a step, one class each, sharing one body loop.

* :class:`InTransaction`: the dirty marker, the file's statements, the clean marker and the
  history row in ONE transaction (where the database has transactional DDL);
* :class:`StatementByStatement`: the dirty marker commits first, then each statement commits on
  its own, so that a failure (or a crash) says exactly which statements committed;
* :class:`Atomic`: every step of a plan in one transaction (``up --atomic``).

Each sends its SQL through the run's :class:`SqlRunner`, so a dry run (a recording runner)
goes through the very same code. What a step reports back is returned, never kept on an object.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar, NoReturn, Protocol

from ..drivers.base import DbErrorInfo, Driver, Query, StatementFailed, VersionState
from ..errors import MigrationFailedError, RunInterruptedError
from ..history import HistoryRecord, HistoryTable
from ..planner import Plan, Step
from ..sql.script import Script, Statement
from .results import RunEvents, StepResult
from .runner import _END_KINDS, SqlRunner

if TYPE_CHECKING:
    from .failure import FailureReport, _Failure

# Defining classes costs start-up time (a dataclass about a millisecond): this module's are plain
# classes with __slots__, the failure report's module is imported when a step fails, and the
# protocols below exist for the type checker only.

__all__ = ["Atomic", "InTransaction", "StatementByStatement", "StepContext", "mode_of"]

# Procedures and DO blocks may COMMIT themselves, which PostgreSQL refuses inside a transaction
# block: in statement mode they are announced (like CONCURRENTLY), never wrapped in BEGIN/COMMIT.
# A file the parser could not read is sent whole ("unparsed"): it may hold anything, so it too.
_MAY_COMMIT_ITSELF = {"CallStmt", "DoStmt", "CALL", "unparsed"}


def _ends_block(statement: Statement, *, commit_only: bool) -> bool:
    """True for the statement that ends a file's own transaction block (COMMIT; ROLLBACK too
    unless ``commit_only``); ROLLBACK TO SAVEPOINT does not."""
    kind = statement.kind.upper().replace("_", " ")
    if kind.startswith("ROLLBACK TO"):
        return False
    word = kind.split()[0] if kind else ""
    return word in ("COMMIT", "END") if commit_only else word in _END_KINDS


def mode_of(driver: Driver, script: Script | None) -> str:
    """How a file runs on this database: "transaction" where it can, else "statements"."""
    if not driver.transactional_ddl or driver.statement_mode_everywhere:
        return "statements"
    if script is not None and script.needs_statement_mode:
        return "statements"
    return "transaction"


if TYPE_CHECKING:
    class _NewRecord(Protocol):
        def __call__(self, version: int, direction: str, from_version: int | None, to_version: int | None, *,
                     mode: str, outcome: str, started: datetime, step: Step | None = None,
                     script: Script | None = None) -> HistoryRecord: ...

    class _Report(Protocol):
        def __call__(self, failure: _Failure, current: int | None, stopped: bool,
                     restored: bool = True) -> FailureReport: ...


class StepContext:
    """What the step modes need from the Migrator for one run."""

    __slots__ = ("driver", "events", "history", "history_ready", "interrupted", "new_record",
                 "raise_database_error", "report", "runner")

    def __init__(self, *, driver: Driver, runner: SqlRunner, events: RunEvents, history: HistoryTable,
                 history_ready: bool, new_record: _NewRecord, interrupted: Callable[[], int | None],
                 report: _Report, raise_database_error: Callable[[BaseException, str], None]) -> None:
        self.driver = driver
        self.runner = runner
        self.events = events
        self.history = history
        self.history_ready = history_ready  # the history table may be written (a dry run shows its rows anyway)
        self.new_record = new_record
        self.interrupted = interrupted  # the signal that asked the run to stop, if any
        self.report = report  # the failure report of a step that started at version ``current``
        self.raise_database_error = raise_database_error

    @property
    def records_history(self) -> bool:
        return self.history_ready or self.runner.dry_run

    def check_interrupt(self) -> None:
        if self.interrupted() is not None:
            raise _Stop()

    def stopped(self, exc: BaseException) -> bool:
        return isinstance(exc, _Stop) or self.interrupted() is not None

    def record_failure(self, record: HistoryRecord, report: FailureReport, started: float, stopped: bool) -> None:
        """The failed step's history row, after its transaction was rolled back."""
        if not self.history_ready:
            return
        record.outcome = "interrupted" if stopped else "failed"
        record.finished_at = datetime.now(UTC)
        record.duration_ms = (time.monotonic() - started) * 1000
        record.statements_committed = 0
        record.error = _history_error(report)
        with contextlib.suppress(Exception):
            self.runner.run(*self.history.insert_sql(record))


def _failure(step: Step, script: Script | None, mode: str, statement_index: int | None, error: DbErrorInfo | None,
             *, settled: int = 0, block_start: int | None = None) -> _Failure:
    from .failure import _Failure

    return _Failure(step, script, mode, statement_index, error, settled=settled, block_start=block_start)


def _error(report: FailureReport) -> MigrationFailedError | RunInterruptedError:
    from .failure import failure_error

    return failure_error(report)


def _history_error(report: FailureReport) -> str:
    from .failure import history_error

    return history_error(report)


class _Progress:
    """How far a step's body loop got: what its failure report is made of."""

    __slots__ = ("block_start", "failing", "record", "settled")

    def __init__(self, record: HistoryRecord) -> None:
        self.record = record
        self.failing: int | None = None  # 0-based index of the statement being sent (None: our own SQL)
        self.settled = 0  # statements whose effects are final (statement mode)
        self.block_start: int | None = None  # first statement of the file's own open transaction


class _StepMode:
    """One way to run a step; subclasses say how each statement is sent."""

    mode: ClassVar[str]

    def __init__(self, context: StepContext) -> None:
        self.context = context
        self.runner = context.runner
        self.driver = context.driver

    def _body(self, step: Step, statements: Sequence[Statement], progress: _Progress) -> None:
        """The loop every mode shares: stop at a signal, announce, send."""
        for index, statement in enumerate(statements):
            self.context.check_interrupt()
            progress.failing = index
            self.context.events.statement_started(step, statement, index, len(statements))
            self._send(statement, index, progress)
        progress.failing = None

    def _send(self, statement: Statement, index: int, progress: _Progress) -> None:
        self.runner.run_statement(statement)

    def _record(self, step: Step, script: Script | None, current: int | None, outcome: str) -> HistoryRecord:
        return self.context.new_record(step.version, step.direction, current, step.target,
                                       mode=self.mode, outcome=outcome, started=datetime.now(UTC), step=step,
                                       script=script)


class TransactionOutcome:
    """What :meth:`InTransaction.run` did: its result, and whether its last round trip also
    opened the next step's transaction."""

    __slots__ = ("next_opened", "result")

    def __init__(self, result: StepResult, next_opened: bool) -> None:
        self.result = result
        self.next_opened = next_opened


class InTransaction(_StepMode):
    """One migration in one transaction: dirty marker, statements, clean marker, history row."""

    mode = "transaction"

    def run(self, step: Step, script: Script | None, current: int | None, *, opened: bool = False,
            chain: Step | None = None) -> TransactionOutcome:
        """``opened``: the previous step's last round trip already began this transaction and
        marked it dirty. ``chain``: end with one round trip that commits this step and opens
        ``chain``'s."""
        started = time.monotonic()
        statements = script.statements if script else ()
        target = step.target
        progress = _Progress(self._record(step, script, current, "applied"))
        record = progress.record
        next_opened = False
        try:
            if not opened:
                self.runner.run_batch([*self.driver.set_version_sql(target, True),
                                       *self.driver.enter_migration_sql()], begin=True)
            self._body(step, statements, progress)
            self.context.check_interrupt()
            record.finished_at = datetime.now(UTC)
            record.duration_ms = (time.monotonic() - started) * 1000
            record.statements_committed = len(statements)
            closing = [*self.driver.leave_migration_sql(),
                       *self.driver.set_version_sql(target, False)]
            if self.context.records_history:
                closing.append(self.context.history.insert_sql(record))
            if chain is None:
                self.runner.run_batch(closing, commit=True)
            else:
                next_opened = self._commit_and_open(target, closing, chain)
        except BaseException as exc:
            info = self.driver.describe_error(exc)
            stopped = self.context.stopped(exc)
            self.runner.rollback_quietly()
            if info is None and not stopped:
                raise
            if progress.failing is None and not stopped:
                # Our own SQL failed (the version or history table), not the migration's.
                error = self.driver.bookkeeping_error(exc)
                if error is not None:
                    raise error from None
            report = self.context.report(_failure(step, script, self.mode, progress.failing, info), current,
                                         stopped)
            self.context.record_failure(record, report, started, stopped)
            raise _error(report) from None
        return TransactionOutcome(StepResult(step, self.mode, time.monotonic() - started, len(statements), current),
                                  next_opened)

    def _commit_and_open(self, target: int | None, closing: Sequence[Query], chain: Step) -> bool:
        """Commit the step that goes to ``target`` and open ``chain``'s transaction (dirty marker included) in one round
        trip; True when that happened.

        If that round trip fails, the version table tells which half failed: showing ``target``
        clean means the commit happened and only the opening of ``chain`` failed; then
        False, and ``chain`` simply opens its own transaction.
        """
        try:
            self.runner.run_batch(closing, commit=True,
                                  then_begin=[*self.driver.set_version_sql(chain.target, True),
                                              *self.driver.enter_migration_sql()])
        except BaseException as exc:
            if self.driver.describe_error(exc) is None:
                raise
            self.runner.rollback_quietly()
            try:
                committed = self.driver.read_version() == VersionState(target, False)
            except Exception:
                raise exc from None
            if not committed:
                raise
            return False
        return True


class StatementByStatement(_StepMode):
    """A file that cannot run in a transaction: the dirty marker commits first, then each
    statement commits on its own (the file's own BEGIN ... COMMIT blocks are honoured)."""

    mode = "statements"

    def run(self, step: Step, script: Script | None, current: int | None) -> StepResult:
        started = time.monotonic()
        statements = script.statements if script else ()
        target = step.target
        progress = _Progress(self._record(step, script, current, "running"))
        record = progress.record
        history = self.context.records_history
        # 1. The dirty marker (and a "running" history row) commit before anything runs.
        try:
            opening = self.driver.set_version_sql(target, True)
            if history:
                opening.append(self.context.history.insert_sql(record))
            self.runner.run_batch(opening, begin=True, commit=True)
        except BaseException as exc:
            self.runner.rollback_quietly()
            self.context.raise_database_error(exc, f"mark version {step.target} dirty")
        # 2. Each statement on its own.
        try:
            self._body(step, statements, progress)
            if self.runner.in_transaction():
                raise _UnclosedTransaction(progress.block_start)
            self.context.check_interrupt()
        except BaseException as exc:
            self._fail(exc, step, script, current, progress, started)
        # 3. The clean marker and the history row commit together.
        try:
            closing = self.driver.set_version_sql(target, False)
            if history:
                closing.append(self.context.history.update_sql(
                    record.run_id, outcome="applied", finished_at=datetime.now(UTC),
                    duration_ms=(time.monotonic() - started) * 1000,
                    statements_committed=len(statements)))
            self.runner.run_batch(closing, begin=True, commit=True)
        except BaseException as exc:
            self.runner.rollback_quietly()
            self.context.raise_database_error(exc, f"mark version {step.target} clean")
        return StepResult(step, self.mode, time.monotonic() - started, len(statements), current)

    def _send(self, statement: Statement, index: int, progress: _Progress) -> None:
        in_block = self.runner.in_transaction()
        self._send_settled(progress.record.run_id, statement, index, in_block=in_block)
        if self.runner.in_transaction():
            if progress.block_start is None:
                progress.block_start = index
        else:
            progress.block_start = None
            progress.settled = index + 1

    def _fail(self, exc: BaseException, step: Step, script: Script | None, current: int | None,
              progress: _Progress, started: float) -> NoReturn:
        """Roll back what is open, write down what committed, raise the failure report."""
        statements = script.statements if script else ()
        info = self.driver.describe_error(exc)
        stopped = self.context.stopped(exc)
        failing = progress.failing
        if isinstance(exc, _UnclosedTransaction):
            start_stmt = statements[exc.block_start] if exc.block_start is not None else None
            info = DbErrorInfo(
                message="the file opened a transaction and did not end it"
                + (f" (BEGIN at line {start_stmt.line})" if start_stmt else "")
                + "; it was rolled back"
            )
            failing = exc.block_start
        elif info is None and not stopped:
            self.runner.rollback_quietly()
            raise exc
        failure = _failure(step, script, self.mode, failing, info, settled=progress.settled,
                           block_start=progress.block_start)
        self.runner.rollback_quietly()
        with contextlib.suppress(Exception):
            self.runner.run_all(self.driver.leave_migration_sql())
        restore = progress.settled == 0 and (
            failing is None or failing >= len(statements) or statements[failing].transactional
        )
        report = self.context.report(failure, current, stopped, restored=restore)
        self._write_failure(progress.record, report, started, stopped, restore, current)
        raise _error(report) from None

    def _write_failure(self, record: HistoryRecord, report: FailureReport, started: float, stopped: bool,
                       restore: bool, current: int | None) -> None:
        """The history row's outcome, and the previous clean version when nothing committed."""
        with contextlib.suppress(Exception):
            self.runner.begin()
            if restore:
                # Nothing committed: going back to the previous clean version is exactly true.
                self.runner.run_all(self.driver.set_version_sql(current, False))
            if self.context.history_ready:
                self.runner.run(*self.context.history.update_sql(
                    record.run_id, outcome="interrupted" if stopped else "failed",
                    finished_at=datetime.now(UTC), duration_ms=(time.monotonic() - started) * 1000,
                    statements_committed=report.statements_committed, error=_history_error(report)))
            self.runner.commit()

    def _send_settled(self, run_id: str, statement: Statement, index: int, *, in_block: bool) -> None:
        """Send one statement so that a crash at any moment leaves a history that tells the
        truth about it.

        * a statement that can run in a transaction commits in ONE transaction with the history's
          ``statements_committed`` (BEGIN; statement; UPDATE history; COMMIT): both or neither;
        * one that cannot (CREATE INDEX CONCURRENTLY, VACUUM, MySQL DDL; CALL and DO, which may
          COMMIT themselves) is announced first:
          ``statement_started`` commits BEFORE it is sent and is cleared after it completed, so
          after a crash the history says that this statement may or may not have completed;
        * inside the file's own transaction block the history update joins that block just
          before its COMMIT.
        """
        runner, history = self.runner, self.context.history
        enter, leave = self.driver.enter_migration_sql, self.driver.leave_migration_sql
        done = index + 1
        if not self.context.records_history:
            runner.run_all(enter())
            runner.run_statement(statement)
            runner.run_all(leave())
            return
        if in_block:
            closes = statement.transaction_control and _ends_block(statement, commit_only=True)
            if closes:
                runner.run_batch([*leave(), history.update_sql(run_id, statements_committed=done), *enter()])
            runner.run_statement(statement)
            if not runner.in_transaction():
                runner.run_batch([*leave()] + (
                    [] if closes else [history.update_sql(run_id, statements_committed=done)]))
            return
        if statement.transaction_control:
            # Opens the file's own block (or is a stray COMMIT/SET autocommit): sent as it is.
            runner.run_all(enter())
            runner.run_statement(statement)
            if not runner.in_transaction():
                runner.run_batch([*leave(), history.update_sql(run_id, statements_committed=done)])
            return
        if statement.transactional and statement.kind not in _MAY_COMMIT_ITSELF:
            runner.run_batch(enter(), begin=True)
            runner.run_statement(statement)
            runner.run_batch([*leave(), history.update_sql(run_id, statements_committed=done)], commit=True)
            return
        runner.run_batch([history.update_sql(run_id, statement_started=done), *enter()])
        runner.run_statement(statement)
        runner.run_batch([*leave(), history.update_sql(run_id, statements_committed=done, statement_started=None)])


class Atomic(_StepMode):
    """Every step of a plan in ONE transaction (``up --atomic``).

    The version row is written twice for the whole run (dirty at the start, clean at the end):
    per-step writes would be invisible to every other session anyway, and leave a dead row per
    migration for each later write to scan."""

    mode = "atomic"

    def run(self, plan: Plan, scripts: Sequence[Script | None],
            on_step: Callable[[], None] | None = None) -> list[StepResult]:
        runner = self.runner
        results: list[StepResult] = []
        history: list[HistoryRecord] = []
        current = plan.start
        total = len(plan.steps)
        final = plan.end
        try:
            runner.run_batch([*self.driver.set_version_sql(final, True), *self.driver.enter_migration_sql()],
                             begin=True)
            if not runner.dry_run and all(script is None or script.parsed for script in scripts):
                results = self._pipelined(plan, scripts, history)
            else:
                for index, (step, script) in enumerate(zip(plan.steps, scripts, strict=True)):
                    if on_step is not None:
                        on_step()
                    if not runner.dry_run:
                        self.context.events.step_started(step, index, total, self.mode)
                    result = self._one(step, script, current, history)
                    results.append(result)
                    current = result.to_version
            closing = [*self.driver.leave_migration_sql(), *self.driver.set_version_sql(final, False)]
            if self.context.records_history and history:
                closing.append(self.context.history.insert_sql(*history))
            runner.run_batch(closing, commit=True)
        except _AtomicFailure as failed:
            runner.rollback_quietly()
            failed.failure.atomic_steps = total
            report = self.context.report(failed.failure, plan.start, failed.stopped)
            self.context.record_failure(failed.progress.record, report, failed.started, failed.stopped)
            raise _error(report) from None
        except BaseException as exc:
            runner.rollback_quietly()
            if self.driver.describe_error(exc) is not None:
                self.context.raise_database_error(exc, "commit the --atomic transaction")
            raise
        if not runner.dry_run:
            for result in results:
                self.context.events.step_finished(result)
        return results

    def _one(self, step: Step, script: Script | None, current: int | None,
             history: list[HistoryRecord]) -> StepResult:
        """One step's statements inside the run's transaction; its history row is kept for the end."""
        started = time.monotonic()
        statements = script.statements if script else ()
        progress = _Progress(self._record(step, script, current, "applied"))
        try:
            self._body(step, statements, progress)
            self.context.check_interrupt()
        except BaseException as exc:
            info = self.driver.describe_error(exc)
            stopped = self.context.stopped(exc)
            if info is None and not stopped:
                raise
            failure = _failure(step, script, self.mode, progress.failing, info)
            raise _AtomicFailure(failure, progress, started, stopped) from None
        record = progress.record
        record.finished_at = datetime.now(UTC)
        record.duration_ms = (time.monotonic() - started) * 1000
        record.statements_committed = len(statements)
        history.append(record)
        return StepResult(step, self.mode, time.monotonic() - started, len(statements), current)

    def _pipelined(self, plan: Plan, scripts: Sequence[Script | None],
                   history: list[HistoryRecord]) -> list[StepResult]:
        """The statements of every step sent as one list (pipelined on PostgreSQL): the client
        prepares the next statement while the server runs the previous one. A failure still
        names its statement; per-step times are not measurable, so each step records the run's."""
        started_wall = datetime.now(UTC)
        started = time.monotonic()
        where = [(i, j) for i, script in enumerate(scripts) if script for j in range(len(script.statements))]
        texts = [scripts[i].statements[j].text for i, j in where]  # type: ignore[union-attr]
        previous_versions = [plan.start, *[s.target for s in plan.steps[:-1]]]
        records = [self.context.new_record(step.version, step.direction, previous, step.target,
                                           mode=self.mode, outcome="applied", started=started_wall, step=step,
                                           script=script)
                   for step, script, previous in zip(plan.steps, scripts, previous_versions, strict=True)]
        if self.context.interrupted() is not None:
            # Stopped before the first statement was sent: reported as the step-by-step loop does.
            raise _AtomicFailure(_failure(plan.steps[0], scripts[0], self.mode, None, None), _Progress(records[0]),
                                 started, True)
        for index, step in enumerate(plan.steps):
            self.context.events.step_started(step, index, len(plan.steps), self.mode)
        try:
            self.runner.run_statements(texts)
        except StatementFailed as failed:
            step_index, statement_index = where[failed.index]
            failure = _failure(plan.steps[step_index], scripts[step_index], self.mode, statement_index,
                               self.driver.describe_error(failed.error))
            raise _AtomicFailure(failure, _Progress(records[step_index]), started,
                                 self.context.interrupted() is not None) from None
        elapsed = time.monotonic() - started
        finished = datetime.now(UTC)
        results: list[StepResult] = []
        for step, script, record, previous in zip(plan.steps, scripts, records, previous_versions,
                                                  strict=True):
            record.finished_at = finished
            record.duration_ms = elapsed * 1000
            record.statements_committed = len(script.statements) if script else 0
            history.append(record)
            results.append(StepResult(step, self.mode, elapsed, record.statements_committed, previous))
        return results


class _Stop(Exception):
    """Raised inside a step when a signal asked the run to stop."""


class _UnclosedTransaction(Exception):
    def __init__(self, block_start: int | None) -> None:
        super().__init__("unclosed transaction")
        self.block_start = block_start


class _AtomicFailure(Exception):
    """A step inside --atomic failed: the run's transaction is rolled back by :class:`Atomic`."""

    def __init__(self, failure: _Failure, progress: _Progress, started: float, stopped: bool) -> None:
        super().__init__("atomic step failed")
        self.failure = failure
        self.progress = progress
        self.started = started
        self.stopped = stopped
