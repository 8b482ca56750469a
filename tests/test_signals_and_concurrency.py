"""SIGINT/SIGTERM stop a run safely; concurrent runs apply each migration exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from support import CANARY_PASSWORD, TestDatabase, assert_no_secret, write_migrations

LONG_STATEMENT = {
    "postgres": "SELECT pg_sleep(60);",
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000000) "
              "SELECT count(*) FROM c;",
    "mysql": "SELECT SLEEP(60);",
}


def start_cli(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "safemigrate", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def wait_until_running(proc: subprocess.Popen[str], db: TestDatabase, seconds: float = 20) -> None:
    """Wait until the long statement is executing in the database (or, for SQLite, the lock is taken)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if db.dialect == "postgres":
            rows = db.query("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                             "AND query LIKE 'SELECT pg_sleep(60)%'")
            if rows[0][0]:
                return
        elif db.dialect == "mysql":
            rows = db.query("SELECT count(*) FROM information_schema.processlist WHERE db = DATABASE() "
                            "AND info LIKE 'SELECT SLEEP(60)%'")
            if rows[0][0]:
                return
        elif "schema_migrations" in db.tables() and db.version_row():
            time.sleep(0.5)  # the recursive query is running inside the migration's transaction
            return
        time.sleep(0.1)
    raise AssertionError("the migration never started")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_rolls_back_the_running_migration_and_releases_the_lock(
    db: TestDatabase, tmp_path: Path, signum: int
) -> None:
    folder = write_migrations(tmp_path / "m", {
        "1_first.up.sql": "CREATE TABLE first_t (id INTEGER);\n",
        "2_slow.up.sql": f"CREATE TABLE slow_t (id INTEGER);\n{LONG_STATEMENT[db.dialect]}\n",
    })
    proc = start_cli("-path", str(folder), "-database", db.url, "up")
    wait_until_running(proc, db)
    started = time.monotonic()
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=30)
    assert_no_secret(out, err)
    assert time.monotonic() - started < 15
    assert proc.returncode == 128 + signum, err
    assert "interrupted" in err
    assert "first_t" in db.tables()
    if db.transactional_ddl:
        assert db.version_row() == [(1, False)]
        assert "slow_t" not in db.tables()
        assert "run the same command again" in err
    else:
        assert db.version_row() == [(2, True)]
        assert "statements 1-1 of 2" in err
    # The lock is free again: a new run gets it at once (and fails on the same slow file only if run).
    version = subprocess.run([sys.executable, "-m", "safemigrate", "-path", str(folder), "-database", db.url,
                              "-lock-timeout", "2", "force", "1"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0, version.stderr
    outcomes = [r[0] for r in db.query("SELECT outcome FROM safemigrate_history WHERE version = 2")]
    assert outcomes == ["interrupted"]


def test_a_signal_during_an_atomic_run_rolls_back_every_migration(pg_url: str, tmp_path: Path) -> None:
    db = TestDatabase("postgres", pg_url, pg_url.replace(f":{CANARY_PASSWORD}@", "@"))
    folder = write_migrations(tmp_path / "m", {
        "1_first.up.sql": "CREATE TABLE first_t (id INTEGER);\n",
        "2_slow.up.sql": f"CREATE TABLE slow_t (id INTEGER);\n{LONG_STATEMENT['postgres']}\n",
        "3_last.up.sql": "CREATE TABLE last_t (id INTEGER);\n",
    })
    proc = start_cli("-path", str(folder), "-database", db.url, "up", "--atomic")
    wait_until_running(proc, db)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert_no_secret(out, err)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "interrupted" in err and "2_slow.up.sql:2:1" in err
    assert not {"first_t", "slow_t", "last_t"} & db.tables()
    assert db.version_row() == []


def test_eight_processes_running_up_at_once_apply_each_migration_exactly_once(
    pg_url: str, pg_plain_url: str, tmp_path: Path
) -> None:
    files = {"000001_log.up.sql": "CREATE TABLE applied (version integer NOT NULL, pid integer);\n"
                                  "INSERT INTO applied VALUES (1, pg_backend_pid());\n"}
    for v in range(2, 11):
        files[f"{v:06d}_step.up.sql"] = (f"CREATE TABLE t{v} (id integer);\n"
                                         f"INSERT INTO applied VALUES ({v}, pg_backend_pid());\n")
    folder = write_migrations(tmp_path / "m", files)
    procs = [start_cli("-path", str(folder), "-database", pg_url, "-lock-timeout", "60", "up")
             for _ in range(8)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    for code, out, err in results:
        assert_no_secret(out, err)
        assert code == 0, err
    with psycopg.connect(pg_plain_url) as conn:
        counts = conn.execute("SELECT version, count(*) FROM applied GROUP BY version ORDER BY version").fetchall()
        history = conn.execute("SELECT version, count(*) FROM safemigrate_history WHERE outcome = 'applied' "
                               "GROUP BY version ORDER BY version").fetchall()
        state = conn.execute("SELECT version, dirty FROM schema_migrations").fetchall()
    assert counts == [(v, 1) for v in range(1, 11)]
    assert history == [(v, 1) for v in range(1, 11)]
    assert state == [(10, False)]
    # The first process to take the lock applies all ten; the other seven find nothing to do.
    assert sorted(out.count("/u ") for _code, out, _err in results) == [0] * 7 + [10]
    assert sum(out.strip() == "no change" for _code, out, _err in results) == 7


def test_a_signal_when_stderr_cannot_be_written_still_stops_the_run_safely(db: TestDatabase, tmp_path: Path) -> None:
    """The note "SIGTERM received: stopping safely" is written from the signal handler: with stderr's
    reader gone, that write fails, and the failure must not surface wherever the run happens to be."""
    folder = write_migrations(tmp_path / "m", {
        "1_first.up.sql": "CREATE TABLE first_t (id INTEGER);\n",
        "2_slow.up.sql": f"CREATE TABLE slow_t (id INTEGER);\n{LONG_STATEMENT[db.dialect]}\n",
    })
    proc = start_cli("-path", str(folder), "-database", db.url, "up")
    assert proc.stderr is not None
    proc.stderr.close()  # the reader of stderr is gone before the signal comes
    wait_until_running(proc, db)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM
    if db.transactional_ddl:
        assert db.version_row() == [(1, False)]  # rolled back and clean, as with stderr open
        assert "slow_t" not in db.tables()
    else:
        assert db.version_row() == [(2, True)]
