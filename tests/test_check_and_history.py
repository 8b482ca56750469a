"""check --expect (runbook Scenario 3: "verify versions match") and history, on every driver."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import TestDatabase, run_cli, unique_name, write_migrations

FILES = {
    "000001_users.up.sql": "CREATE TABLE users (id INTEGER);\n",
    "000001_users.down.sql": "DROP TABLE users;\n",
    "000002_rooms.up.sql": "CREATE TABLE rooms (id INTEGER);\n",
    "000002_rooms.down.sql": "DROP TABLE rooms;\n",
    "000003_broken.up.sql": "CREATE TABLE ok_part (id INTEGER);\nTHIS IS NOT SQL;\n",
    "000003_broken.down.sql": "DROP TABLE ok_part;\n",
}


def migrated(db: TestDatabase, tmp_path: Path, steps: int = 2) -> tuple[str, ...]:
    folder = write_migrations(tmp_path / "m", FILES)
    args = ("-path", str(folder), "-database", db.url)
    assert run_cli(*args, "up", str(steps)).exit_code == 0
    return args


def test_check_expect_passes_at_the_expected_clean_version(db: TestDatabase, tmp_path: Path) -> None:
    args = migrated(db, tmp_path)
    result = run_cli(*args, "check", "--expect", "2")
    assert (result.exit_code, result.stdout.strip()) == (0, "ok: the database is at version 2")
    data = run_cli(*args, "check", "--expect", "2", "--format", "json").json()
    assert (data["ok"], data["version"], data["dirty"], data["expect"]) == (True, 2, False, 2)


def test_check_expect_fails_with_both_versions_and_the_goto_command(db: TestDatabase, tmp_path: Path) -> None:
    args = migrated(db, tmp_path)
    result = run_cli(*args, "check", "--expect", "1")
    assert result.exit_code == 1
    assert "the database is at version 2, expected 1" in result.stderr
    assert "safemigrate goto 1" in result.stderr
    data = run_cli(*args, "check", "--expect", "1", "--json")
    assert data.exit_code == 1
    error = data.json()["error"]
    assert (error["type"], error["version"], error["expect"]) == ("check_failed", 2, 1)


def test_check_expect_at_least_accepts_a_newer_schema_only(db: TestDatabase, tmp_path: Path) -> None:
    args = migrated(db, tmp_path)
    assert run_cli(*args, "check", "--expect-at-least", "1").exit_code == 0
    assert run_cli(*args, "check", "--expect-at-least", "2").exit_code == 0
    older = run_cli(*args, "check", "--expect-at-least", "3")
    assert older.exit_code == 1 and "expected at least 3" in older.stderr


def test_check_fails_on_a_dirty_database_even_at_the_expected_version(db: TestDatabase,
                                                                       tmp_path: Path) -> None:
    args = migrated(db, tmp_path)
    assert run_cli(*args, "force", "2").exit_code == 0
    db.execute("UPDATE schema_migrations SET dirty = " + ("1" if db.dialect != "postgres" else "true"))
    result = run_cli(*args, "check", "--expect", "2")
    assert result.exit_code == 1
    assert "version 2 (dirty)" in result.stderr


def test_check_fails_on_a_database_with_no_version(db: TestDatabase, tmp_path: Path) -> None:
    folder = write_migrations(tmp_path / "m", FILES)
    result = run_cli("-path", str(folder), "-database", db.url, "check", "--expect", "0")
    assert result.exit_code == 1
    assert "the database has no version yet, expected 0" in result.stderr


@pytest.mark.parametrize("options", [(), ("--expect", "1", "--expect-at-least", "1")])
def test_check_needs_exactly_one_expectation(tmp_path: Path, options: tuple[str, ...]) -> None:
    result = run_cli("-database", f"sqlite3://{tmp_path / 'x.db'}", "check", *options)
    assert result.exit_code == 2
    assert "exactly one of --expect" in result.stderr
    assert not (tmp_path / "x.db").exists()


def test_history_lists_every_step_with_direction_and_outcome(db: TestDatabase, tmp_path: Path) -> None:
    args = migrated(db, tmp_path)
    assert run_cli(*args, "down", "1").exit_code == 0
    assert run_cli(*args, "up").exit_code == 1  # 2 applies again, 3 fails
    data = run_cli(*args, "history", "--format", "json").json()
    steps = [(r["version"], r["direction"], r["outcome"]) for r in data["records"]]
    assert steps[:4] == [(1, "up", "applied"), (2, "up", "applied"), (2, "down", "applied"),
                         (2, "up", "applied")]
    assert steps[4][:2] == (3, "up") and steps[4][2] == "failed"
    assert data["records"][4]["error"]

    text = run_cli(*args, "history", "--limit", "2")
    assert text.exit_code == 0
    lines = text.stdout.splitlines()
    assert lines[0].split()[:3] == ["WHEN", "(UTC)", "VERSION"]
    assert len(lines) == 4  # header, two rows, the "last 2 of 5" note
    assert "failed" in lines[2] and "the last 2 of 5 steps" in lines[3]

    only = run_cli(*args, "history", "--migration", "2", "--json").json()
    assert [r["direction"] for r in only["records"]] == ["up", "down", "up"]


def test_history_on_a_database_safemigrate_never_touched_says_so(db: TestDatabase, tmp_path: Path) -> None:
    result = run_cli("-database", db.url, "history")
    assert result.exit_code == 0
    assert result.stdout.startswith("no history yet")


@pytest.mark.postgres
def test_check_and_history_work_for_a_read_only_role(pg_url: str, pg_plain_url: str, tmp_path: Path) -> None:
    import psycopg

    from support import with_password

    folder = write_migrations(tmp_path / "m", FILES)
    assert run_cli("-path", str(folder), "-database", pg_url, "up", "2").exit_code == 0
    role = unique_name("reader")
    with psycopg.connect(pg_plain_url, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        conn.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"')
    try:
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(pg_plain_url)
        host = parts.netloc.rpartition("@")[2]
        reader = with_password(urlunsplit(parts._replace(netloc=f"{role}@{host}")))
        assert run_cli("-database", reader, "check", "--expect", "2").exit_code == 0
        history = run_cli("-database", reader, "history", "--json")
        assert history.exit_code == 0, history.output
        assert len(history.json()["records"]) == 2
    finally:
        with psycopg.connect(pg_plain_url, autocommit=True) as conn:
            conn.execute(f'DROP OWNED BY "{role}"')
            conn.execute(f'DROP ROLE "{role}"')
