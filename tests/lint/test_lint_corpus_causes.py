"""bench/lint_corpus.py's sorting of squawk-only findings: each cause is checked on the file.

No squawk is needed: the findings squawk would report are written out by hand,
on files of a temporary migration folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import lint_corpus


def _squawk(path: Path, rule: str, line: int) -> lint_corpus.Found:
    return lint_corpus.Found(str(path), rule, line, line, line, "")


def _causes(found: list[lint_corpus.Found]) -> list[tuple[str, str]]:
    result = lint_corpus.Comparison(squawk_only=found)
    return [(kind, cause) for kind, cause, _ in lint_corpus.classify(result)]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "7_add_notes.up.sql").write_text("CREATE TABLE notes (id bigint PRIMARY KEY);\n")
    # golang-migrate pairs by version: the down file's title may differ from the up file's.
    (tmp_path / "7_drop_notes.down.sql").write_text("DROP TABLE notes;\nDROP TABLE users;\n")
    (tmp_path / "8_types.up.sql").write_text(
        "SET lock_timeout = 0;\nALTER TYPE mood ADD VALUE 'sad';\nCREATE TABLE t (\n    n int,\n    id int PRIMARY KEY\n);\n")
    return tmp_path


def test_a_down_file_dropping_what_its_up_file_created_is_deliberate(folder: Path) -> None:
    down = folder / "7_drop_notes.down.sql"
    assert _causes([_squawk(down, "ban-drop-table", 1), _squawk(down, "ban-drop-table", 2)]) == [
        ("deliberate", "ban-drop-table in a down file, on what its up file created"),
        ("missed", "ban-drop-table on DropStmt"),
    ]


def test_timeouts_and_integer_columns_are_judged_on_the_statement(folder: Path) -> None:
    up = folder / "8_types.up.sql"
    kinds = _causes([_squawk(up, "require-lock-timeout", 2), _squawk(up, "prefer-bigint-over-int", 4)])
    assert kinds[0][0] == "deliberate" and "locks no relation" in kinds[0][1]
    assert kinds[1][0] == "deliberate" and "not a key" in kinds[1][1]


def test_an_integer_primary_key_is_a_miss(folder: Path) -> None:
    up = folder / "9_keys.up.sql"
    up.write_text("CREATE TABLE k (\n    id int PRIMARY KEY\n);\n")
    assert _causes([_squawk(up, "prefer-bigint-over-int", 2)]) == [
        ("missed", "prefer-bigint-over-int on a key column")]


def test_a_file_with_a_blocking_lock_and_no_finding_of_ours_is_a_miss(folder: Path) -> None:
    up = folder / "10_alter.up.sql"
    up.write_text("ALTER TABLE users ADD COLUMN note text;\n")
    ((kind, cause),) = _causes([_squawk(up, "require-lock-timeout", 1)])
    assert kind == "missed" and "AlterTableStmt at line 1 locks users" in cause
