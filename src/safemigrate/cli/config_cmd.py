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
    settings = settings_of(ctx)
    resolved = settings.config()

    def text() -> str:
        where = str(resolved.file) if resolved.file else "none found (defaults)"
        lines = [f"file: {where}", f"env:  {resolved.env or '(none)'}", ""]
        rows = resolved.shown()
        width = max(len(name) for name, _value, _origin in rows)
        value_width = max(len(value) for _name, value, _origin in rows)
        lines += [f"{name:<{width}}  {value:<{value_width}}  ({origin})" for name, value, origin in rows]
        return "\n".join(lines)

    settings.output.result(resolved.to_dict(), text)
