"""The cancel token commands poll (re-exported by :mod:`safemigrate.events`).

A module of its own so that the CLI's signal handling does not load the event classes: a
plain ``safemigrate up`` with nothing pending creates a token and sends no event.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["CancelToken"]


class CancelToken:
    """Set by a signal handler (or any thread); polled by the engine, backups and the health gate.

    ``on_cancel`` callbacks run once, in the thread that cancels: the engine registers one that
    cancels the running statement. Nothing here raises: whoever polls decides where to stop.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._callbacks: list[Callable[[int], None]] = []
        self.signal_number: int | None = None

    def cancel(self, signal_number: int = 2) -> None:
        first = not self._event.is_set()
        self.signal_number = self.signal_number or signal_number
        self._event.set()
        if first:
            for callback in list(self._callbacks):
                callback(signal_number)

    def on_cancel(self, callback: Callable[[int], None]) -> None:
        self._callbacks.append(callback)
        if self._event.is_set():
            callback(self.signal_number or 2)

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._event.wait(timeout)
