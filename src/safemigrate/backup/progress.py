"""Progress of long dumps, uploads and restores: bytes done and rate, reported to a callback."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Meter", "ProgressCallback", "ProgressEvent"]


@dataclass(frozen=True)
class ProgressEvent:
    stage: str  # "dump", "upload", "download", "restore", "verify"
    done: int  # bytes
    total: int | None
    elapsed: float  # seconds
    final: bool = False

    @property
    def rate(self) -> float:
        return self.done / self.elapsed if self.elapsed > 0 else 0.0


ProgressCallback = Callable[[ProgressEvent], None]


class Meter:
    """Counts bytes and calls ``callback`` at most every ``interval`` seconds (and once at the end)."""

    def __init__(self, stage: str, callback: ProgressCallback | None, total: int | None = None,
                 interval: float = 1.0) -> None:
        self.stage = stage
        self.callback = callback
        self.total = total
        self.interval = interval
        self.done = 0
        self.start = time.monotonic()
        self._last = self.start
        self._lock = threading.Lock()  # S3 parts are counted from several threads

    def add(self, count: int) -> None:
        with self._lock:
            self.done += count
            if self.callback is None:
                return
            now = time.monotonic()
            first = self.done == count
            if not (first or now - self._last >= self.interval):
                return
            self._last = now
            event = ProgressEvent(self.stage, self.done, self.total, now - self.start)
            self.callback(event)

    def finish(self) -> None:
        if self.callback is not None:
            self.callback(ProgressEvent(self.stage, self.done, self.total,
                                        time.monotonic() - self.start, final=True))

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start
