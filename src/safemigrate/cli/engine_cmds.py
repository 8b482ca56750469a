"""golang-migrate's commands plus status and plan: each parses, makes one library call, renders."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..errors import UsageError
from .fast_engine import _lint_gate, _move, _with_lint
from .options import global_options, settings_of

F = TypeVar("F", bound=Callable[..., Any])

# The engine, its renderers and rich are imported inside the commands that use them,
# so that `version` starts as fast as possible.

__all__ = ["create", "down", "drop", "force", "goto", "plan", "status", "up", "version"]

_NO_PARSE = {"ignore_unknown_options": True}


def _uint(value: str, what: str, ctx: click.Context | None = None) -> int:
    """Parse N or V as golang-migrate does (strconv.ParseUint), with its error texts.

    A word starting with a dash that is not a number is an option typo (``up --dryrun``):
    say so, with the nearest real option, instead of blaming N.
    """
    if not value.isdigit():
        if ctx is not None and value.startswith("-") and not value.lstrip("-").isdigit():
            raise unknown_option(ctx, value)
        letter = what.split()[-1]
        raise UsageError(f"can't read {what}", hint=f"{letter} must be a whole number >= 0 "
                         f"(e.g. safemigrate {ctx.info_name if ctx else 'up'} 1)")
    return int(value)


def _one_argument(ctx: click.Context, words: tuple[str, ...], what: str) -> str | None:
    """The command's single N or V; option typos are named as such, extra words refused."""
    for word in words:
        if word.startswith("-") and not word.lstrip("-").isdigit():
            raise unknown_option(ctx, word)
    if len(words) > 1:
        raise UsageError(f"too many arguments: {' '.join(words)}",
                         hint=f"safemigrate {ctx.info_name} takes one {what.split()[-1]} at most")
    return words[0] if words else None


def unknown_option(ctx: click.Context, word: str) -> UsageError:
    """'no such option' for ``ctx``'s command, with the closest spelling it accepts."""
    import difflib

    name = word.split("=", 1)[0]
    spellings = [o for p in ctx.command.params if isinstance(p, click.Option) for o in p.opts]
    close = difflib.get_close_matches(name, spellings, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}? " if close else ""
    return UsageError(f"unknown option {name!r} for {ctx.info_name}",
                      hint=hint + f"safemigrate {ctx.info_name} --help lists its options")


_DRY_RUN = click.option("--dry-run", is_flag=True,
                        help="Print the steps and the SQL that would run; change nothing.")


def _lint_options(func: F) -> F:
    func = click.option("--lint-details", is_flag=True,
                        help="Print every lint finding (default: a summary and the error-level ones).")(func)
    func = click.option("--no-lint", is_flag=True,
                        help="Do not lint the files about to run (when CI already ran safemigrate lint).")(func)
    return click.option("--strict", is_flag=True,
                        help="Block on error-level lint findings in the files about to run.")(func)


@click.command(context_settings=_NO_PARSE)
@click.argument("words", nargs=-1)
@_DRY_RUN
@click.option("--atomic", is_flag=True,
              help="Apply all pending migrations in ONE transaction: all or nothing.")
@_lint_options
@global_options
@click.pass_context
def up(ctx: click.Context, words: tuple[str, ...], dry_run: bool, atomic: bool, strict: bool,
       no_lint: bool, lint_details: bool) -> None:
    """Apply all or N up migrations."""
    from .fast_engine import run_up

    n = _one_argument(ctx, words, "limit argument N")
    run_up(settings_of(ctx), None if n is None else _uint(n, "limit argument N", ctx), dry_run=dry_run,
           atomic=atomic, strict=strict, no_lint=no_lint, lint_details=lint_details)


@click.command(context_settings=_NO_PARSE)
@click.argument("words", nargs=-1)
@click.option("-all", "--all", "apply_all", is_flag=True, help="Apply all down migrations, without asking.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation (needed without a terminal).")
@_DRY_RUN
@global_options
@click.pass_context
def down(ctx: click.Context, words: tuple[str, ...], apply_all: bool, yes: bool, dry_run: bool) -> None:
    """Apply all or N down migrations (asks before applying all of them)."""
    from .. import commands
    from .runtime import confirm

    settings = settings_of(ctx)
    n = _one_argument(ctx, words, "limit argument N")
    if apply_all and n is not None:
        raise UsageError("-all cannot be used with other arguments", hint="safemigrate down -all, or down N")
    limit = None if n is None else _uint(n, "limit argument N", ctx)
    if limit is None and not apply_all and not dry_run:
        confirm("Are you sure you want to apply all down migrations?", yes=yes,
                refusal="down with no N applies ALL down migrations, and there is no terminal to confirm",
                hint="pass -all (or --yes) to apply them all, or down N to apply N of them")
    _move(settings, functools.partial(commands.down, limit=limit, dry_run=dry_run), dry_run=dry_run)


@click.command(name="goto", context_settings=_NO_PARSE)
@click.argument("words", nargs=-1)
@_DRY_RUN
@_lint_options
@global_options
@click.pass_context
def goto(ctx: click.Context, words: tuple[str, ...], dry_run: bool, strict: bool, no_lint: bool,
         lint_details: bool) -> None:
    """Migrate up or down to version V."""
    from .. import commands
    settings = settings_of(ctx)
    v = _one_argument(ctx, words, "version argument V")
    if v is None:
        raise UsageError("please specify version argument V", hint="safemigrate goto V")
    version_number = _uint(v, "version argument V", ctx)
    gate = _lint_gate(settings, strict=strict, no_lint=no_lint, details=lint_details)
    _move(settings, functools.partial(commands.goto, target=version_number, dry_run=dry_run, lint=gate),
          dry_run=dry_run, gate=gate)


@click.command(context_settings=_NO_PARSE)
@click.argument("v", required=False)
@global_options
@click.pass_context
def force(ctx: click.Context, v: str | None) -> None:
    """Set version V without running a migration (clears the dirty flag; V may be -1)."""
    from .. import commands
    settings = settings_of(ctx)
    if v is None:
        raise UsageError("please specify version argument V", hint="safemigrate force V")
    if v.startswith("-") and not v.lstrip("-").isdigit():
        raise unknown_option(ctx, v)
    try:
        number = int(v)
    except ValueError:
        raise UsageError("can't read version argument V", hint="V is a version number or -1") from None
    if number < -1:
        raise UsageError("argument V must be >= -1", hint="V is a version number or -1 (no version)")
    from .render.engine import render_force
    from .runtime import ConnectionNote, ProgressSink, cancel_on_signals

    config = settings.config()
    connected = ConnectionNote(settings.output)
    with cancel_on_signals(settings.output) as cancel:
        # golang-migrate's -1 on the command line is the library's None: no version.
        state = commands.force(config, None if number == -1 else number, cancel=cancel,
                               events=ProgressSink(settings.output), on_connect=connected)
    render_force(settings.output, state, connected.data)


@click.command()
@global_options
@click.pass_context
def version(ctx: click.Context) -> None:
    """Print the current migration version (N or N (dirty))."""
    from .fast import show_version

    show_version(settings_of(ctx))


@click.command()
@click.option("-f", "--force", "force_drop", is_flag=True, help="Do not ask for confirmation.")
@global_options
@click.pass_context
def drop(ctx: click.Context, force_drop: bool) -> None:
    """Drop every table in the database's migration schema (asks first)."""
    from .. import commands
    from .render.engine import render_drop
    from .runtime import ConnectionNote, ProgressSink, confirm

    settings = settings_of(ctx)
    confirm("Are you sure you want to drop the entire database schema?", yes=force_drop,
            refusal="drop deletes every table, and there is no terminal to confirm",
            hint="pass -f to drop without asking (take a backup first: safemigrate backup create)")
    connected = ConnectionNote(settings.output)
    dropped = commands.drop(settings.config(), events=ProgressSink(settings.output), on_connect=connected)
    render_drop(settings.output, dropped, connected.data)


# golang-migrate's flag package stops at NAME: options after it are never read.
@click.command(context_settings={"allow_interspersed_args": False})
@click.argument("name", required=False)
@click.argument("after_name", nargs=-1, type=click.UNPROCESSED)
@click.option("-ext", "--ext", default="", help="File extension (required), e.g. sql.")
@click.option("-dir", "--dir", "directory", default="", help="Folder for the files (default: current).")
@click.option("-seq", "--seq", is_flag=True, help="Sequential numbers instead of timestamps.")
@click.option("-digits", "--digits", type=int, default=6, show_default=True, help="Digits of -seq numbers.")
@click.option("-format", "--format-time", "time_format", default="20060102150405",
              help='Go time layout for the version, or "unix" / "unixNano".')
@click.option("-tz", "--tz", "timezone", default="UTC", show_default=True, help="Time zone of timestamps.")
@global_options
@click.pass_context
def create(ctx: click.Context, name: str | None, after_name: tuple[str, ...], ext: str, directory: str,
           seq: bool, digits: int, time_format: str, timezone: str) -> None:
    """Create an empty up/down pair named VERSION_NAME.up.EXT / VERSION_NAME.down.EXT.

    Options go before NAME, as with golang-migrate.
    """
    from ..create import create_migration

    settings = settings_of(ctx)
    if any(word in ("-h", "-help", "--help") for word in after_name):
        click.echo(ctx.get_help())
        ctx.exit(0)
    if after_name:
        # golang-migrate would silently ignore them (e.g. -seq: a timestamp instead of a number).
        words = " ".join(after_name)
        if any(w.startswith("-") for w in after_name):
            raise UsageError(f"options after NAME are not read: {words} (golang-migrate ignores them silently)",
                             hint=f"put them before the name: safemigrate create {words} ... {name}")
        raise UsageError(f"create takes one NAME, got {name} {words}",
                         hint=f"join the words: safemigrate create ... {'_'.join((name or '', *after_name))}")
    from .render.create import render_created

    render_created(settings.output, create_migration(name or "", ext=ext, directory=directory, seq=seq,
                                                     digits=digits, time_format=time_format, timezone=timezone))


@click.command()
@click.option("--exit-code", is_flag=True, help="Exit 1 when a migration is pending or something is wrong.")
@global_options
@click.pass_context
def status(ctx: click.Context, exit_code: bool) -> None:
    """Every migration: applied, pending or current, with loud flags for what is wrong."""
    from .fast_engine import run_status

    if run_status(settings_of(ctx), exit_code):
        ctx.exit(1)


@click.command(context_settings=_NO_PARSE)
@click.argument("words", nargs=-1)
@_lint_options
@global_options
@click.pass_context
def plan(ctx: click.Context, words: tuple[str, ...], strict: bool, no_lint: bool,
         lint_details: bool) -> None:
    """Show what up [N], down [N|-all] or goto V would run, SQL included; change nothing."""
    from .. import commands
    from .render.engine import render_plan
    from .runtime import ProgressSink

    settings = settings_of(ctx)
    command = words[0] if words else "up"
    rest = [w for w in words[1:] if w not in ("-all", "--all")]
    for word in rest:
        if word.startswith("-") and not word.lstrip("-").isdigit():
            raise unknown_option(ctx, word)
    if command not in ("up", "down", "goto"):
        raise UsageError(f"unknown plan command {command!r}", hint="safemigrate plan [up [N] | down [N] | goto V]")
    if len(rest) > 1:
        raise UsageError("too many arguments", hint="safemigrate plan [up [N] | down [N] | goto V]")
    argument = None
    if rest:
        argument = _uint(rest[0], "version argument V" if command == "goto" else "limit argument N", ctx)
    elif command == "goto":
        raise UsageError("please specify version argument V", hint="safemigrate plan goto V")
    gate = _lint_gate(settings, strict=strict, no_lint=no_lint, details=lint_details)
    result = commands.plan(settings.config(), command, argument, lint=gate, events=ProgressSink(settings.output))
    render_plan(settings.output, result, _with_lint(gate, {}))
