"""The docs stay true: every safemigrate command and flag shown in README.md and docs/*.md exists,
and every message docs/troubleshooting.md is keyed by is still printed by the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cli_commands import Shown, check_command, commands_in_markdown, split_shell
from support import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), *sorted((REPO / "docs" / "commands").glob("*.md")),
        REPO / "examples" / "chat" / "README.md"]


def _shown() -> list[Shown]:
    return [shown for path in DOCS for shown in commands_in_markdown(path)]


def test_the_parser_finds_commands_behind_prompts_pipes_and_continuations(tmp_path: Path) -> None:
    doc = tmp_path / "d.md"
    doc.write_text("text `safemigrate nope` outside a block\n```sh\n$ safemigrate up 2   # comment\n"
                   "DATABASE_URL=x safemigrate backup create \\\n  --verify && safemigrate lint --format sarif > x\n"
                   "pip install .\n```\n```toml\nsafemigrate = 1\n```\n")
    assert [s.argv for s in commands_in_markdown(doc)] == [
        ["up", "2"], ["backup", "create", "--verify"], ["lint", "--format", "sarif"]]
    assert split_shell("echo safemigrate up") == []


def test_the_check_rejects_what_does_not_exist() -> None:
    assert check_command(["up", "2"]) is None
    assert check_command(["backup", "verify", "ID", "--quick"]) is None  # placeholders are fine
    assert check_command(["upp"]) is not None
    assert check_command(["up", "--no-such-flag"]) is not None
    assert check_command(["backup", "frobnicate"]) is not None


def test_the_docs_show_commands() -> None:
    shown = _shown()
    assert len(shown) > 50
    assert {s.where.split(":")[0] for s in shown} >= {"README.md", "getting-started.md",
                                                      "from-golang-migrate.md", "release.md"}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_command_and_flag_shown_in_the_docs_exists(doc: Path) -> None:
    wrong = [f"{shown}: {complaint}" for shown in commands_in_markdown(doc)
             if (complaint := check_command(shown.argv)) is not None]
    assert wrong == [], "\n".join(wrong)


# -- troubleshooting -----------------------------------------------------------------------------
_PLACEHOLDER = re.compile(r"<[^<>]+>")
# Adjacent string literals ("part one "\n    f"part two") read as one string.
_JOINT = re.compile(r"""(["'])\s*\n\s*[rbfRBF]{0,2}\1""")


def _source_text() -> str:
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted((REPO / "src" / "safemigrate").rglob("*.py")))
    return _JOINT.sub("", text)


def _troubleshooting_messages() -> list[str]:
    text = (REPO / "docs" / "troubleshooting.md").read_text(encoding="utf-8")
    return re.findall(r"^### `(.+)`\s*$", text, re.M)


def _fragments(message: str) -> list[str]:
    """The literal parts of a documented message, between its <placeholders>."""
    return [part.strip() for part in _PLACEHOLDER.split(message) if len(part.strip()) >= 4]


def test_the_fragment_check_fails_for_a_message_that_is_not_printed() -> None:
    source = _source_text()
    assert all(f in source for f in _fragments("Dirty database version <N>. Fix and force version."))
    assert not all(f in source for f in _fragments("the migration exploded at <N>, sorry"))


def _as_the_library_writes_it(fragment: str) -> str:
    """The CLI prints a setting's flag where the library's text names the setting (cli/flags.py)."""
    from safemigrate.cli.flags import FLAG_OF

    for name, flag in sorted(FLAG_OF.items(), key=lambda item: -len(item[1])):
        fragment = re.sub(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", f"`{name}`", fragment)
    return fragment


def test_every_message_troubleshooting_is_keyed_by_is_still_in_the_source() -> None:
    messages = _troubleshooting_messages()
    assert len(messages) >= 20
    source = _source_text()
    gone = [m for m in messages if not all(fragment in source or _as_the_library_writes_it(fragment) in source
                                           for fragment in _fragments(m))]
    assert gone == [], "docs/troubleshooting.md quotes messages the code no longer prints: " + repr(gone)
