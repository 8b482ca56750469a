"""What the engine commands share: progress, signals, the --events file, the connection line, prompts.

Each command parses, calls one :mod:`safemigrate.commands` function and renders its result;
this module holds the terminal's side of those calls.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from .output import Output, quiet_if_reader_gone
from .settings import Settings

if TYPE_CHECKING:
    from ..drivers.base import Driver
    from ..events import CancelToken, Event, EventSink, StatementStarted, StepFinished, StepStarted

__all__ = ["ConnectionNote", "ProgressSink", "cancel_on_signals", "confirm", "elapsed_text", "event_sinks",
           "signal_handler"]

def elapsed_text(seconds: float) -> str:
    """``7s``, ``1m03s``, ``2h05m09s``: short enough for a status line, exact to the second."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def _log_string(version: int, direction: str, name: str) -> str:
    """golang-migrate's Migration.LogString (``planner.Step.log_string``), from an event's fields."""
    return f"{version}/{'u' if direction == 'up' else 'd'} {name}"


class _Progress:
    """Where a run is: the step, the statement, since when. Rendered afresh at every refresh."""

    def __init__(self, step: StepStarted, clock: Callable[[], float]) -> None:
        self.step = step
        self.statement: tuple[int, int] | None = None
        self.started = clock()
        self.clock = clock

    def text(self) -> str:
        """``applying 12/340 000012_add_index.up.sql, statement 2/3, 1m03s``."""
        step = self.step
        verb = "applying" if step.direction == "up" else "rolling back"
        file = os.path.basename(step.file) if step.file is not None else f"{step.version} {step.name}"
        parts = [f"{verb} {step.index + 1}/{step.total} {file}"]
        if self.statement is not None and self.statement[1] > 1:
            parts.append(f"statement {self.statement[0] + 1}/{self.statement[1]}")
        parts.append(elapsed_text(self.clock() - self.started))
        return ", ".join(parts)

    def __rich__(self) -> str:
        return self.text()


class ProgressSink:
    """The CLI's text output of a run: a sink of its events (:mod:`safemigrate.events`).

    Prints each finished step as golang-migrate does (``1/u create_users (12.3ms)``), and each
    warning. On a terminal (stderr, text mode) a spinner line shows the running step: steps done /
    total, the file, the statement and the time spent in it (``applying 12/340
    000012_add_index.up.sql, statement 2/3, 1m03s``), redrawn several times a second so a long
    ``CREATE INDEX`` visibly makes progress; it is erased when the step ends. Piped or redirected,
    only the finished-step lines are printed, unchanged, so scripts and CI logs see golang-migrate's
    output. Colour follows :meth:`Output.color` (a terminal, and no ``NO_COLOR``).
    """

    def __init__(self, output: Output, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.output = output
        self._status: Any = None
        self._progress: _Progress | None = None
        self._clock = clock
        self._silenced = False  # set when the output could not be written: nothing more is shown
        # A dumb terminal cannot redraw a line: it gets the plain lines, as a pipe does.
        self._live = output.format == "text" and output.stderr.isatty() and os.environ.get("TERM") != "dumb"
        # The kinds of event it shows, so that no other is built: never a run's start and end (`up`
        # with nothing to do builds no event); steps and statements as they start only when a
        # spinner or --verbose shows them (piped, it prints each finished step).
        shown = {"step_finished", "warning"}
        if self._live or output.verbose:
            shown |= {"step_started", "statement_started"}
        self.listens_to = frozenset(shown)

    def __call__(self, event: Event) -> None:
        if self._silenced:
            return
        try:
            self._show(event)
        except OSError:
            # The terminal or pipe can no longer be written (its reader left, the disk a redirect
            # writes to is full): the run goes on without its progress. Stopping here would stop
            # a migration between two statements (a dirty database) for want of a log line.
            self._silenced = True
            with suppress(OSError):  # the spinner's thread is stopped, whatever its last redraw does
                self._stop_status()
            self._status = None
            # A stream whose reader left is pointed at /dev/null: the rest of the command (its
            # result, the exit's flush) is not stopped by the same lost reader; its exit status
            # is the run's.
            quiet_if_reader_gone(self.output.stdout)
            quiet_if_reader_gone(self.output.stderr)

    def _show(self, event: Event) -> None:
        from ..events import StatementStarted, StepFinished, StepStarted, WarningEvent

        if isinstance(event, StatementStarted):
            self._statement_started(event)
        elif isinstance(event, StepStarted):
            self._step_started(event)
        elif isinstance(event, StepFinished):
            self._step_finished(event)
        elif isinstance(event, WarningEvent):
            self._stop_status()
            message = event.message
            if "`" in message:  # the library names settings (`no_follow`): say the flags that set them
                from .flags import spell_text

                message = spell_text(message)
            self.output.warn(message)

    def _step_started(self, step: StepStarted) -> None:
        self._progress = _Progress(step, self._clock)
        if self.output.verbose:
            self.output.progress(f"Start {_log_string(step.version, step.direction, step.name)} "
                                 f"({step.index + 1}/{step.total}, {step.mode})")
        if self._live:
            from rich.console import Console

            color = self.output.color()
            console = Console(file=self.output.stderr, no_color=not color, highlight=False,
                              color_system="auto" if color else None)
            self._stop_status()
            self._status = console.status(self._progress, spinner_style="green" if color else "")
            self._status.start()

    def _statement_started(self, statement: StatementStarted) -> None:
        if self.output.verbose:
            self.output.progress(f"  statement {statement.index + 1}/{statement.total} (line {statement.line}): "
                                 f"{statement.first_line[:80]}")
        if self._progress is not None:
            self._progress.statement = (statement.index, statement.total)

    def _step_finished(self, step: StepFinished) -> None:
        self._stop_status()
        self._progress = None
        # golang-migrate's line first (scripts grep for it), then what it does not say.
        note = " -- no down file: nothing undone" if step.no_down_file else ""
        self.output.lines([f"{_log_string(step.version, step.direction, step.name)} "
                           f"({step.duration_ms:.2f}ms){note}"])

    def _stop_status(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def close(self) -> None:
        if not self._silenced:
            with suppress(OSError):
                self._stop_status()


@contextmanager
def event_sinks(settings: Settings) -> Iterator[list[EventSink] | None]:
    """With --events FILE: the sink writing the run's events, one JSON object per line; else None."""
    if not settings.events:
        yield None
        return
    from ..events import JsonLinesSink

    try:
        sink = JsonLinesSink(settings.events, secrets=settings.output.secrets)
    except OSError as exc:  # before anything runs
        raise UsageError(f"cannot open the events file {settings.events}: {exc.strerror or exc}; nothing was run",
                         hint="pass --events a file in an existing folder you can write to "
                         "(it is appended to), or leave --events out") from None
    try:
        yield [sink]
    finally:
        sink.close()
        if sink.error is not None:
            settings.output.warn(
                f"the events file {settings.events} could not be written after {sink.written} event(s): "
                f"{sink.error.strerror or sink.error}; the run went on without it (every step is in the "
                "history table: safemigrate history)")


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
        # (Output.info never raises: an exception from a signal handler would surface wherever the run is.)
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
