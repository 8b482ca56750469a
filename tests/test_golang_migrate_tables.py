"""golang-migrate's TestMigrate, TestSteps, TestUpAndDown and dirty cases, on real databases.

The fixture migrations append their name to ``migration_log``; after each command
the log must equal golang-migrate's expected sequence (its ``equalDbSeq``).
Runs on every driver through the ``db`` fixture.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures import write_stub_migrations
from safemigrate import (
    DirtyDatabaseError,
    Migrator,
    NotExistError,
    ShortLimitError,
    load_source,
    open_driver,
)
from safemigrate.engine import RunResult
from support import TestDatabase

C1, C3, C4, C7 = "CREATE 1", "CREATE 3", "CREATE 4", "CREATE 7"
D1, D4, D5, D7 = "DROP 1", "DROP 4", "DROP 5", "DROP 7"


@pytest.fixture
def migrator(db: TestDatabase, tmp_path: Path) -> Migrator:
    db.autoincrement_table("migration_log")
    source = load_source(write_stub_migrations(tmp_path / "migrations"))
    return Migrator(source, open_driver(db.url), lock_timeout=5)


def log(db: TestDatabase) -> list[str]:
    return [r[0] for r in db.query("SELECT body FROM migration_log ORDER BY seq")]


def version(m: Migrator) -> int | None:
    return m.version().version


GOTO_TABLE: list[tuple[int, type[Exception] | str | None, int | None, list[str]]] = [
    # migrate all the way up in single steps
    (0, NotExistError, None, []),
    (1, None, 1, [C1]),
    (2, NotExistError, None, [C1]),
    (3, None, 3, [C1, C3]),
    (4, None, 4, [C1, C3, C4]),
    (5, None, 5, [C1, C3, C4]),  # 5 has no up migration
    (6, NotExistError, None, [C1, C3, C4]),
    (7, None, 7, [C1, C3, C4, C7]),
    (8, NotExistError, None, [C1, C3, C4, C7]),
    # migrate all the way down in single steps
    (6, NotExistError, None, [C1, C3, C4, C7]),
    (5, None, 5, [C1, C3, C4, C7, D7]),
    (4, None, 4, [C1, C3, C4, C7, D7, D5]),
    (3, None, 3, [C1, C3, C4, C7, D7, D5, D4]),
    (2, NotExistError, None, [C1, C3, C4, C7, D7, D5, D4]),
    (1, None, 1, [C1, C3, C4, C7, D7, D5, D4]),  # 3 has no down migration
    (0, NotExistError, None, [C1, C3, C4, C7, D7, D5, D4]),
    # all the way up in one step, then all the way down in one step
    (7, None, 7, [C1, C3, C4, C7, D7, D5, D4, C3, C4, C7]),
    (1, None, 1, [C1, C3, C4, C7, D7, D5, D4, C3, C4, C7, D7, D5, D4]),
    # can't migrate the same version twice
    (1, "no change", 1, [C1, C3, C4, C7, D7, D5, D4, C3, C4, C7, D7, D5, D4]),
]


def test_goto_sequence_matches_golang_migrate(db: TestDatabase, migrator: Migrator) -> None:
    with migrator:
        for i, (target, expect_err, expect_version, expect_log) in enumerate(GOTO_TABLE):
            if isinstance(expect_err, type):
                with pytest.raises(expect_err):
                    migrator.goto(target)
            else:
                result = migrator.goto(target)
                assert result.no_change == (expect_err == "no change"), i
                assert version(migrator) == expect_version, i
            assert log(db) == expect_log, i


STEPS_TABLE: list[tuple[int, type[Exception] | str | None, int | None, list[str]]] = [
    (0, "no change", None, []),
    (-1, NotExistError, None, []),  # can't go down from no version
    (1, None, 1, [C1]),
    (1, None, 3, [C1, C3]),
    (1, None, 4, [C1, C3, C4]),
    (1, None, 5, [C1, C3, C4]),
    (1, None, 7, [C1, C3, C4, C7]),
    (1, NotExistError, 7, [C1, C3, C4, C7]),
    (-1, None, 5, [C1, C3, C4, C7, D7]),
    (-1, None, 4, [C1, C3, C4, C7, D7, D5]),
    (-1, None, 3, [C1, C3, C4, C7, D7, D5, D4]),
    (-1, None, 1, [C1, C3, C4, C7, D7, D5, D4]),
    (-1, None, None, [C1, C3, C4, C7, D7, D5, D4, D1]),
    (4, None, 5, [C1, C3, C4, C7, D7, D5, D4, D1, C1, C3, C4]),
    (2, ShortLimitError, 7, [C1, C3, C4, C7, D7, D5, D4, D1, C1, C3, C4, C7]),
    (-4, None, 1, [C1, C3, C4, C7, D7, D5, D4, D1, C1, C3, C4, C7, D7, D5, D4]),
    (-2, ShortLimitError, None, [C1, C3, C4, C7, D7, D5, D4, D1, C1, C3, C4, C7, D7, D5, D4, D1]),
]


def steps(m: Migrator, n: int) -> RunResult:
    return m.up(n) if n >= 0 else m.down(-n)


def test_steps_sequence_matches_golang_migrate(db: TestDatabase, migrator: Migrator) -> None:
    with migrator:
        for i, (n, expect_err, expect_version, expect_log) in enumerate(STEPS_TABLE):
            if isinstance(expect_err, type):
                with pytest.raises(expect_err):
                    steps(migrator, n)
            else:
                result = steps(migrator, n)
                assert result.no_change == (expect_err == "no change"), i
            assert version(migrator) == expect_version, i
            assert log(db) == expect_log, i


def test_up_and_down_all_the_way(db: TestDatabase, migrator: Migrator) -> None:
    with migrator:
        migrator.up()
        assert log(db) == [C1, C3, C4, C7]
        migrator.down()
        assert log(db) == [C1, C3, C4, C7, D7, D5, D4, D1]
        assert migrator.version().version is None
        migrator.up(1)
        migrator.up()
        assert log(db) == [C1, C3, C4, C7, D7, D5, D4, D1, C1, C3, C4, C7]
        migrator.down(1)
        migrator.down()
        assert log(db) == [C1, C3, C4, C7, D7, D5, D4, D1, C1, C3, C4, C7, D7, D5, D4, D1]


@pytest.mark.parametrize("command", ["up", "down", "goto", "steps"])
def test_a_dirty_database_refuses_every_move_with_golang_migrates_message(
    db: TestDatabase, migrator: Migrator, command: str
) -> None:
    with migrator:
        migrator.force(0)
    db.execute("UPDATE schema_migrations SET dirty = " + ("1" if db.dialect != "postgres" else "true"))
    with migrator, pytest.raises(DirtyDatabaseError) as caught:
        {"up": lambda: migrator.up(), "down": lambda: migrator.down(),
         "goto": lambda: migrator.goto(1), "steps": lambda: migrator.up(1)}[command]()
    assert caught.value.message == "Dirty database version 0. Fix and force version."
    assert "safemigrate force" in (caught.value.hint or "")
    assert log(db) == []


def test_force_sets_a_clean_version_and_works_on_a_dirty_database(
    db: TestDatabase, migrator: Migrator
) -> None:
    with migrator:
        migrator.force(7)
        state = migrator.version()
        assert (state.version, state.dirty) == (7, False)
    db.execute("UPDATE schema_migrations SET dirty = " + ("1" if db.dialect != "postgres" else "true"))
    with migrator:
        assert migrator.version().dirty
        migrator.force(1)
        assert (migrator.version().version, migrator.version().dirty) == (1, False)
        migrator.force(-1)
        assert migrator.version().version is None
    assert db.version_row() == []
    assert log(db) == []
