"""Finding a frozen connection without cutting a long statement short.

A network partition, or a proxy that keeps both TCP connections open but stops
forwarding, leaves a client waiting for an answer for ever. TCP keepalives find a
dead peer, but not a live middlebox that answers them; a plain read timeout would
also end a migration that legitimately runs for an hour (and the statement would go
on running on the server). So the watchdog waits ``patience`` seconds for an answer,
then asks the server, over a second connection, whether it is still working on our
session's request (``probe``). If it is, the wait goes on; if it is not, or the server
cannot be reached within the probe's own bound, the connection is cut (``sever``) so
the blocked call fails at once and the driver reports which timeout fired.

One thread per connection polls a timestamp, so arming and disarming around each
round trip costs two attribute writes, not a thread or a wake-up.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["Watchdog", "shutdown_socket"]

Probe = Callable[[], bool]
_ANSWER_IN_FLIGHT = 1.0  # seconds an answer the server already sent may take to arrive


def shutdown_socket(fd: int) -> None:
    """Shut down the socket behind ``fd`` (both ways) so a blocked read or write returns at once."""
    try:
        sock = socket.socket(fileno=os.dup(fd))
    except OSError:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.close()


def _bounded(probe: Probe, budget: float) -> bool:
    """Run ``probe`` in a thread; an exception or no verdict within ``budget`` seconds means dead."""
    verdict: list[bool] = []

    def run() -> None:
        try:
            verdict.append(bool(probe()))
        except Exception:
            verdict.append(False)

    thread = threading.Thread(target=run, name="safemigrate-probe", daemon=True)
    thread.start()
    thread.join(budget)
    return bool(verdict and verdict[0])


class Watchdog:
    """Cuts the connection when a round trip gets no answer and the server is not working on it."""

    def __init__(self, sever: Callable[[], None], *, probe_budget: float) -> None:
        self._sever = sever
        self._probe_budget = probe_budget
        self._lock = threading.Lock()
        self._armed_at: float | None = None
        self._patience = 0.0
        self._probe: Probe | None = None
        self._round = 0
        self._started = 0.0
        self._closed = False
        self._thread: threading.Thread | None = None
        self.fired = False
        self.waited = 0.0

    @contextmanager
    def watch(self, patience: float, probe: Probe | None) -> Iterator[None]:
        """Guard one round trip; ``probe`` None makes ``patience`` a hard deadline."""
        if not self.arm(patience, probe):
            yield
            return
        try:
            yield
        finally:
            self.disarm()

    def arm(self, patience: float, probe: Probe | None) -> bool:
        """Start guarding a round trip (what ``watch`` does, without a context manager: the engine
        makes two round trips per migration); False when ``patience`` is 0 (nothing to disarm)."""
        if patience <= 0:
            return False
        with self._lock:
            self._round += 1
            self._patience = patience
            self._probe = probe
            self._armed_at = self._started = time.monotonic()
            self.fired = False
            self._start_thread()
        return True

    def disarm(self) -> None:
        with self._lock:
            self._armed_at = None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._armed_at = None

    def _start_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="safemigrate-watchdog", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
                armed_at, patience, probe, round_ = self._armed_at, self._patience, self._probe, self._round
            if armed_at is None or time.monotonic() < armed_at + patience:
                time.sleep(min(max(patience, 0.2) / 4, 1.0))
                continue
            alive = probe is not None and _bounded(probe, self._probe_budget)
            if not alive and probe is not None:
                # The server may have just finished and its answer be on the way: give it a
                # moment to arrive before calling the connection frozen.
                time.sleep(_ANSWER_IN_FLIGHT)
            with self._lock:
                if self._armed_at is None or self._round != round_:
                    continue  # the answer came while we were asking
                if alive:
                    self._armed_at = time.monotonic()  # still working: ask again after another wait
                    continue
                self.fired = True
                self.waited = time.monotonic() - self._started
                self._armed_at = None
                self._sever()
