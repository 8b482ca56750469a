"""A statement that does not parse is reported at its position, and the rest of the file is still linted."""

from __future__ import annotations

from lint_support import lines_of, lint

from safemigrate.lint.pgparse import parse_postgres
from safemigrate.lint.source import SourceText


def test_syntax_error_is_reported_with_line_and_column() -> None:
    report = lint("SELECT 1;\nALTER TABLE users ADD COLUM note text;\n")
    finding = next(f for f in report.findings if f.rule_id == "syntax-error")
    # COLUM is read as the column name and note as its type, so "text" is where it breaks.
    assert (finding.line, finding.column) == (2, 34)
    assert 'syntax error at or near "text"' in finding.message


def test_statements_after_a_syntax_error_are_still_linted() -> None:
    report = lint("""
        ALTER TABLE users ADD COLUM note text;
        DROP TABLE audit_log;
        CREATE INDEX i ON orders (a);
        """)
    assert lines_of(report, "syntax-error") == [1]
    assert lines_of(report, "drop-table") == [2]
    assert lines_of(report, "create-index-not-concurrently") == [3]


def test_statements_before_a_syntax_error_are_still_linted() -> None:
    report = lint("DROP TABLE a;\nSELEC 1;\nDROP TABLE b;")
    assert lines_of(report, "drop-table") == [1, 3]
    assert lines_of(report, "syntax-error") == [2]


def test_each_broken_statement_gets_its_own_error() -> None:
    report = lint("SELEC 1;\nSELECT 2;\nCREAT TABLE t (a int);\nDROP TABLE x;")
    assert lines_of(report, "syntax-error") == [1, 3]
    assert lines_of(report, "drop-table") == [4]


def test_statement_starting_with_an_unknown_word_is_not_lost() -> None:
    # pglast's own scanner-based split drops such statements; ours keeps them.
    report = lint("foo bar;\nDROP TABLE t;")
    assert lines_of(report, "syntax-error") == [1]
    assert lines_of(report, "drop-table") == [2]


def test_unterminated_string_stops_the_scan_but_earlier_statements_count() -> None:
    report = lint("DROP TABLE a;\nSELECT 'oops;\nDROP TABLE b;")
    assert lines_of(report, "drop-table") == [1]
    finding = next(f for f in report.findings if f.rule_id == "syntax-error")
    assert (finding.line, "unterminated quoted string" in finding.message) == (2, True)


def test_semicolons_inside_begin_atomic_do_not_split_during_recovery() -> None:
    text = ("SELEC 1;\n"
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql\n"
            "BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; SELECT 2; END;\n"
            "DROP TABLE t;")
    parsed = parse_postgres(SourceText(text))
    assert [s.kind for s in parsed.statements] == ["CreateFunctionStmt", "DropStmt"]
    assert [p.offset for p in parsed.problems] == [0]


def test_positions_after_recovery_count_characters() -> None:
    report = lint("SELECT 'ä';\nSELEC 1;\nALTER TABLE \"ö\" ADD COLUMN at timestamp;")
    finding = next(f for f in report.findings if f.rule_id == "prefer-timestamptz")
    assert (finding.line, finding.column) == (3, 31)


def test_file_of_only_comments_has_no_statements_and_no_errors() -> None:
    report = lint("-- nothing yet\n/* still nothing */\n")
    assert report.findings == []
