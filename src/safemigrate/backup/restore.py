"""``restore_backup``: into a new database by default; over the original only when asked twice.

Replacing is guarded: the caller must pass ``replace=True`` *and* ``confirmed=True``
(the CLI asks, or takes ``--yes``), and before anything is touched a backup of the
current state is taken, checked and pinned, so the restore can itself be undone. The
backup is first restored beside the original and compared with its manifest; only then
is it swapped in, atomically (PostgreSQL: two renames in one transaction; MySQL/MariaDB: one
RENAME TABLE of every table; SQLite: a file rename). Each restore first reports what an
interrupted one left behind, with the statement that removes it.

What differs between databases is behind :class:`~safemigrate.backup.dialect.BackupDialect`;
this module is the procedure, the same for all three.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import (
    PreRestoreBackupError,
    RestoreFailedError,
    RunInterruptedError,
    SafemigrateError,
    UsageError,
)
from ..urls import DatabaseURL, parse_database_url
from .create import create_backup
from .dialect import BackupDialect, dialect_named
from .engine import CreateOptions, Inspection, RestoreOptions, compare
from .manifest import Manifest
from .progress import (
    Cancel,
    InfoEvent,
    ProgressCallback,
    stopped_as,
)
from .storage import Storage
from .verify import verify_backup

__all__ = ["RestoreResult", "restore_backup"]


@dataclass
class RestoreResult:
    backup_id: str
    dialect: str
    target: str  # database name or file path
    target_url: str  # redacted
    replaced: bool
    pre_restore_backup: str | None
    duration_s: float
    checks: list[str] = field(default_factory=list)
    # What an interrupted earlier restore left behind (name, and the statement that removes it).
    leftovers: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def restore_backup(storage: Storage, backup_id: str, database_url: str | DatabaseURL | None, *,
                   target: str | None = None, replace: bool = False, confirmed: bool = False,
                   options: RestoreOptions | None = None, progress: ProgressCallback | None = None,
                   from_database: str | None = None, cancel: Cancel | None = None) -> RestoreResult:
    """Restore backup ``backup_id``.

    New database (default): ``database_url`` names the server (any database on it); the backup
    goes into ``target`` (default ``<database>_restored_<time>``; for SQLite a file beside the
    original). ``replace``: ``database_url`` is the database to replace; a backup taken from
    another database is refused unless ``from_database`` names that database.

    ``progress`` receives every event: bytes (:class:`ProgressEvent`), the steps
    (:class:`InfoEvent`) and what an interrupted restore left behind (:class:`WarningEvent`).
    ``cancel`` stops the restore
    (:class:`~safemigrate.errors.RunInterruptedError`); what it had created is removed.
    """
    with stopped_as(cancel, "the restore"):
        return _restore(storage, backup_id, database_url, target, replace, confirmed, options,
                        progress, from_database, cancel)


def _restore(storage: Storage, backup_id: str, database_url: str | DatabaseURL | None, target: str | None,
             replace: bool, confirmed: bool, options: RestoreOptions | None,
             progress: ProgressCallback | None, from_database: str | None,
             cancel: Cancel | None) -> RestoreResult:
    from .tools import sweep_stale_private

    sweep_stale_private()
    manifest = storage.read_manifest(backup_id)
    options = options or RestoreOptions()
    if replace and not confirmed:
        raise UsageError(
            f"restoring backup {backup_id} over the original database needs confirmation",
            hint="run again with `replace` `confirmed`, or without `replace` to restore into a new database",
            settings=("replace", "confirmed"))
    if replace and target:
        raise UsageError("`replace` restores over the database of `database_url`; `target` cannot be used "
                         "with it", hint="drop `target`, or drop `replace` to restore into TARGET",
                         settings=("replace", "database_url", "target"))
    url: DatabaseURL | None = None
    if database_url is not None:
        url = database_url if isinstance(database_url, DatabaseURL) else parse_database_url(database_url)
        if url.dialect != manifest.dialect:
            raise UsageError(f"backup {backup_id} is a {manifest.dialect} backup; {url.redacted()} is "
                             f"{url.dialect}", hint=f"pass the URL of a {manifest.dialect} database")
    if replace and url is not None:
        _check_same_database(manifest, url, from_database)
    if manifest.verification is not None and not manifest.verification.ok:
        raise UsageError(f"backup {backup_id} failed its last verification: {manifest.verification.error}",
                         hint="restore another backup (safemigrate backup list)")
    start = time.monotonic()
    dialect = dialect_named(manifest.dialect, url, progress=progress, cancel=cancel)
    if dialect.needs_server and url is None:
        raise UsageError(
            f"restoring backup {manifest.id} needs the {manifest.dialect} server to restore on",
            hint="pass `database_url` (with `replace`: the database to replace) or set DATABASE_URL",
            settings=("database_url", "replace"))
    original = dialect.original(manifest)
    found = [f.to_dict() for f in dialect.leftovers(original)]
    result = _restore_with(dialect, storage, manifest, original, target, replace, options, url, progress,
                           cancel)
    result.leftovers = found
    result.duration_s = round(time.monotonic() - start, 3)
    return result


def _restore_with(dialect: BackupDialect, storage: Storage, manifest: Manifest, original: str,
                  target: str | None, replace: bool, options: RestoreOptions, url: DatabaseURL | None,
                  progress: ProgressCallback | None, cancel: Cancel | None) -> RestoreResult:
    """Restore into a new target; with ``replace``, back up the current state, then swap it in."""
    pre_id: str | None = None
    if replace:
        if dialect.check_replaceable(original) and url is not None:
            pre_id = _pre_restore_backup(storage, url, manifest, progress, cancel)
        name = dialect.incoming(original)
    else:
        name = dialect.new_target(manifest, target)
    inspection = dialect.restore(storage, manifest, name, options)
    try:
        checks = _check_restored(manifest, inspection, name)
    except BaseException:
        dialect.discard(name)
        raise
    if not replace:
        return RestoreResult(manifest.id, manifest.dialect, name, dialect.target_url(name, replaced=False),
                             False, None, 0.0, checks)
    try:
        dialect.swap(original, name, storage, manifest, options)
    except BaseException:
        dialect.discard(name)
        raise
    checks.append(f"{original} replaced; its previous state is backup {pre_id}")
    return RestoreResult(manifest.id, manifest.dialect, original, dialect.target_url(original, replaced=True),
                         True, pre_id, 0.0, checks)


def _check_same_database(manifest: Manifest, url: DatabaseURL, from_database: str | None) -> None:
    """--replace puts the backup's data in place of the URL's database: only when they are the same
    database, or when --from-database names the backup's database explicitly."""
    from .catalog import DatabaseSelector, selector_for

    here = selector_for(url)
    source = str(manifest.database.get("database"))
    if here is None or here.matches(manifest):
        return
    if from_database is not None and DatabaseSelector(from_database).matches(manifest):
        return
    given = f" (`from_database` {from_database} does not name it)" if from_database else ""
    raise UsageError(
        f"backup {manifest.id} was taken from database {source}, not {here.name}: `replace` would put "
        f"{source}'s data in place of {here.name}{given}; nothing was changed",
        hint=f"if that is really what you want, add `from_database` {_short(manifest, source)}; "
        f"otherwise pick a backup of {here.name} (safemigrate backup list)",
        settings=("replace", "from_database"))


def _short(manifest: Manifest, name: str) -> str:
    """SQLite manifests record the full path; its file name is enough to name it."""
    return Path(name).name if manifest.dialect == "sqlite" else name


def _pre_restore_backup(storage: Storage, url: DatabaseURL, manifest: Manifest,
                        progress: ProgressCallback | None, cancel: Cancel | None) -> str:
    def say(message: str) -> None:
        if progress is not None:
            progress(InfoEvent(message))

    say(f"taking a backup of the current state of {url.redacted()} first")
    try:
        pre = create_backup(url, storage, CreateOptions(label=f"before restoring {manifest.id}", pin=True),
                            progress, cancel=cancel)
        verify_backup(storage, pre.id, quick=True, cancel=cancel)
    except RunInterruptedError:
        raise  # stopped by a signal: that, not a failed backup, is what happened
    except SafemigrateError as exc:
        raise PreRestoreBackupError(
            f"nothing was restored: the backup of the current state failed first: {exc.message}",
            hint=exc.hint, details=exc.details, settings=exc.settings) from None
    say(f"current state saved as backup {pre.id} (pinned); undo with: safemigrate backup restore "
        f"{pre.id} --replace --to {storage.location}")
    return pre.id


def _check_restored(manifest: Manifest, inspection: Inspection, where: str) -> list[str]:
    problems, _ = compare(manifest, inspection)
    if problems and not manifest.row_counts_consistent:
        problems = [p for p in problems if not p.startswith("row counts")]
    if problems:
        raise RestoreFailedError(f"the copy restored into {where} does not match backup {manifest.id}: "
                                 + "; ".join(problems),
                                 hint="nothing was replaced; verify the backup (safemigrate backup verify "
                                 f"{manifest.id}) and use another one if it fails")
    return [f"schema_migrations version {'none' if inspection.version is None else inspection.version} and row counts of "
            f"{len(inspection.row_counts)} table(s) match the manifest"]
