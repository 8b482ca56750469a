"""The CLI's own help: commands grouped by task with one-line summaries; an example in every help."""

from __future__ import annotations

import shlex
import subprocess
import sys

import click
import pytest

from cli_commands import check_command
from support import run_cli

TASKS = ["Get started:", "Migrate:", "Inspect:", "Review:", "Back up:", "Release:", "Recover:"]


def _all_command_paths() -> list[str]:
    from safemigrate.cli.app import cli

    ctx = click.Context(cli)
    paths: list[str] = []
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        assert command is not None
        paths.append(name)
        if isinstance(command, click.Group):
            paths.extend(f"{name} {sub}" for sub in command.list_commands(ctx))
    return paths


@pytest.mark.parametrize("argv", [[], ["--help"], ["-h"]])
def test_safemigrate_alone_or_help_lists_the_commands_grouped_by_task(argv: list[str]) -> None:
    result = run_cli(*argv)
    # Alone it is still a usage error (exit 2, on stderr), as golang-migrate answers it.
    assert result.exit_code == (2 if not argv else 0), result.output
    out = result.stdout if argv else result.stderr
    positions = [out.index(title) for title in TASKS]
    assert positions == sorted(positions)
    assert out.index("Get started:") < out.index("Options:")  # commands before the long option list
    # One line per command with its summary, never cut with "...".
    assert "  up      apply all or N pending migrations, one transaction each" in out
    assert "  release    backup, apply, health gate, automatic rollback, report" in out
    assert "..." not in out.split("Get started:")[1].split("Options:")[0]


def test_every_command_is_in_a_task_group_with_a_summary() -> None:
    from safemigrate.cli.app import COMMANDS
    from safemigrate.cli.help import GROUPS, SUMMARIES

    grouped = {path.split()[0] for _title, paths in GROUPS for path in paths}
    missing = sorted(set(COMMANDS) - grouped)
    assert missing == [], f"add these commands to GROUPS in cli/help.py: {missing}"
    assert sorted(set(COMMANDS) - set(SUMMARIES)) == []


def test_every_command_help_has_an_example_that_resolves() -> None:
    from safemigrate.cli.help import EXAMPLES

    for path in _all_command_paths():
        result = run_cli(*path.split(), "--help")
        assert result.exit_code == 0, (path, result.output)
        assert "Examples:\n    $ safemigrate " in result.stdout, f"`safemigrate {path} --help` has no example"
        for example in EXAMPLES[path]:
            argv = shlex.split(example, comments=True)
            assert argv[0] == "safemigrate"
            complaint = check_command(argv[1:])
            assert complaint is None, f"example of {path!r}: {example}: {complaint}"


def test_version_fast_path_still_imports_no_click_nor_the_help() -> None:
    code = ("import sys; from safemigrate.cli import run; run(['-database', 'sqlite3://:memory:', 'version']); "
            "print(sorted(m for m in sys.modules if m in ('click', 'safemigrate.cli.help')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout + proc.stderr
