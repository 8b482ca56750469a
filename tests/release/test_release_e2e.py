"""safemigrate release end to end: real PostgreSQL, a real app on 127.0.0.1, real hooks and backups.

Each scenario checks the database afterwards, row by row for the data that existed before.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from schema_app import SchemaApp, serve_app
from support import CANARY_PASSWORD, CliResult, database_name, run_cli, write_migrations

pytestmark = pytest.mark.postgres

FILES = {
    "000001_users.up.sql": "CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL);\n",
    "000001_users.down.sql": "DROP TABLE users;\n",
    "000002_rooms.up.sql": "CREATE TABLE rooms (id integer PRIMARY KEY, name text NOT NULL);\n",
    "000002_rooms.down.sql": "DROP TABLE rooms;\n",
    "000003_add_last_seen.up.sql": "SET lock_timeout = '2s';\nALTER TABLE users ADD COLUMN last_seen timestamptz;\n",
    "000003_add_last_seen.down.sql": "SET lock_timeout = '2s';\nALTER TABLE users DROP COLUMN last_seen;\n",
}


def connect(url: str) -> Any:
    import psycopg

    return psycopg.connect(url, autocommit=True)


def version(url: str) -> tuple[int, bool] | None:
    with connect(url) as conn:
        row = conn.execute("SELECT version, dirty FROM schema_migrations").fetchone()
    return (row[0], row[1]) if row else None


def users(url: str) -> list[tuple[Any, ...]]:
    with connect(url) as conn:
        return list(conn.execute("SELECT id, email FROM users ORDER BY id").fetchall())


@pytest.fixture
def project(tmp_path: Path, pg_url: str, pg_plain_url: str, postgres_admin_url: str) -> Iterator[dict[str, Any]]:
    """Version 1 applied, 50 users in it; the release has migrations 2 and 3 to apply."""
    folder = write_migrations(tmp_path / "migrations", FILES)
    assert run_cli("-path", str(folder), "-database", pg_url, "up", "1").exit_code == 0
    with connect(pg_plain_url) as conn:
        conn.execute("INSERT INTO users SELECT g, 'u' || g || '@example.com' FROM generate_series(1, 50) g")
    try:
        yield {"folder": folder, "url": pg_url, "plain": pg_plain_url, "tmp": tmp_path,
               "before": users(pg_plain_url)}
    finally:
        name = database_name(pg_plain_url)
        with connect(postgres_admin_url) as conn:
            for (db,) in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                      [name.replace("_", "\\_") + "\\_%"]).fetchall():
                conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def release(p: dict[str, Any], app: SchemaApp | None, *args: str, url: str | None = None,
            env: dict[str, str] | None = None, cwd: Path | None = None) -> CliResult:
    health = ["--health-url", app.url] if app is not None else []
    return run_cli("-path", str(p["folder"]), "-database", url or p["url"], "release",
                   "--backup-location", str(p["tmp"] / "backups"), "--report", str(p["tmp"] / "releases"),
                   *health, "--health-interval", "0.02", "--health-deadline", "5", *args,
                   env=env, cwd=cwd)


def report_of(result: CliResult) -> dict[str, Any]:
    data = json.loads(Path(next(p for p in result.json()["report_files"] if p.endswith(".json"))).read_text())
    assert CANARY_PASSWORD not in json.dumps(data)
    return data


def test_a_clean_release_backs_up_applies_passes_the_gate_and_records_it(project: dict[str, Any]) -> None:
    with serve_app(project["plain"], {1, 3}) as app:
        result = release(project, app, "--format", "json")
    assert result.exit_code == 0, result.output
    data = result.json()
    assert (data["outcome"], data["from_version"], data["version_after"]) == ("released", 1, 3)
    phases = [(s["phase"], s["status"]) for s in data["steps"]]
    assert ("backup", "passed") in phases and ("apply", "passed") in phases and ("gate", "passed") in phases
    assert all(status != "failed" for _phase, status in phases)
    assert version(project["plain"]) == (3, False)
    assert users(project["plain"]) == project["before"]
    backups = run_cli("backup", "list", "--to", str(project["tmp"] / "backups"), "--format", "json",
                      "-database", project["url"]).json()
    listed = json.dumps(backups)
    assert data["backup_id"] in listed
    report = report_of(result)
    assert report["id"] == data["id"] and Path(result.json()["report_files"][1]).read_text().startswith("# Release")
    history = run_cli("-database", project["url"], "history", "--json").json()
    assert [r["version"] for r in history["records"]][-2:] == [2, 3]
    with connect(project["plain"]) as conn:
        assert conn.execute("SELECT outcome, to_version FROM safemigrate_releases").fetchall() == [("released", 3)]


def test_an_unhealthy_app_is_refused_before_anything_changes(project: dict[str, Any]) -> None:
    with serve_app(project["plain"], {1, 3}) as app:
        app.mode = "broken"
        result = release(project, app)
    assert result.exit_code == 1, result.output
    assert "application healthy before the release" in result.stdout
    assert "refused by pre-flight" in result.stdout
    assert version(project["plain"]) == (1, False)
    assert not (project["tmp"] / "backups").exists() or not any((project["tmp"] / "backups").iterdir())


def test_a_failing_gate_after_apply_rolls_back_with_the_down_files(project: dict[str, Any]) -> None:
    # The app of this release does not know version 3 (runbook Scenario 2): the downs bring it back.
    with serve_app(project["plain"], {1}) as app:
        result = release(project, app, "--format", "json")
    assert result.exit_code == 1, result.output
    data = result.json()
    assert data["outcome"] == "rolled_back" and "rolled back to version 1" in data["summary"]
    assert [s["name"] for s in data["steps"] if s["phase"] == "rollback"] == ["data-safety check", "down to 1"]
    assert version(project["plain"]) == (1, False)
    assert users(project["plain"]) == project["before"]


def test_a_transactional_migration_that_fails_leaves_the_database_as_before(project: dict[str, Any]) -> None:
    (project["folder"] / "000002_rooms.up.sql").write_text("CREATE TABLE rooms (id integer);\nINSERT INTO no_such_table VALUES (1);\n")
    with serve_app(project["plain"], {1, 3}) as app:
        result = release(project, app, "--format", "json")
    assert result.exit_code == 1, result.output
    data = result.json()
    assert data["outcome"] == "refused" and "was rolled back" in data["summary"]
    assert version(project["plain"]) == (1, False)
    assert users(project["plain"]) == project["before"]


def test_a_gate_still_failing_after_the_downs_restores_the_backup(project: dict[str, Any]) -> None:
    # Migration 2 deletes rows its down file cannot bring back; the app needs all 50 users.
    (project["folder"] / "000002_rooms.up.sql").write_text(
        "CREATE TABLE rooms (id integer PRIMARY KEY);\nDELETE FROM users WHERE id > 40;\n")
    with serve_app(project["plain"], {1}) as app:
        app.required_users = 50
        result = release(project, app, "--on-failure", "restore", "--to", "2", "--format", "json")
    assert result.exit_code == 1, result.output
    data = result.json()
    assert data["outcome"] == "rolled_back" and "restored from backup" in data["summary"]
    assert [s["phase"] for s in data["steps"] if s["phase"] in ("rollback", "restore")] == [
        "rollback", "rollback", "restore"]
    assert version(project["plain"]) == (1, False)
    assert users(project["plain"]) == project["before"]  # every row, as before the release


def test_an_inconclusive_gate_holds_the_release_for_a_person(project: dict[str, Any]) -> None:
    with serve_app(project["plain"], {1, 3}) as app:
        app.mode = "flapping"
        result = release(project, app, "--health-deadline", "0.6", "--format", "json")
    assert result.exit_code == 3, result.output
    data = result.json()
    assert data["outcome"] == "held" and "inconclusive" in data["summary"]
    assert data["next"].startswith("safemigrate goto 1")
    assert version(project["plain"]) == (3, False)


def test_a_down_that_would_destroy_data_written_after_the_apply_holds(project: dict[str, Any]) -> None:
    with serve_app(project["plain"], {1}) as app:
        app.write_when_unsupported = "UPDATE users SET last_seen = now() WHERE id = 7"
        result = release(project, app, "--format", "json")
    assert result.exit_code == 3, result.output
    data = result.json()
    assert data["outcome"] == "held"
    assert "column users.last_seen" in data["summary"] and "1 row(s) were written" in data["summary"]
    assert version(project["plain"]) == (3, False)  # nothing rolled back, nothing destroyed
    with connect(project["plain"]) as conn:
        assert conn.execute("SELECT count(*) FROM users WHERE last_seen IS NOT NULL").fetchone() == (1,)


def test_a_table_locked_by_another_session_is_retried_until_it_is_released(project: dict[str, Any]) -> None:
    (project["folder"] / "000003_add_last_seen.up.sql").write_text("ALTER TABLE users ADD COLUMN last_seen date;\n")
    holder = connect(project["plain"])
    holder.execute("BEGIN")
    holder.execute("LOCK TABLE users IN ACCESS SHARE MODE")

    def let_go() -> None:
        time.sleep(2.5)
        holder.execute("COMMIT")

    releaser = threading.Thread(target=let_go)
    releaser.start()
    try:
        with serve_app(project["plain"], {1, 3}) as app:
            result = release(project, app, "--migration-lock-timeout", "0.3", "--retries", "8",
                             "--no-backup", "--format", "json")
    finally:
        releaser.join()
        holder.close()
    assert result.exit_code == 0, result.output
    retries = [s for s in result.json()["steps"] if s["phase"] == "apply" and s["status"] == "warned"]
    assert retries and "lock timeout" in retries[0]["reason"] and "pid" in retries[0]["reason"]
    assert version(project["plain"]) == (3, False)
    history = run_cli("-database", project["url"], "history", "--migration", "3", "--json").json()
    assert [r["outcome"] for r in history["records"]].count("applied") == 1


def test_hooks_and_notifications_run_with_the_release_context(project: dict[str, Any]) -> None:
    from test_hooks_and_notify import webhook_receiver

    log = project["tmp"] / "hooks.log"
    script = project["tmp"] / "hook.sh"
    script.write_text(f'#!/bin/sh\necho "$1 $SAFEMIGRATE_PHASE $SAFEMIGRATE_FROM_VERSION '
                      f'$SAFEMIGRATE_TO_VERSION $SAFEMIGRATE_OUTCOME ${{DATABASE_URL:-no-url}}" >> {log}\n')
    script.chmod(0o755)
    with webhook_receiver() as (hook_url, received), serve_app(project["plain"], {1, 3}) as app:
        result = release(project, app, "--before", f"{script} scale-down", "--after", f"{script} scale-up",
                         "--notify", hook_url, env={"DATABASE_URL": project["url"], "PATH": "/usr/bin:/bin"})
    assert result.exit_code == 0, result.output
    assert log.read_text().splitlines() == ["scale-down before 1 3  no-url", "scale-up after 1 3 released no-url"]
    assert [body["body"]["safemigrate"]["event"] for body in received] == ["started", "finished"]
    assert CANARY_PASSWORD not in json.dumps(received)


def test_preflight_changes_nothing_and_lists_its_checks(project: dict[str, Any]) -> None:
    with serve_app(project["plain"], {1, 3}) as app:
        result = run_cli("-path", str(project["folder"]), "-database", project["url"], "preflight",
                         "--health-url", app.url, "--health-interval", "0.02")
    assert result.exit_code == 0, result.output
    for check in ("version is clean", "folder agrees with the database", "every pending migration has a down file",
                  "lint: no error-level finding", "privileges", "application healthy before the release"):
        assert check in result.stdout
    assert "dry run" in result.stdout
    assert version(project["plain"]) == (1, False)


def test_staging_first_refuses_until_staging_released_the_same_files(project: dict[str, Any],
                                                                      postgres_admin_url: str) -> None:
    from support import unique_name, with_database, with_password

    staging_name = unique_name("sm_staging")
    with connect(postgres_admin_url) as conn:
        conn.execute(f'CREATE DATABASE "{staging_name}"')
    staging_url = with_password(with_database(postgres_admin_url, staging_name))
    try:
        assert run_cli("-path", str(project["folder"]), "-database", staging_url, "up", "1").exit_code == 0
        (project["tmp"] / "safemigrate.toml").write_text(
            'path = "migrations"\n\n[env.staging]\ndatabase_url_env = "STAGING_URL"\n\n'
            '[env.production]\ndatabase_url_env = "PRODUCTION_URL"\n\n[env.production.release]\n'
            'require_env = "staging"\n')
        env = {"STAGING_URL": staging_url, "PRODUCTION_URL": project["url"], "PATH": "/usr/bin:/bin"}
        base = ("release", "--backup-location", str(project["tmp"] / "backups"), "--no-backup",
                "--report", str(project["tmp"] / "releases"))
        refused = run_cli(*base, "--env", "production", env=env, cwd=project["tmp"])
        assert refused.exit_code == 1, refused.output
        assert "not released successfully on staging" in refused.stdout
        assert version(project["plain"]) == (1, False)
        staged = run_cli(*base, "--env", "staging", env=env, cwd=project["tmp"])
        assert staged.exit_code == 0, staged.output
        allowed = run_cli(*base, "--env", "production", env=env, cwd=project["tmp"])
        assert allowed.exit_code == 0, allowed.output
        assert "released on staging first" in allowed.stdout
        assert version(project["plain"]) == (3, False)
    finally:
        with connect(postgres_admin_url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{staging_name}" WITH (FORCE)')


def _advisory_locks(plain_url: str) -> int:
    with connect(plain_url) as conn:
        row = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                           "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                           ).fetchone()
    return int(row[0])


def _wait_for(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the release to get there"
        time.sleep(0.05)


def _release_process(p: dict[str, Any], app: SchemaApp, *args: str) -> Any:
    import os
    import subprocess
    import sys

    return subprocess.Popen(
        [sys.executable, "-m", "safemigrate", "-path", str(p["folder"]), "-database", p["url"], "release",
         "--backup-location", str(p["tmp"] / "backups"), "--report", str(p["tmp"] / "releases"),
         "--health-url", app.url, "--health-interval", "0.05", "--format", "json", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def test_sigterm_during_the_health_gate_stops_unlocks_and_reports_where(project: dict[str, Any]) -> None:
    import signal

    with serve_app(project["plain"], {1, 3}) as app:
        proc = _release_process(project, app, "--no-backup", "--health-successes", "100000",
                                "--health-deadline", "600")
        _wait_for(lambda: version(project["plain"]) == (3, False) and app.requests > 3)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert CANARY_PASSWORD not in out + err
    assert proc.returncode == 128 + signal.SIGTERM, err
    data = json.loads(out)
    assert data["outcome"] == "interrupted" and "during the health gate" in data["summary"]
    assert version(project["plain"]) == (3, False)
    assert _advisory_locks(project["plain"]) == 0
    assert data["report_files"] and Path(data["report_files"][0]).exists()


def test_sigterm_during_the_apply_rolls_the_migration_back_and_unlocks(project: dict[str, Any]) -> None:
    import signal

    (project["folder"] / "000002_rooms.up.sql").write_text(
        "CREATE TABLE rooms (id integer PRIMARY KEY);\nSELECT pg_sleep(60);\n")
    with serve_app(project["plain"], {1, 3}) as app:
        proc = _release_process(project, app, "--no-backup")

        def sleeping() -> bool:
            with connect(project["plain"]) as conn:
                return bool(conn.execute("SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
                                         "'%pg_sleep(60)%' AND pid <> pg_backend_pid() AND datname = current_database()").fetchone()[0])

        _wait_for(sleeping)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    data = json.loads(out)
    assert data["outcome"] == "interrupted" and "during the apply" in data["summary"]
    assert version(project["plain"]) == (1, False)
    assert users(project["plain"]) == project["before"]
    assert _advisory_locks(project["plain"]) == 0


def test_history_release_shows_the_checklist_and_the_backup_stays_pinned_until_the_next(
        project: dict[str, Any]) -> None:
    with serve_app(project["plain"], {1, 2, 3}) as app:
        first = release(project, app, "--to", "2", "--format", "json")
        assert first.exit_code == 0, first.output
        second = release(project, app, "--format", "json")
        assert second.exit_code == 0, second.output
    first_id, second_id = first.json()["id"], second.json()["id"]
    shown = run_cli("-database", project["url"], "history", "--release", first_id)
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.startswith(f"release {first_id}: released")
    assert "✔ apply: apply: 1 migration(s) applied: 2/u rooms" in shown.stdout
    backups = {b["id"]: b for b in run_cli("backup", "list", "--to", str(project["tmp"] / "backups"),
                                           "-database", project["url"], "--json").json()["backups"]}
    assert backups[first.json()["backup_id"]]["pinned"] is False
    assert backups[second.json()["backup_id"]]["pinned"] is True
    assert second_id != first_id
    (project["folder"] / "000004_add_bio.up.sql").write_text("ALTER TABLE users ADD COLUMN bio text;\n")
    (project["folder"] / "000004_add_bio.down.sql").write_text("ALTER TABLE users DROP COLUMN bio;\n")
    with serve_app(project["plain"], {1, 2, 3, 4}) as app:
        third = release(project, app, "--format", "json")
    assert third.exit_code == 0, third.output
    # Only the previous release's backup was still pinned: the third unpins it, and only it.
    unpinned = [s["name"] for s in third.json()["steps"] if s["name"].startswith("unpin ")]
    assert unpinned == [f"unpin {second.json()['backup_id']}"]
    missing = run_cli("-database", project["url"], "history", "--release", "nope")
    assert missing.exit_code == 2 and "no release 'nope'" in missing.stderr


def test_a_release_without_env_leaves_another_environments_backup_pinned(project: dict[str, Any]) -> None:
    (project["tmp"] / "safemigrate.toml").write_text('[env.staging]\ndatabase_url_env = "STAGING_URL"\n')
    with serve_app(project["plain"], {1, 2, 3}) as app:
        staged = release(project, app, "--to", "2", "--env", "staging", "--format", "json",
                         env={"STAGING_URL": project["url"]}, cwd=project["tmp"])
        assert staged.exit_code == 0, staged.output
        plain = release(project, app, "--format", "json", cwd=project["tmp"])
        assert plain.exit_code == 0, plain.output
    assert not [s for s in plain.json()["steps"] if s["name"].startswith("unpin ")]
    backups = {b["id"]: b for b in run_cli("backup", "list", "--to", str(project["tmp"] / "backups"),
                                           "-database", project["url"], "--json").json()["backups"]}
    assert backups[staged.json()["backup_id"]]["pinned"] is True
