"""Same database, same table, same lock as golang-migrate, so a team can switch either way."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from safemigrate import LockTimeoutError, Migrator, load_source, open_driver
from safemigrate.drivers.postgres import advisory_lock_id
from support import database_name, run_cli, write_migrations


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_migrations(tmp_path / "m", {
        "1_a.up.sql": "CREATE TABLE a (id integer);\n",
        "1_a.down.sql": "DROP TABLE a;\n",
        "2_b.up.sql": "CREATE TABLE b (id integer);\n",
    })


def test_lock_id_matches_golang_migrates_known_vector() -> None:
    assert advisory_lock_id("database_name") == 1764327054


def test_lock_id_keys_on_schema_table_and_the_url_path_with_its_slash(pg_url: str) -> None:
    driver = open_driver(pg_url)
    driver.connect()
    try:
        assert driver.lock_key == advisory_lock_id(  # type: ignore[attr-defined]
            "/" + database_name(pg_url), "public", "schema_migrations")  # type: ignore[attr-defined]
    finally:
        driver.close()


def test_version_table_has_golang_migrates_exact_shape(pg_url: str, pg_plain_url: str, folder: Path) -> None:
    assert run_cli("-path", str(folder), "-database", pg_url, "up", "1").exit_code == 0
    with psycopg.connect(pg_plain_url) as conn:
        columns = conn.execute(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
            "WHERE table_name = 'schema_migrations' ORDER BY ordinal_position").fetchall()
        key = conn.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'schema_migrations'::regclass "
            "AND i.indisprimary").fetchall()
        rows = conn.execute("SELECT version, dirty FROM schema_migrations").fetchall()
    assert columns == [("version", "bigint", "NO"), ("dirty", "boolean", "NO")]
    assert key == [("version",)]
    assert rows == [(1, False)]


def test_a_database_written_by_golang_migrate_is_picked_up(pg_url: str, pg_plain_url: str, folder: Path) -> None:
    with psycopg.connect(pg_plain_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE schema_migrations (version bigint not null primary key, dirty boolean not null)")
        conn.execute("CREATE TABLE a (id integer)")
        conn.execute("INSERT INTO schema_migrations VALUES (1, false)")
    result = run_cli("-path", str(folder), "-database", pg_url, "up")
    assert result.exit_code == 0 and result.stdout.startswith("2/u b")


def test_lock_held_by_another_session_times_out_naming_the_holder(pg_url: str, pg_plain_url: str,
                                                                   folder: Path) -> None:
    driver = open_driver(pg_url)
    driver.connect()
    key = driver.lock_key  # type: ignore[attr-defined]
    driver.close()
    with psycopg.connect(pg_plain_url, autocommit=True, application_name="golang-migrate-ish") as other:
        other.execute("SELECT pg_advisory_lock(%s)", (key,))
        pid = other.info.backend_pid
        result = run_cli("-path", str(folder), "-database", pg_url, "-lock-timeout", "1", "up")
        assert result.exit_code == 1
        assert "timeout: can't acquire database lock" in result.stderr
        assert f"pid {pid}" in result.stderr and "golang-migrate-ish" in result.stderr
        assert f"pg_terminate_backend({pid})" in result.stderr
    # Nothing ran, and once the holder is gone the same command works.
    assert run_cli("-path", str(folder), "-database", pg_url, "up").exit_code == 0


def test_the_lock_timeout_also_covers_creating_the_version_table(pg_url: str, pg_plain_url: str,
                                                                   folder: Path) -> None:
    # golang-migrate takes the lock to create its table without any timeout and hangs;
    # here the very first lock already honours -lock-timeout.
    m = Migrator(load_source(folder), open_driver(pg_url), lock_timeout=0.5)
    with m:
        key = m.driver.lock_key  # type: ignore[attr-defined]
    with psycopg.connect(pg_plain_url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (key,))
        with m, pytest.raises(LockTimeoutError):
            m.up()
        with psycopg.connect(pg_plain_url) as check:
            assert check.execute("SELECT to_regclass('schema_migrations')").fetchone() == (None,)


def test_x_migrations_table_and_quoted_schema_are_honoured(pg_url: str, pg_plain_url: str, folder: Path) -> None:
    with psycopg.connect(pg_plain_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA migrate")
    custom = pg_url + ("&" if "?" in pg_url else "?") + "x-migrations-table=my_versions"
    assert run_cli("-path", str(folder), "-database", custom, "up", "1").exit_code == 0
    quoted = pg_url + ("&" if "?" in pg_url else "?") + \
        "x-migrations-table=%22migrate%22.%22versions%22&x-migrations-table-quoted=1"
    assert run_cli("-path", str(folder), "-database", quoted, "force", "2").exit_code == 0
    with psycopg.connect(pg_plain_url) as conn:
        assert conn.execute("SELECT version FROM public.my_versions").fetchall() == [(1,)]
        assert conn.execute("SELECT version FROM migrate.versions").fetchall() == [(2,)]
        assert conn.execute("SELECT to_regclass('migrate.safemigrate_history')").fetchone() != (None,)


def test_unquoted_table_with_quoted_flag_is_refused(pg_url: str, folder: Path) -> None:
    bad = pg_url + ("&" if "?" in pg_url else "?") + "x-migrations-table=versions&x-migrations-table-quoted=true"
    result = run_cli("-path", str(folder), "-database", bad, "up")
    assert result.exit_code == 2 and "must be quoted" in result.stderr


def test_search_path_in_the_url_picks_the_schema(pg_url: str, pg_plain_url: str, folder: Path) -> None:
    with psycopg.connect(pg_plain_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA app")
    url = pg_url + ("&" if "?" in pg_url else "?") + "search_path=app&x-custom-thing=1"
    assert run_cli("-path", str(folder), "-database", url, "up").exit_code == 0
    with psycopg.connect(pg_plain_url) as conn:
        assert conn.execute("SELECT version FROM app.schema_migrations").fetchall() == [(2,)]
        assert conn.execute("SELECT to_regclass('app.a'), to_regclass('public.a')").fetchone() == ("app.a", None)


def test_sqlite_version_table_has_golang_migrates_ddl(sqlite_url: str, folder: Path, tmp_path: Path) -> None:
    import sqlite3

    assert run_cli("-path", str(folder), "-database", sqlite_url, "up").exit_code == 0
    with sqlite3.connect(tmp_path / "test.db") as conn:
        ddl = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'schema_migrations'").fetchone()[0]
        index = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'version_unique'").fetchone()[0]
    assert ddl == "CREATE TABLE schema_migrations (version uint64,dirty bool)"
    assert index == "CREATE UNIQUE INDEX version_unique ON schema_migrations (version)"
