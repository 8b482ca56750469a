"""Many runners at once on one database: each migration applied exactly once, every runner told the truth.

16 processes run `up` on one PostgreSQL, one MariaDB and one SQLite database; `up` races `down`;
`backup create` races `up`; two `release`s race. Every process exits 0 or with the lock-timeout error
(golang-migrate's words), and the history has exactly one row per applied step.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from reliability_support import locks_left, record, rng_for, scaled, start_cli
from test_reliability_crashes import _db, _drop_scratch_databases

from schema_app import serve_app
from support import TestDatabase, assert_no_secret, run_cli, write_migrations

RUNNERS = 16
pytestmark = pytest.mark.slow
LOCK_TIMEOUT = "timeout: can't acquire database lock"
SLEEP = {"postgres": "SELECT pg_sleep(0.05)", "mysql": "DO SLEEP(0.05)",
         "sqlite": "SELECT count(*) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
                   "WHERE x < 100000) SELECT x FROM c)"}


def counted_files(dialect: str, count: int) -> dict[str, str]:
    files = {"000001_applied.up.sql": "CREATE TABLE applied (version INTEGER NOT NULL);\nINSERT INTO applied VALUES (1);\n",
             "000001_applied.down.sql": "DROP TABLE applied;\n"}
    for v in range(2, count + 1):
        files[f"{v:06d}_step.up.sql"] = (f"CREATE TABLE t{v} (id INTEGER);\nINSERT INTO applied VALUES ({v});\n"
                                         f"{SLEEP[dialect]};\n")
        files[f"{v:06d}_step.down.sql"] = f"DELETE FROM applied WHERE version = {v};\nDROP TABLE t{v};\n"
    return files


def finish_all(procs: list[object]) -> list[tuple[int, str, str]]:
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)  # type: ignore[attr-defined]
        assert_no_secret(out, err)
        results.append((proc.returncode, out, err))  # type: ignore[attr-defined]
    return results


def assert_exit_0_or_lock_timeout(results: list[tuple[int, str, str]]) -> int:
    timeouts = 0
    for code, _out, err in results:
        assert "internal error" not in err and "Traceback" not in err, err
        if code != 0:
            assert code == 1 and LOCK_TIMEOUT in err, (code, err)
            timeouts += 1
    return timeouts


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite"])
def test_sixteen_runners_of_up_apply_each_migration_exactly_once(dialect: str, tmp_path: Path,
                                                                 request: pytest.FixtureRequest) -> None:
    db = _db(request, dialect)
    rng = rng_for(request.node.nodeid)
    count = 8
    folder = write_migrations(tmp_path / "m", counted_files(dialect, count))
    # A short lock timeout for some runners, so both ways out (applied or timed out) are exercised.
    procs = [start_cli("-path", str(folder), "-database", db.url, "-lock-timeout", rng.choice(["0", "1", "60"]),
                       "up") for _ in range(scaled(RUNNERS))]
    results = finish_all(procs)
    timeouts = assert_exit_0_or_lock_timeout(results)
    if db.version_row() != [(count, False)]:  # every runner that got the lock timed out early: finish
        assert run_cli("-path", str(folder), "-database", db.url, "up").exit_code == 0
    assert sorted(db.query("SELECT version, count(*) FROM applied GROUP BY version")) == \
        [(v, 1) for v in range(1, count + 1)]
    history = db.query("SELECT version, count(*) FROM safemigrate_history WHERE direction = 'up' "
                       "AND outcome = 'applied' GROUP BY version")
    assert sorted(history) == [(v, 1) for v in range(1, count + 1)]
    assert not db.query("SELECT * FROM safemigrate_history WHERE outcome <> 'applied'")
    assert locks_left(db) == 0
    record(dialect, concurrent_runners=len(procs), runners_held=len(procs), lock_timeouts=timeouts)


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite"])
def test_up_racing_down_leaves_a_clean_version_with_each_step_counted_once(
        dialect: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    db = _db(request, dialect)
    rng = rng_for(request.node.nodeid)
    count = 5
    folder = write_migrations(tmp_path / "m", counted_files(dialect, count))
    assert run_cli("-path", str(folder), "-database", db.url, "up", "2").exit_code == 0
    procs = []
    for _ in range(scaled(8)):
        args = ["up"] if rng.random() < 0.5 else ["down", str(rng.randint(1, 2)), "--yes"]
        procs.append(start_cli("-path", str(folder), "-database", db.url, "-lock-timeout", "60", *args))
    results = finish_all(procs)
    for code, _out, err in results:
        assert "internal error" not in err and "Traceback" not in err, err
        # down N past version 0 says so in golang-migrate's words ("limit N short" when fewer than N
        # were there to undo: the ones there were undone); nothing else may fail
        assert code == 0 or "file does not exist" in err or "no migration" in err or LOCK_TIMEOUT in err \
            or re.search(r"error: limit \d+ short", err), err
    ((version, dirty),) = db.version_row() or [(0, False)]
    assert dirty is False
    present = sorted(r[0] for r in db.query("SELECT version FROM applied")) if "applied" in db.tables() else []
    assert present == list(range(1, version + 1))
    # Every version at or below the current one has one more applied up than applied downs; above: equal.
    rows = db.query("SELECT version, direction, count(*) FROM safemigrate_history WHERE outcome = 'applied' "
                    "GROUP BY version, direction")
    net = {v: 0 for v in range(1, count + 1)}
    for v, direction, n in rows:
        net[int(v)] += int(n) if direction == "up" else -int(n)
    assert net == {v: int(v <= version) for v in range(1, count + 1)}
    assert locks_left(db) == 0
    record(dialect, concurrent_runners=len(procs), runners_held=len(procs))


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite"])
def test_backup_create_racing_up_gives_a_complete_verifiable_backup_and_a_clean_version(
        dialect: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    db = _db(request, dialect)
    count = 6
    folder = write_migrations(tmp_path / "m", counted_files(dialect, count))
    assert run_cli("-path", str(folder), "-database", db.url, "up", "1").exit_code == 0
    store = tmp_path / "backups"
    backup = start_cli("backup", "create", "--database", db.url, "--to", str(store))
    up = start_cli("-path", str(folder), "-database", db.url, "-lock-timeout", "60", "up")
    (b_code, _b_out, b_err), (u_code, _u_out, u_err) = finish_all([backup, up])
    assert u_code == 0, u_err
    assert "internal error" not in b_err, b_err
    assert b_code == 0 or "schema change" in b_err, b_err  # MariaDB 1412: retried, then said so
    assert db.version_row() == [(count, False)]
    listed = run_cli("backup", "list", "--database", db.url, "--to", str(store), "--check", "--json").json()
    assert not listed["damaged"] and not listed["incomplete"]
    if b_code == 0:
        assert len(listed["backups"]) == 1
        verify = run_cli("backup", "verify", "latest", "--database", db.url, "--to", str(store))
        assert verify.exit_code == 0, verify.output
    assert locks_left(db) == 0
    if dialect == "postgres":
        _drop_after(db, request)
    record(dialect, concurrent_runners=2, runners_held=2)


def _drop_after(db: TestDatabase, request: pytest.FixtureRequest) -> None:
    from test_reliability_crashes import Campaign

    _drop_scratch_databases(Campaign(db, Path(), Path(), (request.getfixturevalue("postgres_admin_url"), None), 0))


@pytest.mark.parametrize(("dialect", "runners"), [("postgres", 2), ("mysql", 2), ("sqlite", 2), ("postgres", RUNNERS),
                                                  ("sqlite", RUNNERS)])
def test_releases_racing_release_once(dialect: str, runners: int, tmp_path: Path,
                                      request: pytest.FixtureRequest) -> None:
    db = _db(request, dialect)
    count = 4
    folder = write_migrations(tmp_path / "m", counted_files(dialect, count))
    assert run_cli("-path", str(folder), "-database", db.url, "up", "1").exit_code == 0
    try:
        with serve_app(db.url, set(range(0, count + 1))) as app:
            procs = [start_cli("-path", str(folder), "-database", db.url, "release", "--no-backup",
                               "--report", str(tmp_path / f"releases{i}"), "--health-url", app.url,
                               "--health-interval", "0.05", "--health-deadline", "10", "--format", "json")
                     for i in range(runners)]
            results = finish_all(procs)
    finally:
        if dialect == "postgres":
            _drop_after(db, request)
    outcomes = []
    for code, out, err in results:
        assert "internal error" not in err, err
        data = json.loads(out)
        outcomes.append(data["outcome"])
        if code != 0:  # the loser is refused by pre-flight, naming the holder of the lock
            assert code == 1 and data["outcome"] == "refused", (code, out, err)
            assert "lock" in json.dumps(data), out
    assert "released" in outcomes, outcomes
    assert set(outcomes) <= {"released", "refused", "nothing_to_do"}
    assert db.version_row() == [(count, False)]
    history = db.query("SELECT version, count(*) FROM safemigrate_history WHERE direction = 'up' "
                       "AND outcome = 'applied' GROUP BY version")
    assert sorted(history) == [(v, 1) for v in range(1, count + 1)]
    assert locks_left(db) == 0
    record(dialect, concurrent_runners=runners, runners_held=runners)
