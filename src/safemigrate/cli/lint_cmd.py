"""``safemigrate lint [PATHS...]``: a thin command around :func:`safemigrate.lint.lint_paths`."""

from __future__ import annotations

import click

from .fast_lint import LINT_OPTIONS, LintArgs, run_lint
from .options import global_options, settings_of

__all__ = ["lint"]


# The option values come from the table the click-free reader (fast_lint.py) uses: both accept the same.
def _choice(option: str) -> click.Choice[str]:
    return click.Choice(list(LINT_OPTIONS[option].choices))


def _range(option: str) -> click.IntRange:
    bounds = LINT_OPTIONS[option].int_range
    assert bounds is not None
    return click.IntRange(*bounds)


@click.command("lint")
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--format", "lint_format", type=_choice("--format"),
              default=None, help="Output format (default text; --json is the same as --format json).")
@click.option("--fail-on", "fail_on", type=_choice("--fail-on"), default=None,
              help="Exit 1 when a finding is at least this severe (default: error).")
@click.option("--pg-version", "pg_version", type=_range("--pg-version"), default=None, metavar="N",
              help="Target PostgreSQL major version (default: assume a current one).")
@click.option("--dialect", type=_choice("--dialect"), default=None,
              help="SQL dialect (default: from the -database URL scheme, else postgres).")
@click.option("--jobs", "jobs", type=_range("--jobs"), default=None, metavar="N",
              help="Processes to lint with (default: one per CPU, for about 200 files of SQL or more).")
@global_options
@click.pass_context
def lint(ctx: click.Context, paths: tuple[str, ...], lint_format: str | None, fail_on: str | None,
         pg_version: int | None, dialect: str | None, jobs: int | None) -> None:
    """Check migration files for operations that lock, rewrite or destroy.

    PATHS are migration files or folders (default: the -path folder). Exits 1
    when a finding is at least --fail-on severe, 0 otherwise, 2 on usage errors.
    Acknowledge a finding with `-- safemigrate:ignore RULE-ID -- reason`.
    """
    code = run_lint(settings_of(ctx), LintArgs(paths, lint_format, fail_on, pg_version, dialect, jobs))
    if code:
        ctx.exit(code)


# The shared --format only knows text and json; this command has its own, wider one.
lint.params = [p for p in lint.params if p.name != "format"]
