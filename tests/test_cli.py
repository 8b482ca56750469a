"""The command line as golang-migrate users type it, and what it prints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support import CANARY_PASSWORD, run_cli, write_migrations


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_migrations(tmp_path / "migrations", {
        "000001_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY);\n",
        "000001_users.down.sql": "DROP TABLE users;\n",
        "000002_posts.up.sql": "CREATE TABLE posts (id INTEGER PRIMARY KEY);\n",
        "000002_posts.down.sql": "DROP TABLE posts;\n",
        "000003_tags.up.sql": "CREATE TABLE tags (id INTEGER PRIMARY KEY);\n",
        "000003_tags.down.sql": "DROP TABLE tags;\n",
    })


def test_single_dash_flags_before_the_command_work_like_golang_migrate(folder: Path, sqlite_url: str) -> None:
    result = run_cli("-path", str(folder), "-database", sqlite_url, "up", "2")
    assert result.exit_code == 0, result.output
    assert [line.split(" (")[0] for line in result.stdout.splitlines()] == ["1/u users", "2/u posts"]
    assert run_cli("-path", str(folder), "-database", sqlite_url, "version").stdout == "2\n"


def test_long_flags_after_the_command_and_source_urls_work(folder: Path, sqlite_url: str) -> None:
    result = run_cli("up", "--source", f"file://{folder}", "--database", sqlite_url)
    assert result.exit_code == 0, result.output
    assert run_cli("version", "--path", str(folder), "--database", sqlite_url).stdout == "3\n"


def test_database_defaults_to_database_url_and_path_to_migrations(folder: Path, sqlite_url: str) -> None:
    result = run_cli("up", env={"DATABASE_URL": sqlite_url, "PATH": "/usr/bin"}, cwd=folder.parent)
    assert result.exit_code == 0, result.output
    assert run_cli("version", env={"DATABASE_URL": sqlite_url}, cwd=folder.parent).stdout == "3\n"


def test_no_change_is_success(folder: Path, sqlite_url: str) -> None:
    args = ("-path", str(folder), "-database", sqlite_url)
    run_cli(*args, "up")
    result = run_cli(*args, "up")
    assert (result.exit_code, result.stdout) == (0, "no change\n")


def test_version_prints_no_migration_as_an_error_like_golang_migrate(folder: Path, sqlite_url: str) -> None:
    result = run_cli("-path", str(folder), "-database", sqlite_url, "version")
    assert result.exit_code == 1
    assert "error: no migration" in result.stderr


def test_version_prints_dirty(folder: Path, sqlite_url: str, tmp_path: Path) -> None:
    import sqlite3

    run_cli("-path", str(folder), "-database", sqlite_url, "up", "1")
    with sqlite3.connect(tmp_path / "test.db") as conn:
        conn.execute("UPDATE schema_migrations SET dirty = 1")
    assert run_cli("-path", str(folder), "-database", sqlite_url, "version").stdout == "1 (dirty)\n"
    up = run_cli("-path", str(folder), "-database", sqlite_url, "up")
    assert up.exit_code == 1
    assert "Dirty database version 1. Fix and force version." in up.stderr
    assert "safemigrate force" in up.stderr


def test_force_minus_one_needs_no_double_dash(folder: Path, sqlite_url: str) -> None:
    args = ("-path", str(folder), "-database", sqlite_url)
    run_cli(*args, "up")
    result = run_cli(*args, "force", "-1")
    assert result.exit_code == 0, result.output
    assert run_cli(*args, "version").stderr.strip() == "error: no migration\nnext: no version has been applied yet: run safemigrate up"


def test_down_without_n_refuses_without_a_terminal_unless_all_or_yes(folder: Path, sqlite_url: str) -> None:
    args = ("-path", str(folder), "-database", sqlite_url)
    run_cli(*args, "up")
    refused = run_cli(*args, "down")
    assert refused.exit_code == 2
    assert "-all" in refused.stderr
    assert run_cli(*args, "version").stdout == "3\n"
    assert run_cli(*args, "down", "-all").exit_code == 0
    run_cli(*args, "up")
    assert run_cli(*args, "down", "--yes").exit_code == 0
    assert run_cli(*args, "version").exit_code == 1


def test_down_n_and_goto(folder: Path, sqlite_url: str) -> None:
    args = ("-path", str(folder), "-database", sqlite_url)
    run_cli(*args, "up")
    result = run_cli(*args, "down", "2")
    assert [line.split(" (")[0] for line in result.stdout.splitlines()] == ["3/d tags", "2/d posts"]
    assert run_cli(*args, "goto", "3").exit_code == 0
    assert run_cli(*args, "version").stdout == "3\n"


@pytest.mark.parametrize(("argv", "message"), [
    (("up", "x"), "can't read limit argument N"),
    (("down", "-1"), "can't read limit argument N"),
    (("goto",), "please specify version argument V"),
    (("goto", "v1"), "can't read version argument V"),
    (("force",), "please specify version argument V"),
    (("force", "-2"), "argument V must be >= -1"),
    (("down", "-all", "2"), "-all cannot be used with other arguments"),
])
def test_bad_arguments_exit_2_with_golang_migrates_message(
    folder: Path, sqlite_url: str, argv: tuple[str, ...], message: str
) -> None:
    result = run_cli("-path", str(folder), "-database", sqlite_url, *argv)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert "error: error:" not in result.stderr and result.stderr.count("error:") == 1  # one prefix


@pytest.mark.parametrize(("argv", "suggestion"), [
    (("up", "--dryrun"), "did you mean --dry-run?"),
    (("up", "2", "--dryrun"), "did you mean --dry-run?"),
    (("down", "--dryrun"), "did you mean --dry-run?"),
    (("down", "-al"), "did you mean -all?"),
    (("goto", "--dry_run"), "did you mean --dry-run?"),
])
def test_an_option_typo_after_up_down_goto_is_an_unknown_option_with_a_suggestion(
    folder: Path, sqlite_url: str, argv: tuple[str, ...], suggestion: str
) -> None:
    result = run_cli("-path", str(folder), "-database", sqlite_url, *argv)
    assert result.exit_code == 2
    assert f"unknown option {argv[-1]!r} for {argv[0]}" in result.stderr and suggestion in result.stderr
    assert "can't read" not in result.stderr
    assert run_cli("-path", str(folder), "-database", sqlite_url, "version").exit_code == 1  # nothing ran


def test_a_command_typo_gets_did_you_mean(folder: Path, sqlite_url: str) -> None:
    result = run_cli("-path", str(folder), "-database", sqlite_url, "stauts")
    assert result.exit_code == 2
    assert "unknown command 'stauts'" in result.stderr and "did you mean: safemigrate status?" in result.stderr
    machine = run_cli("--json", "updown")
    assert machine.exit_code == 2 and machine.json()["error"]["type"] == "usage"


def test_extra_arguments_are_refused(folder: Path, sqlite_url: str) -> None:
    result = run_cli("-path", str(folder), "-database", sqlite_url, "up", "1", "2")
    assert result.exit_code == 2 and "too many arguments: 1 2" in result.stderr
    assert run_cli("-path", str(folder), "-database", sqlite_url, "version").exit_code == 1


def test_up_beyond_the_last_version_fails_like_golang_migrate(folder: Path, sqlite_url: str) -> None:
    args = ("-path", str(folder), "-database", sqlite_url)
    run_cli(*args, "up")
    result = run_cli(*args, "up", "1")
    assert result.exit_code == 1
    assert "file does not exist" in result.stderr
    run_cli(*args, "down", "1")
    short = run_cli(*args, "up", "2")
    assert short.exit_code == 1
    assert "3/u tags" in short.stdout and "limit 1 short" in short.stderr


@pytest.mark.parametrize(("url", "message"), [
    ("", "no database URL"),
    ("nonsense", "has no scheme"),
    ("oracle://u:p@h/db", "unsupported database URL scheme"),
    (f"postgres://u:{CANARY_PASSWORD}@h:notaport/db", "malformed database URL"),
])
def test_bad_database_urls_exit_2_and_never_show_the_password(folder: Path, url: str, message: str) -> None:
    result = run_cli("-path", str(folder), "-database", url, "up", env={})
    assert result.exit_code == 2
    assert message in result.stderr
    assert "next:" in result.stderr


def test_unreachable_database_is_a_clear_error_without_the_password(folder: Path) -> None:
    url = f"postgres://someone:{CANARY_PASSWORD}@127.0.0.1:1/db?connect_timeout=2"
    result = run_cli("-path", str(folder), "-database", url, "up")
    assert result.exit_code == 1
    assert "cannot connect to postgres://someone:xxxxx@127.0.0.1:1/db" in result.stderr
    assert "Traceback" not in result.output


def test_missing_migrations_folder_names_it_and_the_next_step(sqlite_url: str, tmp_path: Path) -> None:
    result = run_cli("-path", str(tmp_path / "nope"), "-database", sqlite_url, "up")
    assert result.exit_code == 1
    assert "does not exist" in result.stderr and "safemigrate create" in result.stderr


def test_json_output_is_one_document_on_stdout(folder: Path, sqlite_url: str) -> None:
    result = run_cli("-path", str(folder), "-database", sqlite_url, "up", "--json")
    doc = json.loads(result.stdout)
    assert doc["ok"] and [s["version"] for s in doc["steps"]] == [1, 2, 3]
    assert doc["to"] == {"version": 3, "dirty": False}
    version = json.loads(run_cli("--format", "json", "-path", str(folder), "-database", sqlite_url,
                                 "version").stdout)
    assert version == {"ok": True, "version": 3, "dirty": False}


def test_json_errors_are_json_too(folder: Path, sqlite_url: str) -> None:
    result = run_cli("-path", str(folder), "-database", sqlite_url, "goto", "9", "--json")
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "not_exist" and "9" in error["message"]


def test_plan_shows_the_sql_without_changing_anything(folder: Path, sqlite_url: str) -> None:
    args = ("-path", str(folder), "-database", sqlite_url)
    result = run_cli(*args, "plan", "up", "2")
    assert result.exit_code == 0
    assert "CREATE TABLE users" in result.stdout and "CREATE TABLE posts" in result.stdout
    assert "CREATE TABLE tags" not in result.stdout
    assert run_cli(*args, "version").exit_code == 1  # nothing was applied
    # Our bookkeeping is one summary line per migration; --verbose shows its SQL.
    assert "schema_migrations" not in result.stdout and "safemigrate_history" not in result.stdout
    assert result.stdout.count("statement(s) of bookkeeping in the same transaction: version 1 marked "
                               "dirty before") == 1
    verbose = run_cli(*args, "plan", "up", "2", "--verbose")
    assert 'INSERT INTO "schema_migrations" (version, dirty) VALUES (2, 0);' in verbose.stdout
    assert "bookkeeping" not in verbose.stdout
    dry = run_cli(*args, "up", "--dry-run")
    assert "CREATE TABLE tags" in dry.stdout and run_cli(*args, "version").exit_code == 1


def test_drop_needs_f_without_a_terminal(folder: Path, sqlite_url: str) -> None:
    args = ("-path", str(folder), "-database", sqlite_url)
    run_cli(*args, "up")
    assert run_cli(*args, "drop").exit_code == 2
    result = run_cli(*args, "drop", "-f")
    assert result.exit_code == 0 and "users" in result.stdout
    assert run_cli(*args, "version").exit_code == 1


def test_tool_version_and_help(folder: Path) -> None:
    from safemigrate import __version__

    assert run_cli("-version").stdout.strip() == __version__
    help_text = run_cli("-help").stdout
    for command in ("up", "down", "goto", "force", "version", "drop", "create", "status", "plan"):
        assert f"  {command}" in help_text


def test_python_dash_m_runs_the_cli(folder: Path, sqlite_url: str) -> None:
    from support import run_cli_process

    result = run_cli_process("-path", str(folder), "-database", sqlite_url, "up", "1")
    assert result.exit_code == 0 and result.stdout.startswith("1/u users")


def test_an_internal_error_says_so_and_shows_a_traceback_only_with_debug(
    folder: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import safemigrate.engine

    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(safemigrate.engine.Migrator, "status", explode)
    plain = run_cli("-path", str(folder), "-database", sqlite_url, "status")
    assert plain.exit_code == 1 and "internal error: RuntimeError: boom" in plain.stderr
    assert "Traceback" not in plain.stderr and "--debug" in plain.stderr
    debug = run_cli("--debug", "-path", str(folder), "-database", sqlite_url, "status")
    assert "Traceback" in debug.stderr


@pytest.mark.parametrize("argv", [
    ("version", "-database", "{url}", "-path", "{folder}"),
    ("-database={url}", "--path={folder}", "version", "--json"),
    ("--lock-timeout", "3", "-verbose", "-database", "{url}", "version", "--format", "json"),
])
def test_version_fast_path_reads_the_same_options_as_the_commands(
    folder: Path, sqlite_url: str, argv: tuple[str, ...]
) -> None:
    from safemigrate.cli.fast import parse_version_command
    from safemigrate.cli.settings import Settings

    args = [a.format(url=sqlite_url, folder=folder) for a in argv]
    run_cli("-path", str(folder), "-database", sqlite_url, "up", "2")
    settings = Settings()
    assert parse_version_command(args, settings)
    assert settings.database == sqlite_url
    result = run_cli(*args)
    assert result.exit_code == 0
    assert result.stdout.strip() in ("2", json.dumps({"ok": True, "version": 2, "dirty": False}, indent=2))


@pytest.mark.parametrize("argv", [("version", "--help"), ("version", "extra"), ("-lock-timeout", "x", "version"),
                                  ("up",), ("--format", "xml", "version"), ("version", "-database")])
def test_anything_else_goes_through_click(argv: tuple[str, ...]) -> None:
    from safemigrate.cli.fast import parse_version_command
    from safemigrate.cli.settings import Settings

    assert not parse_version_command(list(argv), Settings())


@pytest.mark.parametrize(("argv", "message", "suggestion"), [
    (("-databse", "sqlite3:///x.db", "up"), "unknown option '-databse'", "did you mean -database?"),
    (("-pth", "m", "up"), "unknown option '-pth'", "did you mean -path?"),
    (("force", "--dryrun"), "unknown option '--dryrun' for force", "safemigrate force --help"),
])
def test_an_option_typo_is_named_whole_with_the_closest_option(
    tmp_path: Path, argv: tuple[str, ...], message: str, suggestion: str
) -> None:
    result = run_cli(*argv, cwd=tmp_path)
    assert result.exit_code == 2
    assert message in result.stderr and suggestion in result.stderr, result.stderr
    assert list(tmp_path.iterdir()) == []  # no database file created


def test_force_minus_one_says_what_it_did(folder: Path, sqlite_url: str) -> None:
    result = run_cli("-path", str(folder), "-database", sqlite_url, "force", "-1")
    assert result.exit_code == 0 and result.stdout == "forced version -1 (no version)\n"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
@pytest.mark.parametrize("argv", [
    ("-path", "{folder}", "-database", "{url}", "version"),  # the click-free version path
    ("lint", "{folder}"),  # the click-free lint path
    ("-path", "{folder}", "-database", "{url}", "status"),  # through click
    ("--format", "json", "-path", "{folder}", "-database", "{url}", "status"),
])
def test_a_full_output_device_is_a_clear_error_not_an_internal_one(
    folder: Path, sqlite_url: str, argv: tuple[str, ...]
) -> None:
    import subprocess
    import sys

    run_cli("-path", str(folder), "-database", sqlite_url, "up")
    args = [a.format(folder=folder, url=sqlite_url) for a in argv]
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "safemigrate", *args], stdout=full, stderr=subprocess.PIPE,
                              text=True, timeout=120, check=False)
    assert proc.returncode == 1
    assert "could not write" in proc.stderr and "No space left on device" in proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("events", ["{tmp}/no/such/folder/events.jsonl", "{tmp}"])
def test_an_events_file_that_cannot_be_opened_is_a_usage_error_before_anything_runs(
        folder: Path, sqlite_url: str, tmp_path: Path, events: str) -> None:
    result = run_cli("-path", str(folder), "-database", sqlite_url, "--events", events.format(tmp=tmp_path), "up")
    assert result.exit_code == 2
    assert "cannot open the events file" in result.stderr and "nothing was run" in result.stderr
    assert "internal error" not in result.stderr
    assert run_cli("-path", str(folder), "-database", sqlite_url, "version").stderr.startswith("error: no migration")
