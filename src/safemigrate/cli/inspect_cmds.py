"""``check`` and ``history``: read-only questions about the database, for people and pipelines."""

from __future__ import annotations

import click

from .options import global_options, settings_of

__all__ = ["check", "history"]


@click.command()
@click.option("--expect", "expect", type=click.IntRange(min=0), default=None, metavar="V",
              help="Succeed only when the database is at exactly version V, clean.")
@click.option("--expect-at-least", "at_least", type=click.IntRange(min=0), default=None, metavar="V",
              help="Succeed when the database is at version V or newer, clean.")
@global_options
@click.pass_context
def check(ctx: click.Context, expect: int | None, at_least: int | None) -> None:
    """Exit 0 when the database is at the expected version and clean, 1 otherwise.

    For deploy pipelines and init containers, e.g. safemigrate check --expect 4.
    """
    from .. import commands
    from ..errors import UsageError

    if (expect is None) == (at_least is None):
        raise UsageError("check needs exactly one of --expect V and --expect-at-least V",
                         hint="for example: safemigrate check --expect 4")
    settings = settings_of(ctx)
    wanted = expect if expect is not None else at_least
    assert wanted is not None
    from .render.inspect import render_check

    render_check(settings.output, commands.check(settings.config(), expect=wanted, at_least=at_least is not None))


@click.command()
@click.option("--limit", "-n", "limit", type=click.IntRange(min=1), default=None, metavar="N",
              help="Show only the last N steps.")
@click.option("--migration", "version", type=click.IntRange(min=0), default=None, metavar="V",
              help="Show only the steps of migration V.")
@click.option("--release", "release_id", default=None, metavar="ID",
              help="Show release ID: its checklist and the steps it ran.")
@global_options
@click.pass_context
def history(ctx: click.Context, limit: int | None, version: int | None, release_id: str | None) -> None:
    """Every step safemigrate ran: who, when, what, direction, duration, outcome, error.

    For example: safemigrate history --limit 20. Works for a read-only role.
    """
    from .. import commands

    settings = settings_of(ctx)
    result = commands.history(settings.config(), limit=limit, version=version, release_id=release_id)

    from .render.inspect import render_history

    render_history(settings.output, result, version)
