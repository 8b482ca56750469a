"""Every wait is bounded and every way out of one is clean.

* -lock-timeout bounds our own waits on the version and history tables (a session holding
  LOCK TABLE schema_migrations hung up, version and status);
* the migrations' own SQL keeps the session's lock-wait settings;
* SIGTERM while waiting for the migration lock ends the run as interrupted (exit 143);
* x-statement-timeout does not cut the wait for the migration lock short;
* out-of-range timeouts are usage errors.
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

from safemigrate.drivers import open_driver
from support import TestDatabase, assert_no_secret, run_cli, run_cli_process, write_migrations


def with_param(url: str, name: str, value: str) -> str:
    return url + ("&" if "?" in url else "?") + f"{name}={value}"


def holder_connection(db: TestDatabase) -> Any:
    if db.dialect == "postgres":
        import psycopg

        return psycopg.connect(db._connect_to + ("&" if "?" in db._connect_to else "?")
                               + "application_name=blocker", autocommit=False)
    conn = db._connect()
    conn.autocommit(False)
    return conn


def connection_id(db: TestDatabase, conn: Any) -> int:
    cur = conn.cursor()
    cur.execute("SELECT pg_backend_pid()" if db.dialect == "postgres" else "SELECT CONNECTION_ID()")
    return int(cur.fetchone()[0])


@pytest.mark.parametrize("db", ["postgres", "mysql"], indirect=True)
@pytest.mark.parametrize("command", ["up", "version", "status"])
def test_a_session_locking_the_version_table_fails_up_version_and_status_after_the_lock_timeout_naming_it(
    db: TestDatabase, tmp_path: Path, command: str
) -> None:
    folder = write_migrations(tmp_path / "m", {"1_a.up.sql": "CREATE TABLE a (id INTEGER);\n",
                                               "2_b.up.sql": "CREATE TABLE b (id INTEGER);\n"})
    assert run_cli_process("-path", str(folder), "-database", db.url, "up", "1").exit_code == 0
    holder = holder_connection(db)
    try:
        pid = connection_id(db, holder)
        holder.cursor().execute("LOCK TABLE schema_migrations" if db.dialect == "postgres"
                                else "LOCK TABLES schema_migrations WRITE")
        result = run_cli_process("-path", str(folder), "-database", db.url, "-lock-timeout", "1", command,
                                 timeout=60)
    finally:
        holder.close()
    assert result.exit_code == 1, result.output
    assert "internal error" not in result.output
    assert "timeout: waited 1s (-lock-timeout) for a lock on" in result.stderr
    assert f"pid {pid}" in result.stderr
    if db.dialect == "postgres":
        assert "application 'blocker'" in result.stderr and "AccessExclusiveLock" in result.stderr
        assert f"pg_terminate_backend({pid})" in result.stderr
    else:
        assert f"KILL {pid}" in result.stderr
    assert db.version_row() == [(1, False)]
    assert "b" not in db.tables()


@pytest.mark.parametrize("db", ["postgres", "mysql"], indirect=True)
@pytest.mark.parametrize("command", ["up", "status"])
def test_a_session_locking_the_history_table_fails_up_and_status_after_the_lock_timeout_naming_it(
    db: TestDatabase, tmp_path: Path, command: str
) -> None:
    folder = write_migrations(tmp_path / "m", {"1_a.up.sql": "CREATE TABLE a (id INTEGER);\n",
                                               "2_b.up.sql": "CREATE TABLE b (id INTEGER);\n"})
    assert run_cli_process("-path", str(folder), "-database", db.url, "up", "1").exit_code == 0
    holder = holder_connection(db)
    try:
        pid = connection_id(db, holder)
        holder.cursor().execute("LOCK TABLE safemigrate_history" if db.dialect == "postgres"
                                else "LOCK TABLES safemigrate_history WRITE")
        result = run_cli_process("-path", str(folder), "-database", db.url, "-lock-timeout", "1", command,
                                 timeout=60)
    finally:
        holder.close()
    assert result.exit_code == 1, result.output
    assert "internal error" not in result.output and "next: fix" not in result.output
    assert "timeout: waited 1s (-lock-timeout) for a lock on" in result.stderr
    assert f"pid {pid}" in result.stderr
    assert db.version_row() == [(1, False)]
    assert "b" not in db.tables()


@pytest.mark.parametrize("db", ["postgres", "mysql"], indirect=True)
def test_a_migrations_own_sql_keeps_the_sessions_lock_wait_setting(db: TestDatabase, tmp_path: Path) -> None:
    if db.dialect == "postgres":
        url = with_param(db.url, "lock_timeout", "7s")
        body = "CREATE TABLE seen AS SELECT current_setting('lock_timeout') AS v;\n"
        expected = "7s"
    else:
        url = db.url
        body = "CREATE TABLE seen AS SELECT @@SESSION.lock_wait_timeout AS v;\n"
        expected = str(db.query("SELECT @@GLOBAL.lock_wait_timeout")[0][0])
    folder = write_migrations(tmp_path / "m", {
        "1_a.up.sql": body,
        "2_b.up.sql": "-- safemigrate:no-transaction\n" + body.replace("seen", "seen2"),
    })
    result = run_cli_process("-path", str(folder), "-database", url, "-lock-timeout", "3", "up")
    assert result.exit_code == 0, result.output
    assert [str(r[0]) for r in db.query("SELECT v FROM seen")] == [expected]
    assert [str(r[0]) for r in db.query("SELECT v FROM seen2")] == [expected]


def start_cli(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "safemigrate", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def waiting_for_the_lock(db: TestDatabase, proc: subprocess.Popen[str]) -> Callable[[], bool]:
    if db.dialect == "postgres":
        return lambda: bool(db.query("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                     "AND wait_event_type = 'Lock' "
                                     "AND query LIKE 'SELECT pg_advisory_lock%'")[0][0])
    if db.dialect == "mysql":
        return lambda: bool(db.query("SELECT count(*) FROM information_schema.processlist "
                                     "WHERE db = DATABASE() AND info LIKE 'SELECT GET_LOCK%'")[0][0])
    lock_file = db._connect_to + "-safemigrate.lock"

    def holds_lock_file() -> bool:
        fds = Path(f"/proc/{proc.pid}/fd")
        try:
            return any(os.readlink(fd) == lock_file for fd in fds.iterdir())
        except OSError:
            return False
    return holds_lock_file


@pytest.mark.parametrize("command", [["up"], ["force", "1"]])
def test_sigterm_while_waiting_for_the_migration_lock_ends_the_run_interrupted_with_exit_143(
    db: TestDatabase, tmp_path: Path, command: list[str]
) -> None:
    folder = write_migrations(tmp_path / "m", {"1_a.up.sql": "CREATE TABLE a (id INTEGER);\n"})
    other = open_driver(db.url)  # the test process holds the migration lock, as another deploy would
    other.connect()
    other.lock(5)
    try:
        proc = start_cli("-path", str(folder), "-database", db.url, "-lock-timeout", "120", *command)
        try:
            deadline = time.monotonic() + 30
            ready = waiting_for_the_lock(db, proc)
            while not ready():
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "the CLI never waited for the lock"
                time.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    finally:
        other.unlock()
        other.close()
    assert_no_secret(out, err)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "internal error" not in err
    assert "interrupted while waiting for the migration lock; nothing was changed" in err
    assert "schema_migrations" not in db.tables() and "a" not in db.tables()


@pytest.mark.parametrize("db", ["postgres", "mysql"], indirect=True)
def test_an_x_statement_timeout_shorter_than_the_lock_wait_reports_the_lock_timeout(
    db: TestDatabase, tmp_path: Path
) -> None:
    folder = write_migrations(tmp_path / "m", {"1_a.up.sql": "CREATE TABLE a (id INTEGER);\n"})
    other = open_driver(db.url)
    other.connect()
    other.lock(5)
    try:
        result = run_cli("-path", str(folder), "-database", with_param(db.url, "x-statement-timeout", "100"),
                         "-lock-timeout", "1", "up")
    finally:
        other.unlock()
        other.close()
    assert result.exit_code == 1, result.output
    assert "timeout: can't acquire database lock after 1s" in result.stderr
    assert "canceling statement" not in result.output and "statement timeout" not in result.output
    assert "internal error" not in result.output


@pytest.mark.parametrize("db", ["postgres", "mysql"], indirect=True)
@pytest.mark.parametrize("value", ["-5", "99999999999"])
def test_a_negative_or_huge_x_statement_timeout_is_a_usage_error(db: TestDatabase, tmp_path: Path,
                                                                   value: str) -> None:
    folder = write_migrations(tmp_path / "m", {"1_a.up.sql": "CREATE TABLE a (id INTEGER);\n"})
    result = run_cli("-path", str(folder), "-database", with_param(db.url, "x-statement-timeout", value), "up")
    assert result.exit_code == 2, result.output
    assert f"x-statement-timeout={value} is out of range" in result.stderr
    assert not db.tables()


@pytest.mark.parametrize("command", ["up", "status", "version"])
def test_a_huge_lock_timeout_is_a_usage_error(db: TestDatabase, tmp_path: Path, command: str) -> None:
    folder = write_migrations(tmp_path / "m", {"1_a.up.sql": "CREATE TABLE a (id INTEGER);\n"})
    result = run_cli("-path", str(folder), "-database", db.url, "-lock-timeout", "99999999999", command)
    assert result.exit_code == 2, result.output
    assert "-lock-timeout 99999999999 is out of range" in result.stderr
    assert not db.tables()


def test_a_negative_lock_timeout_is_a_usage_error(sqlite_url: str, tmp_path: Path) -> None:
    result = run_cli("-path", str(tmp_path), "-database", sqlite_url, "-lock-timeout", "-5", "up")
    assert result.exit_code == 2
    assert "-lock-timeout" in result.stderr and "-5" in result.stderr


@pytest.mark.parametrize("db", ["postgres", "mysql"], indirect=True)
def test_an_x_statement_timeout_that_ends_a_wait_on_the_version_table_names_the_session_holding_it(
    db: TestDatabase, tmp_path: Path
) -> None:
    folder = write_migrations(tmp_path / "m", {"1_a.up.sql": "CREATE TABLE a (id INTEGER);\n",
                                               "2_b.up.sql": "CREATE TABLE b (id INTEGER);\n"})
    assert run_cli("-path", str(folder), "-database", db.url, "up", "1").exit_code == 0
    holder = holder_connection(db)
    try:
        pid = connection_id(db, holder)
        holder.cursor().execute("LOCK TABLE schema_migrations" if db.dialect == "postgres"
                                else "LOCK TABLES schema_migrations WRITE")
        result = run_cli_process("-path", str(folder), "-database",
                                 with_param(db.url, "x-statement-timeout", "300"), "-lock-timeout", "30", "up",
                                 timeout=60)
    finally:
        holder.close()
    assert result.exit_code == 1, result.output
    assert "timeout: waited 300ms (x-statement-timeout) for a lock on" in result.stderr
    assert f"pid {pid}" in result.stderr and "internal error" not in result.output
    assert db.version_row() == [(1, False)]
