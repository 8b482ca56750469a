"""A run's live progress: golang-migrate's line per finished step, and a spinner line on a terminal."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..output import Output

if TYPE_CHECKING:
    from ...engine import StepResult
    from ...planner import Step
    from ...sql.script import Statement

__all__ = ["CliReporter", "elapsed_text"]


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


class _Progress:
    """Where a run is: the step, the statement, since when. Rendered afresh at every refresh."""

    def __init__(self, step: Step, index: int, total: int, clock: Callable[[], float]) -> None:
        self.step = step
        self.index = index
        self.total = total
        self.statement: tuple[int, int] | None = None
        self.started = clock()
        self.clock = clock

    def text(self) -> str:
        """``applying 12/340 000012_add_index.up.sql, statement 2/3, 1m03s``."""
        verb = "applying" if self.step.direction == "up" else "rolling back"
        file = self.step.file.path.name if self.step.file is not None else f"{self.step.version} {self.step.name}"
        parts = [f"{verb} {self.index + 1}/{self.total} {file}"]
        if self.statement is not None and self.statement[1] > 1:
            parts.append(f"statement {self.statement[0] + 1}/{self.statement[1]}")
        parts.append(elapsed_text(self.clock() - self.started))
        return ", ".join(parts)

    def __rich__(self) -> str:
        return self.text()


class CliReporter:
    """Prints each finished step as golang-migrate does (``1/u create_users (12.3ms)``).

    On a terminal (stderr, text mode) a spinner line shows the running step: steps done / total,
    the file, the statement and the time spent in it (``applying 12/340 000012_add_index.up.sql,
    statement 2/3, 1m03s``), redrawn several times a second so a long ``CREATE INDEX`` visibly
    makes progress; it is erased when the step ends. Piped or redirected, only the finished-step
    lines are printed, unchanged, so scripts and CI logs see golang-migrate's output. Colour
    follows :meth:`Output.color` (a terminal, and no ``NO_COLOR``).
    """

    def __init__(self, output: Output, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.output = output
        self._status: Any = None
        self._progress: _Progress | None = None
        self._clock = clock
        # A dumb terminal cannot redraw a line: it gets the plain lines, as a pipe does.
        self._live = output.format == "text" and output.stderr.isatty() and os.environ.get("TERM") != "dumb"

    def warning(self, message: str) -> None:
        self._stop_status()
        self.output.warn(message)

    def step_started(self, step: Step, index: int, total: int, mode: str) -> None:
        self._progress = _Progress(step, index, total, self._clock)
        if self.output.verbose:
            self.output.progress(f"Start {step.log_string} ({index + 1}/{total}, {mode})")
        if self._live:
            from rich.console import Console

            color = self.output.color()
            console = Console(file=self.output.stderr, no_color=not color, highlight=False,
                              color_system="auto" if color else None)
            self._stop_status()
            self._status = console.status(self._progress, spinner_style="green" if color else "")
            self._status.start()

    def statement_started(self, step: Step, statement: Statement, index: int, total: int) -> None:
        if self.output.verbose:
            first = statement.text.strip().splitlines()[0][:80] if statement.text.strip() else ""
            self.output.progress(f"  statement {index + 1}/{total} (line {statement.line}): {first}")
        if self._progress is not None:
            self._progress.statement = (index, total)

    def step_finished(self, result: StepResult) -> None:
        self._stop_status()
        self._progress = None
        elapsed = result.duration * 1000
        # golang-migrate's line first (scripts grep for it), then what it does not say.
        note = " -- no down file: nothing undone" if result.no_down_file else ""
        self.output.lines([f"{result.step.log_string} ({elapsed:.2f}ms){note}"])

    def _stop_status(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def close(self) -> None:
        self._stop_status()
