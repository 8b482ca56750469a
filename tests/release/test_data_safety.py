"""Before a rollback: what would the down files destroy that was written after the release applied?"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from safemigrate.drivers import open_driver
from safemigrate.drivers.base import Driver
from safemigrate.release.datasafety import data_at_risk, drop_targets, mark, snapshot_columns
from support import TestDatabase

DOWN = "DROP TABLE reactions;\nALTER TABLE users DROP COLUMN nickname;\n"


@pytest.fixture
def driver(db: TestDatabase) -> Iterator[Driver]:
    db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100))")
    db.execute("INSERT INTO users (id, email) VALUES (1, 'a@example.com'), (2, 'b@example.com')")
    opened = open_driver(db.url)
    opened.connect()
    try:
        yield opened
    finally:
        opened.close()


def apply_release(db: TestDatabase) -> None:
    """What the release's migration did: a new table with seed rows, a new column with a default."""
    db.execute("CREATE TABLE reactions (id INTEGER PRIMARY KEY, emoji VARCHAR(10))")
    db.execute("INSERT INTO reactions (id, emoji) VALUES (1, 'seed')")
    db.execute("ALTER TABLE users ADD COLUMN nickname VARCHAR(50)")


def test_nothing_is_at_risk_when_nothing_was_written_after_the_apply(db: TestDatabase, driver: Driver) -> None:
    before = snapshot_columns(driver)
    apply_release(db)
    marked = mark(driver, before)
    assert data_at_risk(driver, [(5, DOWN)], marked) == []


def test_rows_and_values_written_after_the_apply_are_at_risk(db: TestDatabase, driver: Driver) -> None:
    before = snapshot_columns(driver)
    apply_release(db)
    marked = mark(driver, before)
    db.execute("INSERT INTO reactions (id, emoji) VALUES (2, 'thumbs'), (3, 'heart')")
    db.execute("UPDATE users SET nickname = 'al' WHERE id = 1")
    risks = {(r.table, r.column): r for r in data_at_risk(driver, [(5, DOWN)], marked)}
    assert set(risks) == {("reactions", None), ("users", "nickname")}
    assert risks[("reactions", None)].rows == 2  # the seed row the migration inserted does not count
    assert risks[("users", "nickname")].rows == 1
    assert risks[("reactions", None)].describe().startswith("migration 5's down file drops table reactions")


def test_a_down_file_that_drops_what_existed_before_the_release_is_always_at_risk(
        db: TestDatabase, driver: Driver) -> None:
    before = snapshot_columns(driver)
    apply_release(db)
    marked = mark(driver, before)
    risks = data_at_risk(driver, [(5, "ALTER TABLE users DROP COLUMN email;")], marked)
    assert [(r.table, r.column, r.rows) for r in risks] == [("users", "email", 2)]
    assert "existed before this release" in risks[0].reason


def test_a_drop_of_something_absent_is_not_a_risk(db: TestDatabase, driver: Driver) -> None:
    before = snapshot_columns(driver)
    marked = mark(driver, before)
    assert data_at_risk(driver, [(5, "DROP TABLE IF EXISTS ghosts;")], marked) == []


@pytest.mark.parametrize(("dialect", "sql", "expected"), [
    ("postgres", 'DROP TABLE IF EXISTS public."Reactions", b CASCADE; ALTER TABLE u DROP COLUMN IF EXISTS c;',
     [("reactions", None), ("b", None), ("u", "c")]),
    ("mysql", "DROP TABLE IF EXISTS `reactions`, b;\nALTER TABLE u DROP COLUMN c, DROP INDEX i, DROP d;",
     [("reactions", None), ("b", None), ("u", "c"), ("u", "d")]),
    ("sqlite", "ALTER TABLE u DROP COLUMN c; DROP TABLE t;", [("t", None), ("u", "c")]),
])
def test_drop_targets_reads_tables_and_columns(dialect: str, sql: str,
                                               expected: list[tuple[str, str | None]]) -> None:
    assert drop_targets(sql, dialect) == expected
