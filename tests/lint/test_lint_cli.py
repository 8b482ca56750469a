"""`safemigrate lint`: paths, formats, exit codes, dialect and version options, config files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support import run_cli, run_cli_process

UNSAFE = "ALTER TABLE users ADD COLUMN plan text NOT NULL;\n"
WARNING_ONLY = "SET lock_timeout = '1s';\nSET statement_timeout = '1s';\nCREATE TABLE t (at timestamp);\n"


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "000001_plan.up.sql").write_text(UNSAFE)
    (folder / "000001_plan.down.sql").write_text("ALTER TABLE users DROP COLUMN plan;\n")
    return folder


def test_default_path_is_the_migrations_folder(migrations: Path) -> None:
    result = run_cli("lint", cwd=migrations.parent)
    assert result.exit_code == 1
    assert "migrations/000001_plan.up.sql:1:30: error[add-not-null-column-without-default]" in result.stdout


def test_exit_0_when_only_warnings(tmp_path: Path) -> None:
    (tmp_path / "a.sql").write_text(WARNING_ONLY)
    result = run_cli("lint", str(tmp_path / "a.sql"))
    assert result.exit_code == 0
    assert "warning[prefer-timestamptz]" in result.stdout


def test_fail_on_warning_exits_1_on_warnings(tmp_path: Path) -> None:
    (tmp_path / "a.sql").write_text(WARNING_ONLY)
    assert run_cli("lint", "--fail-on", "warning", str(tmp_path / "a.sql")).exit_code == 1


def test_fail_on_from_config_file(tmp_path: Path) -> None:
    (tmp_path / "a.sql").write_text(WARNING_ONLY)
    (tmp_path / ".safemigrate.toml").write_text('[lint]\nfail-on = "warning"\n')
    assert run_cli("lint", "a.sql", cwd=tmp_path).exit_code == 1
    assert run_cli("lint", "a.sql", "--fail-on", "error", cwd=tmp_path).exit_code == 0


def test_config_ignore_from_pyproject(tmp_path: Path) -> None:
    (tmp_path / "a.sql").write_text(UNSAFE)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.safemigrate.lint]\nignore = ["add-not-null-column-without-default"]\n')
    result = run_cli("lint", "a.sql", "--format", "json", cwd=tmp_path)
    assert result.exit_code == 0
    assert "add-not-null-column-without-default" not in {f["rule_id"] for f in result.json()["findings"]}


def test_explicit_config_option(tmp_path: Path) -> None:
    (tmp_path / "a.sql").write_text(UNSAFE)
    config = tmp_path / "lint.toml"
    config.write_text('[lint]\nignore = ["add-not-null-column-without-default"]\n')
    assert run_cli("lint", str(tmp_path / "a.sql"), "--config", str(config)).exit_code == 0


def test_missing_config_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "a.sql").write_text("SELECT 1;")
    result = run_cli("lint", str(tmp_path / "a.sql"), "--config", str(tmp_path / "nope.toml"))
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("lint", str(tmp_path / "nope"))
    assert result.exit_code == 2
    assert "does not exist" in result.stderr and "Traceback" not in result.output


def test_bad_option_value_is_a_usage_error(tmp_path: Path) -> None:
    assert run_cli("lint", "--format", "xml", str(tmp_path)).exit_code == 2
    assert run_cli("lint", "--pg-version", "5", str(tmp_path)).exit_code == 2


@pytest.mark.parametrize("args", [("--format", "json"), ("--json",)])
def test_json_output(migrations: Path, args: tuple[str, ...]) -> None:
    result = run_cli("lint", str(migrations), *args)
    doc = json.loads(result.stdout)
    assert result.exit_code == 1 and doc["ok"] is False
    assert doc["files"] == 2 and doc["summary"]["error"] == 1


def test_json_before_the_command_also_works(migrations: Path) -> None:
    result = run_cli("--json", "lint", str(migrations))
    assert json.loads(result.stdout)["dialect"] == "postgres"


def test_sarif_output_is_one_json_document(migrations: Path) -> None:
    result = run_cli("lint", str(migrations), "--format", "sarif")
    doc = json.loads(result.stdout)
    assert doc["version"] == "2.1.0"
    assert {r["ruleId"] for r in doc["runs"][0]["results"]} >= {"add-not-null-column-without-default"}
    assert result.exit_code == 1


def test_github_output(migrations: Path) -> None:
    result = run_cli("lint", str(migrations), "--format", "github")
    assert any(line.startswith("::error file=") and "line=1,col=30" in line
               for line in result.stdout.splitlines())


def test_pg_version_changes_what_is_flagged(tmp_path: Path) -> None:
    (tmp_path / "a.sql").write_text("ALTER TABLE o ADD COLUMN s text DEFAULT 'new';\n")
    args = ("lint", str(tmp_path / "a.sql"), "--format", "json")
    modern = {f["rule_id"] for f in run_cli(*args).json()["findings"]}
    old = {f["rule_id"] for f in run_cli(*args, "--pg-version", "10").json()["findings"]}
    assert "add-column-volatile-default" not in modern
    assert "add-column-volatile-default" in old


def test_dialect_comes_from_the_database_url(tmp_path: Path) -> None:
    (tmp_path / "a.sql").write_text("CREATE INDEX i ON t (a);\n")
    sqlite = run_cli("-database", f"sqlite3://{tmp_path / 'x.db'}", "lint", str(tmp_path / "a.sql"),
                     "--format", "json")
    assert sqlite.json()["dialect"] == "sqlite"
    assert sqlite.json()["findings"] == []
    postgres = run_cli("lint", str(tmp_path / "a.sql"), "--format", "json")
    assert "create-index-not-concurrently" in {f["rule_id"] for f in postgres.json()["findings"]}


def test_dialect_comes_from_database_url_env(tmp_path: Path) -> None:
    import os

    (tmp_path / "a.sql").write_text("SELECT 1;\n")
    env = dict(os.environ, DATABASE_URL="mysql://root:Canary-Pa55w0rd-7f3a@127.0.0.1/db")
    result = run_cli("lint", str(tmp_path / "a.sql"), "--format", "json", env=env)
    assert result.json()["dialect"] == "mysql"


def test_dialect_option_wins_over_the_url(tmp_path: Path) -> None:
    (tmp_path / "a.sql").write_text("SELECT 1;\n")
    result = run_cli("-database", "mysql://h/db", "lint", "--dialect", "sqlite", str(tmp_path / "a.sql"),
                     "--format", "json")
    assert result.json()["dialect"] == "sqlite"


def test_unknown_url_scheme_asks_for_dialect(tmp_path: Path) -> None:
    (tmp_path / "a.sql").write_text("SELECT 1;\n")
    result = run_cli("-database", "oracle://h/db", "lint", str(tmp_path / "a.sql"))
    assert result.exit_code == 2
    assert "--dialect" in result.stderr


def test_source_warnings_go_to_stderr(tmp_path: Path) -> None:
    (tmp_path / "000001_a.UP.sql").write_text("SELECT 1;")
    result = run_cli("lint", str(tmp_path))
    assert result.exit_code == 0
    assert "warning:" in result.stderr and "ignored" in result.stderr
    assert result.stdout.strip() == "no findings in 0 files"


def test_help_lists_the_options() -> None:
    result = run_cli("lint", "--help")
    assert result.exit_code == 0
    for option in ("--format", "--fail-on", "--pg-version", "--dialect", "--config", "-database"):
        assert option in result.stdout
    assert "[text|json|sarif|github]" in result.stdout


def test_lint_runs_as_a_real_process(migrations: Path) -> None:
    result = run_cli_process("lint", str(migrations), "--format", "github")
    assert result.exit_code == 1
    assert "::error file=" in result.stdout
