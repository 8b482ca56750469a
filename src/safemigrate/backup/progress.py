"""What a backup, verification or restore reports, and how it is told to stop.

One stream of typed events goes to one callback (:data:`ProgressCallback`): bytes done and
rate (:class:`ProgressEvent`), and what is being done or was found on the way
(:class:`InfoEvent`, :class:`WarningEvent`). The CLI's renderer prints them on stderr.

A run stops when its cancel token is set (:class:`CancelToken`, or any ``threading.Event``):
the CLI's signal handler only sets it. The loops that copy data poll it, a watcher ends the
child processes (pg_dump, pg_restore, the MySQL tools) so that a blocked read returns, and
the run raises :class:`~safemigrate.errors.RunInterruptedError` after its usual clean-up
(partial folders, scratch databases). No exception is ever raised from a signal handler.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from ..cancel import CancelToken  # the one cancel token of every command (re-exported here)
from ..errors import RunInterruptedError

__all__ = [
    "BackupEvent",
    "Cancel",
    "CancelToken",
    "InfoEvent",
    "Meter",
    "ProgressCallback",
    "ProgressEvent",
    "WarningEvent",
    "check_cancel",
    "end_children_on_cancel",
    "interrupted",
    "stopped_as",
]


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


@dataclass(frozen=True)
class InfoEvent:
    """A step of the run, for a person watching ("taking a backup of the current state first")."""

    message: str


@dataclass(frozen=True)
class WarningEvent:
    """Something found on the way that needs attention (what an interrupted restore left behind)."""

    message: str


BackupEvent = ProgressEvent | InfoEvent | WarningEvent
ProgressCallback = Callable[[BackupEvent], None]


class Cancel(Protocol):
    """What the runs need of a cancel token: ``threading.Event`` has both."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


def interrupted(cancel: Cancel, what: str = "the run") -> RunInterruptedError:
    # A plain threading.Event does not say which signal set it: report it as an interrupt (SIGINT).
    given = cancel.signal_number if isinstance(cancel, CancelToken) else None
    number = given if given is not None else int(signal.SIGINT)
    name = signal.Signals(number).name
    return RunInterruptedError(f"{name} received: {what} stopped; nothing incomplete was kept",
                               signal_number=number, hint="run the command again when ready")


def check_cancel(cancel: Cancel | None, what: str = "the run") -> None:
    """Raise the interrupted error if ``cancel`` is set (called between blocks of work)."""
    if cancel is not None and cancel.is_set():
        raise interrupted(cancel, what)


@contextlib.contextmanager
def stopped_as(cancel: Cancel | None, what: str) -> Iterator[None]:
    """Name the operation in the interrupted error raised inside (``the backup``, ``the restore``)."""
    try:
        yield
    except RunInterruptedError:
        if cancel is None or not cancel.is_set():
            raise
        raise interrupted(cancel, what) from None


class _Children:
    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.lock = threading.Lock()

    def add(self, proc: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
        with self.lock:
            self.procs.append(proc)
        return proc

    def end(self) -> None:
        with self.lock:
            for proc in self.procs:
                if proc.poll() is None:
                    with contextlib.suppress(OSError):
                        proc.kill()


@contextlib.contextmanager
def end_children_on_cancel(cancel: Cancel | None) -> Iterator[_Children]:
    """While inside, a watcher thread kills the registered child processes once ``cancel`` is set,
    so a read blocked on their output returns; the caller then sees ``cancel`` set and stops."""
    children = _Children()
    if cancel is None:
        yield children
        return
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if cancel.wait(0.1):
                children.end()
                return

    watcher = threading.Thread(target=watch, daemon=True, name="safemigrate-cancel-watch")
    watcher.start()
    try:
        yield children
    finally:
        done.set()
        watcher.join()


class Meter:
    """Counts bytes and calls ``callback`` at most every ``interval`` seconds (and once at the end).

    Every block counted is also a point where a set ``cancel`` stops the run."""

    def __init__(self, stage: str, callback: ProgressCallback | None, total: int | None = None,
                 interval: float = 1.0, cancel: Cancel | None = None) -> None:
        self.stage = stage
        self.callback = callback
        self.total = total
        self.interval = interval
        self.cancel = cancel
        self.done = 0
        self.start = time.monotonic()
        self._last = self.start
        self._lock = threading.Lock()  # S3 parts are counted from several threads

    def add(self, count: int) -> None:
        check_cancel(self.cancel)
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
        check_cancel(self.cancel)
        if self.callback is not None:
            self.callback(ProgressEvent(self.stage, self.done, self.total,
                                        time.monotonic() - self.start, final=True))

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start
