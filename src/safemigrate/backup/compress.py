"""Streaming pieces: hash while writing, compress with multi-threaded zstd, decompress while reading.

The fast default for PostgreSQL is ``pg_dump -Fc -Z0`` piped through zstd (the
``zstandard`` package, several threads) straight into the stored file: one pass,
no temporary uncompressed copy. Restores read the stored file back through the
decompressor into ``pg_restore``'s standard input, hashing the stored bytes on the way.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import IO, Any

from .progress import Meter

__all__ = [
    "CHUNK",
    "DEFAULT_ZSTD_LEVEL",
    "HashingReader",
    "HashingWriter",
    "decompressing_reader",
    "sha256_file",
    "zstd_compressor",
    "zstd_threads",
]

CHUNK = 1024 * 1024
# Level 1: on pgbench data with random text it is both faster (about 250 MB/s on one thread) and
# smaller than level 3 (which ran at 75 MB/s there); see docs/benchmarks.md.
DEFAULT_ZSTD_LEVEL = 1


def zstd_threads() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def zstd_compressor(level: int = DEFAULT_ZSTD_LEVEL, threads: int | None = None) -> Any:
    import zstandard

    return zstandard.ZstdCompressor(level=level, threads=zstd_threads() if threads is None else threads,
                                    write_checksum=True)


class HashingWriter:
    """A write-only file wrapper that hashes (SHA-256) and counts what passes through."""

    def __init__(self, raw: IO[bytes], meter: Meter | None = None) -> None:
        self.raw = raw
        self.sha = hashlib.sha256()
        self.size = 0
        self.meter = meter

    def write(self, data: bytes | bytearray | memoryview) -> int:
        view = memoryview(data)
        self.sha.update(view)
        written = self.raw.write(view)
        self.size += len(view)
        if self.meter is not None:
            self.meter.add(len(view))
        return written if written is not None else len(view)

    def flush(self) -> None:
        self.raw.flush()

    def writable(self) -> bool:
        return True

    def close(self) -> None:  # the owner closes the raw file
        self.flush()

    @property
    def closed(self) -> bool:
        return False

    def hexdigest(self) -> str:
        return self.sha.hexdigest()


class HashingReader:
    """A read-only wrapper that hashes (SHA-256) and counts every byte read through it."""

    def __init__(self, raw: IO[bytes] | Any, meter: Meter | None = None) -> None:
        self.raw = raw
        self.sha = hashlib.sha256()
        self.size = 0
        self.meter = meter

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.raw.read(size)
        if data:
            self.sha.update(data)
            self.size += len(data)
            if self.meter is not None:
                self.meter.add(len(data))
        return data

    def readable(self) -> bool:
        return True

    def drain(self) -> None:
        """Read (and hash) whatever is left, so the digest covers the whole file."""
        while self.read(CHUNK):
            pass

    def hexdigest(self) -> str:
        return self.sha.hexdigest()


def decompressing_reader(raw: Any, method: str) -> Any:
    """A file-like object that yields the decompressed bytes of ``raw``."""
    if method == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(raw, read_size=CHUNK, closefd=False)
    return raw


def sha256_file(path: str | os.PathLike[str], on_bytes: Callable[[int], None] | None = None) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        while True:
            block = handle.read(CHUNK)
            if not block:
                break
            sha.update(block)
            if on_bytes is not None:
                on_bytes(len(block))
    return sha.hexdigest()
