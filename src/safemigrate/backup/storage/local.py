"""A local folder: ``<root>/<id>.partial/`` while written, renamed to ``<root>/<id>/`` once complete."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from ...errors import SafemigrateError, StorageError
from ..manifest import MANIFEST_NAME, Manifest, ManifestError, valid_backup_id
from ..progress import Cancel, ProgressCallback
from . import (
    PARTIAL_SUFFIX,
    Listing,
    Staging,
    Storage,
    fsync_dir,
    os_error_message,
    walk_files,
    write_file_atomic,
)

__all__ = ["LocalStorage"]


class LocalStorage(Storage):
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.location = str(root)

    def _dir(self, backup_id: str) -> Path:
        self.check_id(backup_id)
        return self.root / backup_id

    def listing(self) -> Listing:
        result = Listing()
        if not self.root.exists():
            return result
        if not self.root.is_dir():
            raise StorageError(f"backup location {self.location} is not a folder",
                               hint="pass `backup.location` DIR naming a folder, or s3://bucket/prefix",
                               settings=("backup.location",))
        try:
            entries = sorted(self.root.iterdir())
        except OSError as exc:
            raise os_error_message(exc, f"listing {self.location}") from None
        for entry in entries:
            if not entry.is_dir() or entry.name.startswith("."):
                continue
            if entry.name.endswith(PARTIAL_SUFFIX):
                result.incomplete.append(entry.name)
                continue
            if not valid_backup_id(entry.name):
                continue
            manifest_path = entry / MANIFEST_NAME
            if not manifest_path.exists():
                result.incomplete.append(entry.name)
                continue
            try:
                result.backups.append(self._load(entry.name))
            except SafemigrateError as exc:
                result.broken[entry.name] = exc.message
        result.backups.sort(key=lambda m: (m.created_at, m.id))
        return result

    def _load(self, backup_id: str) -> Manifest:
        path = self._dir(backup_id) / MANIFEST_NAME
        try:
            text = path.read_bytes()
        except FileNotFoundError:
            raise self.not_found(backup_id) from None
        except OSError as exc:
            raise os_error_message(exc, f"reading {path}") from None
        manifest = Manifest.from_json(text, str(path))
        if manifest.id != backup_id:
            raise ManifestError(f"{path} describes backup {manifest.id!r}, not {backup_id!r}",
                                hint="the folder was renamed or copied by hand; do not trust it")
        return manifest

    def read_manifest(self, backup_id: str) -> Manifest:
        return self._load(backup_id)

    def update_manifest(self, manifest: Manifest) -> None:
        folder = self._dir(manifest.id)
        if not (folder / MANIFEST_NAME).exists():
            raise self.not_found(manifest.id)
        try:
            write_file_atomic(folder / MANIFEST_NAME, manifest.to_json().encode())
        except OSError as exc:
            raise os_error_message(exc, f"writing the manifest of {manifest.id}") from None

    def delete(self, backup_id: str) -> None:
        folder = self._dir(backup_id)
        try:
            (folder / MANIFEST_NAME).unlink(missing_ok=True)
            fsync_dir(folder)
            shutil.rmtree(folder)
        except OSError as exc:
            raise os_error_message(exc, f"deleting backup {backup_id}") from None

    @contextlib.contextmanager
    def open_file(self, backup_id: str, name: str) -> Iterator[IO[bytes]]:
        path = self._dir(backup_id) / name
        try:
            handle = open(path, "rb")  # noqa: SIM115 - yielded
        except FileNotFoundError:
            raise StorageError(f"file {name} of backup {backup_id} is missing from {self.location}",
                               hint="the backup is damaged; use another one (safemigrate backup list)",
                               details={"file": name}) from None
        except OSError as exc:
            raise os_error_message(exc, f"opening {path}") from None
        with handle:
            yield handle

    def local_dir(self, backup_id: str) -> Path | None:
        return self._dir(backup_id)

    def begin(self, backup_id: str) -> Staging:
        final = self._dir(backup_id)
        partial = self.root / (backup_id + PARTIAL_SUFFIX)
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            if final.exists():
                raise StorageError(f"backup {backup_id} already exists in {self.location}; "
                                   "backups are never overwritten",
                                   hint="run the command again (a new id is chosen)")
            partial.mkdir(mode=0o700)
        except OSError as exc:
            raise os_error_message(exc, f"creating {partial}") from None
        return Staging(backup_id, partial, cleanup=False)

    def commit(self, staging: Staging, manifest: Manifest, progress: ProgressCallback | None,
               cancel: Cancel | None = None) -> None:
        final = self._dir(staging.backup_id)
        try:
            for name in walk_files(staging.dir):
                with open(staging.dir / name, "rb") as handle:
                    os.fsync(handle.fileno())
            write_file_atomic(staging.dir / MANIFEST_NAME, manifest.to_json().encode())
            if final.exists():
                raise StorageError(f"backup {staging.backup_id} appeared in {self.location} meanwhile; "
                                   "backups are never overwritten")
            os.rename(staging.dir, final)
            fsync_dir(self.root)
        except OSError as exc:
            raise os_error_message(exc, f"writing backup {staging.backup_id} to {self.location}") from None

    def abort(self, staging: Staging) -> None:
        shutil.rmtree(staging.dir, ignore_errors=True)


