"""Splitting files with each database's own grammar, and deciding what can run in a transaction."""

from __future__ import annotations

import pytest

from safemigrate.sql import split_sql

PG_CASES = [
    ("CREATE INDEX CONCURRENTLY i ON t (a)", "IndexStmt", False, False),
    ("DROP INDEX CONCURRENTLY i", "DropStmt", False, False),
    ("REINDEX INDEX CONCURRENTLY i", "ReindexStmt", False, False),
    ("VACUUM t", "VacuumStmt", False, False),
    ("ANALYZE t", "VacuumStmt", True, False),
    ("ALTER TABLE p DETACH PARTITION c CONCURRENTLY", "AlterTableStmt", False, False),
    ("CLUSTER", "ClusterStmt", False, False),
    ("CLUSTER t USING i", "ClusterStmt", True, False),
    ("CREATE DATABASE x", "CreatedbStmt", False, False),
    ("ALTER SYSTEM SET work_mem = '1MB'", "AlterSystemStmt", False, False),
    ("BEGIN", "BEGIN", True, True),
    ("START TRANSACTION", "START", True, True),
    ("COMMIT", "COMMIT", True, True),
    ("CREATE INDEX i ON t (a)", "IndexStmt", True, False),
    ("ALTER TYPE mood ADD VALUE 'meh'", "AlterEnumStmt", True, False),
]


@pytest.mark.parametrize(("sql", "kind", "transactional", "control"), PG_CASES)
def test_postgres_statements_are_classified(sql: str, kind: str, transactional: bool, control: bool) -> None:
    (statement,) = split_sql(sql + ";", "postgres").statements
    assert (statement.kind, statement.transactional, statement.transaction_control) == (
        kind, transactional, control)


def test_postgres_positions_are_characters_even_after_non_ascii_text() -> None:
    text = "-- é è ü\nSELECT 'ééé';\n  SELECT 'x';"
    first, second = split_sql(text, "postgres").statements
    assert (first.line, first.column, first.text) == (2, 1, "SELECT 'ééé'")
    assert (second.line, second.column, second.text) == (3, 3, "SELECT 'x'")
    assert text[second.start:].startswith("SELECT 'x'")


def test_postgres_bodies_keep_their_semicolons() -> None:
    text = ("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;\n"
            "DO $$ BEGIN PERFORM 1; END $$;\nSELECT ';' -- ;\n;")
    statements = split_sql(text, "postgres").statements
    assert [s.kind for s in statements] == ["CreateFunctionStmt", "DoStmt", "SelectStmt"]
    assert statements[0].text.endswith("END")


def test_an_unparsable_postgres_file_is_one_statement_with_the_problem_located() -> None:
    script = split_sql("SELECT 1;\nSELEC 2;\n", "postgres")
    assert not script.parsed
    assert script.problem is not None and (script.problem.line, script.problem.column) == (2, 1)
    assert len(script.statements) == 1 and script.statements[0].text == "SELECT 1;\nSELEC 2;"


def test_the_runbooks_example_needs_statement_mode_and_says_why() -> None:
    script = split_sql("BEGIN;\nALTER TABLE users ADD COLUMN x int;\nCOMMIT;\n"
                       "CREATE INDEX CONCURRENTLY i ON users (x);\n", "postgres")
    assert script.needs_statement_mode
    assert script.statement_mode_reason() == "the file manages its own transactions (BEGIN at line 1)"


def test_the_opt_out_marker() -> None:
    script = split_sql("-- safemigrate:no-transaction\nUPDATE t SET a = 1;\n", "postgres")
    assert script.no_transaction_marker and script.needs_statement_mode
    assert not split_sql("-- safemigrate:no-transactions-please\nSELECT 1;", "postgres").no_transaction_marker


def test_sqlite_trigger_bodies_strings_and_comments_survive() -> None:
    text = ("CREATE TABLE a (x TEXT); -- c;\n"
            "CREATE TRIGGER tr AFTER INSERT ON a BEGIN INSERT INTO a VALUES (';'); END;\n"
            "/* x; */ PRAGMA foreign_keys = OFF;\n-- trailing comment\n")
    statements = split_sql(text, "sqlite").statements
    assert [(s.line, s.column, s.kind) for s in statements] == [
        (1, 1, "CREATE TABLE"), (2, 1, "CREATE TRIGGER"), (3, 10, "PRAGMA FOREIGN_KEYS")]
    assert statements[1].text.endswith("END")
    assert not statements[2].transactional


@pytest.mark.parametrize(("sql", "transactional", "control"), [
    ("VACUUM", False, False), ("ATTACH 'x.db' AS x", False, False), ("BEGIN", True, True),
    ("END", True, True), ("PRAGMA journal_mode = WAL", False, False), ("PRAGMA user_version = 3", True, False),
])
def test_sqlite_statements_are_classified(sql: str, transactional: bool, control: bool) -> None:
    (statement,) = split_sql(sql + ";", "sqlite").statements
    assert (statement.transactional, statement.transaction_control) == (transactional, control)
