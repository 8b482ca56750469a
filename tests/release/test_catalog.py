"""What the pending SQL touches, looked up in a real PostgreSQL catalog."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from safemigrate.drivers import open_driver
from safemigrate.drivers.base import Driver
from safemigrate.release.catalog import (
    Target,
    blocking_sessions,
    dependents,
    relation_sizes,
    replication_lag,
    statement_targets,
)

pytestmark = pytest.mark.postgres

SCHEMA = """
CREATE TABLE users (id bigint PRIMARY KEY, email text, last_seen timestamptz, status text);
CREATE INDEX idx_users_email ON users (email);
CREATE TABLE messages (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id), body text);
CREATE VIEW active_users AS SELECT id, email FROM users WHERE last_seen > now() - interval '1 day';
CREATE TYPE mood AS ENUM ('happy', 'sad');
CREATE TABLE moods (m mood);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER users_touch BEFORE UPDATE OF status ON users FOR EACH ROW EXECUTE FUNCTION touch();
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON users USING (status = current_user);
INSERT INTO users SELECT g, 'u' || g || '@example.com', now(), 'x' FROM generate_series(1, 5000) g;
ANALYZE users;
"""


@pytest.fixture
def driver(pg_url: str, pg_plain_url: str) -> Iterator[Driver]:
    import psycopg

    with psycopg.connect(pg_plain_url, autocommit=True) as conn:
        conn.execute(SCHEMA)
    opened = open_driver(pg_url)
    opened.connect()
    try:
        yield opened
    finally:
        opened.close()


def test_statement_targets_reads_drops_renames_rewrites_and_scans() -> None:
    sql = """
    DROP TABLE public.old_a, old_b;
    ALTER TABLE users DROP COLUMN email, ALTER COLUMN id TYPE numeric, ALTER COLUMN status SET NOT NULL;
    ALTER TABLE users RENAME COLUMN last_seen TO seen_at;
    ALTER TABLE messages RENAME TO posts;
    ALTER TABLE messages ADD CONSTRAINT c CHECK (id > 0) NOT VALID;
    ALTER TABLE messages ADD CONSTRAINT d CHECK (id > 0);
    DROP TYPE mood;
    CREATE TABLE fresh (id int);
    """
    assert [t.describe() for t in statement_targets(sql) if t.action != "alter"] == [
        "drop table public.old_a", "drop table old_b",
        "drop column users.email", "rewrite column users.id", "scan column users.status",
        "rename column users.last_seen", "rename table messages",
        "scan table messages", "drop type mood",
    ]
    assert statement_targets("THIS IS NOT SQL") == []
    assert [t.describe() for t in statement_targets("ALTER TABLE users ADD COLUMN x int;")] == [
        "alter table users"]


def test_dropping_a_column_lists_the_view_index_trigger_and_policy_that_use_it(driver: Driver) -> None:
    found = {d.description: d.goes_with_it
             for d in dependents(driver, statement_targets("ALTER TABLE users DROP COLUMN email;"))}
    assert found["view active_users"] is False
    assert found["index idx_users_email"] is True
    status = {d.description for d in dependents(driver, statement_targets(
        "ALTER TABLE users DROP COLUMN status;"))}
    assert "trigger users_touch on table users" in status
    assert "policy own_rows on table users" in status
    assert dependents(driver, statement_targets("ALTER TABLE users DROP COLUMN no_such;")) == []


def test_dropping_a_table_lists_the_foreign_keys_and_views_of_other_tables(driver: Driver) -> None:
    found = {d.description for d in dependents(driver, [Target("drop", "table", "users")])}
    assert "constraint messages_user_id_fkey on table messages" in found
    assert "view active_users" in found
    renamed = {d.description for d in dependents(driver, statement_targets(
        "ALTER TABLE users RENAME TO people;"))}
    assert "view active_users" in renamed


def test_dropping_a_type_lists_the_columns_that_use_it(driver: Driver) -> None:
    found = {d.description for d in dependents(driver, statement_targets("DROP TYPE mood;"))}
    assert "column m of table moods" in found


def test_relation_sizes_of_tables_a_statement_rewrites_or_scans(driver: Driver) -> None:
    sizes = relation_sizes(driver, statement_targets(
        "ALTER TABLE users ALTER COLUMN status SET NOT NULL; ALTER TABLE users DROP COLUMN email;"
        "ALTER TABLE missing ALTER COLUMN x TYPE int;"))
    assert [s.table for s in sizes] == ["users"]
    assert sizes[0].rows == 5000 and sizes[0].bytes > 100_000
    assert [t.describe() for t in sizes[0].targets] == ["scan column users.status"]


def test_a_session_idle_in_transaction_on_the_table_is_named(driver: Driver, pg_plain_url: str) -> None:
    import psycopg

    with psycopg.connect(pg_plain_url, application_name="report-job") as blocker:
        blocker.execute("SELECT count(*) FROM users")  # opens a transaction holding ACCESS SHARE
        pid = blocker.info.backend_pid
        found = blocking_sessions(driver, ["users", "messages"])
        assert [(s.pid, s.application, s.table) for s in found] == [(pid, "report-job", "users")]
        assert found[0].state == "idle in transaction"
        assert "SELECT count(*) FROM users" in found[0].describe()
        # A short, active transaction elsewhere is not in the way.
        assert blocking_sessions(driver, ["messages"]) == []


def test_replication_lag_is_empty_without_replicas(driver: Driver) -> None:
    assert replication_lag(driver) == []
