""""No version" is None from the planner to the output: every result of safemigrate.commands says
``null`` for it, never golang-migrate's -1 (which only its table and the CLI's ``force -1`` spell)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import safemigrate.commands as c
from safemigrate.config import Config
from support import TestDatabase, write_migrations

FILES = {
    "1_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY);\n",
    "1_users.down.sql": "DROP TABLE users;\n",
    "2_rooms.up.sql": "CREATE TABLE rooms (id INTEGER PRIMARY KEY);\n",
    "2_rooms.down.sql": "DROP TABLE rooms;\n",
}


@pytest.fixture
def config(db: TestDatabase, tmp_path: Path) -> Config:
    folder = write_migrations(tmp_path / "migrations", FILES)
    return c.load_config(flags={"database_url": db.url, "path": str(folder)}, environ={}, start=tmp_path)


def versions(document: Any) -> list[Any]:
    """Every value of a key naming a version (``version``, ``from_version``, ...), at any depth."""
    found: list[Any] = []
    if isinstance(document, dict):
        for key, value in document.items():
            if key.endswith("version") and not isinstance(value, dict | list):
                found.append(value)
            else:
                found.extend(versions(value))
    elif isinstance(document, list):
        for value in document:
            found.extend(versions(value))
    return found


def as_json(result: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(json.dumps(result.to_dict(), default=str))
    assert -1 not in versions(document), document
    return document


def test_planning_up_from_an_empty_database_starts_at_null(config: Config) -> None:
    planned = as_json(c.plan(config, "up"))
    assert planned["from"] == {"version": None, "dirty": False}
    assert planned["to"] == {"version": 2, "dirty": False}
    assert [(s["version"], s["to_version"]) for s in planned["steps"]] == [(1, 1), (2, 2)]


def test_up_from_an_empty_database_reports_its_first_step_from_null(config: Config) -> None:
    applied = as_json(c.up(config))
    assert applied["from"]["version"] is None
    assert [(s["from_version"], s["to_version"]) for s in applied["steps"]] == [(None, 1), (1, 2)]


def test_planning_and_running_down_to_no_version_end_at_null(config: Config) -> None:
    c.up(config)
    planned = as_json(c.plan(config, "down"))
    assert planned["to"] == {"version": None, "dirty": False}
    assert [(s["version"], s["to_version"]) for s in planned["steps"]] == [(2, 1), (1, None)]
    undone = as_json(c.down(config))
    assert undone["to"] == {"version": None, "dirty": False}
    assert [(s["from_version"], s["to_version"]) for s in undone["steps"]] == [(2, 1), (1, None)]
    assert c.version(config).version is None


def test_down_one_from_the_first_version_ends_at_null(config: Config) -> None:
    c.up(config, 1)
    undone = as_json(c.down(config, 1))
    assert [(s["from_version"], s["to_version"]) for s in undone["steps"]] == [(1, None)]
    assert undone["to"]["version"] is None


def test_goto_from_an_empty_database_plans_and_runs_from_null(config: Config) -> None:
    planned = as_json(c.plan(config, "goto", 2))
    assert planned["from"]["version"] is None and planned["to"]["version"] == 2
    moved = as_json(c.goto(config, 1))
    assert [(s["from_version"], s["to_version"]) for s in moved["steps"]] == [(None, 1)]
    back = as_json(c.down(config))
    assert back["to"]["version"] is None


def test_down_on_an_empty_database_is_no_change_at_null(config: Config) -> None:
    nothing = as_json(c.down(config))
    assert nothing["no_change"] and nothing["from"]["version"] is None and nothing["to"]["version"] is None


def test_force_none_and_golang_migrates_minus_one_both_mean_no_version(config: Config) -> None:
    c.up(config)
    assert c.force(config, None).version is None
    c.force(config, 2)
    assert c.force(config, -1).version is None
    history = as_json(c.history(config))
    assert [(r["from_version"], r["to_version"]) for r in history["records"][-3:]] == [
        (2, None), (None, 2), (2, None)]
