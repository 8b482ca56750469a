"""Each migration's round trips reuse one cursor and one watchdog arming, counted (never timed).

``up`` makes two round trips per migration (the statement, then the batch that closes it and
opens the next). psycopg's ``Connection.execute`` makes a new cursor, with its own adapters,
for every call; the driver now keeps one cursor per connection for its executes and queries.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from safemigrate import Migrator, load_source, open_driver
from support import write_migrations

STEPS = 8


def folder(tmp_path: Path, steps: int) -> Path:
    return write_migrations(tmp_path / f"migrations{steps}", {
        f"{v}_t{v}.up.sql": f"CREATE TABLE t{v} (id int);\n" for v in range(1, steps + 1)})


def cursors_made(url: str, tmp_path: Path, steps: int, monkeypatch: pytest.MonkeyPatch) -> int:
    made = 0
    real = psycopg.Connection.cursor

    def counting(self: psycopg.Connection[Any], *args: Any, **kwargs: Any) -> Any:
        nonlocal made
        made += 1
        return real(self, *args, **kwargs)

    with Migrator(load_source(folder(tmp_path, steps)), open_driver(url)) as m:
        monkeypatch.setattr(psycopg.Connection, "cursor", counting)
        try:
            result = m.up()
        finally:
            monkeypatch.undo()
    assert result.end.version == steps  # the folder's last version (the first run's are applied)
    return made


@pytest.mark.postgres
def test_up_makes_no_cursor_per_migration(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    few = cursors_made(pg_url, tmp_path, STEPS, monkeypatch)
    many = cursors_made(pg_url, tmp_path, 3 * STEPS, monkeypatch)
    # 8 migrations, then 16 more in a second run. Before: 49 against 33, a cursor made for
    # every migration of the second run.
    assert many == few


@pytest.mark.postgres
def test_a_failed_statement_leaves_the_cursor_usable(pg_url: str) -> None:
    driver = open_driver(pg_url)
    driver.connect()
    try:
        with pytest.raises(psycopg.errors.UndefinedTable):
            driver.execute("SELECT * FROM no_such_table")
        assert driver.query("SELECT 1 + 1") == [(2,)]
        driver.execute("CREATE TABLE after_failure (id int)")
        assert driver.query("SELECT count(*) FROM after_failure") == [(0,)]
    finally:
        driver.close()


@pytest.mark.postgres
def test_the_history_is_loaded_in_binary_with_the_values_of_the_text_format(
        pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from safemigrate.history import HISTORY_COLUMNS, HistoryRecord, HistoryTable

    with Migrator(load_source(folder(tmp_path, 3)), open_driver(pg_url)) as m:
        m.up()
    driver = open_driver(pg_url)
    driver.connect()
    try:
        # An offset that is not a whole hour: the timestamps' time zone comes from the session.
        driver.execute("SET TimeZone = 'America/St_Johns'")
        formats: list[bool] = []
        real = psycopg.Cursor.execute

        def spying(self: psycopg.Cursor[Any], *args: Any, **kwargs: Any) -> Any:
            formats.append(bool(kwargs.get("binary")))
            return real(self, *args, **kwargs)

        monkeypatch.setattr(psycopg.Cursor, "execute", spying)
        records = HistoryTable(driver).read()
        monkeypatch.undo()
        text_rows = driver.query(f"SELECT {', '.join(HISTORY_COLUMNS)}, id FROM safemigrate_history ORDER BY id")
    finally:
        driver.close()
    assert formats[-1] is True  # the rows themselves; 21 columns of 10,000 rows cost a third less
    assert records == [HistoryRecord(*row) for row in text_rows] and len(records) == 3
    # The same instants, given in UTC whatever the session's zone (status and history print UTC).
    assert text_rows[0][6].utcoffset() != timedelta(0)
    assert all(r.started_at.utcoffset() == timedelta(0) for r in records)
    assert records[0].duration_ms is not None and records[0].from_version is None


@pytest.mark.postgres
def test_the_connection_keeps_no_prepared_statement_cache(pg_url: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Every execute sends its statement unprepared (each migration's bookkeeping is new text),
    yet psycopg counted each text in its cache of candidates for preparing, on every execute:
    about 2 % of `up --no-lint` of 1,000 migrations. The connection now has no such cache."""
    from psycopg._preparing import PrepareManager

    counted = 0
    real = PrepareManager.maybe_add_to_cache

    def counting(self: PrepareManager, *args: Any) -> Any:
        nonlocal counted
        key = real(self, *args)
        counted += len(self._counts)
        return key

    monkeypatch.setattr(PrepareManager, "maybe_add_to_cache", counting)
    with Migrator(load_source(folder(tmp_path, STEPS)), open_driver(pg_url)) as m:
        assert m.up().end.version == STEPS
        assert m.driver.query("SELECT count(*) FROM pg_prepared_statements") == [(0,)]
    assert counted == 0  # before: 452 here, the texts counted at each execute
