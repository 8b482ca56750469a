"""kill -9 at each statement of a statement-mode migration, then recover: right every time.

Statement k of migration 2 waits on a lock the test holds; the CLI is SIGKILLed there, the lock
is released (the server may still finish what it was sent), then `recover` must judge every
statement right, and `--choose finish` / `--choose undo` must each leave a clean version whose
schema is that of a clean run to it, with every row that existed before.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from support import TestDatabase, assert_no_secret, run_cli, write_migrations
from test_crash_consistency import (
    cli_sessions_gone,
    holder_connection,
    start_cli,
    statement_waiting,
    wait_for,
)
from test_recover import from_scratch, schema

TABLES = ("ta", "tb", "tc", "td")


def files(dialect: str) -> dict[str, str]:
    create = "".join(f"CREATE TABLE {t} (id INTEGER PRIMARY KEY, v INTEGER);\n" for t in TABLES)
    if dialect == "postgres":
        body = ("-- safemigrate:no-transaction\n"
                "ALTER TABLE ta ADD COLUMN c1 INTEGER;\n"
                "CREATE INDEX CONCURRENTLY idx_tb_v ON tb (v);\n"
                "ALTER TABLE tc ADD COLUMN c3 INTEGER;\n"
                "ALTER TABLE td ADD COLUMN c4 INTEGER;\n")
    else:
        body = ("ALTER TABLE ta ADD COLUMN c1 INTEGER;\n"
                "CREATE INDEX idx_tb_v ON tb (v);\n"
                "ALTER TABLE tc ADD COLUMN c3 INTEGER;\n"
                "ALTER TABLE td ADD COLUMN c4 INTEGER;\n")
    return {"000001_tables.up.sql": create, "000001_tables.down.sql": "DROP TABLE ta, tb, tc, td;\n",
            "000002_columns.up.sql": body, "000002_columns.down.sql": "SELECT 1;\n"}


WAITING = {1: "ALTER TABLE ta", 2: "CREATE INDEX", 3: "ALTER TABLE tc", 4: "ALTER TABLE td"}


def lock_for(db: TestDatabase, k: int) -> str:
    table = TABLES[k - 1]
    if db.dialect == "postgres":
        return f"LOCK TABLE {table} IN ROW EXCLUSIVE MODE"  # blocks ALTER; CONCURRENTLY waits for it too
    return f"SELECT * FROM {table}"  # an open transaction's metadata lock blocks MariaDB's DDL


@pytest.mark.parametrize("db", ["postgres", "mysql"], indirect=True)
@pytest.mark.parametrize("k", [1, 2, 3, 4])
@pytest.mark.parametrize("choice", ["finish", "undo"])
def test_kill_9_at_each_statement_then_recover_is_right_every_time(
        db: TestDatabase, tmp_path: Path, k: int, choice: str, request: pytest.FixtureRequest) -> None:
    folder = write_migrations(tmp_path / "m", files(db.dialect))
    assert run_cli("-path", str(folder), "-database", db.url, "up", "1").exit_code == 0
    for table in TABLES:
        db.execute(f"INSERT INTO {table} (id, v) VALUES (1, 10), (2, 20)")
    rows_before = {t: db.query(f"SELECT id, v FROM {t} ORDER BY id") for t in TABLES}

    holder = holder_connection(db)
    try:
        holder.cursor().execute(lock_for(db, k))
        proc = start_cli("-path", str(folder), "-database", db.url, "up")
        try:
            wait_for(statement_waiting(db, WAITING[k]), proc, f"statement {k} waits on the lock")
        finally:
            proc.send_signal(signal.SIGKILL)
            out, err = proc.communicate(timeout=30)
            assert_no_secret(out, err)
        holder.commit()
    finally:
        holder.close()
    wait_for(cli_sessions_gone(db), None, "the killed CLI's session ended")
    assert db.version_row() == [(2, True)]

    diagnosis = run_cli("-path", str(folder), "-database", db.url, "recover", "--json").json()
    assert diagnosis["history_used"] is True
    verdicts = [s["verdict"] for s in diagnosis["statements"]]
    assert verdicts[:k - 1] == ["took effect"] * (k - 1)
    assert verdicts[k:] == ["did not run"] * (4 - k)
    assert verdicts[k - 1] in ("took effect", "did not run")  # the server may have finished it
    # The catalog agrees with the verdict of the statement that was running.
    column_or_index = {1: ("ta", "c1"), 3: ("tc", "c3"), 4: ("td", "c4")}
    if k in column_or_index:
        table, column = column_or_index[k]
        present = column in {c for (_t, c, *_rest) in schema(db) if _t == table} if db.dialect == "postgres" \
            else column in {c for (_t, c) in schema(db) if _t == table}
        assert (verdicts[k - 1] == "took effect") == present

    result = run_cli("-path", str(folder), "-database", db.url, "recover", "--apply", "--choose", choice)
    assert result.exit_code == 0, result.output
    expected = 2 if choice == "finish" else 1
    assert db.version_row() == [(expected, False)]
    admin = (request.getfixturevalue("postgres_admin_url"),
             request.getfixturevalue("mysql_admin_url") if db.dialect == "mysql" else None)
    assert schema(db) == from_scratch(db, folder, expected, tmp_path, *admin)
    for table in TABLES:
        assert db.query(f"SELECT id, v FROM {table} ORDER BY id") == rows_before[table]
