"""kill -9 at random moments: the database is always in a state the tool can name and repair.

Each test is a campaign of kills on one database (kill counts in ``KILLS``, times
SAFEMIGRATE_RELIABILITY_SCALE): the CLI (and its children: it runs in a process group of its own, as
in a container) is SIGKILLed after a random delay while it runs `up` over files that insert rows, a
statement-mode file (`CREATE INDEX CONCURRENTLY` and DML on PostgreSQL, DDL and DML on MariaDB),
`up --atomic`, `release` (backup, apply and health gate against an app served by the test) or
`recover --apply`. After every kill:

* no lock is left (pg_locks advisory, IS_USED_LOCK, the SQLite lock file's flock);
* every row that existed before is there (a `precious` table filled before the campaign);
* the database is at a clean version whose schema is that of a fresh database migrated to it
  and whose migration rows were inserted exactly once; or dirty, with a history row that says exactly
  which statements committed (each statement's effect is checked against the catalog and the rows)
  and which one may have; then `recover` diagnoses it, `recover --apply` brings it to a clean version,
  which is checked as above;
* after a killed `release`, `backup list` shows only complete backups, each of which re-hashes right.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from reliability_support import kill_9, locks_left, record, rng_for, scaled, start_cli, wait_for

from schema_app import serve_app
from support import TestDatabase, assert_no_secret, database_name, run_cli, write_migrations
from test_recover import from_scratch, schema

pytestmark = pytest.mark.slow
PRECIOUS_ROWS = 300
ROWS_PER_FILE = 50

SLEEP = {  # a statement that takes a moment and inserts one witness row, in each dialect
    "postgres": "INSERT INTO witness (v, k) SELECT {v}, {k} FROM pg_sleep({s})",
    "mysql": "INSERT INTO witness (v, k) SELECT {v}, {k} FROM (SELECT SLEEP({s})) AS pause",
    "sqlite": ("INSERT INTO witness (v, k) SELECT {v}, {k} FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL "
               "SELECT x + 1 FROM c WHERE x < {n}) SELECT count(*) FROM c)"),
}


def pause(dialect: str, v: int, k: int, seconds: float) -> str:
    return SLEEP[dialect].format(v=v, k=k, s=seconds, n=int(seconds * 4_000_000))


@dataclass
class Statement:
    """One statement of a statement-mode file and how to see whether it took effect."""

    sql: str
    kind: str  # "row" (a witness row v, k), "index", "column", "table" or "rows" (of table `name`), "none"
    name: str = ""


@dataclass
class Campaign:
    db: TestDatabase
    folder: Path
    tmp: Path
    admin: tuple[str, str | None]
    last: int
    statement_files: dict[int, list[Statement]] = field(default_factory=dict)
    references: dict[int, Any] = field(default_factory=dict)
    precious: list[tuple[Any, ...]] = field(default_factory=list)
    figures: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("kills", "consistent", "dirty", "recovered", "rows_lost", "locks_left", "incomplete_backups"), 0))

    def cli(self, *args: str) -> Any:
        return run_cli("-path", str(self.folder), "-database", self.db.url, *args)

    def version(self) -> tuple[int, bool] | None:
        rows = self.db.version_row() if "schema_migrations" in self.db.tables() else []
        return rows[0] if rows else None


# -- the migration files -------------------------------------------------------------------------------------
def base_files(dialect: str) -> dict[str, str]:
    return {
        "000001_base.up.sql": ("CREATE TABLE precious (id INTEGER PRIMARY KEY, body VARCHAR(100) NOT NULL);\n"
                               "CREATE TABLE witness (v INTEGER NOT NULL, k INTEGER NOT NULL);\n"
                               "CREATE TABLE big (id INTEGER PRIMARY KEY, n INTEGER);\n"),
        "000001_base.down.sql": "DROP TABLE big;\nDROP TABLE witness;\nDROP TABLE precious;\n",
    }


def transactional_files(dialect: str, count: int = 5) -> dict[str, str]:
    """Files that create a table, insert rows into it and into `witness`, and take a moment."""
    files = base_files(dialect)
    for v in range(2, count + 2):
        rows = ", ".join(f"({i}, 'row {i} of {v}')" for i in range(1, ROWS_PER_FILE + 1))
        files[f"{v:06d}_t{v}.up.sql"] = (f"CREATE TABLE t{v} (id INTEGER PRIMARY KEY, body VARCHAR(40));\n"
                                         f"INSERT INTO t{v} VALUES {rows};\n"
                                         f"{pause(dialect, v, 3, 0.06)};\n"
                                         f"UPDATE precious SET body = body WHERE id % 7 = {v % 7};\n")
        files[f"{v:06d}_t{v}.down.sql"] = f"DELETE FROM witness WHERE v = {v};\nDROP TABLE t{v};\n"
    return files


def statement_files(dialect: str, count: int = 3) -> tuple[dict[str, str], dict[int, list[Statement]]]:
    """Files that run statement by statement: DML with witnesses and index/column DDL between them."""
    files = base_files(dialect)
    plans: dict[int, list[Statement]] = {}
    for v in range(2, count + 2):
        if dialect == "postgres":
            ddl = [Statement(f"CREATE INDEX CONCURRENTLY ix_big_{v} ON big (n, id)", "index", f"ix_big_{v}")]
        elif dialect == "mysql":
            ddl = [Statement(f"ALTER TABLE big ADD COLUMN c{v} INTEGER", "column", f"c{v}"),
                   Statement(f"CREATE INDEX ix_big_{v} ON big (n, id)", "index", f"ix_big_{v}")]
        else:
            ddl = [Statement(f"CREATE INDEX ix_big_{v} ON big (n, id)", "index", f"ix_big_{v}")]
        plan = [Statement(pause(dialect, v, 1, 0.05), "row"), ddl[0],
                Statement(f"INSERT INTO witness (v, k) VALUES ({v}, 3)", "row"),
                *ddl[1:], Statement(pause(dialect, v, 4 + len(ddl[1:]), 0.05), "row")]
        plans[v] = plan
        header = "-- safemigrate:no-transaction\n" if dialect != "mysql" else ""
        files[f"{v:06d}_s{v}.up.sql"] = header + "".join(s.sql + ";\n" for s in plan)
        down = [f"DELETE FROM witness WHERE v = {v}"]
        for s in reversed(ddl):
            if s.kind == "index":
                down.append(f"DROP INDEX IF EXISTS {s.name}" if dialect != "mysql"
                            else f"DROP INDEX IF EXISTS {s.name} ON big")
            else:
                down.append(f"ALTER TABLE big DROP COLUMN IF EXISTS {s.name}")
        files[f"{v:06d}_s{v}.down.sql"] = "".join(d + ";\n" for d in down)
    return files, plans


def mysql_transactional_plans(count: int = 5) -> dict[int, list[Statement]]:
    """On MariaDB every file runs statement by statement (DDL commits): the same checks apply."""
    return {v: [Statement("", "table", f"t{v}"), Statement("", "rows", f"t{v}"), Statement("", "row"),
                Statement("", "none")] for v in range(2, count + 2)}


def witness_k(plan: list[Statement]) -> list[int]:
    return [k for k, s in enumerate(plan, start=1) if s.kind == "row"]


# -- the checks ----------------------------------------------------------------------------------------------
def effect_present(c: Campaign, v: int, k: int, s: Statement) -> bool:
    db = c.db
    if s.kind == "table":
        return s.name in db.tables()
    if s.kind == "rows":
        return s.name in db.tables() and bool(db.query(f"SELECT count(*) FROM {s.name}")[0][0])
    if s.kind == "row":
        return bool(db.query(f"SELECT count(*) FROM witness WHERE v = {v} AND k = {k}")[0][0])
    if s.kind == "column":
        return s.name in {r[1] for r in schema(db) if r[0] == "big"}
    if db.dialect == "postgres":
        rows = db.query(f"SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('{s.name}')")
        return bool(rows)  # present, valid or INVALID (an interrupted CONCURRENTLY build)
    if db.dialect == "mysql":
        return bool(db.query(f"SELECT count(*) FROM information_schema.statistics WHERE table_schema = DATABASE() "
                             f"AND index_name = '{s.name}'")[0][0])
    return bool(db.query(f"SELECT count(*) FROM sqlite_schema WHERE name = '{s.name}'")[0][0])


def expected_witness(c: Campaign, version: int) -> list[tuple[int, int]]:
    rows: list[tuple[int, int]] = []
    for v in range(2, version + 1):
        plan = c.statement_files.get(v)
        rows += [(v, k) for k in witness_k(plan)] if plan else [(v, 3)]
    return rows


def check_clean(c: Campaign, version: int) -> None:
    """A clean version: the schema of a fresh run to it, each migration's rows exactly once."""
    if version not in c.references:
        c.references[version] = from_scratch(c.db, c.folder, version, c.tmp, *c.admin)
    assert schema(c.db) == c.references[version], f"schema at clean version {version} differs from a fresh run"
    if version >= 1:
        witness = sorted((int(v), int(k)) for v, k in c.db.query("SELECT v, k FROM witness"))
        assert witness == expected_witness(c, version), "a migration's rows were applied twice or lost"
        for v in range(2, version + 1):
            if f"t{v}" in c.db.tables():
                assert c.db.query(f"SELECT count(*) FROM t{v}")[0][0] == ROWS_PER_FILE
    c.figures["consistent"] += 1


def check_dirty_history(c: Campaign, version: int) -> None:
    """Dirty: the history's running row says exactly which statements committed and which may have."""
    rows = c.db.query("SELECT outcome, statements_committed, statement_started FROM safemigrate_history "
                      f"WHERE version = {version} AND direction = 'up' ORDER BY id DESC")
    assert rows, f"dirty at {version} with no history row"
    outcome, committed, started = rows[0]
    assert outcome == "running", rows[0]
    plan = c.statement_files.get(version)
    assert plan is not None, f"a transactional migration ({version}) left the database dirty"
    for k, s in enumerate(plan, start=1):
        present = effect_present(c, version, k, s)
        if k == started or s.kind == "none":
            continue  # sent, may or may not have completed: the history says exactly that
        assert present == (k <= committed), (
            f"statement {k} of {version}: history says {committed} committed (started {started}), "
            f"the database says {'present' if present else 'absent'}")
    c.figures["dirty"] += 1


def check_precious(c: Campaign) -> None:
    now = c.db.query("SELECT id, body FROM precious ORDER BY id")
    lost = len(set(c.precious) - {tuple(r) for r in now})
    c.figures["rows_lost"] += lost
    assert lost == 0, f"{lost} rows that existed before are gone"


def recover_to_clean(c: Campaign) -> int:
    """recover diagnoses the dirty database, recover --apply (the only safe option, else finish) cleans it."""
    diagnosis = c.cli("recover", "--json")
    assert diagnosis.exit_code == 0, diagnosis.output
    assert diagnosis.json()["dirty"] is True
    result = c.cli("recover", "--apply", "--json")
    if result.exit_code != 0:
        result = c.cli("recover", "--apply", "--choose", "finish", "--json")
    assert result.exit_code == 0, result.output
    state = c.version()
    assert state is not None and state[1] is False, state
    c.figures["recovered"] += 1
    return state[0]


def after_kill(c: Campaign) -> int:
    """Every check of a kill; returns the clean version the database is at afterwards."""
    c.figures["kills"] += 1
    left = locks_left(c.db)
    c.figures["locks_left"] += left
    assert left == 0, "the killed run left the migration lock held"
    check_precious(c)
    state = c.version()
    if state is None:
        return 0
    version, dirty = state
    if dirty:
        check_dirty_history(c, version)
        version = recover_to_clean(c)
        check_precious(c)
    check_clean(c, version)
    return version


def prepare(db: TestDatabase, tmp: Path, files: dict[str, str], request: pytest.FixtureRequest,
            plans: dict[int, list[Statement]] | None = None) -> Campaign:
    folder = write_migrations(tmp / "migrations", files)
    admin = (request.getfixturevalue("postgres_admin_url"),
             request.getfixturevalue("mysql_admin_url") if db.dialect == "mysql" else None)
    last = max(int(name.split("_")[0]) for name in files)
    c = Campaign(db, folder, tmp, admin, last, plans or {})
    assert c.cli("up", "1").exit_code == 0
    body = ", ".join(f"({i}, 'precious {i}')" for i in range(1, PRECIOUS_ROWS + 1))
    db.execute(f"INSERT INTO precious VALUES {body}")
    db.execute("INSERT INTO big (id, n) VALUES " + ", ".join(f"({i}, {i % 97})" for i in range(1, 2001)))
    c.precious = [tuple(r) for r in db.query("SELECT id, body FROM precious ORDER BY id")]
    return c


def kill_campaign(c: Campaign, rng: Any, kills: int, args: tuple[str, ...], longest: float) -> None:
    """Run ``args`` and kill it after a random delay, ``kills`` times; start over from version 1
    whenever the run got to the end."""
    for _ in range(kills):
        proc = start_cli("-path", str(c.folder), "-database", c.db.url, *args)
        with contextlib.suppress(Exception):
            proc.wait(timeout=rng.uniform(0.05, longest))
        out, err = kill_9(proc)
        assert_no_secret(out, err)
        assert "internal error" not in err, err
        version = after_kill(c)
        if version == c.last:
            assert c.cli("goto", "1").exit_code == 0
            check_clean(c, 1)


KILLS = {  # per test; each (dialect, scenario) runs in `shards` tests so xdist spreads them
    ("postgres", "transactional"): (2, 8), ("postgres", "statements"): (2, 7), ("postgres", "atomic"): (1, 8),
    ("mysql", "transactional"): (2, 8), ("mysql", "statements"): (2, 9),
    ("sqlite", "transactional"): (2, 8), ("sqlite", "statements"): (2, 7), ("sqlite", "atomic"): (1, 8),
}
CASES = [pytest.param(dialect, scenario, shard, id=f"{dialect}-{scenario}-{shard}")
         for (dialect, scenario), (shards, _k) in KILLS.items() for shard in range(shards)]


@pytest.mark.parametrize(("dialect", "scenario", "shard"), CASES)
def test_kill_9_at_random_points_leaves_a_clean_or_exactly_described_state(
        dialect: str, scenario: str, shard: int, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    db = _db(request, dialect)
    rng = rng_for(request.node.nodeid)
    plans: dict[int, list[Statement]] = {}
    if scenario == "statements":
        files, plans = statement_files(dialect)
    else:
        files = transactional_files(dialect)
        plans = mysql_transactional_plans() if dialect == "mysql" else {}
    c = prepare(db, tmp_path, files, request, plans)
    args = ("up", "--atomic") if scenario == "atomic" else ("up",)
    try:
        kill_campaign(c, rng, scaled(KILLS[(dialect, scenario)][1]), args, longest=1.2)
    finally:
        record(dialect, **c.figures)
    assert c.figures["locks_left"] == 0 and c.figures["rows_lost"] == 0
    if scenario == "atomic":
        assert c.figures["dirty"] == 0  # all or nothing: never half-applied


def _db(request: pytest.FixtureRequest, dialect: str) -> TestDatabase:
    if dialect == "postgres":
        return TestDatabase("postgres", request.getfixturevalue("pg_url"), request.getfixturevalue("pg_plain_url"))
    if dialect == "mysql":
        url = request.getfixturevalue("mysql_url")
        return TestDatabase("mysql", url, url)
    path = request.getfixturevalue("tmp_path") / "crash.db"
    return TestDatabase("sqlite", f"sqlite3://{path}", str(path))


# -- recover --apply killed -------------------------------------------------------------------------------------
@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite"])
def test_kill_9_during_recover_apply_leaves_a_state_recover_can_still_repair(
        dialect: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    db = _db(request, dialect)
    rng = rng_for(request.node.nodeid)
    files, plans = statement_files(dialect)
    c = prepare(db, tmp_path, files, request, plans)
    recover_kills = 0
    wanted = scaled(6)
    for _attempt in range(wanted * 12):
        if recover_kills >= wanted:
            break
        proc = start_cli("-path", str(c.folder), "-database", db.url, "up")
        with contextlib.suppress(Exception):
            proc.wait(timeout=rng.uniform(0.15, 0.9))
        kill_9(proc)
        c.figures["kills"] += 1
        assert locks_left(db) == 0
        state = c.version()
        if state is None or not state[1]:
            c.figures["consistent"] += 1
            if state is not None and state[0] == c.last:
                assert c.cli("goto", "1").exit_code == 0
            continue
        check_dirty_history(c, state[0])
        # The dirty state is ours: now kill recover --apply itself.
        proc = start_cli("-path", str(c.folder), "-database", db.url, "recover", "--apply", "--choose", "finish")
        with contextlib.suppress(Exception):
            proc.wait(timeout=rng.uniform(0.1, 0.6))
        out, err = kill_9(proc)
        assert_no_secret(out, err)
        assert "internal error" not in err, err
        recover_kills += 1
        version = after_kill(c)  # still dirty (and exactly described, then repaired) or clean
        if version == c.last:
            assert c.cli("goto", "1").exit_code == 0
    record(dialect, recover_kills=recover_kills, **c.figures)
    assert recover_kills >= 1, "no run was ever killed in a dirty state: the delays are off"


# -- release killed in each phase ---------------------------------------------------------------------------
def backups_listed_are_complete(c: Campaign, store: Path) -> int:
    """`backup list --check` lists only complete backups, and each re-hashes right; returns the bad ones."""
    if not store.exists():
        return 0
    result = c.cli("backup", "list", "--to", str(store), "--check", "--json")
    assert result.exit_code == 0, result.output
    data = result.json()
    listed = {b["id"] for b in data["backups"]}
    incomplete = {str(i if isinstance(i, str) else i.get("id")) for i in data["incomplete"]}
    return len(data["damaged"]) + len(data["unreadable"]) + len(listed & incomplete)


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite"])
@pytest.mark.parametrize("shard", [0, 1])
def test_kill_9_during_release_in_every_phase(dialect: str, shard: int, tmp_path: Path,
                                             request: pytest.FixtureRequest) -> None:
    db = _db(request, dialect)
    rng = rng_for(request.node.nodeid)
    c = prepare(db, tmp_path, transactional_files(dialect, 3), request,
                mysql_transactional_plans(3) if dialect == "mysql" else None)
    store = tmp_path / "backups"
    before = _scratch_databases(c)
    try:
        with serve_app(db.url, set(range(0, c.last + 1))) as app:
            for _ in range(scaled(5)):
                proc = start_cli("-path", str(c.folder), "-database", db.url, "release",
                                 "--backup-location", str(store), "--report", str(tmp_path / "releases"),
                                 "--health-url", app.url, "--health-interval", "0.05",
                                 "--health-successes", "3", "--health-deadline", "5")
                with contextlib.suppress(Exception):
                    proc.wait(timeout=rng.uniform(0.1, 3.0))
                out, err = kill_9(proc)
                assert_no_secret(out, err)
                assert "internal error" not in err, err
                version = after_kill(c)
                bad = backups_listed_are_complete(c, store)
                c.figures["incomplete_backups"] += bad
                assert bad == 0, "a killed backup is listed"
                # The kill is on purpose: a release killed while it verifies its backup cannot run the
                # `finally` that drops its scratch database, so the test drops what its kills left.
                _drop_scratch_left(c, before)
                if version == c.last:
                    assert c.cli("goto", "1").exit_code == 0
    finally:
        record(dialect, release_kills=c.figures["kills"], **c.figures)
        _drop_scratch_left(c, before)
        if dialect == "postgres":
            _drop_scratch_databases(c)


def _drop_scratch_databases(c: Campaign) -> None:
    import psycopg

    name = database_name(c.db._connect_to)
    with psycopg.connect(c.admin[0], autocommit=True) as conn:
        for (other,) in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                     [name.replace("_", "\\_") + "\\_%"]).fetchall():
            conn.execute(f'DROP DATABASE IF EXISTS "{other}" WITH (FORCE)')


SCRATCH_LIKE = "safemigrate\\_verify\\_%"  # the backup verification's scratch databases


def _scratch_databases(c: Campaign) -> set[str]:
    """The `safemigrate_verify_*` databases on the server of the campaign's database."""
    if c.db.dialect == "postgres":
        import psycopg

        with psycopg.connect(c.admin[0], autocommit=True) as conn:
            return {str(r[0]) for r in conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s", [SCRATCH_LIKE]).fetchall()}
    if c.db.dialect == "mysql":
        return {str(r[0]) for r in c.db.query(
            f"SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE '{SCRATCH_LIKE}'")}
    return set()


def _drop_scratch_left(c: Campaign, before: set[str]) -> None:
    """Drops the scratch databases that appeared during the campaign and that nobody uses.

    A killed client's CREATE DATABASE still finishes on a PostgreSQL server, so it is waited for first;
    one in use is another test's live verification (a killed one's connections are gone by now), and
    one named as made over an hour ago is another test's stand-in for an old leftover."""
    from safemigrate.backup.dialect import stale_scratch

    if c.db.dialect == "postgres":
        import psycopg

        with psycopg.connect(c.admin[0], autocommit=True) as conn:
            wait_for(lambda: conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE %s",
                ['CREATE DATABASE "' + SCRATCH_LIKE]).fetchone()[0] == 0, "a CREATE DATABASE to finish")
            made = _scratch_databases(c)
            for name in sorted(made - before - set(stale_scratch(list(made)))):
                if conn.execute("SELECT 1 FROM pg_stat_activity WHERE datname = %s", [name]).fetchone() is None:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
    elif c.db.dialect == "mysql":
        made = _scratch_databases(c)
        for name in sorted(made - before - set(stale_scratch(list(made)))):
            if not c.db.query(f"SELECT 1 FROM information_schema.processlist WHERE db = '{name}'"):
                c.db.execute(f"DROP DATABASE IF EXISTS `{name}`")


# -- the defect the random kills found, pinned down ---------------------------------------------------------
@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
def test_recover_finish_killed_halfway_never_runs_a_statement_twice(
        dialect: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """`up` dies inside statement 2; `recover --apply --choose finish` runs 2 and 3 and dies inside 4.
    Its progress must be in the history, or the next finish runs the DML statements 2 and 3 again."""
    from test_crash_consistency import holder_connection, statement_waiting, wait_for

    db = _db(request, dialect)
    folder = write_migrations(tmp_path / "m", {
        "1_base.up.sql": "CREATE TABLE guard_a (id INTEGER PRIMARY KEY, n INTEGER);\n"
                         "CREATE TABLE guard_b (id INTEGER PRIMARY KEY, n INTEGER);\n"
                         "CREATE TABLE log_t (k INTEGER);\n"
                         "INSERT INTO guard_a VALUES (1, 0);\nINSERT INTO guard_b VALUES (1, 0);\n",
        "2_backfill.up.sql": "-- safemigrate:no-transaction\nINSERT INTO log_t VALUES (1);\n"
                             "UPDATE guard_a SET n = n + 1 WHERE id = 1;\nINSERT INTO log_t VALUES (3);\n"
                             "UPDATE guard_b SET n = n + 1 WHERE id = 1;\n",
    })
    assert run_cli("-path", str(folder), "-database", db.url, "up", "1").exit_code == 0

    def killed_while_waiting(table: str, *args: str) -> None:
        holder = holder_connection(db)
        try:
            holder.cursor().execute(f"SELECT n FROM {table} WHERE id = 1 FOR UPDATE")
            proc = start_cli("-path", str(folder), "-database", db.url, *args)
            try:
                wait_for(statement_waiting(db, f"UPDATE {table}"), proc, f"the update of {table} waits")
            finally:
                out, err = kill_9(proc)
                assert_no_secret(out, err)
        finally:
            holder.rollback()
            holder.close()
        assert locks_left(db) == 0

    killed_while_waiting("guard_a", "up")
    assert db.version_row() == [(2, True)]
    killed_while_waiting("guard_b", "recover", "--apply", "--choose", "finish")
    assert db.version_row() == [(2, True)]
    assert run_cli("-path", str(folder), "-database", db.url, "recover", "--apply", "--choose",
                   "finish").exit_code == 0
    assert db.version_row() == [(2, False)]
    assert sorted(db.query("SELECT k FROM log_t")) == [(1,), (3,)]
    assert db.query("SELECT n FROM guard_a") == [(1,)] and db.query("SELECT n FROM guard_b") == [(1,)]
