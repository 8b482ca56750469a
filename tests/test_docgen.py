"""docs/commands/*.md and the settings table of docs/configuration.md are generated, and kept up to date.

Regenerate with: python -m safemigrate.cli.docgen docs/commands
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from support import REPO, run_cli

COMMANDS_DIR = REPO / "docs" / "commands"
CONFIGURATION = REPO / "docs" / "configuration.md"
REGENERATE = "run: python -m safemigrate.cli.docgen docs/commands"


def _committed() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(COMMANDS_DIR.glob("*.md"))}


def _differences(generated: dict[str, str], committed: dict[str, str]) -> list[str]:
    return sorted(name for name in set(generated) | set(committed) if generated.get(name) != committed.get(name))


def test_the_command_pages_are_up_to_date(tmp_path: Path) -> None:
    """The documented command, run as written in a narrow terminal, rewrites docs/commands identically."""
    docs = tmp_path / "docs"
    (docs / "commands").mkdir(parents=True)
    (docs / "configuration.md").write_text(CONFIGURATION.read_text(encoding="utf-8"), encoding="utf-8")
    env = {**os.environ, "COLUMNS": "40", "NO_COLOR": "1"}
    proc = subprocess.run([sys.executable, "-m", "safemigrate.cli.docgen", "docs/commands"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    generated = {p.name: p.read_text(encoding="utf-8") for p in (docs / "commands").glob("*.md")}
    assert _differences(generated, _committed()) == [], f"docs/commands is out of date: {REGENERATE}"
    assert (docs / "configuration.md").read_text(encoding="utf-8") == CONFIGURATION.read_text(encoding="utf-8"), \
        f"the settings table of docs/configuration.md is out of date: {REGENERATE}"


def test_the_up_to_date_check_notices_a_changed_help(monkeypatch: pytest.MonkeyPatch) -> None:
    from safemigrate.cli import docgen, help

    before = docgen.command_pages()
    assert _differences(before, _committed()) == []
    monkeypatch.setitem(help.SUMMARIES, "goto", "move somewhere else")
    assert _differences(docgen.command_pages(), _committed()) == ["README.md", "goto.md"]


def test_every_command_and_subcommand_has_a_page_with_usage_options_and_examples() -> None:
    from safemigrate.cli.app import cli
    from safemigrate.cli.help import EXAMPLES

    ctx = click.Context(cli, **cli.context_settings)
    pages = _committed()
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        assert command is not None
        paths = [name]
        if isinstance(command, click.Group):
            paths += [f"{name} {sub}" for sub in command.list_commands(ctx)]
        for path in paths:
            page = pages.get(path.replace(" ", "-") + ".md")
            assert page is not None, f"no page for safemigrate {path}: {REGENERATE}"
            assert f"Usage: safemigrate {path}" in page
            assert f"[`safemigrate {path}`]" in pages["README.md"]
            for example in EXAMPLES[path]:
                assert example in page
    assert "`-lock-timeout, --lock-timeout N`" in pages["README.md"]  # the global options, once
    assert "`--dry-run` | Print the steps and the SQL that would run" in pages["up.md"]


def test_the_index_groups_the_commands_by_task_as_the_help_does() -> None:
    from safemigrate.cli.help import GROUPS

    index = _committed()["README.md"]
    positions = [index.index(f"## {title}\n") for title, _paths in GROUPS]
    assert positions == sorted(positions)
    recover_section = index.split("## Recover\n")[1].split("## ")[0]
    assert "[`safemigrate recover`](recover.md)" in recover_section


def test_the_settings_table_lists_every_key_of_the_schema_with_its_default_and_variable() -> None:
    from safemigrate.config import _BACKUP_KEYS, _KEYS, _RELEASE_KEYS

    text = CONFIGURATION.read_text(encoding="utf-8")
    table = text.split("<!-- generated: settings -->")[1].split("<!-- end -->")[0]
    for key in (*_KEYS, *_BACKUP_KEYS, *_RELEASE_KEYS):
        assert key.help, f"setting {key.name} has no help in safemigrate/config.py"
        assert f"| `{key.name}` |" in table
    assert "| `lock_timeout` | a whole number | `15` | `$SAFEMIGRATE_LOCK_TIMEOUT` |" in table
    assert "| `keep_daily` | a whole number | `7` |" in table


def test_the_checks_setting_names_every_pre_flight_check() -> None:
    from safemigrate.config import _RELEASE_KEYS
    from safemigrate.release.procedure import CHECKS

    checks = next(key for key in _RELEASE_KEYS if key.name == "checks")
    assert [name for name in CHECKS if name not in checks.help] == []


def test_update_settings_replaces_only_what_is_between_the_markers() -> None:
    from safemigrate.cli.docgen import settings_reference, update_settings

    text = "# Title\n\nbefore\n<!-- generated: settings -->\nold table\n<!-- end -->\nafter\n"
    updated = update_settings(text)
    assert "old table" not in updated
    assert updated.startswith("# Title\n\nbefore\n<!-- generated: settings -->\n")
    assert updated.endswith("<!-- end -->\nafter\n")
    assert settings_reference() in updated
    with pytest.raises(click.UsageError):
        update_settings("no markers here")


def test_generating_the_pages_in_process_leaves_the_help_options_of_the_cli_intact() -> None:
    """click caches a command's help option from the first context that asks for it."""
    from safemigrate.cli import docgen

    docgen.command_pages()
    for argv in (["-h"], ["-help"], ["up", "-h"], ["backup", "create", "-h"]):
        result = run_cli(*argv)
        assert result.exit_code == 0, (argv, result.stderr)
