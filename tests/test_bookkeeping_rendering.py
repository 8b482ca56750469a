"""Our bookkeeping SQL is built and rendered once per run where it is the same every step.

Pinned by counting (never timing): the history INSERT's text is built once per run, a constant
text value (tool version, user, host, lock-timeout setting) is rendered once per run rather than
once per step, and the faster rendering gives exactly the text the driver's literals make.
"""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from safemigrate import Migrator, load_source, open_driver
from safemigrate.engine import SqlRunner
from safemigrate.history import new_run_id
from support import write_migrations

STEPS = 6


def folder(tmp_path: Path) -> Path:
    return write_migrations(tmp_path / "migrations", {
        f"{v}_t{v}.up.sql": f"CREATE TABLE t{v} (id int);\n" for v in range(1, STEPS + 1)})


@pytest.mark.postgres
def test_constant_text_values_are_rendered_once_per_run_not_once_per_step(pg_url: str, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    m = Migrator(load_source(folder(tmp_path)), open_driver(pg_url), tool_version="9.9.9-test")
    rendered: Counter[Any] = Counter()
    real = m.driver.literal

    def counting(value: Any) -> str:
        rendered[value] += 1
        return real(value)

    monkeypatch.setattr(m.driver, "literal", counting)
    with m:
        result = m.up()
    assert len(result.steps) == STEPS
    # Before: once per step (6), in every step's history row.
    assert rendered["9.9.9-test"] == 1
    assert rendered["applied"] == rendered["transaction"] == 1
    with m:
        rows = m.read_history()
    assert [(r.version, r.tool_version, r.outcome) for r in rows] == [
        (v, "9.9.9-test", "applied") for v in range(1, STEPS + 1)]


def test_the_history_insert_text_is_built_once(tmp_path: Path) -> None:
    m = Migrator(load_source(folder(tmp_path)), open_driver(f"sqlite3://{tmp_path / 'h.db'}"))
    with m:
        m.up(1)
        first, second = m.read_history()[0], m.read_history()[0]
        one, other = m.history.insert_sql(first), m.history.insert_sql(second)
        # The same text object every step (before: a new one, joined from 20 column names).
        assert one[0] is other[0]
        assert m.history.insert_sql(first, second)[0].count("(?, ") == 2


def slow_render(runner: SqlRunner, sql: str, params: list[Any]) -> str:
    """The rendering the template replaced: each placeholder filled by the driver's literal."""
    pieces = sql.strip().split(runner.driver.placeholder)
    text = pieces[0] + "".join(runner.driver.literal(v) + piece for v, piece in zip(params, pieces[1:],
                                                                                    strict=True))
    return text if text.endswith(";") else text + ";"


values = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=12))


@given(st.lists(st.tuples(st.text(alphabet="{}ab '%;\\", max_size=6), values), max_size=6),
       st.text(alphabet="{}x ", max_size=4))
def test_rendering_gives_the_drivers_literals_exactly(
                                                      parts: list[tuple[str, Any]], tail: str) -> None:
    for url in ("sqlite3://unused.db", "postgres://postgres@127.0.0.1:5432/unused"):
        runner = SqlRunner(open_driver(url))
        p = runner.driver.placeholder
        sql = "SELECT " + "".join(text.replace(p, "") + p for text, _value in parts) + tail.replace(p, "")
        params = [value for _text, value in parts]
        # Twice: the second time the memo of text literals answers.
        assert runner.render(sql, params) == slow_render(runner, sql, params) == runner.render(sql, params)


def test_run_ids_are_version_4_uuids() -> None:
    ids = {new_run_id() for _ in range(200)}
    assert len(ids) == 200
    for run_id in ids:
        parsed = uuid.UUID(hex=run_id)
        assert parsed.hex == run_id and parsed.version == 4 and parsed.variant == uuid.RFC_4122
