"""The public API: one function per command, ``(config, ..., events=, cancel=) -> result``.

The CLI parses its arguments into a :class:`~safemigrate.config.Config`, calls
one of these and renders the result (``to_dict()`` for ``--format json``). A
script, a CI job or the release procedure calls the very same functions::

    from safemigrate import commands
    config = commands.load_config(env="staging")
    result = commands.up(config)
    print(result.end.describe(), [r.version for r in commands.history(config).records])

``events`` is a sink (or a list of sinks) of :mod:`safemigrate.events`; ``cancel`` a
:class:`~safemigrate.events.CancelToken` that a signal handler or another thread sets to
stop the run at its next safe point (the running migration rolled back, the lock released).
Every function raises a :class:`~safemigrate.errors.SafemigrateError` subclass on failure.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .config import Config, load_config
from .errors import CheckFailedError, DatabaseError, UsageError
from .events import (
    CancelToken,
    EventSink,
    RunFinished,
    RunStarted,
    StatementStarted,
    StepFinished,
    StepStarted,
    WarningEvent,
    fan_out,
)

if TYPE_CHECKING:
    from .drivers.base import Driver, VersionState
    from .engine import Migrator, RunResult, StepResult
    from .history import HistoryRecord
    from .planner import Step
    from .sql.script import Statement
    from .status import StatusReport

__all__ = [
    "CheckResult",
    "HistoryResult",
    "check",
    "down",
    "force",
    "goto",
    "history",
    "load_config",
    "migrator",
    "plan",
    "status",
    "up",
    "version",
]

Events = EventSink | Sequence[EventSink] | None


class _EventReporter:
    """The engine's reporter interface, turned into typed events for the sinks."""

    def __init__(self, sink: EventSink, database: str) -> None:
        self.sink = sink
        self.database = database

    def warning(self, message: str) -> None:
        self.sink(WarningEvent(self.database, message=message))

    def step_started(self, step: Step, index: int, total: int, mode: str) -> None:
        self.sink(StepStarted(self.database, version=step.version, name=step.name, direction=step.direction,
                              index=index, total=total, mode=mode))

    def statement_started(self, step: Step, statement: Statement, index: int, total: int) -> None:
        self.sink(StatementStarted(self.database, version=step.version, index=index, total=total,
                                   line=statement.line))

    def step_finished(self, result: StepResult) -> None:
        self.sink(StepFinished(self.database, version=result.step.version, name=result.step.name,
                               direction=result.step.direction, duration_ms=round(result.duration * 1000, 3),
                               statements=result.statements, no_down_file=result.no_down_file))


@contextmanager
def migrator(config: Config, *, events: Events = None, cancel: CancelToken | None = None,
             pre_apply_check: Any = None) -> Iterator[Migrator]:
    """An open :class:`~safemigrate.engine.Migrator` for ``config``: the folder, the database, the lock timeout.

    ``cancel`` stops its run at the next safe point; ``events`` receive its steps.
    """
    from .drivers import open_driver
    from .engine import Migrator
    from .source import load_source
    from .urls import parse_database_url

    if not config.database_url:
        raise UsageError("no database URL: pass -database URL, set $DATABASE_URL, or choose an environment",
                         hint="for example: safemigrate -database postgres://user@host/db?sslmode=disable version")
    driver = open_driver(parse_database_url(config.database_url))
    source = load_source(config.migrations_path, no_follow=config.no_follow)
    reporter = _EventReporter(fan_out(events), driver.url.redacted())
    opened = Migrator(source, driver, lock_timeout=config.lock_timeout, reporter=reporter,
                      pre_apply_check=pre_apply_check)
    if cancel is not None:
        cancel.on_cancel(opened.interrupt)
    with opened:
        yield opened


def _run(config: Config, command: str, events: Events, cancel: CancelToken | None,
         move: Any) -> RunResult:
    sink = fan_out(events)
    with migrator(config, events=events, cancel=cancel) as opened:
        database = opened.driver.url.redacted()
        sink(RunStarted(database, command=command))
        ok = False
        try:
            result: RunResult = move(opened)
            ok = True
            return result
        finally:
            try:
                state = opened.driver.read_version()
                sink(RunFinished(database, command=command, ok=ok, version=state.version, dirty=state.dirty))
            except Exception:  # the connection may be gone with the failure; the error says what happened
                sink(RunFinished(database, command=command, ok=ok, version=None))


def up(config: Config, limit: int | None = None, *, dry_run: bool = False, atomic: bool = False,
       events: Events = None, cancel: CancelToken | None = None) -> RunResult:
    """Apply all (or ``limit``) pending migrations; ``dry_run`` plans only."""
    return _run(config, "up", events, cancel, lambda m: m.up(limit, dry_run=dry_run, atomic=atomic))


def down(config: Config, limit: int | None = None, *, dry_run: bool = False,
         events: Events = None, cancel: CancelToken | None = None) -> RunResult:
    """Apply ``limit`` down migrations (all of them when None: a library call never asks)."""
    return _run(config, "down", events, cancel, lambda m: m.down(limit, dry_run=dry_run))


def goto(config: Config, target: int, *, dry_run: bool = False,
         events: Events = None, cancel: CancelToken | None = None) -> RunResult:
    """Move up or down to version ``target``."""
    return _run(config, "goto", events, cancel, lambda m: m.goto(target, dry_run=dry_run))


def plan(config: Config, command: str = "up", argument: int | None = None, *,
         events: Events = None) -> RunResult:
    """What ``up [N]``, ``down [N]`` or ``goto V`` would run, SQL included; changes nothing."""
    with migrator(config, events=events) as opened:
        return opened.plan(command, argument)


def force(config: Config, target: int, *, events: Events = None,
          cancel: CancelToken | None = None) -> VersionState:
    """golang-migrate's force: set version ``target`` (-1: none), clean, running nothing."""
    with migrator(config, events=events, cancel=cancel) as opened:
        return opened.force(target)


def version(config: Config) -> VersionState:
    """The version table's state (read-only)."""
    with migrator(config) as opened:
        return opened.version()


def status(config: Config) -> StatusReport:
    """Every file against the version table and the history (read-only)."""
    with migrator(config) as opened:
        return opened.status()


def _open(config: Config) -> Driver:
    from .drivers import open_driver
    from .urls import parse_database_url

    driver = open_driver(parse_database_url(config.database_url))
    driver.connect()
    return driver


# -- check ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CheckResult:
    """The database's version against the one the application expects."""

    ok: bool
    version: int | None
    dirty: bool
    expect: int
    at_least: bool
    database: str

    def describe(self) -> str:
        if self.version is None:
            return "no version (dirty)" if self.dirty else "no version"
        return f"{self.version} (dirty)" if self.dirty else str(self.version)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "command": "check", "database": self.database, "version": self.version,
                "dirty": self.dirty, "expect": self.expect, "at_least": self.at_least}


def check(config: Config, *, expect: int, at_least: bool = False) -> CheckResult:
    """Is the database at version ``expect`` (or newer with ``at_least``) and clean?

    Raises :class:`CheckFailedError` (exit 1) when it is not, with both versions and
    the command that would move the database; read-only, so a read-only role may run it.
    """
    if expect < 0:
        raise UsageError(f"the expected version must be 0 or more, not {expect}")
    driver = _open(config)
    try:
        state = driver.read_version()
        database = driver.url.redacted()
    finally:
        driver.close()
    result = CheckResult(
        ok=not state.dirty and state.version is not None
        and (state.version >= expect if at_least else state.version == expect),
        version=state.version, dirty=state.dirty, expect=expect, at_least=at_least, database=database)
    if not result.ok:
        raise _check_failure(result)
    return result


def _check_failure(result: CheckResult) -> CheckFailedError:
    wanted = f"at least {result.expect}" if result.at_least else str(result.expect)
    if result.dirty:
        hint = (f"a migration failed at version {result.version}: see safemigrate status, repair the "
                "database, then safemigrate force V")
    else:
        hint = f"safemigrate goto {result.expect} moves the database to the expected version"
    where = ("has no version yet" if result.version is None and not result.dirty
             else f"is at version {result.describe()}")
    details = {k: v for k, v in result.to_dict().items() if k not in ("ok", "command")}
    return CheckFailedError(f"the database {where}, expected {wanted}", hint=hint, details=details)


# -- history ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class HistoryResult:
    """Rows of ``safemigrate_history``, oldest first; ``available`` False when there is no table."""

    records: tuple[HistoryRecord, ...]
    available: bool
    total: int
    database: str
    release: dict[str, Any] | None = None  # with --release ID: that release's stored report

    def to_dict(self) -> dict[str, Any]:
        data = {"ok": True, "command": "history", "database": self.database, "available": self.available,
                "total": self.total, "records": [_record_dict(r) for r in self.records]}
        if self.release is not None:
            data["release"] = self.release
        return data


def _record_dict(record: HistoryRecord) -> dict[str, Any]:
    from dataclasses import asdict

    data = asdict(record)
    for key in ("started_at", "finished_at"):
        if data[key] is not None:
            data[key] = data[key].isoformat()
    return data


def history(config: Config, *, limit: int | None = None, version: int | None = None,
            release_id: str | None = None) -> HistoryResult:
    """The last ``limit`` steps recorded (all of them by default), optionally of one ``version``.

    With ``release_id``: that release's report, and the steps it ran (recorded between its start and end).
    """
    from .history import HistoryTable
    from .release.record import ReleasesTable

    if limit is not None and limit < 1:
        raise UsageError(f"--limit must be 1 or more, not {limit}")
    driver = _open(config)
    try:
        available = driver.table_exists(driver.history_table)
        try:
            records = HistoryTable(driver).read() if available else []
            release = None
            if release_id is not None:
                rows = ReleasesTable(driver).read(release_id=release_id)
                if not rows:
                    raise UsageError(f"no release {release_id!r} is recorded in this database",
                                     hint="safemigrate history --format json lists the releases' steps; "
                                     "the report files are in ./releases")
                release = rows[0].report
                finished = (release or {}).get("finished_at")
                started = rows[0].started_at
                records = [r for r in records if r.started_at >= started
                           and (finished is None or r.started_at.isoformat() <= finished)]
        except (DatabaseError, UsageError):
            raise
        except Exception as exc:
            info = driver.describe_error(exc)
            if info is None:
                raise
            raise DatabaseError(
                f"cannot read the history table: {info.message}",
                hint=f"grant SELECT on {driver.qualified(driver.history_table)} to this role") from None
        database = driver.url.redacted()
    finally:
        driver.close()
    if version is not None:
        records = [r for r in records if r.version == version]
    total = len(records)
    if limit is not None:
        records = records[-limit:]
    return HistoryResult(records=tuple(records), available=available, total=total, database=database,
                         release=release)
