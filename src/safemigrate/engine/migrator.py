"""The Migrator: the lock, the dirty protocol, the step modes, apply(plan), force and drop."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .._version import __version__
from ..config import DEFAULT_LOCK_TIMEOUT
from ..drivers.base import (
    MAX_VERSION,
    Driver,
    Query,
    TableName,
    VersionState,
    check_lock_timeout,
    local_identity,
)
from ..errors import (
    DatabaseError,
    DirtyDatabaseError,
    LockTimeoutError,
    PlanChangedError,
    RunInterruptedError,
    SafemigrateError,
    UsageError,
)
from ..history import HistoryRecord, HistoryTable, StepFacts, new_run_id
from ..planner import Plan, Step, plan_down, plan_goto, plan_up
from ..source import MigrationSource
from ..sql.script import Script, Statement, refuse_unrunnable
from .results import PlannedStep, RunEvents, RunResult, StepResult
from .runner import SqlRunner, _own

if TYPE_CHECKING:
    from ..events import EventSink
    from ..status import StatusReport
    from .failure import FailureReport, _Failure
    from .steps import StepContext

# The step modes and the failure report are imported where a step runs or fails: `up` with
# nothing pending loads neither.

__all__ = ["Migrator"]


class Migrator:
    """Applies a folder of migrations to one database. Use as a context manager (connects/closes).

    ``events``: the sink (:mod:`safemigrate.events`) of its warnings, steps and statements.
    """

    def __init__(
        self,
        source: MigrationSource,
        driver: Driver,
        *,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        events: EventSink | None = None,
        history: bool = True,
        tool_version: str = __version__,
        pre_apply_check: Callable[[Sequence[Step]], None] | None = None,
    ) -> None:
        self.source = source
        self.driver = driver
        self.lock_timeout = check_lock_timeout(lock_timeout)
        driver.lock_wait_timeout = self.lock_timeout  # bounds our waits on the version/history tables
        self.events = RunEvents(events, driver)
        self.history_enabled = history
        self.tool_version = tool_version
        self.pre_apply_check = pre_apply_check
        self._interrupted: int | None = None
        self._history: HistoryTable | None = None
        self._identity = local_identity()

    # -- lifecycle ------------------------------------------------------------------------------
    def __enter__(self) -> Migrator:
        self.driver.connect()
        self._history = HistoryTable(self.driver)
        for warning in self.source.warnings:
            self.events.warning(str(warning))
        return self

    def __exit__(self, *exc: object) -> None:
        self.driver.close()

    @property
    def history(self) -> HistoryTable:
        if self._history is None:
            self._history = HistoryTable(self.driver)
        return self._history

    def interrupt(self, signal_number: int) -> None:
        """Called from a signal handler: stop at the next safe point and cancel what is running."""
        first = self._interrupted is None
        self._interrupted = signal_number
        if first:
            self.driver.cancel()

    # -- reading ---------------------------------------------------------------------------------
    def version(self) -> VersionState:
        """The version table's state; read-only (a missing table means no version)."""
        return self.driver.read_version()

    def read_history(self) -> list[HistoryRecord]:
        return self.history.read()

    def status(self) -> StatusReport:
        """Every file against the version table and the history; read-only."""
        from ..status import Problem, build_status  # here: `up` and the other moves never need it

        try:
            state = self.driver.read_version()
        except DatabaseError as exc:
            raise self._read_privilege_error(self.driver.version_table, "status") or exc from None
        available = self.driver.table_exists(self.driver.history_table)
        history: Sequence[StepFacts] = []
        records: list[HistoryRecord] = []  # whole records: only a dirty database's last step needs them
        unreadable: SafemigrateError | None = None
        if available:
            try:
                if state.dirty:
                    history = records = self.history.read()
                else:
                    history = self.history.read_steps()
            except Exception as exc:
                if self.driver.describe_error(exc) is None:
                    raise
                error = self.driver.bookkeeping_error(exc)
                if isinstance(error, LockTimeoutError):
                    raise error from None
                unreadable = self._read_privilege_error(self.driver.history_table, "status") or error
                if unreadable is None:
                    raise
                available = False
        report = build_status(self.source, state, history, database=self.driver.url.redacted(),
                              history_available=available)
        if state.dirty and records:
            self._note_unsettled_statement(report, records[-1])
        if unreadable is not None:
            # Never "no history yet" when the history exists but cannot be read.
            report.history_error = unreadable.message
            report.problems.append(Problem("history-unreadable", unreadable.message + "; applied times, "
                                           "authors and edited files cannot be shown", unreadable.hint or "",
                                           fails_check=False))
        return report

    def _note_unsettled_statement(self, report: StatusReport, last: HistoryRecord) -> None:
        """A dirty database whose last step stopped inside a statement that cannot run in a
        transaction: the dirty problem says that statement may or may not have completed."""
        from ..status import Problem

        if last.outcome not in ("running", "failed", "interrupted"):
            return
        unsettled = self._unsettled_statement(last)
        if unsettled is None:
            return
        report.problems = [
            Problem(p.code, f"{p.message}; {unsettled}", p.hint, p.version, p.fails_check)
            if p.code == "dirty" else p for p in report.problems
        ]

    def _read_privilege_error(self, table: TableName, command: str) -> SafemigrateError | None:
        """Which privilege a read-only command lacks on one of our tables, with the GRANT to run."""
        try:
            missing = self.driver.missing_privileges(table, ("SELECT",))
        except Exception:
            return None
        if not missing:
            return None
        name = self.driver.qualified(table)
        user = self.driver.current_user
        return DatabaseError(
            f"{command} cannot read {name}: role {user} lacks the SELECT privilege on it",
            hint=f"ask the table's owner to run: GRANT SELECT ON {name} TO {user}",
            details={"table": name, "missing_privileges": missing},
        )

    # -- moving ------------------------------------------------------------------------------------
    def up(self, limit: int | None = None, *, dry_run: bool = False, atomic: bool = False) -> RunResult:
        return self._move("up", lambda cur: plan_up(self.source, cur, limit), dry_run=dry_run, atomic=atomic)

    def down(self, limit: int | None = None, *, dry_run: bool = False) -> RunResult:
        return self._move("down", lambda cur: plan_down(self.source, cur, limit), dry_run=dry_run)

    def goto(self, version: int, *, dry_run: bool = False) -> RunResult:
        if version < 0:
            raise UsageError("can't read version argument V", hint="V is a version number >= 0")
        return self._move("goto", lambda cur: plan_goto(self.source, cur, version), dry_run=dry_run)

    def plan(self, command: str = "up", argument: int | None = None) -> RunResult:
        if command == "up":
            return self.up(argument, dry_run=True)
        if command == "down":
            return self.down(argument, dry_run=True)
        if command == "goto":
            if argument is None:
                raise UsageError("plan goto needs a version", hint="safemigrate plan goto V")
            return self.goto(argument, dry_run=True)
        raise UsageError(f"unknown plan command {command!r}", hint="use: plan up [N] | down [N] | goto V")

    def _move(
        self, command: str, planner: Callable[[int | None], Plan], *, dry_run: bool, atomic: bool = False
    ) -> RunResult:
        if dry_run:
            return self._dry_run(command, planner, atomic=atomic)
        with self._locked():
            start, plan, scripts = self._prepare(planner, atomic=atomic)
            result = RunResult(command, start, start, no_change=plan.no_change)
            if plan.no_change:
                return result
            from .steps import Atomic

            context = self._step_context(SqlRunner(self.driver))
            if atomic:
                result.steps = Atomic(context).run(plan, scripts)
            else:
                result.steps = self._run_steps(context, plan, scripts)
            result.end = self.driver.read_version()
            if plan.error is not None:
                raise plan.error
            return result

    def _run_steps(self, context: StepContext, plan: Plan, scripts: Sequence[Script | None]) -> list[StepResult]:
        """Each step in its mode; two steps in a row in one transaction each share a round trip
        (the first's commit, the second's begin)."""
        from .steps import InTransaction, StatementByStatement, mode_of

        modes = [mode_of(self.driver, script) for script in scripts]
        in_transaction, by_statement = InTransaction(context), StatementByStatement(context)
        results: list[StepResult] = []
        current = plan.start
        total = len(plan.steps)
        opened = False  # the step's transaction was opened by the previous step's last batch
        for index, (step, script, mode) in enumerate(zip(plan.steps, scripts, modes, strict=True)):
            if self._interrupted is not None:
                raise self._interrupted_between_steps(step, current)
            self.events.step_started(step, index, total, mode)
            if mode == "transaction":
                chain = index + 1 < total and modes[index + 1] == "transaction"
                outcome = in_transaction.run(step, script, current, opened=opened,
                                             chain=plan.steps[index + 1] if chain else None)
                step_result, opened = outcome.result, outcome.next_opened
            else:
                step_result, opened = by_statement.run(step, script, current), False
            self.events.step_finished(step_result)
            results.append(step_result)
            current = step_result.to_version
        return results

    def _step_context(self, runner: SqlRunner) -> StepContext:
        from .steps import StepContext

        return StepContext(
            driver=self.driver, runner=runner, events=self.events, history=self.history,
            history_ready=self._history_ready, new_record=self._new_record,
            interrupted=lambda: self._interrupted, report=self._report,
            raise_database_error=self._raise_database_error)

    def _prepare(self, planner: Callable[[int | None], Plan], *,
                 atomic: bool) -> tuple[VersionState, Plan, list[Script | None]]:
        """Read the version, refuse a dirty database, plan, split the files, run the pre-apply check."""
        start = self.driver.read_version()
        if start.dirty:
            raise DirtyDatabaseError(start.as_int, hint=self._dirty_hint(start))
        plan = planner(start.version)
        if plan.no_change:
            return start, plan, []
        if plan.error is not None and not plan.steps:
            raise plan.error
        scripts = [self._script(step) for step in plan.steps]
        if atomic:
            self._refuse_non_atomic(plan.steps, scripts)
        if self.pre_apply_check is not None:
            self.pre_apply_check(plan.steps)
        return start, plan, scripts

    def _dry_run(self, command: str, planner: Callable[[int | None], Plan], *, atomic: bool) -> RunResult:
        start, plan, scripts = self._prepare(planner, atomic=atomic)
        end = VersionState(plan.end, False)
        result = RunResult(command, start, end, no_change=plan.no_change, dry_run=True,
                           pending_error=plan.error)
        if plan.no_change:
            return result
        from .steps import Atomic, InTransaction, StatementByStatement, mode_of

        # The first statements up would send here: our own tables, created or upgraded.
        setup = SqlRunner(self.driver, dry_run=True)
        setup.run_all(self._setup_sql())
        result.setup_sql = setup.recorded
        runner = SqlRunner(self.driver, dry_run=True)
        context = self._step_context(runner)
        if atomic:
            marks: list[int] = []
            Atomic(context).run(plan, scripts, on_step=lambda: marks.append(len(runner.recorded)))
            bounds = [0, *marks[1:], len(runner.recorded)]
            for i, step in enumerate(plan.steps):
                result.planned.append(PlannedStep(step, "atomic", None, runner.recorded[bounds[i]:bounds[i + 1]],
                                                  _own(runner, bounds[i], bounds[i + 1])))
            return result
        in_transaction, by_statement = InTransaction(context), StatementByStatement(context)
        current = plan.start
        for step, script in zip(plan.steps, scripts, strict=True):
            before = len(runner.recorded)
            mode = mode_of(self.driver, script)
            if mode == "transaction":
                current = in_transaction.run(step, script, current).result.to_version
            else:
                current = by_statement.run(step, script, current).to_version
            result.planned.append(
                PlannedStep(step, mode, script.statement_mode_reason() if script else None,
                            runner.recorded[before:], _own(runner, before, len(runner.recorded)))
            )
        return result

    def _refuse_non_atomic(self, steps: Sequence[Step], scripts: Sequence[Script | None]) -> None:
        if not self.driver.transactional_ddl:
            raise UsageError(
                f"`atomic` needs transactional DDL, which {self.driver.dialect} does not have",
                hint="run without `atomic`; each migration then runs statement by statement",
                settings=("atomic",),
            )
        for step, script in zip(steps, scripts, strict=True):
            if script is not None and script.needs_statement_mode:
                path = step.file.path if step.file else step.name
                raise UsageError(
                    f"`atomic` refused: {path} cannot run inside one transaction: "
                    f"{script.statement_mode_reason()}",
                    hint="apply the migrations before it with `atomic` (safemigrate up N), then "
                    "this one without `atomic`",
                    settings=("atomic",),
                    details={"file": str(path)},
                )

    # -- several operations under one lock (the release procedure) -------------------------------
    @contextmanager
    def locked(self) -> Iterator[Migrator]:
        """Hold the migration lock across several operations: apply, a health gate, a rollback.

        Re-entrant: ``apply``, ``up``, ``down``, ``goto`` and ``force`` inside it use the lock
        already held, and it is released when the outermost block ends, whatever happens.
        """
        with self._locked():
            yield self

    def apply(self, plan: Plan) -> RunResult:
        """Run exactly ``plan``, made earlier; refuse, changing nothing, when the version moved since."""
        def the_same_plan(current: int | None) -> Plan:
            if current != plan.start:
                raise PlanChangedError(
                    f"the database moved from version {VersionState(plan.start).describe()} "
                    f"to {VersionState(current).describe()} since the plan was made; "
                    "nothing was applied",
                    hint="another runner migrated it: look at safemigrate history, then plan again",
                    details={"planned_from": plan.start, "now": current})
            return plan

        command = "up" if all(step.direction == "up" for step in plan.steps) else "goto"
        return self._move(command, the_same_plan, dry_run=False)

    def reconnect_locked(self) -> None:
        """After the database was replaced under us (a restore): connect again and take the lock again.

        Only inside :meth:`locked`; the lock of the replaced database went with its connection.
        """
        with contextlib.suppress(Exception):
            self.driver.unlock()
        with contextlib.suppress(Exception):
            self.driver.close()
        self.driver.connect()
        self.driver.lock(self.lock_timeout)
        self._ensure_tables()

    def disconnect_for_restore(self) -> None:
        """Let go of the connection (and with it the lock) so a restore can replace the database."""
        SqlRunner(self.driver).rollback_quietly()
        with contextlib.suppress(Exception):
            self.driver.unlock()
        with contextlib.suppress(Exception):
            self.driver.close()

    # -- force / drop ----------------------------------------------------------------------------
    def force(self, version: int | None) -> VersionState:
        """golang-migrate's force: set the version (None: no version), clean, without running anything.

        golang-migrate's own spelling of no version, ``Force(-1)``, is accepted too.
        """
        if version == -1:
            version = None
        if version is not None and version < 0:
            raise UsageError("argument V must be >= -1")
        if version is not None and version > MAX_VERSION:
            raise UsageError(
                f"version {version} is too large: the version table holds at most {MAX_VERSION} (2^63-1); "
                "nothing was written",
                hint="check the number: migration versions are at most 19 digits",
            )
        if version is not None and not self.source.exists(version):
            self.events.warning(
                f"version {version} has no file in {self.source.directory}; "
                "up and down will refuse to move from it until the file exists"
            )
        with self._locked():
            before = self.driver.read_version()
            target = version
            runner = SqlRunner(self.driver)
            runner.begin()
            try:
                runner.run_all(self.driver.set_version_sql(target, False))
                if self._history_ready:
                    now = datetime.now(UTC)
                    record = self._new_record(
                        # The history row's version column is NOT NULL: forcing no version over no
                        # version records golang-migrate's -1 there, as it always did.
                        version if version is not None else before.as_int, "force", before.version, target,
                        mode="none", outcome="forced", started=now,
                    )
                    record.finished_at = now
                    record.duration_ms = 0.0
                    if before.dirty:
                        record.error = f"was {before.describe()}"
                    runner.run(*self.history.insert_sql(record))
                runner.commit()
            except BaseException as exc:
                runner.rollback_quietly()
                if self._interrupted is not None:
                    raise RunInterruptedError(
                        "force interrupted; nothing was changed", signal_number=self._interrupted,
                        hint="run the same command again") from None
                self._raise_database_error(exc, "force")
            return self.driver.read_version()

    def drop(self) -> list[str]:
        """golang-migrate's drop: every table in the migration schema, the version table included."""
        with self._locked(ensure_tables=False):
            try:
                return self.driver.drop_all_tables()
            except BaseException as exc:
                self._raise_database_error(exc, "drop")
                raise  # unreachable; keeps type checkers happy

    # -- locking and tables ------------------------------------------------------------------------
    @contextmanager
    def _locked(self, *, ensure_tables: bool = True) -> Iterator[None]:
        if self._lock_depth:  # inside locked(): the lock and the tables are already there
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        self._take_lock()
        self._lock_depth = 1
        try:
            if ensure_tables:
                self._ensure_tables()
            yield
        finally:
            SqlRunner(self.driver).rollback_quietly()
            with contextlib.suppress(Exception):
                self.driver.unlock()
            self._lock_depth = 0

    _lock_depth = 0
    _history_ready = False

    def _take_lock(self) -> None:
        """The migration lock; a signal during the wait ends the run as interrupted, nothing changed."""
        def interrupted() -> RunInterruptedError:
            return RunInterruptedError(
                "interrupted while waiting for the migration lock; nothing was changed",
                signal_number=self._interrupted or 2, hint="run the same command again when ready",
                details={"version_after": None})

        if self._interrupted is not None:
            raise interrupted()
        try:
            self.driver.lock(self.lock_timeout)
        except SafemigrateError:
            if self._interrupted is not None:
                raise interrupted() from None
            raise
        except Exception as exc:
            if self._interrupted is not None:
                raise interrupted() from None
            self._raise_database_error(exc, "take the migration lock")
        if self._interrupted is not None:
            with contextlib.suppress(Exception):
                self.driver.unlock()
            raise interrupted()

    def _history_setup_sql(self) -> list[Query]:
        """What makes the history table ready: CREATE when missing, ALTER for columns it lacks."""
        if not self.driver.table_exists(self.driver.history_table):
            return self.history.create_sql()
        return self.history.upgrade_sql()

    def _setup_sql(self) -> list[Query]:
        """The DDL a run sends first on this database to make our tables ready (read-only to compute)."""
        queries: list[Query] = []
        if not self.driver.version_table_exists():
            queries.extend(self.driver.create_version_table_sql())
        if self.history_enabled:
            queries.extend(self._history_setup_sql())
        return queries

    def _ensure_tables(self) -> None:
        runner = SqlRunner(self.driver)  # our tables' DDL goes through the one executor too
        try:
            if not self.driver.version_table_exists():
                runner.run_all(self.driver.create_version_table_sql())
            else:
                problem = self.driver.version_table_problem()
                if problem is not None:
                    raise problem
            missing = self.driver.missing_privileges(self.driver.version_table, ("SELECT", "INSERT", "DELETE"))
        except SafemigrateError:
            raise
        except BaseException as exc:
            self._raise_database_error(exc, "create the version table")
        if missing:
            name = self.driver.qualified(self.driver.version_table)
            user = self.driver.current_user
            raise DatabaseError(
                f"role {user} may not write the version table {name} (it lacks {', '.join(missing)}); "
                "nothing was changed",
                hint=f"ask the table's owner to run: GRANT {', '.join(missing)} ON {name} TO {user}",
                details={"table": name, "missing_privileges": missing},
            )
        self._history_ready = False
        if not self.history_enabled:
            return
        try:
            runner.run_all(self._history_setup_sql())
            missing = self.driver.missing_privileges(self.driver.history_table, ("SELECT", "INSERT", "UPDATE"))
        except BaseException as exc:
            error = self.driver.bookkeeping_error(exc)
            if isinstance(error, LockTimeoutError):
                raise error from None
            info = self.driver.describe_error(exc)
            if info is None:
                raise
            runner.rollback_quietly()
            self.events.warning(
                f"cannot create or upgrade the history table {self.history.table}: {info.message}; "
                "continuing without history (grant CREATE on the schema, or ALTER on the table, to keep "
                "a record of each step)"
            )
            return
        if missing:
            user = self.driver.current_user
            grants = [m for m in missing if not m.startswith("USAGE")]
            commands = [f"GRANT {', '.join(grants)} ON {self.history.table} TO {user}"] if grants else []
            commands += [f"GRANT {m} TO {user}" for m in missing if m.startswith("USAGE")]
            self.events.warning(
                f"role {user} may not write the history table {self.history.table} (it lacks "
                f"{', '.join(missing)}); continuing without history (to keep a record of each step, "
                f"ask the table's owner to run: {'; '.join(commands)})"
            )
            return
        self._history_ready = True

    # -- steps ---------------------------------------------------------------------------------------
    def _script(self, step: Step) -> Script | None:
        if step.file is None:
            return None
        script = self.driver.split(step.file.text)
        refuse_unrunnable(script, step.file.path)  # before any file of the plan runs
        return script

    def _new_record(self, version: int, direction: str, from_version: int | None, to_version: int | None, *,
                    mode: str, outcome: str, started: datetime, step: Step | None = None,
                    script: Script | None = None) -> HistoryRecord:
        return HistoryRecord(
            run_id=new_run_id(),
            version=version,
            name=step.name if step else self.source.name(version),
            direction=direction,
            from_version=from_version,
            to_version=to_version,
            started_at=started,
            outcome=outcome,
            mode=mode,
            checksum=step.file.sha256 if step and step.file else None,
            statements_total=len(script.statements) if script else 0,
            statements_committed=0,
            db_user=self.driver.current_user,
            os_user=self._identity["os_user"],
            host=self._identity["host"],
            tool_version=self.tool_version,
        )

    # -- failure bookkeeping --------------------------------------------------------------------------
    def _report(self, failure: _Failure, current: int | None, stopped: bool, restored: bool = True) -> FailureReport:
        from .failure import build_report

        return build_report(failure, current=current, stopped=stopped, signal=self._interrupted,
                            dialect=self.driver.dialect, versions=self.source.versions, restored=restored)

    def _raise_database_error(self, exc: BaseException, action: str) -> None:
        error = self.driver.bookkeeping_error(exc)
        if error is not None:
            raise error from None
        info = self.driver.describe_error(exc)
        if info is None:
            raise exc
        code = f" ({info.code})" if info.code else ""
        raise DatabaseError(f"could not {action}: {info.message}{code}",
                            details={"database_error": info.__dict__}) from None

    def _interrupted_between_steps(self, step: Step, current: int | None) -> RunInterruptedError:
        state = VersionState(current, False)
        return RunInterruptedError(
            f"interrupted before {step.log_string}; the database is at version {state.describe()}",
            signal_number=self._interrupted or 2,
            hint="run the same command again to continue",
            details={"version_after": {"version": state.version, "dirty": False}},
        )

    def _unsettled_statement(self, record: HistoryRecord) -> str | None:
        """For a step that stopped while a statement that cannot run in a transaction was running
        (``statement_started`` still set): that it may or may not have completed, and how to check."""
        from .failure import _leftover_check, _may_not_have_completed

        number = record.statement_started
        if not number or (record.statements_committed or 0) >= number:
            return None
        migration = self.source.migrations.get(record.version)
        file = None if migration is None else (migration.up if record.direction == "up" else migration.down)
        statement: Statement | None = None
        if file is not None and (record.checksum is None or record.checksum == file.sha256):
            with contextlib.suppress(Exception):
                statements = self.driver.split(file.text).statements
                statement = statements[number - 1] if number <= len(statements) else None
        if statement is None:
            return (f"statement {number} cannot run in a transaction; it was sent but never reported back, "
                    "so it may or may not have completed: check in the database whether its change is there")
        if record.outcome in ("failed", "interrupted"):
            # The server reported the end of it: it did not complete, but may have left something.
            how = "was canceled" if record.outcome == "interrupted" else "failed"
            leftover = _leftover_check(statement, self.driver.dialect)
            return f"statement {number} (line {statement.line}) {how}" + (f": {leftover}" if leftover else "")
        return _may_not_have_completed(statement, number, self.driver.dialect)

    def _dirty_hint(self, state: VersionState) -> str:
        """Name the force command that matches how the dirty version came about."""
        last: HistoryRecord | None = None
        with contextlib.suppress(Exception):
            for record in reversed(self.history.read()):
                if record.outcome in ("failed", "interrupted", "running"):
                    last = record
                    break
        dirty = state.as_int
        if last is not None and last.to_version == state.version:
            before = VersionState(last.from_version).as_int  # the CLI's spelling: force -1
            what = (f"migration {last.version}/{'u' if last.direction == 'up' else 'd'} {last.name} "
                    f"stopped after {last.statements_committed or 0} of "
                    f"{last.statements_total or 0} statements")
            unsettled = self._unsettled_statement(last)
            if unsettled:
                what += f"; {unsettled}"
            return (f"{what}: run safemigrate recover to see what it left, statement by statement, and "
                    f"finish or undo it; or undo its committed statements by hand and run: safemigrate force "
                    f"{before}; or complete it by hand and run: safemigrate force {dirty}")
        previous = self.source.prev(state.version) if state.version is not None else None
        fallback = VersionState(previous).as_int
        return (f"run safemigrate recover to see what the failed migration {dirty} left and finish or undo "
                f"it; or inspect the database, repair it by hand, then run: "
                f"safemigrate force {fallback} (to retry it) or safemigrate force {dirty} "
                "(if it is complete)")
