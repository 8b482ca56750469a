"""What a run keeps per statement: no parse tree, no per-object dict (bench/memory_bench.py measures it)."""

from __future__ import annotations

from safemigrate.drivers import open_driver
from safemigrate.sql.script import split_sql
from safemigrate.urls import parse_database_url


def test_the_runners_split_keeps_no_parse_tree_nodes() -> None:
    driver = open_driver(parse_database_url("postgres://u@127.0.0.1/db?sslmode=disable"))  # not connected
    script = driver.split("CREATE TABLE a (id int);\nCREATE INDEX CONCURRENTLY i ON a (id);\n")
    assert [s.node for s in script.statements] == [None, None]
    assert [s.transactional for s in script.statements] == [True, False]  # the facts it needs stay


def test_the_linters_split_still_gets_the_nodes() -> None:
    script = split_sql("CREATE TABLE a (id int);", "postgres")
    assert script.statements[0].node is not None


def test_a_statement_has_no_per_object_dict() -> None:
    statement = split_sql("SELECT 1;", "sqlite").statements[0]
    assert not hasattr(statement, "__dict__")


# A large file, split for the runner, is parsed statement by statement: the same statements,
# without ever holding the JSON tree of the whole file.
_TRICKY = (
    "-- a comment first\nCREATE TABLE café (id int, note text DEFAULT 'é;ü');\n"
    "/* block ; comment */ INSERT INTO café VALUES (1, $$dollar; quoted$$);\n"
    "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN RETURN NEW; END $body$;\n"
    "BEGIN;\nALTER TABLE café ADD COLUMN x int;\nCOMMIT;\n"
    "CREATE INDEX CONCURRENTLY i ON café (id);\nALTER TYPE mood ADD VALUE 'ok';\n"
    "VACUUM café;\n;\n  SELECT 'trailing'  "
)


def test_statement_by_statement_gives_the_whole_file_splits_statements() -> None:
    from safemigrate.sql.postgres import _split_whole, split_statement_by_statement

    for text in (_TRICKY, (_TRICKY + ";\n") * 3, "SELECT 1", "COPY t FROM stdin;\n", "SET lock_timeout = '1s';"):
        assert split_statement_by_statement(text) == _split_whole(text, nodes=False), text


def test_a_file_that_does_not_parse_is_reported_as_by_the_whole_file_split() -> None:
    from safemigrate.sql.postgres import STATEMENT_BY_STATEMENT_FROM, _split_whole, split_postgres

    broken = "SELECT 1;\n" * (STATEMENT_BY_STATEMENT_FROM // 10) + "SELEC 2;\n"
    script = split_postgres(broken, nodes=False)
    assert not script.parsed and script == _split_whole(broken, nodes=False)
    assert script.problem is not None and script.problem.line == broken.count("\n")


def test_a_large_file_is_split_for_the_runner_without_the_whole_files_tree() -> None:
    import tracemalloc

    from safemigrate.sql.postgres import STATEMENT_BY_STATEMENT_FROM, _split_whole, split_postgres

    text = "INSERT INTO t (a, b) VALUES (1, 'x');\n" * (STATEMENT_BY_STATEMENT_FROM // 30)
    tracemalloc.start()
    try:
        script = split_postgres(text, nodes=False)
        _held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert script == _split_whole(text, nodes=False)
    # What is left at the peak is the statements themselves (a few hundred bytes each) and one
    # statement's tree.
    assert peak < 20 * len(text), (peak, len(text))  # the whole-file tree: about 120 bytes per byte
