"""``verify_backup``: prove a backup restorable, and record the result in its manifest.

Full (default): a real restore into a scratch database that is created for the purpose
(its name starts with ``safemigrate_verify_`` so it can never be a real one) and always
dropped, then the restored ``schema_migrations`` version and per-table row counts are
compared with the manifest. Quick (``quick=True``): every file's SHA-256, and every data
block read back (``pg_restore -f /dev/null`` / decompression), without a server.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import SafemigrateError, UsageError, VerificationFailedError
from ..urls import DatabaseURL, parse_database_url
from .dialect import dialect_named
from .engine import ChecksumError, RestoreFailedError, RestoreOptions, compare
from .manifest import Manifest, Verification, format_time, utc_now
from .progress import Cancel, ProgressCallback, stopped_as
from .storage import Storage, StorageError

__all__ = ["VerificationFailedError", "VerifyResult", "verify_backup"]


@dataclass
class VerifyResult:
    backup_id: str
    ok: bool
    mode: str
    verification: Verification
    # Scratch databases that earlier, interrupted verifications left on the server: each
    # {"name", "command"}, the command that removes it (reported, never dropped automatically).
    leftovers: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"backup_id": self.backup_id, "ok": self.ok, "mode": self.mode,
                "verification": asdict(self.verification), "leftovers": self.leftovers}


def _server_url(manifest: Manifest, database_url: str | DatabaseURL | None) -> DatabaseURL | None:
    if manifest.dialect == "sqlite":
        return None
    if database_url is None:
        raise UsageError(
            f"a full verify of backup {manifest.id} restores it on a {manifest.dialect} server: "
            "none was given",
            hint="pass `database_url` (any database on the server to restore on; a scratch database "
            "is created and dropped there) or set DATABASE_URL, or verify with `quick` (no server)",
            settings=("database_url", "quick"))
    url = database_url if isinstance(database_url, DatabaseURL) else parse_database_url(database_url)
    if url.dialect != manifest.dialect:
        raise UsageError(f"backup {manifest.id} is a {manifest.dialect} backup; {url.redacted()} is "
                         f"{url.dialect}", hint=f"pass the URL of a {manifest.dialect} server")
    return url


def verify_backup(storage: Storage, backup_id: str, *, database_url: str | DatabaseURL | None = None,
                  quick: bool = False, options: RestoreOptions | None = None,
                  progress: ProgressCallback | None = None, record: bool = True,
                  cancel: Cancel | None = None) -> VerifyResult:
    """Verify one backup; write the result into its manifest (``record``).

    Raises :class:`VerificationFailedError` when the backup is damaged or does not restore
    to what the manifest says; other errors (no server, no tool, ``cancel`` set) leave the
    manifest alone.
    """
    with stopped_as(cancel, "the verification"):
        return _verify(storage, backup_id, database_url, quick, options, progress, record, cancel)


def _verify(storage: Storage, backup_id: str, database_url: str | DatabaseURL | None, quick: bool,
            options: RestoreOptions | None, progress: ProgressCallback | None, record: bool,
            cancel: Cancel | None) -> VerifyResult:
    from .tools import sweep_stale_private

    sweep_stale_private()
    manifest = storage.read_manifest(backup_id)
    options = options or RestoreOptions()
    options.single_transaction = True
    mode = "quick" if quick else "full"
    url = None if quick else _server_url(manifest, database_url)
    dialect = dialect_named(manifest.dialect, url, progress=progress, cancel=cancel)
    started_at = format_time(utc_now())
    start = time.monotonic()
    checks: list[str] = []
    problems: list[str] = []
    mismatches: dict[str, Any] = {}
    restored_version: int | None = None
    restored_dirty: bool | None = None
    failed_file: str | None = None
    leftovers: list[dict[str, str]] = []
    try:
        verified = dialect.verify(storage, manifest, options, quick=quick)
        leftovers = [leftover.to_dict() for leftover in verified.leftovers]
        if verified.inspection is None:
            checks = verified.checks
        else:
            inspection = verified.inspection
            checks = [f"sha256 of {len(manifest.files)} file(s)", *inspection.checks]
            restored_version, restored_dirty = inspection.version, inspection.dirty
            problems, mismatches = compare(manifest, inspection)
            if not manifest.row_counts_consistent and mismatches:
                # Counts were not taken in the dump's own snapshot: differences are expected.
                checks.append("row counts differ but were not taken in the dump's snapshot: "
                              + problems.pop())
            if not problems:
                checks.append(f"schema_migrations version {'none' if restored_version is None else restored_version} and row counts of "
                              f"{len(inspection.row_counts)} table(s) match the manifest")
    except (ChecksumError, RestoreFailedError) as exc:
        problems = [exc.message]
        failed_file = exc.details.get("file")
    except StorageError as exc:
        if "file" not in exc.details:  # the storage is unreachable: says nothing about the backup
            raise
        problems = [exc.message]  # a file of the backup is missing
        failed_file = exc.details["file"]
    verification = Verification(
        ok=not problems, mode=mode, at=started_at, duration_s=round(time.monotonic() - start, 3),
        checks=checks, error="; ".join(problems) or None, restored_version=restored_version,
        restored_dirty=restored_dirty, row_count_mismatches=mismatches,
    )
    if record:
        keep_full = manifest.verified and quick and verification.ok
        if not keep_full:  # a passing quick check does not erase an earlier full verification
            manifest.verification = verification
        if verification.ok:  # every file was hashed on the way
            manifest.files_checked_at = started_at
        try:
            storage.update_manifest(manifest)
        except SafemigrateError:
            if verification.ok:
                raise
    if problems:
        raise VerificationFailedError(
            f"backup {backup_id} failed verification ({mode}): {'; '.join(problems)}",
            hint="do not rely on this backup: restore an older verified one (safemigrate backup list) "
            "and take a new one (safemigrate backup create --verify)",
            details={"backup_id": backup_id, "verification": asdict(verification),
                     **({"file": failed_file} if failed_file else {})},
        )
    return VerifyResult(backup_id, True, mode, verification, leftovers)

