"""``safemigrate release``: the runbook's production procedure as one command.

Pre-flight, notify, ``--before`` hooks, a backup proven by a real restore, apply
exactly what was planned, the health gate, and when the gate fails the rollback
ladder (a data-safety check, the down files, the gate again, then a restore of the
pre-release backup if allowed), ``--after`` hooks, notify, and a report. The
migration lock is held from pre-flight to the end, rollback included, so no
other runner can interleave (except across a restore, which replaces the
database the lock lives in: the lock is taken again on the restored database).

Each phase adds :class:`StepRecord` rows to the :class:`ReleaseReport`; the
outcome and exit status follow docs/release.md:

==========  ====  ==========================================================
released    0     applied and healthy (or nothing to apply)
failed /    1     refused by pre-flight, or failed and brought back to a clean,
rolled_back       healthy state
held        3     stopped for a human: inconclusive gate, data at risk, rollback
                  not allowed, a statement-mode migration left dirty
rollback    4     the rollback itself failed: the report says the state and the
_failed           next command
==========  ====  ==========================================================
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn

from .._version import __version__
from ..drivers.base import local_identity
from ..errors import (
    LockTimeoutError,
    MigrationFailedError,
    RunInterruptedError,
    SafemigrateError,
    UsageError,
)
from .health import (
    GatePolicy,
    GateResult,
    HttpProbe,
    LogWatcher,
    Probe,
    Verdict,
    parse_expectation,
    run_gate,
)
from .hooks import Hook, run_hook
from .notify import notify
from .record import ReleaseFile, ReleasesTable
from .report import Outcome, ReleaseReport, StepRecord, StepStatus, secrets_of

if TYPE_CHECKING:
    from ..backup.progress import Cancel
    from ..engine import Migrator
    from ..planner import Step

__all__ = ["CHECKS", "ReleaseOptions", "run_release"]

CheckLevel = Literal["error", "warn", "off"]

# Every pre-flight check and its default level; each is configurable (release.checks.NAME).
CHECKS: dict[str, CheckLevel] = {
    "connect": "error",
    "clean": "error",
    "lock": "error",
    "folder": "error",
    "down_files": "error",
    "lint": "error",
    "destructive": "error",
    "privileges": "error",
    "dependencies": "warn",
    "table_sizes": "warn",
    "blocking_sessions": "warn",
    "replication": "warn",
    "backup_location": "error",
    "dump_tools": "error",
    "report_dir": "error",
    "health": "error",
    "staging": "error",
}


@dataclass
class ReleaseOptions:
    to_version: int | None = None
    dry_run: bool = False
    allow_destructive: bool = False
    no_backup: bool = False
    backup_location: str | None = None
    s3_endpoint_url: str | None = None
    work_dir: str | None = None
    health_urls: Sequence[str] = ()
    health_expect: Sequence[str] = ()
    health_cmds: Sequence[Sequence[str]] = ()
    log_cmd: Sequence[str] = ()
    log_fail_pattern: str | None = None
    gate: GatePolicy = field(default_factory=GatePolicy)
    on_failure: Literal["rollback", "restore", "stop"] = "rollback"
    on_inconclusive: Literal["hold", "rollback"] = "hold"
    allow_data_loss: bool = False
    before: Sequence[Hook] = ()
    after: Sequence[Hook] = ()
    before_restore: Sequence[Hook] = ()
    after_restore: Sequence[Hook] = ()
    notify_urls: Sequence[str] = ()
    report_dir: Path = Path("releases")
    require_env: str | None = None
    require_env_url: str | None = None  # the staging database, resolved by the caller
    checks: dict[str, CheckLevel] = field(default_factory=dict)
    migration_lock_timeout: float = 5.0
    statement_timeout: float | None = None
    retries: int = 3
    size_warn_bytes: int = 1 << 30
    size_warn_rows: int = 1_000_000
    replication_lag_warn: float = 60.0
    long_transaction_seconds: float = 60.0
    named_secrets: frozenset[str] = frozenset()


class _Finished(Exception):
    """Stop the procedure here: the report already says how it ended."""


def new_release_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def _nearest_existing(path: Path) -> Path:
    """``path`` if it exists, else its nearest ancestor that does (a folder a release would make
    is checked where it would be made)."""
    return path if path.exists() else next((p for p in path.parents if p.exists()), Path("/"))


class _Release:
    def __init__(self, migrator: Migrator, options: ReleaseOptions, report: ReleaseReport,
                 cancel: Cancel, env: str | None, database_url: str) -> None:
        self.m = migrator
        self.driver = migrator.driver
        self.o = options
        self.report = report
        self.cancel = cancel
        self.env = env
        self.database_url = database_url
        self.steps: list[Step] = []
        self.start_version: int | None = None
        self.backup_id: str | None = None
        self.before_hooks_ran = False
        self.applied = False
        self.probes: list[Probe] = [HttpProbe(url, [parse_expectation(e) for e in options.health_expect])
                                    for url in options.health_urls]
        from .health import CommandProbe

        self.probes += [CommandProbe(list(cmd), env=self.child_env()) for cmd in options.health_cmds]
        self.log_lines_seen: set[str] = set()
        self.columns_before: dict[str, frozenset[str]] = {}

    # -- helpers --------------------------------------------------------------------------------
    def child_env(self) -> dict[str, str]:
        """The environment of --health-cmd and --log-cmd: as a hook's, without the database URL or
        any variable holding the password."""
        from ..childenv import child_environment

        return child_environment(named_secrets=self.o.named_secrets, secret_values=self.report.secrets)

    def level(self, check: str) -> CheckLevel:
        return self.o.checks.get(check, CHECKS[check])

    def step(self, phase: str, name: str, status: StepStatus, reason: str = "", started: float | None = None,
             **details: Any) -> StepRecord:
        took = time.monotonic() - started if started is not None else 0.0
        return self.report.add(StepRecord(phase, name, status, reason, took, details))

    def check(self, key: str, name: str, run: Callable[[], tuple[bool, str, dict[str, Any]]]) -> bool:
        """One pre-flight check: passed, or failed/warned by its level; off skips it."""
        # A signal stops pre-flight at the next check: nothing has changed yet, so there is
        # nothing to finish, and the checks after it would only delay the exit.
        self.check_cancel("during pre-flight (nothing was changed)")
        level = self.level(key)
        if level == "off":
            self.step("preflight", name, StepStatus.SKIPPED, "turned off (release.checks)")
            return True
        started = time.monotonic()
        ok, reason, details = run()
        if ok:
            self.step("preflight", name, StepStatus.PASSED, reason, started, **details)
            return True
        status = StepStatus.FAILED if level == "error" else StepStatus.WARNED
        self.step("preflight", name, status, reason, started, **details)
        return level != "error"

    def stop(self, outcome: Outcome, summary: str, next_command: str | None = None) -> NoReturn:
        self.report.finish(outcome, summary, next_command=next_command)
        raise _Finished()

    def check_cancel(self, where: str) -> None:
        if self.cancel.is_set():
            state = self.driver.read_version()
            self.report.version_after, self.report.dirty_after = state.version, state.dirty
            self.stop(Outcome.INTERRUPTED, f"stopped by a signal {where}; the database is at version "
                      f"{state.describe()}", "safemigrate status")

    def context(self, outcome: str = "") -> dict[str, str | int | None]:
        return {"release_id": self.report.id, "env": self.env or "", "from_version": self.start_version,
                "to_version": self.report.to_version, "backup_id": self.backup_id, "outcome": outcome}

    # -- 1. pre-flight ----------------------------------------------------------------------------
    def preflight(self) -> None:
        state = self.driver.read_version()
        self.start_version = state.version
        self.report.from_version = state.version
        self.step("preflight", "database answers", StepStatus.PASSED,
                  f"{self.driver.database_name} on {self.driver.dialect} {self.driver.server_version}".strip())
        ok = self.check("clean", "version is clean", lambda: (
            not state.dirty,
            f"version {state.describe()}" if not state.dirty else
            f"the database is dirty at version {state.as_int}: a migration did not finish", {}))
        if not ok:
            self.stop(Outcome.REFUSED, f"refused: the database is dirty at version {state.as_int}",
                      "safemigrate status (then repair and force the version) before releasing")
        plan = self._plan(state.version)
        self.plan = plan
        self.steps = list(plan.steps)
        self.report.to_version = plan.end if self.steps else state.version
        self.step("preflight", "plan", StepStatus.PASSED,
                  "nothing to apply" if not self.steps else
                  f"{len(self.steps)} migration(s): {state.describe()} → {self.report.to_version}",
                  migrations=[s.log_string for s in self.steps])
        results = [
            self.check("folder", "folder agrees with the database", self._folder_check),
            self.check("down_files", "every pending migration has a down file", self._down_files_check),
            self.check("lint", "lint: no error-level finding", self._lint_check),
            self.check("destructive", "destructive statements acknowledged", self._destructive_check),
        ]
        if self.driver.dialect == "postgres":
            results.append(self.check("privileges", "privileges", self._privileges_check))
            results.append(self.check("dependencies", "what depends on dropped or renamed objects",
                                      self._dependencies_check))
            results.append(self.check("table_sizes", "size of tables rewritten or scanned", self._sizes_check))
            results.append(self.check("blocking_sessions", "sessions in the way of our locks",
                                      self._blocking_check))
            results.append(self.check("replication", "replication lag", self._replication_check))
        if not self.o.no_backup and self.steps:
            results.append(self.check("backup_location", "backup location usable", self._backup_location_check))
            results.append(self.check("dump_tools", "dump tools present and compatible", self._dump_tools_check))
        results.append(self.check("report_dir", "report folder writable", self._report_dir_check))
        if self.probes:
            results.append(self.check("health", "application healthy before the release", self._health_before))
        if self.o.require_env:
            results.append(self.check("staging", f"released on {self.o.require_env} first", self._staging_check))
        self.check_cancel("during pre-flight (nothing was changed)")
        if not all(results):
            failed = [s.name for s in self.report.steps if s.phase == "preflight" and s.status is StepStatus.FAILED]
            self.stop(Outcome.REFUSED, "refused by pre-flight: " + "; ".join(failed) + ". Nothing was changed",
                      "fix what failed, or set its level in [release.checks], then run the release again")

    def _plan(self, current: int | None) -> Any:
        from ..planner import plan_goto, plan_up

        if self.o.to_version is not None:
            plan = plan_goto(self.m.source, current, self.o.to_version)
            if any(step.direction == "down" for step in plan.steps):
                raise UsageError(f"`to_version` {self.o.to_version} is below the current version {current}",
                                 hint="a release only moves up; roll back with safemigrate goto V",
                                 settings=("to_version",))
        else:
            plan = plan_up(self.m.source, current)
        if plan.error is not None and not plan.steps:
            raise plan.error
        return plan

    def _folder_check(self) -> tuple[bool, str, dict[str, Any]]:
        status = self.m.status()
        problems = [p.message for p in status.problems if p.code in ("edited", "skipped", "version-missing")]
        if problems:
            return False, "; ".join(problems[:5]) + (" …" if len(problems) > 5 else ""), {"problems": problems}
        return True, "no edited, skipped or missing file", {}

    def _down_files_check(self) -> tuple[bool, str, dict[str, Any]]:
        missing = [s.log_string for s in self.steps if self.m.source.down_file(s.version) is None]
        if missing:
            return False, "no down file for " + ", ".join(missing) + " (the rollback could not undo them)", {
                "missing": missing}
        return True, f"{len(self.steps)} down file(s) present" if self.steps else "nothing pending", {}

    def _lint_report(self) -> Any:
        if not hasattr(self, "_lint"):
            from ..lint import lint_migrations

            files = [step.file for step in self.steps if step.file is not None]
            self._lint = lint_migrations(files, dialect=self.driver.dialect) if files else None
        return self._lint

    def _lint_check(self) -> tuple[bool, str, dict[str, Any]]:
        report = self._lint_report()
        if report is None:
            return True, "nothing pending", {}
        errors = [f for f in report.findings if f.severity.value == "error"]
        counts = report.counts()
        summary = f"{counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} note(s)"
        details = {"findings": [f"{f.path}:{f.line}:{f.column} {f.rule_id}: {f.message}" for f in errors]}
        return not errors, summary + ("; " + "; ".join(details["findings"][:3]) if errors else ""), details

    def _destructive_check(self) -> tuple[bool, str, dict[str, Any]]:
        from ..lint import get_rule

        report = self._lint_report()
        if report is None:
            return True, "nothing pending", {}
        found = [f for f in report.findings if get_rule(f.rule_id).family == "destructive"]
        listed = [f"{f.path}:{f.line} {f.rule_id}" for f in found]
        if not found:
            return True, "none", {}
        if self.o.allow_destructive:
            return True, f"{len(found)} allowed by `release.allow_destructive`: " + ", ".join(listed[:3]), {
                "statements": listed}
        return False, (f"{len(found)} unacknowledged: " + ", ".join(listed[:3])
                       + " (acknowledge each with -- safemigrate:ignore RULE -- reason, or set `release.allow_destructive`)"), {
            "statements": listed}

    def _pending_targets(self) -> list[Any]:
        from .catalog import statement_targets

        targets = []
        for step in self.steps:
            if step.file is not None:
                targets.extend(statement_targets(step.file.text))
        return targets

    def _privileges_check(self) -> tuple[bool, str, dict[str, Any]]:
        rows = self.driver.query("SELECT current_user, current_schema(), "
                                 "has_schema_privilege(current_schema(), 'CREATE')")
        user, schema, can_create = rows[0]
        problems = [] if can_create else [f"{user} may not CREATE in schema {schema} "
                                          f"(GRANT CREATE ON SCHEMA {schema} TO {user})"]
        tables = sorted({t.table for t in self._pending_targets()})
        for table in tables:
            owned = self.driver.query(
                "SELECT pg_has_role(current_user, c.relowner, 'USAGE'), pg_get_userbyid(c.relowner) "
                "FROM pg_class c WHERE c.oid = to_regclass(%s)", [table])
            if owned and not owned[0][0]:
                problems.append(f"{user} does not own {table} (owner {owned[0][1]}): ALTER and DROP will fail")
        if problems:
            return False, "; ".join(problems), {"problems": problems}
        return True, f"{user} may create in {schema}" + (f" and owns {', '.join(tables)}" if tables else ""), {}

    def _dependencies_check(self) -> tuple[bool, str, dict[str, Any]]:
        from .catalog import dependents

        found = dependents(self.driver, self._pending_targets())
        if not found:
            return True, "nothing depends on what the pending files drop or rename", {}
        lines = [f"{d.target.describe()}: {d.description}" + (" (dropped with it)" if d.goes_with_it else "")
                 for d in found]
        return False, "; ".join(lines[:5]) + (" …" if len(lines) > 5 else ""), {"dependents": lines}

    def _sizes_check(self) -> tuple[bool, str, dict[str, Any]]:
        from ..backup.manifest import human_size
        from .catalog import relation_sizes

        sizes = relation_sizes(self.driver, self._pending_targets())
        big = [s for s in sizes if s.bytes >= self.o.size_warn_bytes or s.rows >= self.o.size_warn_rows]
        listed = [f"{s.table}: {human_size(s.bytes)}, ~{s.rows} rows ({', '.join(t.describe() for t in s.targets)})"
                  for s in sizes]
        if big:
            return False, ("large tables locked for a rewrite or scan (run in a maintenance window): "
                           + "; ".join(listed)), {"tables": [s.to_dict() for s in sizes]}
        return True, "; ".join(listed) if listed else "no table rewritten or scanned", {}

    def _blocking_check(self) -> tuple[bool, str, dict[str, Any]]:
        from .catalog import blocking_sessions

        tables = sorted({t.table for t in self._pending_targets()})
        found = blocking_sessions(self.driver, tables, older_than=self.o.long_transaction_seconds)
        if found:
            return False, "; ".join(s.describe() for s in found), {"sessions": [s.to_dict() for s in found]}
        return True, "none", {}

    def _replication_check(self) -> tuple[bool, str, dict[str, Any]]:
        from .catalog import replication_lag

        replicas = replication_lag(self.driver)
        behind = [r for r in replicas if (r.replay_lag_seconds or 0) > self.o.replication_lag_warn]
        if behind:
            return False, "; ".join(f"{r.name} is {r.replay_lag_seconds:.0f} s behind" for r in behind), {}
        return True, f"{len(replicas)} replica(s), none behind" if replicas else "no replicas", {}

    def _storage(self) -> Any:
        from ..backup import open_storage

        return open_storage(self.o.backup_location, s3_endpoint_url=self.o.s3_endpoint_url,
                            work_dir=self.o.work_dir)

    def _backup_location_check(self) -> tuple[bool, str, dict[str, Any]]:
        storage = self._storage()
        location = str(storage.location)
        if location.startswith("s3://"):
            from .preflight_storage import probe_s3

            return probe_s3(storage)
        folder = Path(location)
        existing = _nearest_existing(folder)
        free = shutil.disk_usage(existing).free
        size = self._database_size()
        need = int(size * 0.5)  # a compressed dump is well under half the database; the last ratio is better
        if size and free < need:
            return False, f"{free >> 20} MiB free in {existing}, a backup of this database needs ~{need >> 20} MiB", {}
        return True, f"{free >> 20} MiB free in {existing}", {}

    def _report_dir_check(self) -> tuple[bool, str, dict[str, Any]]:
        """The report is written after everything else: a folder it cannot be written to is
        found now, before anything changes, not after the migrations ran."""
        folder = self.o.report_dir
        existing = _nearest_existing(folder)
        if not existing.is_dir():
            where = f"{existing} is not a folder" + ("" if existing == folder else f", so {folder} cannot be made")
            return False, where, {"report_dir": str(folder)}
        if not os.access(existing, os.W_OK | os.X_OK):
            return False, f"{existing} cannot be written to (report folder {folder})", {"report_dir": str(folder)}
        return True, str(folder) if existing == folder else f"{folder} (made by the release)", {}

    def _dump_tools_check(self) -> tuple[bool, str, dict[str, Any]]:
        from .preflight_storage import dump_tools_check

        return dump_tools_check(self.driver.dialect, self.driver.server_version)

    def _database_size(self) -> int:
        if self.driver.dialect == "postgres":
            return int(self.driver.query("SELECT pg_database_size(current_database())")[0][0])
        if self.driver.dialect == "mysql":
            rows = self.driver.query("SELECT COALESCE(SUM(data_length + index_length), 0) FROM "
                                     "information_schema.tables WHERE table_schema = DATABASE()")
            return int(rows[0][0])
        path = getattr(self.driver, "path", None)
        return os.path.getsize(path) if path and os.path.exists(path) else 0

    def _health_before(self) -> tuple[bool, str, dict[str, Any]]:
        policy = GatePolicy(interval=self.o.gate.interval, timeout=self.o.gate.timeout, success_threshold=1,
                            failure_limit=1, error_limit=min(2, self.o.gate.error_limit),
                            deadline=min(self.o.gate.deadline, 30.0))
        result = run_gate(self.probes, policy, cancel=self.cancel)
        last = result.measurements[-1].detail if result.measurements else ""
        if result.verdict is Verdict.PASSED:
            return True, last, {}
        return False, (f"{result.verdict.value}: {last} (an application that is already unhealthy must "
                       "never trigger a database rollback)"), {"gate": result.to_dict()}

    def _staging_check(self) -> tuple[bool, str, dict[str, Any]]:
        from ..drivers import open_driver

        wanted = self._release_files()
        if not wanted:
            return True, "nothing pending", {}
        if not self.o.require_env_url:
            return False, f"no database URL for environment {self.o.require_env}", {}
        other = open_driver(self.o.require_env_url)
        other.connect()
        try:
            rows = ReleasesTable(other).read(env=self.o.require_env)
        finally:
            other.close()
        released = {(f.version, f.checksum) for row in rows if row.outcome == "released" for f in row.files}
        differ = [f"{f.version} {f.name}" for f in wanted if (f.version, f.checksum) not in released]
        if differ:
            return False, (f"not released successfully on {self.o.require_env} with these exact contents: "
                           + ", ".join(differ)), {"files": differ}
        return True, f"all {len(wanted)} file(s) were released on {self.o.require_env}", {}

    def _release_files(self) -> list[ReleaseFile]:
        return [ReleaseFile(s.version, s.name, s.file.sha256)
                for s in self.steps if s.file is not None]

    # -- 2-3. notify, hooks -----------------------------------------------------------------------
    def notify(self, event: str, text: str) -> None:
        fields: dict[str, Any] = {"event": event, **self.context(self.report.outcome or "")}
        if event == "finished":
            fields.update(self._finish_fields())
            text += f" (report: {fields['report']})"
        for url in self.o.notify_urls:
            started = time.monotonic()
            result = notify(url, text, fields, secrets=self.report.secrets)
            self.step("notify", f"{event}: {result.url}", StepStatus.PASSED if result.ok else StepStatus.WARNED,
                      result.detail if result.ok else f"{result.detail} (the release goes on)", started)

    def _finish_fields(self) -> dict[str, Any]:
        """What the closing notification adds: versions, durations (in all and per phase), the report."""
        phases: dict[str, float] = {}
        for step in self.report.steps:
            phases[step.phase] = round(phases.get(step.phase, 0.0) + step.duration, 3)
        return {"version_after": self.report.version_after, "dirty_after": self.report.dirty_after,
                "duration_s": round((datetime.now(UTC) - self.report.started_at).total_seconds(), 3),
                "phases_s": phases, "summary": self.report.summary,
                "report": str(self.o.report_dir / f"{self.report.id}.json")}

    def hooks(self, phase: str, hooks: Sequence[Hook], outcome: str = "") -> bool:
        for hook in hooks:
            result = run_hook(hook, phase, self.context(outcome), secrets=self.report.secrets,
                              named_secrets=self.o.named_secrets)
            reason = "exit 0" if result.ok else (
                "timed out" if result.exit_code is None else f"exit {result.exit_code}")
            self.report.add(StepRecord("hook", f"{phase}: {hook.shown}",
                                       StepStatus.PASSED if result.ok else StepStatus.FAILED, reason,
                                       result.duration, {"output": result.output}))
            if not result.ok:
                return False
        return True

    # -- 4. backup ------------------------------------------------------------------------------
    def backup(self) -> None:
        if self.o.no_backup:
            self.step("backup", "backup", StepStatus.SKIPPED, "`no_backup` given: no backup was taken")
            return
        from ..backup import CreateOptions, create_backup, pin_backup, verify_backup

        started = time.monotonic()
        storage = self._storage()
        try:
            with self._signal_raises():
                manifest = create_backup(self.database_url, storage, CreateOptions(
                    label=f"release {self.report.id}", pin=True), cancel=self.cancel)
                self.backup_id = manifest.id
                self.report.backup_id = manifest.id
                verified = verify_backup(storage, manifest.id, database_url=self.database_url,
                                         cancel=self.cancel)
        except RunInterruptedError as exc:
            self._backup_interrupted(exc, started)
        except SafemigrateError as exc:
            self.step("backup", "backup verified by a restore", StepStatus.FAILED, exc.message, started)
            self.stop(Outcome.REFUSED, f"the backup failed: {exc.message}. Nothing was applied",
                      exc.hint or "fix the backup, then run the release again")
        pin_backup(storage, manifest.id, pinned=True)
        self.step("backup", "backup verified by a restore", StepStatus.PASSED,
                  f"{manifest.id} in {storage.location}: " + "; ".join(verified.verification.checks[:2]),
                  started, backup_id=manifest.id)
        if self.driver.dialect == "postgres":
            self._restore_point()

    @contextmanager
    def _signal_raises(self) -> Iterator[None]:
        """The backup phase: a signal before it stops here; during it, the backup code polls the
        token (``cancel=``), stops its tools and raises RunInterruptedError."""
        self.check_cancel("before the backup")
        yield

    def _backup_interrupted(self, exc: RunInterruptedError, started: float) -> NoReturn:
        self.step("backup", "backup verified by a restore", StepStatus.FAILED, exc.message, started)
        state = self.driver.read_version()
        self.report.version_after, self.report.dirty_after = state.version, state.dirty
        kept = (f"; backup {self.backup_id} was taken but not verified" if self.backup_id else
                "; the incomplete backup was removed")
        self.stop(Outcome.INTERRUPTED, f"stopped by a signal during the backup: nothing was applied, the "
                  f"database is at version {state.describe()}{kept}", "run the release again when ready")

    def _restore_point(self) -> None:
        name = f"safemigrate-{self.report.id}"
        try:
            lsn = self.driver.query("SELECT pg_create_restore_point(%s)::text", [name])[0][0]
        except Exception as exc:
            info = self.driver.describe_error(exc)
            if info is None:
                raise
            if self.driver.in_transaction():
                self.driver.execute("ROLLBACK")
            self.step("backup", "restore point", StepStatus.SKIPPED, f"not created: {info.message}")
            return
        self.step("backup", "restore point", StepStatus.PASSED, f"{name} at {lsn} (for point-in-time recovery)",
                  restore_point=name, lsn=lsn)

    # -- 5. apply -------------------------------------------------------------------------------
    def apply(self) -> None:
        from .datasafety import snapshot_columns

        self.columns_before = snapshot_columns(self.driver)
        self._session_timeouts()
        attempt = 0
        while True:
            attempt += 1
            started = time.monotonic()
            try:
                result = self.m.apply(self.plan)
            except MigrationFailedError as exc:
                if self._lock_timed_out(exc) and attempt <= self.o.retries:
                    holders = self._holders()
                    self.step("apply", f"attempt {attempt}", StepStatus.WARNED,
                              f"lock timeout ({exc.message}); rolled back cleanly; blocked by {holders}; "
                              "trying again", started)
                    self.plan = self._plan(self.driver.read_version().version)
                    self.steps = list(self.plan.steps)
                    if self.cancel.wait(min(8.0, 0.5 * 2 ** attempt) * (0.5 + uuid.uuid4().int % 100 / 100)):
                        self.check_cancel("while waiting to retry")
                    continue
                self._apply_failed(exc, started)
                return
            except RunInterruptedError as exc:
                state = self.driver.read_version()
                self.applied = state.version != self.start_version
                self.step("apply", "apply", StepStatus.FAILED, exc.message, started)
                self.report.version_after, self.report.dirty_after = state.version, state.dirty
                self.stop(Outcome.INTERRUPTED, f"stopped by a signal during the apply; the database is at "
                          f"version {state.describe()}", exc.hint or "safemigrate status")
            self.applied = True
            self.step("apply", "apply", StepStatus.PASSED,
                      f"{len(result.steps)} migration(s) applied: "
                      + ", ".join(s.step.log_string for s in result.steps), started,
                      steps=[s.to_dict() for s in result.steps])
            return

    def _session_timeouts(self) -> None:
        """The migrations' own statements wait at most migration_lock_timeout for a table lock."""
        for sql, params in self.driver.migration_lock_wait_sql(self.o.migration_lock_timeout):
            self.driver.execute(sql, params)
        if self.o.statement_timeout and self.driver.dialect == "postgres":
            self.driver.execute(f"SET statement_timeout = {int(self.o.statement_timeout * 1000)}")
        elif self.o.statement_timeout and self.driver.dialect == "mysql":
            self.driver.execute(f"SET SESSION max_statement_time = {float(self.o.statement_timeout)}")

    @staticmethod
    def _lock_timed_out(exc: MigrationFailedError) -> bool:
        error = exc.details.get("database_error") or {}
        committed_nothing = exc.details.get("mode") in ("transaction", "atomic") or \
            exc.details.get("statements_committed") == 0
        return committed_nothing and str(error.get("code")) in ("55P03", "1205", "3572")

    def _holders(self) -> str:
        if self.driver.dialect != "postgres":
            return "another session"
        from .catalog import blocking_sessions

        tables = sorted({t.table for t in self._pending_targets()})
        sessions = blocking_sessions(self.driver, tables, older_than=0)
        return "; ".join(s.describe() for s in sessions) or "a session that has since let go"

    def _apply_failed(self, exc: MigrationFailedError, started: float) -> None:
        state = self.driver.read_version()
        self.report.version_after, self.report.dirty_after = state.version, state.dirty
        self.step("apply", "apply", StepStatus.FAILED, exc.message, started,
                  report=exc.report_lines)
        if state.dirty:
            self.stop(Outcome.HELD, f"{exc.message}; the database is dirty at version {state.as_int}: "
                      "statements of a file that cannot run in one transaction were committed",
                      exc.hint or "safemigrate status")
        if state.version == self.start_version:
            self.stop(Outcome.REFUSED if not self.applied else Outcome.ROLLED_BACK,
                      f"{exc.message}; its transaction was rolled back and the database is at version "
                      f"{state.describe()}, as before the release", exc.hint)
        # Earlier migrations of this release were committed: take them back.
        self.applied = True
        self.ladder(f"migration failed: {exc.message}")

    # -- 6-7. gate and ladder ---------------------------------------------------------------------
    def gate(self, name: str) -> GateResult | None:
        if not self.probes and not self.o.log_cmd:
            self.step("gate", name, StepStatus.SKIPPED, "no `release.health_url` or `release.health_cmd` given")
            return None
        started = time.monotonic()
        watcher = LogWatcher(self.o.log_cmd, self.o.log_fail_pattern or "(?!)", env=self.child_env(),
                             seen=self.log_lines_seen) if self.o.log_cmd else None
        result = run_gate(self.probes, self.o.gate, log_watcher=watcher, cancel=self.cancel)
        status = {Verdict.PASSED: StepStatus.PASSED, Verdict.FAILED: StepStatus.FAILED}.get(
            result.verdict, StepStatus.WARNED)
        last = result.measurements[-1].detail if result.measurements else ""
        self.step("gate", name, status, f"{result.verdict.value}: {result.reason} (last: {last})", started,
                  gate=result.to_dict())
        return result

    def after_apply(self) -> None:
        from .datasafety import mark

        self.marked = mark(self.driver, self.columns_before)
        result = self.gate("health after apply")
        if result is None or result.verdict is Verdict.PASSED:
            return
        if result.verdict is Verdict.CANCELLED:
            self.check_cancel("during the health gate")
        if result.verdict is Verdict.INCONCLUSIVE and self.o.on_inconclusive == "hold":
            self.stop(Outcome.HELD, f"the health gate was inconclusive ({result.reason}); the release stays "
                      f"applied at version {self.report.to_version} for a person to decide",
                      f"safemigrate goto {self._start_arg()} to roll back, or nothing to keep it")
        self.ladder(f"the health gate {result.verdict.value}: {result.reason}")

    def _start_arg(self) -> str:
        return "0" if self.start_version is None else str(self.start_version)

    def ladder(self, why: str) -> None:
        if self.o.on_failure == "stop":
            state = self.driver.read_version()
            self.report.version_after, self.report.dirty_after = state.version, state.dirty
            self.stop(Outcome.HELD, f"{why}; `release.on_failure` stop: left at version {state.describe()}",
                      f"safemigrate goto {self._start_arg()} to roll back")
        self._data_safety(why)
        started = time.monotonic()
        try:
            if self.start_version is None:
                self.m.down()
            else:
                self.m.goto(self.start_version)
        except RunInterruptedError as exc:
            self._rollback_interrupted(why, exc, started)
        except SafemigrateError as exc:
            state = self.driver.read_version()
            self.report.version_after, self.report.dirty_after = state.version, state.dirty
            self.step("rollback", f"down to {self._start_arg()}", StepStatus.FAILED, exc.message, started)
            self.stop(Outcome.ROLLBACK_FAILED, f"{why}; then the rollback failed: {exc.message}; the database "
                      f"is at version {state.describe()}", exc.hint or "safemigrate status")
        state = self.driver.read_version()
        self.step("rollback", f"down to {self._start_arg()}", StepStatus.PASSED,
                  f"the database is at version {state.describe()}", started)
        self.report.version_after, self.report.dirty_after = state.version, state.dirty
        result = self.gate("health after the rollback")
        if result is None or result.verdict is Verdict.PASSED:
            self.stop(Outcome.ROLLED_BACK, f"{why}; rolled back to version {state.describe()}"
                      + (" and healthy" if result else ""), "fix the migrations, then release again")
        if result.verdict is Verdict.CANCELLED:
            self.check_cancel("during the health gate after the rollback")
        if self.o.on_failure != "restore" or self.backup_id is None:
            self.stop(Outcome.HELD, f"{why}; rolled back to version {state.describe()}, but the application is "
                      f"still not healthy ({result.verdict.value}); restoring the backup is not allowed",
                      f"safemigrate backup restore {self.backup_id} --replace" if self.backup_id else
                      "look at the application: the database is back at its starting version")
        self.restore(why)

    def _rollback_interrupted(self, why: str, exc: RunInterruptedError, started: float) -> NoReturn:
        """A signal during the down migrations: the one running was rolled back (or, statement by
        statement, left dirty); say exactly which version the database is at and how to go on."""
        state = self.driver.read_version()
        self.report.version_after, self.report.dirty_after = state.version, state.dirty
        self.step("rollback", f"down to {self._start_arg()}", StepStatus.FAILED, exc.message, started)
        left = (f"dirty at version {state.as_int}: the down migration that was running did not finish"
                if state.dirty else f"at version {state.describe()}")
        self.stop(Outcome.INTERRUPTED, f"{why}; stopped by a signal during the rollback; the database is {left}",
                  "safemigrate status, then safemigrate recover" if state.dirty else
                  f"safemigrate goto {self._start_arg()} to finish the rollback")

    def _data_safety(self, why: str) -> None:
        from .datasafety import data_at_risk

        started = time.monotonic()
        downs = []
        for version in self._applied_versions():
            down = self.m.source.down_file(version)
            if down is not None:
                downs.append((version, down.text))
        risks = data_at_risk(self.driver, downs, self.marked) if hasattr(self, "marked") else []
        if not risks:
            self.step("rollback", "data-safety check", StepStatus.PASSED,
                      "the down files destroy nothing written after the apply", started)
            return
        listed = [r.describe() for r in risks]
        if self.o.allow_data_loss:
            self.step("rollback", "data-safety check", StepStatus.WARNED,
                      "`allow_data_loss`: " + "; ".join(listed), started, risks=[r.to_dict() for r in risks])
            return
        self.step("rollback", "data-safety check", StepStatus.FAILED, "; ".join(listed), started,
                  risks=[r.to_dict() for r in risks])
        state = self.driver.read_version()
        self.report.version_after, self.report.dirty_after = state.version, state.dirty
        self.stop(Outcome.HELD, f"{why}; rolling back would destroy data written since the apply: "
                  + "; ".join(listed) + f". Nothing was rolled back; the database is at version {state.describe()}",
                  "save that data, then safemigrate goto " + self._start_arg()
                  + " (or release again with `allow_data_loss`)")

    def _applied_versions(self) -> list[int]:
        current = self.driver.read_version().version
        versions = [s.version for s in self.steps]
        if current is None:
            return []
        return sorted((v for v in versions if v <= current), reverse=True)

    def restore(self, why: str) -> None:
        from ..backup import restore_backup

        assert self.backup_id is not None
        self.hooks("before-restore", self.o.before_restore)
        started = time.monotonic()
        storage = self._storage()
        self.m.disconnect_for_restore()
        try:
            result = restore_backup(storage, self.backup_id, self.database_url, replace=True, confirmed=True,
                                    cancel=self.cancel)
        except SafemigrateError as exc:
            self.step("restore", f"restore {self.backup_id}", StepStatus.FAILED, exc.message, started)
            self.stop(Outcome.ROLLBACK_FAILED, f"{why}; the rollback did not make it healthy and the restore "
                      f"failed: {exc.message}", exc.hint or f"safemigrate backup restore {self.backup_id} --replace")
        self.m.reconnect_locked()
        self.step("restore", f"restore {self.backup_id}", StepStatus.PASSED,
                  f"restored over the database; its state before the restore is backup {result.pre_restore_backup}",
                  started, pre_restore_backup=result.pre_restore_backup)
        self.hooks("after-restore", self.o.after_restore)
        state = self.driver.read_version()
        self.report.version_after, self.report.dirty_after = state.version, state.dirty
        gate = self.gate("health after the restore")
        if gate is None or gate.verdict is Verdict.PASSED:
            self.stop(Outcome.ROLLED_BACK, f"{why}; restored from backup {self.backup_id} (version "
                      f"{state.describe()})" + (" and healthy" if gate else ""),
                      "fix the migrations and the application, then release again")
        self.stop(Outcome.ROLLBACK_FAILED, f"{why}; restored from backup {self.backup_id}, and the application is "
                  f"still not healthy ({gate.verdict.value})", "look at the application: the database is as it "
                  "was before the release")

    # -- the whole -------------------------------------------------------------------------------
    def run(self) -> None:
        self.preflight()
        if self.o.dry_run:
            self.stop(Outcome.NOTHING_TO_DO if not self.steps else Outcome.RELEASED,
                      "dry run: pre-flight passed; nothing was changed"
                      + (f"; would apply {len(self.steps)} migration(s)" if self.steps else ""))
        self.check_cancel("after pre-flight")
        self.notify("started", f"release {self.report.id} started on {self.report.database}: "
                    f"{len(self.steps)} migration(s) to version {self.report.to_version}")
        self.before_hooks_ran = True
        if not self.hooks("before", self.o.before):
            self.stop(Outcome.REFUSED, "a `release.before` hook failed; nothing was applied", "see the hook's output")
        if not self.steps:
            result = self.gate("health")
            if result is not None and result.verdict is not Verdict.PASSED:
                self.stop(Outcome.HELD, f"nothing to apply, but the health gate {result.verdict.value}",
                          "look at the application")
            self.stop(Outcome.NOTHING_TO_DO, f"nothing to apply: the database is at version "
                      f"{self.report.from_version}")
        self.backup()
        self.check_cancel("after the backup")
        self.apply()
        state = self.driver.read_version()
        self.report.version_after, self.report.dirty_after = state.version, state.dirty
        self.after_apply()
        self.report.finish(Outcome.RELEASED, f"released: version {self.report.from_version} → {state.describe()}"
                           + (", healthy" if self.probes or self.o.log_cmd else ""))

    def record(self) -> None:
        """The releases table row, under the lock (skipped, with a note, when the role cannot write it)."""
        table = ReleasesTable(self.driver)
        data = self.report.to_dict()
        identity = local_identity()
        values = {"id": self.report.id, "env": self.env, "outcome": data["outcome"],
                  "started_at": self.report.started_at, "finished_at": self.report.finished_at,
                  "from_version": self.report.from_version, "to_version": self.report.to_version,
                  "version_after": self.report.version_after, "backup_id": self.backup_id,
                  "files": json.dumps([f.to_dict() for f in self._release_files()]),
                  "db_user": self.driver.current_user, "os_user": identity.get("os_user"),
                  "host": identity.get("host"), "tool_version": __version__, "report": json.dumps(data)}
        try:
            if self.driver.in_transaction():
                self.driver.execute("ROLLBACK")
            self.driver.execute(*table.create_sql())
            previous_backup = table.last_released_backup(self.env)
            for sql, params in table.upsert_sql(values):
                self.driver.execute(sql, params)
        except Exception as exc:
            info = self.driver.describe_error(exc)
            if info is None:
                raise
            self.step("report", "releases table", StepStatus.WARNED, f"not recorded: {info.message}")
            return
        if self.report.outcome is Outcome.RELEASED and self.backup_id and previous_backup not in (None, self.backup_id):
            self._unpin_previous(str(previous_backup))

    def _unpin_previous(self, backup_id: str) -> None:
        """A release's backup stays pinned until the next successful release of its environment."""
        from ..backup import pin_backup

        try:
            pin_backup(self._storage(), backup_id, pinned=False)
        except SafemigrateError:
            return  # pruned or moved: nothing left to unpin
        self.step("report", f"unpin {backup_id}", StepStatus.PASSED,
                  "the previous release's backup is left to the retention policy again")


def run_release(migrator: Migrator, options: ReleaseOptions, *, env: str | None, database_url: str,
                cancel: Cancel | None = None,
                on_step: Callable[[StepRecord], None] | None = None) -> ReleaseReport:
    """Run the whole procedure on an open ``migrator``; never raises for an outcome (the report says it)."""
    report = ReleaseReport(id=new_release_id(), env=env, database=migrator.driver.url.redacted(),
                           secrets=secrets_of([database_url, options.require_env_url]), on_step=on_step)
    stop = cancel or threading.Event()
    procedure = _Release(migrator, options, report, stop, env, database_url)
    try:
        with migrator.locked():
            try:
                procedure.run()
            except _Finished:
                pass
            except UsageError:
                raise  # a mistake on the command line: nothing was done, exit 2
            except SafemigrateError as exc:
                procedure.step("error", "stopped", StepStatus.FAILED, exc.message)
                state = migrator.driver.read_version()
                report.version_after, report.dirty_after = state.version, state.dirty
                report.finish(Outcome.ROLLBACK_FAILED if procedure.applied else Outcome.REFUSED,
                              f"{exc.message}; the database is at version {state.describe()}",
                              next_command=exc.hint or "safemigrate status")
            finally:
                if procedure.before_hooks_ran:
                    procedure.hooks("after", options.after, outcome=report.outcome or "")
                if report.outcome is None:  # an error escaped: say where it stopped
                    state = migrator.driver.read_version()
                    report.version_after, report.dirty_after = state.version, state.dirty
                    report.finish(Outcome.ROLLBACK_FAILED if procedure.applied else Outcome.REFUSED,
                                  f"stopped by an error; the database is at version {state.describe()}",
                                  next_command="safemigrate status")
                if not options.dry_run:
                    procedure.notify("finished", f"release {report.id} {report.outcome}: {report.summary}")
                    procedure.record()
    except LockTimeoutError as exc:
        report.add(StepRecord("preflight", "migration lock is free", StepStatus.FAILED, exc.message))
        report.finish(Outcome.REFUSED, f"refused: {exc.message}", next_command=exc.hint)
    return report
