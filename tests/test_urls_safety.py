"""A URL that names no server is refused, a password never shows, and a command that writes
says which database it reached before it changes anything."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from support import (
    CANARY_PASSWORD,
    MALFORMED_URLS,
    database_name,
    run_cli,
    run_cli_with_env_url,
    write_migrations,
)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_migrations(tmp_path / "m", {"1_t.up.sql": "CREATE TABLE t (id integer);\n",
                                             "1_t.down.sql": "DROP TABLE t;\n"})


# -- refused before connecting --------------------------------------------------------------------

@pytest.mark.parametrize(("url", "message"), [
    (f"postgres://postgres:{CANARY_PASSWORD}#x@127.0.0.1:5432/db", "unencoded '#'"),
    (f"postgres://postgres:#{CANARY_PASSWORD}@127.0.0.1:5432/db", "unencoded '#'"),
    (f"mysql://root:{CANARY_PASSWORD}#x@tcp(127.0.0.1:3306)/db", "unencoded '#'"),
    ("postgres://", "names no host"),
    ("postgresql:///db", "names no host"),
    (f"postgres://postgres:{CANARY_PASSWORD}@/db", "empty host"),
    (f"postgres://postgres:{CANARY_PASSWORD}@:5432/db", "empty host"),
    (f"mysql://root:{CANARY_PASSWORD}@/db", "names no host"),
    (f"mysql://root:{CANARY_PASSWORD}@tcp()/db", "names no host"),
])
@pytest.mark.parametrize("command", ["up", "version", "force 1", "drop -f"])
def test_url_that_names_no_server_is_refused_before_connecting(folder: Path, url: str, message: str,
                                                               command: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "DATABASE_URL"}
    result = run_cli("-path", str(folder), "-database", url, *command.split(), env=env)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "next:" in result.stderr
    assert "cannot connect" not in result.stderr and "no migration" not in result.stderr


def test_url_with_a_host_parameter_names_its_server(pg_url: str, folder: Path) -> None:
    parts = urlsplit(pg_url)
    if not parts.hostname:
        pytest.skip("the PostgreSQL server under test listens on a socket (its URL has host= already)")
    host, port = parts.hostname, parts.port or 5432
    url = urlunsplit(parts._replace(netloc=f"{parts.username}@", query=f"host={host}&port={port}&sslmode=disable"))
    assert run_cli("-path", str(folder), "-database", url, "up").exit_code == 0


@pytest.mark.parametrize("url", MALFORMED_URLS)
@pytest.mark.parametrize("where", ["flag", "environment"])
def test_malformed_url_error_never_quotes_the_url_or_its_password(folder: Path, url: str, where: str) -> None:
    for extra in ((), ("--json",)):
        if where == "flag":
            result = run_cli("-path", str(folder), "-database", url, "up", *extra)
        else:
            result = run_cli_with_env_url(url, "-path", str(folder), "up", *extra)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output and "internal error" not in result.output
        assert "127.0.0.1/db" not in result.output  # the URL itself is never echoed
        if extra:
            assert json.loads(result.stdout)["ok"] is False


@pytest.mark.parametrize(("url", "message"), [
    ("postgres://u:pw@h:notaport/db", "the port is not a number"),
    ("postgres://u:pw@h:99999/db", "the port is out of range"),
    ("postgres://u:p%zzw@h/db", "bad percent-encoding"),
    ("postgres:pw@h/db", "has no scheme"),
])
def test_malformed_url_says_what_is_wrong_in_plain_words(folder: Path, url: str, message: str) -> None:
    result = run_cli("-path", str(folder), "-database", url, "up")
    assert result.exit_code == 2 and message in result.stderr


def test_password_in_database_url_environment_is_masked_in_server_errors(pg_url: str, folder: Path) -> None:
    # The server names the missing database; the password is in the URL of $DATABASE_URL only.
    missing = urlunsplit(urlsplit(pg_url)._replace(path="/no_such_db_here"))
    result = run_cli_with_env_url(missing, "-path", str(folder), "up")
    assert result.exit_code == 1 and "no_such_db_here" in result.stderr


def test_mariadb_access_denied_keeps_the_servers_own_words(mysql_admin_url: str, folder: Path) -> None:
    from safemigrate.drivers.mysql import parse_mysql_url
    from safemigrate.urls import parse_database_url

    target = parse_mysql_url(parse_database_url(mysql_admin_url))
    if target.unix_socket:
        pytest.skip("the MariaDB server under test listens on a socket")
    url = f"mysql://sm_nobody:{CANARY_PASSWORD}@tcp({target.host}:{target.port})/mysql"
    result = run_cli("-path", str(folder), "-database", url, "version")
    assert result.exit_code == 1
    assert "(using password: YES)" in result.stderr


def test_redactor_keeps_mariadb_using_password_yes_and_no() -> None:
    from safemigrate.redact import redact_text

    text = "Access denied for user 'app'@'10.0.0.7' (using password: YES) / (using password: NO)"
    assert redact_text(text) == text
    assert redact_text("password: hunter22") == "password: xxxxx"


# -- which database a write reaches ---------------------------------------------------------------

@pytest.mark.parametrize("argv", [("up",), ("down", "-all"), ("goto", "1"), ("force", "1"), ("drop", "-f")])
def test_command_that_writes_names_the_database_it_connected_to_first(db: object, folder: Path,
                                                                     argv: tuple[str, ...]) -> None:
    from support import TestDatabase

    assert isinstance(db, TestDatabase)
    if argv[0] == "down":
        run_cli("-path", str(folder), "-database", db.url, "up")
    result = run_cli("-path", str(folder), "-database", db.url, *argv)
    assert result.exit_code == 0, result.output
    first = result.stderr.splitlines()[0]
    assert first.startswith("connected to database ")
    expected = {"postgres": database_name(db.url), "mysql": database_name(db.url).split("/")[-1],
                "sqlite": str(Path(urlsplit(db.url).path).resolve())}[db.dialect]
    if db.dialect == "mysql":
        expected = db.query("SELECT DATABASE()")[0][0]
    assert f"connected to database {expected}" in first
    if db.dialect != "sqlite":
        assert " on " in first


def test_json_output_of_a_write_carries_the_connected_database(pg_url: str, folder: Path) -> None:
    result = run_cli_with_env_url(pg_url, "-path", str(folder), "up", "--json")
    doc = json.loads(result.stdout)
    assert doc["connected_to"]["database"] == database_name(pg_url)
    assert doc["connected_to"]["server"] and doc["connected_to"]["dialect"] == "postgres"
    assert "connected to" not in result.stderr


def test_dry_run_and_reads_do_not_announce_a_connection(sqlite_url: str, folder: Path) -> None:
    for argv in (("up", "--dry-run"), ("status",), ("plan",)):
        result = run_cli("-path", str(folder), "-database", sqlite_url, *argv)
        assert "connected to" not in result.stderr


# -- SQLite file: URIs ------------------------------------------------------------------------------

@pytest.mark.parametrize("query", ["mode=ro", "immutable=1", "mode=ro&cache=shared"])
def test_sqlite_file_uri_query_reaches_sqlite_so_a_read_only_database_is_not_written(
        tmp_path: Path, folder: Path, query: str) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (id integer)")
    before = path.read_bytes()
    result = run_cli("-path", str(folder), "-database", f"sqlite3://file:{path}?{query}", "up")
    assert result.exit_code == 1, result.output
    assert "readonly" in result.stderr and query.split("&")[0] in result.stderr
    assert path.read_bytes() == before
    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"users"}


def test_sqlite_file_uri_read_only_still_answers_version(tmp_path: Path, folder: Path) -> None:
    path = tmp_path / "app.db"
    run_cli("-path", str(folder), "-database", f"sqlite3://{path}", "up")
    result = run_cli("-path", str(folder), "-database", f"sqlite3://file:{path}?mode=ro", "version")
    assert result.exit_code == 0 and result.stdout.strip() == "1"


def test_sqlite_file_uri_is_locked_beside_its_file(tmp_path: Path) -> None:
    from safemigrate.drivers.sqlite import SqliteDriver
    from safemigrate.urls import parse_database_url

    driver = SqliteDriver(parse_database_url(f"sqlite3://file:{tmp_path / 'a.db'}?cache=shared&x-no-tx-wrap=false"))
    assert driver.path == f"file:{tmp_path / 'a.db'}?cache=shared"
    assert driver.lock_path() == Path(f"{tmp_path / 'a.db'}-safemigrate.lock")


# -- TLS by default on postgres://, as golang-migrate's lib/pq ------------------------------------

def _without_sslmode(url: str) -> str:
    parts = urlsplit(url)
    query = "&".join(p for p in parts.query.split("&") if p and not p.startswith("sslmode="))
    return urlunsplit(parts._replace(query=query))


def _tcp_url(pg_url: str) -> str:
    if not urlsplit(pg_url).hostname:
        pytest.skip("the PostgreSQL server under test listens on a socket (no TLS question)")
    return _without_sslmode(pg_url)


def _server_has_tls(url: str) -> bool:
    import psycopg

    try:
        psycopg.connect(urlunsplit(urlsplit(url)._replace(scheme="postgresql", query="sslmode=require")),
                        connect_timeout=5).close()
    except psycopg.OperationalError:
        return False
    return True


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_postgres_url_without_sslmode_requires_tls_as_golang_migrate(pg_url: str, folder: Path,
                                                                      scheme: str) -> None:
    url = _tcp_url(pg_url)
    if _server_has_tls(url):
        pytest.skip("the server under test offers TLS")
    url = urlunsplit(urlsplit(url)._replace(scheme=scheme))
    result = run_cli("-path", str(folder), "-database", url, "up")
    assert result.exit_code == 1
    assert "SSL" in result.stderr and "sslmode=disable" in result.stderr
    assert run_cli("-path", str(folder), "-database", url, "version").exit_code == 1


@pytest.mark.parametrize("scheme", ["pgx", "pgx5"])
def test_pgx_url_without_sslmode_prefers_tls_and_falls_back(pg_url: str, folder: Path, scheme: str) -> None:
    url = urlunsplit(urlsplit(_tcp_url(pg_url))._replace(scheme=scheme))
    result = run_cli("-path", str(folder), "-database", url, "up")
    assert result.exit_code == 0, result.output


def test_postgres_url_tls_default_matches_the_golang_migrate_binary(pg_url: str, folder: Path) -> None:
    binary = os.environ.get("SAFEMIGRATE_TEST_GOLANG_MIGRATE")
    if not binary or not shutil.which(binary):
        pytest.skip("set SAFEMIGRATE_TEST_GOLANG_MIGRATE to a golang-migrate binary to compare")
    url = _tcp_url(pg_url)
    theirs = subprocess.run([binary, "-path", str(folder), "-database", url, "version"],
                            capture_output=True, text=True, timeout=60)
    ours = run_cli("-path", str(folder), "-database", url, "version")
    refused_theirs = "SSL is not enabled" in theirs.stderr
    refused_ours = "SSL" in ours.stderr and ours.exit_code == 1 and "no migration" not in ours.stderr
    assert refused_theirs == refused_ours, (theirs.stderr, ours.stderr)


@pytest.mark.parametrize("url", [f"sqlite3://user:{CANARY_PASSWORD}@127.0.0.1:5432/db",
                                 f"sqlite3://user:{CANARY_PASSWORD}@", f"sqlite3://user:{CANARY_PASSWORD}@@host:port"])
@pytest.mark.parametrize("command", ["version", "up"])
def test_a_server_url_given_to_sqlite_makes_no_file_named_with_its_password(
        folder: Path, tmp_path: Path, url: str, command: str) -> None:
    work = tmp_path / "work"
    (work / f"user:{CANARY_PASSWORD}@127.0.0.1:5432").mkdir(parents=True)  # the first URL's "folder" exists
    result = run_cli("-path", str(folder), "-database", url, command, cwd=work)  # fails on the password in output
    assert result.exit_code == 1
    assert "starts like user:password@host" in result.stderr and "no file was made" in result.stderr
    assert [p.name for p in work.rglob("*") if p.is_file()] == []


def test_a_sqlite_file_named_with_an_at_sign_still_opens(folder: Path, tmp_path: Path) -> None:
    result = run_cli("-path", str(folder), "-database", f"sqlite3://{tmp_path}/team@work.db", "up")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "team@work.db").is_file()
