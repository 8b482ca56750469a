"""One executor: what plan / --dry-run prints is exactly what the run sends, in the same order.

golang-migrate's goto table is run twice on each driver: as a plan, and for real with every
statement the engine sends captured at the driver. Values that differ by nature (times, run ids,
durations) are normalised; everything else must be equal, our bookkeeping and the first run's
CREATE TABLEs included. The lock and the reads that decide what to do are not SQL a plan shows.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from fixtures import write_stub_migrations
from safemigrate import Migrator, NotExistError, load_source, open_driver
from safemigrate.engine import SqlRunner
from support import TestDatabase
from test_golang_migrate_tables import GOTO_TABLE

_NOISE = [
    (re.compile(r"'\d{4}-\d\d-\d\d[ T][\d:.+\-]+'"), "'TIME'"),          # timestamps
    (re.compile(r"'[0-9a-f]{32}'"), "'RUN-ID'"),                          # run ids
    (re.compile(r"(?<![\w'])\d+\.\d+(?:e-?\d+)?(?![\w'])"), "0.0"),       # durations
]


def normalise(sql: str) -> str:
    for pattern, replacement in _NOISE:
        sql = pattern.sub(replacement, sql)
    return " ".join(sql.split()).rstrip(";").rstrip()


def spy(driver: Any) -> list[str]:
    """Record every statement the engine sends through the driver, rendered as a plan renders it."""
    sent: list[str] = []
    renderer = SqlRunner(driver, dry_run=True)
    execute, execute_statements = driver.execute, driver.execute_statements
    inside: list[bool] = []  # execute_statements may itself call execute: record each statement once

    def recording_execute(sql: str, params: Any = None) -> None:
        if inside:
            execute(sql, params)
            return
        if params is None and ";\n" in sql:  # one round trip of several bookkeeping statements
            sent.extend(part.strip() for part in sql.split(";\n"))
        else:
            sent.append(renderer.render(sql, params))
        execute(sql, params)

    def recording_statements(statements: Any) -> None:
        sent.extend(statements)
        inside.append(True)
        try:
            execute_statements(statements)
        finally:
            inside.pop()

    driver.execute = recording_execute
    driver.execute_statements = recording_statements
    return sent


@pytest.fixture
def migrator(db: TestDatabase, tmp_path: Path) -> Migrator:
    db.autoincrement_table("migration_log")
    source = load_source(write_stub_migrations(tmp_path / "migrations"))
    return Migrator(source, open_driver(db.url), lock_timeout=5)


def test_plan_equals_execution_for_every_goto_of_golang_migrates_table(migrator: Migrator) -> None:
    with migrator:
        sent = spy(migrator.driver)
        compared = 0
        for target, error, _version, _log in GOTO_TABLE:
            try:
                planned = migrator.goto(target, dry_run=True)
            except NotExistError:
                assert error is NotExistError
                continue
            expected = [*planned.setup_sql, *(sql for step in planned.planned for sql in step.sql)]
            sent.clear()
            migrator.goto(target)
            assert [normalise(s) for s in sent] == [normalise(s) for s in expected], f"goto {target}"
            compared += 1
        assert compared >= 8


def test_a_plan_on_a_new_database_shows_the_create_tables_up_will_run(migrator: Migrator) -> None:
    with migrator:
        planned = migrator.up(dry_run=True)
        assert any("schema_migrations" in sql and "CREATE TABLE" in sql.upper() for sql in planned.setup_sql)
        assert any("safemigrate_history" in sql and "CREATE TABLE" in sql.upper() for sql in planned.setup_sql)
        sent = spy(migrator.driver)
        migrator.up()
        assert [normalise(s) for s in sent[:len(planned.setup_sql)]] == [normalise(s) for s in planned.setup_sql]
        assert migrator.up(dry_run=True).setup_sql == []  # the tables exist now: nothing to create


def test_plan_equals_execution_for_an_atomic_run(migrator: Migrator, db: TestDatabase) -> None:
    if db.dialect == "mysql":
        pytest.skip("--atomic needs transactional DDL, which MySQL does not have (refused, tested elsewhere)")
    with migrator:
        migrator.up(1)  # the tables exist, so the plan is the steps alone
        planned = migrator.up(dry_run=True, atomic=True)
        expected = [*planned.setup_sql, *(sql for step in planned.planned for sql in step.sql)]
        sent = spy(migrator.driver)
        migrator.up(atomic=True)
        assert [normalise(s) for s in sent] == [normalise(s) for s in expected]


@pytest.mark.parametrize("db", ["postgres"], indirect=True)
def test_plan_equals_execution_statement_by_statement(db: TestDatabase, tmp_path: Path) -> None:
    from support import write_migrations

    folder = write_migrations(tmp_path / "m", {
        "1_t.up.sql": "CREATE TABLE t (id int, v int);\nINSERT INTO t VALUES (1, 1);\n",
        "2_i.up.sql": "INSERT INTO t VALUES (2, 2);\nCREATE INDEX CONCURRENTLY t_v ON t (v);\nUPDATE t SET v = 3;\n",
    })
    with Migrator(load_source(folder), open_driver(db.url), lock_timeout=5) as m:
        planned = m.up(dry_run=True)
        assert [p.mode for p in planned.planned] == ["transaction", "statements"]
        expected = [*planned.setup_sql, *(sql for step in planned.planned for sql in step.sql)]
        sent = spy(m.driver)
        m.up()
        assert [normalise(s) for s in sent] == [normalise(s) for s in expected]
