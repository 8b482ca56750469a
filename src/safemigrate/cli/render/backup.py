"""``backup``: a backup's one-line description, the results of create, verify, restore, prune,
and the progress of a run (bytes and rate) on stderr."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...events import BytesProgress, Event, InfoEvent, WarningEvent
from ..output import Output

if TYPE_CHECKING:
    from ...backup import PruneResult, RestoreResult, VerifyResult
    from ...backup.retention import Policy
    from ...commands import BackupCreateResult, BackupListResult, BackupPinResult

__all__ = ["BackupProgress", "describe", "render_create", "render_import", "render_list", "render_pin",
           "render_prune", "render_restore", "render_verify", "size_text"]


def size_text(n: float) -> str:
    from ...backup.manifest import human_size

    return human_size(n)


class BackupProgress:
    """The sink that renders a backup run's events on stderr: steps and warnings as lines; bytes
    and rate as one updating line on a terminal, a line every few seconds otherwise."""

    def __init__(self, out: Output) -> None:
        self.out = out
        self.tty = self.out.stderr.isatty()
        self.last_line = 0.0
        self.width = 0

    def __call__(self, event: Event) -> None:
        if isinstance(event, InfoEvent | WarningEvent):
            if self.tty and self.width:  # end the updating progress line first
                self.out.stderr.write("\n")
                self.width = 0
            if isinstance(event, InfoEvent):
                self.out.progress(event.message)
            else:
                self.out.warn(event.message)
            return
        if self.out.json or not isinstance(event, BytesProgress):
            return
        total = f" of {size_text(event.total)}" if event.total else ""
        text = f"{event.phase}: {size_text(event.done)}{total}, {size_text(event.rate)}/s"
        if event.final:
            text += f" in {event.elapsed:.1f}s"
        if self.tty:  # one line rewritten in place; no escape sequences, so no colour either
            line = self.out.scrub(text)
            self.out.stderr.write("\r" + line.ljust(self.width) + ("\n" if event.final else ""))
            self.width = 0 if event.final else len(line)
            self.out.stderr.flush()
        elif event.final or event.elapsed - self.last_line >= 5:
            self.last_line = event.elapsed
            self.out.progress(text)


def describe(m: Any) -> str:
    sm = m.schema_migrations
    version = "none" if sm.get("version") is None else str(sm.get("version")) + (" (dirty)" if sm.get("dirty")
                                                                                 else "")
    return (f"{m.id}: {m.dialect} {m.database.get('database')}, {size_text(m.size)}, {m.format} format, "
            f"compression {m.compression.method}, schema version {version}, "
            f"{len(m.row_counts)} table(s), {m.verification_state}" + (", pinned" if m.pinned else ""))




def render_create(out: Output, result: BackupCreateResult) -> None:
    text = f"created backup {describe(result.manifest)} in {result.storage}"
    if result.verification is not None:
        text += f"\nverified ({result.verification.mode}): " + "; ".join(result.verification.verification.checks)
    out.result(result.to_dict(), text)


def render_verify(out: Output, result: VerifyResult) -> None:
    out.result({"ok": True, **result.to_dict()},
               f"backup {result.backup_id} verified ({result.mode}) in "
               f"{result.verification.duration_s:.1f}s: " + "; ".join(result.verification.checks))


def render_restore(out: Output, result: RestoreResult) -> None:
    text = (f"backup {result.backup_id} restored into {result.target_url} in {result.duration_s:.1f}s"
            + (f"; the previous state is backup {result.pre_restore_backup}" if result.pre_restore_backup
               else "") + "\n" + "\n".join(result.checks))
    out.result({"ok": True, "restore": result.to_dict()}, text)


def render_prune(out: Output, result: PruneResult, policy: Policy, *, storage: str, dry_run: bool) -> None:
    for backup_id, why in result.damaged.items():
        out.warn(f"{backup_id} is damaged (its files no longer match its manifest), now marked "
                 f"failed and no longer counted as verified: {why}")

    def text() -> str:
        lines = [f"policy: {policy.describe()}" + (" (dry run: nothing deleted)" if dry_run else "")]
        for d in result.plan.decisions:
            verb = "keep  " if d.keep else ("remove" if dry_run else "removed")
            lines.append(f"{verb} {d.candidate.id}  {', '.join(d.reasons)}")
        if not result.plan.decisions:
            lines.append(f"no backups in {storage}")
        if result.checked:
            lines.append(f"files of {len(result.checked)} kept backup(s) re-hashed before deleting: "
                         + (f"{len(result.damaged)} damaged" if result.damaged else "all match"))
        return "\n".join(lines)

    # A damaged backup is a failure cron must report (non-zero exit), even though prune went on
    # safely without it.
    out.result({"ok": not result.damaged, "storage": storage, **result.to_dict()}, text)


def render_list(out: Output, result: BackupListResult) -> None:
    rows = result.rows()

    def text() -> str:
        if not rows:
            which = f" of database {result.database}" if result.database is not None else ""
            return f"no backups{which} in {result.storage}"
        header = (f"{'ID':<44} {'CREATED (UTC)':<20} {'DATABASE':<16} {'VERSION':>8} {'SIZE':>10} "
                  f"{'STATE':<50} {'PINNED':<6} LABEL")
        lines = [header]
        for r in rows:
            version = "-" if r["schema_version"] is None else str(r["schema_version"]) + (
                "*" if r["dirty"] else "")
            # e.g. "verified 2026-11-30, files checked now" / "verified 2026-11-30, not re-checked"
            state = r["verification"] + (f" {r['verified_at'][:10]}" if r["verified_at"] else "")
            if r["verified_at"] or r["files_checked"] != "not re-checked":
                state += ", " + r["files_checked"]
            database = str(r["database"]).rsplit("/", 1)[-1]
            lines.append(f"{r['id']:<44} {r['created_at'][:19].replace('T', ' '):<20} {database:<16} "
                         f"{version:>8} {size_text(r['size']):>10} {state:<50} "
                         f"{'yes' if r['pinned'] else '':<6} {r['label'] or ''}".rstrip())
        return "\n".join(lines)

    for name in result.incomplete:
        out.warn(f"{name} in {result.storage} is incomplete (no manifest): not a backup; "
                 "an interrupted backup leaves this, delete it by hand once no backup is running")
    for name, why in result.unreadable.items():
        out.warn(f"{name}: unreadable manifest: {why}")
    for backup_id, why in result.damaged.items():
        out.warn(f"{backup_id} is damaged, now marked failed: {why}")
    out.result(result.to_dict(), text)


def render_pin(out: Output, result: BackupPinResult) -> None:
    out.result(result.to_dict(), f"backup {result.backup_id} {'pinned' if result.pinned else 'unpinned'}")


def render_import(out: Output, result: BackupCreateResult, file: str) -> None:
    manifest = result.manifest
    imported = manifest.extra["imported"]
    text = (f"imported {file} as backup {describe(manifest)} in {result.storage}\n"
            f"dated {manifest.created_at} (from the {imported['created_from']}); the retention policy "
            "counts it from that date (--pin keeps it whatever the policy)")
    if result.verification is not None:
        text += f"\nverified ({result.verification.mode}): " + "; ".join(result.verification.verification.checks)
    else:
        text += f"\nnext: safemigrate backup verify {manifest.id}"
    out.result(result.to_dict(), text)
