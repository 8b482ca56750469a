"""Which migrations a command runs, decided without touching the database.

These are golang-migrate v4's ``read``, ``readUp`` and ``readDown`` (migrate.go),
ported step for step so that every command moves through the same versions and
fails in the same cases. A version number is an int; -1 is "no version".
A plan may end with an error that is raised after its steps ran (``limit N short``),
exactly as golang-migrate applies the migrations it found and then reports it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import NotExistError, SafemigrateError, ShortLimitError
from .source import Direction, MigrationFile, MigrationSource

__all__ = ["NIL", "Plan", "Step", "optional_version", "plan_down", "plan_goto", "plan_up"]

NIL = -1


def optional_version(version: int) -> int | None:
    """The planner's int version as the rest of the code spells it: None for no version (-1)."""
    return None if version == NIL else version


@dataclass(frozen=True)
class Step:
    """Run ``file`` (None: no file, the version still moves) to go from ``version`` to ``target``."""

    version: int
    target: int
    file: MigrationFile | None
    name: str

    @property
    def direction(self) -> Direction:
        return "up" if self.target >= self.version else "down"

    @property
    def log_string(self) -> str:
        """golang-migrate's Migration.LogString: ``VERSION/u NAME`` or ``VERSION/d NAME``."""
        return f"{self.version}/{'u' if self.direction == 'up' else 'd'} {self.name}"


@dataclass(frozen=True)
class Plan:
    start: int
    steps: tuple[Step, ...] = ()
    no_change: bool = False
    error: SafemigrateError | None = None

    @property
    def end(self) -> int:
        return self.steps[-1].target if self.steps else self.start


def _step(source: MigrationSource, version: int, target: int) -> Step:
    """golang-migrate's newMigration: the up file when moving up, else the down file; either may be missing."""
    file = source.up_file(version) if target >= version else source.down_file(version)
    return Step(version, target, file, file.name if file is not None else source.name(version))


def _describe_versions(source: MigrationSource) -> str:
    versions = source.versions
    if not versions:
        return "the folder has no migrations"
    shown = ", ".join(str(v) for v in versions[:12])
    return f"available: {shown}{', ...' if len(versions) > 12 else ''}"


def _missing_current(source: MigrationSource, version: int) -> NotExistError:
    return NotExistError(
        f"no migration found for version {version}: file does not exist "
        f"(the database is at version {version} but {source.directory} has no {version}_*.up/down file)",
        hint="check that `path` points at this database's migrations (a newer release may have added "
        f"files you don't have); {_describe_versions(source)}",
        details={"version": version},
        settings=("path",),
    )


def _missing_target(source: MigrationSource, version: int) -> NotExistError:
    return NotExistError(
        f"no migration found for version {version}: file does not exist",
        hint=f"choose a version that exists in {source.directory}; {_describe_versions(source)}",
        details={"version": version},
    )


def _no_files(source: MigrationSource) -> NotExistError:
    return NotExistError(
        f"no migration files found in {source.directory}: file does not exist",
        hint="check `path`; create the first migration with: safemigrate create -ext sql -dir "
        f"{source.directory} -seq NAME",
        settings=("path",),
    )


def plan_goto(source: MigrationSource, current: int, to: int) -> Plan:
    """golang-migrate's ``read(from, to)``: the steps from ``current`` to version ``to``."""
    if current >= 0 and not source.exists(current):
        return Plan(current, error=_missing_current(source, current))
    if to >= 0 and not source.exists(to):
        return Plan(current, error=_missing_target(source, to))
    if current == to:
        return Plan(current, no_change=True)
    steps: list[Step] = []
    position = current
    if position < to:
        if position == NIL:
            first = source.first()
            if first is None:
                return Plan(current, error=_no_files(source))
            steps.append(_step(source, first, first))
            position = first
        while position < to:
            following = source.next(position)
            if following is None:
                return Plan(current, tuple(steps), error=_missing_target(source, to))
            steps.append(_step(source, following, following))
            position = following
    else:
        while position > to and position >= 0:
            previous = source.prev(position)
            if previous is None:
                if to == NIL:
                    steps.append(_step(source, position, NIL))
                    break
                return Plan(current, tuple(steps), error=_missing_target(source, to))
            steps.append(_step(source, position, previous))
            position = previous
    return Plan(current, tuple(steps))


def plan_up(source: MigrationSource, current: int, limit: int = -1) -> Plan:
    """golang-migrate's ``readUp(from, limit)``; ``limit`` -1 means all pending migrations."""
    if current >= 0 and not source.exists(current):
        return Plan(current, error=_missing_current(source, current))
    if limit == 0:
        return Plan(current, no_change=True)
    steps: list[Step] = []
    position = current
    count = 0
    while count < limit or limit == -1:
        if position == NIL:
            first = source.first()
            if first is None:
                return Plan(current, tuple(steps), error=_no_files(source))
            steps.append(_step(source, first, first))
            position = first
            count += 1
            continue
        following = source.next(position)
        if following is None:
            if limit == -1 and count == 0:
                return Plan(current, no_change=True)
            if limit == -1:
                break
            if count == 0:
                return Plan(current, error=NotExistError(
                    f"no migration to apply after version {position}: file does not exist "
                    "(the database is already at the newest version in the folder)",
                    hint="nothing to do; run safemigrate status to see every version",
                    details={"version": position},
                ))
            return Plan(current, tuple(steps), error=ShortLimitError(
                limit - count,
                hint=f"{count} of the {limit} migrations asked for existed and were applied; "
                "the database is at the newest version",
            ))
        steps.append(_step(source, following, following))
        position = following
        count += 1
    return Plan(current, tuple(steps))


def plan_down(source: MigrationSource, current: int, limit: int = -1) -> Plan:
    """golang-migrate's ``readDown(from, limit)``; ``limit`` -1 means down to no version."""
    if current >= 0 and not source.exists(current):
        return Plan(current, error=_missing_current(source, current))
    if limit == 0:
        return Plan(current, no_change=True)
    if current == NIL and limit == -1:
        return Plan(current, no_change=True)
    if current == NIL and limit > 0:
        return Plan(current, error=NotExistError(
            "no migration to undo: the database has no version: file does not exist",
            hint="nothing to do; run safemigrate status to see every version",
        ))
    steps: list[Step] = []
    position = current
    count = 0
    while count < limit or limit == -1:
        previous = source.prev(position)
        if previous is None:
            if limit == -1 or limit - count > 0:
                first = source.first()
                assert first is not None  # ``current`` exists, so the folder is not empty
                steps.append(_step(source, first, NIL))
                count += 1
            if count < limit:
                return Plan(current, tuple(steps), error=ShortLimitError(
                    limit - count,
                    hint=f"{count} of the {limit} migrations asked for existed and were undone; "
                    "the database now has no version",
                ))
            return Plan(current, tuple(steps))
        steps.append(_step(source, position, previous))
        position = previous
        count += 1
    return Plan(current, tuple(steps))
