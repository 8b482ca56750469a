"""Where backups live: a local folder (default ``./backups``) or S3 / any S3-compatible store.

Layout, the same in both: ``<root>/<backup id>/<data files>`` and ``<root>/<backup id>/manifest.json``.
A backup is listed only when its manifest exists, and the manifest is written last.
This package holds the :class:`Storage` interface, its errors and helpers, and
:func:`open_storage`; ``local.py`` and ``s3.py`` hold the two implementations.

Local: data is written into ``<root>/<id>.partial/``; the manifest is written into it
atomically (temporary file, fsync, rename), then the folder is renamed to ``<root>/<id>``.
S3: the dump is staged in a private local folder, each file is uploaded (multipart from the
file, a few parts in memory at a time, the upload aborted on any failure), then the manifest;
a failed upload deletes what it had written. Nothing is ever overwritten but the manifest of
a backup whose data is already complete (to record verification and pinning).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ...errors import BackupNotFoundError, StorageError, UsageError
from ...redact import redact_text
from ..manifest import Manifest, valid_backup_id
from ..progress import Cancel, ProgressCallback

__all__ = [
    "DEFAULT_LOCATION",
    "PARTIAL_SUFFIX",
    "S3_ENDPOINT_ENV",
    "STORAGE_ENV",
    "WORK_DIR_ENV",
    "BackupNotFoundError",
    "Listing",
    "LocalStorage",
    "S3Storage",
    "Staging",
    "Storage",
    "StorageError",
    "fsync_dir",
    "open_storage",
    "os_error_message",
    "walk_files",
    "work_root",
    "write_file_atomic",
]

DEFAULT_LOCATION = "./backups"
STORAGE_ENV = "SAFEMIGRATE_BACKUP_STORAGE"
S3_ENDPOINT_ENV = "SAFEMIGRATE_S3_ENDPOINT_URL"
WORK_DIR_ENV = "SAFEMIGRATE_WORK_DIR"
PARTIAL_SUFFIX = ".partial"


@dataclass
class Staging:
    """Where a new backup's files are written before they are committed."""

    backup_id: str
    dir: Path
    cleanup: bool  # remove ``dir`` when done (S3 staging); local staging is renamed instead


@dataclass
class Listing:
    backups: list[Manifest] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)  # data without a manifest: never restorable
    broken: dict[str, str] = field(default_factory=dict)  # id -> why its manifest can't be read


def fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_file_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (mode 0600) through a temporary file, fsync and rename."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def os_error_message(exc: OSError, what: str) -> StorageError:
    if exc.errno == errno.ENOSPC:
        return StorageError(f"no space left on the device while {what}",
                            hint="free space or choose another place with `backup.location` DIR|s3://bucket/prefix "
                            "(or `backup.work_dir` DIR for the S3 staging folder), then run the command again",
                            settings=("backup.location", "backup.work_dir"))
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StorageError(f"permission denied while {what}: {exc.strerror}",
                            hint="check the folder's owner and permissions, or choose another with `backup.location`",
                            settings=("backup.location",))
    if exc.errno == errno.EFBIG:
        return StorageError(f"file too large while {what} (the file size limit was reached)",
                            hint="raise the file size limit (ulimit -f) or choose another place with `backup.location`",
                            settings=("backup.location",))
    return StorageError(f"{what} failed: {exc.strerror or exc}",
                        hint="check the storage location and run the command again")


class Storage(ABC):
    """A place that holds backups."""

    location: str

    def __str__(self) -> str:
        return self.location

    @abstractmethod
    def listing(self) -> Listing: ...

    @abstractmethod
    def read_manifest(self, backup_id: str) -> Manifest: ...

    @abstractmethod
    def update_manifest(self, manifest: Manifest) -> None:
        """Rewrite the manifest of a complete backup (verification results, pinning)."""

    @abstractmethod
    def delete(self, backup_id: str) -> None:
        """Delete a backup: its manifest first, so a half-deleted backup is never listed."""

    @abstractmethod
    def open_file(self, backup_id: str, name: str) -> contextlib.AbstractContextManager[IO[bytes]]:
        """Stream one stored file."""

    @abstractmethod
    def local_dir(self, backup_id: str) -> Path | None:
        """The backup's folder on this machine, if the storage is local."""

    @abstractmethod
    def begin(self, backup_id: str) -> Staging: ...

    @abstractmethod
    def commit(self, staging: Staging, manifest: Manifest, progress: ProgressCallback | None,
               cancel: Cancel | None = None) -> None:
        """Store the staged files, then the manifest (last: only then does the backup exist)."""

    @abstractmethod
    def abort(self, staging: Staging) -> None: ...

    @contextlib.contextmanager
    def staged(self, backup_id: str) -> Iterator[Staging]:
        """A staging area for a new backup: aborted on any failure, its local folder removed after."""
        staging = self.begin(backup_id)
        try:
            yield staging
        except BaseException:
            self.abort(staging)
            raise
        finally:
            if staging.cleanup:
                shutil.rmtree(staging.dir, ignore_errors=True)

    def backups(self) -> list[Manifest]:
        return self.listing().backups

    def check_id(self, backup_id: str) -> None:
        if not valid_backup_id(backup_id):
            raise UsageError(
                f"{backup_id!r} is not a backup id",
                hint=f"run safemigrate backup list `backup.location` {self.location} to see the ids",
                settings=("backup.location",),
            )

    def not_found(self, backup_id: str) -> BackupNotFoundError:
        return BackupNotFoundError(
            f"no complete backup {backup_id!r} in {self.location}",
            hint=f"run safemigrate backup list `backup.location` {self.location} to see the backups there",
            settings=("backup.location",),
        )


def work_root(work_dir: str | None) -> str:
    return work_dir or os.environ.get(WORK_DIR_ENV) or tempfile.gettempdir()


def walk_files(folder: Path) -> list[str]:
    names: list[str] = []
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            names.append(path.relative_to(folder).as_posix())
    return names


def open_storage(location: str | None = None, *, s3_endpoint_url: str | None = None,
                 work_dir: str | None = None) -> Storage:
    """``DIR`` or ``s3://bucket/prefix``; default $SAFEMIGRATE_BACKUP_STORAGE, else ./backups."""
    where = location or os.environ.get(STORAGE_ENV) or DEFAULT_LOCATION
    if where.startswith("s3://"):
        return S3Storage(where, endpoint_url=s3_endpoint_url, work_dir=work_dir)
    if "://" in where:
        scheme = where.split("://", 1)[0]
        raise UsageError(f"unsupported backup location {redact_text(where)!r} ({scheme}://)",
                         hint="use a local folder (`backup.location` ./backups) or S3 (`backup.location` s3://bucket/prefix)",
                         settings=("backup.location",))
    return LocalStorage(where)


# The implementations import the interface above, so they come last.
from .local import LocalStorage  # noqa: E402
from .s3 import S3Storage  # noqa: E402
