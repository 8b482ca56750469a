"""Cases the squawk comparison on real migrations found (issue 9, measured goal; tests/lint/corpora.md).

Each is the smallest file that shows what the public file did: our false alarms
fixed, and misses of ours that squawk reports.
"""

from __future__ import annotations

from lint_support import lines_of, lint, pair

# -- down-does-not-undo follows renames (Ente 90_use_string_id_entity) --------------------


def test_a_down_file_dropping_a_renamed_new_column_undoes_it() -> None:
    # The up file adds id_text and renames it to id; the down file drops id: that is the new column.
    report = pair("""
        ALTER TABLE entity_data ADD COLUMN id_text text;
        ALTER TABLE entity_data DROP COLUMN IF EXISTS id;
        ALTER TABLE entity_data RENAME COLUMN id_text TO id;
        """, "ALTER TABLE entity_data DROP COLUMN IF EXISTS id;")
    assert lines_of(report, "down-does-not-undo") == []


def test_a_down_file_dropping_the_old_name_of_a_renamed_column_does_not_undo_it() -> None:
    report = pair("""
        ALTER TABLE entity_data ADD COLUMN id_text text;
        ALTER TABLE entity_data RENAME COLUMN id_text TO id;
        """, "ALTER TABLE entity_data DROP COLUMN IF EXISTS id_text;")
    messages = [f.message for f in report.findings if f.rule_id == "down-does-not-undo"]
    assert len(messages) == 1 and "column entity_data.id created by" in messages[0]


def test_a_down_file_dropping_a_renamed_new_table_undoes_it() -> None:
    report = pair("""
        CREATE TABLE scratch_new (id bigint PRIMARY KEY, note text);
        ALTER TABLE scratch_new RENAME TO scratch;
        """, "DROP TABLE scratch;")
    assert lines_of(report, "down-does-not-undo") == []


def test_a_table_renamed_after_its_plain_create_stays_new() -> None:
    # Its columns stay the file's own as well: dropping one destroys nothing.
    report = lint("""
        CREATE TABLE scratch_new (id bigint PRIMARY KEY, note text);
        ALTER TABLE scratch_new RENAME TO scratch;
        CREATE INDEX scratch_note ON scratch (note);
        ALTER TABLE scratch DROP COLUMN note;
        """)
    assert lines_of(report, "create-index-not-concurrently") == []
    assert lines_of(report, "drop-column") == []


def test_an_index_of_a_new_table_stays_new_after_the_table_is_renamed() -> None:
    report = lint("""
        CREATE TABLE scratch_new (id bigint PRIMARY KEY, note text);
        CREATE INDEX scratch_note ON scratch_new (note);
        ALTER TABLE scratch_new RENAME TO scratch;
        DROP INDEX scratch_note;
        """)
    assert lines_of(report, "lock-timeout-missing") == []
    assert lines_of(report, "drop-index-not-concurrently") == []


def test_renaming_an_old_column_is_still_reported() -> None:
    report = lint("ALTER TABLE users RENAME COLUMN email TO mail;")
    assert lines_of(report, "rename-column") == [1]
