"""x-migrations-table is a name, never SQL; a table that is not a version table is left alone;
a role's missing privilege is named with the GRANT that fixes it; force refuses a version the
table cannot hold; down over versions without a down file says that nothing was undone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest

from support import TestDatabase, as_role, login_role, run_cli, write_migrations

FILES = {"1_a.up.sql": "CREATE TABLE a (id INTEGER);\n", "1_a.down.sql": "DROP TABLE a;\n",
         "2_b.up.sql": "CREATE TABLE b (id INTEGER);\n", "2_b.down.sql": "DROP TABLE b;\n"}


def with_param(url: str, name: str, value: str) -> str:
    return url + ("&" if "?" in url else "?") + f"{name}={quote(value, safe='')}"


@pytest.mark.parametrize("command", ["up", "status", "version"])
def test_x_migrations_table_naming_an_application_table_is_refused_and_nothing_is_touched(
    db: TestDatabase, tmp_path: Path, command: str
) -> None:
    db.execute("CREATE TABLE users (id INTEGER, name VARCHAR(20))")
    db.execute("INSERT INTO users VALUES (1, 'ann')")
    folder = write_migrations(tmp_path / "m", FILES)
    result = run_cli("-path", str(folder), "-database", with_param(db.url, "x-migrations-table", "users"),
                     command)
    assert result.exit_code == 2, result.output
    assert "is an existing table without golang-migrate's version and dirty columns" in result.stderr
    assert "internal error" not in result.output
    assert db.tables() == {"users"}
    assert db.query("SELECT id, name FROM users") == [(1, "ann")]


@pytest.mark.parametrize("name", ["my-migrations", "loot AS SELECT * FROM users --"])
def test_x_migrations_table_is_quoted_as_a_name_on_every_database(db: TestDatabase, tmp_path: Path,
                                                                  name: str) -> None:
    db.execute("CREATE TABLE users (id INTEGER)")
    folder = write_migrations(tmp_path / "m", FILES)
    url = with_param(db.url, "x-migrations-table", name)
    result = run_cli("-path", str(folder), "-database", url, "up")
    assert result.exit_code == 0, result.output
    assert db.tables() == {"users", name, "a", "b", "safemigrate_history"}
    assert run_cli("-path", str(folder), "-database", url, "version").stdout.strip() == "2"


def test_force_beyond_the_largest_version_is_refused_and_nothing_is_written(sqlite_url: str,
                                                                             tmp_path: Path) -> None:
    folder = write_migrations(tmp_path / "m", FILES)
    assert run_cli("-path", str(folder), "-database", sqlite_url, "up", "1").exit_code == 0
    result = run_cli("-path", str(folder), "-database", sqlite_url, "force", str(2**63))
    assert result.exit_code == 2, result.output
    assert "too large" in result.stderr and "9223372036854775807" in result.stderr
    assert "internal error" not in result.output
    assert run_cli("-path", str(folder), "-database", sqlite_url, "version").stdout.strip() == "1"


def test_down_over_versions_without_a_down_file_says_nothing_was_undone(sqlite_url: str,
                                                                        tmp_path: Path) -> None:
    folder = write_migrations(tmp_path / "m", {"1_a.up.sql": "CREATE TABLE a (id INTEGER);\n",
                                               "1_a.down.sql": "DROP TABLE a;\n",
                                               "2_b.up.sql": "CREATE TABLE b (id INTEGER);\n",
                                               "3_c.up.sql": "CREATE TABLE c (id INTEGER);\n"})
    assert run_cli("-path", str(folder), "-database", sqlite_url, "up").exit_code == 0
    text = run_cli("-path", str(folder), "-database", sqlite_url, "down", "1")
    assert text.exit_code == 0, text.output
    assert "3/d c (" in text.stdout and "no down file: nothing undone" in text.stdout
    assert "1 down step(s) had no down file" in text.stderr and "nothing was undone" in text.stderr
    data = run_cli("-path", str(folder), "-database", sqlite_url, "--format", "json", "down", "1").json()
    assert data["steps_without_down_file"] == 1
    assert [s["no_down_file"] for s in data["steps"]] == [True]
    assert run_cli("-path", str(folder), "-database", sqlite_url, "version").stdout.strip() == "1"


# -- roles with missing privileges (real roles in the test PostgreSQL; dropped after) ---------------

@pytest.fixture
def role(pg_plain_url: str, postgres_admin_url: str) -> Iterator[str]:
    with login_role(pg_plain_url, postgres_admin_url, "sm_role_") as name:
        yield name


def admin_sql(pg_plain_url: str, *statements: str) -> None:
    with psycopg.connect(pg_plain_url, autocommit=True) as conn:
        for sql in statements:
            conn.execute(sql)


def test_status_of_a_role_that_may_not_read_the_version_table_names_the_missing_grant(
    pg_url: str, pg_plain_url: str, role: str, tmp_path: Path
) -> None:
    folder = write_migrations(tmp_path / "m", FILES)
    assert run_cli("-path", str(folder), "-database", pg_url, "up", "1").exit_code == 0
    result = run_cli("-path", str(folder), "-database", as_role(pg_url, role), "status")
    assert result.exit_code == 1, result.output
    assert "internal error" not in result.output
    assert f"role {role} lacks the SELECT privilege" in result.stderr
    assert f'GRANT SELECT ON "public"."schema_migrations" TO {role}' in result.stderr


def test_status_with_select_on_the_version_table_only_says_it_cannot_read_the_history(
    pg_url: str, pg_plain_url: str, role: str, tmp_path: Path
) -> None:
    folder = write_migrations(tmp_path / "m", FILES)
    assert run_cli("-path", str(folder), "-database", pg_url, "up", "1").exit_code == 0
    admin_sql(pg_plain_url, f'GRANT SELECT ON schema_migrations TO "{role}"')
    result = run_cli("-path", str(folder), "-database", as_role(pg_url, role), "status")
    assert result.exit_code == 0, result.output
    assert "no safemigrate history yet" not in result.output
    assert 'cannot read "public"."safemigrate_history"' in result.stdout
    assert f'GRANT SELECT ON "public"."safemigrate_history" TO {role}' in result.stdout
    data = run_cli("-path", str(folder), "-database", as_role(pg_url, role), "--json", "status").json()
    assert data["history_available"] is False and "lacks the SELECT privilege" in data["history_error"]


def test_up_by_a_role_that_may_not_write_the_history_names_the_grant_and_migrates_without_it(
    pg_url: str, pg_plain_url: str, role: str, tmp_path: Path
) -> None:
    folder = write_migrations(tmp_path / "m", FILES)
    assert run_cli("-path", str(folder), "-database", pg_url, "up", "1").exit_code == 0
    admin_sql(pg_plain_url, f'GRANT CREATE ON SCHEMA public TO "{role}"',
              f'GRANT SELECT, INSERT, DELETE ON schema_migrations TO "{role}"',
              f'GRANT SELECT ON safemigrate_history TO "{role}"')
    result = run_cli("-path", str(folder), "-database", as_role(pg_url, role), "up")
    assert result.exit_code == 0, result.output
    assert "next: fix" not in result.output
    assert f'GRANT INSERT, UPDATE ON "public"."safemigrate_history" TO {role}' in result.stderr
    assert "continuing without history" in result.stderr
    assert "b" in TestDatabase("postgres", pg_url, pg_plain_url).tables()
    assert run_cli("-path", str(folder), "-database", pg_url, "version").stdout.strip() == "2"


def test_up_by_a_role_that_may_not_write_the_version_table_names_the_grant_and_changes_nothing(
    pg_url: str, pg_plain_url: str, role: str, tmp_path: Path
) -> None:
    folder = write_migrations(tmp_path / "m", FILES)
    assert run_cli("-path", str(folder), "-database", pg_url, "up", "1").exit_code == 0
    admin_sql(pg_plain_url, f'GRANT CREATE ON SCHEMA public TO "{role}"',
              f'GRANT SELECT ON schema_migrations TO "{role}"',
              f'GRANT SELECT, INSERT, UPDATE ON safemigrate_history TO "{role}"')
    result = run_cli("-path", str(folder), "-database", as_role(pg_url, role), "up")
    assert result.exit_code == 1, result.output
    assert "next: fix" not in result.output and "internal error" not in result.output
    assert f'GRANT INSERT, DELETE ON "public"."schema_migrations" TO {role}' in result.stderr
    assert "b" not in TestDatabase("postgres", pg_url, pg_plain_url).tables()


# -- MariaDB users with missing privileges (real users; dropped after) -------------------------------

@pytest.fixture
def mysql_user(mysql_url: str) -> Iterator[str]:
    db = TestDatabase("mysql", mysql_url, mysql_url)
    name = f"sm_user_{uuid.uuid4().hex[:10]}"
    db.execute(f"CREATE USER '{name}'@'%'")
    try:
        yield name
    finally:
        db.execute(f"DROP USER '{name}'@'%'")


def mysql_as(url: str, user: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{user}@{parts.hostname}:{parts.port}"))


def test_mysql_status_of_a_user_that_may_not_read_the_version_table_names_the_privilege(
    mysql_url: str, mysql_user: str, tmp_path: Path
) -> None:
    db = TestDatabase("mysql", mysql_url, mysql_url)
    folder = write_migrations(tmp_path / "m", FILES)
    assert run_cli("-path", str(folder), "-database", mysql_url, "up", "1").exit_code == 0
    database = urlsplit(mysql_url).path.lstrip("/")
    db.execute(f"GRANT SELECT ON `{database}`.`a` TO '{mysql_user}'@'%'")
    result = run_cli("-path", str(folder), "-database", mysql_as(mysql_url, mysql_user), "status")
    assert result.exit_code == 1, result.output
    assert "internal error" not in result.output
    assert "lacks a privilege" in result.stderr and "SELECT command denied" in result.stderr
    assert "GRANT SELECT" in result.stderr


def test_mysql_up_by_a_user_that_may_not_write_the_history_names_the_grant_and_changes_nothing(
    mysql_url: str, mysql_user: str, tmp_path: Path
) -> None:
    db = TestDatabase("mysql", mysql_url, mysql_url)
    folder = write_migrations(tmp_path / "m", FILES)
    assert run_cli("-path", str(folder), "-database", mysql_url, "up", "1").exit_code == 0
    database = urlsplit(mysql_url).path.lstrip("/")
    db.execute(f"GRANT CREATE ON `{database}`.* TO '{mysql_user}'@'%'")
    db.execute(f"GRANT SELECT, INSERT, DELETE ON `{database}`.`schema_migrations` TO '{mysql_user}'@'%'")
    db.execute(f"GRANT SELECT ON `{database}`.`safemigrate_history` TO '{mysql_user}'@'%'")
    result = run_cli("-path", str(folder), "-database", mysql_as(mysql_url, mysql_user), "up")
    assert result.exit_code == 1, result.output
    assert "INSERT command denied" in result.stderr
    assert "GRANT SELECT, INSERT, UPDATE, DELETE ON each of" in result.stderr
    assert db.version_row() == [(1, False)] and "b" not in db.tables()
