"""The ``safemigrate`` command group.

Subcommands are loaded on first use (click's lazy-group pattern) so that
``safemigrate version`` imports only what it needs: the SQLite path never
imports psycopg, and no command pays for rich, pglast or boto3 unless it uses them.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

import click

from .._version import __version__
from .options import global_options

__all__ = ["COMMANDS", "cli"]

# name -> "module:attribute"; each module holds thin click commands around one library call.
COMMANDS: dict[str, str] = {
    "up": "safemigrate.cli.engine_cmds:up",
    "down": "safemigrate.cli.engine_cmds:down",
    "goto": "safemigrate.cli.engine_cmds:goto",
    "force": "safemigrate.cli.engine_cmds:force",
    "version": "safemigrate.cli.engine_cmds:version",
    "drop": "safemigrate.cli.engine_cmds:drop",
    "create": "safemigrate.cli.engine_cmds:create",
    "status": "safemigrate.cli.engine_cmds:status",
    "plan": "safemigrate.cli.engine_cmds:plan",
    "lint": "safemigrate.cli.lint_cmd:lint",
    "backup": "safemigrate.cli.backup_cmd:backup",
}


class _PipelineExitNoise(logging.Filter):
    """Drops psycopg's "error ignored terminating <psycopg.Pipeline ...>: pipeline aborted" warning.

    When a pipelined statement fails badly enough (the server's lock table full, for one), closing
    the pipeline fails too and psycopg logs that second error, which Python prints on stderr above
    the command's own report of the first one: the report says everything, the line is only noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("error ignored terminating")


logging.getLogger("psycopg").addFilter(_PipelineExitNoise())


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            module_name, attr = COMMANDS[cmd_name].split(":")
            command: Any = getattr(importlib.import_module(module_name), attr)
            return command  # type: ignore[no-any-return]
        return super().get_command(ctx, cmd_name)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(__version__)
        ctx.exit(0)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "-help", "--help"], "max_content_width": 100},
)
@click.option("-version", "--version", is_flag=True, expose_value=False, is_eager=True,
              callback=_print_version, help="Print safemigrate's version and exit.")
@global_options
def cli() -> None:
    """safemigrate: database migrations that check, record and can be undone.

    A drop-in for golang-migrate (same files, same schema_migrations table,
    same lock), plus a linter, proven-restorable backups and a guarded release.
    """
