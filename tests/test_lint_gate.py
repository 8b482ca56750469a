"""The linter runs on the files a command is about to run: it reports, and blocks only with --strict."""

from __future__ import annotations

import json
from pathlib import Path

from support import run_cli, write_migrations

SAFE = {"000001_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT);\n",
        "000001_users.down.sql": "DROP TABLE users;\n"}
UNSAFE = {"000002_drop_email.up.sql": "ALTER TABLE users DROP COLUMN email;\n",
          "000002_drop_email.down.sql": "ALTER TABLE users ADD COLUMN email TEXT;\n"}


# An up file without its down file: a warning-level finding (missing-down-file).
NO_DOWN = {"000003_tags.up.sql": "CREATE TABLE tags (id INTEGER PRIMARY KEY);\n"}


def test_error_findings_are_printed_but_do_not_block_by_default(sqlite_url: str, tmp_path: Path) -> None:
    folder = write_migrations(tmp_path / "m", {**SAFE, **UNSAFE})
    result = run_cli("-path", str(folder), "-database", sqlite_url, "up")
    assert result.exit_code == 0, result.output
    assert "2/u drop_email" in result.stdout
    assert "error[drop-column]" in result.stderr and "000002_drop_email.up.sql:1:" in result.stderr
    assert "not blocking" in result.stderr


def test_default_output_is_one_summary_line_and_the_error_level_findings(
        sqlite_url: str, tmp_path: Path) -> None:
    folder = write_migrations(tmp_path / "m", {**SAFE, **UNSAFE, **NO_DOWN})
    result = run_cli("-path", str(folder), "-database", sqlite_url, "up")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if not line.startswith("connected to database")]
    assert lines[0] == ("warning: lint: 1 error, 1 warning, 0 notes in the 3 files about to run "
                        "(not blocking; --strict makes errors block)")
    assert "error[drop-column]" in result.stderr  # every error-level finding, in full
    assert "warning[missing-down-file]" not in result.stderr
    assert lines[-1] == ("warning: lint: 1 warning not shown (missing-down-file 1): add --lint-details, "
                         "or run safemigrate lint, to see them")


def test_lint_details_prints_every_finding(sqlite_url: str, tmp_path: Path) -> None:
    folder = write_migrations(tmp_path / "m", {**SAFE, **UNSAFE, **NO_DOWN})
    result = run_cli("-path", str(folder), "-database", sqlite_url, "plan", "--lint-details")
    assert result.exit_code == 0, result.output
    assert "error[drop-column]" in result.stderr and "warning[missing-down-file]" in result.stderr
    assert "not shown" not in result.stderr
    both = run_cli("-path", str(folder), "-database", sqlite_url, "up", "--lint-details", "--no-lint")
    assert both.exit_code == 2 and "contradict" in both.stderr


def test_many_warnings_print_two_lines_not_one_block_per_finding(sqlite_url: str, tmp_path: Path) -> None:
    files = {f"{v:06d}_t{v}.up.sql": f"CREATE TABLE t{v} (id INTEGER PRIMARY KEY);\n" for v in range(1, 41)}
    folder = write_migrations(tmp_path / "m", files)
    result = run_cli("-path", str(folder), "-database", sqlite_url, "up")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"connected to database {sqlite_url.removeprefix('sqlite3://')}",
        "warning: lint: 0 errors, 40 warnings, 0 notes in the 40 files about to run "
        "(not blocking; --strict makes errors block)",
        "warning: lint: 40 warnings not shown (missing-down-file 40): add --lint-details, "
        "or run safemigrate lint, to see them",
    ]


def test_findings_of_applied_files_are_never_shown_again(sqlite_url: str, tmp_path: Path) -> None:
    folder = write_migrations(tmp_path / "m", {**SAFE, **UNSAFE, **NO_DOWN})
    first = run_cli("-path", str(folder), "-database", sqlite_url, "up", "2")
    assert first.exit_code == 0 and "drop-column" in first.stderr
    for command in (("plan",), ("up", "--dry-run"), ("goto", "3")):
        again = run_cli("-path", str(folder), "-database", sqlite_url, *command, "--lint-details")
        assert "drop-column" not in again.stderr and "000002" not in again.stderr
        assert "in the 1 file about to run" in again.stderr


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
