"""psql-only syntax (meta-commands, COPY ... FROM STDIN) is refused by the runner before anything
runs, with the file, line and column, instead of a bare syntax error at apply time."""

from __future__ import annotations

from pathlib import Path

import pytest

from safemigrate.sql.postgres import find_psql_syntax, split_postgres
from support import run_cli, write_migrations

COPY_FILE = "CREATE TABLE plans (id int, name text);\nCOPY plans FROM stdin;\n1\tit's \\N\n\\.\nSELECT 1;\n"


@pytest.mark.parametrize(
    ("text", "command", "line", "column"),
    [
        ("\\set ON_ERROR_STOP on\nCREATE TABLE t (id int);\n", "\\set", 1, 1),
        ("CREATE TABLE t (id int);\n  \\i other.sql\n", "\\i", 2, 3),
        ("SELECT 1 \\gset\n", "\\gset", 1, 10),
        ("SELECT 1;\n\\connect other\n", "\\connect", 2, 1),
        (COPY_FILE, "COPY ... FROM STDIN", 2, 1),
        ("SELECT 1;\nCOPY plans (id) FROM STDIN WITH (FORMAT csv);", "COPY ... FROM STDIN", 2, 1),
    ],
)
def test_psql_syntax_makes_the_runner_refuse_the_file_at_its_line(
        text: str, command: str, line: int, column: int) -> None:
    script = split_postgres(text)
    assert script.refused is not None
    assert script.refused.message.startswith("the file uses psql syntax that a migration tool cannot run")
    assert command in script.refused.message
    assert (script.refused.line, script.refused.column) == (line, column)
    assert script.refused.hint


def test_copy_rows_are_skipped_so_their_backslashes_are_not_meta_commands() -> None:
    items = find_psql_syntax(COPY_FILE + "\\echo done\n")
    assert [i.command for i in items] == ["COPY ... FROM STDIN", "\\echo"]
    start, end = items[0].skip
    assert COPY_FILE[start:end] == "1\tit's \\N\n\\."


@pytest.mark.parametrize("text", [
    "SELECT E'\\n', '\\', $f$ \\i x $f$; -- \\set\n/* \\i */ SELECT 1;",
    "COPY plans FROM '/srv/plans.csv';\nCOPY plans TO STDOUT;",
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE '\\d'; END $$;",
])
def test_backslashes_in_sql_are_not_psql_syntax(text: str) -> None:
    assert find_psql_syntax(text) == []
    assert split_postgres(text).refused is None


def test_up_refuses_a_psql_file_before_anything_runs(pg_url: str, tmp_path: Path) -> None:
    folder = write_migrations(tmp_path / "m", {
        "1_plans.up.sql": "CREATE TABLE plans (id int, name text);\n",
        "2_seed.up.sql": "\\set ON_ERROR_STOP on\nINSERT INTO plans VALUES (1, 'free');\n",
    })
    result = run_cli("-path", str(folder), "-database", pg_url, "up")
    assert result.exit_code == 1
    assert "2_seed.up.sql:1:1: the file uses psql syntax that a migration tool cannot run: \\set" \
        in result.stderr
    assert "nothing was applied" in result.stderr and "next: write it as plain SQL" in result.stderr
    assert "1/u plans" not in result.stdout  # refused while planning: not even file 1 ran
    assert run_cli("-path", str(folder), "-database", pg_url, "version").exit_code == 1  # no version
    plan = run_cli("-path", str(folder), "-database", pg_url, "plan")
    assert plan.exit_code == 1 and "psql syntax" in plan.stderr


def test_sqlite_files_are_not_read_for_psql_syntax(sqlite_url: str, tmp_path: Path) -> None:
    """Only PostgreSQL files are read for psql syntax: SQLite has no COPY and no backslash commands."""
    folder = write_migrations(tmp_path / "m", {"1_a.up.sql": "CREATE TABLE a (note TEXT DEFAULT '\\i');\n"})
    result = run_cli("-path", str(folder), "-database", sqlite_url, "up")
    assert result.exit_code == 0, result.stderr


def test_every_copy_block_of_a_dump_like_file_is_found_whatever_its_rows_hold() -> None:
    block = "COPY t (a, b) FROM stdin;\n" + "".join(f"{i}\tit's \\N\n" for i in range(5)) + "\\.\n\n"
    text = "\\set ON_ERROR_STOP on\n" + block * 30 + "SELECT 'done';\n\\i tail.sql\n"
    commands = [item.command for item in find_psql_syntax(text)]
    assert commands == ["\\set", *["COPY ... FROM STDIN"] * 30, "\\i"]


def test_a_backslash_dot_line_inside_a_string_ends_nothing() -> None:
    items = find_psql_syntax("SELECT '\n\\.\n';\n\\echo x\n")
    assert [(item.command, item.start) for item in items] == [("\\echo", 15)]
