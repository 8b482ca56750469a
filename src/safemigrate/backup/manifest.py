"""The manifest: one JSON document per backup that says what it holds and proves it.

A backup exists (is listed) only once its manifest exists; the manifest is written
after every data file, atomically, and names the SHA-256 of each of them.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..errors import ManifestError

__all__ = [
    "MANIFEST_NAME",
    "MANIFEST_VERSION",
    "BackupFile",
    "Compression",
    "Manifest",
    "ManifestError",
    "Verification",
    "new_backup_id",
    "parse_time",
    "utc_now",
]

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
_ID_RE = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[A-Za-z0-9_.-]{1,80}$")


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def new_backup_id(database: str, moment: datetime | None = None) -> str:
    """``20250101T020000Z-appdb-1a2b3c``: sorts by time, names the database, never collides."""
    moment = moment or utc_now()
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", database.rsplit("/", 1)[-1]).strip("-.")[:40] or "db"
    return f"{moment.astimezone(UTC):%Y%m%dT%H%M%SZ}-{slug}-{secrets.token_hex(3)}"


def valid_backup_id(backup_id: str) -> bool:
    return bool(_ID_RE.match(backup_id)) and ".." not in backup_id


@dataclass
class BackupFile:
    name: str  # path relative to the backup's folder, "/"-separated
    size: int
    sha256: str


@dataclass
class Compression:
    # "zstd": safemigrate's own zstd stream around an uncompressed dump;
    # "pg_dump:zstd" / "pg_dump:gzip": the dump tool's own; "none".
    method: str
    level: int | None = None
    threads: int | None = None


@dataclass
class Verification:
    ok: bool
    mode: str  # "full" (a real restore) or "quick" (checksums and every data block read)
    at: str
    duration_s: float
    checks: list[str] = field(default_factory=list)
    error: str | None = None
    restored_version: int | None = None
    restored_dirty: bool | None = None
    row_count_mismatches: dict[str, Any] = field(default_factory=dict)
    tool: dict[str, Any] | None = None


@dataclass
class Manifest:
    id: str
    created_at: str
    dialect: str
    database: dict[str, Any]  # host, port, database: never a password
    server_version: str
    tool: dict[str, Any]  # the dump tool: name, path, version
    format: str  # custom | directory | sql | sqlite
    compression: Compression
    files: list[BackupFile]
    size: int
    duration_s: float
    schema_migrations: dict[str, Any]  # table, version (None: none), dirty
    row_counts: dict[str, int]
    row_counts_consistent: bool = True  # counted in the same snapshot as the dump
    verification: Verification | None = None
    pinned: bool = False
    label: str | None = None
    # When every file's SHA-256 was last re-hashed and matched (verify, list --check, prune).
    files_checked_at: str | None = None
    manifest_version: int = MANIFEST_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    # -- derived -----------------------------------------------------------------
    @property
    def created(self) -> datetime:
        return parse_time(self.created_at)

    @property
    def verified(self) -> bool:
        """A full verification (a real restore that matched) succeeded."""
        return self.verification is not None and self.verification.ok and self.verification.mode == "full"

    @property
    def verification_state(self) -> str:
        v = self.verification
        if v is None:
            return "unverified"
        if not v.ok:
            return "failed"
        return "verified" if v.mode == "full" else "checksums-ok"

    @property
    def data_name(self) -> str:
        """The data file (or the folder holding the data files, for the directory format)."""
        return str(self.extra.get("data", self.files[0].name if self.files else ""))

    # -- JSON ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["verification_state"] = self.verification_state
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "manifest") -> Manifest:
        try:
            raw = dict(data)
            raw.pop("verification_state", None)
            if int(raw.get("manifest_version", 1)) > MANIFEST_VERSION:
                raise ManifestError(
                    f"{where} was written by a newer safemigrate (manifest version "
                    f"{raw['manifest_version']})",
                    hint="upgrade safemigrate (pip install -U safemigrate) to read it",
                )
            raw["compression"] = Compression(**raw["compression"])
            raw["files"] = [BackupFile(**f) for f in raw["files"]]
            if raw.get("verification") is not None:
                raw["verification"] = Verification(**raw["verification"])
            known = set(cls.__dataclass_fields__)
            unknown = {k: raw.pop(k) for k in list(raw) if k not in known}
            manifest = cls(**raw)
            manifest.extra.update({k: v for k, v in unknown.items() if k not in manifest.extra})
            if not valid_backup_id(manifest.id):
                raise ValueError(f"invalid backup id {manifest.id!r}")
            return manifest
        except ManifestError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestError(
                f"{where} is not a valid safemigrate manifest: {exc}",
                hint="the backup cannot be trusted; take a new one with safemigrate backup create",
            ) from None

    @classmethod
    def from_json(cls, text: str | bytes, where: str = "manifest") -> Manifest:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ManifestError(
                f"{where} is not valid JSON: {exc}",
                hint="the backup cannot be trusted; take a new one with safemigrate backup create",
            ) from None
        if not isinstance(data, dict):
            raise ManifestError(f"{where} is not a JSON object")
        return cls.from_dict(data, where)

    def summary(self) -> dict[str, Any]:
        """The short form ``list`` shows."""
        return {
            "id": self.id,
            "created_at": self.created_at,
            "dialect": self.dialect,
            "database": self.database.get("database"),
            "host": self.database.get("host"),
            "format": self.format,
            "compression": self.compression.method,
            "size": self.size,
            "schema_version": self.schema_migrations.get("version"),
            "dirty": self.schema_migrations.get("dirty"),
            "verification": self.verification_state,
            "verified_at": self.verification.at if self.verification else None,
            "files_checked_at": self.files_checked_at,
            "pinned": self.pinned,
            "label": self.label,
        }


def human_size(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"
