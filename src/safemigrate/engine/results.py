"""What a run returns and the typed events it sends while it works."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._record import Record
from ..drivers.base import Driver, VersionState
from ..errors import SafemigrateError
from ..planner import Step
from ..sql.script import Statement

if TYPE_CHECKING:
    from ..events import EventSink

__all__ = ["PlannedStep", "RunEvents", "RunResult", "StepResult"]


class RunEvents:
    """Sends a Migrator's typed events (:mod:`safemigrate.events`) to its sink; nothing without one.

    The event classes are imported with the first event sent: a run with nothing to say (``up``
    with nothing pending, no sink) never loads them. An event of a kind the sink does not listen
    to (its optional ``listens_to``) is not built at all: a piped ``up`` prints finished steps only.
    """

    __slots__ = ("_database", "_secrets", "driver", "sink", "statements", "steps", "warnings")

    def __init__(self, sink: EventSink | None, driver: Driver) -> None:
        self.sink = sink
        self.driver = driver
        self._database: str | None = None
        self._secrets: set[str] | None = None
        kinds: frozenset[str] | None = getattr(sink, "listens_to", None)

        def hears(kind: str) -> bool:
            return sink is not None and (kinds is None or kind in kinds)

        self.warnings = hears("warning")
        self.steps = hears("step_started"), hears("step_finished")
        self.statements = hears("statement_started")

    @property
    def database(self) -> str:
        if self._database is None:
            self._database = self.driver.url.redacted()
        return self._database

    def warning(self, message: str) -> None:
        if not self.warnings or self.sink is None:
            return
        from ..events import WarningEvent

        self.sink(WarningEvent(self.database, message=message))

    def step_started(self, step: Step, index: int, total: int, mode: str) -> None:
        if not self.steps[0] or self.sink is None:
            return
        from ..events import StepStarted

        self.sink(StepStarted(self.database, version=step.version, name=step.name, direction=step.direction,
                              index=index, total=total, mode=mode,
                              file=str(step.file.path) if step.file is not None else None))

    def statement_started(self, step: Step, statement: Statement, index: int, total: int) -> None:
        if not self.statements or self.sink is None:
            return
        from ..events import StatementStarted

        self.sink(StatementStarted(self.database, version=step.version, index=index, total=total,
                                   line=statement.line, first_line=self._first_line(statement.text)))

    def _first_line(self, text: str) -> str:
        """The first line of ``text`` without its leading blanks, passwords masked, at most 200
        characters; read from its first 1,000 characters only (a statement may be megabytes)."""
        from ..redact import redact_text

        start = 0
        while start < len(text) and text[start].isspace():
            start += 1
        lines = text[start:start + 1000].strip().splitlines()
        if self._secrets is None:
            self._secrets = self.driver.url.secrets
        return redact_text(lines[0], self._secrets)[:200] if lines else ""

    def step_finished(self, result: StepResult) -> None:
        if not self.steps[1] or self.sink is None:
            return
        from ..events import StepFinished

        step = result.step
        self.sink(StepFinished(self.database, version=step.version, name=step.name, direction=step.direction,
                               duration_ms=result.duration * 1000, statements=result.statements,
                               no_down_file=result.no_down_file,
                               file=str(step.file.path) if step.file is not None else None))


# Records, not dataclasses: the three classes' generated methods cost every status, plan and up
# about 10 M instructions at import (see _record).
class StepResult(Record, frozen=True):
    step: Step
    mode: str
    duration: float
    statements: int
    from_version: int | None  # None: no version (the database had none before the step)

    def __init__(self, step: Step, mode: str, duration: float, statements: int, from_version: int | None) -> None:
        self.__dict__.update(step=step, mode=mode, duration=duration, statements=statements,
                             from_version=from_version)

    @property
    def to_version(self) -> int | None:
        return self.step.target

    @property
    def no_down_file(self) -> bool:
        """A down step with no down file: the version moved, nothing was undone (as golang-migrate)."""
        return self.step.direction == "down" and self.step.file is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.step.version,
            "name": self.step.name,
            "direction": self.step.direction,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "file": str(self.step.file.path) if self.step.file else None,
            "mode": self.mode,
            "statements": self.statements,
            "duration_ms": round(self.duration * 1000, 3),
            "no_down_file": self.no_down_file,
        }


class PlannedStep(Record):
    step: Step
    mode: str
    reason: str | None
    sql: list[str]
    # Which entries of ``sql`` are the migration file's own statements (the rest is bookkeeping).
    own: frozenset[int]

    def __init__(self, step: Step, mode: str, reason: str | None, sql: list[str],
                 own: frozenset[int] = frozenset()) -> None:
        self.step = step
        self.mode = mode
        self.reason = reason
        self.sql = sql
        self.own = own

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.step.version,
            "name": self.step.name,
            "direction": self.step.direction,
            "to_version": self.step.target,
            "file": str(self.step.file.path) if self.step.file else None,
            "mode": self.mode,
            "why_not_one_transaction": self.reason,
            "sql": self.sql,
        }


class RunResult(Record):
    command: str
    start: VersionState
    end: VersionState
    steps: list[StepResult]
    planned: list[PlannedStep]
    no_change: bool
    dry_run: bool
    pending_error: SafemigrateError | None
    setup_sql: list[str]  # dry run: our tables' DDL, sent before the steps

    def __init__(self, command: str, start: VersionState, end: VersionState,
                 steps: list[StepResult] | None = None, planned: list[PlannedStep] | None = None,
                 no_change: bool = False, dry_run: bool = False, pending_error: SafemigrateError | None = None,
                 setup_sql: list[str] | None = None) -> None:
        self.command = command
        self.start = start
        self.end = end
        self.steps = [] if steps is None else steps
        self.planned = [] if planned is None else planned
        self.no_change = no_change
        self.dry_run = dry_run
        self.pending_error = pending_error
        self.setup_sql = [] if setup_sql is None else setup_sql

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "ok": True,
            "command": self.command,
            "dry_run": self.dry_run,
            "no_change": self.no_change,
            "from": {"version": self.start.version, "dirty": self.start.dirty},
            "to": {"version": self.end.version, "dirty": self.end.dirty},
        }
        if self.dry_run:
            data["setup_sql"] = self.setup_sql
            data["steps"] = [p.to_dict() for p in self.planned]
            if self.pending_error is not None:
                data["would_fail"] = self.pending_error.to_dict()
        else:
            data["steps"] = [s.to_dict() for s in self.steps]
            data["steps_without_down_file"] = len(self.without_down_file)
        return data

    @property
    def without_down_file(self) -> list[StepResult]:
        return [s for s in self.steps if s.no_down_file]

