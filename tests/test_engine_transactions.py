"""How migrations run: one transaction where possible, statement by statement where not.

Scenario tests use the ``db`` fixture and so run on every driver; where a
database cannot do something (MySQL has no transactional DDL) the test states
the expected difference.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from safemigrate import (
    MigrationFailedError,
    Migrator,
    UsageError,
    VersionState,
    load_source,
    open_driver,
)
from support import TestDatabase, write_migrations

RUNBOOK_EXAMPLE = """-- 000004_add_last_seen.up.sql
BEGIN;

-- Add column with default (safe)
ALTER TABLE users
ADD COLUMN last_seen TIMESTAMP DEFAULT NOW();

-- Create index concurrently (no table lock)
COMMIT;
CREATE INDEX CONCURRENTLY idx_users_last_seen ON users(last_seen);
"""


def make(db: TestDatabase, folder: Path, files: dict[str, str]) -> Migrator:
    return Migrator(load_source(write_migrations(folder, files)), open_driver(db.url), lock_timeout=5)


def test_a_failing_migration_leaves_the_previous_clean_version(db: TestDatabase, tmp_path: Path) -> None:
    m = make(db, tmp_path / "m", {
        "1_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY);\n",
        "2_broken.up.sql": "CREATE TABLE orders (id INTEGER);\nINSERT INTO missing_table VALUES (1);\n",
    })
    with m, pytest.raises(MigrationFailedError) as caught:
        m.up()
    error = caught.value
    assert error.details["line"] == 2
    assert error.details["file"].endswith("2_broken.up.sql")
    if db.transactional_ddl:
        # One transaction: the CREATE TABLE before the failure is rolled back with it.
        assert db.version_row() == [(1, False)]
        assert "orders" not in db.tables()
        assert error.details["statements_committed"] == 0
        assert "rolled back" in "\n".join(error.report_lines)
    else:
        # No transactional DDL: the CREATE TABLE committed, so the version stays dirty.
        assert db.version_row() == [(2, True)]
        assert "orders" in db.tables()
        assert error.details["statements_committed"] == 1
    assert "users" in db.tables()


def test_failure_report_names_file_line_column_message_and_next_command(
    db: TestDatabase, tmp_path: Path
) -> None:
    m = make(db, tmp_path / "m", {
        "1_t.up.sql": "CREATE TABLE t (id INTEGER);\n\nSELECT id,\n       no_such_column\n  FROM t;\n",
    })
    with m, pytest.raises(MigrationFailedError) as caught:
        m.up()
    error = caught.value
    assert error.details["statement_index"] == 2
    assert error.hint
    assert "safemigrate" in error.hint
    report = "\n".join(error.report_lines)
    assert "no_such_column" in (error.details["database_error"]["message"] + report)
    if db.dialect == "postgres":
        # PostgreSQL gives the position of the offending word: line 4, column 8.
        assert (error.details["line"], error.details["column"]) == (4, 8)
        assert "4 |        no_such_column" in report
    else:
        assert error.details["line"] == 3


def test_the_runbooks_example_safe_migration_applies_as_written(pg_url: str, tmp_path: Path) -> None:
    # golang-migrate fails on this file (CREATE INDEX CONCURRENTLY in a multi-statement
    # query) and leaves the database dirty; safemigrate runs it statement by statement.
    m = Migrator(load_source(write_migrations(tmp_path / "m", {
        "000003_users.up.sql": "CREATE TABLE users (id bigint PRIMARY KEY, name text);\n",
        "000004_add_last_seen.up.sql": RUNBOOK_EXAMPLE,
        "000004_add_last_seen.down.sql": "DROP INDEX IF EXISTS idx_users_last_seen;\n"
                                         "ALTER TABLE users DROP COLUMN IF EXISTS last_seen;\n",
    })), open_driver(pg_url), lock_timeout=5)
    with m:
        result = m.up()
        assert [s.mode for s in result.steps] == ["transaction", "statements"]
        assert m.version().version == 4 and not m.version().dirty
        rows = m.driver.query("SELECT indisvalid FROM pg_index WHERE indexrelid = 'idx_users_last_seen'::regclass")
        assert rows == [(True,)]
        history = m.read_history()
        assert history[-1].statements_committed == 4 and history[-1].outcome == "applied"
        m.down(1)
        assert m.version().version == 3


def test_dollar_quoted_bodies_comments_and_strings_survive_splitting(pg_url: str, tmp_path: Path) -> None:
    body = """-- a comment; with a semicolon
CREATE FUNCTION add_one(i integer) RETURNS integer AS $$
BEGIN
    RETURN i + 1; -- semicolon inside the body
END;
$$ LANGUAGE plpgsql;
CREATE TABLE notes (body text DEFAULT 'a;b');
/* block; comment */
CREATE INDEX CONCURRENTLY notes_body ON notes (body);
"""
    m = Migrator(load_source(write_migrations(tmp_path / "m", {"1_f.up.sql": body})),
                 open_driver(pg_url), lock_timeout=5)
    with m:
        m.up()
        assert m.driver.query("SELECT add_one(41), (SELECT column_default FROM information_schema.columns "
                              "WHERE table_name = 'notes')") == [(42, "'a;b'::text")]


def test_statement_mode_failure_reports_what_committed_and_stays_dirty(
    db: TestDatabase, tmp_path: Path
) -> None:
    m = make(db, tmp_path / "m", {
        "1_a.up.sql": "-- safemigrate:no-transaction\n"
                      "CREATE TABLE a (id INTEGER);\n"
                      "CREATE TABLE b (id INTEGER);\n"
                      "INSERT INTO nowhere VALUES (1);\n"
                      "CREATE TABLE c (id INTEGER);\n",
    })
    with m, pytest.raises(MigrationFailedError) as caught:
        m.up()
    error = caught.value
    assert error.details["mode"] == "statements"
    assert error.details["statements_committed"] == 2
    assert (error.details["statement_index"], error.details["line"]) == (3, 4)
    assert db.version_row() == [(1, True)]
    assert {"a", "b"} <= db.tables() and "c" not in db.tables()
    report = "\n".join(error.report_lines)
    assert "statements 1-2 of 4 (lines 2-3) were committed" in report
    assert "safemigrate force -1" in (error.hint or "") and "safemigrate force 1" in (error.hint or "")
    with m:
        (record,) = [r for r in m.read_history() if r.version == 1]
        assert (record.outcome, record.statements_committed, record.statements_total) == ("failed", 2, 4)


def test_statement_mode_failure_before_anything_committed_restores_the_clean_version(
    db: TestDatabase, tmp_path: Path
) -> None:
    m = make(db, tmp_path / "m", {
        "1_a.up.sql": "CREATE TABLE a (id INTEGER);\n",
        "2_b.up.sql": "-- safemigrate:no-transaction\nINSERT INTO nowhere VALUES (1);\nCREATE TABLE b (id INTEGER);\n",
    })
    with m, pytest.raises(MigrationFailedError) as caught:
        m.up()
    assert db.version_row() == [(1, False)]
    assert caught.value.details["version_after"] == {"version": 1, "dirty": False}


def test_history_records_every_step(db: TestDatabase, tmp_path: Path) -> None:
    up = "CREATE TABLE h (id INTEGER);\n"
    m = make(db, tmp_path / "m", {"1_h.up.sql": up, "1_h.down.sql": "DROP TABLE h;\n"})
    with m:
        m.up()
        m.down(1)
        m.force(1)
        records = m.read_history()
    assert [(r.version, r.direction, r.outcome) for r in records] == [
        (1, "up", "applied"), (1, "down", "applied"), (1, "force", "forced")]
    first = records[0]
    assert first.checksum == hashlib.sha256(up.encode()).hexdigest()
    assert first.name == "h" and first.from_version is None and first.to_version == 1
    assert first.finished_at is not None and first.finished_at >= first.started_at
    assert first.duration_ms is not None and first.duration_ms >= 0
    assert first.os_user and first.host and first.tool_version
    if db.dialect != "sqlite":
        assert first.db_user
    assert records[1].from_version == 1 and records[1].to_version is None


def test_atomic_up_is_all_or_nothing(db: TestDatabase, tmp_path: Path) -> None:
    m = make(db, tmp_path / "m", {
        "1_a.up.sql": "CREATE TABLE a (id INTEGER);\n",
        "2_b.up.sql": "CREATE TABLE b (id INTEGER);\n",
        "3_c.up.sql": "INSERT INTO nowhere VALUES (1);\n",
    })
    if not db.transactional_ddl:
        with m, pytest.raises(UsageError, match="transactional DDL"):
            m.up(atomic=True)
        assert db.version_row() == []
        return
    with m, pytest.raises(MigrationFailedError) as caught:
        m.up(atomic=True)
    assert db.version_row() == []
    assert not {"a", "b"} & db.tables()
    assert "the atomic run put all 3 migrations in one transaction" in "\n".join(caught.value.report_lines)
    # Statements are sent without waiting for each result, and the failure still names its own.
    assert caught.value.details["file"].endswith("3_c.up.sql")
    assert (caught.value.details["line"], caught.value.details["statement_index"]) == (1, 1)
    with m:
        assert [(r.version, r.outcome) for r in m.read_history()] == [(3, "failed")]
    (tmp_path / "m" / "3_c.up.sql").write_text("CREATE TABLE c (id INTEGER);\n")
    m = make(db, tmp_path / "m", {})
    with m:
        result = m.up(atomic=True)
    assert [s.mode for s in result.steps] == ["atomic"] * 3
    assert db.version_row() == [(3, False)]


def test_atomic_refuses_up_front_a_file_that_cannot_run_in_a_transaction(
    pg_url: str, tmp_path: Path
) -> None:
    m = Migrator(load_source(write_migrations(tmp_path / "m", {
        "1_a.up.sql": "CREATE TABLE a (id integer);\n",
        "2_i.up.sql": "CREATE INDEX CONCURRENTLY a_id ON a (id);\n",
    })), open_driver(pg_url), lock_timeout=5)
    with m, pytest.raises(UsageError) as caught:
        m.up(atomic=True)
    assert "2_i.up.sql" in caught.value.message and "line 1" in caught.value.message
    with m:
        assert m.version().version is None
        assert m.driver.query("SELECT to_regclass('a')") == [(None,)]


def test_dry_run_prints_the_sql_and_changes_nothing(db: TestDatabase, tmp_path: Path) -> None:
    m = make(db, tmp_path / "m", {"1_a.up.sql": "CREATE TABLE dry (id INTEGER);\n"})
    with m:
        result = m.up(dry_run=True)
    (planned,) = result.planned
    sql = "\n".join(planned.sql)
    assert "CREATE TABLE dry (id INTEGER);" in sql
    assert "schema_migrations" in sql and "safemigrate_history" in sql
    if db.transactional_ddl:
        assert planned.sql[0] == "BEGIN;" and planned.sql[-1] == "COMMIT;"
    assert "dry" not in db.tables() and "schema_migrations" not in db.tables()


def test_a_file_that_opens_a_transaction_and_never_ends_it_is_rolled_back(
    pg_url: str, tmp_path: Path
) -> None:
    m = Migrator(load_source(write_migrations(tmp_path / "m", {
        "1_a.up.sql": "BEGIN;\nCREATE TABLE never (id integer);\n",
    })), open_driver(pg_url), lock_timeout=5)
    with m, pytest.raises(MigrationFailedError, match="did not end it"):
        m.up()
    with m:
        assert m.driver.query("SELECT to_regclass('never')") == [(None,)]
        assert m.version().version is None and not m.version().dirty


def test_empty_files_and_missing_files_only_move_the_version(db: TestDatabase, tmp_path: Path) -> None:
    m = make(db, tmp_path / "m", {"1_a.up.sql": "", "2_b.down.sql": "SELECT 1;\n"})
    with m:
        result = m.up()
    assert [s.step.version for s in result.steps] == [1, 2]
    assert db.version_row() == [(2, False)]


def test_history_text_with_quotes_backslashes_and_unicode_round_trips(db: TestDatabase, tmp_path: Path) -> None:
    # Bookkeeping is sent with literal values on PostgreSQL; they must arrive intact.
    name = "quote's_back\\slash_é"
    m = make(db, tmp_path / "m", {f"1_{name}.up.sql": "CREATE TABLE q (id INTEGER);\n"})
    with m:
        m.up()
        (record,) = m.read_history()
    assert record.name == name


def test_dry_run_keeps_a_savepoint_rollback_inside_the_files_transaction(pg_url: str, tmp_path: Path) -> None:
    m = Migrator(load_source(write_migrations(tmp_path / "m", {
        "1_a.up.sql": "BEGIN;\nSAVEPOINT s;\nCREATE TABLE a (id int);\nROLLBACK TO SAVEPOINT s;\n"
                      "CREATE TABLE b (id int);\nCOMMIT;\n",
    })), open_driver(pg_url), lock_timeout=5)
    with m:
        planned = m.up(dry_run=True).planned[0].sql
    # Progress is recorded inside the file's own transaction, just before its COMMIT (so both
    # commit together), never after ROLLBACK TO.
    after_rollback_to = planned[planned.index("ROLLBACK TO SAVEPOINT s;") + 1]
    assert after_rollback_to == "CREATE TABLE b (id int);"
    start = planned.index("CREATE TABLE b (id int);") + 1
    between = planned[start:planned.index("COMMIT;", start)]
    # (between them only our lock-wait settings, which the plan shows as the run sends them)
    assert [sql for sql in between if "set_config" not in sql] == [next(s for s in between if "statements_committed = 6" in s)]


def test_atomic_records_one_history_row_per_migration(db: TestDatabase, tmp_path: Path) -> None:
    m = make(db, tmp_path / "m", {f"{v}_t{v}.up.sql": f"CREATE TABLE t{v} (id INTEGER);\n" for v in (1, 2, 3)})
    if not db.transactional_ddl:
        with m, pytest.raises(UsageError, match="transactional DDL"):
            m.up(atomic=True)
        return
    with m:
        m.up(atomic=True)
        records = m.read_history()
    assert [(r.version, r.mode, r.outcome, r.from_version) for r in records] == [
        (1, "atomic", "applied", None), (2, "atomic", "applied", 1), (3, "atomic", "applied", 2)]


def test_when_opening_the_next_migration_fails_the_committed_one_stays_applied(
    pg_url: str, tmp_path: Path
) -> None:
    # Migration 1 installs a trigger that refuses the dirty marker of version 2, so the round trip
    # that commits 1 and opens 2 fails half-way: 1 must count as applied, 2 as failed, version 1 clean.
    m = Migrator(load_source(write_migrations(tmp_path / "m", {
        "1_trap.up.sql": """CREATE FUNCTION refuse_two() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.version = 2 AND NEW.dirty THEN RAISE EXCEPTION 'no version 2 here'; END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse_two BEFORE INSERT ON schema_migrations FOR EACH ROW EXECUTE FUNCTION refuse_two();
""",
        "2_next.up.sql": "CREATE TABLE never (id integer);\n",
    })), open_driver(pg_url), lock_timeout=5)
    with m, pytest.raises(MigrationFailedError) as caught:
        m.up()
    assert "no version 2 here" in caught.value.message
    with m:
        assert m.version() == VersionState(1, False)
        assert [(r.version, r.outcome) for r in m.read_history()] == [(1, "applied"), (2, "failed")]
        assert m.driver.query("SELECT to_regclass('never')") == [(None,)]


def test_a_failed_create_index_concurrently_reports_the_invalid_index_it_leaves_and_how_to_drop_it(
    pg_url: str, pg_plain_url: str, tmp_path: Path
) -> None:
    db = TestDatabase("postgres", pg_url, pg_plain_url)
    db.execute("CREATE TABLE guard (n INTEGER)")
    db.execute("INSERT INTO guard VALUES (1), (1)")
    m = make(db, tmp_path / "m", {
        "1_a.up.sql": "INSERT INTO guard VALUES (2);\nCREATE UNIQUE INDEX CONCURRENTLY guard_n ON guard (n);\n",
    })
    with m, pytest.raises(MigrationFailedError) as caught:
        m.up()
    # PostgreSQL keeps the INVALID index of the failed build: the report says so, and how to drop it.
    assert db.query("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('guard_n')") == [(False,)]
    report = " ".join("\n".join(caught.value.report_lines).split())
    assert "INVALID index" in report and "DROP INDEX CONCURRENTLY guard_n" in report
    with m:
        (record,) = m.read_history()
        assert (record.outcome, record.statements_committed, record.statement_started) == ("failed", 1, 2)
    with m, pytest.raises(Exception) as dirty:
        m.up()
    hint = " ".join((getattr(dirty.value, "hint", "") or "").split())
    assert "statement 2 (line 2) failed" in hint and "DROP INDEX CONCURRENTLY guard_n" in hint


def test_statement_mode_runs_a_procedure_that_commits_itself_outside_any_transaction_block(
    pg_url: str, pg_plain_url: str, tmp_path: Path
) -> None:
    db = TestDatabase("postgres", pg_url, pg_plain_url)
    m = make(db, tmp_path / "m", {
        "1_a.up.sql": "CREATE TABLE t (n INTEGER);\n"
                      "CREATE PROCEDURE fill() LANGUAGE plpgsql AS $$ BEGIN\n"
                      "  INSERT INTO t VALUES (1); COMMIT; INSERT INTO t VALUES (2); COMMIT;\nEND $$;\n",
        "2_b.up.sql": "-- safemigrate:no-transaction\nCALL fill();\n"
                      "DO $$ BEGIN INSERT INTO t VALUES (3); COMMIT; END $$;\n",
    })
    with m:
        m.up()
        assert [r.statements_committed for r in m.read_history()] == [2, 2]
    assert db.query("SELECT n FROM t ORDER BY n") == [(1,), (2,), (3,)]
    assert db.version_row() == [(2, False)]
