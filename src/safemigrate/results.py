"""The result objects of :mod:`safemigrate.commands` that are not the engine's or a package's own.

Kept apart so that a plain ``up`` (which returns the engine's ``RunResult``) does not pay for
defining them; :mod:`safemigrate.commands` exports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from .backup import Manifest, VerifyResult
    from .config import Config
    from .history import HistoryRecord
    from .release.report import ReleaseReport

__all__ = ["BackupCreateResult", "BackupListResult", "BackupPinResult", "CheckResult", "ConfigShowResult",
           "HistoryResult", "ReleaseResult"]


@dataclass(frozen=True)
class CheckResult:
    """The database's version against the one the application expects."""

    ok: bool
    version: int | None
    dirty: bool
    expect: int
    at_least: bool
    database: str

    def describe(self) -> str:
        if self.version is None:
            return "no version (dirty)" if self.dirty else "no version"
        return f"{self.version} (dirty)" if self.dirty else str(self.version)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "command": "check", "database": self.database, "version": self.version,
                "dirty": self.dirty, "expect": self.expect, "at_least": self.at_least}


@dataclass(frozen=True)
class HistoryResult:
    """Rows of ``safemigrate_history``, oldest first; ``available`` False when there is no table."""

    records: tuple[HistoryRecord, ...]
    available: bool
    total: int
    database: str
    release: dict[str, Any] | None = None  # with --release ID: that release's stored report

    def to_dict(self) -> dict[str, Any]:
        data = {"ok": True, "command": "history", "database": self.database, "available": self.available,
                "total": self.total, "records": [_record_dict(r) for r in self.records]}
        if self.release is not None:
            data["release"] = self.release
        return data


def _record_dict(record: HistoryRecord) -> dict[str, Any]:
    data = {name: getattr(record, name) for name in record._fields}  # the columns, then id (as asdict did)
    for key in ("started_at", "finished_at"):
        if data[key] is not None:
            data[key] = data[key].isoformat()
    return data


@dataclass(frozen=True)
class ReleaseResult:
    """A release's report and the files it was written to (none for a dry run or preflight)."""

    report: ReleaseReport
    report_files: tuple[Path, ...] = ()
    report_error: str | None = None  # the report files could not be written (the outcome stands)

    def to_dict(self) -> dict[str, Any]:
        return {**self.report.to_dict(), "report_files": [str(p) for p in self.report_files],
                "report_error": self.report_error}


@dataclass(frozen=True)
class BackupCreateResult:
    """The backup taken (its manifest as created), and its verification when one was asked for."""

    storage: str
    manifest: Manifest
    verification: VerifyResult | None = None
    verified_manifest: Manifest | None = None  # the manifest with the verification recorded

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"ok": True, "storage": self.storage, "backup": self.manifest.to_dict()}
        if self.verification is not None:
            data["verification"] = self.verification.to_dict()
            data["backup"] = (self.verified_manifest or self.manifest).to_dict()
        return data


@dataclass(frozen=True)
class BackupListResult:
    """Complete backups of the selected database (oldest first), and what the storage holds besides."""

    storage: str
    backups: tuple[Manifest, ...]
    database: str | None  # the database selected; None: every one
    incomplete: tuple[str, ...] = ()  # folders without a manifest (an interrupted backup)
    unreadable: dict[str, str] = field(default_factory=dict)
    checked: bool = False  # the files were re-hashed now
    damaged: dict[str, str] = field(default_factory=dict)  # id -> why, found by that check

    def rows(self) -> list[dict[str, Any]]:
        return [{**m.summary(), "files_checked": _checked_text(m, self.checked)} for m in self.backups]

    def to_dict(self) -> dict[str, Any]:
        return {"ok": not self.damaged, "storage": self.storage, "backups": self.rows(),
                **({"damaged": self.damaged} if self.checked else {}), "incomplete": list(self.incomplete),
                "unreadable": self.unreadable}


@dataclass(frozen=True)
class BackupPinResult:
    """The backup pinned (prune never deletes it) or unpinned (the retention policy decides again)."""

    backup_id: str
    pinned: bool

    def to_dict(self) -> dict[str, Any]:
        return {"ok": True, "backup_id": self.backup_id, "pinned": self.pinned}


@dataclass(frozen=True)
class ConfigShowResult:
    """Every resolved setting: (name, value with any password masked, origin), and the file and env used."""

    file: Path | None
    env: str | None
    rows: tuple[tuple[str, str, str], ...]
    config: Config = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return self.config.to_dict()


def _checked_text(m: Manifest, now: bool) -> str:
    """When the backup's files were last re-hashed: "files checked now" / "... <date>" / "not re-checked"."""
    if m.verification is not None and not m.verification.ok and m.verification.mode == "checksums":
        return "files damaged " + ("now" if now else m.verification.at[:10])
    if now:
        return "files checked now"
    at = m.files_checked_at
    if not at or (m.verification is not None and at == m.verification.at):
        return "not re-checked"
    return f"files checked {at[:16].replace('T', ' ')}"
