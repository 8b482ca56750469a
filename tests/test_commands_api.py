"""The command functions are the API: a script migrates, reads the history and follows events, no CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import safemigrate.commands as c
from safemigrate.errors import RunInterruptedError, UsageError
from safemigrate.events import CancelToken, JsonLinesSink, ListSink
from support import CANARY_PASSWORD, REPO, write_migrations

FILES = {
    "1_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY);\n",
    "1_users.down.sql": "DROP TABLE users;\n",
    "2_rooms.up.sql": "CREATE TABLE rooms (id INTEGER PRIMARY KEY);\n",
    "2_rooms.down.sql": "DROP TABLE rooms;\n",
}


def project(tmp_path: Path, url: str) -> Path:
    write_migrations(tmp_path / "db" / "migrations", FILES)
    (tmp_path / "safemigrate.toml").write_text(
        'path = "db/migrations"\n\n[env.staging]\ndatabase_url_env = "STAGING_URL"\n', encoding="utf-8")
    return tmp_path


def test_a_script_applies_then_reads_the_history_through_the_api(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    folder = project(tmp_path, "")
    monkeypatch.setenv("STAGING_URL", f"sqlite3://{tmp_path / 'staging.db'}")
    config = c.load_config(env="staging", start=folder)
    sink = ListSink()
    result = c.up(config, events=sink)
    assert result.end.version == 2 and not result.end.dirty
    assert [r.version for r in c.history(config).records] == [1, 2]
    step = ["step_started", "statement_started", "step_finished"]
    assert sink.kinds() == ["run_started", *step, *step, "run_finished"]
    finished = sink.events[-1]
    assert finished.to_dict()["version"] == 2 and finished.to_dict()["ok"] is True
    assert c.version(config).version == 2 and c.status(config).pending == []
    assert c.check(config, expect=2).ok
    assert c.plan(config, "down", 1).planned[0].step.version == 2
    assert c.down(config, 1).end.version == 1
    assert c.force(config, 2).version == 2


def test_json_lines_events_have_one_event_per_line_and_no_password(tmp_path: Path, pg_url: str) -> None:
    folder = project(tmp_path, pg_url)
    config = c.load_config(flags={"database_url": pg_url}, start=folder, environ={})
    path = tmp_path / "events.jsonl"
    sink = JsonLinesSink(path, secrets=[CANARY_PASSWORD])
    try:
        c.up(config, events=sink)
    finally:
        sink.close()
    lines = path.read_text().splitlines()
    events = [json.loads(line) for line in lines]
    assert events[0]["event"] == "run_started" and events[-1]["event"] == "run_finished"
    assert all("database" in e and "at" in e for e in events)
    assert CANARY_PASSWORD not in path.read_text()


def test_a_cancel_token_stops_a_running_migration_and_rolls_it_back(tmp_path: Path, pg_url: str,
                                                                    pg_plain_url: str) -> None:
    import psycopg

    write_migrations(tmp_path / "m", {"1_slow.up.sql": "CREATE TABLE t (id int);\nSELECT pg_sleep(30);\n"})
    config = c.load_config(flags={"database_url": pg_url, "path": str(tmp_path / "m")}, environ={},
                           start=tmp_path)
    cancel = CancelToken()

    def cancel_when_sleeping() -> None:
        with psycopg.connect(pg_plain_url, autocommit=True) as conn:
            for _ in range(400):
                if conn.execute("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' "
                                "AND pid <> pg_backend_pid() AND datname = current_database()").fetchone()[0]:
                    cancel.cancel(15)
                    return
                time.sleep(0.05)

    watcher = threading.Thread(target=cancel_when_sleeping)
    watcher.start()
    try:
        with pytest.raises(RunInterruptedError) as caught:
            c.up(config, cancel=cancel)
    finally:
        watcher.join()
    assert caught.value.exit_code == 128 + 15
    with psycopg.connect(pg_plain_url) as conn:
        assert conn.execute("SELECT to_regclass('t')").fetchone() == (None,)


def test_a_command_without_a_database_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no database URL"):
        c.up(c.load_config(environ={}, start=tmp_path))


def test_the_public_commands_are_pinned() -> None:
    assert set(c.__all__) == {
        "BackupCreateResult", "BackupListResult", "BackupPinResult", "CheckResult", "ConfigShowResult",
        "HistoryResult", "LintGate", "ReleaseResult",
        "backup_create", "backup_import", "backup_list", "backup_pin", "backup_policy", "backup_prune", "backup_resolve", "backup_restore", "backup_show", "backup_storage", "backup_unpin", "backup_verify",
        "check", "config_show", "down", "drop", "force", "goto", "history", "lint", "load_config", "migrator", "plan", "preflight",
        "recover_diagnose", "recover_finish", "recover_repair", "recover_undo", "release", "status", "up",
        "version"}
    for name in c.__all__:
        assert getattr(c, name).__doc__, f"{name} has no docstring"


def test_no_command_takes_a_reporter_only_events() -> None:
    import inspect

    functions = {name: getattr(c, name) for name in c.__all__ if inspect.isfunction(getattr(c, name))}
    takes = {name: set(inspect.signature(f).parameters) for name, f in functions.items()}
    assert [name for name, params in takes.items() if "reporter" in params or "progress" in params] == []
    engine = {"up", "down", "goto", "plan", "force", "drop", "status", "migrator", "recover_diagnose",
              "recover_repair", "release", "backup_create", "backup_verify", "backup_restore", "backup_import"}
    assert [name for name in sorted(engine) if "events" not in takes[name]] == []


def test_there_is_one_cancel_token_for_the_engine_backups_and_the_release() -> None:
    import safemigrate.backup as backup
    import safemigrate.backup.progress as progress
    import safemigrate.cancel as cancel
    import safemigrate.events as events

    assert backup.CancelToken is progress.CancelToken is cancel.CancelToken is events.CancelToken


def test_a_backup_reports_its_bytes_and_steps_as_typed_events(tmp_path: Path) -> None:
    from safemigrate.events import BytesProgress, InfoEvent

    folder = write_migrations(tmp_path / "m", {"1_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY);\n"})
    url = f"sqlite3://{tmp_path / 'app.db'}"
    config = c.load_config(flags={"database_url": url, "path": str(folder), "backup.location": str(tmp_path / "b")},
                           environ={}, start=tmp_path)
    c.up(config)
    sink, lines = ListSink(), tmp_path / "events.jsonl"
    jsonl = JsonLinesSink(lines)
    try:
        created = c.backup_create(config, verify="full", events=[sink, jsonl])
    finally:
        jsonl.close()
    phases = [e.phase for e in sink.events if isinstance(e, BytesProgress) and e.final]
    assert "dump" in phases and all(e.database == url for e in sink.events if isinstance(e, BytesProgress))
    final = next(e for e in sink.events if isinstance(e, BytesProgress) and e.final)
    assert final.done > 0 and final.elapsed >= 0 and final.rate >= 0
    restored = c.backup_restore(config, created.manifest.id, target=f"sqlite3://{tmp_path / 'copy.db'}",
                                events=sink)
    assert restored is not None
    assert {e.database for e in sink.events} == {url}  # the restore's events name the database, not the storage
    infos = [e for e in sink.events if isinstance(e, InfoEvent)]
    assert any(e.message.startswith(f"restoring backup {created.manifest.id} into ") for e in infos)
    assert {e.kind for e in infos} == {"info"}
    written = [json.loads(line) for line in lines.read_text().splitlines()]
    assert {"event": "bytes_progress", "phase": "dump", "final": True}.items() <= next(
        w for w in written if w["event"] == "bytes_progress" and w["final"]).items()


def test_the_event_stream_of_up_carries_what_the_terminal_shows(tmp_path: Path) -> None:
    from safemigrate.events import (
        RunFinished,
        RunStarted,
        StatementStarted,
        StepFinished,
        StepStarted,
    )

    folder = write_migrations(tmp_path / "m", {
        "1_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY);\n\n  -- who\n  INSERT INTO users VALUES (1);\n",
        "2_links.up.sql": f"CREATE TABLE links (url TEXT);\nINSERT INTO links VALUES ('https://u:{CANARY_PASSWORD}@h/x');\n",
    })
    url = f"sqlite3://{tmp_path / 'app.db'}"
    sink = ListSink()
    c.up(c.load_config(flags={"database_url": url, "path": str(folder)}, environ={}, start=tmp_path), events=sink)
    assert sink.kinds() == ["run_started", "step_started", "statement_started", "statement_started", "step_finished",
                            "step_started", "statement_started", "statement_started", "step_finished",
                            "run_finished"]
    assert {e.database for e in sink.events} == {url}
    started, s1, s2, finished = sink.events[1:5]
    assert isinstance(sink.events[0], RunStarted) and sink.events[0].command == "up"
    assert isinstance(started, StepStarted)
    assert (started.version, started.name, started.direction, started.index, started.total, started.mode,
            started.file) == (1, "users", "up", 0, 2, "transaction", str(folder / "1_users.up.sql"))
    assert isinstance(s1, StatementStarted) and isinstance(s2, StatementStarted)
    assert [(s.version, s.index, s.total, s.line, s.first_line) for s in (s1, s2)] == [
        (1, 0, 2, 1, "CREATE TABLE users (id INTEGER PRIMARY KEY)"), (1, 1, 2, 4, "INSERT INTO users VALUES (1)")]
    assert isinstance(finished, StepFinished)
    assert (finished.version, finished.name, finished.direction, finished.statements, finished.no_down_file,
            finished.file) == (1, "users", "up", 2, False, str(folder / "1_users.up.sql"))
    assert finished.duration_ms > 0 and finished.to_dict()["duration_ms"] == round(finished.duration_ms, 3)
    second = sink.events[7]
    assert isinstance(second, StatementStarted) and second.first_line.startswith("INSERT INTO links VALUES ('https://u:")
    assert CANARY_PASSWORD not in second.first_line  # a password in a migration's SQL is masked
    last = sink.events[-1]
    assert isinstance(last, RunFinished) and (last.ok, last.version, last.dirty) == (True, 2, False)


def test_lint_returns_the_findings_as_data_for_the_configured_folder(tmp_path: Path) -> None:
    write_migrations(tmp_path / "db" / "migrations", {
        "1_t.up.sql": "CREATE TABLE t (id int);\n",
        "1_t.down.sql": "DROP TABLE t;\n",
        "2_i.up.sql": "CREATE INDEX t_id ON t (id);\n",
        "2_i.down.sql": "DROP INDEX t_id;\n",
    })
    (tmp_path / "safemigrate.toml").write_text('path = "db/migrations"\n', encoding="utf-8")
    config = c.load_config(start=tmp_path, environ={})
    result = c.lint(config)
    data = result.to_dict()
    assert data["files"] == 4 and data["dialect"] == "postgres"
    assert "create-index-not-concurrently" in {f["rule_id"] for f in data["findings"]}
    assert result.failed is (data["ok"] is False)
    assert result.report.to_dict(result.fail_on) == data
    # fail_on=warning fails on warnings too; a SQLite URL lints as SQLite.
    assert c.lint(config, fail_on="warning").failed
    sqlite = c.load_config(flags={"database_url": f"sqlite3://{tmp_path / 'x.db'}"}, start=tmp_path, environ={})
    assert c.lint(sqlite).to_dict()["dialect"] == "sqlite"


def test_lint_names_an_unknown_url_scheme_instead_of_guessing_a_dialect(tmp_path: Path) -> None:
    config = c.load_config(flags={"database_url": "oracle://db/x"}, start=tmp_path, environ={})
    with pytest.raises(UsageError, match="cannot tell the SQL dialect"):
        c.lint(config, [str(tmp_path)])


def test_no_core_package_imports_the_cli() -> None:
    offenders = []
    for path in (REPO / "src" / "safemigrate").rglob("*.py"):
        # cli/ is the CLI; demo/ narrates CLI commands and runs them to show their real output.
        if {"cli", "demo"} & set(path.relative_to(REPO / "src" / "safemigrate").parts):
            continue
        text = path.read_text(encoding="utf-8")
        if "safemigrate.cli" in text or "from .cli" in text or "from ..cli" in text:
            offenders.append(str(path.relative_to(REPO)))
    assert offenders == [] or offenders == ["src/safemigrate/__main__.py"], offenders


def test_the_api_is_usable_in_a_fresh_interpreter_without_the_cli(tmp_path: Path) -> None:
    folder = project(tmp_path, "")
    code = ("import sys, safemigrate.commands as c; "
            "r = c.up(c.load_config(env='staging')); "
            "print(r.end.version, 'safemigrate.cli' in sys.modules, 'click' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=folder, check=True,
                         env={"STAGING_URL": f"sqlite3://{tmp_path / 's.db'}", "PATH": "/usr/bin:/bin"})
    assert out.stdout.split() == ["2", "False", "False"]


def test_events_option_writes_the_cli_runs_events_as_json_lines(tmp_path: Path, pg_url: str) -> None:
    from support import run_cli

    folder = write_migrations(tmp_path / "m", FILES)
    events = tmp_path / "events.jsonl"
    result = run_cli("-path", str(folder), "-database", pg_url, "--events", str(events), "up")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith("1/u users (")  # the terminal output is unchanged
    kinds = [json.loads(line)["event"] for line in events.read_text().splitlines()]
    assert kinds == ["run_started", "step_started", "statement_started", "step_finished", "step_started",
                     "statement_started", "step_finished", "run_finished"]
    assert CANARY_PASSWORD not in events.read_text()


def test_the_api_doc_example_runs_as_a_script_without_the_cli(tmp_path: Path) -> None:
    """docs/api.md's first example, as written: apply, then read the history, then check."""
    text = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    example = text.split("```python\n", 1)[1].split("```", 1)[0]
    assert "c.up(" in example and "c.history(" in example
    files = {f"{v}_t{v}.up.sql": f"CREATE TABLE t{v} (id INTEGER PRIMARY KEY);\n" for v in range(1, 5)}
    write_migrations(tmp_path / "migrations", files)
    (tmp_path / "safemigrate.toml").write_text('[env.staging]\ndatabase_url_env = "STAGING_DATABASE_URL"\n',
                                               encoding="utf-8")
    script = tmp_path / "deploy.py"
    script.write_text(example + "\nimport sys\nprint('cli' if 'click' in sys.modules else 'no cli')\n",
                      encoding="utf-8")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path,
                         env={"STAGING_DATABASE_URL": f"sqlite3://{tmp_path / 'staging.db'}",
                              "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "4"
    assert [line.split()[:3] for line in lines[1:5]] == [[str(v), "up", "applied"] for v in range(1, 5)]
    assert lines[-1] == "no cli"
    events = [json.loads(line)["event"] for line in (tmp_path / "migrate.jsonl").read_text().splitlines()]
    assert events[0] == "run_started" and events[-1] == "run_finished"


def test_the_lint_gate_is_library_policy_a_strict_gate_blocks_before_anything_runs(tmp_path: Path) -> None:
    from safemigrate.errors import LintBlockedError

    folder = write_migrations(tmp_path / "m", {
        "1_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT);\n",
        "1_users.down.sql": "DROP TABLE users;\n",
        "2_drop_email.up.sql": "ALTER TABLE users DROP COLUMN email;\n",
        "2_drop_email.down.sql": "ALTER TABLE users ADD COLUMN email TEXT;\n"})
    config = c.load_config(flags={"database_url": f"sqlite3://{tmp_path / 'a.db'}", "path": str(folder)},
                           environ={}, start=tmp_path)
    seen: list[int] = []
    gate = c.LintGate(strict=True, on_report=lambda report, files: seen.append(files))
    with pytest.raises(LintBlockedError) as blocked:
        c.up(config, lint=gate)
    assert blocked.value.code == "lint_blocked" and blocked.value.details["lint"]["findings"]
    assert seen == [2] and gate.report is not None and gate.report.fails()
    assert c.version(config).version is None  # nothing ran
    reporting = c.LintGate()
    assert c.up(config, lint=reporting).end.version == 2  # not strict: it reports, never blocks
    assert reporting.report is not None and reporting.report.fails()


def test_a_script_backs_up_verifies_and_resolves_latest_through_the_api(tmp_path: Path) -> None:
    folder = project(tmp_path, "")
    config = c.load_config(flags={"database_url": f"sqlite3://{tmp_path / 'app.db'}",
                                  "backup.location": str(tmp_path / "store")}, environ={}, start=folder)
    c.up(config)
    sink = ListSink()
    created = c.backup_create(config, verify="full", events=sink)
    data = created.to_dict()
    assert data["ok"] and data["backup"]["id"] == created.manifest.id
    assert data["verification"]["mode"] == "full" and data["backup"]["verification"]["ok"]
    assert created.manifest.schema_migrations["version"] == 2
    assert "bytes_progress" in sink.kinds()
    assert c.backup_resolve(config, "latest") == created.manifest.id
    assert c.backup_show(config, "latest").id == created.manifest.id
    assert c.backup_verify(config, "latest", quick=True).backup_id == created.manifest.id
    restored = c.backup_restore(config, "latest", target=str(tmp_path / "copy.db"))
    assert (tmp_path / "copy.db").exists() and restored.backup_id == created.manifest.id
    listed = c.backup_list(config, check=True)
    assert [r["id"] for r in listed.rows()] == [created.manifest.id] and not listed.damaged
    assert listed.to_dict()["backups"][0]["files_checked"] == "files checked now"
    pruned = c.backup_prune(config, dry_run=True)
    assert pruned.plan.policy == c.backup_policy(config)  # the configuration's, not a built-in
    assert [d.candidate.id for d in pruned.plan.decisions] == [created.manifest.id]


def test_a_sink_that_says_what_it_listens_to_hears_only_that(tmp_path: Path) -> None:
    folder = write_migrations(tmp_path / "m", FILES)
    config = c.load_config(flags={"database_url": f"sqlite3://{tmp_path / 'k.db'}", "path": str(folder)},
                           environ={}, start=tmp_path)

    class Finished(ListSink):
        listens_to = frozenset({"step_finished"})

    everything, finished = ListSink(), Finished()
    c.up(config, events=[finished, everything])
    assert finished.kinds() == ["step_finished", "step_finished"]
    assert everything.kinds()[0] == "run_started" and everything.kinds().count("statement_started") == 2
    alone = Finished()
    c.down(config, events=alone)
    assert alone.kinds() == ["step_finished", "step_finished"]


def test_a_script_pins_and_unpins_the_latest_backup_through_the_api(tmp_path: Path) -> None:
    folder = project(tmp_path, "")
    config = c.load_config(flags={"database_url": f"sqlite3://{tmp_path / 'app.db'}",
                                  "backup.location": str(tmp_path / "store")}, environ={}, start=folder)
    c.up(config)
    created = c.backup_create(config)
    pinned = c.backup_pin(config, "latest")
    assert pinned.to_dict() == {"ok": True, "backup_id": created.manifest.id, "pinned": True}
    assert c.backup_show(config, created.manifest.id).pinned
    assert c.backup_unpin(config, "latest").to_dict()["pinned"] is False
    assert not c.backup_show(config, created.manifest.id).pinned


def test_config_show_gives_each_setting_its_origin_with_the_password_masked(tmp_path: Path) -> None:
    folder = project(tmp_path, "")
    config = c.load_config(flags={"database_url": f"postgres://app:{CANARY_PASSWORD}@db/app"}, env="staging",
                           environ={}, start=folder)
    shown = c.config_show(config)
    assert shown.env == "staging" and shown.file == folder / "safemigrate.toml"
    rows = {name: (value, origin) for name, value, origin in shown.rows}
    assert rows["path"][1] == "safemigrate.toml" and rows["lock_timeout"] == ("15", "default")
    assert CANARY_PASSWORD not in rows["database_url"][0]
    assert shown.to_dict()["settings"]["database_url"]["origin"] == rows["database_url"][1]
    assert CANARY_PASSWORD not in json.dumps(shown.to_dict())
