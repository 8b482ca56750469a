"""``create_backup``: dump, store the data, write the manifest last."""

from __future__ import annotations

import time

from ..urls import DatabaseURL, parse_database_url
from .dialect import dialect_for
from .engine import CreateOptions, DumpOutcome
from .manifest import Manifest, format_time, new_backup_id, utc_now
from .progress import Cancel, ProgressCallback, stopped_as
from .storage import Storage

__all__ = ["create_backup"]


def create_backup(database_url: str | DatabaseURL, storage: Storage, options: CreateOptions | None = None,
                  progress: ProgressCallback | None = None, *, cancel: Cancel | None = None) -> Manifest:
    """Take a backup of ``database_url`` into ``storage`` and return its manifest.

    The backup is listed only once complete; on any failure, or once ``cancel`` is set
    (:class:`~safemigrate.errors.RunInterruptedError`), what was written is removed, and a
    killed process leaves only a ``.partial`` folder.
    """
    with stopped_as(cancel, "the backup"):
        return _create(database_url, storage, options, progress, cancel)


def _create(database_url: str | DatabaseURL, storage: Storage, options: CreateOptions | None,
            progress: ProgressCallback | None, cancel: Cancel | None) -> Manifest:
    from .tools import sweep_stale_private

    sweep_stale_private()
    url = database_url if isinstance(database_url, DatabaseURL) else parse_database_url(database_url)
    options = options or CreateOptions()
    dialect = dialect_for(url, progress=progress, cancel=cancel)
    created = utc_now()
    backup_id = new_backup_id(dialect.label(), created)
    with storage.staged(backup_id) as staging:
        start = time.monotonic()
        outcome: DumpOutcome = dialect.create(staging.dir, options)
        manifest = Manifest(
            id=backup_id,
            created_at=format_time(created),
            dialect=url.dialect,
            database=outcome.database,
            server_version=outcome.server_version,
            tool=outcome.tool,
            format=outcome.format,
            compression=outcome.compression,
            files=outcome.files,
            size=sum(f.size for f in outcome.files),
            duration_s=round(time.monotonic() - start, 3),
            schema_migrations=outcome.schema_migrations,
            row_counts=outcome.row_counts,
            row_counts_consistent=outcome.row_counts_consistent,
            pinned=options.pin,
            label=options.label,
            extra={"data": outcome.data, **outcome.extra,
                   **({"warnings": outcome.warnings} if outcome.warnings else {})},
        )
        storage.commit(staging, manifest, progress, cancel=cancel)
    return manifest
