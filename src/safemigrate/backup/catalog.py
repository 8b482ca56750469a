"""Listing, showing, pinning and pruning backups; which backups belong to which database."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SafemigrateError, UsageError
from ..urls import DatabaseURL
from .engine import ChecksumError, checked_stream
from .manifest import Manifest, Verification, format_time, utc_now
from .progress import Cancel, Meter, check_cancel
from .retention import Candidate, Policy, RetentionPlan, format_duration, plan
from .storage import Listing, Storage, StorageError

__all__ = ["DatabaseSelector", "PruneResult", "check_files", "list_backups", "pin_backup", "prune",
           "resolve_backup_id", "selector_for", "show_backup"]


# -- which database ---------------------------------------------------------------------------
@dataclass(frozen=True)
class DatabaseSelector:
    """The database whose backups a command works on: ``name`` as manifests record it."""

    name: str
    dialect: str | None = None

    def matches(self, manifest: Manifest) -> bool:
        if self.dialect is not None and manifest.dialect != self.dialect:
            return False
        recorded = str(manifest.database.get("database"))
        if recorded == self.name:
            return True
        # SQLite records the resolved path; --database-name may give just the file's name.
        return manifest.dialect == "sqlite" and self.dialect is None and Path(recorded).name == self.name


def selector_for(url: DatabaseURL | None, database_name: str | None = None) -> DatabaseSelector | None:
    """``--database-name`` wins; else the database the URL names; None when neither says."""
    if database_name:
        return DatabaseSelector(database_name)
    if url is None:
        return None
    if url.dialect == "sqlite":
        from .sqlite import database_path

        return DatabaseSelector(str(Path(database_path(url)).resolve()), "sqlite")
    if url.dialect == "postgres":
        from urllib.parse import unquote

        name = unquote(url.path.lstrip("/"))
        return DatabaseSelector(name, "postgres") if name else None
    from .mysql import mysql_params

    return DatabaseSelector(mysql_params(url).database, url.dialect)


def _databases(manifests: Sequence[Manifest]) -> list[str]:
    return sorted({f"{m.database.get('database')} ({m.dialect})" for m in manifests})


def select_backups(storage: Storage, manifests: Sequence[Manifest],
                   selector: DatabaseSelector | None) -> list[Manifest]:
    """The backups of ``selector``'s database; with no selector, of the only database in storage."""
    if selector is not None:
        return [m for m in manifests if selector.matches(m)]
    if len({(m.dialect, m.database.get("database")) for m in manifests}) > 1:
        raise UsageError(
            f"{storage.location} holds backups of several databases: {', '.join(_databases(manifests))}; "
            "say which one",
            hint="pass `database_url` naming the database (or set DATABASE_URL), or `database_name` NAME",
            settings=("database_url", "database_name"))
    return list(manifests)


def resolve_backup_id(storage: Storage, backup_id: str, selector: DatabaseSelector | None) -> str:
    """``latest`` is the newest backup of the selected database (never of another one)."""
    if backup_id != "latest":
        return backup_id
    everything = storage.backups()
    if not everything:
        raise UsageError(f"no backups in {storage.location}", hint="take one with safemigrate backup create")
    mine = select_backups(storage, everything, selector)
    if not mine:
        assert selector is not None
        raise UsageError(
            f"no backups of database {selector.name} in {storage.location}; it holds backups of "
            f"{', '.join(_databases(everything))}",
            hint="pass `database_name` NAME (or the URL of that database), or a backup ID",
            settings=("database_name",))
    return mine[-1].id


def list_backups(storage: Storage) -> Listing:
    """Complete backups (oldest first), plus what is incomplete or unreadable (never restorable)."""
    return storage.listing()


def show_backup(storage: Storage, backup_id: str) -> Manifest:
    return storage.read_manifest(backup_id)


def pin_backup(storage: Storage, backup_id: str, pinned: bool = True) -> Manifest:
    """Pin (keep forever, whatever the retention policy) or unpin a backup."""
    manifest = storage.read_manifest(backup_id)
    if manifest.pinned != pinned:
        manifest.pinned = pinned
        storage.update_manifest(manifest)
    return manifest


# -- re-checking the files --------------------------------------------------------------------
def check_files(storage: Storage, manifest: Manifest, *, record: bool = True,
                cancel: Cancel | None = None) -> str | None:
    """Re-hash every file of ``manifest``; None when all match, else what is wrong.

    The result is recorded (``record``): a match sets ``files_checked_at``; a mismatch marks
    the backup's verification failed, so it leaves the verified set and ``restore`` refuses it.
    An unreachable storage raises (it says nothing about the backup); so does a set ``cancel``.
    """
    started = time.monotonic()
    at = format_time(utc_now())
    problem: str | None = None
    try:
        for entry in manifest.files:
            with checked_stream(storage, manifest, entry.name, Meter("verify", None, cancel=cancel)) as reader:
                reader.drain()
    except ChecksumError as exc:
        problem = exc.message
    except StorageError as exc:
        if "file" not in exc.details:
            raise
        problem = exc.message
    if record:
        if problem is None:
            manifest.files_checked_at = at
        else:
            manifest.verification = Verification(
                ok=False, mode="checksums", at=at, duration_s=round(time.monotonic() - started, 3),
                checks=[], error=problem)
        try:
            storage.update_manifest(manifest)
        except SafemigrateError:
            if problem is not None:
                raise
    return problem


# -- prune -------------------------------------------------------------------------------------
@dataclass
class PruneResult:
    plan: RetentionPlan
    dry_run: bool
    deleted: list[str] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)
    broken: dict[str, str] = field(default_factory=dict)
    checked: list[str] = field(default_factory=list)  # kept backups whose files were re-hashed now
    damaged: dict[str, str] = field(default_factory=dict)  # id: what no longer matches

    def to_dict(self) -> dict[str, Any]:
        p = self.plan.policy
        return {
            "dry_run": self.dry_run,
            "policy": {"keep_daily": p.daily, "keep_weekly": p.weekly, "keep_monthly": p.monthly,
                       "keep_within": format_duration(p.within), "timezone": p.timezone},
            "keep": [{"id": d.candidate.id, "reasons": list(d.reasons)} for d in self.plan.decisions
                     if d.keep],
            "remove": [{"id": d.candidate.id, "reasons": list(d.reasons)} for d in self.plan.decisions
                       if not d.keep],
            "deleted": self.deleted,
            "checked": self.checked,
            "damaged": self.damaged,
            "incomplete": self.incomplete,
            "unreadable": self.broken,
        }


def prune(storage: Storage, policy: Policy | None = None, *, dry_run: bool = False,
          dialect: str | None = None, database: str | None = None,
          selector: DatabaseSelector | None = None, cancel: Cancel | None = None) -> PruneResult:
    """Apply ``policy`` to the backups of one database in ``storage``.

    Before anything is deleted, every verified backup the plan keeps in place of those it
    deletes has its files re-hashed: one that no longer matches leaves the verified set (it is
    marked failed and reported) and the plan is made again, until everything kept passes.
    Unreadable manifests and incomplete leftovers are reported, never deleted automatically.
    A set ``cancel`` stops it between two backups (RunInterruptedError).
    """
    policy = policy or Policy()
    if selector is None and database is not None:
        selector = DatabaseSelector(database, dialect)
    listing = storage.listing()
    manifests = [m for m in listing.backups if dialect is None or m.dialect == dialect]
    manifests = select_backups(storage, manifests, selector)
    result = PruneResult(plan(_candidates(manifests, {}), policy), dry_run, incomplete=listing.incomplete,
                         broken=listing.broken)
    by_id = {m.id: m for m in manifests}
    while result.plan.removed:
        unchecked = [c for c in result.plan.kept
                     if c.verified and not c.pinned and c.id not in result.checked and c.id not in result.damaged]
        if not unchecked:
            break
        for c in unchecked:
            result.checked.append(c.id)
            problem = check_files(storage, by_id[c.id], cancel=cancel)
            if problem is not None:
                result.damaged[c.id] = problem
        result.plan = plan(_candidates(manifests, result.damaged), policy)
    if not dry_run:
        for c in result.plan.removed:
            check_cancel(cancel, "the prune")
            storage.delete(c.id)
            result.deleted.append(c.id)
    return result


def _candidates(manifests: Sequence[Manifest], damaged: dict[str, str]) -> list[Candidate]:
    return [Candidate(m.id, m.created, m.verified and m.id not in damaged, m.pinned, m.id in damaged)
            for m in manifests]
