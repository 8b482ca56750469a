"""What a run returns and what it tells its caller while it works."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ..drivers.base import VersionState
from ..errors import SafemigrateError
from ..planner import Step
from ..sql.script import Statement

__all__ = ["PlannedStep", "Reporter", "RunResult", "SilentReporter", "StepResult"]


class Reporter(Protocol):
    """What the engine tells its caller while it works (the CLI renders it)."""

    def warning(self, message: str) -> None: ...

    def step_started(self, step: Step, index: int, total: int, mode: str) -> None: ...

    def statement_started(self, step: Step, statement: Statement, index: int, total: int) -> None: ...

    def step_finished(self, result: StepResult) -> None: ...


class SilentReporter:
    def warning(self, message: str) -> None:
        pass

    def step_started(self, step: Step, index: int, total: int, mode: str) -> None:
        pass

    def statement_started(self, step: Step, statement: Statement, index: int, total: int) -> None:
        pass

    def step_finished(self, result: StepResult) -> None:
        pass


@dataclass(frozen=True)
class StepResult:
    step: Step
    mode: str
    duration: float
    statements: int
    from_version: int | None  # None: no version (the database had none before the step)

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


@dataclass
class PlannedStep:
    step: Step
    mode: str
    reason: str | None
    sql: list[str]
    # Which entries of ``sql`` are the migration file's own statements (the rest is bookkeeping).
    own: frozenset[int] = frozenset()

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


@dataclass
class RunResult:
    command: str
    start: VersionState
    end: VersionState
    steps: list[StepResult] = field(default_factory=list)
    planned: list[PlannedStep] = field(default_factory=list)
    no_change: bool = False
    dry_run: bool = False
    pending_error: SafemigrateError | None = None
    setup_sql: list[str] = field(default_factory=list)  # dry run: our tables' DDL, sent before the steps

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

