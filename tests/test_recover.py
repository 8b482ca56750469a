"""recover: diagnose a half-applied migration against the catalog, then finish, undo or mark it.

Every repair is checked against the schema that applying the migrations from scratch gives.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from support import (
    TestDatabase,
    run_cli,
    run_cli_process,
    unique_name,
    with_database,
    with_password,
    write_migrations,
)

CHAT = {
    "000001_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100) NOT NULL);\n",
    "000001_users.down.sql": "DROP TABLE users;\n",
    # Statement mode on PostgreSQL (CONCURRENTLY) and on MariaDB (DDL): each statement commits alone.
    "000002_last_seen.up.sql": ("CREATE TABLE rooms (id INTEGER PRIMARY KEY);\n"
                                "ALTER TABLE users ADD COLUMN last_seen VARCHAR(30);\n"
                                "CREATE INDEX idx_users_last_seen ON users (last_seen);\n"
                                "ALTER TABLE users ADD COLUMN nickname VARCHAR(30);\n"
                                "CREATE TABLE memberships (user_id INTEGER, room_id INTEGER);\n"),
    "000002_last_seen.down.sql": ("DROP TABLE IF EXISTS memberships;\n"
                                  "ALTER TABLE users DROP COLUMN IF EXISTS nickname;\n"
                                  "DROP INDEX IF EXISTS idx_users_last_seen;\n"
                                  "ALTER TABLE users DROP COLUMN IF EXISTS last_seen;\n"
                                  "DROP TABLE IF EXISTS rooms;\n"),
}
STATEMENTS_2 = CHAT["000002_last_seen.up.sql"].splitlines()


def schema(db: TestDatabase) -> list[tuple[Any, ...]]:
    """Tables, columns and indexes outside our bookkeeping: the catalog to compare."""
    if db.dialect == "postgres":
        sql = ("SELECT c.relname, c.relkind::text, coalesce(a.attname, ''), coalesce(i.indisvalid::text, '') "
               "FROM pg_class c LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
               "AND NOT a.attisdropped AND c.relkind = 'r' LEFT JOIN pg_index i ON i.indexrelid = c.oid "
               "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'i') "
               "AND c.relname NOT LIKE 'safemigrate%' AND c.relname NOT LIKE 'schema_migrations%' ORDER BY 1, 3")
    elif db.dialect == "mysql":
        sql = ("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = DATABASE() "
               "AND table_name NOT LIKE 'safemigrate%' AND table_name <> 'schema_migrations' "
               "UNION ALL SELECT table_name, index_name FROM information_schema.statistics "
               "WHERE table_schema = DATABASE() AND table_name NOT LIKE 'safemigrate%' "
               "AND table_name <> 'schema_migrations' ORDER BY 1, 2")
    else:
        sql = ("SELECT type, name, tbl_name FROM sqlite_schema WHERE name NOT LIKE 'safemigrate%' "
               "AND name NOT LIKE 'schema_migrations%' AND name NOT LIKE 'sqlite_%' ORDER BY 2")
    return sorted(tuple(str(x).lower() for x in row) for row in db.query(sql))


def from_scratch(db: TestDatabase, folder: Path, version: int, tmp_path: Path,
                 postgres_admin_url: str, mysql_admin_url: str | None) -> list[tuple[Any, ...]]:
    """The schema of a fresh database migrated straight to ``version``."""
    name = unique_name("sm_ref")
    if db.dialect == "postgres":
        import psycopg

        with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = with_password(with_database(postgres_admin_url, name))
        reference = TestDatabase("postgres", url, with_database(postgres_admin_url, name))
    elif db.dialect == "mysql":
        assert mysql_admin_url is not None
        admin = TestDatabase("mysql", mysql_admin_url, mysql_admin_url)
        admin.execute(f"CREATE DATABASE `{name}`")
        url = with_database(mysql_admin_url, name)
        reference = TestDatabase("mysql", url, url)
    else:
        path = tmp_path / f"{name}.db"
        url = f"sqlite3://{path}"
        reference = TestDatabase("sqlite", url, str(path))
    try:
        assert run_cli("-path", str(folder), "-database", url, "goto", str(version)).exit_code == 0
        return schema(reference)
    finally:
        if db.dialect == "postgres":
            import psycopg

            with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        elif db.dialect == "mysql":
            TestDatabase("mysql", mysql_admin_url or "", mysql_admin_url or "").execute(
                f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture
def admin_urls(request: pytest.FixtureRequest, db: TestDatabase) -> tuple[str, str | None]:
    pg = request.getfixturevalue("postgres_admin_url")
    my = request.getfixturevalue("mysql_admin_url") if db.dialect == "mysql" else None
    return pg, my


def dirty_after(db: TestDatabase, folder: Path, statements_run: int) -> None:
    """The state golang-migrate leaves when migration 2 died after ``statements_run`` statements."""
    assert run_cli("-path", str(folder), "-database", db.url, "up", "1").exit_code == 0
    db.execute("INSERT INTO users (id, email) VALUES (1, 'a@example.com'), (2, 'b@example.com')")
    for statement in STATEMENTS_2[:statements_run]:
        db.execute(statement.rstrip(";"))
    db.execute("UPDATE schema_migrations SET version = 2, dirty = " + ("true" if db.dialect == "postgres" else "1"))


def recover(db: TestDatabase, folder: Path, *args: str) -> Any:
    return run_cli("-path", str(folder), "-database", db.url, "recover", *args)


@pytest.mark.parametrize("statements_run", [1, 3])
def test_a_state_dirtied_without_our_history_is_diagnosed_from_the_catalog(
        db: TestDatabase, tmp_path: Path, statements_run: int) -> None:
    folder = write_migrations(tmp_path / "m", CHAT)
    dirty_after(db, folder, statements_run)
    result = recover(db, folder, "--format", "json")
    assert result.exit_code == 0, result.output
    data = result.json()
    assert (data["dirty"], data["version"], data["direction"], data["history_used"]) == (True, 2, "up", False)
    verdicts = [s["verdict"] for s in data["statements"]]
    assert verdicts == ["took effect"] * statements_run + ["did not run"] * (5 - statements_run)
    assert "the catalog is the only witness" in data["conclusion"]
    text = recover(db, folder)
    assert f"statement{'s 1-' + str(statements_run) if statements_run > 1 else ' 1'} of 5 took effect" \
        in text.stdout
    assert "no history of ours" in text.stdout


@pytest.mark.parametrize("choice", ["finish", "undo"])
def test_finish_and_undo_leave_the_schema_of_a_clean_run_and_every_row(
        db: TestDatabase, tmp_path: Path, choice: str, admin_urls: tuple[str, str | None]) -> None:
    folder = write_migrations(tmp_path / "m", CHAT)
    dirty_after(db, folder, 3)
    before = db.query("SELECT id, email FROM users ORDER BY id")
    result = recover(db, folder, "--apply", "--choose", choice, "--format", "json")
    assert result.exit_code == 0, result.output
    expected_version = 2 if choice == "finish" else 1
    assert db.version_row() == [(expected_version, False)]
    assert schema(db) == from_scratch(db, folder, expected_version, tmp_path, *admin_urls)
    assert db.query("SELECT id, email FROM users ORDER BY id") == before
    history = run_cli("-database", db.url, "history", "--json").json()["records"]
    assert (history[-1]["direction"], history[-1]["mode"]) == ("recover", choice)
    # Clean now: migrations carry on from here.
    assert run_cli("-path", str(folder), "-database", db.url, "up").exit_code == 0
    assert db.version_row() == [(2, False)]


def test_apply_without_choose_takes_the_only_safe_option_and_says_why(db: TestDatabase, tmp_path: Path) -> None:
    files = {**CHAT, "000002_last_seen.up.sql": "ALTER TABLE users ADD COLUMN last_seen VARCHAR(30);\n"
                                                "ALTER TABLE users DROP COLUMN email;\n"
                                                "CREATE TABLE rooms (id INTEGER PRIMARY KEY);\n",
             "000002_last_seen.down.sql": "ALTER TABLE users ADD COLUMN email VARCHAR(100);\n"}
    folder = write_migrations(tmp_path / "m", files)
    assert run_cli("-path", str(folder), "-database", db.url, "up", "1").exit_code == 0
    db.execute("ALTER TABLE users ADD COLUMN last_seen VARCHAR(30)")
    db.execute("ALTER TABLE users DROP COLUMN email")
    db.execute("UPDATE schema_migrations SET version = 2, dirty = " + ("true" if db.dialect == "postgres" else "1"))
    diagnosis = recover(db, folder, "--json").json()
    assert {o["option"]: o["safe"] for o in diagnosis["options"]} == {"finish": True, "undo": False, "mark": False}
    result = recover(db, folder, "--apply")
    assert result.exit_code == 0, result.output
    assert "finish: it is the only safe option (undo is not: statement 2: the column and its values were " \
           "dropped: only a backup has them)" in result.stdout
    assert db.version_row() == [(2, False)]


def test_a_statement_with_no_witness_is_judged_by_its_neighbours(db: TestDatabase, tmp_path: Path) -> None:
    files = {**CHAT, "000002_last_seen.up.sql": "CREATE TABLE rooms (id INTEGER PRIMARY KEY);\n"
                                                "INSERT INTO rooms (id) VALUES (1);\n"
                                                "ALTER TABLE users ADD COLUMN last_seen VARCHAR(30);\n"
                                                "UPDATE users SET last_seen = 'never';\n"
                                                "CREATE TABLE memberships (user_id INTEGER);\n"
                                                "UPDATE rooms SET id = 2;\n"}
    folder = write_migrations(tmp_path / "m", files)
    assert run_cli("-path", str(folder), "-database", db.url, "up", "1").exit_code == 0
    for statement in files["000002_last_seen.up.sql"].splitlines()[:3]:
        db.execute(statement.rstrip(";"))
    db.execute("UPDATE schema_migrations SET version = 2, dirty = " + ("true" if db.dialect == "postgres" else "1"))
    statements = recover(db, folder, "--json").json()["statements"]
    assert [s["verdict"] for s in statements] == ["took effect", "took effect", "took effect", "unknown",
                                                  "did not run", "did not run"]
    assert statements[1]["notes"] == ["inferred: statement 3 after it took effect"]
    assert statements[5]["notes"] == ["inferred: statement 5 before it did not run"]


def test_undo_when_it_is_not_safe_is_refused_and_changes_nothing(db: TestDatabase, tmp_path: Path) -> None:
    files = {**CHAT, "000002_last_seen.up.sql": "ALTER TABLE users ADD COLUMN last_seen VARCHAR(30);\n"
                                                "ALTER TABLE users DROP COLUMN email;\n"
                                                "CREATE TABLE rooms (id INTEGER PRIMARY KEY);\n",
             "000002_last_seen.down.sql": "ALTER TABLE users ADD COLUMN email VARCHAR(100);\n"}
    folder = write_migrations(tmp_path / "m", files)
    assert run_cli("-path", str(folder), "-database", db.url, "up", "1").exit_code == 0
    db.execute("ALTER TABLE users ADD COLUMN last_seen VARCHAR(30)")
    db.execute("ALTER TABLE users DROP COLUMN email")
    db.execute("UPDATE schema_migrations SET version = 2, dirty = " + ("true" if db.dialect == "postgres" else "1"))
    before = schema(db)
    result = recover(db, folder, "--apply", "--choose", "undo")
    assert result.exit_code == 2
    assert "--choose undo is not safe here" in result.stderr and "only a backup has them" in result.stderr
    assert "safemigrate recover --apply --choose finish" in result.stderr
    assert schema(db) == before and db.version_row() == [(2, True)]


def test_recover_on_a_clean_database_says_so_and_apply_is_refused(db: TestDatabase, tmp_path: Path) -> None:
    folder = write_migrations(tmp_path / "m", CHAT)
    assert run_cli("-path", str(folder), "-database", db.url, "up").exit_code == 0
    result = recover(db, folder)
    assert (result.exit_code, result.stdout.strip()) == (0, "the database is clean at version 2: nothing to recover")
    refused = recover(db, folder, "--apply", "--choose", "finish")
    assert refused.exit_code == 2 and "nothing to recover; nothing was changed" in refused.stderr
    assert db.version_row() == [(2, False)]


def test_recover_on_an_empty_database_says_it_has_no_version(db: TestDatabase, tmp_path: Path) -> None:
    folder = write_migrations(tmp_path / "m", CHAT)
    result = recover(db, folder)
    assert (result.exit_code, result.stdout.strip()) == (0, "the database has no version yet: nothing to recover")


def test_recover_without_a_database_url_is_a_usage_error(tmp_path: Path) -> None:
    folder = write_migrations(tmp_path / "m", CHAT)
    result = run_cli("-path", str(folder), "recover", env={"PATH": "/usr/bin:/bin"})
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_mark_needs_confirmation_then_records_who(db: TestDatabase, tmp_path: Path) -> None:
    folder = write_migrations(tmp_path / "m", CHAT)
    dirty_after(db, folder, 5)
    refused = recover(db, folder, "--apply", "--choose", "mark")
    assert refused.exit_code == 2 and "needs confirmation" in refused.stderr
    assert db.version_row() == [(2, True)]
    done = recover(db, folder, "--apply", "--choose", "mark", "--yes", "--json")
    assert done.exit_code == 0, done.output
    assert db.version_row() == [(2, False)]
    last = run_cli("-database", db.url, "history", "--json").json()["records"][-1]
    assert (last["direction"], last["outcome"], last["mode"]) == ("recover", "forced", "mark")
    assert last["os_user"]


@pytest.mark.parametrize("db", ["postgres"], indirect=True)
def test_an_interrupted_create_index_concurrently_is_found_invalid_and_finished(
        db: TestDatabase, tmp_path: Path) -> None:
    import threading
    import time

    import psycopg

    files = {"000001_users.up.sql": "CREATE TABLE users (id integer PRIMARY KEY, email text, "
                                    "last_seen timestamptz);\n",
             "000002_last_seen.up.sql": "CREATE TABLE rooms (id integer PRIMARY KEY);\n"
                                        "CREATE INDEX CONCURRENTLY idx_users_last_seen ON users (last_seen);\n",
             "000002_last_seen.down.sql": "DROP INDEX CONCURRENTLY IF EXISTS idx_users_last_seen;\n"
                                          "DROP TABLE IF EXISTS rooms;\n"}
    folder = write_migrations(tmp_path / "m", files)
    assert run_cli("-path", str(folder), "-database", db.url, "up", "1").exit_code == 0
    plain = db._connect_to
    # A transaction CONCURRENTLY must wait for; the test then ends the index build's backend.
    with psycopg.connect(plain) as holder:
        holder.execute("INSERT INTO users (id, email) VALUES (99, 'held@example.com')")
        done: list[Any] = []

        def run_up() -> None:
            done.append(run_cli_process("-path", str(folder), "-database", db.url, "up"))

        worker = threading.Thread(target=run_up)
        worker.start()
        with psycopg.connect(plain, autocommit=True) as watcher:
            for _ in range(600):
                row = watcher.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                      "AND query LIKE 'CREATE INDEX CONCURRENTLY%' AND wait_event_type = 'Lock'").fetchone()
                if row:
                    watcher.execute("SELECT pg_terminate_backend(%s)", [row[0]])
                    break
                time.sleep(0.05)
            else:
                raise AssertionError("the index build never waited")
        worker.join(60)
    assert done[0].exit_code == 1
    diagnosis = recover(db, folder, "--json").json()
    assert [s["verdict"] for s in diagnosis["statements"]] == ["took effect", "half-built"]
    assert "index idx_users_last_seen exists but is INVALID" in diagnosis["conclusion"]
    finish = next(o for o in diagnosis["options"] if o["option"] == "finish")
    assert finish["sql"][0] == 'DROP INDEX CONCURRENTLY IF EXISTS "idx_users_last_seen"'
    result = recover(db, folder, "--apply", "--choose", "finish")
    assert result.exit_code == 0, result.output
    assert db.version_row() == [(2, False)]
    assert db.query("SELECT indisvalid FROM pg_index WHERE indexrelid = 'idx_users_last_seen'::regclass") == [(True,)]


@pytest.mark.parametrize("db", ["postgres", "mysql"], indirect=True)
def test_a_failed_down_is_dirty_at_the_lower_version_and_can_be_finished(db: TestDatabase, tmp_path: Path) -> None:
    files = {**CHAT, "000002_last_seen.down.sql": "DROP TABLE memberships;\nDROP TABLE no_such_table;\n"
                                                   "DROP TABLE rooms;\n"}
    if db.dialect == "postgres":
        files["000002_last_seen.down.sql"] = "-- safemigrate:no-transaction\n" + files["000002_last_seen.down.sql"]
    folder = write_migrations(tmp_path / "m", files)
    assert run_cli("-path", str(folder), "-database", db.url, "up").exit_code == 0
    assert run_cli("-path", str(folder), "-database", db.url, "down", "1").exit_code == 1
    assert db.version_row() == [(1, True)]
    data = recover(db, folder, "--json").json()
    assert (data["direction"], data["version"], data["history_used"]) == ("down", 1, True)
    assert [s["verdict"] for s in data["statements"]] == ["took effect", "did not run", "did not run"]
    assert json.dumps(data).count("no_such_table") >= 1


def test_the_dirty_database_error_and_status_point_at_recover(db: TestDatabase, tmp_path: Path) -> None:
    folder = write_migrations(tmp_path / "m", CHAT)
    dirty_after(db, folder, 2)
    up = run_cli("-path", str(folder), "-database", db.url, "up")
    assert up.exit_code == 1
    assert "Dirty database version 2. Fix and force version." in up.stderr
    assert "safemigrate recover" in up.stderr
    status = run_cli("-path", str(folder), "-database", db.url, "status")
    assert "safemigrate recover diagnoses version 2 against the catalog" in " ".join(status.output.split())


@pytest.mark.parametrize("db", ["mysql"], indirect=True)
def test_a_mariadb_file_that_failed_at_statement_3_of_5_is_diagnosed_and_finished(
        db: TestDatabase, tmp_path: Path, admin_urls: tuple[str, str | None]) -> None:
    files = {**CHAT, "000002_last_seen.up.sql": CHAT["000002_last_seen.up.sql"].replace(
        "CREATE INDEX idx_users_last_seen ON users (last_seen);", "CREATE INDEX idx_users_last_seen ON users (no_such);")}
    folder = write_migrations(tmp_path / "m", files)
    assert run_cli("-path", str(folder), "-database", db.url, "up", "1").exit_code == 0
    db.execute("INSERT INTO users (id, email) VALUES (1, 'a@example.com')")
    failed = run_cli("-path", str(folder), "-database", db.url, "up")
    assert failed.exit_code == 1 and db.version_row() == [(2, True)]
    data = recover(db, folder, "--json").json()
    assert data["history_used"] is True
    assert [s["verdict"] for s in data["statements"]] == ["took effect", "took effect", "did not run",
                                                          "did not run", "did not run"]
    assert [s["recorded"] for s in data["statements"]][:3] == ["committed", "committed", "failed"]
    # The file is fixed, then finished from where it stopped.
    write_migrations(folder, CHAT)
    result = recover(db, folder, "--apply", "--choose", "finish")
    assert result.exit_code == 0, result.output
    assert db.version_row() == [(2, False)]
    assert schema(db) == from_scratch(db, folder, 2, tmp_path, *admin_urls)
    assert db.query("SELECT id, email FROM users") == [(1, "a@example.com")]
