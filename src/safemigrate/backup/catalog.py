"""Listing, showing, pinning and pruning backups."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import UsageError
from .manifest import Manifest
from .retention import Candidate, Policy, RetentionPlan, plan
from .storage import Listing, Storage

__all__ = ["PruneResult", "list_backups", "pin_backup", "prune", "show_backup"]


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


@dataclass
class PruneResult:
    plan: RetentionPlan
    dry_run: bool
    deleted: list[str] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)
    broken: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        p = self.plan.policy
        return {
            "dry_run": self.dry_run,
            "policy": {"keep_daily": p.daily, "keep_weekly": p.weekly, "keep_monthly": p.monthly,
                       "timezone": p.timezone},
            "keep": [{"id": d.candidate.id, "reasons": list(d.reasons)} for d in self.plan.decisions
                     if d.keep],
            "remove": [{"id": d.candidate.id, "reasons": list(d.reasons)} for d in self.plan.decisions
                       if not d.keep],
            "deleted": self.deleted,
            "incomplete": self.incomplete,
            "unreadable": self.broken,
        }


def prune(storage: Storage, policy: Policy | None = None, *, dry_run: bool = False,
          dialect: str | None = None, database: str | None = None) -> PruneResult:
    """Apply ``policy`` to the backups in ``storage`` (optionally only those of one database).

    Unreadable manifests and incomplete leftovers are reported, never deleted automatically.
    """
    policy = policy or Policy()
    listing = storage.listing()
    manifests = [m for m in listing.backups
                 if (dialect is None or m.dialect == dialect)
                 and (database is None or m.database.get("database") == database)]
    groups = {(m.dialect, m.database.get("host"), m.database.get("database")) for m in manifests}
    if len(groups) > 1 and database is None:
        names = ", ".join(sorted(str(g[2]) for g in groups))
        raise UsageError(
            f"{storage.location} holds backups of several databases ({names}); retention is per database",
            hint="pass --database-name NAME to prune the backups of one of them")
    candidates = [Candidate(m.id, m.created, m.verified, m.pinned) for m in manifests]
    result = PruneResult(plan(candidates, policy), dry_run, incomplete=listing.incomplete,
                         broken=listing.broken)
    if not dry_run:
        for c in result.plan.removed:
            storage.delete(c.id)
            result.deleted.append(c.id)
    return result
