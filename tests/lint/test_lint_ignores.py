"""Acknowledging findings: ignore comments, ignore-file, the config list, and ignores that match nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from lint_support import lines_of, lint

from safemigrate.errors import UsageError
from safemigrate.lint import LintConfig, lint_paths, load_config


def test_trailing_comment_acknowledges_its_statement() -> None:
    report = lint("DROP TABLE a;  -- safemigrate:ignore drop-table -- archived in OPS-1\nDROP TABLE b;")
    assert lines_of(report, "drop-table") == [2]
    assert lines_of(report, "unused-ignore") == []


def test_comment_on_the_line_above_acknowledges_the_next_statement() -> None:
    report = lint("""
        -- safemigrate:ignore drop-table -- archived in OPS-1
        DROP TABLE a;
        DROP TABLE b;
        """)
    assert lines_of(report, "drop-table") == [3]


def test_comment_above_skips_blank_and_comment_lines() -> None:
    report = lint("""
        -- safemigrate:ignore drop-table -- archived

        -- the audit log moved to S3
        DROP TABLE a;
        """)
    assert lines_of(report, "drop-table") == []
    assert lines_of(report, "unused-ignore") == []


def test_trailing_comment_does_not_leak_to_the_next_statement() -> None:
    report = lint("ALTER TABLE a DROP COLUMN b; -- safemigrate:ignore drop-column\nALTER TABLE c DROP COLUMN d;")
    assert lines_of(report, "drop-column") == [2]


def test_comment_inside_a_multi_line_statement_acknowledges_it() -> None:
    report = lint("""
        CREATE TABLE t (
            id serial PRIMARY KEY,  -- safemigrate:ignore prefer-identity, prefer-bigint-key -- legacy ORM
            at timestamp
        );
        """)
    assert report.rule_ids() & {"prefer-identity", "prefer-bigint-key"} == set()
    assert lines_of(report, "prefer-timestamptz") == [3]


def test_several_rule_ids_separated_by_commas_or_blanks() -> None:
    report = lint("TRUNCATE a CASCADE; -- safemigrate:ignore truncate lock-timeout-missing, statement-timeout-missing")
    assert report.findings == []


def test_ignore_file_acknowledges_a_rule_everywhere_in_the_file() -> None:
    report = lint("""
        DROP TABLE a;
        DROP TABLE b;
        -- safemigrate:ignore-file drop-table -- the whole schema is retired
        """)
    assert lines_of(report, "drop-table") == []


def test_ignore_for_a_rule_that_did_not_fire_is_reported() -> None:
    report = lint("-- safemigrate:ignore drop-table -- old reason\nALTER TABLE u DROP COLUMN a;")
    assert lines_of(report, "unused-ignore") == [1]
    finding = next(f for f in report.findings if f.rule_id == "unused-ignore")
    assert finding.column == 1 and "drop-table matches no finding" in finding.message
    assert lines_of(report, "drop-column") == [2]


def test_misspelled_rule_id_is_reported_as_unknown() -> None:
    report = lint("DROP TABLE a; -- safemigrate:ignore drop-tabel")
    message = next(f.message for f in report.findings if f.rule_id == "unused-ignore")
    assert "unknown rule 'drop-tabel'" in message
    assert lines_of(report, "drop-table") == [1]


def test_ignore_file_that_matches_nothing_is_reported() -> None:
    report = lint("SELECT 1;\n-- safemigrate:ignore-file truncate")
    assert lines_of(report, "unused-ignore") == [2]


def test_ignore_without_rule_ids_is_reported() -> None:
    report = lint("DROP TABLE a; -- safemigrate:ignore")
    assert "names no rule id" in next(f.message for f in report.findings if f.rule_id == "unused-ignore")
    assert lines_of(report, "drop-table") == [1]


def test_ignore_of_a_rule_for_another_database_is_reported() -> None:
    report = lint("SELECT 1; -- safemigrate:ignore prefer-identity", dialect="sqlite")
    assert "does not run on sqlite" in next(f.message for f in report.findings if f.rule_id == "unused-ignore")


def test_config_ignore_disables_a_rule() -> None:
    config = LintConfig(ignore=frozenset({"lock-timeout-missing"}))
    report = lint("ALTER TABLE u ADD COLUMN a text;", config=config)
    assert "lock-timeout-missing" not in report.rule_ids()
    assert "statement-timeout-missing" in report.rule_ids()


def test_config_ignored_rule_in_a_comment_is_not_reported_as_unused() -> None:
    config = LintConfig(ignore=frozenset({"drop-table"}))
    report = lint("DROP TABLE a; -- safemigrate:ignore drop-table", config=config)
    assert report.rule_ids() & {"drop-table", "unused-ignore"} == set()


def test_per_file_ignores_match_globs(tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "000001_old.up.sql").write_text("DROP TABLE a;\n")
    (folder / "000002_new.up.sql").write_text("DROP TABLE b;\n")
    config = LintConfig(per_file_ignores=(("000001_*", frozenset({"drop-table"})),))
    report = lint_paths([folder], config=config)
    assert [f.path.rsplit("/", 1)[-1] for f in report.findings if f.rule_id == "drop-table"] == ["000002_new.up.sql"]


def test_config_with_unknown_rule_id_adds_a_note(tmp_path: Path) -> None:
    (tmp_path / "a.sql").write_text("SELECT 1;")
    report = lint_paths([tmp_path / "a.sql"], config=LintConfig(ignore=frozenset({"no-such-rule"})))
    assert any("unknown rule 'no-such-rule'" in note for note in report.notes)


def test_config_is_read_from_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.safemigrate.lint]\nignore = ["drop-table"]\n'
        'fail-on = "warning"\npg-version = 12\n\n[tool.safemigrate.lint.per-file-ignores]\n'
        '"legacy/*" = ["truncate"]\n')
    nested = tmp_path / "db" / "migrations"
    nested.mkdir(parents=True)
    config = load_config(start=nested)
    assert config.ignore == {"drop-table"}
    assert config.fail_on is not None and config.fail_on.value == "warning"
    assert config.pg_version == 12
    assert config.ignored_for("legacy/001.up.sql") == {"drop-table", "truncate"}


def test_dotfile_config_wins_over_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.safemigrate.lint]\nignore = ["drop-table"]\n')
    (tmp_path / ".safemigrate.toml").write_text('[lint]\nignore = ["truncate"]\n')
    assert load_config(start=tmp_path).ignore == {"truncate"}


def test_pyproject_without_a_lint_table_is_not_a_config(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.safemigrate]\nother = 1\n')
    assert load_config(start=tmp_path) == LintConfig()


@pytest.mark.parametrize(("body", "message"), [
    ('[lint]\nignore = "drop-table"\n', "must be a list"),
    ('[lint]\nfail-on = "info"\n', "fail-on must be"),
    ('[lint]\npg-version = "16"\n', "pg-version must be"),
    ('[lint]\nignor = ["x"]\n', "unknown lint setting 'ignor'"),
    ("[lint\n", "not valid TOML"),
])
def test_bad_config_is_a_usage_error(tmp_path: Path, body: str, message: str) -> None:
    (tmp_path / ".safemigrate.toml").write_text(body)
    with pytest.raises(UsageError, match=message):
        load_config(start=tmp_path)
