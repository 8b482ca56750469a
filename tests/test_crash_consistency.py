"""kill -9 of a statement-mode run: the history must tell the truth about the database.

The statement that is running when the CLI dies still runs to its end on the server. With
the history updated in a separate round trip afterwards, the history ended up one statement
behind the database, and the repair hint made the user run that statement twice. Each test
below makes a real CLI process wait inside statement 2 on a lock the test holds, SIGKILLs it,
lets the server finish the statement, then compares the history row with the database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from support import TestDatabase, assert_no_secret, run_cli_process, write_migrations

pytestmark = pytest.mark.parametrize("db", ["postgres", "mysql"], indirect=True)


def start_cli(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "safemigrate", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def holder_connection(db: TestDatabase) -> Any:
    """A connection of the test's own that holds locks across statements (no autocommit)."""
    if db.dialect == "postgres":
        import psycopg

        return psycopg.connect(db._connect_to, autocommit=False)
    conn = db._connect()
    conn.autocommit(False)
    return conn


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen[str] | None, what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc is not None:
            assert proc.poll() is None, proc.communicate()
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting until {what}")


def statement_waiting(db: TestDatabase, prefix: str) -> Callable[[], bool]:
    if db.dialect == "postgres":
        sql = ("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                     "AND wait_event_type = 'Lock' "
               f"AND query LIKE '{prefix}%'")
    else:
        sql = ("SELECT count(*) FROM information_schema.processlist WHERE db = DATABASE() "
               f"AND info LIKE '{prefix}%'")
    return lambda: bool(db.query(sql)[0][0])


def cli_sessions_gone(db: TestDatabase) -> Callable[[], bool]:
    """The killed CLI's server session has finished its statement and ended."""
    if db.dialect == "postgres":
        sql = ("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
               "AND application_name = 'safemigrate'")
    else:
        sql = ("SELECT count(*) FROM information_schema.processlist WHERE db = DATABASE() "
               "AND id <> CONNECTION_ID()")
    return lambda: db.query(sql)[0][0] == 0


def history_row(db: TestDatabase, version: int, columns: str) -> tuple[Any, ...]:
    (row,) = db.query(f"SELECT {columns} FROM safemigrate_history WHERE version = {version} AND direction = 'up'")
    return row


def kill_inside_statement_2(db: TestDatabase, folder: Path, lock_sql: str, waiting_prefix: str) -> None:
    """Run `up`, hold ``lock_sql`` so statement 2 waits, SIGKILL the CLI, then release the lock
    and wait until the server has finished what the CLI had sent."""
    holder = holder_connection(db)
    try:
        holder.cursor().execute(lock_sql)
        proc = start_cli("-path", str(folder), "-database", db.url, "up")
        try:
            wait_for(statement_waiting(db, waiting_prefix), proc, "statement 2 waits on the lock")
        finally:
            proc.send_signal(signal.SIGKILL)
            out, err = proc.communicate(timeout=30)
            assert_no_secret(out, err)
        holder.commit()  # the server now runs statement 2 to its end, with its client gone
    finally:
        holder.close()
    wait_for(cli_sessions_gone(db), None, "the killed CLI's session ended")


def test_kill_9_inside_a_transactional_statement_leaves_the_history_exactly_as_the_database(
    db: TestDatabase, tmp_path: Path
) -> None:
    db.execute("CREATE TABLE guard (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
    db.execute("INSERT INTO guard VALUES (1, 1)")
    db.execute("CREATE TABLE log_t (id INTEGER)")
    folder = write_migrations(tmp_path / "m", {
        "1_backfill.up.sql": "-- safemigrate:no-transaction\n"
                             "INSERT INTO log_t VALUES (1);\n"
                             "UPDATE guard SET n = n + 1 WHERE id = 1;\n"
                             "INSERT INTO log_t VALUES (3);\n",
    })
    kill_inside_statement_2(db, folder, "SELECT n FROM guard WHERE id = 1 FOR UPDATE", "UPDATE guard")

    (n,) = db.query("SELECT n FROM guard WHERE id = 1")[0]
    outcome, committed = history_row(db, 1, "outcome, statements_committed")
    assert outcome == "running"
    # Statement 2 ran with its history update in one transaction: both happened or neither.
    statement_2_done = n == 2
    assert committed == (2 if statement_2_done else 1), (n, committed)
    assert db.version_row() == [(1, True)]
    # So the repair hint counts what really committed.
    again = run_cli_process("-path", str(folder), "-database", db.url, "up")
    assert again.exit_code == 1
    assert "Dirty database version 1. Fix and force version." in again.stderr
    assert f"stopped after {committed} of 3 statements" in again.stderr


def test_kill_9_inside_a_statement_that_cannot_run_in_a_transaction_records_that_it_started(
    db: TestDatabase, tmp_path: Path
) -> None:
    db.execute("CREATE TABLE guard (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
    db.execute("CREATE TABLE log_t (id INTEGER)")
    if db.dialect == "postgres":
        body = ("-- safemigrate:no-transaction\nINSERT INTO log_t VALUES (1);\n"
                "CREATE INDEX CONCURRENTLY guard_n ON guard (n);\nINSERT INTO log_t VALUES (3);\n")
        lock_sql, waiting = "LOCK TABLE guard IN SHARE UPDATE EXCLUSIVE MODE", "CREATE INDEX CONCURRENTLY"
    else:
        body = ("INSERT INTO log_t VALUES (1);\nALTER TABLE guard ADD COLUMN extra INTEGER;\n"
                "INSERT INTO log_t VALUES (3);\n")
        lock_sql, waiting = "LOCK TABLES guard READ", "ALTER TABLE guard"
    folder = write_migrations(tmp_path / "m", {"1_index.up.sql": body})
    kill_inside_statement_2(db, folder, lock_sql, waiting)
    if db.dialect == "mysql":
        db.execute("UNLOCK TABLES")

    # Statement 2 was announced before it was sent, and nothing after it is counted.
    row = history_row(db, 1, "outcome, statements_committed, statement_started")
    assert row == ("running", 1, 2)
    assert db.query("SELECT id FROM log_t") == [(1,)]
    again = run_cli_process("-path", str(folder), "-database", db.url, "up")
    assert again.exit_code == 1
    assert "Dirty database version 1. Fix and force version." in again.stderr
    hint = " ".join(again.stderr.split())
    assert "statement 2 (line " in hint and "may or may not have completed" in hint
    assert "force 1" in hint and "force -1" in hint
    if db.dialect == "postgres":
        assert "indisvalid" in hint and "INVALID index" in hint
        assert "DROP INDEX CONCURRENTLY guard_n" in hint
    # status says the same of the dirty version, and keeps its hint.
    status = run_cli_process("-path", str(folder), "-database", db.url, "status")
    text = " ".join(status.stdout.split())
    assert "the database is dirty at version 1: a migration did not finish" in text
    assert "statement 2 (line " in text and "may or may not have completed" in text
    assert "repair the database, then run safemigrate force V" in text
