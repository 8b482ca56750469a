"""The canary password in every URL and credential; roles without privileges.

Secrets: the canary (tests/support.py) rides in the -database flag, DATABASE_URL, a safemigrate.toml
`database_url_env`, and the S3 secret key. A whole working session runs (up, status, history, release
with hooks, a webhook and a backup, backup list/show/verify, failing commands). The test fails if the
canary appears in any output, report, manifest, history or release row, notification payload, hook
output, hook environment (a hook that records `env`) or leftover file (the session's folders, /dev/shm).

Roles: one without CREATE on the schema is refused before anything changes, with the privilege named;
a read-only role runs status, version, plan, check, history, lint and preflight.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest
from reliability_support import fingerprint, record

from schema_app import serve_app
from support import (
    CANARY_PASSWORD,
    REPO,
    TestDatabase,
    as_role,
    database_name,
    login_role,
    run_cli,
    write_migrations,
)

FILES = {
    "000001_users.up.sql": "CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL);\n",
    "000001_users.down.sql": "DROP TABLE users;\n",
    "000002_rooms.up.sql": "CREATE TABLE rooms (id integer PRIMARY KEY);\n",
    "000002_rooms.down.sql": "DROP TABLE rooms;\n",
    "000003_bad.up.sql": "SELECT * FROM no_such_table;\n",
    "000003_bad.down.sql": "SELECT 1;\n",
}


class Receiver:
    """A webhook receiver on 127.0.0.1 that keeps every payload."""

    def __init__(self) -> None:
        self.payloads: list[bytes] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver.payloads.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def files_with_canary(*roots: Path) -> list[Path]:
    found = []
    for root in roots:
        if not root.exists():
            continue
        for dirpath, _dirs, names in os.walk(root):
            for name in names:
                path = Path(dirpath) / name
                try:
                    if path.is_file() and CANARY_PASSWORD.encode() in path.read_bytes():
                        found.append(path)
                except OSError:
                    pass
    return found


def shm_with_canary() -> list[Path]:
    """Passfiles with the canary left in /dev/shm by this process (the CLI runs in it): other tests
    running at the same time kill -9 runs on purpose, whose passfiles the next command sweeps."""
    shm = Path("/dev/shm")
    mine = f"-{os.getpid()}-"
    return [p for p in files_with_canary(shm) if "safemigrate" in str(p) and mine in str(p)] if shm.is_dir() else []


@pytest.mark.postgres
def test_the_canary_password_never_leaves_the_process(pg_url: str, pg_plain_url: str, postgres_admin_url: str,
                                                       tmp_path: Path) -> None:
    assert CANARY_PASSWORD in pg_url
    work = tmp_path / "project"
    folder = write_migrations(work / "migrations", FILES)
    envdir = tmp_path / "hook-env"
    envdir.mkdir()
    recorder = tmp_path / "bin" / "record-env"
    recorder.parent.mkdir()
    recorder.write_text('#!/bin/sh\nenv > "$1"\necho "hook ran for $SAFEMIGRATE_RELEASE_ID"\n')
    recorder.chmod(recorder.stat().st_mode | stat.S_IXUSR)
    (work / "safemigrate.toml").write_text(
        'path = "migrations"\n[env.prod]\ndatabase_url_env = "PROD_DB"\n')
    base_env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    shm_before = set(shm_with_canary())
    receiver = Receiver()
    outputs: list[str] = []

    def cli(*args: str, env: dict[str, str] | None = None) -> Any:
        result = run_cli(*args, env=env if env is not None else base_env, cwd=work)  # fails on the canary
        outputs.append(result.output)
        return result

    # The flag, DATABASE_URL, the configuration's database_url_env: each carries the canary.
    cli("-database", pg_url, "up", "1")
    cli("status", env={**base_env, "DATABASE_URL": pg_url})
    cli("--env", "prod", "history", env={**base_env, "PROD_DB": pg_url})
    cli("--env", "prod", "config", "show", env={**base_env, "PROD_DB": pg_url})
    cli("-database", pg_url, "-verbose", "up")  # fails at 3: the failure report
    cli("-database", pg_url, "force", "2")
    with serve_app(pg_plain_url, {1, 2, 3}) as app:
        (folder / "000003_bad.up.sql").write_text("CREATE TABLE later (id integer);\n")
        cli("--env", "prod", "release", "--backup-location", str(work / "backups"), "--report",
            str(work / "releases"), "--health-url", app.url, "--health-interval", "0.02",
            "--health-deadline", "5", "--notify", receiver.url,
            "--before", f"{recorder} {envdir / 'before.env'}", "--after", f"{recorder} {envdir / 'after.env'}",
            env={**base_env, "PROD_DB": pg_url})
    cli("-database", pg_url, "backup", "list", "--to", str(work / "backups"), "--check", "--json")
    cli("-database", pg_url, "backup", "verify", "latest", "--to", str(work / "backups"))
    cli("-database", pg_url.replace("127.0.0.1", "127.0.0.1:1").replace(":1:", ":"), "version")
    receiver.server.shutdown()

    assert (work / "releases").exists() and list((work / "releases").iterdir())
    assert (work / "backups").exists() and list((work / "backups").iterdir())
    leaks: list[str] = [f"output {i}" for i, o in enumerate(outputs) if CANARY_PASSWORD in o]
    leaks += [f"file {p}" for p in files_with_canary(tmp_path)]  # reports, manifests, hook envs, leftovers
    leaks += [f"webhook payload {p[:80]!r}" for p in receiver.payloads if CANARY_PASSWORD.encode() in p]
    leaks += [f"/dev/shm {p}" for p in set(shm_with_canary()) - shm_before]
    with psycopg.connect(pg_plain_url) as conn:
        for table in ("safemigrate_history", "safemigrate_releases"):
            rows = conn.execute(f"SELECT row_to_json(t)::text FROM {table} t").fetchall()
            assert rows, table
            leaks += [f"{table} row" for (text,) in rows if CANARY_PASSWORD in text]
    assert receiver.payloads, "the webhook was never called"
    assert {p.name for p in envdir.iterdir()} == {"before.env", "after.env"}, "the hooks did not run"
    record("postgres", canary_checks=len(outputs) + len(receiver.payloads) + 4, canary_leaks=len(leaks))
    assert leaks == []
    name = database_name(pg_plain_url)
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        for (other,) in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                     [name.replace("_", "\\_") + "\\_%"]).fetchall():
            conn.execute(f'DROP DATABASE IF EXISTS "{other}" WITH (FORCE)')


def test_the_s3_secret_key_never_leaves_the_process(tmp_path: Path) -> None:
    import socket

    from moto.server import ThreadedMotoServer

    from support import port_answers

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        assert port_answers("127.0.0.1", port)
        import boto3

        endpoint = f"http://127.0.0.1:{port}"
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="AKIDCANARY",
                     aws_secret_access_key=CANARY_PASSWORD).create_bucket(Bucket="canary-bucket")
        db_path = tmp_path / "app.db"
        import sqlite3

        with sqlite3.connect(db_path) as conn:
            conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
               "AWS_ACCESS_KEY_ID": "AKIDCANARY", "AWS_SECRET_ACCESS_KEY": CANARY_PASSWORD,
               "AWS_DEFAULT_REGION": "us-east-1"}
        outputs = []
        for args in (("backup", "create", "--verify"), ("backup", "list", "--check", "--json"),
                     ("backup", "verify", "latest"), ("backup", "show", "latest", "--json")):
            result = run_cli(*args, "--database", f"sqlite3://{db_path}", "--to", "s3://canary-bucket/x",
                             "--s3-endpoint-url", endpoint, env=env, cwd=tmp_path)
            assert result.exit_code == 0, result.output
            outputs.append(result.output)
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="AKIDCANARY",
                          aws_secret_access_key=CANARY_PASSWORD)
        objects = s3.list_objects_v2(Bucket="canary-bucket").get("Contents", [])
        assert objects
        leaks = [o["Key"] for o in objects
                 if CANARY_PASSWORD.encode() in s3.get_object(Bucket="canary-bucket", Key=o["Key"])["Body"].read()]
        leaks += [str(p) for p in files_with_canary(tmp_path)]
        record("sqlite", canary_checks=len(outputs) + len(objects), canary_leaks=len(leaks))
        assert leaks == []
    finally:
        server.stop()


def test_no_shell_true_anywhere_in_the_source() -> None:
    offenders = [f"{path.relative_to(REPO)}:{n}" for path in (REPO / "src").rglob("*.py")
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
                 if "shell=True" in line.replace(" ", "") and not line.lstrip().startswith("#")]
    assert offenders == []


# -- roles ---------------------------------------------------------------------------------------
@pytest.fixture
def role(pg_plain_url: str, postgres_admin_url: str) -> Iterator[str]:
    with login_role(pg_plain_url, postgres_admin_url, "sm_rel_", "REVOKE CREATE ON SCHEMA public FROM {role}",
                    "REVOKE CREATE ON SCHEMA public FROM PUBLIC") as name:
        yield name


@pytest.mark.postgres
def test_a_role_without_create_on_the_schema_is_refused_before_anything_changes(
        pg_url: str, pg_plain_url: str, role: str, tmp_path: Path) -> None:
    db = TestDatabase("postgres", pg_url, pg_plain_url)
    folder = write_migrations(tmp_path / "m", {k: v for k, v in FILES.items() if not k.startswith("000003")})
    before = fingerprint(db)
    for command in (("up",), ("release", "--no-backup", "--report", str(tmp_path / "r"))):
        result = run_cli("-path", str(folder), "-database", as_role(pg_url, role), *command)
        assert result.exit_code == 1, result.output
        assert "internal error" not in result.output
        assert "CREATE" in result.output and role in result.output, result.output
        assert fingerprint(db) == before


@pytest.mark.postgres
def test_a_read_only_role_can_inspect_everything(pg_url: str, pg_plain_url: str, role: str,
                                                 tmp_path: Path) -> None:
    db = TestDatabase("postgres", pg_url, pg_plain_url)
    folder = write_migrations(tmp_path / "m", {k: v for k, v in FILES.items() if not k.startswith("000003")})
    assert run_cli("-path", str(folder), "-database", pg_url, "up", "1").exit_code == 0
    with psycopg.connect(pg_plain_url, autocommit=True) as conn:
        conn.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"')
    before = fingerprint(db)
    url = as_role(pg_url, role)
    results = {}
    for command in (("status",), ("version",), ("plan",), ("check", "--expect", "1"), ("history",),
                    ("lint",), ("preflight", "--no-backup")):
        result = run_cli("-path", str(folder), "-database", url, *command)
        results[command[0]] = result
        assert "internal error" not in result.output, result.output
    assert fingerprint(db) == before
    assert {k: r.exit_code for k, r in results.items()} == {
        "status": 0, "version": 0, "plan": 0, "check": 0, "history": 0, "lint": 0,
        "preflight": results["preflight"].exit_code}
    # preflight may fail its privilege check (that is its job), naming it; it never errors out
    assert results["preflight"].exit_code in (0, 1)
    if results["preflight"].exit_code == 1:
        assert "GRANT" in results["preflight"].output
    assert json.dumps([r.output for r in results.values()]).count(CANARY_PASSWORD) == 0
