"""What the command line said, and the table of options every command shares.

This module does not import click: the ``version`` fast path (``fast.py``) reads
the same option table as the click commands (``options.py``), so both accept
exactly the same spellings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._record import Record
from .output import Format, Output

if TYPE_CHECKING:
    from ..config import Config

__all__ = ["GLOBAL_OPTIONS", "OptionSpec", "Settings", "store_option"]


class OptionSpec(Record, frozen=True):
    name: str
    spellings: tuple[str, ...]
    help: str
    takes_value: bool
    kind: str  # str | uint | choice | flag
    metavar: str | None
    choices: tuple[str, ...]

    def __init__(self, name: str, spellings: tuple[str, ...], help: str, takes_value: bool = True,
                 kind: str = "str", metavar: str | None = None, choices: tuple[str, ...] = ()) -> None:
        self.__dict__.update(name=name, spellings=spellings, help=help, takes_value=takes_value, kind=kind,
                             metavar=metavar, choices=choices)


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
    OptionSpec("no_follow", ("-no-follow", "--no-follow"),
               "Refuse migration files that are symbolic links leaving the migrations folder.",
               takes_value=False, kind="flag"),
    OptionSpec("verbose", ("-verbose", "--verbose"), "Print verbose logging.", takes_value=False,
               kind="flag"),
    OptionSpec("format", ("--format",), "Output format.", kind="choice", choices=("text", "json")),
    OptionSpec("json", ("--json",), "Same as --format json.", takes_value=False, kind="flag"),
    OptionSpec("debug", ("--debug",), "Show a traceback for internal errors.", takes_value=False,
               kind="flag"),
    OptionSpec("events", ("--events",), "Also write every event (step started, finished, ...) to FILE, "
               "one JSON object per line, passwords masked.", metavar="FILE"),
    OptionSpec("env", ("--env",), "The [env.NAME] section of safemigrate.toml to use. "
               "Default: $SAFEMIGRATE_ENV.", metavar="NAME"),
    OptionSpec("config_file", ("--config",), "The configuration file. Default: $SAFEMIGRATE_CONFIG, "
               "else the nearest safemigrate.toml or pyproject.toml [tool.safemigrate].", metavar="FILE"),
)


class Settings(Record, hidden=("_config",)):
    """What the command line said; resolved lazily so each command reads only what it needs."""

    database: str | None
    source: str | None
    path: str | None
    lock_timeout: int | None
    no_follow: bool
    verbose: bool
    format: Format
    debug: bool
    env: str | None
    config_file: str | None
    events: str | None
    command: str | None  # the command run (its flags name the settings in an error)
    output: Output
    _config: Config | None

    def __init__(self, database: str | None = None, source: str | None = None, path: str | None = None,
                 lock_timeout: int | None = None, no_follow: bool = False, verbose: bool = False,
                 format: Format = "text", debug: bool = False, env: str | None = None,
                 config_file: str | None = None, events: str | None = None, command: str | None = None,
                 output: Output | None = None, _config: Config | None = None) -> None:
        self.database = database
        self.source = source
        self.path = path
        self.lock_timeout = lock_timeout
        self.no_follow = no_follow
        self.verbose = verbose
        self.format = format
        self.debug = debug
        self.env = env
        self.config_file = config_file
        self.events = events
        self.command = command
        self.output = Output() if output is None else output
        self._config = _config

    def config(self) -> Config:
        """The one resolved configuration: these flags over the environment over safemigrate.toml."""
        if self._config is None:
            from ..config import load_config

            folder = None
            if self.source or self.path:
                from ..urls import parse_source_url  # only -source and -path need the URL module

                folder = parse_source_url(self.source, self.path, default="")
            self._config = load_config(env=self.env, config_file=self.config_file, flags={
                "database_url": self.database, "path": folder or None, "lock_timeout": self.lock_timeout,
                "no_follow": self.no_follow or None})
            if self._config.database_url and self._config.database_url != self.database:
                remember_password(self, self._config.database_url)
        return self._config

    def database_url(self) -> str | None:
        return self.config().database_url

    def migrations_dir(self) -> str:
        return self.config().migrations_path

    def effective_lock_timeout(self) -> int:
        return self.config().lock_timeout


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
        remember_password(settings, value)


def remember_password(settings: Settings, url: str) -> None:
    from ..redact import url_secrets

    settings.output.secrets.update(url_secrets(url))
