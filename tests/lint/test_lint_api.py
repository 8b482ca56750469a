"""The library API the engine calls: lint_migrations on pending files, lint_paths, and agreement with the runner."""

from __future__ import annotations

from pathlib import Path

import pytest

from safemigrate.errors import UsageError
from safemigrate.lint import LintConfig, Severity, lint_migrations, lint_paths, lint_text
from safemigrate.source import load_source
from safemigrate.sql import split_sql


def _folder(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "migrations"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def test_lint_migrations_pairs_up_and_down_files_by_version(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {
        "000001_a.up.sql": "CREATE TABLE a (id bigint);\n",
        "000001_a.down.sql": "SELECT 1;\n",
        "000002_b.up.sql": "CREATE TABLE b (id bigint);\n",
        "000002_b.down.sql": "DROP TABLE b;\n",
    })
    source = load_source(folder)
    files = [f for m in source.migrations.values() for f in (m.up, m.down) if f]
    report = lint_migrations(files, dialect="postgres")
    undo = [f for f in report.findings if f.rule_id == "down-does-not-undo"]
    assert [f.path.rsplit("/", 1)[-1] for f in undo] == ["000001_a.down.sql"]
    assert "table a created by 000001_a.up.sql (line 1)" in undo[0].message


def test_pending_up_file_is_paired_with_its_down_file_on_disk(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {
        "000001_a.up.sql": "CREATE TABLE a (id bigint);\n",
        "000001_a.down.sql": "DROP TABLE a;\n",
        "000002_b.up.sql": "CREATE TABLE b (id bigint);\n",
    })
    source = load_source(folder)
    pending = [source.migrations[1].up, source.migrations[2].up]
    report = lint_migrations([f for f in pending if f], dialect="postgres")
    missing = [f.path.rsplit("/", 1)[-1] for f in report.findings if f.rule_id == "missing-down-file"]
    assert missing == ["000002_b.up.sql"]
    assert len(report.files) == 2


def test_down_file_alone_is_compared_with_its_up_file_on_disk(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {
        "000001_a.up.sql": "ALTER TABLE users ADD COLUMN note text;\n",
        "000001_a.down.sql": "SELECT 1;\n",
    })
    report = lint_paths([folder / "000001_a.down.sql"])
    assert [f.rule_id for f in report.findings] == ["down-does-not-undo"]
    assert report.findings[0].related[0].path.endswith("000001_a.up.sql")


def test_lint_paths_reads_plain_sql_files_without_pairing(tmp_path: Path) -> None:
    plain = tmp_path / "adhoc.sql"
    plain.write_text("ALTER TABLE u ADD COLUMN a text;")
    report = lint_paths([plain])
    assert "missing-down-file" not in report.rule_ids()
    assert report.files == [plain.as_posix()]


def test_lint_paths_reports_source_warnings_as_notes(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"000001_a.UP.sql": "SELECT 1;"})
    report = lint_paths([folder])
    assert any("ignored" in note for note in report.notes)
    assert report.files == []


def test_lint_paths_refuses_a_missing_path(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        lint_paths([tmp_path / "nope"])


def test_lint_paths_reads_each_file_once(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"000001_a.up.sql": "DROP TABLE t;"})
    report = lint_paths([folder, folder / "000001_a.up.sql"])
    assert len(report.files) == 1
    assert [f.rule_id for f in report.findings].count("drop-table") == 1


def test_paths_inside_the_current_folder_are_shown_relative(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _folder(tmp_path, {"000001_a.up.sql": "DROP TABLE t;"})
    monkeypatch.chdir(tmp_path)
    report = lint_paths([folder.resolve()])
    assert report.findings[0].path == "migrations/000001_a.up.sql"


def test_config_pg_version_applies_unless_overridden() -> None:
    text = "ALTER TABLE o ADD COLUMN s text DEFAULT 'x';"
    config = LintConfig(pg_version=10)
    assert "add-column-volatile-default" in lint_text(text, config=config).rule_ids()
    assert "add-column-volatile-default" not in lint_text(text, config=config, pg_version=16).rule_ids()


def test_report_fails_only_at_or_above_the_threshold() -> None:
    report = lint_text("ALTER TABLE u ADD COLUMN a text;")
    assert not report.fails()
    assert report.fails(Severity.WARNING)


@pytest.mark.parametrize(("dialect", "version"), [("oracle", None), ("postgres", 7), ("postgres", 100)])
def test_bad_options_are_usage_errors(dialect: str, version: int | None) -> None:
    with pytest.raises(UsageError):
        lint_text("SELECT 1;", dialect=dialect, pg_version=version)


@pytest.mark.parametrize("text", [
    "ALTER TABLE t ADD COLUMN a int;",
    "CREATE INDEX CONCURRENTLY i ON t (a);\nALTER TABLE t ADD COLUMN a int;",
    "BEGIN;\nALTER TABLE t ADD COLUMN a int;\nCOMMIT;",
    "-- safemigrate:no-transaction\nALTER TABLE t ADD COLUMN a int;",
    "VACUUM t;",
    "REINDEX INDEX CONCURRENTLY i;",
    "ALTER TABLE p DETACH PARTITION c CONCURRENTLY;",
    "DROP INDEX CONCURRENTLY i;\nSELECT 1;",
    "CREATE DATABASE x;",
    "ANALYZE t;",
    "CLUSTER;",
    "CLUSTER t USING i;",
])
def test_linter_and_runner_agree_on_whether_a_file_runs_in_one_transaction(text: str) -> None:
    from safemigrate.lint.engine import Linter, SourceFile

    runner_wraps = not split_sql(text, "postgres").needs_statement_mode
    analysis = Linter("postgres").analyze(SourceFile("x.sql", text))
    assert analysis.ctx.wrapped == runner_wraps


@pytest.mark.parametrize("dialect", ["sqlite", "mysql"])
def test_linter_and_runner_agree_for_other_dialects(dialect: str) -> None:
    from safemigrate.lint.engine import Linter, SourceFile

    for text in ("INSERT INTO t VALUES (1);", "BEGIN;\nINSERT INTO t VALUES (1);\nCOMMIT;",
                 "-- safemigrate:no-transaction\nINSERT INTO t VALUES (1);"):
        runner_wraps = not split_sql(text, dialect).needs_statement_mode
        assert Linter(dialect).analyze(SourceFile("x.sql", text)).ctx.wrapped == runner_wraps


def test_lint_package_import_does_not_load_pglast() -> None:
    import subprocess
    import sys

    code = ("import sys, safemigrate.lint as l; "
            "l.lint_text('DROP TABLE t;', dialect='sqlite'); "
            "print('pglast' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_folder_files_that_are_not_sql_are_skipped_with_a_note(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"000001_a.up.json": "{}", "000002_b.up.sql": "DROP TABLE t;"})
    report = lint_paths([folder])
    assert report.files == [(folder / "000002_b.up.sql").as_posix()]
    assert any("without the .sql extension" in note for note in report.notes)


def test_linting_makes_no_reference_cycles_so_the_paused_collector_leaves_nothing_behind() -> None:
    """lint_sources pauses the cyclic collector while it lints: safe only while linting makes no
    cycles (every object is freed by reference counting), here on the safe and unsafe fixtures."""
    import gc

    fixtures = Path(__file__).parent / "fixtures"
    lint_paths([fixtures / "safe", fixtures / "unsafe"], jobs=1)  # caches and lazy imports filled first
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        report = lint_paths([fixtures / "safe", fixtures / "unsafe"], jobs=1)
        assert report.findings
        del report
        assert gc.collect() == 0
    finally:
        if enabled:
            gc.enable()
