"""docs/lint.md is generated from the rules and must be current; the pre-commit hook is well-formed."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from safemigrate.lint import all_rules
from safemigrate.lint.docs import SQUAWK_RULES, render_markdown
from support import REPO, run_cli


def test_docs_lint_md_is_current() -> None:
    committed = (REPO / "docs" / "lint.md").read_text("utf-8")
    assert committed == render_markdown(), (
        "docs/lint.md is stale: run `.venv/bin/python -m safemigrate.lint.docs docs/lint.md`")


def test_docs_describe_every_rule_with_rationale_and_examples() -> None:
    text = render_markdown()
    for rule_id, rule in all_rules().items():
        section = text.split(f"\n### {rule_id}\n", 1)[1].split("\n### ", 1)[0]
        assert "**Why:**" in section and "**Instead:**" in section
        assert section.count("Flagged (") == len(rule.examples)


def test_every_squawk_name_a_rule_claims_is_a_squawk_rule() -> None:
    claimed = {name for rule in all_rules().values() for name in rule.squawk}
    assert claimed <= set(SQUAWK_RULES)


def test_every_squawk_default_rule_is_covered_or_explained() -> None:
    claimed = {name for rule in all_rules().values() for name in rule.squawk}
    for name, (default, note) in SQUAWK_RULES.items():
        if default:
            assert name in claimed, name
        else:
            assert name in claimed or note.startswith("not covered"), name


def _hook() -> dict[str, str]:
    text = (REPO / ".pre-commit-hooks.yaml").read_text("utf-8")
    entries = re.findall(r"^- id: (.+)$|^  (\w+): (.+)$", text, re.M)
    hook: dict[str, str] = {}
    for hook_id, key, value in entries:
        if hook_id:
            hook["id"] = hook_id
        else:
            hook[key] = value
    return hook


def test_pre_commit_hook_runs_the_lint_command_on_migration_files() -> None:
    hook = _hook()
    assert hook["id"] == "safemigrate-lint"
    assert hook["language"] == "python"
    files = re.compile(hook["files"])
    assert files.search("db/migrations/000004_add_last_seen.up.sql")
    assert files.search("000004_add_last_seen.down.sql")
    assert not files.search("schema.sql")


def test_pre_commit_entry_is_a_working_command(tmp_path: Path) -> None:
    argv = shlex.split(_hook()["entry"])
    assert argv[:2] == ["safemigrate", "lint"]
    target = tmp_path / "000001_a.up.sql"
    target.write_text("DROP TABLE t;\n")
    result = run_cli(*argv[1:], str(target))
    assert result.exit_code == 1 and "drop-table" in result.stdout
