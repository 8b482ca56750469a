"""Nothing hangs: connect, read and dead-peer timeouts on PostgreSQL and MariaDB.

The peers are real sockets on 127.0.0.1 (tests/tcp_peers.py): a server that accepts TCP
and never answers, and a proxy in front of the real server that stops forwarding without
closing anything. Each test runs the CLI as a child process with a generous time limit, so
a regression shows as a failure (subprocess.TimeoutExpired), not as a hung suite. The URLs
carry small timeouts so each test ends in a few seconds.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import pytest

if TYPE_CHECKING:
    from safemigrate.drivers.mysql import MysqlDriver

from support import CANARY_PASSWORD, run_cli, run_cli_process, write_migrations
from tcp_peers import FrozenProxy, SilentServer

# Far above what the timeouts under test need; only reached when something hangs.
HANG_GUARD = 60

# libpq's smallest connect_timeout is 2 s; keepalives of 1 s idle + 1 probe after 1 s: the
# watchdog asks after 2 s without an answer.
PG_FAST = "sslmode=disable&connect_timeout=2&keepalives_idle=1&keepalives_interval=1&keepalives_count=1"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_migrations(tmp_path / "m", {"1_t.up.sql": "CREATE TABLE t (id integer);\n",
                                             "1_t.down.sql": "DROP TABLE t;\n"})


def _via(url: str, port: int, query: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    hostport = f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{hostport}" if len(netloc) == 2 else hostport,
                                     query=query))


def _pg_port(url: str) -> int:
    port = urlsplit(url).port
    if port is None:
        pytest.skip("the PostgreSQL server under test listens on a socket, not TCP")
    return port


# -- PostgreSQL ---------------------------------------------------------------------------------

def test_postgres_defaults_bound_connecting_and_find_a_dead_peer_within_30_seconds() -> None:
    from safemigrate.drivers.postgres import connection_params, dead_peer_bound
    from safemigrate.urls import parse_database_url

    params = connection_params(parse_database_url("postgres://u@db.example:5432/app?sslmode=disable"))
    assert params["connect_timeout"] == "10"
    assert params["keepalives"] == "1"
    bound, _source = dead_peer_bound(params)
    assert bound <= 30
    overridden = connection_params(parse_database_url(
        "postgres://u@db.example/app?connect_timeout=3&keepalives_idle=7&tcp_user_timeout=9000"))
    assert (overridden["connect_timeout"], overridden["keepalives_idle"], overridden["tcp_user_timeout"]) == \
        ("3", "7", "9000")


@pytest.mark.parametrize("command", ["version", "up"])
def test_postgres_server_that_never_answers_ends_with_a_connect_timeout(folder: Path, command: str) -> None:
    with SilentServer() as server:
        url = f"postgres://postgres:{CANARY_PASSWORD}@127.0.0.1:{server.port}/app?{PG_FAST}"
        result = run_cli_process("-path", str(folder), "-database", url, command, timeout=HANG_GUARD)
    assert result.exit_code == 1, result.output
    assert "connect timeout:" in result.stderr and "connect_timeout=2" in result.stderr
    assert "next:" in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize("command", ["version", "up"])
def test_postgres_frozen_connection_ends_with_a_read_timeout_naming_keepalives(
        pg_url: str, folder: Path, command: str) -> None:
    with FrozenProxy(_pg_port(pg_url), freeze_on=b"schema_migrations") as proxy:
        url = _via(pg_url, proxy.port, PG_FAST)
        result = run_cli_process("-path", str(folder), "-database", url, command, timeout=HANG_GUARD)
        assert proxy.frozen.is_set()
    assert result.exit_code == 1, result.output
    assert "read timeout:" in result.stderr and "keepalives_idle=1" in result.stderr
    assert "frozen" in result.stderr and "Traceback" not in result.output


def test_postgres_frozen_while_connecting_ends_with_a_connect_timeout(pg_url: str, folder: Path) -> None:
    # The proxy freezes on our first query: libpq has connected, the database is not known yet.
    with FrozenProxy(_pg_port(pg_url), freeze_on=b"current_database()") as proxy:
        url = _via(pg_url, proxy.port, PG_FAST)
        result = run_cli_process("-path", str(folder), "-database", url, "version", timeout=HANG_GUARD)
    assert result.exit_code == 1, result.output
    assert "connect timeout:" in result.stderr and "did not answer" in result.stderr


def test_postgres_long_statement_outlives_the_dead_peer_bound(pg_url: str, tmp_path: Path) -> None:
    # The server is alive and busy for longer than the watchdog waits: it asks, hears
    # "still running", and lets the statement finish.
    folder = write_migrations(tmp_path / "slow", {"1_slow.up.sql": "SELECT pg_sleep(4);\n"})
    with FrozenProxy(_pg_port(pg_url), freeze_on=b"\x00never\x00") as proxy:
        url = _via(pg_url, proxy.port, PG_FAST)
        result = run_cli("-path", str(folder), "-database", url, "up")
    assert result.exit_code == 0, result.output
    assert "1/u slow" in result.stdout


# -- MariaDB ------------------------------------------------------------------------------------

def _mysql_port(url: str) -> int:
    from safemigrate.drivers.mysql import parse_mysql_url
    from safemigrate.urls import parse_database_url

    target = parse_mysql_url(parse_database_url(url))
    if target.unix_socket:
        pytest.skip("the MariaDB server under test listens on a socket, not TCP")
    return target.port


def _mysql_via(url: str, port: int, query: str) -> str:
    from safemigrate.drivers.mysql import parse_mysql_url
    from safemigrate.urls import parse_database_url

    target = parse_mysql_url(parse_database_url(url))
    return f"mysql://{target.user}@tcp(127.0.0.1:{port})/{target.database}?{query}"


@pytest.mark.parametrize("command", ["version", "up"])
def test_mariadb_server_that_never_answers_ends_with_a_connect_timeout(folder: Path, command: str) -> None:
    with SilentServer() as server:
        url = f"mysql://root:{CANARY_PASSWORD}@tcp(127.0.0.1:{server.port})/app?timeout=1s"
        result = run_cli_process("-path", str(folder), "-database", url, command, timeout=HANG_GUARD)
    assert result.exit_code == 1, result.output
    assert "connect timeout:" in result.stderr and "timeout=1s" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", ["version", "up"])
def test_mariadb_frozen_connection_ends_with_a_read_timeout_naming_readtimeout(
        mysql_url: str, folder: Path, command: str) -> None:
    with FrozenProxy(_mysql_port(mysql_url), freeze_on=b"schema_migrations") as proxy:
        url = _mysql_via(mysql_url, proxy.port, "timeout=2s&readTimeout=1s")
        result = run_cli_process("-path", str(folder), "-database", url, command, timeout=HANG_GUARD)
        assert proxy.frozen.is_set()
    assert result.exit_code == 1, result.output
    assert "read timeout:" in result.stderr and "readTimeout=1s" in result.stderr
    assert "Traceback" not in result.output


def test_mariadb_connecting_is_bounded_by_default_and_keeps_long_statements(mysql_url: str) -> None:
    from safemigrate.drivers.mysql import MysqlDriver
    from safemigrate.urls import parse_database_url

    driver = MysqlDriver(parse_database_url(mysql_url))
    driver.connect()
    try:
        conn = driver.conn
        assert conn.connect_timeout == 10
        # After connecting no read timeout cuts a long migration short (the watchdog guards it).
        assert getattr(conn, "_read_timeout") is None  # noqa: B009
        import socket

        sock = getattr(conn, "_sock")  # noqa: B009
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
    finally:
        driver.close()


def _mysql_driver_via_proxy(mysql_url: str, proxy: FrozenProxy, patience: float) -> MysqlDriver:
    from safemigrate.drivers.mysql import MysqlDriver
    from safemigrate.urls import parse_database_url

    driver = MysqlDriver(parse_database_url(_mysql_via(mysql_url, proxy.port, "timeout=2s")))
    driver.dead_peer_seconds = patience  # the default is 25 s; the mechanism is the same
    return driver


def test_mariadb_frozen_connection_without_readtimeout_is_cut_by_the_watchdog(mysql_url: str) -> None:
    from safemigrate.errors import DatabaseError

    with FrozenProxy(_mysql_port(mysql_url), freeze_on=b"schema_migrations") as proxy:
        driver = _mysql_driver_via_proxy(mysql_url, proxy, 1.0)
        driver.connect()
        outcome: list[BaseException | None] = []

        def read() -> None:
            try:
                driver.read_version()
                outcome.append(None)
            except BaseException as exc:  # handed to the test thread
                outcome.append(exc)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(HANG_GUARD)
        try:
            assert outcome, "read_version() still hangs on the frozen connection"
            error = outcome[0]
            assert isinstance(error, DatabaseError) and re.search(r"read timeout: .* frozen", str(error))
        finally:
            if not outcome:
                proxy.close()  # ends the hung read, so that closing the driver cannot block too
                reader.join(HANG_GUARD)
            driver.close()


def test_mariadb_long_statement_outlives_the_watchdog(mysql_url: str) -> None:
    with FrozenProxy(_mysql_port(mysql_url), freeze_on=b"\x00never\x00") as proxy:
        driver = _mysql_driver_via_proxy(mysql_url, proxy, 1.0)
        driver.connect()
        try:
            assert driver.query("SELECT SLEEP(3)") == [(0,)]
        finally:
            driver.close()
