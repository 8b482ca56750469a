"""Does a ``safemigrate ...`` command line, as written in a doc, a Makefile or a manifest, exist?

It is resolved through the click application itself: the command line with ``--help``
appended is parsed for real. click parses every option before it runs the eager ``--help``,
so an unknown command, subcommand or flag is a usage error (exit 2), while placeholder
values (``V``, ``ID``, ``FILE``) are never converted and are fine.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import click

from support import run_cli

__all__ = ["Shown", "check_command", "commands_in_markdown", "split_shell"]

# What separates two commands on one shell line, or ends the command's own arguments.
_SEPARATORS = {"&&", "||", ";", "|", "&"}
_REDIRECT = re.compile(r"^\d?(>|>>|<)")
_ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@dataclass
class Shown:
    where: str  # file:line
    argv: list[str]  # the arguments after "safemigrate"

    def __str__(self) -> str:
        return f"{self.where}: safemigrate {shlex.join(self.argv)}"


def split_shell(line: str) -> list[list[str]]:
    """The safemigrate invocations on one shell line (comments, redirections, env prefixes dropped)."""
    try:
        tokens = shlex.split(line, comments=True)
    except ValueError:
        return []
    found: list[list[str]] = []
    current: list[str] | None = None
    at_start = True  # the next word (after VAR=value assignments) is a command's name
    for token in tokens:
        if token in _SEPARATORS:
            if current is not None:
                found.append(current)
            current, at_start = None, True
            continue
        if current is None:
            if at_start and _ENV_ASSIGNMENT.match(token):
                continue
            if at_start and (token == "safemigrate" or token.endswith("/safemigrate")):
                current = []
            at_start = False
            continue
        if _REDIRECT.match(token):
            found.append(current)
            current = None
            continue
        current.append(token)
    if current is not None:
        found.append(current)
    return found


def commands_in_markdown(path: Path) -> list[Shown]:
    """Every safemigrate command in the shell-like fenced code blocks of a Markdown file."""
    shown: list[Shown] = []
    in_block, shell = False, False
    pending, start = "", 0
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        stripped = raw.strip()
        if stripped.startswith("```"):
            if not in_block:
                language = stripped[3:].strip().lower()
                shell = language in ("", "sh", "bash", "shell", "console", "shell-session")
            in_block = not in_block
            pending = ""
            continue
        if not (in_block and shell):
            continue
        line = stripped[2:] if stripped.startswith("$ ") else stripped
        if pending:
            line = pending + " " + line
        else:
            start = number
        if line.endswith("\\"):
            pending = line[:-1]
            continue
        pending = ""
        for argv in split_shell(line):
            shown.append(Shown(f"{path.name}:{start}", argv))
    return shown


def _is_number(token: str) -> bool:
    return bool(re.fullmatch(r"-?\d+", token))


def _find_option(command: click.Command, ctx: click.Context, spelling: str) -> click.Parameter | None:
    for param in command.get_params(ctx):
        if isinstance(param, click.Option) and spelling in (*param.opts, *param.secondary_opts):
            return param
    return None


def unknown_option(argv: list[str]) -> str | None:
    """The first flag no command on the path declares (some commands accept unknown options as
    golang-migrate's arguments, such as ``force -1``, so ``--help`` alone would not catch it)."""
    from safemigrate.cli.app import cli

    # The CLI's own context settings: click caches each command's help option from the first
    # context that asks for it, so a bare Context here would take -h/-help away from the CLI
    # for the rest of the process.
    ctx = click.Context(cli, info_name="safemigrate", **cli.context_settings)
    command: click.Command = cli
    i = 0
    while i < len(argv):
        token = argv[i]
        if token.startswith("-") and token != "-" and not _is_number(token):
            spelling, has_value, _ = token.partition("=")
            option = _find_option(command, ctx, spelling) or _find_option(cli, ctx, spelling)
            if option is None:
                return token
            if not option.is_flag and not option.count and not has_value:
                i += 1  # its value
        elif isinstance(command, click.Group):
            sub = command.get_command(ctx, token)
            if sub is None:
                return None  # click reports the unknown command itself
            command = sub
            ctx = click.Context(sub, info_name=token, parent=ctx)
        i += 1
    return None


def check_command(argv: list[str]) -> str | None:
    """None when the command line resolves; else what is wrong with it."""
    flag = unknown_option(argv)
    if flag is not None:
        return f"no such option: {flag}"
    if "--help" in argv or "-h" in argv or not argv:
        args = list(argv) or ["--help"]
    else:
        args = [*argv, "--help"]
    result = run_cli(*args)
    if result.exit_code == 0:
        return None
    return (result.stderr.strip().splitlines() or [f"exit {result.exit_code}"])[-1]
