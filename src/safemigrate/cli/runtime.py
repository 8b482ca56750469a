"""What the engine commands share: opening a Migrator from the settings, progress, signals, prompts."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Any

from ..drivers import open_driver
from ..engine import Migrator, StepResult
from ..errors import UsageError
from ..planner import Step
from ..source import load_source
from ..sql.script import Statement
from ..urls import parse_database_url
from .output import Output
from .settings import Settings

__all__ = ["CliReporter", "LintGate", "announce_connection", "confirm", "elapsed_text", "handle_signals",
           "open_migrator"]


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


class TeeReporter:
    """Hands each engine report to several reporters (the terminal, the --events file)."""

    def __init__(self, *reporters: Any) -> None:
        self.reporters = reporters

    def warning(self, message: str) -> None:
        for reporter in self.reporters:
            reporter.warning(message)

    def step_started(self, step: Step, index: int, total: int, mode: str) -> None:
        for reporter in self.reporters:
            reporter.step_started(step, index, total, mode)

    def statement_started(self, step: Step, statement: Statement, index: int, total: int) -> None:
        for reporter in self.reporters:
            reporter.statement_started(step, statement, index, total)

    def step_finished(self, result: StepResult) -> None:
        for reporter in self.reporters:
            reporter.step_finished(result)


@contextmanager
def event_log(settings: Settings, command: str, migrator: Migrator) -> Iterator[None]:
    """With --events FILE: the run's events, one JSON object per line, around the command."""
    if not settings.events:
        yield
        return
    from ..commands import _EventReporter
    from ..events import JsonLinesSink, RunFinished, RunStarted

    sink = JsonLinesSink(settings.events, secrets=settings.output.secrets)
    database = migrator.driver.url.redacted()
    migrator.reporter = TeeReporter(migrator.reporter, _EventReporter(sink, database))
    sink(RunStarted(database, command=command))
    ok = False
    try:
        yield
        ok = True
    finally:
        try:
            state = migrator.driver.read_version()
            sink(RunFinished(database, command=command, ok=ok, version=state.version, dirty=state.dirty))
        except Exception:
            sink(RunFinished(database, command=command, ok=ok, version=None))
        sink.close()


class LintGate:
    """Lints the files a command is about to run, before it runs any of them.

    Findings never block by default: a fresh database replays years of old
    migrations, and a drop-in for golang-migrate must run what golang-migrate
    runs. With ``--strict`` error-level findings block, unless a file
    acknowledges them (``-- safemigrate:ignore RULE -- reason``).

    Only the files about to run are linted (never those already applied), and
    the text output stays short: one line per severity, every error-level
    finding in full, and the rest with ``--lint-details`` (or ``safemigrate
    lint``), so a fresh database replaying hundreds of files does not print
    thousands of lines before its first step. JSON output carries every finding.
    """

    def __init__(self, output: Output, *, strict: bool, details: bool = False) -> None:
        self.output = output
        self.strict = strict
        self.details = details
        self.report: Any = None
        self.migrator: Migrator | None = None

    def __call__(self, steps: Sequence[Step]) -> None:
        from ..errors import SafemigrateError
        from ..lint import lint_migrations, load_config

        assert self.migrator is not None
        files = [step.file for step in steps if step.file is not None]
        if not files:
            return
        driver = self.migrator.driver
        self.report = report = lint_migrations(files, dialect=driver.dialect,
                                               pg_version=_major(driver.server_version)
                                               if driver.dialect == "postgres" else None,
                                               config=load_config())
        if report.findings and not self.output.json:
            self._show(report, len(files))
        if self.strict and report.fails():
            raise SafemigrateError(
                f"lint: {report.counts()['error']} error-level finding(s) in the migrations about to run; "
                "nothing was applied (--strict)",
                hint="fix them, or acknowledge each on its statement with "
                "-- safemigrate:ignore RULE-ID -- reason, then run the command again",
                details={"lint": report.to_dict()},
            )

    def _show(self, report: Any, file_count: int) -> None:
        from ..lint import LintReport, Severity, render

        counts = report.counts()
        blocking = "blocking: --strict" if self.strict else "not blocking; --strict makes errors block"
        self.output.warn(
            f"lint: {_count(counts['error'], 'error')}, {_count(counts['warning'], 'warning')}, "
            f"{_count(counts['info'], 'note')} in the {_count(file_count, 'file')} about to run ({blocking})")
        shown = report.findings if self.details else report.at_least(Severity.ERROR)
        if shown:
            part = LintReport(findings=list(shown), files=report.files, dialect=report.dialect,
                              pg_version=report.pg_version)
            text = render(part, "text", color=self.output.color())
            # The report's own closing summary line repeats the counts above.
            body = text.rsplit("\n", 1)[0] if "\n" in text else ""
            self.output.stderr.write(self.output.scrub(body.rstrip("\n")) + "\n")
        if self.details:
            return
        for severity, word in ((Severity.WARNING, "warning"), (Severity.INFO, "note")):
            hidden = [f for f in report.findings if f.severity == severity]
            if hidden:
                self.output.warn(f"lint: {_count(len(hidden), word)} not shown ({_by_rule(hidden)}): "
                                 "add --lint-details, or run safemigrate lint, to see them")

    def attach(self, data: dict[str, Any]) -> dict[str, Any]:
        if self.report is not None:
            data["lint"] = self.report.to_dict()
        return data


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _by_rule(findings: Sequence[Any], limit: int = 4) -> str:
    """``rule-a 12, rule-b 3, and 2 more rules``: which rules the hidden findings come from."""
    from collections import Counter

    ranked = Counter(f.rule_id for f in findings).most_common()
    text = ", ".join(f"{rule_id} {n}" for rule_id, n in ranked[:limit])
    rest = len(ranked) - limit
    return text + (f", and {_count(rest, 'more rule')}" if rest > 0 else "")


def _major(server_version: str) -> int | None:
    head = server_version.split()[0] if server_version else ""
    try:
        return int(head.split(".")[0])
    except ValueError:
        return None


def open_migrator(settings: Settings, *, reporter: CliReporter | None = None,
                  lint: LintGate | None = None) -> Migrator:
    url = parse_database_url(settings.database_url())
    source = load_source(settings.migrations_dir(), no_follow=settings.no_follow)
    driver = open_driver(url)
    migrator = Migrator(source, driver, lock_timeout=settings.effective_lock_timeout(),
                        reporter=reporter or CliReporter(settings.output), pre_apply_check=lint)
    if lint is not None:
        lint.migrator = migrator
    return migrator


def announce_connection(migrator: Migrator, output: Output) -> dict[str, Any]:
    """Say which database a command that writes is about to change, before it changes anything.

    The URL says what was meant; this says what the server answered (``current_database()``,
    ``DATABASE()``, the SQLite file), so a URL that reached the wrong database shows at once.
    Text mode: one line on stderr. JSON: the returned field, for the command's one document.
    """
    driver = migrator.driver
    output.progress(f"connected to {driver.describe_connection()}")
    return {"connected_to": driver.connection_summary()}


@contextmanager
def handle_signals(migrator: Migrator, output: Output) -> Iterator[None]:
    """SIGINT/SIGTERM: the first stops the run safely (rollback, unlock); a second aborts at once."""
    seen: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if seen:
            raise KeyboardInterrupt
        seen.append(signum)
        output.info(f"{signal.Signals(signum).name} received: stopping safely (rolling back the "
                    "running migration, releasing the lock); send it again to abort at once")
        migrator.interrupt(signum)

    with signal_handler(on_signal):
        yield


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
