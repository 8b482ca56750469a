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
    prefix = True
    for token in tokens:
        if token in _SEPARATORS:
            if current is not None:
                found.append(current)
            current, prefix = None, True
            continue
        if current is None:
            if prefix and _ENV_ASSIGNMENT.match(token):
                continue
            prefix = False
            if token == "safemigrate" or token.endswith("/safemigrate"):
                current = []
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


def check_command(argv: list[str]) -> str | None:
    """None when the command line resolves; else click's complaint."""
    if "--help" in argv or "-h" in argv or not argv:
        args = list(argv) or ["--help"]
    else:
        args = [*argv, "--help"]
    result = run_cli(*args)
    if result.exit_code == 0:
        return None
    return (result.stderr.strip().splitlines() or [f"exit {result.exit_code}"])[-1]
