"""``safemigrate status`` and ``up`` without loading click.

CI runs ``status --exit-code`` on every pipeline and every deploy runs ``up``, most often with
nothing or little pending, where importing click and the command table costs a tenth of the run.
When the command line is the global options, the command, its own flags (and ``up``'s N), spelled
the plain way, it is read here and the command runs with the same code as the click command
(:func:`run_status` and :func:`run_up`, which ``engine_cmds.py`` calls too). Anything else
(``--help``, ``--``, an unknown or repeated option, a value click would reject or read differently)
returns None, and click parses the command line, reporting any error.
"""

from __future__ import annotations

import functools
import gc
import logging
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import UsageError
from .fast import GLOBAL_SPELLINGS, read_global, read_global_options
from .settings import Settings, store_option

if TYPE_CHECKING:
    from ..commands import LintGate
    from ..engine import RunResult

__all__ = ["STATUS_FLAGS", "UP_FLAGS", "UpArgs", "parse_status_command", "parse_up_command",
           "quiet_pipeline_exit_noise", "run_status", "run_up"]

_COMPLETION_VARIABLE = "_SAFEMIGRATE_COMPLETE"  # click's shell completion runs inside click

# Each command's own flags, as engine_cmds.py declares them to click (a test compares them).
STATUS_FLAGS = {"--exit-code": "exit_code"}
UP_FLAGS = {"--dry-run": "dry_run", "--atomic": "atomic", "--strict": "strict", "--no-lint": "no_lint",
            "--lint-details": "lint_details"}


class UpArgs(NamedTuple):
    """The up command's own arguments, as the click command receives them."""

    words: tuple[str, ...] = ()
    dry_run: bool = False
    atomic: bool = False
    strict: bool = False
    no_lint: bool = False
    lint_details: bool = False


def _parse(argv: Sequence[str], settings: Settings, command: str, flags: dict[str, str], *,
           words: bool) -> tuple[dict[str, bool], tuple[str, ...]] | None:
    """Read ``[global options] COMMAND [flags, global options and (``words``) one N]`` into
    ``settings``; the flags given and the words. None (``settings`` untouched) if unsure."""
    if _COMPLETION_VARIABLE in os.environ or command not in argv:
        return None
    at = list(argv).index(command)
    before = read_global_options(argv[:at], GLOBAL_SPELLINGS)
    if before is None:
        return None
    shared: dict[str, object] = {}
    given: dict[str, bool] = {}
    found: list[str] = []
    i = at + 1
    while i < len(argv):
        arg = argv[i]
        flag = flags.get(arg)
        if flag is not None:
            if flag in given:
                return None
            given[flag] = True
            i += 1
            continue
        if words and arg.isdigit() and arg.isascii() and not found:
            found.append(arg)  # N: digits only (anything else is click's to read and report)
            i += 1
            continue
        read = read_global(argv, i, GLOBAL_SPELLINGS)
        if read is None or read[0] in shared:
            return None
        shared[read[0]] = read[1]
        i = read[2]
    # Stored as click stores them: the group's options, then the command's, each in the order
    # of its first appearance.
    for name, value in [*before.items(), *shared.items()]:
        store_option(settings, name, value)
    settings.command = command  # an error names its settings by this command's flags
    return given, tuple(found)


def parse_status_command(argv: Sequence[str], settings: Settings) -> bool | None:
    """``--exit-code`` (True or False) when ``argv`` is a plain ``status`` command line, else None."""
    parsed = _parse(argv, settings, "status", STATUS_FLAGS, words=False)
    return None if parsed is None else parsed[0].get("exit_code", False)


def parse_up_command(argv: Sequence[str], settings: Settings) -> UpArgs | None:
    """The up arguments when ``argv`` is a plain ``up`` command line, else None."""
    parsed = _parse(argv, settings, "up", UP_FLAGS, words=True)
    if parsed is None:
        return None
    given, words = parsed
    return UpArgs(words, **given)


# -- the commands themselves (the click commands in engine_cmds.py call these too) ----------------


def run_status(settings: Settings, exit_code: bool) -> int:
    """Print the status; 1 with ``exit_code`` when something is pending or wrong, else 0."""
    from .. import commands
    from .._gc import cyclic_gc_paused
    from .render.status import render_status
    from .runtime import ProgressSink

    # One pause for the whole command, not one per phase: a phase's end let a collection scan
    # everything the phases before it had built and kept (the folder, the history, the rows): 15 M
    # of the 45 M instructions the collector cost at 10,000 files (the rest is the imports');
    # nothing status builds holds a cycle, and the command ends right after.
    with cyclic_gc_paused():
        report = commands.status(settings.config(), events=ProgressSink(settings.output))
        render_status(settings.output, report)
        code = 1 if exit_code and not report.ok else 0
        # The command ends here: what it built (a row per file, the history) is kept, for the exit
        # to free at once (main() leaves without the teardown), and handed to the collector's
        # permanent generation, so that no collection scans it on the way out (freeing it object
        # by object and the collection that re-enabling set off were 34 M instructions, 3% of the
        # status of 10,000).
        _LAST_REPORT[:] = [report]
        gc.freeze()
    return code


_LAST_REPORT: list[object] = []  # the last status printed (one at most, for the exit to free)


def run_up(settings: Settings, limit: int | None, *, dry_run: bool = False, atomic: bool = False,
           strict: bool = False, no_lint: bool = False, lint_details: bool = False) -> None:
    """Apply all or ``limit`` up migrations, with the lint gate, progress and the result printed."""
    from .. import commands

    quiet_pipeline_exit_noise()
    gate = _lint_gate(settings, strict=strict, no_lint=no_lint, details=lint_details)
    _move(settings, functools.partial(commands.up, limit=limit, dry_run=dry_run, atomic=atomic, lint=gate),
          dry_run=dry_run, gate=gate)


def run_up_words(settings: Settings, args: UpArgs) -> int:
    """``up`` read by :func:`parse_up_command`: N is digits only, so it reads as click's command reads it."""
    run_up(settings, int(args.words[0]) if args.words else None, dry_run=args.dry_run, atomic=args.atomic,
           strict=args.strict, no_lint=args.no_lint, lint_details=args.lint_details)
    return 0


class _PipelineExitNoise(logging.Filter):
    """Drops psycopg's "error ignored terminating <psycopg.Pipeline ...>: pipeline aborted" warning.

    When a pipelined statement fails badly enough (the server's lock table full, for one), closing
    the pipeline fails too and psycopg logs that second error, which Python prints on stderr above
    the command's own report of the first one: the report says everything, the line is only noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("error ignored terminating")


def quiet_pipeline_exit_noise() -> None:
    """Install :class:`_PipelineExitNoise` on psycopg's logger (once)."""
    logger = logging.getLogger("psycopg")
    if not any(isinstance(f, _PipelineExitNoise) for f in logger.filters):
        logger.addFilter(_PipelineExitNoise())


# -- shared with the click commands of engine_cmds.py (down, goto, plan) --------------------------


def _lint_gate(settings: Settings, *, strict: bool, no_lint: bool, details: bool = False) -> LintGate | None:
    """The library's lint gate, its summary printed before the run (JSON: in the result)."""
    from ..commands import LintGate

    if no_lint:
        for flag, given in (("--strict", strict), ("--lint-details", details)):
            if given:
                raise UsageError(f"{flag} and --no-lint contradict each other", hint="pass one of them")
        return None
    out = settings.output

    def show(report: Any, file_count: int) -> None:
        from .render.lint_gate import show_lint_summary

        show_lint_summary(out, report, file_count, strict=strict, details=details)

    return LintGate(strict=strict, on_report=show)


def _with_lint(gate: LintGate | None, data: dict[str, Any]) -> dict[str, Any]:
    if gate is not None and gate.report is not None:
        data["lint"] = gate.report.to_dict()
    return data


def _move(settings: Settings, move: Callable[..., RunResult], *, dry_run: bool,
          gate: LintGate | None = None) -> None:
    """Run one library move with progress, signal handling and --events, then render its result.

    ``move(config, events=, cancel=, on_connect=)`` is ``commands.up``, ``down`` or ``goto`` with
    the command's arguments bound. The terminal's output is the first sink of the run's events.
    """
    from .render.engine import render_plan, render_run
    from .runtime import ConnectionNote, ProgressSink, cancel_on_signals, event_sinks

    config = settings.config()
    progress = ProgressSink(settings.output)
    connected = ConnectionNote(settings.output)
    # Signals are handled from before connecting: one during the connect is honoured after it.
    with cancel_on_signals(settings.output) as cancel, event_sinks(settings) as sinks:
        result = move(config, events=[progress, *(sinks or ())], cancel=cancel,
                      on_connect=None if dry_run else connected)
    progress.close()
    (render_plan if dry_run else render_run)(settings.output, result, _with_lint(gate, connected.data))
