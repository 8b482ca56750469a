"""``safemigrate lint [PATHS...]``: a thin command around :func:`safemigrate.lint.lint_paths`."""

from __future__ import annotations

import os

import click

from ..errors import UsageError
from .options import Settings, global_options, settings_of

__all__ = ["lint"]


def _dialect_from_url(url: str | None) -> str | None:
    if not url:
        return None
    from ..urls import SCHEMES

    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    dialect = SCHEMES.get(scheme)
    if dialect is None:
        raise UsageError(f"cannot tell the SQL dialect from the database URL scheme {scheme!r}",
                         hint="pass --dialect postgres, sqlite or mysql")
    return dialect


def _format(settings: Settings, chosen: str | None) -> str:
    if chosen:
        return chosen
    return "json" if settings.format == "json" else "text"


def _color(settings: Settings) -> bool:
    out = settings.output
    stream = out.stdout
    return bool(out.color() and hasattr(stream, "isatty") and stream.isatty()
                and not os.environ.get("NO_COLOR"))


@click.command("lint")
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--format", "lint_format", type=click.Choice(["text", "json", "sarif", "github"]),
              default=None, help="Output format (default text; --json is the same as --format json).")
@click.option("--fail-on", "fail_on", type=click.Choice(["error", "warning"]), default=None,
              help="Exit 1 when a finding is at least this severe (default: error).")
@click.option("--pg-version", "pg_version", type=click.IntRange(9, 99), default=None, metavar="N",
              help="Target PostgreSQL major version (default: assume a current one).")
@click.option("--dialect", type=click.Choice(["postgres", "sqlite", "mysql"]), default=None,
              help="SQL dialect (default: from the -database URL scheme, else postgres).")
@click.option("--jobs", "jobs", type=click.IntRange(min=1), default=None, metavar="N",
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
    from ..lint import Severity, lint_paths, render

    settings = settings_of(ctx)
    fmt = _format(settings, lint_format)
    # The [lint] table of the one configuration (--config, --env and safemigrate.toml as for every command).
    config = settings.config().lint
    chosen_dialect = dialect or _dialect_from_url(settings.database_url()) or "postgres"
    targets = list(paths) or [settings.migrations_dir()]
    report = lint_paths(targets, dialect=chosen_dialect, pg_version=pg_version, config=config, jobs=jobs)
    threshold = Severity(fail_on) if fail_on else (config.fail_on or Severity.ERROR)

    out = settings.output
    for note in report.notes:
        out.warn(note)
    out.format = "json" if fmt == "json" else "text"
    if fmt == "json":
        out.result(report.to_dict(threshold))
    else:
        text = render(report, fmt, color=_color(settings)) if fmt == "text" else render(report, fmt)
        out.result({}, text)
    if report.fails(threshold):
        ctx.exit(1)


# The shared --format only knows text and json; this command has its own, wider one.
lint.params = [p for p in lint.params if p.name != "format"]
