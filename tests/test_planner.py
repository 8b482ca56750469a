"""golang-migrate's TestRead, TestReadUp and TestReadDown tables (migrate_test.go), row for row.

M(v) is the up step of version v; M(v, t) the step from v to target t (-1: no version).
The rows keep golang-migrate's -1 ("no version" as a version, "all" as a limit); :func:`nil`
turns it into the planner's None where a row is handed to it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures import write_stub_migrations
from safemigrate.errors import NotExistError, ShortLimitError
from safemigrate.planner import Plan, plan_down, plan_goto, plan_up
from safemigrate.source import MigrationSource, load_source

NO_CHANGE = "no change"
NOT_EXIST = "not exist"


def M(version: int, target: int | None = None) -> tuple[int, int | None]:
    return (version, version if target is None else nil(target))


def nil(value: int) -> int | None:
    """golang-migrate's -1 (no version; every migration as a limit) as the planner spells it."""
    return None if value == -1 else value


def short(n: int) -> str:
    return f"short {n}"


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> MigrationSource:
    return load_source(write_stub_migrations(tmp_path_factory.mktemp("stub")))


def outcome(plan: Plan) -> str | None:
    if plan.no_change:
        return NO_CHANGE
    if isinstance(plan.error, ShortLimitError):
        return short(plan.error.short)
    if isinstance(plan.error, NotExistError):
        return NOT_EXIST
    assert plan.error is None
    return None


def steps(plan: Plan) -> list[tuple[int, int | None]]:
    return [(s.version, s.target) for s in plan.steps]


READ = [
    (-1, -1, NO_CHANGE, []), (-1, 0, NOT_EXIST, []), (-1, 1, None, [M(1)]), (-1, 2, NOT_EXIST, []),
    (-1, 3, None, [M(1), M(3)]), (-1, 4, None, [M(1), M(3), M(4)]),
    (-1, 5, None, [M(1), M(3), M(4), M(5)]), (-1, 6, NOT_EXIST, []),
    (-1, 7, None, [M(1), M(3), M(4), M(5), M(7)]), (-1, 8, NOT_EXIST, []),
    *[(0, to, NOT_EXIST, []) for to in range(-1, 9)],
    (1, -1, None, [M(1, -1)]), (1, 0, NOT_EXIST, []), (1, 1, NO_CHANGE, []), (1, 2, NOT_EXIST, []),
    (1, 3, None, [M(3)]), (1, 4, None, [M(3), M(4)]), (1, 5, None, [M(3), M(4), M(5)]),
    (1, 6, NOT_EXIST, []), (1, 7, None, [M(3), M(4), M(5), M(7)]), (1, 8, NOT_EXIST, []),
    *[(2, to, NOT_EXIST, []) for to in range(-1, 9)],
    (3, -1, None, [M(3, 1), M(1, -1)]), (3, 0, NOT_EXIST, []), (3, 1, None, [M(3, 1)]),
    (3, 2, NOT_EXIST, []), (3, 3, NO_CHANGE, []), (3, 4, None, [M(4)]), (3, 5, None, [M(4), M(5)]),
    (3, 6, NOT_EXIST, []), (3, 7, None, [M(4), M(5), M(7)]), (3, 8, NOT_EXIST, []),
    (4, -1, None, [M(4, 3), M(3, 1), M(1, -1)]), (4, 0, NOT_EXIST, []), (4, 1, None, [M(4, 3), M(3, 1)]),
    (4, 2, NOT_EXIST, []), (4, 3, None, [M(4, 3)]), (4, 4, NO_CHANGE, []), (4, 5, None, [M(5)]),
    (4, 6, NOT_EXIST, []), (4, 7, None, [M(5), M(7)]), (4, 8, NOT_EXIST, []),
    (5, -1, None, [M(5, 4), M(4, 3), M(3, 1), M(1, -1)]), (5, 0, NOT_EXIST, []),
    (5, 1, None, [M(5, 4), M(4, 3), M(3, 1)]), (5, 2, NOT_EXIST, []), (5, 3, None, [M(5, 4), M(4, 3)]),
    (5, 4, None, [M(5, 4)]), (5, 5, NO_CHANGE, []), (5, 6, NOT_EXIST, []), (5, 7, None, [M(7)]),
    (5, 8, NOT_EXIST, []),
    *[(6, to, NOT_EXIST, []) for to in range(-1, 9)],
    (7, -1, None, [M(7, 5), M(5, 4), M(4, 3), M(3, 1), M(1, -1)]), (7, 0, NOT_EXIST, []),
    (7, 1, None, [M(7, 5), M(5, 4), M(4, 3), M(3, 1)]), (7, 2, NOT_EXIST, []),
    (7, 3, None, [M(7, 5), M(5, 4), M(4, 3)]), (7, 4, None, [M(7, 5), M(5, 4)]),
    (7, 5, None, [M(7, 5)]), (7, 6, NOT_EXIST, []), (7, 7, NO_CHANGE, []), (7, 8, NOT_EXIST, []),
    *[(8, to, NOT_EXIST, []) for to in range(-1, 9)],
]

READ_UP = [
    (-1, -1, None, [M(1), M(3), M(4), M(5), M(7)]), (-1, 0, NO_CHANGE, []), (-1, 1, None, [M(1)]),
    (-1, 2, None, [M(1), M(3)]),
    *[(0, n, NOT_EXIST, []) for n in (-1, 0, 1, 2)],
    (1, -1, None, [M(3), M(4), M(5), M(7)]), (1, 0, NO_CHANGE, []), (1, 1, None, [M(3)]),
    (1, 2, None, [M(3), M(4)]),
    *[(2, n, NOT_EXIST, []) for n in (-1, 0, 1, 2)],
    (3, -1, None, [M(4), M(5), M(7)]), (3, 0, NO_CHANGE, []), (3, 1, None, [M(4)]),
    (3, 2, None, [M(4), M(5)]),
    (4, -1, None, [M(5), M(7)]), (4, 0, NO_CHANGE, []), (4, 1, None, [M(5)]), (4, 2, None, [M(5), M(7)]),
    (5, -1, None, [M(7)]), (5, 0, NO_CHANGE, []), (5, 1, None, [M(7)]), (5, 2, short(1), [M(7)]),
    *[(6, n, NOT_EXIST, []) for n in (-1, 0, 1, 2)],
    (7, -1, NO_CHANGE, []), (7, 0, NO_CHANGE, []), (7, 1, NOT_EXIST, []), (7, 2, NOT_EXIST, []),
    *[(8, n, NOT_EXIST, []) for n in (-1, 0, 1, 2)],
]

READ_DOWN = [
    (-1, -1, NO_CHANGE, []), (-1, 0, NO_CHANGE, []), (-1, 1, NOT_EXIST, []), (-1, 2, NOT_EXIST, []),
    *[(0, n, NOT_EXIST, []) for n in (-1, 0, 1, 2)],
    (1, -1, None, [M(1, -1)]), (1, 0, NO_CHANGE, []), (1, 1, None, [M(1, -1)]),
    (1, 2, short(1), [M(1, -1)]),
    *[(2, n, NOT_EXIST, []) for n in (-1, 0, 1, 2)],
    (3, -1, None, [M(3, 1), M(1, -1)]), (3, 0, NO_CHANGE, []), (3, 1, None, [M(3, 1)]),
    (3, 2, None, [M(3, 1), M(1, -1)]),
    (4, -1, None, [M(4, 3), M(3, 1), M(1, -1)]), (4, 0, NO_CHANGE, []), (4, 1, None, [M(4, 3)]),
    (4, 2, None, [M(4, 3), M(3, 1)]),
    (5, -1, None, [M(5, 4), M(4, 3), M(3, 1), M(1, -1)]), (5, 0, NO_CHANGE, []), (5, 1, None, [M(5, 4)]),
    (5, 2, None, [M(5, 4), M(4, 3)]),
    *[(6, n, NOT_EXIST, []) for n in (-1, 0, 1, 2)],
    (7, -1, None, [M(7, 5), M(5, 4), M(4, 3), M(3, 1), M(1, -1)]), (7, 0, NO_CHANGE, []),
    (7, 1, None, [M(7, 5)]), (7, 2, None, [M(7, 5), M(5, 4)]),
    *[(8, n, NOT_EXIST, []) for n in (-1, 0, 1, 2)],
]


@pytest.mark.parametrize(("start", "to", "expected", "expected_steps"), READ)
def test_goto_plans_match_golang_migrate_read_table(
    source: MigrationSource, start: int, to: int, expected: str | None, expected_steps: list[tuple[int, int | None]]
) -> None:
    plan = plan_goto(source, nil(start), nil(to))
    assert outcome(plan) == expected
    if expected_steps:
        assert steps(plan) == expected_steps


@pytest.mark.parametrize(("start", "limit", "expected", "expected_steps"), READ_UP)
def test_up_plans_match_golang_migrate_read_up_table(
    source: MigrationSource, start: int, limit: int, expected: str | None,
    expected_steps: list[tuple[int, int | None]],
) -> None:
    plan = plan_up(source, nil(start), nil(limit))
    assert outcome(plan) == expected
    if expected_steps:
        assert steps(plan) == expected_steps


@pytest.mark.parametrize(("start", "limit", "expected", "expected_steps"), READ_DOWN)
def test_down_plans_match_golang_migrate_read_down_table(
    source: MigrationSource, start: int, limit: int, expected: str | None,
    expected_steps: list[tuple[int, int | None]],
) -> None:
    plan = plan_down(source, nil(start), nil(limit))
    assert outcome(plan) == expected
    if expected_steps:
        assert steps(plan) == expected_steps


def test_a_step_without_a_file_still_moves_the_version(source: MigrationSource) -> None:
    plan = plan_goto(source, 4, 5)
    (step,) = plan.steps
    assert step.file is None and step.target == 5  # 5 has no up file
    plan = plan_down(source, 3, 1)
    (step,) = plan.steps
    assert step.file is None and step.target == 1  # 3 has no down file


def test_log_strings_are_golang_migrates(source: MigrationSource) -> None:
    assert [s.log_string for s in plan_goto(source, None, 3).steps] == ["1/u f", "3/u f"]
    assert [s.log_string for s in plan_down(source, 4, 1).steps] == ["4/d f"]


def test_up_on_an_empty_folder_says_no_migration_files_were_found(tmp_path: Path) -> None:
    empty = load_source(tmp_path)
    plan = plan_up(empty, None)
    assert isinstance(plan.error, NotExistError)
    assert "no migration files found" in plan.error.message
