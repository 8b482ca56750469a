"""Library messages name settings and parameters, never CLI flags; the CLI says the flag."""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

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
                    if isinstance(value, ast.Constant) and isinstance(value.value, str):
                        parts.append(value.value)
                    else:
                        parts.append("{}")
                yield node.lineno, "".join(parts)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                seen.add(id(node))
                yield node.lineno, node.value


# Flags of other programs named in a message: the words after one of these are its own.
_FOREIGN = re.compile(r"\b(pg_dump|pg_restore|psql|mysqldump|mysql|ulimit|kubectl)\b")
# Print-and-exit options: they set nothing, and every tool has a --version.
_NOT_SETTINGS = {"--version", "-version", "-h", "-help", "--help"}
# Messages that still name a flag, with why (none today).
KNOWN_LEFTOVERS: set[tuple[str, str]] = set()


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


# -- the CLI's table of flags -------------------------------------------------------------------

def _command_spellings(name: str) -> set[str]:
    from safemigrate.cli.app import cli

    ctx = click.Context(cli, info_name="safemigrate")
    command = cli.get_command(ctx, name)
    assert command is not None, name
    spellings: set[str] = set()
    for each in _commands(command, click.Context(command, parent=ctx, info_name=name)):
        for param in each.params:
            if isinstance(param, click.Option):
                spellings.update(param.opts, param.secondary_opts)
    return spellings


def test_every_flag_of_the_table_is_an_option_of_the_cli() -> None:
    from safemigrate.cli.flags import FLAG_OF, FLAG_OF_IN

    spellings = cli_option_spellings()
    assert {name: flag for name, flag in FLAG_OF.items() if flag not in spellings} == {}
    for command, flags in FLAG_OF_IN.items():
        mine = _command_spellings(command)
        assert {name: flag for name, flag in flags.items() if flag not in mine} == {}, command


def _settings_literals(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "settings":
            items = node.value.elts if isinstance(node.value, ast.Tuple | ast.List) else []
            for item in items:  # a computed name (f"backup.keep_{name}", a parameter) is not checked here
                if isinstance(item, ast.Constant) and isinstance(item.value, str):
                    yield item.lineno, item.value


def test_every_setting_a_library_error_names_has_a_flag_in_the_cli() -> None:
    from safemigrate.cli.flags import FLAG_OF

    missing = [f"{path.relative_to(REPO)}:{line}: {name}" for path in library_modules()
               for line, name in _settings_literals(ast.parse(path.read_text(encoding="utf-8")))
               if name not in FLAG_OF]
    assert missing == []


def test_a_setting_is_spelled_by_the_flag_of_the_command_that_runs() -> None:
    from safemigrate.cli.flags import spell_error
    from safemigrate.errors import StorageError

    exc = StorageError("the storage is full", hint="choose another place with `backup.location`",
                       settings=("backup.location",))
    assert spell_error(exc, "backup")[1] == "choose another place with --to"
    assert spell_error(exc, "release")[1] == "choose another place with --backup-location"
    assert exc.hint == "choose another place with `backup.location`"  # the error itself is untouched
    unlisted = StorageError("`target` is taken", settings=())
    assert spell_error(unlisted, "backup")[0] == "`target` is taken"  # only the names it lists


# -- the same mistake from Python and from the command line --------------------------------------

def _no_database_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SAFEMIGRATE_DATABASE_URL",
                                                             "SAFEMIGRATE_ENV", "SAFEMIGRATE_CONFIG")}
    env["HOME"] = str(tmp_path)
    return env


def test_a_release_without_a_database_names_settings_in_python_and_flags_on_the_command_line(
        tmp_path: Path) -> None:
    import safemigrate.commands as c
    from safemigrate.errors import UsageError
    from support import run_cli

    (tmp_path / "migrations").mkdir()
    with pytest.raises(UsageError) as caught:
        c.release(c.load_config(environ={}, start=tmp_path))
    assert caught.value.message == "no database: pass `database_url`, set $DATABASE_URL, or choose `env` NAME"
    assert caught.value.settings == ("database_url", "env")
    assert "-database" not in caught.value.message and "--env" not in str(caught.value.hint)

    text = run_cli("release", env=_no_database_env(tmp_path), cwd=tmp_path)
    assert text.exit_code == 2
    assert "error: no database: pass -database, set $DATABASE_URL, or choose --env NAME" in text.stderr
    assert "next: for example: safemigrate release --env staging" in text.stderr and "`" not in text.stderr
    assert caught.value.hint == "for example: safemigrate release `env` staging"
    error = run_cli("--format", "json", "release", env=_no_database_env(tmp_path), cwd=tmp_path).json()["error"]
    assert error["type"] == "usage" and error["settings"] == ["database_url", "env"]
    assert error["message"] == "no database: pass -database, set $DATABASE_URL, or choose --env NAME"


def test_create_without_an_extension_names_the_parameter_in_python_and_golang_migrates_flag_on_the_cli(
        tmp_path: Path) -> None:
    from safemigrate.create import create_migration
    from safemigrate.errors import UsageError
    from support import run_cli

    with pytest.raises(UsageError, match=r"^`ext` flag must be specified$") as caught:
        create_migration("users", ext="", directory=str(tmp_path))
    assert caught.value.hint == "for SQL files: `ext` sql"
    result = run_cli("create", "-dir", str(tmp_path), "users")
    assert result.exit_code == 2
    assert "error: -ext flag must be specified\nnext: for SQL files: -ext sql\n" in result.stderr


def test_restore_over_a_target_names_parameters_in_python_and_flags_on_the_cli(tmp_path: Path) -> None:
    import safemigrate.commands as c
    from safemigrate.errors import UsageError
    from support import run_cli

    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "1_t.up.sql").write_text("CREATE TABLE t (x INTEGER);\n", encoding="utf-8")
    url = f"sqlite3://{tmp_path / 'app.db'}"
    config = c.load_config(flags={"database_url": url, "backup.location": str(tmp_path / "store"),
                                  "path": str(tmp_path / "migrations")}, environ={}, start=tmp_path)
    c.up(config)
    backup_id = c.backup_create(config).manifest.id
    with pytest.raises(UsageError) as caught:
        c.backup_restore(config, backup_id, replace=True, confirmed=True, target=str(tmp_path / "copy.db"))
    assert caught.value.message == ("`replace` restores over the database of `database_url`; `target` cannot be "
                                    "used with it")
    assert caught.value.hint == "drop `target`, or drop `replace` to restore into TARGET"
    result = run_cli("backup", "restore", backup_id, "--replace", "--yes", "--target", str(tmp_path / "copy.db"),
                     "--database", url, "--to", str(tmp_path / "store"), env=_no_database_env(tmp_path))
    assert result.exit_code == 2
    assert ("error: --replace restores over the database of --database; --target cannot be used with it\n"
            "next: drop --target, or drop --replace to restore into TARGET\n") in result.stderr
    assert not (tmp_path / "copy.db").exists()


def test_library_text_shown_by_a_renderer_names_the_flags_of_the_command_that_runs() -> None:
    from safemigrate.cli.flags import spell_text

    # a release step that failed on a storage error, and its next command
    assert spell_text("pass `backup.location` DIR naming a folder", "release") == \
        "pass --backup-location DIR naming a folder"
    assert spell_text("pass `backup.location` DIR naming a folder", "backup") == "pass --to DIR naming a folder"
    assert spell_text("asked for with `choice`", "recover") == "asked for with --choose"
    assert spell_text("`nothing_known` stays; so does `code`", "release") == "`nothing_known` stays; so does `code`"


def test_a_qualified_sql_name_in_a_servers_message_is_not_taken_for_a_setting() -> None:
    from safemigrate.cli.flags import spell_text

    server = "Can't create table `app`.`target` (errno: 150 \"Foreign key constraint is incorrectly formed\")"
    assert spell_text(server, "release") == server
    assert spell_text(f"restore failed: {server}; pass `target`", "backup") == (
        f"restore failed: {server}; pass --target")
