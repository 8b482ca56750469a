"""SQLite and MySQL files: the rules that apply to them, through each dialect's splitter."""

from __future__ import annotations

import pytest
from lint_support import lines_of, lint, pair

from safemigrate.lint import all_rules

# (test id, dialect, rule, SQL, lines where the rule must fire)
FLAGGED: list[tuple[str, str, str, str, list[int]]] = [
    ("sqlite-drop-table", "sqlite", "drop-table", "SELECT 1;\nDROP TABLE IF EXISTS old;", [2]),
    ("mysql-drop-tables", "mysql", "drop-table", "DROP TABLE `a`, b;", [1, 1]),
    ("sqlite-drop-column", "sqlite", "drop-column", "ALTER TABLE users\n  DROP COLUMN legacy;", [1]),
    ("mysql-drop-column-without-keyword", "mysql", "drop-column",
     "ALTER TABLE users ADD COLUMN x int, DROP legacy;", [1]),
    ("mysql-drop-database", "mysql", "drop-database", "DROP SCHEMA IF EXISTS old;", [1]),
    ("mysql-truncate", "mysql", "truncate", "SELECT 1;\nTRUNCATE sessions;", [2]),
    ("sqlite-delete-all", "sqlite", "delete-without-where", "DELETE FROM sessions;", [1]),
    ("mysql-delete-where-only-in-subquery", "mysql", "delete-without-where",
     "DELETE FROM s\n  ORDER BY (SELECT 1 FROM t WHERE x);", [1]),
    ("sqlite-update-all", "sqlite", "update-without-where", "UPDATE OR IGNORE users SET a = 1;", [1]),
    ("mysql-update-all", "mysql", "update-without-where", "# backfill\nUPDATE users SET a = 1;", [2]),
    ("sqlite-rename-table", "sqlite", "rename-table", "ALTER TABLE a RENAME TO b;", [1]),
    ("mysql-rename-table-statement", "mysql", "rename-table", "RENAME TABLE a TO b, c TO d;", [1, 1]),
    ("mysql-alter-rename-as", "mysql", "rename-table", "ALTER TABLE a RENAME AS b;", [1]),
    ("sqlite-rename-column", "sqlite", "rename-column", "ALTER TABLE a RENAME COLUMN x TO y;", [1]),
    ("sqlite-rename-without-column-keyword", "sqlite", "rename-column", "ALTER TABLE a RENAME x TO y;", [1]),
    ("mysql-change-renames", "mysql", "rename-column", "ALTER TABLE a CHANGE COLUMN x y int;", [1]),
    ("sqlite-not-null-without-default", "sqlite", "add-not-null-column-without-default",
     "ALTER TABLE users ADD COLUMN plan text NOT NULL;", [1]),
    ("mysql-not-null-without-default", "mysql", "add-not-null-column-without-default",
     "ALTER TABLE users\n  ADD COLUMN a int,\n  ADD COLUMN plan varchar(9) NOT NULL;", [3]),
    ("mysql-modify-column", "mysql", "change-column-type", "ALTER TABLE o MODIFY amount decimal(12,2);", [1]),
    ("mysql-change-column-type", "mysql", "change-column-type",
     "SELECT 1;\nALTER TABLE o CHANGE amount amount decimal(12,2);", [2]),
    ("sqlite-pragma-mixed", "sqlite", "non-transactional-mixed",
     "CREATE TABLE t (id integer);\nPRAGMA foreign_keys = OFF;", [2]),
    ("sqlite-vacuum-in-block", "sqlite", "cannot-run-in-transaction", "BEGIN;\nVACUUM;\nCOMMIT;", [2]),
    ("sqlite-nested-begin", "sqlite", "transaction-nesting", "BEGIN;\nBEGIN TRANSACTION;\nEND;", [2]),
    ("mysql-nested-begin", "mysql", "transaction-nesting", "START TRANSACTION;\nBEGIN WORK;\nCOMMIT;", [2]),
    ("sqlite-uncommitted", "sqlite", "uncommitted-transaction", "BEGIN;\nSELECT 1;", [1]),
    ("mysql-uncommitted", "mysql", "uncommitted-transaction", "SELECT 1;\nSTART TRANSACTION;", [2]),
    ("sqlite-ddl-and-dml", "sqlite", "ddl-and-dml-mixed",
     "ALTER TABLE u ADD COLUMN p text;\nUPDATE u SET p = 'x' WHERE p IS NULL;", [2]),
    ("mysql-ddl-and-dml", "mysql", "ddl-and-dml-mixed",
     "INSERT INTO u (a) VALUES (1);\nCREATE INDEX i ON u (a);", [1]),
    ("mysql-ddl-is-never-atomic", "mysql", "not-idempotent",
     "CREATE TABLE a (id int);\nCREATE TABLE b (id int);", [1]),  # the last one cannot be left behind
    ("sqlite-statement-mode-not-idempotent", "sqlite", "not-idempotent",
     "-- safemigrate:no-transaction\nCREATE TABLE a (id integer);\nDROP INDEX i;", [2]),
    ("mysql-unused-ignore", "mysql", "unused-ignore", "SELECT 1; # safemigrate:ignore drop-table", [1]),
]

SAFE: list[tuple[str, str, str, str]] = [
    ("sqlite-drop-new-table", "sqlite", "drop-table", "CREATE TABLE t (id integer);\nDROP TABLE t;"),
    ("mysql-drop-index-is-not-drop-table", "mysql", "drop-table", "DROP INDEX i ON t;"),
    ("mysql-drop-index-is-not-drop-column", "mysql", "drop-column", "ALTER TABLE t DROP INDEX i;"),
    ("mysql-drop-primary-key-is-not-drop-column", "mysql", "drop-column", "ALTER TABLE t DROP PRIMARY KEY;"),
    ("sqlite-drop-new-column", "sqlite", "drop-column",
     "ALTER TABLE t ADD COLUMN x text;\nALTER TABLE t DROP COLUMN x;"),
    ("mysql-truncate-new-table", "mysql", "truncate", "CREATE TABLE t (id int);\nTRUNCATE TABLE t;"),
    ("sqlite-delete-with-where", "sqlite", "delete-without-where", "DELETE FROM s WHERE a = 'WHERE';"),
    ("mysql-update-with-where", "mysql", "update-without-where", "UPDATE `u` SET a = 1 WHERE id = 2;"),
    ("mysql-where-inside-string-does-not-count", "mysql", "update-without-where",
     "UPDATE u SET note = 'x' WHERE id = 1;"),
    ("sqlite-rename-new-table", "sqlite", "rename-table",
     "CREATE TABLE s (id integer);\nALTER TABLE s RENAME TO t;"),
    ("mysql-change-same-name-is-not-rename", "mysql", "rename-column", "ALTER TABLE a CHANGE x x bigint;"),
    ("sqlite-not-null-with-default", "sqlite", "add-not-null-column-without-default",
     "ALTER TABLE u ADD COLUMN p text NOT NULL DEFAULT 'free';"),
    ("mysql-auto-increment", "mysql", "add-not-null-column-without-default",
     "ALTER TABLE u ADD COLUMN n bigint NOT NULL AUTO_INCREMENT;"),
    ("mysql-not-null-on-new-table", "mysql", "add-not-null-column-without-default",
     "CREATE TABLE t (a int);\nALTER TABLE t ADD COLUMN b int NOT NULL;"),
    ("mysql-modify-on-new-table", "mysql", "change-column-type",
     "CREATE TABLE o (x int);\nALTER TABLE o MODIFY x bigint;"),
    ("mysql-alter-column-default-is-not-type-change", "mysql", "change-column-type",
     "ALTER TABLE o ALTER COLUMN x SET DEFAULT 1;"),
    ("sqlite-pragma-alone", "sqlite", "non-transactional-mixed", "PRAGMA foreign_keys = OFF;"),
    ("sqlite-vacuum-outside-block", "sqlite", "cannot-run-in-transaction", "VACUUM;"),
    ("mysql-committed", "mysql", "uncommitted-transaction", "START TRANSACTION;\nCOMMIT;"),
    ("sqlite-seed-new-table", "sqlite", "ddl-and-dml-mixed",
     "CREATE TABLE p (n text);\nINSERT INTO p VALUES ('free');"),
    ("mysql-guarded", "mysql", "not-idempotent",
     "CREATE TABLE IF NOT EXISTS a (id int);\nDROP TABLE IF EXISTS b;"),
    ("sqlite-wrapped-file-is-atomic", "sqlite", "not-idempotent",
     "CREATE TABLE a (id integer);\nCREATE TABLE b (id integer);"),
]


@pytest.mark.parametrize(("dialect", "rule", "text", "lines"), [c[1:] for c in FLAGGED],
                         ids=[c[0] for c in FLAGGED])
def test_rule_flags_at_exact_lines(dialect: str, rule: str, text: str, lines: list[int]) -> None:
    report = lint(text, dialect)
    assert lines_of(report, rule) == lines, [(f.rule_id, f.line, f.message) for f in report.findings]


@pytest.mark.parametrize(("dialect", "rule", "text"), [c[1:] for c in SAFE], ids=[c[0] for c in SAFE])
def test_safe_form_is_not_flagged(dialect: str, rule: str, text: str) -> None:
    report = lint(text, dialect)
    assert lines_of(report, rule) == [], [f.message for f in report.findings if f.rule_id == rule]


@pytest.mark.parametrize("dialect", ["sqlite", "mysql"])
def test_every_rule_of_the_dialect_has_a_flagged_case(dialect: str) -> None:
    rules = {r.id for r in all_rules().values() if r.runs_on(dialect)}
    pair_rules = {"missing-down-file", "empty-down-file", "down-does-not-undo", "syntax-error"}
    flagged = {c[2] for c in FLAGGED if c[1] == dialect}
    assert rules - pair_rules - flagged - {"unused-ignore"} == set()


@pytest.mark.parametrize("dialect", ["sqlite", "mysql"])
def test_postgres_only_rules_do_not_run(dialect: str) -> None:
    report = lint("CREATE INDEX i ON t (a);\nCREATE TABLE x (id serial, at timestamp);", dialect)
    assert report.rule_ids() & {"create-index-not-concurrently", "prefer-identity",
                                "prefer-timestamptz", "lock-timeout-missing"} == set()


@pytest.mark.parametrize("dialect", ["sqlite", "mysql"])
def test_down_file_rules_run(dialect: str) -> None:
    missing = pair("ALTER TABLE u ADD COLUMN a int;", None, dialect)
    assert lines_of(missing, "missing-down-file") == [1]
    empty = pair("ALTER TABLE u ADD COLUMN a int;", "-- nothing\n", dialect)
    assert lines_of(empty, "empty-down-file", ".down.sql") == [1]
    incomplete = pair("CREATE TABLE t (id int);\nCREATE INDEX i ON u (x);", "DROP TABLE t;", dialect)
    messages = [f.message for f in incomplete.findings if f.rule_id == "down-does-not-undo"]
    assert len(messages) == 1 and "index i" in messages[0]


def test_mysql_hash_comment_hides_statement_words() -> None:
    report = lint("UPDATE u SET a = 1 # WHERE id = 1\n;", "mysql")
    assert lines_of(report, "update-without-where") == [1]


def test_mysql_unterminated_string_is_a_syntax_error_and_earlier_statements_are_linted() -> None:
    report = lint("DROP TABLE a;\nSELECT 'oops;\nDROP TABLE b;", "mysql")
    assert lines_of(report, "syntax-error") == [2]
    assert lines_of(report, "drop-table") == [1]


def test_mysql_ddl_inside_delimiter_block_is_one_statement() -> None:
    text = ("DELIMITER //\nCREATE PROCEDURE p() BEGIN DELETE FROM t; END//\nDELIMITER ;\n"
            "DROP TABLE old;")
    report = lint(text, "mysql")
    assert lines_of(report, "drop-table") == [4]
    assert lines_of(report, "delete-without-where") == []
