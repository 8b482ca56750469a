"""Library messages name settings and parameters, never CLI flags; the CLI says the flag."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import click

from support import REPO

LIBRARY = REPO / "src" / "safemigrate"


def _commands(command: click.Command, ctx: click.Context) -> Iterator[click.Command]:
    yield command
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None:
                yield from _commands(sub, click.Context(sub, parent=ctx, info_name=name))


def cli_option_spellings() -> set[str]:
    """Every option spelling of the click app, its groups and all their commands."""
    from safemigrate.cli.app import cli

    ctx = click.Context(cli, info_name="safemigrate")
    spellings: set[str] = set()
    for command in _commands(cli, ctx):
        for param in command.params:
            if isinstance(param, click.Option):
                spellings.update(param.opts, param.secondary_opts)
    return spellings


def _is_error_call(node: ast.Call) -> bool:
    func = node.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    return name.endswith(("Error", "Failed")) or name in {"warn", "warning", "WarningEvent", "InfoEvent"}


def message_strings(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """The string constants that become messages: anything in a ``raise`` statement, the arguments
    of an error class's constructor or of a warning, and every ``hint=``. A subprocess argument
    list is none of these, so pg_dump's ``--format=custom`` is not a message."""
    seen: set[int] = set()
    roots: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            roots.append(node.exc)
        elif isinstance(node, ast.Call):
            if _is_error_call(node):
                roots.extend([*node.args, *(k.value for k in node.keywords)])
            roots.extend(k.value for k in node.keywords if k.arg in {"hint", "message"})
    for root in roots:
        for node in ast.walk(root):
            if id(node) in seen:
                continue
            if isinstance(node, ast.JoinedStr):  # an f-string is one text, each value shown as {}
                parts = []
                for value in node.values:
                    seen.add(id(value))
                    constant = isinstance(value, ast.Constant) and isinstance(value.value, str)
                    parts.append(value.value if constant else "{}")  # type: ignore[union-attr]
                yield node.lineno, "".join(str(p) for p in parts)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                seen.add(id(node))
                yield node.lineno, node.value


# Flags of other programs named in a message: the words after one of these are its own.
_FOREIGN = re.compile(r"\b(pg_dump|pg_restore|psql|mysqldump|mysql|ulimit|kubectl)\b")
# Print-and-exit options: they set nothing, and every tool has a --version.
_NOT_SETTINGS = {"--version", "-version", "-h", "-help", "--help"}
# Messages that still name a flag, with why: the status and lint notes carry no `settings`
# (their renderers are not the error renderer); left for the next change.
KNOWN_LEFTOVERS = {
    ("src/safemigrate/source.py", "(--no-follow refuses such links)"),
    ("src/safemigrate/source.py", "copy the file into the migrations folder, or pass --no-follow to refuse links "
     "that leave it"),
}


def setting_flags() -> set[str]:
    """The flags that set a setting of the configuration (a suggested command must not name them)."""
    from safemigrate.cli.flags import FLAG_OF, FLAG_OF_IN
    from safemigrate.config import load_config

    keys = set(load_config(environ={}, flags={}).values) | {"env", "config_file", "source"}
    table = [FLAG_OF, *FLAG_OF_IN.values()]
    return {flag for flags in table for name, flag in flags.items() if name in keys}


def flags_in(text: str, spellings: set[str], settings: set[str]) -> list[str]:
    """The CLI flags ``text`` names outside another program's command line; inside a suggested
    ``safemigrate COMMAND ...`` only those that set a setting (``--to DIR``, ``-database URL``)."""
    found = []
    for match in re.finditer(r"(?<![\w-])--?[a-z][a-z0-9-]*", text):
        word = match.group(0)
        before = text[:match.start()]
        if word not in spellings or word in _NOT_SETTINGS or _FOREIGN.search(before):
            continue
        if "safemigrate " in before and word not in settings:
            continue
        found.append(word)
    return found


def library_modules() -> Iterator[Path]:
    """Every module outside cli/ and demo/ (the demo narrates CLI commands and runs them)."""
    for path in sorted(LIBRARY.rglob("*.py")):
        if not {"cli", "demo"} & set(path.relative_to(LIBRARY).parts):
            yield path


def offenders(spellings: set[str], settings: set[str], root: Path = REPO) -> list[str]:
    found = []
    for path in library_modules():
        name = str(path.relative_to(root))
        for line, text in message_strings(ast.parse(path.read_text(encoding="utf-8"))):
            flags = flags_in(text, spellings, settings)
            if flags and (name, text) not in KNOWN_LEFTOVERS:
                found.append(f"{name}:{line}: {flags} in {text!r}")
    return found


def test_no_library_message_names_a_cli_flag() -> None:
    spellings = cli_option_spellings()
    assert {"-database", "--env", "--allow-data-loss", "--to", "--strict", "-digits"} <= spellings
    settings = setting_flags()
    assert {"-database", "--env", "--to", "--backup-location", "--log-cmd"} <= settings
    found = offenders(spellings, settings)
    assert found == [], "\n".join(found)


def test_the_message_scan_tells_messages_from_subprocess_arguments() -> None:
    spellings, settings = {"--format", "--to", "-database", "--atomic", "-seq"}, {"--to", "-database"}
    tree = ast.parse(
        "subprocess.run(['pg_dump', '--format=custom', url])\n"
        "raise UsageError('--atomic needs transactional DDL', hint='use -database URL')\n"
        "warn(f'pass --to {where}')\n"
        "raise SourceError('gone', hint='pg_dump --format=custom, or safemigrate create -seq NAME')\n"
        "raise UsageError('nope', hint='run safemigrate backup list --to DIR')\n")
    found = [(line, flags_in(text, spellings, settings)) for line, text in message_strings(tree)]
    assert sorted((line, flags) for line, flags in found if flags) == [
        (2, ["--atomic"]), (2, ["-database"]), (3, ["--to"]), (5, ["--to"])]
