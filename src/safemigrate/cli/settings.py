"""What the command line said, and the table of options every command shares.

This module does not import click: the ``version`` fast path (``fast.py``) reads
the same option table as the click commands (``options.py``), so both accept
exactly the same spellings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ..urls import parse_source_url
from .output import Format, Output

__all__ = ["GLOBAL_OPTIONS", "OptionSpec", "Settings", "store_option"]


@dataclass(frozen=True)
class OptionSpec:
    name: str
    spellings: tuple[str, ...]
    help: str
    takes_value: bool = True
    kind: str = "str"  # str | uint | choice | flag
    metavar: str | None = None
    choices: tuple[str, ...] = ()


# golang-migrate's single-dash spellings and the usual --long ones.
GLOBAL_OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec("database", ("-database", "--database"), "Database URL (driver://...). Default: $DATABASE_URL.",
               metavar="URL"),
    OptionSpec("source", ("-source", "--source"), "Migrations location, file://path.", metavar="URL"),
    OptionSpec("path", ("-path", "--path"), "Shorthand for -source file://DIR. Default: ./migrations.",
               metavar="DIR"),
    OptionSpec("lock_timeout", ("-lock-timeout", "--lock-timeout"),
               "Seconds to wait for the migration lock (default 15).", kind="uint", metavar="N"),
    OptionSpec("prefetch", ("-prefetch", "--prefetch"),
               "Accepted for golang-migrate compatibility; files are read on demand.", kind="uint",
               metavar="N"),
    OptionSpec("verbose", ("-verbose", "--verbose"), "Print verbose logging.", takes_value=False,
               kind="flag"),
    OptionSpec("format", ("--format",), "Output format.", kind="choice", choices=("text", "json")),
    OptionSpec("json", ("--json",), "Same as --format json.", takes_value=False, kind="flag"),
    OptionSpec("debug", ("--debug",), "Show a traceback for internal errors.", takes_value=False,
               kind="flag"),
)


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
    output: Output = field(default_factory=Output)

    def database_url(self) -> str | None:
        """-database, else $DATABASE_URL; its password is registered for masking before anyone parses it."""
        url = self.database or os.environ.get("DATABASE_URL") or None
        if url:
            _remember_password(self, url)
        return url

    def migrations_dir(self) -> str:
        return parse_source_url(self.source, self.path, default="migrations")

    def effective_lock_timeout(self) -> int:
        return 15 if self.lock_timeout is None else self.lock_timeout


def store_option(settings: Settings, name: str, value: Any) -> None:
    """Record one option's value (options given twice: the last one wins, as with Go's flag)."""
    if value is None or value is False or name == "prefetch":
        return
    if name == "json":
        settings.format = "json"
    else:
        setattr(settings, name, value)
    settings.output.format = settings.format
    settings.output.verbose = settings.verbose
    if name == "database" and isinstance(value, str):
        _remember_password(settings, value)


def _remember_password(settings: Settings, url: str) -> None:
    from ..redact import url_secrets

    settings.output.secrets.update(url_secrets(url))
