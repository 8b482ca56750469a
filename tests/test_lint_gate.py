"""The linter runs on the files a command is about to run: it reports, and blocks only with --strict."""

from __future__ import annotations

import json
from pathlib import Path

from support import run_cli, write_migrations

SAFE = {"000001_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT);\n",
        "000001_users.down.sql": "DROP TABLE users;\n"}
UNSAFE = {"000002_drop_email.up.sql": "ALTER TABLE users DROP COLUMN email;\n",
          "000002_drop_email.down.sql": "ALTER TABLE users ADD COLUMN email TEXT;\n"}


def test_findings_are_printed_but_do_not_block_by_default(sqlite_url: str, tmp_path: Path) -> None:
    folder = write_migrations(tmp_path / "m", {**SAFE, **UNSAFE})
    result = run_cli("-path", str(folder), "-database", sqlite_url, "up")
    assert result.exit_code == 0, result.output
    assert "2/u drop_email" in result.stdout
    assert "error[drop-column]" in result.stderr and "000002_drop_email.up.sql:1:" in result.stderr
    assert "not blocking" in result.stderr


def test_strict_blocks_error_findings_before_anything_runs(sqlite_url: str, tmp_path: Path) -> None:
    folder = write_migrations(tmp_path / "m", {**SAFE, **UNSAFE})
    result = run_cli("-path", str(folder), "-database", sqlite_url, "up", "--strict")
    assert result.exit_code == 1
    assert "nothing was applied (--strict)" in result.stderr
    assert "safemigrate:ignore" in result.stderr
    assert run_cli("-path", str(folder), "-database", sqlite_url, "version").exit_code == 1  # no version


def test_an_acknowledged_finding_lets_strict_proceed(sqlite_url: str, tmp_path: Path) -> None:
    folder = write_migrations(tmp_path / "m", {**SAFE, **UNSAFE, "000002_drop_email.up.sql":
        "-- safemigrate:ignore drop-column -- the app stopped reading email in release 41\n"
        "ALTER TABLE users DROP COLUMN email;\n"})
    result = run_cli("-path", str(folder), "-database", sqlite_url, "up", "--strict")
    assert result.exit_code == 0, result.output
    assert "drop-column" not in result.stderr


def test_only_the_files_about_to_run_are_linted(sqlite_url: str, tmp_path: Path) -> None:
    folder = write_migrations(tmp_path / "m", {**SAFE, **UNSAFE})
    run_cli("-path", str(folder), "-database", sqlite_url, "up", "1")
    down = run_cli("-path", str(folder), "-database", sqlite_url, "goto", "1")
    assert "lint:" not in down.stderr  # nothing to run
    result = run_cli("-path", str(folder), "-database", sqlite_url, "plan", "--json")
    lint = json.loads(result.stdout)["lint"]
    assert {f["path"].rsplit("/", 1)[-1] for f in lint["findings"]} == {"000002_drop_email.up.sql"}
    assert {f["rule_id"] for f in lint["findings"]} >= {"drop-column"}


def test_postgres_lint_uses_the_servers_version(pg_url: str, pg_plain_url: str, tmp_path: Path) -> None:
    folder = write_migrations(tmp_path / "m", {"1_a.up.sql": "CREATE TABLE a (id bigint PRIMARY KEY);\n",
                                                "1_a.down.sql": "DROP TABLE a;\n"})
    result = run_cli("-path", str(folder), "-database", pg_url, "plan", "--json")
    import psycopg

    with psycopg.connect(pg_plain_url) as conn:
        major = conn.info.server_version // 10000
    assert json.loads(result.stdout)["lint"]["pg_version"] == major


def test_no_lint_skips_the_check_and_refuses_to_be_combined_with_strict(sqlite_url: str, tmp_path: Path) -> None:
    folder = write_migrations(tmp_path / "m", {**SAFE, **UNSAFE})
    both = run_cli("-path", str(folder), "-database", sqlite_url, "up", "--strict", "--no-lint")
    assert both.exit_code == 2 and "contradict" in both.stderr
    result = run_cli("-path", str(folder), "-database", sqlite_url, "up", "--no-lint")
    # (the "connected to" line names the database file, whose folder is named after this test)
    assert result.exit_code == 0 and "lint:" not in result.stderr and "drop-column" not in result.stderr
