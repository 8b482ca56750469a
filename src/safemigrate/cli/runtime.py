"""What the engine commands share: signals, the --events file, the connection line, prompts.

Each command parses, calls one :mod:`safemigrate.commands` function and renders its result;
this module holds the terminal's side of those calls.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from .output import Output
from .render.progress import CliReporter, elapsed_text
from .render.progress import _Progress as _Progress  # for the progress-line tests
from .settings import Settings

if TYPE_CHECKING:
    from ..drivers.base import Driver
    from ..events import CancelToken, EventSink

__all__ = ["CliReporter", "ConnectionNote", "cancel_on_signals", "confirm", "elapsed_text", "event_sinks",
           "signal_handler"]

@contextmanager
def event_sinks(settings: Settings) -> Iterator[list[EventSink] | None]:
    """With --events FILE: the sink writing the run's events, one JSON object per line; else None."""
    if not settings.events:
        yield None
        return
    from ..events import JsonLinesSink

    sink = JsonLinesSink(settings.events, secrets=settings.output.secrets)
    try:
        yield [sink]
    finally:
        sink.close()


class ConnectionNote:
    """Says which database a command that writes is about to change, before it changes anything.

    The URL says what was meant; this says what the server answered (``current_database()``,
    ``DATABASE()``, the SQLite file), so a URL that reached the wrong database shows at once.
    Text mode: one line on stderr. JSON: :attr:`data`, for the command's one document.
    """

    def __init__(self, output: Output) -> None:
        self.output = output
        self.data: dict[str, Any] = {}

    def __call__(self, driver: Driver) -> None:
        self.output.progress(f"connected to {driver.describe_connection()}")
        self.data = {"connected_to": driver.connection_summary()}


@contextmanager
def cancel_on_signals(output: Output) -> Iterator[CancelToken]:
    """SIGINT/SIGTERM: the first sets the cancel token (the run stops safely: rollback, unlock);
    a second aborts at once."""
    from ..cancel import CancelToken

    cancel = CancelToken()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        output.info(f"{signal.Signals(signum).name} received: stopping safely (rolling back the "
                    "running migration, releasing the lock); send it again to abort at once")
        cancel.cancel(signum)

    with signal_handler(on_signal):
        yield cancel


@contextmanager
def signal_handler(on_signal: Callable[[int, FrameType | None], None]) -> Iterator[None]:
    """``on_signal`` for SIGINT and SIGTERM while the block runs; the previous handlers after it.

    Only the main thread receives signals: elsewhere (a caller running the CLI in a thread)
    nothing is installed and that caller handles them itself.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, on_signal)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def confirm(question: str, *, yes: bool, refusal: str, hint: str) -> None:
    """Ask on a terminal; without one, go ahead only with --yes."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError(refusal, hint=hint)
    import click

    if not click.confirm(question, default=False, err=True):
        raise UsageError("aborted: nothing was changed")
