"""Finding and reading migration files in golang-migrate's layout.

A migration file is named ``VERSION_NAME.DIRECTION.EXT`` and matched with
golang-migrate's own expression. A version may have an up file, a down file or
both; versions are ordered numerically and gaps are allowed.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

from .errors import SourceError

__all__ = [
    "MIGRATION_FILE_RE",
    "Direction",
    "Migration",
    "MigrationFile",
    "MigrationSource",
    "SourceWarning",
    "load_source",
]

Direction = Literal["up", "down"]

# golang-migrate v4, source/parse.go: ^([0-9]+)_(.*)\.(down|up)\.(.*)$
MIGRATION_FILE_RE = re.compile(r"^([0-9]+)_(.*)\.(down|up)\.(.*)$", re.DOTALL)
_UINT64_MAX = 2**64 - 1


@dataclass(frozen=True)
class MigrationFile:
    """One ``.up`` or ``.down`` file."""

    version: int
    name: str
    direction: Direction
    path: Path

    @cached_property
    def data(self) -> bytes:
        return self.path.read_bytes()

    @property
    def text(self) -> str:
        try:
            return self.data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SourceError(
                f"{self.path} is not valid UTF-8 (byte {exc.start})",
                hint="save the file as UTF-8",
            ) from None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def filename(self) -> str:
        return self.path.name

    def is_empty(self) -> bool:
        return not self.data.strip()


@dataclass(frozen=True)
class Migration:
    """A version and its files; either file may be missing."""

    version: int
    up: MigrationFile | None = None
    down: MigrationFile | None = None

    @property
    def name(self) -> str:
        for f in (self.up, self.down):
            if f is not None:
                return f.name
        return ""


@dataclass(frozen=True)
class SourceWarning:
    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass
class MigrationSource:
    """The migrations of one folder, with golang-migrate's First/Next/Prev navigation."""

    directory: Path
    migrations: dict[int, Migration]
    warnings: list[SourceWarning] = field(default_factory=list)

    @cached_property
    def versions(self) -> list[int]:
        return sorted(self.migrations)

    def first(self) -> int | None:
        return self.versions[0] if self.versions else None

    def last(self) -> int | None:
        return self.versions[-1] if self.versions else None

    def next(self, version: int) -> int | None:
        versions = self.versions
        i = bisect.bisect_left(versions, version)
        if i < len(versions) and versions[i] == version and i + 1 < len(versions):
            return versions[i + 1]
        return None

    def prev(self, version: int) -> int | None:
        versions = self.versions
        i = bisect.bisect_left(versions, version)
        if i < len(versions) and versions[i] == version and i > 0:
            return versions[i - 1]
        return None

    def exists(self, version: int) -> bool:
        return version in self.migrations

    def up_file(self, version: int) -> MigrationFile | None:
        m = self.migrations.get(version)
        return m.up if m else None

    def down_file(self, version: int) -> MigrationFile | None:
        m = self.migrations.get(version)
        return m.down if m else None

    def name(self, version: int) -> str:
        m = self.migrations.get(version)
        return m.name if m else ""


def _looks_like_migration(name: str) -> bool:
    lowered = name.lower()
    return (
        name[:1].isdigit()
        or lowered.endswith(".sql")
        or ".up." in lowered
        or ".down." in lowered
    )


def load_source(directory: str | os.PathLike[str]) -> MigrationSource:
    """Read a migrations folder (not recursive, like golang-migrate's file source)."""
    path = Path(directory)
    if not path.exists():
        raise SourceError(
            f"migrations folder {str(path)!r} does not exist",
            hint="pass -path DIR (default ./migrations), or create the first migration with: "
            "safemigrate create -ext sql -dir migrations -seq NAME",
        )
    if not path.is_dir():
        raise SourceError(
            f"{str(path)!r} is not a folder",
            hint="-path must name the folder that holds the migration files",
        )
    files: dict[tuple[int, Direction], MigrationFile] = {}
    warnings: list[SourceWarning] = []
    try:
        entries = sorted(os.scandir(path), key=lambda e: e.name)
    except OSError as exc:
        raise SourceError(f"cannot read migrations folder {str(path)!r}: {exc.strerror}") from None
    for entry in entries:
        if entry.is_dir():
            continue
        match = MIGRATION_FILE_RE.match(entry.name)
        if match is None:
            if not entry.name.startswith(".") and _looks_like_migration(entry.name):
                warnings.append(
                    SourceWarning(
                        Path(entry.path),
                        "looks like a migration but is not named VERSION_NAME.up.EXT or "
                        "VERSION_NAME.down.EXT (lower-case up/down), so it is ignored",
                    )
                )
            continue
        version = int(match.group(1))
        if version > _UINT64_MAX:
            raise SourceError(f"{entry.path}: version {match.group(1)} does not fit in 64 bits")
        direction: Direction = "up" if match.group(3) == "up" else "down"
        # Joining the name to the folder's Path skips re-parsing the folder for each of 10,000 files.
        mf = MigrationFile(version, match.group(2), direction, path / entry.name)
        key = (version, direction)
        if key in files:
            raise SourceError(
                f"duplicate migration file: {entry.name} has the same version and direction "
                f"as {files[key].filename}",
                hint="give one of them a new version number (safemigrate create -seq makes the next one)",
                details={"files": [str(files[key].path), entry.path]},
            )
        files[key] = mf
    # One Migration per version, built once, in version order.
    migrations = {
        version: Migration(version, up=files.get((version, "up")), down=files.get((version, "down")))
        for version in sorted({version for version, _direction in files})
    }
    return MigrationSource(path, migrations, warnings)
