"""What the release does in each phase that the end-to-end scenarios leave out: SIGTERM during
pre-flight, the backup and the rollback; the dump tools check; the configuration file's
[env.NAME.release] settings and flags over them; the log watcher and exit 4 through the CLI.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_hooks_and_notify import webhook_receiver
from test_release_e2e import (
    _advisory_locks,
    _wait_for,
    connect,
    release,
    users,
    version,
)

from health_app import serve
from schema_app import serve_app
from support import CANARY_PASSWORD, run_cli

pytestmark = pytest.mark.postgres


def _start(p: dict[str, Any], *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "safemigrate", "-path", str(p["folder"]), "-database", p["url"], "release",
         "--backup-location", str(p["tmp"] / "backups"), "--report", str(p["tmp"] / "releases"),
         "--health-interval", "0.05", "--format", "json", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})


def _stopped(proc: subprocess.Popen[str]) -> dict[str, Any]:
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert CANARY_PASSWORD not in out + err
    assert proc.returncode == 128 + signal.SIGTERM, err
    data: dict[str, Any] = json.loads(out)
    assert data["outcome"] == "interrupted"
    assert data["report_files"] and Path(data["report_files"][0]).exists()
    saved = json.loads(Path(data["report_files"][0]).read_text())
    assert saved["outcome"] == "interrupted" and saved["summary"] == data["summary"]
    return data


def test_sigterm_during_a_slow_preflight_health_check_stops_before_any_change(project: dict[str, Any]) -> None:
    with serve(["slow"], slow_seconds=1.5) as app:
        proc = _start(project, "--health-url", app.url, "--health-timeout", "30")
        _wait_for(lambda: app.requests >= 1)
        data = _stopped(proc)
    assert "during pre-flight" in data["summary"] and "at version 1" in data["summary"]
    assert not any(s["phase"] in ("backup", "apply") for s in data["steps"])
    assert version(project["plain"]) == (1, False)
    assert _advisory_locks(project["plain"]) == 0


def test_sigterm_during_preflight_skips_the_checks_after_it(project: dict[str, Any]) -> None:
    # The staging check comes after the health check; once the signal is in, it must not run.
    with serve(["slow"], slow_seconds=1.5) as app:
        config = project["tmp"] / "staged.toml"
        config.write_text('[env.staging]\ndatabase_url_env = "SM_TEST_STAGING_URL"\n')
        proc = _start(project, "--health-url", app.url, "--health-timeout", "30", "--require-env", "staging",
                      "--config", str(config), env={"SM_TEST_STAGING_URL": project["url"]})
        _wait_for(lambda: app.requests >= 1)
        data = _stopped(proc)
    names = [s["name"] for s in data["steps"] if s["phase"] == "preflight"]
    assert "application healthy before the release" in names
    assert not any(name.startswith("released on") for name in names), names
    assert version(project["plain"]) == (1, False)


def _sleeping_pg_dump(folder: Path, marker: Path) -> Path:
    """A bin folder whose pg_dump waits 20 s (writing ``marker`` first) before running the real one."""
    from safemigrate.backup.tools import pg_candidates

    folder.mkdir()
    for name in ("pg_restore", "psql"):
        (folder / name).symlink_to(pg_candidates(name)[0])
    real = pg_candidates("pg_dump")[0]
    script = folder / "pg_dump"
    script.write_text("#!/bin/sh\n"
                      f'case "$*" in *--version*) exec "{real}" "$@";; esac\n'
                      f'touch "{marker}"\nsleep 20\nexec "{real}" "$@"\n')
    script.chmod(0o755)
    return folder


def test_sigterm_during_the_backup_removes_it_and_applies_nothing(project: dict[str, Any]) -> None:
    marker = project["tmp"] / "dumping"
    bin_dir = _sleeping_pg_dump(project["tmp"] / "bin", marker)
    with serve_app(project["plain"], {1, 3}) as app:
        proc = _start(project, "--health-url", app.url, env={"SAFEMIGRATE_PG_BIN_DIR": str(bin_dir)})
        _wait_for(marker.exists)
        data = _stopped(proc)
    assert "during the backup" in data["summary"] and "nothing was applied" in data["summary"]
    assert "the incomplete backup was removed" in data["summary"]
    assert [s["status"] for s in data["steps"] if s["phase"] == "backup"] == ["failed"]
    assert version(project["plain"]) == (1, False)
    assert users(project["plain"]) == project["before"]
    backups = project["tmp"] / "backups"
    assert not backups.exists() or list(backups.iterdir()) == []  # no backup, no .partial folder
    assert _advisory_locks(project["plain"]) == 0


def test_sigterm_during_the_rollback_stops_it_cleanly_and_says_the_version(project: dict[str, Any]) -> None:
    (project["folder"] / "000003_add_last_seen.down.sql").write_text(
        "SELECT pg_sleep(60);\nALTER TABLE users DROP COLUMN last_seen;\n")
    with serve_app(project["plain"], {1}) as app:  # the gate fails after the apply: the ladder runs
        proc = _start(project, "--health-url", app.url, "--no-backup")

        def sleeping() -> bool:
            with connect(project["plain"]) as conn:
                return bool(conn.execute("SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
                                         "'%pg_sleep(60)%' AND pid <> pg_backend_pid() AND datname = current_database()").fetchone()[0])

        _wait_for(sleeping)
        data = _stopped(proc)
    assert "stopped by a signal during the rollback" in data["summary"]
    assert "the database is at version 3" in data["summary"]  # the down that was running was rolled back
    assert data["next"] == "safemigrate goto 1 to finish the rollback"
    assert (data["version_after"], data["dirty_after"]) == (3, False)
    assert version(project["plain"]) == (3, False)
    assert users(project["plain"]) == project["before"]
    assert _advisory_locks(project["plain"]) == 0


def test_preflight_refuses_when_pg_dump_is_not_in_the_configured_folder(
        project: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    empty = project["tmp"] / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("SAFEMIGRATE_PG_BIN_DIR", str(empty))
    result = release(project, None, "--format", "json")
    assert result.exit_code == 1, result.output
    data = result.json()
    step = next(s for s in data["steps"] if s["name"] == "dump tools present and compatible")
    assert step["status"] == "failed" and f"pg_dump not found in {empty}" in step["reason"]
    assert "refused by pre-flight" in data["summary"] and "dump tools present and compatible" in data["summary"]
    assert not any(s["phase"] == "backup" for s in data["steps"])
    assert version(project["plain"]) == (1, False)


def test_preflight_names_the_dump_tools_it_found(project: dict[str, Any]) -> None:
    result = run_cli("-path", str(project["folder"]), "-database", project["url"], "preflight", "--format", "json")
    assert result.exit_code == 0, result.output
    step = next(s for s in result.json()["steps"] if s["name"] == "dump tools present and compatible")
    assert step["status"] == "passed" and step["reason"].startswith("pg_dump ") and "pg_restore " in step["reason"]


def _recording_hook(tmp: Path, log: Path) -> Path:
    script = tmp / "hook.sh"
    script.write_text(f'#!/bin/sh\necho "$1 $SAFEMIGRATE_PHASE $SAFEMIGRATE_ENV $SAFEMIGRATE_OUTCOME" >> {log}\n')
    script.chmod(0o755)
    return script


def test_env_release_settings_of_the_configuration_file_run_the_release_and_flags_override_them(
        project: dict[str, Any]) -> None:
    log = project["tmp"] / "hooks.log"
    hook = _recording_hook(project["tmp"], log)
    with serve_app(project["plain"], {1, 2, 3}) as app, webhook_receiver() as (configured_url, configured), \
            webhook_receiver() as (flag_url, flagged):
        (project["tmp"] / "safemigrate.toml").write_text(
            f'path = "{project["folder"]}"\n\n[env.production]\ndatabase_url_env = "PRODUCTION_URL"\n\n'
            f'[env.production.release]\nhealth_url = ["{app.url}"]\ninterval = 0.02\n'
            f'before = ["{hook} configured-before"]\nafter = ["{hook} configured-after"]\n'
            f'notify = ["{configured_url}"]\nreport_dir = "{project["tmp"] / "releases"}"\n')
        env = {"PRODUCTION_URL": project["url"], "PATH": os.environ["PATH"],
               "SAFEMIGRATE_BACKUP_STORAGE": str(project["tmp"] / "backups")}
        first = run_cli("release", "--env", "production", "--to", "2", "--format", "json", env=env,
                        cwd=project["tmp"])
        assert first.exit_code == 0, first.output
        gate = next(s for s in first.json()["steps"] if s["phase"] == "gate")
        assert gate["status"] == "passed" and app.requests >= 3  # the configured health_url was measured
        assert [b["body"]["safemigrate"]["event"] for b in configured] == ["started", "finished"]
        assert log.read_text().splitlines() == ["configured-before before production ",
                                                "configured-after after production released"]
        log.unlink()
        second = run_cli("release", "--env", "production", "--notify", flag_url, "--before", f"{hook} flag-before",
                         "--format", "json", env=env, cwd=project["tmp"])
        assert second.exit_code == 0, second.output
    assert len(configured) == 2 and [b["body"]["safemigrate"]["event"] for b in flagged] == ["started", "finished"]
    # A list flag replaces the configured list; what no flag names still comes from the file.
    assert log.read_text().splitlines() == ["flag-before before production ",
                                            "configured-after after production released"]
    assert version(project["plain"]) == (3, False)


def test_a_log_line_matching_the_fail_pattern_fails_the_gate_and_rolls_back(project: dict[str, Any]) -> None:
    # Like `kubectl logs -f --tail=100`, the command replays its lines each time it starts: the
    # error logged before the rollback must not fail the gate after the rollback too.
    logs = project["tmp"] / "logs.sh"
    logs.write_text("#!/bin/sh\necho 'GET /health/ready 200'\n"
                    "echo 'ERROR: relation \"rooms\" is not what the app expects'\nsleep 30\n")
    logs.chmod(0o755)
    with serve_app(project["plain"], {1, 3}) as app:
        result = release(project, app, "--log-cmd", str(logs), "--log-fail-pattern", "^ERROR",
                         "--health-initial-delay", "0.5", "--health-failures", "1", "--format", "json")
    assert result.exit_code == 1, result.output
    data = result.json()
    gates = [s for s in data["steps"] if s["phase"] == "gate"]
    assert [g["status"] for g in gates] == ["failed", "passed"]
    assert "ERROR: relation" in json.dumps(gates[0]["details"])
    assert data["outcome"] == "rolled_back" and "healthy" in data["summary"]
    assert version(project["plain"]) == (1, False)
    assert users(project["plain"]) == project["before"]


def test_health_and_log_commands_get_no_database_url_or_password(project: dict[str, Any]) -> None:
    dump = project["tmp"] / "env.sh"
    dump.write_text(f"#!/bin/sh\nenv >> {project['tmp'] / 'env.txt'}\n")
    dump.chmod(0o755)
    env = {**os.environ, "DATABASE_URL": project["url"], "APP_DSN": project["url"]}
    result = release(project, None, "--health-cmd", str(dump), "--log-cmd", str(dump), "--no-backup", env=env)
    assert result.exit_code == 0, result.output
    seen = (project["tmp"] / "env.txt").read_text()
    assert "PATH=" in seen  # the commands ran, with an environment
    assert "DATABASE_URL" not in seen and "APP_DSN" not in seen and CANARY_PASSWORD not in seen


def test_a_rollback_that_fails_exits_4_with_the_state_and_the_next_command(project: dict[str, Any]) -> None:
    (project["folder"] / "000003_add_last_seen.down.sql").write_text("ALTER TABLE users DROP COLUMN no_such;\n")
    with serve_app(project["plain"], {1}) as app:
        result = release(project, app, "--no-backup", "--format", "json")
    assert result.exit_code == 4, result.output
    data = result.json()
    assert data["outcome"] == "rollback_failed" and "the rollback failed" in data["summary"]
    assert "the database is at version 3" in data["summary"] and data["next"]
    assert (data["version_after"], data["dirty_after"]) == (3, False)
    assert version(project["plain"]) == (3, False)
    assert users(project["plain"]) == project["before"]


def test_the_table_size_threshold_is_a_setting_and_its_check_level_too(project: dict[str, Any]) -> None:
    (project["folder"] / "000003_add_last_seen.up.sql").write_text(
        "-- safemigrate:ignore change-column-type -- a small table, in a maintenance window\n"
        "ALTER TABLE users ALTER COLUMN email TYPE varchar(200);\n")
    (project["folder"] / "000003_add_last_seen.down.sql").write_text("ALTER TABLE users ALTER COLUMN email TYPE text;\n")
    config = project["tmp"] / "safemigrate.toml"
    args = ("-path", str(project["folder"]), "-database", project["url"], "preflight", "--format", "json")

    def sizes() -> tuple[int, dict[str, Any]]:
        result = run_cli(*args, cwd=project["tmp"])
        return result.exit_code, next(s for s in result.json()["steps"]
                                      if s["name"] == "size of tables rewritten or scanned")

    code, step = sizes()
    assert (code, step["status"]) == (0, "passed")  # 50 rows: far below 1 GiB and 1 M rows
    config.write_text("[release]\ntable_size_warn_mb = 0.001\n")
    code, step = sizes()
    assert (code, step["status"]) == (0, "warned") and "users" in step["reason"]
    config.write_text("[release]\ntable_size_warn_mb = 0.001\n\n[release.checks]\ntable_sizes = \"error\"\n")
    code, step = sizes()
    assert (code, step["status"]) == (1, "failed")


def test_the_closing_notification_carries_versions_durations_backup_and_report_path(project: dict[str, Any]) -> None:
    with webhook_receiver() as (hook_url, received), serve_app(project["plain"], {1, 3}) as app:
        result = release(project, app, "--notify", hook_url, "--format", "json")
    assert result.exit_code == 0, result.output
    data = result.json()
    finished = received[-1]["body"]["safemigrate"]
    assert finished["event"] == "finished" and finished["outcome"] == "released"
    assert (finished["from_version"], finished["to_version"], finished["version_after"]) == (1, 3, 3)
    assert finished["backup_id"] == data["backup_id"]
    assert finished["duration_s"] > 0 and {"preflight", "backup", "apply", "gate"} <= set(finished["phases_s"])
    assert finished["report"] in data["report_files"] and Path(finished["report"]).exists()
    assert finished["report"] in received[-1]["body"]["text"]


def _blocking_step(p: dict[str, Any], config: Path | None) -> dict[str, Any]:
    chosen = ("--config", str(config)) if config is not None else ()
    result = run_cli(*chosen, "-path", str(p["folder"]), "-database", p["url"], "preflight", "--no-backup",
                     "--format", "json")
    steps = [s for s in result.json()["steps"] if s["name"] == "sessions in the way of our locks"]
    assert len(steps) == 1, result.output
    step: dict[str, Any] = steps[0]
    return step


def test_long_transaction_seconds_sets_when_a_running_transaction_is_in_the_way(project: dict[str, Any]) -> None:
    import threading

    import psycopg

    # A report query that has been running in its transaction for a few seconds, holding
    # ACCESS SHARE on users: under the default (60 s) it is not in the way yet; at 1 s it is.
    blocker = psycopg.connect(project["plain"], application_name="slow-report")
    pid = blocker.info.backend_pid
    def report_query() -> None:
        with pytest.raises(psycopg.errors.QueryCanceled):  # cancelled below, once measured
            blocker.execute("SELECT pg_sleep(30), count(*) FROM users")

    worker = threading.Thread(target=report_query, daemon=True)
    worker.start()
    try:
        with connect(project["plain"]) as admin:
            _wait_for(lambda: admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = %s AND state = 'active' "
                "AND now() - xact_start > interval '2 seconds'", [pid]).fetchone()[0] == 1)
            assert _blocking_step(project, None)["status"] == "passed"
            config = project["tmp"] / "impatient.toml"
            config.write_text("[release]\nlong_transaction_seconds = 1\n")
            step = _blocking_step(project, config)
            assert step["status"] == "warned"
            assert "slow-report" in step["reason"] and "users" in step["reason"]
            admin.execute("SELECT pg_cancel_backend(%s)", [pid])
    finally:
        worker.join(timeout=30)
        blocker.close()


def test_a_report_folder_that_cannot_be_made_refuses_the_release_before_any_change(
        project: dict[str, Any]) -> None:
    blocker = project["tmp"] / "a-file"
    blocker.write_text("")
    result = run_cli("-path", str(project["folder"]), "-database", project["url"], "--format", "json", "release",
                     "--no-backup", "--report", str(blocker / "releases"))
    data = result.json()
    assert result.exit_code == 1 and data["outcome"] == "refused", result.output
    check = next(s for s in data["steps"] if s["name"] == "report folder writable")
    assert check["status"] == "failed" and check["reason"] == f"{blocker} is not a folder, so {blocker / 'releases'} " \
        "cannot be made"
    assert version(project["plain"]) == (1, False)  # nothing applied
    assert "internal error" not in result.stderr


def test_a_report_that_cannot_be_written_after_the_release_leaves_its_outcome_standing(
        project: dict[str, Any]) -> None:
    """With the folder check turned off, the report's write fails after the migrations ran: the
    release still says it was released (exit 0), and that the report could not be written."""
    blocker = project["tmp"] / "a-file"
    blocker.write_text("")
    (project["tmp"] / "safemigrate.toml").write_text('[release.checks]\nreport_dir = "off"\n')
    result = run_cli("-path", str(project["folder"]), "-database", project["url"], "--format", "json", "release",
                     "--no-backup", "--report", str(blocker / "releases"), cwd=project["tmp"])
    data = result.json()
    assert result.exit_code == 0 and data["outcome"] == "released", result.output
    assert data["report_files"] == []
    assert data["report_error"].startswith(f"the report could not be written to {blocker / 'releases'}: ")
    assert version(project["plain"]) == (3, False)
    assert "internal error" not in result.stderr
