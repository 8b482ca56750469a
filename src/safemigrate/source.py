"""Finding and reading migration files in golang-migrate's layout.

A migration file is named ``VERSION_NAME.DIRECTION.EXT`` and matched with
golang-migrate's own expression. A version may have an up file, a down file or
both; versions are ordered numerically and gaps are allowed.
"""

from __future__ import annotations

import bisect
import operator
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cache, cached_property
from itertools import compress, repeat
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ._gc import cyclic_gc_paused
from ._record import Record
from .errors import SourceError

if TYPE_CHECKING:
    import hashlib

__all__ = [
    "MAX_FILE_SIZE",
    "MAX_VERSION",
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
# golang-migrate parses versions as uint64, but every database stores them in a signed 64-bit
# column (PostgreSQL and MySQL bigint, SQLite's INTEGER): a larger version could never be recorded.
MAX_VERSION = 2**63 - 1
# Splitting a file with the database's parser needs about 50 times the file's size in memory
# (libpg_query's parse tree), so a larger file is refused before anything runs.
MAX_FILE_SIZE = 32 * 1024 * 1024
# MIGRATION_FILE_RE over a listing of NUL-separated names ("\0" + names joined + "\0"): each name
# matches exactly when MIGRATION_FILE_RE matches it alone, with the same groups (the greedy
# name runs to the last ".up." / ".down." either way); findall gives (file name, version digits,
# name, direction) per matching file.
_LISTING_RE = re.compile(r"\0(([0-9]+)_([^\0]*)\.(down|up)\.[^\0]*)(?=\0)")
_NAME_OF: Callable[[os.DirEntry[str]], str] = operator.attrgetter("name")
_FIRST = operator.itemgetter(0)
_THIRD = operator.itemgetter(2)
_DIGITS_OF = operator.itemgetter(1)
_FILE_AND_NAME = operator.itemgetter(0, 2)
_IS_FILE: Callable[[os.DirEntry[str]], bool] = os.DirEntry.is_file
_IS_SYMLINK: Callable[[os.DirEntry[str]], bool] = os.DirEntry.is_symlink
_HASH_BLOCK = 1024 * 1024
_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def display_name(name: str) -> str:
    """A file name as it can be printed: bytes that are not UTF-8 shown as \\xNN."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def _open_regular(path: str | Path) -> tuple[int, int]:
    """A descriptor of ``path`` and its size, or a SourceError when it cannot be opened or is not
    a regular file. Opened non-blocking: a FIFO that replaced the file since the folder was read
    must not block the run for ever."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror}",
                          hint="check that the file exists and is readable, then run the command again") from None
    try:
        info = os.fstat(fd)
    except OSError:
        os.close(fd)
        raise
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise SourceError(f"{path} is not a regular file", hint="replace it with a regular file, or move it away")
    return fd, info.st_size


def _read_file(path: str | Path) -> bytes:
    """A regular file's bytes, refusing one over MAX_FILE_SIZE (before or while reading it).

    Opened non-blocking (a FIFO that replaced the file since the folder was read must not block
    the run for ever) and refused unless it is a regular file. A bare descriptor, no buffered
    reader: one ``os.read`` for a file as large as fstat says (every file ``up`` runs is read here).
    """
    fd, size = _open_regular(path)
    try:
        if size > MAX_FILE_SIZE:
            raise _too_large(Path(path), size)
        data = os.read(fd, size + 1)  # +1: it may have grown
        if len(data) != size:  # grown or shrunk since: read on to the end, or past the limit
            parts, total = [data], len(data)
            while total <= MAX_FILE_SIZE and (chunk := os.read(fd, MAX_FILE_SIZE + 1 - total)):
                parts.append(chunk)
                total += len(chunk)
            data = b"".join(parts)
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_SIZE:  # it grew while being read
        raise _too_large(Path(path), len(data))
    return data


@cache
def _sha256_constructor() -> Callable[[bytes], hashlib._Hash]:
    """``hashlib.sha256``, or CPython's own SHA-256 when it has one (``_sha2`` from 3.12, ``_sha256``
    before): the same digest, and for a migration-sized file about a tenth cheaper than OpenSSL's
    (which ``hashlib.sha256(data)`` looks up on every call), without loading hashlib and OpenSSL."""
    import importlib

    for module in ("_sha2", "_sha256"):
        try:
            constructor: Callable[[bytes], hashlib._Hash] = importlib.import_module(module).sha256
        except (ImportError, AttributeError):
            continue
        return constructor
    import hashlib  # here, not at the top: loading OpenSSL costs `lint` a tenth of its start-up

    return hashlib.sha256


# A file smaller than this is hashed from one read, without asking its type and size first.
_QUICK_READ = 64 * 1024


def _sha256_of_file(path: str | Path) -> str:
    """The SHA-256 of a regular file; what ``status`` computes for every applied file.

    Most migration files are small: one ``pread`` at offset 0, without an ``fstat`` first
    (building its ``stat_result`` was a fifth of hashing 10,000 files). ``pread`` fails on a FIFO,
    a socket and a folder (still opened non-blocking: a FIFO never blocks), and reads nothing
    from an empty file: those, and a file as large as the read or larger, go through
    :func:`_sha256_of_checked_file`, which refuses what is not a regular file, as
    :func:`_read_file` does, and streams a large one.
    """
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError:
        return _sha256_of_checked_file(path)  # raises the SourceError (or reads it, if it is back)
    try:
        data = os.pread(fd, _QUICK_READ, 0)
    except OSError:  # ESPIPE (a FIFO, a socket), EISDIR...: said by the checked read
        data = b""
    finally:
        os.close(fd)
    if 0 < len(data) < _QUICK_READ:  # a short read of a regular file: it ends there
        return _sha256_constructor()(data).hexdigest()
    return _sha256_of_checked_file(path)


def _sha256_of_files(paths: list[str]) -> list[str]:
    """:func:`_sha256_of_file` of each path, in one loop: ``status`` hashes every applied file
    (10,000 and more), here without two Python calls per file."""
    digests: list[str] = []
    append = digests.append
    sha256 = _sha256_constructor()
    open_, pread, close, flags, quick = os.open, os.pread, os.close, _OPEN_FLAGS, _QUICK_READ
    for path in paths:
        try:
            fd = open_(path, flags)
        except OSError:
            append(_sha256_of_checked_file(path))  # raises the SourceError (or reads it, if it is back)
            continue
        try:
            data = pread(fd, quick, 0)
        except OSError:  # ESPIPE (a FIFO, a socket), EISDIR...: said by the checked read
            data = b""
        finally:
            close(fd)
        append(sha256(data).hexdigest() if 0 < len(data) < quick else _sha256_of_checked_file(path))
    return digests


def _sha256_of_checked_file(path: str | Path) -> str:
    """The SHA-256 of a regular file, streamed, after ``fstat`` says it is one.

    The same checks and errors as :func:`_read_file`, on a bare descriptor; a larger or growing
    file is streamed in blocks, never held whole.
    """
    fd, size = _open_regular(path)
    try:
        block = min(size + 1, _HASH_BLOCK)  # +1: it may have grown
        data = os.read(fd, block)
        digest = _sha256_constructor()(data)
        if len(data) == size < block:  # all of it, as large as the folder said: the end
            return digest.hexdigest()
        while data:
            data = os.read(fd, block)
            digest.update(data)
        return digest.hexdigest()
    finally:
        os.close(fd)


def _too_large(path: Path, size: int) -> SourceError:
    return SourceError(
        f"{path} is {size / 1048576:.1f} MB; migration files are limited to "
        f"{MAX_FILE_SIZE // 1048576} MB (splitting a file needs about 50 times its size in memory)",
        hint="split it into several migrations, or load bulk data outside the migration "
        "(psql \\copy, mariadb LOAD DATA) and keep the schema change in the file",
        details={"size": size, "limit": MAX_FILE_SIZE},
    )


class MigrationFile(Record, frozen=True):
    """One ``.up`` or ``.down`` file."""

    version: int
    name: str
    direction: Direction
    path: Path

    def __init__(self, version: int, name: str, direction: Direction, path: Path) -> None:
        self.__dict__.update(version=version, name=name, direction=direction, path=path)

    @cached_property
    def data(self) -> bytes:
        return _read_file(self.path)

    @property
    def text(self) -> str:
        """The file as SQL text; refuses what the server would misread (a BOM, NUL, not UTF-8)."""
        data = self.data
        if data.startswith(_BOM):
            # golang-migrate sends the BOM, and every server rejects it as an invisible syntax error.
            raise SourceError(
                f"{self.path} starts with a UTF-8 byte order mark (BOM, bytes EF BB BF at byte offset 0), "
                "which the database would read as part of the first statement",
                hint=f"save the file as UTF-8 without BOM (e.g. sed -i '1s/^\\xEF\\xBB\\xBF//' {self.path})",
                details={"byte_offset": 0},
            )
        if data.startswith(_UTF16_BOMS):
            raise SourceError(f"{self.path} is UTF-16, not UTF-8 (byte order mark at byte offset 0)",
                              hint="save the file as UTF-8", details={"byte_offset": 0})
        nul = data.find(b"\x00")
        if nul >= 0:
            # PostgreSQL ends the query text at a NUL: what follows would silently never run.
            line = data.count(b"\n", 0, nul) + 1
            raise SourceError(
                f"{self.path} contains a NUL byte at byte offset {nul} (line {line}); "
                "the database would drop or misread everything after it",
                hint="remove the NUL byte (a file saved as UTF-16 is full of them: save it as UTF-8)",
                details={"byte_offset": nul, "line": line},
            )
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SourceError(
                f"{self.path} is not valid UTF-8 (byte offset {exc.start})",
                hint="save the file as UTF-8",
                details={"byte_offset": exc.start},
            ) from None

    @property
    def sha256(self) -> str:
        import hashlib  # here, not at the top: loading OpenSSL costs `lint` a tenth of its start-up

        if "data" in self.__dict__:  # already read for running: hash exactly what runs
            return hashlib.sha256(self.data).hexdigest()
        # status hashes every file: stream it rather than hold (or refuse) a large one.
        return _sha256_of_file(self.path)

    @property
    def filename(self) -> str:
        return self.path.name

    def is_empty(self) -> bool:
        return not self.data.strip()


class Migration(Record, frozen=True):
    """A version and its files; either file may be missing."""

    version: int
    up: MigrationFile | None
    down: MigrationFile | None

    def __init__(self, version: int, up: MigrationFile | None = None, down: MigrationFile | None = None) -> None:
        self.__dict__.update(version=version, up=up, down=down)

    @property
    def name(self) -> str:
        for f in (self.up, self.down):
            if f is not None:
                return f.name
        return ""


class SourceWarning(Record, frozen=True):
    path: Path
    message: str
    flag: str  # the status flag it raises; "ignored-file": the entry never runs
    hint: str

    def __init__(self, path: Path, message: str, flag: str = "ignored-file",
                 hint: str = "rename it VERSION_NAME.up.sql / VERSION_NAME.down.sql, or move it away") -> None:
        self.__dict__.update(path=path, message=message, flag=flag, hint=hint)

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


# A file's marker: what stands between its name and its extension, in a file the plain listing read.
_MARKERS: dict[Direction, str] = {"up": ".up.", "down": ".down."}


def _plain_name(filename: str, marker: str) -> str:
    """MIGRATION_FILE_RE's name group of a file :func:`_plain_listing` accepted: after the
    version's ``_``, up to the last ``marker`` (the file holds no other direction's marker)."""
    return filename.partition("_")[2].rpartition(marker)[0]


def _as_columns(versions: list[int], listing: Iterable[tuple[int, str, str | None, str | None]]
                ) -> tuple[list[int], list[str], list[str | None], list[str | None]]:
    """A listing's rows as the columns :meth:`MigrationSource.columns` gives (``versions`` is
    the first column, already built)."""
    rows = list(listing)
    return versions, [row[1] for row in rows], [row[2] for row in rows], [row[3] for row in rows]


class _LazyMigrations(Mapping[int, Migration]):
    """version -> :class:`Migration`, each built the first time it is asked for.

    Planning needs only the versions; building 20,000 ``MigrationFile`` objects (and their
    paths) for a 10,000-version folder cost ``up`` with nothing pending most of its time.
    A built ``Migration`` is kept, so a file read for running is the same object whose
    checksum is recorded (nothing is kept across runs).

    ``ups`` and ``downs`` map each version to its file's name; ``names`` maps a file's name to
    its migration's name, or is None when every file is one :func:`_plain_listing` accepted
    (the name is then cut from the file's name when it is asked for).
    """

    def __init__(self, directory: Path, versions: list[int], ups: dict[int, str], downs: dict[int, str],
                 names: dict[str, str] | None) -> None:
        self._directory = directory
        self._versions = versions
        self._ups = ups
        self._downs = downs
        self._names = names
        self._built: dict[int, Migration] = {}
        # pathlib's own shortcut for a name read from the folder (what os.scandir and glob give):
        # about 4x cheaper than ``directory / name``, which parses the name again; status builds
        # every file. The same Path either way.
        self._child: Callable[[str], Path] = getattr(directory, "_make_child_relpath", directory.joinpath)
        # str(directory / name) without a Path: what status prints for each of 20,000 files.
        text = str(directory)
        self._prefix = "" if text == "." else text if text.endswith(os.sep) else text + os.sep

    def _name(self, filename: str, direction: Direction) -> str:
        names = self._names
        return _plain_name(filename, _MARKERS[direction]) if names is None else names[filename]

    def _file(self, version: int, direction: Direction, filename: str | None) -> MigrationFile | None:
        if filename is None:
            return None
        return MigrationFile(version, self._name(filename, direction), direction, self._child(filename))

    def __getitem__(self, version: int) -> Migration:
        built = self._built.get(version)
        if built is None:
            up, down = self._ups.get(version), self._downs.get(version)
            if up is None and down is None:
                raise KeyError(version)
            built = Migration(version, up=self._file(version, "up", up), down=self._file(version, "down", down))
            self._built[version] = built
        return built

    def __contains__(self, version: object) -> bool:
        return version in self._ups or version in self._downs

    def __iter__(self) -> Iterator[int]:
        return iter(self._versions)

    def __len__(self) -> int:
        return len(self._versions)

    def listing(self) -> Iterator[tuple[int, str, str | None, str | None]]:
        """(version, name, up file's path, down file's path) in version order, as text, building
        nothing (the paths are the files' ``str(path)``)."""
        prefix, ups, downs, names = self._prefix, self._ups, self._downs, self._names
        for version in self._versions:
            up, down = ups.get(version), downs.get(version)
            if names is not None:
                name = names[up if up is not None else down]  # type: ignore[index]
            elif up is not None:
                name = up.partition("_")[2].rpartition(".up.")[0]  # _plain_name, inline: status lists every version
            else:
                name = _plain_name(down, ".down.")  # type: ignore[arg-type]
            yield (version, name, None if up is None else prefix + up, None if down is None else prefix + down)

    def columns(self) -> tuple[list[int], list[str], list[str | None], list[str | None]]:
        """:meth:`listing` as four columns (versions, names, up paths, down paths), each built by
        C-level ``map`` calls when every version has both files: ``status`` lists every version."""
        versions = self._versions
        ups = list(map(self._ups.get, versions))
        downs = list(map(self._downs.get, versions))
        if not (all(ups) and all(downs)):  # a version without one of its files (names are never empty)
            return _as_columns(versions, self.listing())
        files: list[str] = ups  # type: ignore[assignment]  # no None among them
        if self._names is not None:
            names = list(map(self._names.__getitem__, files))
        else:  # _plain_name of each up file: what follows the version's "_", up to its last ".up."
            after_version = map(_THIRD, map(str.partition, files, repeat("_")))
            names = list(map(_FIRST, map(str.rpartition, after_version, repeat(".up."))))
        prefix = self._prefix.__add__
        return versions, names, list(map(prefix, files)), list(map(prefix, downs))  # type: ignore[arg-type]

    def up_sha256s(self, versions: list[int], paths: list[str]) -> list[str]:
        """:meth:`up_sha256` of each version with an up file, given that file's path as
        :meth:`listing` gave it: hashed in one loop (from what runs, if the version is built)."""
        if not self._built:
            return _sha256_of_files(paths)
        built = self._built
        return [
            migration.up.sha256 if (migration := built.get(version)) is not None and migration.up is not None
            else _sha256_of_file(path)
            for version, path in zip(versions, paths, strict=True)
        ]

    def up_sha256(self, version: int) -> str | None:
        """The up file's checksum without building its objects (unless they are built already:
        then a file read for running is hashed from what runs)."""
        built = self._built.get(version)
        if built is not None:
            return None if built.up is None else built.up.sha256
        up = self._ups.get(version)
        if up is None:
            if version not in self._downs:
                raise KeyError(version)
            return None
        return _sha256_of_file(self._prefix + up)

    def name(self, version: int) -> str:
        """The version's name without building its files (the up file's, else the down file's)."""
        up = self._ups.get(version)
        if up is not None:
            return self._name(up, "up")
        down = self._downs.get(version)
        return "" if down is None else self._name(down, "down")


class MigrationSource(Record):
    """The migrations of one folder, with golang-migrate's First/Next/Prev navigation."""

    directory: Path
    migrations: Mapping[int, Migration]
    warnings: list[SourceWarning]

    def __init__(self, directory: Path, migrations: Mapping[int, Migration],
                 warnings: list[SourceWarning] | None = None) -> None:
        self.directory = directory
        self.migrations = migrations
        self.warnings = [] if warnings is None else warnings

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

    def listing(self) -> Iterator[tuple[int, str, str | None, str | None]]:
        """(version, name, up file's path, down file's path) for every version in order, as text."""
        if isinstance(self.migrations, _LazyMigrations):
            return self.migrations.listing()
        return ((v, m.name, None if m.up is None else str(m.up.path), None if m.down is None else str(m.down.path))
                for v in self.versions for m in (self.migrations[v],))

    def up_sha256(self, version: int) -> str | None:
        """The SHA-256 of the version's up file (None without one), as ``up_file(v).sha256``."""
        if isinstance(self.migrations, _LazyMigrations):
            return self.migrations.up_sha256(version)
        up = self.up_file(version)
        return None if up is None else up.sha256

    def columns(self) -> tuple[list[int], list[str], list[str | None], list[str | None]]:
        """:meth:`listing` as four lists: the versions, their names, up paths and down paths."""
        if isinstance(self.migrations, _LazyMigrations):
            return self.migrations.columns()
        return _as_columns(list(self.versions), self.listing())

    def up_sha256s(self, versions: list[int], paths: list[str]) -> list[str]:
        """:meth:`up_sha256` of each of ``versions``, each of which has an up file, at the path
        :meth:`listing` gave for it (the same checks and errors, for many files at once)."""
        if isinstance(self.migrations, _LazyMigrations):
            return self.migrations.up_sha256s(versions, paths)
        return [self.up_sha256(version) or "" for version in versions]

    def name(self, version: int) -> str:
        if isinstance(self.migrations, _LazyMigrations):
            return self.migrations.name(version)
        m = self.migrations.get(version)
        return m.name if m else ""


def _warned_about(name: str) -> bool:
    """Whether :func:`_misnamed` warns about a file of this name that the expression did not match."""
    return not name.startswith(".") and _looks_like_migration(name)


def _looks_like_migration(name: str) -> bool:
    lowered = name.lower()
    return (
        name[:1].isdigit()
        or lowered.endswith(".sql")
        or ".up." in lowered
        or ".down." in lowered
    )


_MISNAMED = ("looks like a migration but is not named VERSION_NAME.up.EXT or "
             "VERSION_NAME.down.EXT (lower-case up/down), so it is ignored")


def _kind_of(info: os.stat_result) -> str | None:
    """None for a regular file, else what the entry is, for the warning."""
    if stat.S_ISREG(info.st_mode):
        return None
    if stat.S_ISDIR(info.st_mode):
        return "a folder"
    if stat.S_ISFIFO(info.st_mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(info.st_mode):
        return "a socket"
    return "a device or other special file"


def _check_link(entry: os.DirEntry[str], folder: str, no_follow: bool,
                warnings: list[SourceWarning]) -> None:
    """A symbolic link named like a migration must lead to a file; leaving the folder is flagged."""
    target = os.path.realpath(entry.path)
    try:
        os.stat(entry.path)
    except OSError as exc:
        raise SourceError(
            f"{entry.path} is a symbolic link to {os.readlink(entry.path)!r}, which cannot be read "
            f"({exc.strerror})",
            hint="fix the link or remove it, then run the command again",
        ) from None
    if os.path.commonpath([folder, target]) == folder:
        return
    if no_follow:
        raise SourceError(
            f"{entry.path} is a symbolic link to {target}, outside the migrations folder, "
            "and `no_follow` refuses such links",
            hint="copy the file into the migrations folder, or run without `no_follow` to read it",
            settings=("no_follow",),
            details={"target": target},
        )
    warnings.append(SourceWarning(
        Path(entry.path),
        f"is a symbolic link to {target}, outside the migrations folder; it is read as a migration "
        "(`no_follow` refuses such links)",
        flag="outside-link",
        hint="copy the file into the migrations folder, or set `no_follow` to refuse links that leave it",
    ))


def _entry_kind(entry: os.DirEntry[str], folder: str, no_follow: bool,
                warnings: list[SourceWarning]) -> str | None:
    """None for a regular file (a link is followed), else what the entry is.

    A plain file's type comes from the folder listing itself (d_type): no stat call per file,
    which was the largest single cost of reading a 10,000-file folder.
    """
    try:
        if entry.is_symlink():
            _check_link(entry, folder, no_follow, warnings)
        elif entry.is_file(follow_symlinks=False):
            return None
        return _kind_of(entry.stat())
    except OSError as exc:
        raise SourceError(f"cannot read {entry.path}: {exc.strerror}",
                          hint="fix its permissions or move it away, then run the command again") from None


def _version_of(entry: os.DirEntry[str], digits: str) -> int:
    version = int(digits)
    if version > MAX_VERSION:
        raise SourceError(
            f"{entry.path}: version {digits} is larger than {MAX_VERSION}, the largest version a "
            "database's version column can hold",
            hint="renumber the file (safemigrate create -seq makes the next sequential number)",
        )
    return version


def load_source(directory: str | os.PathLike[str], *, no_follow: bool = False) -> MigrationSource:
    """Read a migrations folder (not recursive, like golang-migrate's file source).

    Only regular files are migrations (a folder, FIFO or socket named like one is warned about
    and ignored). A symbolic link is followed; one that leaves the folder is warned about,
    or refused with ``no_follow``. Every check happens here, before anything runs.
    """
    path = Path(directory)
    if not path.exists():
        raise SourceError(
            f"migrations folder {str(path)!r} does not exist",
            hint="pass `path` DIR (default ./migrations), or create the first migration with: "
            "safemigrate create -ext sql -dir migrations -seq NAME",
            settings=("path",),
        )
    if not path.is_dir():
        raise SourceError(
            f"{str(path)!r} is not a folder",
            hint="`path` must name the folder that holds the migration files",
            settings=("path",),
        )
    with cyclic_gc_paused():
        plain = _plain_folder(path)
        if plain is not None:
            versions, ups, downs = plain
            file_names: dict[str, str] | None = None
            warnings: list[SourceWarning] = []
        else:
            entries = _scan(path)
            try:
                # In the folder's own order: nothing read here depends on the order but which error
                # comes first, so only a folder with an error is read again, sorted, for that.
                ups, downs, file_names, keyed = _read_entries(path, entries, no_follow, sort=False)
            except SourceError:
                ups, downs, file_names, keyed = _read_entries(path, entries, no_follow, sort=True)
            keyed.sort(key=_FIRST)  # stable: each entry's warnings stay in the order they were made
            warnings = [warning for _filename, warning in keyed]
            versions = sorted(ups.keys() | downs.keys())
    migrations = _LazyMigrations(path, versions, ups, downs, file_names)
    source = MigrationSource(path, migrations, warnings)
    source.__dict__["versions"] = versions  # already sorted: the cached property's value
    return source


def _scan(path: Path, fd: int | None = None) -> list[os.DirEntry[str]]:
    """The folder's entries (from its descriptor ``fd`` if given: each entry's ``path`` is then
    its name, and nothing is joined or decoded twice per entry)."""
    try:
        return list(os.scandir(path if fd is None else fd))  # read to the end, which closes it
    except OSError as exc:
        raise SourceError(f"cannot read migrations folder {str(path)!r}: {exc.strerror}",
                          hint="check the folder's permissions (`path` names it)", settings=("path",)) from None


def _plain_folder(path: Path) -> tuple[list[int], dict[int, str], dict[int, str]] | None:
    """:func:`_plain_listing` of the folder, or None when it is not plain.

    Listed from the folder's descriptor: an entry listed by path carries its whole path, joined
    and decoded for every entry (a third of listing 20,000 files), which only the reading of a
    folder that is not plain needs (its messages name the files); that reading lists it again.
    The descriptor stays open while the entries' types are asked (an entry whose type the
    listing did not give is stat'ed through it).
    """
    fd = None
    if os.scandir in os.supports_fd:
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            return None  # said by the reading by path
    try:
        entries = _scan(path, fd)
        names = list(map(_NAME_OF, entries))
        return _plain_listing(entries, names, "\0" + "\0".join(names) + "\0")
    finally:
        if fd is not None:
            os.close(fd)


def _plain_listing(entries: list[os.DirEntry[str]], names: list[str],
                   listing_text: str) -> tuple[list[int], dict[int, str], dict[int, str]] | None:
    """The sorted versions and the up and down file of each version of a folder of plain files,
    or None when the folder is anything else (:func:`_read_entries` then reads it, warns and
    raises). Most folders are all plain: ASCII names, regular files, each named
    ``DIGITS_NAME.up.EXT`` or ``DIGITS_NAME.down.EXT`` holding one of the markers ``.up.`` and
    ``.down.`` only, no two files with one version and direction, no version over MAX_VERSION;
    other files only if their names start with something else than a digit and
    :func:`_read_entries` would not warn about them (a README).

    Such a file matches MIGRATION_FILE_RE with the marker it holds as the direction, and the
    name is what :func:`_plain_name` cuts. Checked with string methods over all the names at
    once, without the expression (78 M instructions of ``up``'s 877 M at 10,000 files) or a
    Python step per file.
    """
    if not entries or not listing_text.isascii():  # a name's UTF-8 to check
        return None
    if type(entries[0]) is not os.DirEntry:  # not os.scandir's own entries (a stand-in): one by one
        return None
    heads = list(map(_FIRST, map(str.partition, names, repeat("_"))))  # the version's digits, if any
    if "\0_" in listing_text or not "".join(heads).isdigit():  # ASCII: [0-9] only
        # Names that do not start with a digit never match (a README, .gitkeep): left out when
        # _read_entries would pass over them in silence too (it warns about one that looks like
        # a migration, whatever it is: that folder is its to read).
        starts = list(map(str.isdigit, map(_FIRST, names)))
        if any(map(_warned_about, compress(names, map(operator.not_, starts)))):
            return None
        names, entries, heads = list(compress(names, starts)), list(compress(entries, starts)), list(compress(heads, starts))
        if not names or not "".join(heads).isdigit():  # none left, or one like 1a_x.up.sql
            return None
    try:
        # d_type from the listing (a DT_UNKNOWN entry is stat'ed); a link is never plain
        if not all(map(_IS_FILE, entries)) or any(map(_IS_SYMLINK, entries)):
            return None
    except OSError:
        return None  # _read_entries reports it
    is_up = list(map(operator.contains, names, repeat(".up.")))
    is_down = list(map(operator.not_, is_up))
    up_names = list(compress(names, is_up))
    down_names = list(compress(names, is_down))
    if ".down." in "\0".join(up_names) or not all(map(operator.contains, down_names, repeat(".down."))):
        return None
    ups = dict(zip(map(int, compress(heads, is_up)), up_names, strict=True))
    downs = dict(zip(map(int, compress(heads, is_down)), down_names, strict=True))
    if len(ups) != len(up_names) or len(downs) != len(down_names):  # a duplicate: named by _read_entries
        return None
    versions = sorted(ups.keys() | downs.keys())
    if versions[-1] > MAX_VERSION:  # refused by _read_entries
        return None
    return versions, ups, downs


_Files = dict[int, str]


def _read_entries(path: Path, entries: list[os.DirEntry[str]], no_follow: bool, *,
                  sort: bool) -> tuple[_Files, _Files, dict[str, str], list[tuple[str, SourceWarning]]]:
    """The up and down file's name of each version, each file's migration name by its file
    name, and the (file name, warning)s.

    Every name is matched in one pass over the listing joined with NULs (no file name holds
    one): no Match object and no call per name; the same files and groups as MIGRATION_FILE_RE
    on each name. ``sort``: in name order, so that the first error raised is the first file's.
    """
    names = list(map(_NAME_OF, entries))
    listing_text = "\0" + "\0".join(sorted(names) if sort else names) + "\0"
    found = _LISTING_RE.findall(listing_text)
    check_utf8 = not listing_text.isascii()
    odd = _not_plain_files(entries)  # links, folders, FIFOs...: looked at one by one
    keyed: list[tuple[str, SourceWarning]] = []
    if not odd and not check_utf8:
        plain = _plain_files(found)
        if plain is not None:
            ups, downs = plain
            if len(found) < len(entries):
                keyed.extend(_misnamed(entries, {f[0] for f in found}))
            return ups, downs, dict(map(_FILE_AND_NAME, found)), keyed
    folder = os.path.realpath(path)
    ups = {}
    downs = {}
    file_names: dict[str, str] = {}
    for filename, digits, name, direction in found:
        if check_utf8 and not filename.isascii() and display_name(filename) != filename:
            raise SourceError(
                f"{os.path.join(path, display_name(filename))}: the file name is not valid UTF-8",
                hint="rename the file with a UTF-8 name (ASCII is safest), then run the command again",
            )
        entry = odd.get(filename)
        if entry is not None:
            made: list[SourceWarning] = []
            kind = _entry_kind(entry, folder, no_follow, made)
            keyed.extend((filename, warning) for warning in made)
            if kind is not None:
                keyed.append((filename, SourceWarning(
                    Path(entry.path),
                    f"is named like a migration but is {kind}, so it is ignored (only regular files are read)",
                    hint="move it away, or replace it with a regular file",
                )))
                continue
        version = int(digits)
        if version > MAX_VERSION:
            _version_of(entry or _entry_named(entries, filename), digits)  # raises
        files = ups if direction == "up" else downs
        if version in files:
            raise SourceError(
                f"duplicate migration file: {filename} has the same version and direction "
                f"as {files[version]}",
                hint="give one of them a new version number (safemigrate create -seq makes the next one)",
                details={"files": [str(path / files[version]), _entry_named(entries, filename).path]},
            )
        files[version] = filename
        file_names[filename] = name
    if len(found) < len(entries):
        keyed.extend(_misnamed(entries, {f[0] for f in found}))
    return ups, downs, file_names, keyed


def _plain_files(found: list[tuple[str, str, str, str]]) -> tuple[_Files, _Files] | None:
    """The up and down files of a listing of plain ASCII files, without a Python loop per file
    (the loop of :func:`_read_entries` costs more than the matching at 10,000 files); None when
    a version is duplicated or has more digits than a safe int (the loop then finds and names
    the first such file: a version above MAX_VERSION has 19 digits or more)."""
    if max(map(len, map(_DIGITS_OF, found)), default=0) > 18:
        return None
    ups: _Files = {int(digits): filename for filename, digits, _name, direction in found if direction == "up"}
    downs: _Files = {int(digits): filename for filename, digits, _name, direction in found if direction == "down"}
    if len(ups) + len(downs) != len(found):
        return None
    return ups, downs


def _not_plain_files(entries: list[os.DirEntry[str]]) -> dict[str, os.DirEntry[str]]:
    """The entries that the listing (d_type) does not show as plain regular files, by name."""
    odd: dict[str, os.DirEntry[str]] = {}
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False):  # no stat: from the listing
                continue
        except OSError:
            pass  # _entry_kind reports it
        odd[entry.name] = entry
    return odd


def _entry_named(entries: list[os.DirEntry[str]], filename: str) -> os.DirEntry[str]:
    return next(entry for entry in entries if entry.name == filename)


def _misnamed(entries: list[os.DirEntry[str]], matched: set[str]) -> Iterator[tuple[str, SourceWarning]]:
    """(file name, warning) for each entry that looks like a migration but does not match."""
    for entry in entries:
        filename = entry.name
        if filename not in matched and not entry.is_dir() and not filename.startswith(".") \
                and _looks_like_migration(filename):
            yield filename, SourceWarning(Path(os.path.dirname(entry.path), display_name(filename)), _MISNAMED)
