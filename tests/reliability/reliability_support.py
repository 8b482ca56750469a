"""Shared pieces of the reliability suite: the seed, the scale, the figures, and the checks every
attack ends with (no lock left, the killed CLI's sessions gone, a catalog fingerprint).

* ``SAFEMIGRATE_RELIABILITY_SEED`` replays a run (default: the UTC date, printed in the header and
  by every test, so every xdist worker of one run uses the same seed);
* ``SAFEMIGRATE_RELIABILITY_SCALE`` multiplies every count (default 1: the CI run);
* ``SAFEMIGRATE_RELIABILITY_REPORT=path`` makes each test append its figures to ``path`` as JSON
  lines (one writer at a time, under flock, so xdist workers can share the file);
  ``bench/reliability_figures.py path`` sums them.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from support import TestDatabase

SEED = int(os.environ.get("SAFEMIGRATE_RELIABILITY_SEED") or time.strftime("%Y%m%d", time.gmtime()))
SCALE = float(os.environ.get("SAFEMIGRATE_RELIABILITY_SCALE") or "1")


def scaled(n: int) -> int:
    """``n`` at the default scale, more (or fewer, never under 1) with SAFEMIGRATE_RELIABILITY_SCALE."""
    return max(1, round(n * SCALE))


def rng_for(test_id: str) -> random.Random:
    """One generator per test, from the run's seed and the test's id: a failure replays alone."""
    print(f"reliability seed {SEED} (replay: SAFEMIGRATE_RELIABILITY_SEED={SEED}) test {test_id}")
    return random.Random(f"{SEED}:{test_id}")


def record(database: str, **figures: int) -> None:
    """Append this test's figures (kills, consistent, ...) to $SAFEMIGRATE_RELIABILITY_REPORT."""
    path = os.environ.get("SAFEMIGRATE_RELIABILITY_REPORT")
    if not path:
        return
    line = json.dumps({"database": database, **figures}) + "\n"
    with open(path, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(line)


# -- processes -----------------------------------------------------------------------------------------
def start_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """The CLI as a process of its own group, so kill -9 takes its children (pg_dump, hooks) too,
    as a container or a node dying does."""
    full = {**(env if env is not None else os.environ), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "safemigrate", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=full, cwd=cwd, start_new_session=True)


def kill_9(proc: subprocess.Popen[str]) -> tuple[str, str]:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    return out, err


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting until {what}")


# -- locks and sessions ----------------------------------------------------------------------------
def cli_sessions(db: TestDatabase) -> int:
    """Server sessions of ours still open on the database (a killed CLI's backend may linger)."""
    if db.dialect == "postgres":
        return int(db.query("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                            "AND pid <> pg_backend_pid() AND application_name = 'safemigrate'")[0][0])
    if db.dialect == "mysql":
        return int(db.query("SELECT count(*) FROM information_schema.processlist WHERE db = DATABASE() "
                            "AND id <> CONNECTION_ID()")[0][0])
    return 0


def locks_left(db: TestDatabase, version_table: str = "schema_migrations") -> int:
    """1 if the migration lock is still held by anyone once our sessions are gone, else 0."""
    wait_for(lambda: cli_sessions(db) == 0, "the killed CLI's sessions ended")
    if db.dialect == "postgres":
        return int(db.query("SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                            "WHERE l.locktype = 'advisory' AND d.datname = current_database()")[0][0])
    if db.dialect == "mysql":
        from safemigrate.drivers.mysql import lock_name

        name = lock_name(db.query("SELECT DATABASE()")[0][0], version_table)
        return 0 if db.query(f"SELECT IS_USED_LOCK('{name}')")[0][0] is None else 1
    lock_file = Path(db._connect_to + "-safemigrate.lock")
    if not lock_file.exists():
        return 0
    with open(lock_file, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 1
        fcntl.flock(handle, fcntl.LOCK_UN)
    return 0


def fingerprint(db: TestDatabase) -> list[tuple[Any, ...]]:
    """Every object of the database with its definition and row count: equal before and after
    means nothing changed (tables, columns, indexes, the version and history rows included)."""
    if db.dialect == "postgres":
        rows = db.query(
            "SELECT c.relname, c.relkind::text, coalesce(a.attname, ''), coalesce(format_type(a.atttypid, a.atttypmod), ''), "
            "coalesce(pg_get_indexdef(c.oid), '') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
            "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1, 3")
        tables = [r[0] for r in db.query("SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) "
                                         "FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")]
    elif db.dialect == "mysql":
        rows = db.query("SELECT table_name, column_name, column_type FROM information_schema.columns "
                        "WHERE table_schema = DATABASE() UNION ALL SELECT table_name, index_name, column_name "
                        "FROM information_schema.statistics WHERE table_schema = DATABASE() ORDER BY 1, 2, 3")
        tables = [f"`{r[0]}`" for r in db.query("SELECT table_name FROM information_schema.tables "
                                                 "WHERE table_schema = DATABASE()")]
    else:
        if not Path(db._connect_to).exists():
            return [("no database file",)]
        rows = db.query("SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY 2")
        tables = [f'"{r[0]}"' for r in db.query("SELECT name FROM sqlite_schema WHERE type = 'table'")]
    counts = [(t, db.query(f"SELECT count(*) FROM {t}")[0][0]) for t in sorted(tables)]
    return [tuple(str(x) for x in r) for r in rows] + [("rows", t, str(n)) for t, n in counts]


@contextlib.contextmanager
def unchanged(db: TestDatabase) -> Iterator[None]:
    before = fingerprint(db)
    yield
    assert fingerprint(db) == before, "the database changed"
