"""``safemigrate lint`` without loading click.

CI runs ``lint`` on every push, often on a few files, where importing click and
the command table costs as much as the linting. When the command line is the
global options, ``lint``, its own options and paths, spelled the plain way,
it is read here and the command runs with the same code as the click command
(:func:`run_lint`, which ``lint_cmd.py`` calls too). Anything else (``--help``,
``--``, an unknown or repeated option, a value click would reject or read
differently) returns None, and click parses the command line, reporting any error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._record import Record
from .fast import GLOBAL_SPELLINGS, option_value, read_global, read_global_options
from .settings import Settings, store_option

if TYPE_CHECKING:
    from ..lint.model import LintResult

__all__ = ["LINT_OPTIONS", "LintArgs", "parse_lint_command", "run_lint", "show_lint_result"]


class LintArgs(Record, frozen=True):
    """The lint command's own arguments, as the click command receives them.

    Records rather than NamedTuples here: a NamedTuple class costs this start-up path 1 M instructions.
    """

    paths: tuple[str, ...]
    lint_format: str | None
    fail_on: str | None
    pg_version: int | None
    dialect: str | None
    jobs: int | None

    def __init__(self, paths: tuple[str, ...] = (), lint_format: str | None = None, fail_on: str | None = None,
                 pg_version: int | None = None, dialect: str | None = None, jobs: int | None = None) -> None:
        self.__dict__.update(paths=paths, lint_format=lint_format, fail_on=fail_on, pg_version=pg_version,
                             dialect=dialect, jobs=jobs)


class _LintOption(Record, frozen=True):
    name: str  # LintArgs field
    choices: tuple[str, ...]  # a click.Choice
    int_range: tuple[int, int | None] | None  # a click.IntRange (min, max)

    def __init__(self, name: str, choices: tuple[str, ...] = (),
                 int_range: tuple[int, int | None] | None = None) -> None:
        self.__dict__.update(name=name, choices=choices, int_range=int_range)


# The lint command's options (lint_cmd.py declares the same ones to click; a test compares them).
LINT_OPTIONS: dict[str, _LintOption] = {
    "--format": _LintOption("lint_format", choices=("text", "json", "sarif", "github")),
    "--fail-on": _LintOption("fail_on", choices=("error", "warning")),
    "--pg-version": _LintOption("pg_version", int_range=(9, 99)),
    "--dialect": _LintOption("dialect", choices=("postgres", "sqlite", "mysql")),
    "--jobs": _LintOption("jobs", int_range=(1, None)),
}

# After the command the shared --format is not an option of lint's: lint has its own, wider one.
_GLOBAL_AFTER = {s: spec for s, spec in GLOBAL_SPELLINGS.items() if spec.name != "format"}
_DIGITS = re.compile(r"[0-9]+")
_COMPLETION_VARIABLE = "_SAFEMIGRATE_COMPLETE"  # click's shell completion runs inside click


def parse_lint_command(argv: Sequence[str], settings: Settings) -> LintArgs | None:
    """Read ``[global options] lint [options and paths]`` into ``settings`` and the lint arguments.

    Returns None (leaving ``settings`` untouched) for anything this reader does not
    read exactly as click would; click then parses the command line itself.
    """
    if _COMPLETION_VARIABLE in os.environ or "lint" not in argv:
        return None
    command = list(argv).index("lint")
    before = read_global_options(argv[:command], GLOBAL_SPELLINGS)
    after = _read_lint_arguments(argv[command + 1:])
    if before is None or after is None:
        return None
    options_after, lint_args = after
    # Stored as click stores them: the group's options, then the command's, each in the
    # order of its first appearance (an option given twice is left to click).
    for name, value in [*before.items(), *options_after.items()]:
        store_option(settings, name, value)
    return lint_args


def _read_lint_arguments(argv: Sequence[str]) -> tuple[dict[str, object], LintArgs] | None:
    """The tokens after ``lint``: the shared options, and lint's own options and paths (None if unsure)."""
    shared: dict[str, object] = {}
    own: dict[str, Any] = {}  # LintArgs field -> value
    paths: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("-"):
            paths.append(arg)
            i += 1
            continue
        name, equals, inline = arg.partition("=")
        option = LINT_OPTIONS.get(name)
        if option is None:
            read = read_global(argv, i, _GLOBAL_AFTER)
            if read is None or read[0] in shared:
                return None
            shared[read[0]] = read[1]
            i = read[2]
            continue
        value, i = option_value(argv, i, bool(equals), inline)
        converted = _convert(option, value)
        if converted is None or option.name in own:
            return None
        own[option.name] = converted
    return shared, LintArgs(tuple(paths), **own)


def _convert(option: _LintOption, value: str | None) -> str | int | None:
    if value is None:
        return None
    if option.choices:
        return value if value in option.choices else None
    assert option.int_range is not None
    low, high = option.int_range
    if not _DIGITS.fullmatch(value):
        return None
    number = int(value)
    if number < low or (high is not None and number > high):
        return None
    return number


# -- the command itself (the click command in lint_cmd.py calls this too) ---------------


def run_lint(settings: Settings, args: LintArgs) -> int:
    """Lint (:func:`safemigrate.commands.lint`), print the report, and return the exit status
    (1 when a finding fails the run)."""
    from .._gc import cyclic_gc_paused

    # Importing the linter, linting and the report make no garbage cycles (the imports' cycles
    # live until exit anyway), but the collections that their allocations trigger scanned every
    # object alive: a tenth of start-up's instructions.
    with cyclic_gc_paused():
        from ..commands import lint

        fmt = _format(settings, args.lint_format)
        # The one configuration (--config, --env and safemigrate.toml as for every command), its [lint] table.
        result = lint(settings.config(), args.paths, dialect=args.dialect, pg_version=args.pg_version,
                      fail_on=args.fail_on, jobs=args.jobs)
        show_lint_result(settings, result, fmt)
        return 1 if result.failed else 0


def show_lint_result(settings: Settings, result: LintResult, fmt: str) -> None:
    """The notes on stderr, the report in ``fmt`` (text, json, sarif, github) on stdout.

    Here rather than in cli/render/: the click-free path imports nothing it does not need.
    """
    from ..lint import render

    report = result.report
    out = settings.output
    for note in report.notes:
        if "`" in note:  # the library names settings (`no_follow`): say the flags that set them
            from .flags import spell_text

            note = spell_text(note, "lint")
        out.warn(note)
    out.format = "json" if fmt == "json" else "text"
    if fmt == "json":
        out.result(result.to_dict())
    else:
        text = render(report, fmt, color=_color(settings)) if fmt == "text" else render(report, fmt)
        out.result({}, text)


def _format(settings: Settings, chosen: str | None) -> str:
    if chosen:
        return chosen
    return "json" if settings.format == "json" else "text"


def _color(settings: Settings) -> bool:
    out = settings.output
    stream = out.stdout
    return bool(out.color() and hasattr(stream, "isatty") and stream.isatty()
                and not os.environ.get("NO_COLOR"))
