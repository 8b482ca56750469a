"""What every database's backup module shares: options, outcomes, checksummed reading, piping to tools."""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from ..errors import BackupFailedError, ChecksumError, RestoreFailedError, SafemigrateError
from .compress import CHUNK, HashingReader, decompressing_reader
from .manifest import BackupFile, Compression, Manifest
from .progress import Cancel, Meter, check_cancel, interrupted
from .storage import Storage
from .tools import BackupToolError, child_env, clean_stderr

__all__ = [
    "BackupFailedError",
    "ChecksumError",
    "CreateOptions",
    "DumpOutcome",
    "Inspection",
    "RestoreFailedError",
    "RestoreOptions",
    "StreamFeeder",
    "checked_stream",
    "fetch_checked",
    "run_tool",
]

CompressionChoice = Literal["auto", "zstd", "gzip", "none"]


@dataclass
class CreateOptions:
    format: Literal["custom", "directory"] = "custom"
    jobs: int = 1
    compression: CompressionChoice = "auto"
    level: int | None = None
    pg_bin_dir: str | None = None
    check_stream: bool = True  # read the whole dump back through pg_restore while it is written
    label: str | None = None
    pin: bool = False


@dataclass
class RestoreOptions:
    pg_bin_dir: str | None = None
    jobs: int = 1
    single_transaction: bool = True
    no_owner: bool = False
    work_dir: str | None = None  # where S3 downloads and decompressed copies go (default: $TMPDIR)


@dataclass
class DumpOutcome:
    files: list[BackupFile]
    data: str  # the data file or folder, relative to the backup folder
    format: str
    compression: Compression
    tool: dict[str, Any]
    server_version: str
    database: dict[str, Any]
    schema_migrations: dict[str, Any]
    row_counts: dict[str, int]
    row_counts_consistent: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass
class Inspection:
    """What a restored copy holds."""

    version: int | None
    dirty: bool | None
    row_counts: dict[str, int]
    checks: list[str] = field(default_factory=list)


def file_entry(manifest: Manifest, name: str) -> BackupFile:
    for entry in manifest.files:
        if entry.name == name:
            return entry
    raise ChecksumError(f"backup {manifest.id}: the manifest lists no file {name}")


def _mismatch(manifest: Manifest, entry: BackupFile, size: int, digest: str) -> ChecksumError:
    return ChecksumError(
        f"backup {manifest.id} is damaged: file {entry.name} does not match its manifest "
        f"(SHA-256 {digest[:16]}…, expected {entry.sha256[:16]}…; {size} bytes, expected {entry.size})",
        hint="do not restore this backup; restore an older verified one (safemigrate backup list) "
        "and take a new backup with safemigrate backup create",
        details={"file": entry.name, "backup_id": manifest.id, "expected_sha256": entry.sha256,
                 "actual_sha256": digest, "expected_size": entry.size, "actual_size": size},
    )


@contextlib.contextmanager
def checked_stream(storage: Storage, manifest: Manifest, name: str,
                   meter: Meter | None = None) -> Iterator[HashingReader]:
    """Stream one stored file while hashing it; on leaving, the rest is read and the hash checked."""
    entry = file_entry(manifest, name)
    with storage.open_file(manifest.id, name) as raw:
        reader = HashingReader(raw, meter)
        failure: BaseException | None = None
        try:
            yield reader
        except (BackupToolError, ChecksumError) as exc:
            failure = exc
        # A damaged file explains a failed restore better than the tool's own complaint, so the
        # rest is read and hashed; anything else (an interruption, a storage error) ends here.
        try:
            reader.drain()
        except SafemigrateError:
            if failure is None:
                raise
        if reader.size != entry.size or reader.hexdigest() != entry.sha256:
            raise _mismatch(manifest, entry, reader.size, reader.hexdigest()) from None
        if failure is not None:
            raise failure


def fetch_checked(storage: Storage, manifest: Manifest, dest: Path, meter: Meter | None = None) -> None:
    """Copy every data file of ``manifest`` under ``dest``, checking each one's SHA-256."""
    for entry in manifest.files:
        target = dest / entry.name
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with checked_stream(storage, manifest, entry.name, meter) as reader:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                while True:
                    block = reader.read(CHUNK)
                    if not block:
                        break
                    out.write(block)


def verify_local_files(folder: Path, manifest: Manifest, meter: Meter | None = None) -> None:
    """Check the SHA-256 of every file of a backup held in a local folder."""
    for entry in manifest.files:
        path = folder / entry.name
        if not path.exists():
            raise ChecksumError(f"backup {manifest.id} is damaged: file {entry.name} is missing",
                                hint="restore an older verified backup (safemigrate backup list)",
                                details={"file": entry.name})
        with open(path, "rb") as raw:
            reader = HashingReader(raw, meter)
            reader.drain()
        if reader.size != entry.size or reader.hexdigest() != entry.sha256:
            raise _mismatch(manifest, entry, reader.size, reader.hexdigest())


class StreamFeeder:
    """Feed a (decompressed) stream into a child process's standard input from a thread."""

    def __init__(self, source: Any, compression: str, sink: IO[bytes]) -> None:
        self.source = source
        self.compression = compression
        self.sink = sink
        self.error: BaseException | None = None
        self.broken_pipe = False
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> StreamFeeder:
        self.thread.start()
        return self

    def _run(self) -> None:
        try:
            data = decompressing_reader(self.source, self.compression)
            while True:
                block = data.read(CHUNK)
                if not block:
                    break
                self.sink.write(block)
        except BrokenPipeError:
            self.broken_pipe = True
        except BaseException as exc:  # surfaced by join()
            self.error = exc
        finally:
            with contextlib.suppress(OSError):
                self.sink.close()

    def join(self) -> None:
        self.thread.join()
        if self.error is not None:
            if isinstance(self.error, SafemigrateError):
                raise self.error
            import zstandard

            if isinstance(self.error, zstandard.ZstdError):
                raise ChecksumError(f"the stored data cannot be decompressed: {self.error}",
                                    hint="the backup is damaged; use another one (safemigrate backup list)")
            raise self.error


class TeeQueue:
    """A bounded queue feeding a checker process's stdin from its own thread (memory: a few chunks)."""

    def __init__(self, sink: IO[bytes], depth: int = 8) -> None:
        self.sink = sink
        self.queue: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self.broken = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            block = self.queue.get()
            if block is None:
                break
            if self.broken:
                continue
            try:
                self.sink.write(block)
            except (BrokenPipeError, OSError):
                self.broken = True
        with contextlib.suppress(OSError):
            self.sink.close()

    def put(self, block: bytes) -> None:
        self.queue.put(block)

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()


def run_tool(argv: Sequence[str], *, env: Mapping[str, str] | None = None, what: str,
             secrets: Sequence[str | None] = (), hint: str, cwd: str | None = None,
             stdin: int | IO[bytes] | None = subprocess.DEVNULL,
             error: type[BackupToolError] = BackupToolError, cancel: Cancel | None = None,
             settings: Sequence[str] = ()) -> str:
    """Run a tool to completion; raise BackupToolError with its (redacted) stderr if it fails.

    ``env`` holds additions (PGPASSFILE) to :func:`child_env`, never the whole environment.
    A set ``cancel`` kills the tool and raises the interrupted error. ``settings``: those ``hint`` names.
    """
    try:
        proc = subprocess.Popen(list(argv), env=child_env(env), cwd=cwd, stdin=stdin,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, umask=0o077)
    except OSError as exc:
        raise BackupToolError(f"{what}: cannot run {argv[0]}: {exc.strerror}", hint=hint,
                              settings=settings) from None
    with proc:
        while True:
            try:
                # Polled, so that a cancel token set by a signal handler stops the tool.
                out, err_bytes = proc.communicate(timeout=0.2 if cancel is not None else None)
                break
            except subprocess.TimeoutExpired:
                if cancel is not None and cancel.is_set():
                    proc.kill()
                    proc.communicate()
                    raise interrupted(cancel) from None
            except BaseException:
                proc.kill()
                proc.wait()
                raise
    check_cancel(cancel)
    if proc.returncode != 0:
        err = clean_stderr(err_bytes.decode("utf-8", "replace"), secrets)
        raise error(f"{what} failed (exit status {proc.returncode}): {err}", hint=hint,
                    details={"exit_status": proc.returncode}, settings=settings)
    return out.decode("utf-8", "replace")


def compare(manifest: Manifest, got: Inspection) -> tuple[list[str], dict[str, Any]]:
    """Differences between what the manifest recorded and what a restored copy holds."""
    problems: list[str] = []
    mismatches: dict[str, Any] = {}
    expected_version = manifest.schema_migrations.get("version")
    expected_dirty = manifest.schema_migrations.get("dirty")
    if got.version != expected_version or (expected_version is not None and bool(got.dirty) !=
                                           bool(expected_dirty)):
        problems.append(
            f"schema_migrations: restored version {got.version} (dirty {got.dirty}), "
            f"the manifest says {expected_version} (dirty {expected_dirty})")
    expected = manifest.row_counts
    for table in sorted(set(expected) | set(got.row_counts)):
        want, have = expected.get(table), got.row_counts.get(table)
        if want != have:
            mismatches[table] = {"expected": want, "restored": have}
    if mismatches:
        shown = ", ".join(f"{t}: {v['restored']} rows, expected {v['expected']}"
                          for t, v in list(mismatches.items())[:5])
        more = f" and {len(mismatches) - 5} more" if len(mismatches) > 5 else ""
        problems.append(f"row counts differ: {shown}{more}")
    return problems, mismatches

