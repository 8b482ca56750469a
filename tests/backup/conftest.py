"""Fixtures for the backup tests: populated databases on the real servers, a real S3 endpoint (moto)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from backup_support import S3Endpoint, _mysql_connect, admin_execute, free_port

from support import database_name, unique_name, with_database

PG_TABLES = """
CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL);
INSERT INTO schema_migrations VALUES (3, false);
CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL UNIQUE, note text);
INSERT INTO users (email, note) SELECT 'u' || g || '@example.com', md5(g::text) FROM generate_series(1, 500) g;
CREATE SCHEMA billing;
CREATE TABLE billing.invoices (id bigserial PRIMARY KEY, user_id int REFERENCES users(id), amount numeric);
INSERT INTO billing.invoices (user_id, amount) SELECT (g % 500) + 1, g * 1.5 FROM generate_series(1, 1200) g;
CREATE VIEW big_invoices AS SELECT * FROM billing.invoices WHERE amount > 100;
"""


@pytest.fixture(autouse=True)
def _no_ambient_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """`latest`, `list` and `prune` follow $DATABASE_URL: a value from the developer's shell must not
    change which backups a test sees. Tests that need it pass it explicitly."""
    monkeypatch.delenv("DATABASE_URL", raising=False)


@pytest.fixture
def pg_db(pg_url: str, pg_plain_url: str, postgres_admin_url: str) -> Iterator[str]:
    """A populated PostgreSQL database (version 3, three tables); its URL carries the canary password."""
    admin_execute(pg_plain_url, PG_TABLES)
    name = database_name(pg_plain_url)
    try:
        yield pg_url
    finally:
        leftovers = admin_execute(
            postgres_admin_url,
            f"SELECT datname FROM pg_database WHERE datname LIKE '{name}\\_%'")
        for (db,) in leftovers:
            admin_execute(postgres_admin_url, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


@pytest.fixture
def sqlite_db(tmp_path: Path) -> str:
    import sqlite3

    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE schema_migrations (version uint64, dirty bool);
        CREATE UNIQUE INDEX version_unique ON schema_migrations (version);
        INSERT INTO schema_migrations VALUES (7, 0);
        CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
        WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 300)
        INSERT INTO notes (body) SELECT hex(randomblob(20)) FROM g;
    """)
    conn.commit()
    conn.close()
    return f"sqlite3://{path}"


@pytest.fixture
def mysql_db(mysql_admin_url: str) -> Iterator[str]:
    """A populated MariaDB database (version 5, two tables, a view, a trigger, a procedure)."""
    import pymysql

    name = unique_name("sm_bk")
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", autocommit=True) \
        if mysql_admin_url.startswith("mysql://root@127.0.0.1") else _mysql_connect(mysql_admin_url)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}`")
            cur.execute(f"USE `{name}`")
            cur.execute("CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, "
                        "dirty boolean NOT NULL)")
            cur.execute("INSERT INTO schema_migrations VALUES (5, 0)")
            cur.execute("CREATE TABLE items (id int PRIMARY KEY, name varchar(50), data blob)")
            cur.executemany("INSERT INTO items VALUES (%s, %s, %s)",
                            [(i, f"item {i}", os.urandom(16)) for i in range(1, 201)])
            cur.execute("CREATE TABLE audit (id int AUTO_INCREMENT PRIMARY KEY, item int)")
            cur.execute("CREATE TRIGGER items_audit AFTER INSERT ON items FOR EACH ROW "
                        "INSERT INTO audit (item) VALUES (NEW.id)")
            cur.execute("CREATE VIEW named AS SELECT id, name FROM items")
            cur.execute("CREATE PROCEDURE answer() SELECT 42")
        yield with_database(mysql_admin_url, name)
    finally:
        with conn.cursor() as cur:
            cur.execute("SHOW DATABASES")
            for (db,) in cur.fetchall():
                if db == name or db.startswith(name + "_"):
                    cur.execute(f"DROP DATABASE `{db}`")
        conn.close()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[S3Endpoint]:
    """moto's S3 server on 127.0.0.1, real HTTP, one per test worker."""
    from moto.server import ThreadedMotoServer

    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                            "AWS_DEFAULT_REGION", "AWS_SESSION_TOKEN")}
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing-secret",
                       "AWS_DEFAULT_REGION": "us-east-1"})
    os.environ.pop("AWS_SESSION_TOKEN", None)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = S3Endpoint(f"http://127.0.0.1:{port}", port, server)
    try:
        yield endpoint
    finally:
        endpoint.server.stop()  # type: ignore[attr-defined]
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def s3_bucket(s3_endpoint: S3Endpoint) -> str:
    """A fresh bucket; returns ``s3://bucket/prefix``."""
    import boto3

    bucket = unique_name("smbk").replace("_", "-")
    boto3.client("s3", endpoint_url=s3_endpoint.url, region_name="us-east-1").create_bucket(Bucket=bucket)
    return f"s3://{bucket}/team/app"

