"""SQLite: a consistent copy through the online backup API, compressed with zstd.

The copy is the snapshot: the version and the row counts are read from it, so they
always describe exactly what was stored.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shlex
import socket
import sqlite3
import stat
import time
from pathlib import Path

from ..errors import DatabaseError, SafemigrateError, UsageError
from ..urls import DatabaseURL, parse_database_url
from .compress import CHUNK, DEFAULT_ZSTD_LEVEL, HashingWriter, zstd_compressor, zstd_threads
from .dialect import DatabaseIdentity, DialectEvents, Leftover, Verified, leftover_note
from .engine import (
    ChecksumError,
    CreateOptions,
    DumpOutcome,
    Inspection,
    RestoreOptions,
    checked_stream,
)
from .manifest import BackupFile, Compression, Manifest
from .progress import Cancel, Meter, ProgressCallback
from .storage import Storage, os_error_message

__all__ = ["SqliteDialect", "database_path", "dump", "inspect_file", "quick_check", "restore_to_file"]

DATA_NAME = "database.sqlite.zst"


def database_path(url: DatabaseURL) -> str:
    from ..drivers.sqlite import sqlite_path

    path, _ = sqlite_path(url)
    if not path or path == ":memory:" or "mode=memory" in path:
        raise UsageError(f"cannot back up {url.redacted()}: it is not a database file",
                         hint="use a URL naming a file, such as sqlite3://path/to/app.db")
    if path.startswith("file:"):
        path = path[len("file:"):].split("?", 1)[0]
    return path


def _tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                        "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name").fetchall()
    return [str(r[0]) for r in rows]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _inspect(conn: sqlite3.Connection, table: str) -> Inspection:
    counts = {t: int(conn.execute(f"SELECT count(*) FROM {_quote(t)}").fetchone()[0])
              for t in _tables(conn)}
    version: int | None = None
    dirty: bool | None = False
    if table in counts:
        row = conn.execute(f"SELECT version, dirty FROM {_quote(table)} LIMIT 1").fetchone()
        if row is not None:
            version = None if int(row[0]) == -1 else int(row[0])
            dirty = bool(row[1])
    return Inspection(version=version, dirty=dirty, row_counts=counts)


def dump(url: DatabaseURL, staging: Path, options: CreateOptions,
         progress: ProgressCallback | None = None, cancel: Cancel | None = None) -> DumpOutcome:
    path = database_path(url)
    if not Path(path).is_file():
        raise DatabaseError(f"SQLite database {path!r} does not exist",
                            hint="check the path in the database URL")
    table = url.custom.get("x-migrations-table") or "schema_migrations"
    copy = staging / ".snapshot.sqlite"
    target = staging / DATA_NAME
    meter = Meter("dump", progress, Path(path).stat().st_size, cancel=cancel)
    try:
        try:
            src = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
            dst = sqlite3.connect(copy)
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot open SQLite database {path!r}: {exc}") from None
        try:
            def step(_status: int, remaining: int, total: int) -> None:
                page = dst.execute("PRAGMA page_size").fetchone()[0]
                meter.done = 0
                meter.add((total - remaining) * int(page))

            src.backup(dst, pages=4096, progress=step)
            integrity = dst.execute("PRAGMA integrity_check").fetchone()[0]
            if integrity != "ok":
                raise DatabaseError(f"SQLite database {path!r} is corrupt: {integrity}",
                                    hint="repair it (sqlite3 .recover) before taking a backup")
            inspection = _inspect(dst, table)
        except sqlite3.Error as exc:
            raise DatabaseError(f"backing up SQLite database {path!r} failed: {exc}") from None
        finally:
            src.close()
            dst.close()
        os.chmod(copy, 0o600)
        meter.finish()
        level = options.level or DEFAULT_ZSTD_LEVEL
        compression = Compression("zstd", level, zstd_threads())
        if options.compression == "none":
            compression = Compression("none", 0)
        entry = _store(copy, target, compression)
    except OSError as exc:
        raise os_error_message(exc, f"writing the backup of {path}") from None
    finally:
        with contextlib.suppress(OSError):
            copy.unlink()
    return DumpOutcome(
        files=[entry], data=entry.name, format="sqlite", compression=compression,
        tool={"name": "sqlite3-backup-api", "version": sqlite3.sqlite_version},
        server_version=sqlite3.sqlite_version,
        database={"host": socket.gethostname(), "port": None, "database": str(Path(path).resolve())},
        schema_migrations={"table": table, "version": inspection.version, "dirty": inspection.dirty},
        row_counts=inspection.row_counts,
    )


def _store(copy: Path, target: Path, compression: Compression) -> BackupFile:
    name = target.name if compression.method == "zstd" else "database.sqlite"
    target = target.with_name(name)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(copy, "rb") as src, os.fdopen(fd, "wb") as out:
        writer = HashingWriter(out)
        if compression.method == "zstd":
            cctx = zstd_compressor(compression.level or DEFAULT_ZSTD_LEVEL, compression.threads)
            with cctx.stream_writer(writer, closefd=False, write_size=CHUNK) as zwriter:
                while block := src.read(CHUNK):
                    zwriter.write(block)
        else:
            while block := src.read(CHUNK):
                writer.write(block)
        out.flush()
        os.fsync(out.fileno())
    return BackupFile(name, writer.size, writer.hexdigest())


def restore_to_file(storage: Storage, manifest: Manifest, target: Path,
                    progress: ProgressCallback | None = None, cancel: Cancel | None = None) -> Inspection:
    """Write the backup's database to ``target`` (which must not exist), checked and inspected."""
    meter = Meter("restore", progress, sum(f.size for f in manifest.files), cancel=cancel)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise UsageError(f"{target} already exists", hint="choose another `target` PATH",
                         settings=("target",)) from None
    except OSError as exc:
        raise os_error_message(exc, f"creating {target}") from None
    try:
        with os.fdopen(fd, "wb") as out, checked_stream(storage, manifest, manifest.data_name,
                                                        meter) as reader:
            _copy_decompressed(reader, out, manifest.compression.method)
            out.flush()
            os.fsync(out.fileno())
        inspection = inspect_file(target, manifest)
    except BaseException:
        with contextlib.suppress(OSError):
            target.unlink()
        raise
    meter.finish()
    return inspection


def _copy_decompressed(reader: object, out: object, method: str) -> None:
    from .compress import decompressing_reader

    try:
        data = decompressing_reader(reader, method)
        while block := data.read(CHUNK):
            out.write(block)  # type: ignore[attr-defined]
    except OSError:
        raise
    except Exception as exc:  # zstandard.ZstdError on damaged data
        raise ChecksumError(f"the stored data cannot be decompressed: {exc}",
                            hint="the backup is damaged; use another one (safemigrate backup list)") from None


def inspect_file(path: Path, manifest: Manifest) -> Inspection:
    table = str(manifest.schema_migrations.get("table") or "schema_migrations")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
            if integrity != "ok":
                raise ChecksumError(f"the restored SQLite database fails its integrity check: {integrity}",
                                    hint="the backup is damaged; use another one (safemigrate backup list)")
            inspection = _inspect(conn, table)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise ChecksumError(f"the restored file is not a usable SQLite database: {exc}",
                            hint="the backup is damaged; use another one (safemigrate backup list)") from None
    inspection.checks.append("PRAGMA integrity_check: ok")
    return inspection


def quick_check(storage: Storage, manifest: Manifest, options: RestoreOptions,
                progress: ProgressCallback | None = None, cancel: Cancel | None = None) -> list[str]:
    meter = Meter("verify", progress, sum(f.size for f in manifest.files), cancel=cancel)

    class _Null:
        size = 0

        def write(self, block: bytes) -> int:
            self.size += len(block)
            return len(block)

    sink = _Null()
    with checked_stream(storage, manifest, manifest.data_name, meter) as reader:
        _copy_decompressed(reader, sink, manifest.compression.method)
    meter.finish()
    return [f"sha256 of {len(manifest.files)} file(s)", f"decompressed {sink.size} bytes"]


def verify_full(storage: Storage, manifest: Manifest, url: DatabaseURL | None, options: RestoreOptions,
                progress: ProgressCallback | None = None, cancel: Cancel | None = None) -> Inspection:
    """Restore into a private scratch file, check its integrity, inspect it, delete it."""
    from .tools import private_dir

    with private_dir("safemigrate-verify-", options.work_dir) as work:
        return restore_to_file(storage, manifest, work / "scratch.sqlite", progress, cancel)



def _keep_mode_and_owner(original: Path, replacement: Path) -> None:
    """The replaced file keeps the original's permission bits and owner (the application's user)."""
    try:
        st = original.stat()
    except FileNotFoundError:
        return
    os.chmod(replacement, stat.S_IMODE(st.st_mode))
    if (st.st_uid, st.st_gid) != (os.getuid(), os.getgid()):
        try:
            os.chown(replacement, st.st_uid, st.st_gid)
        except PermissionError:
            raise DatabaseError(
                f"the restored copy cannot be given {original}'s owner (uid {st.st_uid}, gid {st.st_gid}); "
                "the original was not changed",
                hint="run the restore as that user (or as root)") from None


class SqliteDialect(DialectEvents):
    """SQLite behind the :class:`~safemigrate.backup.dialect.BackupDialect` interface: targets are files."""

    dialect = "sqlite"
    needs_server = False

    @property
    def url(self) -> DatabaseURL:
        if self._url is None:  # the callers check first; a bug otherwise
            raise UsageError("a SQLite database URL is needed", hint="pass `database_url` sqlite3://path/to/app.db",
                             settings=("database_url",))
        return self._url

    def identity(self) -> DatabaseIdentity:
        return DatabaseIdentity(self.dialect, str(Path(database_path(self.url)).resolve()),
                                socket.gethostname(), sqlite3.sqlite_version)

    def label(self) -> str:
        return Path(database_path(self.url)).stem

    def create(self, staging: Path, options: CreateOptions) -> DumpOutcome:
        return dump(self.url, staging, options, self.progress, self.cancel)

    def verify(self, storage: Storage, manifest: Manifest, options: RestoreOptions, *,
               quick: bool) -> Verified:
        if quick:
            return Verified(quick_check(storage, manifest, options, self.progress, self.cancel))
        inspection = verify_full(storage, manifest, self._url, options, self.progress, self.cancel)
        return Verified(inspection.checks, inspection)

    def original(self, manifest: Manifest) -> str:
        if self._url is None:  # a restore to a path needs no URL: "beside the original" is the manifest's
            return str(manifest.database["database"])
        return database_path(self.url)

    def check_replaceable(self, original: str) -> bool:
        if self._url is None:
            raise UsageError("`replace` needs the SQLite database to replace",
                             hint="pass `database_url` sqlite3://path/to/app.db", settings=("replace", "database_url"))
        return Path(original).exists()  # a missing file is created: there is no state to back up

    def new_target(self, manifest: Manifest, target: str | None) -> str:
        if target and target.startswith(("sqlite3:", "sqlite:")):
            # A URL, as `database_url` is given: its file (read as a path it made a folder "sqlite3:").
            return database_path(parse_database_url(target))
        if target:
            return target
        original = Path(self.original(manifest))
        return str(original.with_name(
            f"{original.stem}.restored-{time.strftime('%Y%m%d%H%M%S')}{original.suffix or '.db'}"))

    def incoming(self, original: str) -> str:
        path = Path(original)
        return str(path.with_name(f".{path.name}.safemigrate-incoming-{secrets.token_hex(3)}"))

    def restore(self, storage: Storage, manifest: Manifest, target: str,
                options: RestoreOptions) -> Inspection:
        self.info(f"restoring backup {manifest.id} into {target}")
        return restore_to_file(storage, manifest, Path(target), self.progress, self.cancel)

    def discard(self, target: str) -> None:
        Path(target).unlink(missing_ok=True)

    def swap(self, original: str, incoming: str, storage: Storage, manifest: Manifest,
             options: RestoreOptions) -> None:
        """An atomic rename over the original, which keeps its mode and owner."""
        dest, path = Path(incoming), Path(original)
        try:
            _keep_mode_and_owner(path, dest)
            for suffix in ("-wal", "-shm", "-journal"):
                Path(str(path) + suffix).unlink(missing_ok=True)
            os.replace(dest, path)
        except OSError as exc:
            dest.unlink(missing_ok=True)
            raise DatabaseError(f"replacing {path} failed: {exc.strerror}",
                                hint="check the folder's permissions; the original was not changed") from None

    def target_url(self, target: str, *, replaced: bool) -> str:
        return f"sqlite3://{target}"

    def leftovers(self, original: str) -> list[Leftover]:
        if self._url is None:
            return []
        try:
            path = Path(database_path(self._url))
        except SafemigrateError:
            return []
        found = [Leftover(str(p), f"rm -- {shlex.quote(str(p))}")
                 for p in sorted(path.parent.glob(f".{glob.escape(path.name)}.safemigrate-incoming-*"))]
        if found:
            self.warn(leftover_note([f.name for f in found], f"beside {path}", [f.command for f in found]))
        return found
