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

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .config import Config, load_config
from .errors import CheckFailedError, DatabaseError, LintBlockedError, UsageError

if TYPE_CHECKING:
    from .backup import (
        BackupEvent,
        Cancel,
        CreateOptions,
        Manifest,
        Policy,
        ProgressCallback,
        PruneResult,
        RestoreOptions,
        RestoreResult,
        Storage,
        VerifyResult,
    )
    from .backup.catalog import DatabaseSelector
    from .backup.importer import ImportOptions
    from .cancel import CancelToken
    from .drivers.base import Driver, VersionState
    from .engine import Migrator, RunResult
    from .events import Event, EventSink
    from .lint import LintReport
    from .lint.model import LintResult
    from .planner import Step
    from .recover import Diagnosis, RepairResult
    from .release.report import StepRecord
    from .results import (
        BackupCreateResult,
        BackupListResult,
        BackupPinResult,
        CheckResult,
        ConfigShowResult,
        HistoryResult,
        ReleaseResult,
    )
    from .status import StatusReport

__all__ = [
    "BackupCreateResult",
    "BackupListResult",
    "BackupPinResult",
    "CheckResult",
    "ConfigShowResult",
    "HistoryResult",
    "LintGate",
    "ReleaseResult",
    "backup_create",
    "backup_import",
    "backup_list",
    "backup_pin",
    "backup_policy",
    "backup_prune",
    "backup_resolve",
    "backup_restore",
    "backup_show",
    "backup_storage",
    "backup_unpin",
    "backup_verify",
    "check",
    "config_show",
    "down",
    "drop",
    "force",
    "goto",
    "history",
    "lint",
    "load_config",
    "migrator",
    "plan",
    "preflight",
    "recover_diagnose",
    "recover_finish",
    "recover_repair",
    "recover_undo",
    "release",
    "status",
    "up",
    "version",
]

if TYPE_CHECKING:
    from typing import TypeAlias

    Events: TypeAlias = EventSink | Sequence[EventSink] | None
    OnConnect: TypeAlias = Callable[[Driver], None]

_RESULTS = frozenset({"BackupCreateResult", "BackupListResult", "BackupPinResult", "CheckResult", "ConfigShowResult",
                      "HistoryResult", "ReleaseResult"})


def __getattr__(name: str) -> Any:
    """The result classes load on first use (``safemigrate.results``): ``up`` never needs them."""
    if name in _RESULTS:
        from . import results

        return getattr(results, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# The event classes are imported where they are sent: a run whose sinks hear nothing (every
# `safemigrate up` with nothing pending: the terminal's sink does not listen to run_started and
# run_finished) never loads them.


class _Sinks:
    """Several sinks as one; each hears the kinds it listens to (its optional ``listens_to``), and
    ``listens_to`` says what any of them does (None: everything), so no event nobody hears is built."""

    __slots__ = ("listens_to", "sinks")

    def __init__(self, sinks: Sequence[tuple[EventSink, frozenset[str] | None]]) -> None:
        self.sinks = sinks
        heard = [kinds for _, kinds in sinks]
        self.listens_to = None if None in heard else frozenset().union(*(k for k in heard if k is not None))

    def __call__(self, event: Event) -> None:
        for sink, kinds in self.sinks:
            if kinds is None or event.kind in kinds:
                sink(event)


def _fan_out(events: Events, kind: str | None = None) -> EventSink | None:
    """``events`` as one sink (:func:`safemigrate.events.fan_out` without importing the event
    module before an event is sent); with ``kind``: only the sinks listening to it. None: no sink."""
    if events is None:
        return None
    listening = [(sink, getattr(sink, "listens_to", None)) for sink in ((events,) if callable(events) else events)]
    chosen = [(sink, kinds) for sink, kinds in listening if kind is None or kinds is None or kind in kinds]
    if not chosen:
        return None
    if len(chosen) == 1:  # it says what it listens to: the engine builds no other event for it
        return chosen[0][0]
    return _Sinks(chosen)


class LintGate:
    """Lints the files a command is about to run, before it runs any of them.

    Findings never block by default: a fresh database replays years of old
    migrations, and a drop-in for golang-migrate must run what golang-migrate
    runs. With ``strict`` error-level findings block (:class:`LintBlockedError`,
    nothing applied), unless a file acknowledges them (``-- safemigrate:ignore
    RULE -- reason``). Only the files about to run are linted, never those
    already applied. ``on_report(report, file_count)`` sees the report before a
    strict gate blocks (the CLI prints its summary there); ``report`` keeps it.
    """

    def __init__(self, *, strict: bool = False,
                 on_report: Callable[[LintReport, int], None] | None = None) -> None:
        self.strict = strict
        self.on_report = on_report
        self.report: LintReport | None = None

    def check(self, steps: Sequence[Step], driver: Driver) -> None:
        from .lint import lint_migrations
        from .lint import load_config as lint_config

        files = [step.file for step in steps if step.file is not None]
        if not files:
            return
        pg_version = _major(driver.server_version) if driver.dialect == "postgres" else None
        self.report = report = lint_migrations(files, dialect=driver.dialect, pg_version=pg_version,
                                               config=lint_config())
        if self.on_report is not None:
            self.on_report(report, len(files))
        if self.strict and report.fails():
            raise LintBlockedError(
                f"lint: {report.counts()['error']} error-level finding(s) in the migrations about to run; "
                "nothing was applied (`strict`)",
                hint="fix them, or acknowledge each on its statement with "
                "-- safemigrate:ignore RULE-ID -- reason, then run the command again",
                details={"lint": report.to_dict()},
                settings=("strict",),
            )


def _major(server_version: str) -> int | None:
    head = server_version.split()[0] if server_version else ""
    try:
        return int(head.split(".")[0])
    except ValueError:
        return None


@contextmanager
def migrator(config: Config, *, events: Events = None, cancel: CancelToken | None = None,
             lint: LintGate | None = None, pre_apply_check: Any = None) -> Iterator[Migrator]:
    """An open :class:`~safemigrate.engine.Migrator` for ``config``: the folder, the database, the lock timeout.

    ``cancel`` stops its run at the next safe point; ``events`` receive its warnings, steps and
    statements. ``lint`` checks the files about to run before any of them runs.
    """
    from .drivers import open_driver
    from .engine import Migrator
    from .source import load_source
    from .urls import parse_database_url

    url = parse_database_url(config.database_url)
    source = load_source(config.migrations_path, no_follow=config.no_follow)
    driver = open_driver(url)
    check = pre_apply_check
    if lint is not None:
        gate, given = lint, pre_apply_check

        def check(steps: Sequence[Step]) -> None:
            gate.check(steps, driver)
            if given is not None:
                given(steps)

    opened = Migrator(source, driver, lock_timeout=config.lock_timeout, events=_fan_out(events),
                      pre_apply_check=check)
    if cancel is not None:
        cancel.on_cancel(opened.interrupt)
    with opened:
        yield opened


def _run(config: Config, command: str, move: Callable[[Migrator], RunResult], *, events: Events,
         cancel: CancelToken | None, lint: LintGate | None, on_connect: OnConnect | None) -> RunResult:
    with migrator(config, events=events, cancel=cancel, lint=lint) as opened:
        starts, ends = _fan_out(events, "run_started"), _fan_out(events, "run_finished")
        if starts is None and ends is None:
            if on_connect is not None:
                on_connect(opened.driver)
            return move(opened)
        from .events import RunFinished, RunStarted

        database = opened.events.database
        if starts is not None:
            starts(RunStarted(database, command=command))
        try:
            if on_connect is not None:
                on_connect(opened.driver)
            result = move(opened)
        except BaseException:
            if ends is not None:
                try:
                    state = opened.driver.read_version()
                    ends(RunFinished(database, command=command, ok=False, version=state.version, dirty=state.dirty))
                except Exception:  # the connection may be gone with the failure; the error says what happened
                    ends(RunFinished(database, command=command, ok=False, version=None))
            raise
        if ends is not None:
            # The version the run read at its end (a dry run's: the one it started from, unchanged).
            state = result.start if result.dry_run else result.end
            ends(RunFinished(database, command=command, ok=True, version=state.version, dirty=state.dirty))
        return result


def up(config: Config, limit: int | None = None, *, dry_run: bool = False, atomic: bool = False,
       lint: LintGate | None = None, events: Events = None, cancel: CancelToken | None = None,
       on_connect: OnConnect | None = None) -> RunResult:
    """Apply all (or ``limit``) pending migrations; ``dry_run`` plans only.

    ``on_connect(driver)`` runs once connected, before anything changes (the CLI says which
    database it reached there).
    """
    return _run(config, "up", lambda m: m.up(limit, dry_run=dry_run, atomic=atomic), events=events,
                cancel=cancel, lint=lint, on_connect=on_connect)


def down(config: Config, limit: int | None = None, *, dry_run: bool = False,
         events: Events = None, cancel: CancelToken | None = None,
         on_connect: OnConnect | None = None) -> RunResult:
    """Apply ``limit`` down migrations (all of them when None: a library call never asks)."""
    return _run(config, "down", lambda m: m.down(limit, dry_run=dry_run), events=events, cancel=cancel,
                lint=None, on_connect=on_connect)


def goto(config: Config, target: int, *, dry_run: bool = False, lint: LintGate | None = None,
         events: Events = None, cancel: CancelToken | None = None,
         on_connect: OnConnect | None = None) -> RunResult:
    """Move up or down to version ``target``."""
    return _run(config, "goto", lambda m: m.goto(target, dry_run=dry_run), events=events, cancel=cancel,
                lint=lint, on_connect=on_connect)


def plan(config: Config, command: str = "up", argument: int | None = None, *, lint: LintGate | None = None,
         events: Events = None) -> RunResult:
    """What ``up [N]``, ``down [N]`` or ``goto V`` would run, SQL included; changes nothing."""
    with migrator(config, events=events, lint=lint) as opened:
        return opened.plan(command, argument)


def force(config: Config, target: int | None, *, events: Events = None, cancel: CancelToken | None = None,
          on_connect: OnConnect | None = None) -> VersionState:
    """golang-migrate's force: set version ``target`` (None, or golang-migrate's -1: none), clean, running nothing."""
    with migrator(config, events=events, cancel=cancel) as opened:
        if on_connect is not None:
            on_connect(opened.driver)
        return opened.force(target)


def drop(config: Config, *, events: Events = None,
         on_connect: OnConnect | None = None) -> list[str]:
    """Drop every table of the database's migration schema; the names of those dropped. Never asks."""
    with migrator(config, events=events) as opened:
        if on_connect is not None:
            on_connect(opened.driver)
        return opened.drop()


def version(config: Config) -> VersionState:
    """The version table's state (read-only)."""
    with migrator(config) as opened:
        return opened.version()


def status(config: Config, *, events: Events = None) -> StatusReport:
    """Every file against the version table and the history (read-only)."""
    with migrator(config, events=events) as opened:
        return opened.status()


def _open(config: Config) -> Driver:
    from .drivers import open_driver
    from .urls import parse_database_url

    driver = open_driver(parse_database_url(config.database_url))
    driver.connect()
    return driver


# -- config -----------------------------------------------------------------------------------

def config_show(config: Config) -> ConfigShowResult:
    """Every resolved setting of ``config``, where it came from, passwords masked."""
    from .results import ConfigShowResult

    return ConfigShowResult(config.file, config.env, tuple(config.shown()), config)


# -- check ------------------------------------------------------------------------------------

def check(config: Config, *, expect: int, at_least: bool = False) -> CheckResult:
    """Is the database at version ``expect`` (or newer with ``at_least``) and clean?

    Raises :class:`CheckFailedError` (exit 1) when it is not, with both versions and
    the command that would move the database; read-only, so a read-only role may run it.
    """
    from .results import CheckResult

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

def history(config: Config, *, limit: int | None = None, version: int | None = None,
            release_id: str | None = None) -> HistoryResult:
    """The last ``limit`` steps recorded (all of them by default), optionally of one ``version``.

    With ``release_id``: that release's report, and the steps it ran (recorded between its start and end).
    """
    from .history import HistoryTable
    from .release.record import ReleasesTable
    from .results import HistoryResult

    if limit is not None and limit < 1:
        raise UsageError(f"the history limit must be 1 or more, not {limit}")
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


# -- recover ----------------------------------------------------------------------------------

def recover_diagnose(config: Config, *, events: Events = None) -> Diagnosis:
    """What the failed migration of a dirty database left, and the repairs possible; read-only."""
    from .recover import diagnose

    with migrator(config, events=events) as opened:
        return diagnose(opened.driver, opened.source, opened.read_history())


def recover_repair(config: Config, choice: str | None = None, *, mark_version: int | None = None,
                   events: Events = None, cancel: CancelToken | None = None) -> RepairResult:
    """Diagnose again under the lock, then ``finish``, ``undo`` or ``mark`` (None: the only safe one).

    ``mark`` (the database repaired by hand) runs nothing: a caller asks a person first.
    """
    from .recover import repair

    with migrator(config, events=events, cancel=cancel) as opened:
        return repair(opened, choice, mark_version=mark_version)


def recover_finish(config: Config, **kwargs: Any) -> RepairResult:
    """Run the rest of the failed up migration (when the diagnosis says it is safe)."""
    return recover_repair(config, "finish", **kwargs)


def recover_undo(config: Config, **kwargs: Any) -> RepairResult:
    """Undo what the failed migration did (when the diagnosis says it is safe)."""
    return recover_repair(config, "undo", **kwargs)


# -- release ----------------------------------------------------------------------------------

def release(config: Config, *, to_version: int | None = None, dry_run: bool = False, no_backup: bool = False,
            allow_data_loss: bool = False, events: Events = None, cancel: CancelToken | None = None,
            on_step: Callable[[StepRecord], None] | None = None,
            on_connect: OnConnect | None = None) -> ReleaseResult:
    """The runbook's procedure under one held lock: pre-flight, backup, apply, health gate, rollback.

    Its settings are the ``release.*`` and ``backup.*`` ones of ``config``. Never raises for an
    outcome: the report says how it ended (``report.exit_code``); the report files are written
    to ``release.report_dir`` unless ``dry_run``.
    """
    from .cancel import CancelToken
    from .release.procedure import run_release
    from .release_options import release_options
    from .results import ReleaseResult

    options = release_options(config, to_version=to_version, dry_run=dry_run, no_backup=no_backup,
                              allow_data_loss=allow_data_loss)
    assert config.database_url is not None  # release_options refuses a configuration without one
    stop = cancel or CancelToken()  # pre-flight, the gate and the backups poll it
    with migrator(config, events=events) as opened:
        stop.on_cancel(opened.interrupt)  # the apply and the rollback stop through the migrator
        if on_connect is not None:
            on_connect(opened.driver)
        report = run_release(opened, options, env=config.env, database_url=config.database_url, cancel=stop,
                             on_step=on_step)
    if options.dry_run:
        return ReleaseResult(report)
    try:
        files = tuple(report.write(options.report_dir))
    except OSError as exc:  # after the release (pre-flight checked the folder): its outcome stands
        return ReleaseResult(report, report_error=f"the report could not be written to {options.report_dir}: "
                             f"{exc.strerror or exc}")
    return ReleaseResult(report, files)


def preflight(config: Config, *, to_version: int | None = None, **kwargs: Any) -> ReleaseResult:
    """Every pre-flight check of a release, changing nothing (``release(dry_run=True)``)."""
    return release(config, to_version=to_version, dry_run=True, **kwargs)


# -- backups ----------------------------------------------------------------------------------

def backup_storage(config: Config, *, location: str | None = None, s3_endpoint_url: str | None = None,
                   work_dir: str | None = None) -> Storage:
    """The backup storage: the values given, else ``backup.location``, ``backup.s3_endpoint_url``, ...."""
    from .backup import open_storage

    return open_storage(location or config.backup("location"),
                        s3_endpoint_url=s3_endpoint_url or config.backup("s3_endpoint_url"),
                        work_dir=work_dir or config.backup("work_dir"))


def _selector(config: Config, database_name: str | None) -> DatabaseSelector | None:
    """The database ``latest`` means: ``database_name``, else the URL's database, else None."""
    from .backup.catalog import selector_for
    from .urls import parse_database_url

    if database_name:
        return selector_for(None, database_name)
    return selector_for(parse_database_url(config.database_url)) if config.database_url else None


def backup_resolve(config: Config, backup_id: str, *, storage: Storage | None = None,
                   database_name: str | None = None) -> str:
    """``backup_id`` itself, or for ``latest`` the newest backup of the database (never another's)."""
    from .backup.catalog import resolve_backup_id

    storage = storage or backup_storage(config)
    return resolve_backup_id(storage, backup_id, _selector(config, database_name))


def _progress(events: Events, database: str) -> ProgressCallback | None:
    """The backup modules' callback that turns their reports into typed events for the sinks."""
    if events is None:
        return None
    from .backup.progress import InfoEvent as BackupInfo
    from .backup.progress import ProgressEvent
    from .backup.progress import WarningEvent as BackupWarning
    from .events import BytesProgress, InfoEvent, WarningEvent, fan_out

    sink = fan_out(events)

    def deliver(event: BackupEvent) -> None:
        if isinstance(event, ProgressEvent):
            sink(BytesProgress(database, phase=event.stage, done=event.done, total=event.total,
                               elapsed=event.elapsed, final=event.final))
        elif isinstance(event, BackupWarning):
            sink(WarningEvent(database, message=event.message))
        elif isinstance(event, BackupInfo):
            sink(InfoEvent(database, message=event.message))

    return deliver


def _database_named(config: Config, storage: Storage) -> str:
    """What a verification's or a restore's events name: the configured database (password masked),
    else (a SQLite target with no server) the storage the backup comes from."""
    if config.database_url:
        from .urls import parse_database_url

        return parse_database_url(config.database_url).redacted()
    return storage.location


def backup_create(config: Config, options: CreateOptions | None = None, *, storage: Storage | None = None,
                  verify: str | None = None, verify_options: RestoreOptions | None = None,
                  events: Events = None, cancel: Cancel | None = None) -> BackupCreateResult:
    """Back up the database of ``config``; then, with ``verify`` ``"full"`` (a real restore into a
    scratch database) or ``"quick"``, prove it restorable. Progress and warnings go to ``events``."""
    from .backup import create_backup, verify_backup
    from .backup.progress import WarningEvent as BackupWarning
    from .backup.progress import stopped_as
    from .results import BackupCreateResult
    from .urls import parse_database_url

    url = parse_database_url(config.database_url)
    storage = storage or backup_storage(config)
    report = _progress(events, url.redacted())
    manifest = create_backup(url, storage, options, report, cancel=cancel)
    for warning in manifest.extra.get("warnings", []):
        if report is not None:
            report(BackupWarning(str(warning)))
    if verify is None:
        return BackupCreateResult(storage.location, manifest)
    with stopped_as(cancel, "the verification"):
        checked = verify_backup(storage, manifest.id, database_url=url, quick=verify == "quick",
                                options=verify_options, progress=report, cancel=cancel)
    return BackupCreateResult(storage.location, manifest, checked, storage.read_manifest(manifest.id))


def backup_verify(config: Config, backup_id: str, *, storage: Storage | None = None,
                  database_name: str | None = None, quick: bool = False, options: RestoreOptions | None = None,
                  events: Events = None, cancel: Cancel | None = None) -> VerifyResult:
    """Prove backup ``backup_id`` (or ``latest``) restorable; the result is recorded in its manifest."""
    from .backup import verify_backup
    from .backup.progress import stopped_as

    storage = storage or backup_storage(config)
    chosen = backup_resolve(config, backup_id, storage=storage, database_name=database_name)
    with stopped_as(cancel, "the verification"):
        return verify_backup(storage, chosen, database_url=config.database_url, quick=quick, options=options,
                             progress=_progress(events, _database_named(config, storage)), cancel=cancel)


def backup_restore(config: Config, backup_id: str, *, storage: Storage | None = None,
                   database_name: str | None = None, target: str | None = None, replace: bool = False,
                   confirmed: bool = False, options: RestoreOptions | None = None,
                   from_database: str | None = None, events: Events = None,
                   cancel: Cancel | None = None) -> RestoreResult:
    """Restore ``backup_id`` (or ``latest``) into a new database, or with ``replace`` (and
    ``confirmed``: a library call does not ask) over the database of ``config``."""
    from .backup import restore_backup
    from .backup.progress import stopped_as
    from .urls import parse_database_url

    storage = storage or backup_storage(config)
    chosen = backup_resolve(config, backup_id, storage=storage, database_name=database_name)
    url = parse_database_url(config.database_url) if config.database_url else None
    with stopped_as(cancel, "the restore"):
        return restore_backup(storage, chosen, url, target=target, replace=replace, confirmed=confirmed,
                              options=options, progress=_progress(events, _database_named(config, storage)),
                              from_database=from_database, cancel=cancel)


def backup_policy(config: Config, *, daily: int | None = None, weekly: int | None = None,
                  monthly: int | None = None, within: str = "1d", timezone: str = "UTC") -> Policy:
    """The retention policy: each count given here, else the configuration's ``backup.keep_*``
    (its ``[env.NAME]`` too), whose defaults are 7 days, 4 weeks and 12 months."""
    from .backup import Policy
    from .backup.retention import parse_duration

    def keep(given: int | None, setting: str) -> int:
        return given if given is not None else int(config.backup(setting))

    return Policy(daily=keep(daily, "keep_daily"), weekly=keep(weekly, "keep_weekly"),
                  monthly=keep(monthly, "keep_monthly"), timezone=timezone, within=parse_duration(within))


def backup_prune(config: Config, policy: Policy | None = None, *, storage: Storage | None = None,
                 database_name: str | None = None, dry_run: bool = False,
                 cancel: Cancel | None = None) -> PruneResult:
    """Delete the backups ``policy`` does not keep (verified ones only count); ``dry_run`` plans only.
    Without ``policy``: the configuration's (:func:`backup_policy`)."""
    from .backup import prune
    from .backup.progress import stopped_as

    policy = policy or backup_policy(config)
    storage = storage or backup_storage(config)
    with stopped_as(cancel, "the prune"):
        return prune(storage, policy, dry_run=dry_run, selector=_selector(config, database_name), cancel=cancel)


def backup_show(config: Config, backup_id: str, *, storage: Storage | None = None,
                database_name: str | None = None) -> Manifest:
    """The manifest of backup ``backup_id`` (or ``latest``)."""
    from .backup import show_backup

    storage = storage or backup_storage(config)
    return show_backup(storage, backup_resolve(config, backup_id, storage=storage, database_name=database_name))


def backup_list(config: Config, *, storage: Storage | None = None, database_name: str | None = None,
                all_databases: bool = False, check: bool = False, cancel: Cancel | None = None) -> BackupListResult:
    """The backups of the configured database (``all_databases``: every one); ``check`` re-hashes
    their files now, marking a damaged one failed."""
    from .backup import list_backups
    from .backup.catalog import check_files
    from .results import BackupListResult

    storage = storage or backup_storage(config)
    listing = list_backups(storage)
    selector = None if all_databases else _selector(config, database_name)
    backups = tuple(m for m in listing.backups if selector is None or selector.matches(m))
    damaged: dict[str, str] = {}
    if check:
        for m in backups:
            problem = check_files(storage, m, cancel=cancel)
            if problem is not None:
                damaged[m.id] = problem
    return BackupListResult(storage.location, backups, selector.name if selector is not None else None,
                            tuple(listing.incomplete), dict(listing.broken), check, damaged)


def backup_pin(config: Config, backup_id: str, *, storage: Storage | None = None,
               pinned: bool = True) -> BackupPinResult:
    """Pin backup ``backup_id`` (or ``latest``): prune never deletes it; ``pinned=False`` unpins it."""
    from .backup import pin_backup
    from .results import BackupPinResult

    storage = storage or backup_storage(config)
    manifest = pin_backup(storage, backup_resolve(config, backup_id, storage=storage), pinned=pinned)
    return BackupPinResult(manifest.id, manifest.pinned)


def backup_unpin(config: Config, backup_id: str, *, storage: Storage | None = None) -> BackupPinResult:
    """Unpin backup ``backup_id`` (or ``latest``): the retention policy decides again."""
    return backup_pin(config, backup_id, storage=storage, pinned=False)


def backup_import(config: Config, file: str, options: ImportOptions | None = None, *,
                  storage: Storage | None = None, verify: bool = False,
                  verify_options: RestoreOptions | None = None, events: Events = None,
                  cancel: Cancel | None = None) -> BackupCreateResult:
    """Store an existing pg_dump file as a backup, once restored into a scratch database on the
    configured server (the proof it restores); ``verify``: verify the stored backup right after."""
    from .backup import verify_backup
    from .backup.importer import import_dump
    from .results import BackupCreateResult
    from .urls import parse_database_url

    url = parse_database_url(config.database_url)
    storage = storage or backup_storage(config)
    manifest = import_dump(file, storage, url, options)
    if not verify:
        return BackupCreateResult(storage.location, manifest)
    checked = verify_backup(storage, manifest.id, database_url=url, options=verify_options,
                            progress=_progress(events, url.redacted()), cancel=cancel)
    return BackupCreateResult(storage.location, manifest, checked, storage.read_manifest(manifest.id))


def lint(config: Config, paths: Sequence[str] = (), *, dialect: str | None = None, pg_version: int | None = None,
         fail_on: str | None = None, jobs: int | None = None) -> LintResult:
    """Lint migration files and folders (default: the configured migrations folder) with the
    configuration's ``[lint]`` table; the findings as data (``to_dict()``), formatting left to the
    caller. ``dialect`` defaults to the database URL's, else postgres; ``fail_on`` (error or
    warning, default the ``[lint]`` table's, else error) decides ``result.failed``; ``jobs``:
    processes (None: one per CPU when there are enough files to gain from it)."""
    from .lint import Severity, lint_paths
    from .lint.model import LintResult

    settings = config.lint
    chosen_dialect = dialect or _dialect_of(config.database_url) or "postgres"
    targets = list(paths) or [config.migrations_path]
    report = lint_paths(targets, dialect=chosen_dialect, pg_version=pg_version, config=settings, jobs=jobs)
    threshold = Severity(fail_on) if fail_on else (settings.fail_on or Severity.ERROR)
    return LintResult(report, threshold)


def _dialect_of(url: str | None) -> str | None:
    """The SQL dialect of a database URL's scheme (None without a URL)."""
    if not url:
        return None
    from .urls import SCHEMES

    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    found = SCHEMES.get(scheme)
    if found is None:
        raise UsageError(f"cannot tell the SQL dialect from the database URL scheme {scheme!r}",
                         hint="pass `dialect` postgres, sqlite or mysql", settings=("dialect",))
    return found
