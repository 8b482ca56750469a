"""The ``safemigrate`` command group.

Subcommands are loaded on first use (click's lazy-group pattern) so that
``safemigrate version`` imports only what it needs: the SQLite path never
imports psycopg, and no command pays for rich, pglast or boto3 unless it uses them.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from .._version import __version__
from .fast_engine import quiet_pipeline_exit_noise
from .options import Settings, global_options

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
    "config": "safemigrate.cli.config_cmd:config",
    "check": "safemigrate.cli.inspect_cmds:check",
    "release": "safemigrate.cli.release_cmd:release",
    "recover": "safemigrate.cli.recover_cmd:recover",
    "preflight": "safemigrate.cli.release_cmd:preflight",
    "history": "safemigrate.cli.inspect_cmds:history",
    "demo": "safemigrate.cli.demo_cmd:demo",
}


quiet_pipeline_exit_noise()  # the filter and why: fast_engine.py (`up` may run without this module)


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            module_name, attr = COMMANDS[cmd_name].split(":")
            command: Any = getattr(importlib.import_module(module_name), attr)
            from .help import add_examples

            add_examples(cmd_name, command)
            return command  # type: ignore[no-any-return]
        return super().get_command(ctx, cmd_name)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # The commands first: they are what a newcomer looks for; the shared options follow.
        self.format_usage(ctx, formatter)
        self.format_help_text(ctx, formatter)
        self.format_commands(ctx, formatter)
        click.Command.format_options(self, ctx, formatter)
        self.format_epilog(ctx, formatter)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands grouped by task (migrate, inspect, review, back up, release, recover)."""
        from .help import SUMMARIES, grouped_rows

        names = self.list_commands(ctx)
        summary_of: dict[str, str] = {}
        for name in names:
            if name not in SUMMARIES:
                command = self.get_command(ctx, name)
                summary_of[name] = command.get_short_help_str(80) if command is not None else ""
        for title, rows in grouped_rows(names, summary_of):
            with formatter.section(title):
                formatter.write_dl(rows)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        _check_leading_options(self, ctx, args)
        return super().parse_args(ctx, args)

    def resolve_command(self, ctx: click.Context,
                        args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        """An unknown command is a usage error that names the closest real one."""
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            import difflib

            from ..errors import UsageError

            close = difflib.get_close_matches(name, self.list_commands(ctx), n=1, cutoff=0.6)
            hint = f"did you mean: safemigrate {close[0]}? " if close else ""
            raise UsageError(f"unknown command {name!r}", hint=hint + "safemigrate --help lists the commands")
        resolved = super().resolve_command(ctx, args)
        if isinstance(ctx.obj, Settings):  # an error names its settings by this command's flags
            ctx.obj.command = resolved[0]
        return resolved


def _check_leading_options(group: click.Group, ctx: click.Context, args: list[str]) -> None:
    """Name an unknown option before the command whole, with the closest real one.

    click would read ``-databse`` as the short option ``-d`` and report "No such option '-d'".
    """
    spellings: dict[str, click.Option] = {
        o: p for p in group.get_params(ctx) if isinstance(p, click.Option) for o in (*p.opts, *p.secondary_opts)
    }
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] != "--":
        name, has_value, _ = args[i].partition("=")
        option = spellings.get(name)
        if option is None:
            import difflib

            from ..errors import UsageError

            close = difflib.get_close_matches(name, list(spellings), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]}? " if close else ""
            raise UsageError(f"unknown option {name!r}", hint=hint + "safemigrate --help lists the options")
        i += 1 if option.is_flag or has_value else 2


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(__version__)
        ctx.exit(0)


@click.group(
    cls=LazyGroup,
    epilog="Run safemigrate COMMAND --help for its options and examples. New here? safemigrate demo",
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
