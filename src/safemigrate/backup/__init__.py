"""Backups that are proven restorable: create, verify, restore, list, prune; local folders and S3.

The release procedure and the ``safemigrate backup`` commands use only what is exported here::

    storage = open_storage("s3://bucket/prefix")          # or a folder; default ./backups
    manifest = create_backup(database_url, storage)       # listed only once complete
    verify_backup(storage, manifest.id, database_url=database_url)   # a real restore, recorded
    restore_backup(storage, manifest.id, database_url)    # into a new database
    prune(storage, Policy(daily=7, weekly=4, monthly=12), dry_run=True)

Every run takes ``progress=`` (one callback for every event: :class:`ProgressEvent`,
:class:`InfoEvent`, :class:`WarningEvent`) and ``cancel=`` (a :class:`CancelToken` or any
``threading.Event``: once set, the run stops, cleans up and raises RunInterruptedError).
What differs between PostgreSQL, MySQL/MariaDB and SQLite is behind :class:`BackupDialect`
(:func:`dialect_for` picks it); the error classes live in :mod:`safemigrate.errors`.
"""

from __future__ import annotations

from .catalog import PruneResult, list_backups, pin_backup, prune, show_backup
from .create import create_backup
from .dialect import BackupDialect, DatabaseIdentity, dialect_for
from .engine import (
    BackupFailedError,
    ChecksumError,
    CreateOptions,
    RestoreFailedError,
    RestoreOptions,
)
from .manifest import BackupFile, Compression, Manifest, ManifestError, Verification
from .progress import (
    BackupEvent,
    Cancel,
    CancelToken,
    InfoEvent,
    ProgressCallback,
    ProgressEvent,
    WarningEvent,
)
from .restore import RestoreResult, restore_backup
from .retention import Candidate, Policy, RetentionPlan
from .storage import (
    BackupNotFoundError,
    Listing,
    LocalStorage,
    S3Storage,
    Storage,
    StorageError,
    open_storage,
)
from .tools import BackupToolError
from .verify import VerificationFailedError, VerifyResult, verify_backup

__all__ = [
    "BackupDialect",
    "BackupEvent",
    "BackupFailedError",
    "BackupFile",
    "BackupNotFoundError",
    "BackupToolError",
    "Cancel",
    "CancelToken",
    "Candidate",
    "ChecksumError",
    "Compression",
    "CreateOptions",
    "DatabaseIdentity",
    "InfoEvent",
    "Listing",
    "LocalStorage",
    "Manifest",
    "ManifestError",
    "Policy",
    "ProgressCallback",
    "ProgressEvent",
    "PruneResult",
    "RestoreFailedError",
    "RestoreOptions",
    "RestoreResult",
    "RetentionPlan",
    "S3Storage",
    "Storage",
    "StorageError",
    "Verification",
    "VerificationFailedError",
    "VerifyResult",
    "WarningEvent",
    "create_backup",
    "dialect_for",
    "list_backups",
    "open_storage",
    "pin_backup",
    "prune",
    "restore_backup",
    "show_backup",
    "verify_backup",
]
