"""Options shared by every command, in golang-migrate's single-dash spelling and the usual --long one.

They are accepted before the command (``safemigrate -database URL up``, as
golang-migrate requires) and after it (``safemigrate up --database URL``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click

from ..urls import parse_source_url
from .output import Format, Output

__all__ = ["Settings", "global_options", "settings_of"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Settings:
    """What the command line said; resolved lazily so each command reads only what it needs."""

    database: str | None = None
    source: str | None = None
    path: str | None = None
    lock_timeout: int | None = None
    verbose: bool = False
    format: Format = "text"
    debug: bool = False
    yes: bool = False
    output: Output = field(default_factory=Output)

    def database_url(self) -> str | None:
        return self.database or os.environ.get("DATABASE_URL") or None

    def migrations_dir(self) -> str:
        return parse_source_url(self.source, self.path, default="migrations")

    def effective_lock_timeout(self) -> int:
        return 15 if self.lock_timeout is None else self.lock_timeout


def settings_of(ctx: click.Context) -> Settings:
    return ctx.ensure_object(Settings)


def _store(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    if value is None or value is False or value == ():
        return
    settings = settings_of(ctx)
    name = param.name or ""
    if name == "json":
        settings.format = "json"
    else:
        setattr(settings, name, value)
    settings.output.format = settings.format
    settings.output.verbose = settings.verbose
    if name == "database" and isinstance(value, str):
        _remember_password(settings, value)


def _remember_password(settings: Settings, url: str) -> None:
    from urllib.parse import unquote, urlsplit

    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password:
        settings.output.secrets.update({password, unquote(password)})


def global_options(func: F) -> F:
    """Attach the shared options to a command or to the group."""
    options = [
        click.option("-database", "--database", "database", metavar="URL", default=None,
                     expose_value=False, callback=_store,
                     help="Database URL (driver://...). Default: $DATABASE_URL."),
        click.option("-source", "--source", "source", metavar="URL", default=None,
                     expose_value=False, callback=_store,
                     help="Migrations location, file://path."),
        click.option("-path", "--path", "path", metavar="DIR", default=None,
                     expose_value=False, callback=_store,
                     help="Shorthand for -source file://DIR. Default: ./migrations."),
        click.option("-lock-timeout", "--lock-timeout", "lock_timeout", type=click.IntRange(min=0),
                     metavar="N", default=None, expose_value=False, callback=_store,
                     help="Seconds to wait for the migration lock (default 15)."),
        click.option("-prefetch", "--prefetch", "prefetch", type=click.IntRange(min=0), metavar="N",
                     default=None, expose_value=False, callback=lambda c, p, v: None,
                     help="Accepted for golang-migrate compatibility; files are read on demand."),
        click.option("-verbose", "--verbose", "verbose", is_flag=True, default=False,
                     expose_value=False, callback=_store, help="Print verbose logging."),
        click.option("--format", "format", type=click.Choice(["text", "json"]), default=None,
                     expose_value=False, callback=_store, help="Output format."),
        click.option("--json", "json", is_flag=True, default=False, expose_value=False,
                     callback=_store, help="Same as --format json."),
        click.option("--debug", "debug", is_flag=True, default=False, expose_value=False,
                     callback=_store, help="Show a traceback for internal errors."),
    ]
    for option in reversed(options):
        func = option(func)
    return func
