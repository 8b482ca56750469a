"""Which migrations a command runs, decided without touching the database.

These are golang-migrate v4's ``read``, ``readUp`` and ``readDown`` (migrate.go),
ported step for step so that every command moves through the same versions and
fails in the same cases. A version number is an int; None is "no version" (golang-migrate's -1,
which only the version table and the CLI's ``force -1`` still spell that way).
A plan may end with an error that is raised after its steps ran (``limit N short``),
exactly as golang-migrate applies the migrations it found and then reports it.
"""

from __future__ import annotations

from ._record import Record
from .errors import NotExistError, SafemigrateError, ShortLimitError
from .source import Direction, MigrationFile, MigrationSource

__all__ = ["Plan", "Step", "plan_down", "plan_goto", "plan_up"]


# Records, not dataclasses: the two classes' generated methods cost every status, plan and up
# about 7 M instructions at import (see _record).
class Step(Record, frozen=True):
    """Run ``file`` (None: no file, the version still moves) to go from ``version`` to ``target``."""

    version: int
    target: int | None  # None: no version (the first migration's down step)
    file: MigrationFile | None
    name: str

    def __init__(self, version: int, target: int | None, file: MigrationFile | None, name: str) -> None:
        self.__dict__.update(version=version, target=target, file=file, name=name)

    @property
    def direction(self) -> Direction:
        return "up" if self.target is not None and self.target >= self.version else "down"

    @property
    def log_string(self) -> str:
        """golang-migrate's Migration.LogString: ``VERSION/u NAME`` or ``VERSION/d NAME``."""
        return f"{self.version}/{'u' if self.direction == 'up' else 'd'} {self.name}"


class Plan(Record, frozen=True):
    start: int | None  # None: the database had no version
    steps: tuple[Step, ...]
    no_change: bool
    error: SafemigrateError | None

    def __init__(self, start: int | None, steps: tuple[Step, ...] = (), no_change: bool = False,
                 error: SafemigrateError | None = None) -> None:
        self.__dict__.update(start=start, steps=steps, no_change=no_change, error=error)

    @property
    def end(self) -> int | None:
        return self.steps[-1].target if self.steps else self.start


def _step(source: MigrationSource, version: int, target: int | None) -> Step:
    """golang-migrate's newMigration: the up file when moving up, else the down file; either may be missing."""
    file = source.up_file(version) if target is not None and target >= version else source.down_file(version)
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


def plan_goto(source: MigrationSource, current: int | None, to: int | None) -> Plan:
    """golang-migrate's ``read(from, to)``: the steps from ``current`` to version ``to`` (None: no version)."""
    if current is not None and not source.exists(current):
        return Plan(current, error=_missing_current(source, current))
    if to is not None and not source.exists(to):
        return Plan(current, error=_missing_target(source, to))
    if current == to:
        return Plan(current, no_change=True)
    if to is not None and (current is None or current < to):
        return _goto_up(source, current, to)
    assert current is not None  # current == to (both None) returned above
    return _goto_down(source, current, to)


def _goto_up(source: MigrationSource, current: int | None, to: int) -> Plan:
    steps: list[Step] = []
    position = current
    if position is None:
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
    return Plan(current, tuple(steps))


def _goto_down(source: MigrationSource, current: int, to: int | None) -> Plan:
    steps: list[Step] = []
    position = current
    while to is None or position > to:
        previous = source.prev(position)
        if previous is None:
            if to is None:
                steps.append(_step(source, position, None))
                break
            return Plan(current, tuple(steps), error=_missing_target(source, to))
        steps.append(_step(source, position, previous))
        position = previous
    return Plan(current, tuple(steps))


def plan_up(source: MigrationSource, current: int | None, limit: int | None = None) -> Plan:
    """golang-migrate's ``readUp(from, limit)``; ``limit`` None means all pending migrations."""
    if current is not None and not source.exists(current):
        return Plan(current, error=_missing_current(source, current))
    if limit == 0:
        return Plan(current, no_change=True)
    steps: list[Step] = []
    position = current
    count = 0
    while limit is None or count < limit:
        if position is None:
            first = source.first()
            if first is None:
                return Plan(current, tuple(steps), error=_no_files(source))
            steps.append(_step(source, first, first))
            position = first
            count += 1
            continue
        following = source.next(position)
        if following is None:
            if limit is None and count == 0:
                return Plan(current, no_change=True)
            if limit is None:
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


def plan_down(source: MigrationSource, current: int | None, limit: int | None = None) -> Plan:
    """golang-migrate's ``readDown(from, limit)``; ``limit`` None means down to no version."""
    if current is not None and not source.exists(current):
        return Plan(current, error=_missing_current(source, current))
    if limit == 0:
        return Plan(current, no_change=True)
    if current is None and limit is None:
        return Plan(current, no_change=True)
    if current is None:
        return Plan(current, error=NotExistError(
            "no migration to undo: the database has no version: file does not exist",
            hint="nothing to do; run safemigrate status to see every version",
        ))
    steps: list[Step] = []
    position = current
    count = 0
    while limit is None or count < limit:
        previous = source.prev(position)
        if previous is None:
            first = source.first()
            assert first is not None  # ``current`` exists, so the folder is not empty
            steps.append(_step(source, first, None))
            count += 1
            if limit is not None and count < limit:
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
