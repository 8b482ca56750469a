"""golang-migrate's database driver conformance steps (database/testing/testing.go), per driver."""

from __future__ import annotations

import pytest

from safemigrate import open_driver
from safemigrate.drivers.base import Driver, VersionState
from safemigrate.errors import DatabaseError
from support import TestDatabase


@pytest.fixture
def driver(db: TestDatabase) -> Driver:
    d = open_driver(db.url)
    d.connect()
    for sql, params in d.create_version_table_sql():
        d.execute(sql, params)
    yield d
    d.close()


def test_nil_version_on_a_new_database(driver: Driver) -> None:
    assert driver.read_version() == VersionState(None, False)


def test_lock_twice_fails_and_unlock_allows_locking_again(driver: Driver) -> None:
    driver.lock(5)
    with pytest.raises(DatabaseError, match="locked"):
        driver.lock(5)
    driver.unlock()
    driver.lock(5)
    driver.unlock()


def test_run_executes_a_migration(db: TestDatabase, driver: Driver) -> None:
    driver.execute("CREATE TABLE conformance_t (id INTEGER)")
    assert "conformance_t" in db.tables()


SET_VERSION = [
    ("set 1 dirty", 1, True, VersionState(1, True)),
    ("re-set 1 dirty", 1, True, VersionState(1, True)),
    ("set 2 clean", 2, False, VersionState(2, False)),
    ("re-set 2 clean", 2, False, VersionState(2, False)),
    ("last migration dirty", None, True, VersionState(None, True)),
    ("last migration clean", None, False, VersionState(None, False)),
]


def test_set_version_table(db: TestDatabase, driver: Driver) -> None:
    for name, version, dirty, expected in SET_VERSION:
        if driver.transactional_ddl:
            driver.execute("BEGIN")
        for sql, params in driver.set_version_sql(version, dirty):
            driver.execute(sql, params)
        if driver.transactional_ddl:
            driver.execute("COMMIT")
        assert driver.read_version() == expected, name
        rows = db.version_row()
        assert len(rows) <= 1, name  # at most one row, as golang-migrate keeps it


def test_a_dirty_nil_version_is_stored_as_minus_one(db: TestDatabase, driver: Driver) -> None:
    for sql, params in driver.set_version_sql(None, True):
        driver.execute(sql, params)
    assert db.version_row() == [(-1, True)]


def test_drop_removes_every_table(db: TestDatabase, driver: Driver) -> None:
    driver.execute("CREATE TABLE conformance_a (id INTEGER)")
    driver.execute("CREATE TABLE conformance_b (id INTEGER)")
    dropped = driver.drop_all_tables()
    assert {"conformance_a", "conformance_b", "schema_migrations"} <= set(dropped)
    assert db.tables() == set()
