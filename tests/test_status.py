"""status: applied/pending/current per file, and loud flags for what is wrong."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from support import TestDatabase, run_cli, write_migrations


def files() -> dict[str, str]:
    return {
        "000001_a.up.sql": "CREATE TABLE a (id INTEGER);\n",
        "000001_a.down.sql": "DROP TABLE a;\n",
        "000002_b.up.sql": "CREATE TABLE b (id INTEGER);\n",
        "000002_b.down.sql": "DROP TABLE b;\n",
        "000004_d.up.sql": "CREATE TABLE d (id INTEGER);\n",
        "000004_d.down.sql": "DROP TABLE d;\n",
    }


def status(folder: Path, url: str) -> dict:  # type: ignore[type-arg]
    result = run_cli("-path", str(folder), "-database", url, "status", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_status_lists_applied_current_and_pending_with_who_and_when(db: TestDatabase, tmp_path: Path) -> None:
    folder = write_migrations(tmp_path / "m", files())
    run_cli("-path", str(folder), "-database", db.url, "up", "2")
    doc = status(folder, db.url)
    assert [(m["version"], m["state"]) for m in doc["migrations"]] == [
        (1, "applied"), (2, "current"), (4, "pending")]
    assert doc["pending"] == [4] and doc["version"] == 2 and not doc["dirty"]
    first = doc["migrations"][0]
    assert first["applied_at"] and "@" in first["applied_by"] and first["checksum_matches"] is True


def test_exit_code_flags_pending_and_passes_when_up_to_date(db: TestDatabase, tmp_path: Path) -> None:
    folder = write_migrations(tmp_path / "m", files())
    args = ("-path", str(folder), "-database", db.url)
    assert run_cli(*args, "status", "--exit-code").exit_code == 1
    run_cli(*args, "up")
    assert run_cli(*args, "status", "--exit-code").exit_code == 0


def test_a_file_edited_after_it_was_applied_is_flagged(db: TestDatabase, tmp_path: Path) -> None:
    folder = write_migrations(tmp_path / "m", files())
    run_cli("-path", str(folder), "-database", db.url, "up")
    (folder / "000002_b.up.sql").write_text("CREATE TABLE b (id INTEGER, extra INTEGER);\n")
    doc = status(folder, db.url)
    assert doc["migrations"][1]["flags"] == ["edited"]
    assert doc["migrations"][1]["checksum_matches"] is False
    assert [p["code"] for p in doc["problems"]] == ["edited"]
    text = run_cli("-path", str(folder), "-database", db.url, "status", "--exit-code")
    assert text.exit_code == 1 and "was edited after it was applied" in text.stdout


def test_a_pending_file_numbered_below_the_current_version_is_flagged(db: TestDatabase, tmp_path: Path) -> None:
    folder = write_migrations(tmp_path / "m", files())
    run_cli("-path", str(folder), "-database", db.url, "up")
    # A branch merged later brings version 3: golang-migrate would never apply it.
    (folder / "000003_c.up.sql").write_text("CREATE TABLE c (id INTEGER);\n")
    doc = status(folder, db.url)
    row = next(m for m in doc["migrations"] if m["version"] == 3)
    assert row["state"] == "skipped" and row["flags"] == ["skipped", "no-down"]
    assert doc["pending"] == [3]
    problem = next(p for p in doc["problems"] if p["code"] == "skipped")
    assert "never applied" in problem["message"] and "renumber" in problem["hint"]


def test_missing_down_file_dirty_database_and_missing_version_are_flagged(
    db: TestDatabase, tmp_path: Path
) -> None:
    content = files()
    del content["000002_b.down.sql"]
    folder = write_migrations(tmp_path / "m", content)
    run_cli("-path", str(folder), "-database", db.url, "up")
    doc = status(folder, db.url)
    assert "no-down" in doc["migrations"][1]["flags"]
    no_down = next(p for p in doc["problems"] if p["code"] == "no-down")
    assert not no_down["fails_check"]
    run_cli("-path", str(folder), "-database", db.url, "force", "9")
    db.execute("UPDATE schema_migrations SET dirty = " + ("true" if db.dialect == "postgres" else "1"))
    problems = status(folder, db.url)["problems"]
    assert {"dirty", "version-missing", "no-down"} <= {p["code"] for p in problems}
    dirty = next(p for p in problems if p["code"] == "dirty")
    assert dirty["message"] == "the database is dirty at version 9: a migration did not finish"


def test_misnamed_files_are_reported_by_name(sqlite_url: str, tmp_path: Path) -> None:
    folder = write_migrations(tmp_path / "m", {
        **files(), "000005_up.sql": "SELECT 1;", "6_x.UP.sql": "SELECT 1;", "7_x.sql": "SELECT 1;",
        "README.md": "notes",
    })
    result = run_cli("-path", str(folder), "-database", sqlite_url, "status")
    for name in ("000005_up.sql", "6_x.UP.sql", "7_x.sql"):
        assert name in result.stderr  # warned as soon as the folder is read
        assert name in result.stdout  # and listed among the problems
    assert "README.md" not in result.output


def test_status_reads_without_creating_anything(pg_url: str, pg_plain_url: str, tmp_path: Path) -> None:
    import psycopg

    folder = write_migrations(tmp_path / "m", files())
    doc = status(folder, pg_url)
    assert doc["version"] is None and doc["pending"] == [1, 2, 4] and not doc["history_available"]
    with psycopg.connect(pg_plain_url) as conn:
        assert conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema='public'"
                            ).fetchone() == (0,)


def test_the_history_steps_status_reads_hold_the_same_facts_as_whole_records(db: TestDatabase, tmp_path: Path) -> None:
    """``status`` reads what it needs of the history's rows (on PostgreSQL, as named rows, with
    the applied time as one value): the same values, row for row, as the whole records, and the
    same report built from either."""
    from safemigrate.drivers import open_driver
    from safemigrate.history import HistoryTable
    from safemigrate.source import load_source
    from safemigrate.status import build_status

    folder = write_migrations(tmp_path / "m", files())
    args = ("-path", str(folder), "-database", db.url)
    run_cli(*args, "up")
    run_cli(*args, "down", "1")  # a down step: version 4 no longer applied
    run_cli(*args, "up")
    assert run_cli(*args, "force", "4").exit_code == 0  # a forced step: nothing status replays
    (folder / "000002_b.up.sql").write_text("CREATE TABLE b (id INTEGER, edited INTEGER);\n")
    (folder / "000003_c.up.sql").write_text("CREATE TABLE c (id INTEGER);\n")  # skipped
    driver = open_driver(db.url)
    driver.connect()
    try:
        table = HistoryTable(driver)
        records, steps = table.read(), table.read_steps()
        state = driver.read_version()
    finally:
        driver.close()
    facts = ("version", "direction", "outcome", "from_version", "checksum", "applied_at", "os_user", "host",
             "db_user")
    replayed = [r for r in records if r.outcome == "applied" and r.direction in ("up", "down")]
    assert len(records) == 6 and records[-1].direction == "force"
    if driver.dialect == "postgres":  # only the steps status replays
        assert len(steps) == len(replayed) == 5
        assert [[getattr(s, f) for f in facts] for s in steps] == [[getattr(r, f) for f in facts] for r in replayed]
    else:
        assert steps == records
    source = load_source(folder)
    built = [build_status(source, state, history, database="d", history_available=True).to_dict()
             for history in (records, steps)]
    assert built[0] == built[1]
    assert {p["code"] for p in built[0]["problems"]} >= {"edited", "skipped"}


@pytest.mark.parametrize("datestyle", ["ISO, MDY", "SQL, DMY"])
def test_the_applied_time_status_reads_is_the_stored_time_as_an_aware_utc_datetime(
        pg_url: str, pg_plain_url: str, tmp_path: Path, datestyle: str) -> None:
    """On PostgreSQL the history's applied time comes as UTC text (one value, cheaper to load than a
    timestamptz in the session's zone): exactly the stored instant, to the microsecond, whole
    seconds and a step that never finished included; a session whose DateStyle is not ISO (the
    text would not parse) reads the whole records instead, with the same values."""
    import psycopg

    from safemigrate.drivers import open_driver
    from safemigrate.history import HistoryTable

    folder = write_migrations(tmp_path / "m", files())
    assert run_cli("-path", str(folder), "-database", pg_url, "up").exit_code == 0
    stored = [datetime(2026, 12, 1, 10, 0, 0, 0, tzinfo=UTC),  # whole second: no fraction in the text
              datetime(1999, 12, 31, 23, 59, 59, 40000, tzinfo=UTC),  # PostgreSQL prints .04
              datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)]
    with psycopg.connect(pg_plain_url, autocommit=True) as conn:
        ids = [row[0] for row in conn.execute("SELECT id FROM safemigrate_history ORDER BY id")]
        for row_id, when in zip(ids, stored, strict=True):
            conn.execute("UPDATE safemigrate_history SET finished_at = %s WHERE id = %s", (when, row_id))
        conn.execute("UPDATE safemigrate_history SET finished_at = NULL, started_at = %s WHERE id = %s",
                     (datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=-3, minutes=-30))), ids[2]))
        name = conn.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
        conn.execute(f"ALTER DATABASE \"{name}\" SET datestyle = '{datestyle}'")
    driver = open_driver(pg_url)
    driver.connect()
    try:
        steps = HistoryTable(driver).read_steps()
    finally:
        driver.close()
    expected = [*stored[:2], datetime(2026, 1, 2, 6, 34, 5, 6, tzinfo=UTC)]
    assert [step.applied_at for step in steps] == expected
    assert all(step.applied_at.utcoffset() == timedelta(0) for step in steps)
    assert [step.applied_at.isoformat() for step in steps] == [when.isoformat() for when in expected]


def test_applied_times_are_shown_in_utc_whatever_the_sessions_time_zone(pg_url: str, pg_plain_url: str,
                                                                        tmp_path: Path) -> None:
    import os

    import psycopg

    folder = write_migrations(tmp_path / "m", files())
    assert run_cli("-path", str(folder), "-database", pg_url, "up", "2").exit_code == 0
    with psycopg.connect(pg_plain_url) as conn:
        utc = [row[0] for row in conn.execute(
            "SELECT to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') FROM safemigrate_history "
            "ORDER BY id")]
    # libpq sets the session's TimeZone from $PGTZ: psycopg then gives every timestamptz in that zone.
    env = {**os.environ, "PGTZ": "America/St_Johns", "NO_COLOR": "1"}
    table = run_cli("-path", str(folder), "-database", pg_url, "status", env=env)
    assert sum(f"{when} UTC" in table.stdout for when in utc) == len(utc) == 2, table.stdout
    history = run_cli("-path", str(folder), "-database", pg_url, "history", env=env)
    assert all(any(line.startswith(when) for line in history.stdout.splitlines()) for when in utc), history.stdout
    doc = run_cli("-path", str(folder), "-database", pg_url, "--format", "json", "history", env=env).json()
    assert json.dumps(doc).count("-03:30") == 0 and "+00:00" in json.dumps(doc)
