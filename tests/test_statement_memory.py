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
