"""``safemigrate config show``: every resolved setting, where it came from, passwords masked."""

from __future__ import annotations

import click

from .options import global_options, settings_of

__all__ = ["config"]


@click.group()
def config() -> None:
    """Show the configuration (safemigrate.toml, [env.NAME], environment variables, flags)."""


@config.command("show")
@global_options
@click.pass_context
def show(ctx: click.Context) -> None:
    """Print each setting's value and origin, for example: safemigrate config show --env staging."""
    from .. import commands
    from .render.config import render_config_show

    settings = settings_of(ctx)
    render_config_show(settings.output, commands.config_show(settings.config()))
