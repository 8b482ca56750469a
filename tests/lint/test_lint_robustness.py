"""Any input, however broken, gives findings with valid positions and never an internal error."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safemigrate.lint import lint_text

FRAGMENTS = [
    "ALTER TABLE", "users", "ADD COLUMN", "DROP COLUMN", "a", "int", "NOT NULL", "DEFAULT", "now()",
    "CREATE", "INDEX", "CONCURRENTLY", "ON", "(", ")", ",", ";", "BEGIN", "COMMIT", "'", '"', "$$",
    "--", "/*", "*/", "\n", " ", "\t", "\r\n", "ü", "𝔘", "TABLE", "DROP", "TRUNCATE", "UPDATE", "SET",
    "WHERE", "DELETE FROM", "-- safemigrate:ignore drop-table", "-- safemigrate:ignore-file x",
    "`", "[", "]", "#", "DELIMITER //", "//", "SET lock_timeout = '1s'", "VACUUM", "RENAME", "TO",
]

sql_text = st.lists(st.sampled_from(FRAGMENTS), max_size=40).map(" ".join) | st.text(max_size=200)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=sql_text, dialect=st.sampled_from(["postgres", "sqlite", "mysql"]))
def test_findings_always_point_inside_the_file(text: str, dialect: str) -> None:
    report = lint_text(text, dialect=dialect)
    lines = text.split("\n")
    for finding in report.findings:
        assert 1 <= finding.line <= max(1, len(lines))
        assert finding.column >= 1
        assert finding.end_column is None or finding.end_column > finding.column


@settings(max_examples=60, deadline=None)
@given(up=sql_text, down=st.none() | sql_text, dialect=st.sampled_from(["postgres", "sqlite", "mysql"]))
def test_paired_files_never_break(up: str, down: str | None, dialect: str) -> None:
    report = lint_text(up, dialect=dialect, direction="up", paired=True, partner_text=down)
    assert all(f.rule_id for f in report.findings)


def test_crlf_files_report_the_right_columns() -> None:
    report = lint_text("SELECT 1;\r\nALTER TABLE t ADD COLUMN a timestamp;\r\n")
    finding = next(f for f in report.findings if f.rule_id == "prefer-timestamptz")
    assert (finding.line, finding.column, finding.source_line) == (
        2, 28, "ALTER TABLE t ADD COLUMN a timestamp;")


def test_empty_and_blank_files_have_no_findings() -> None:
    for text in ("", "\n\n", "   ", ";", "-- only a comment"):
        for dialect in ("postgres", "sqlite", "mysql"):
            assert lint_text(text, dialect=dialect).findings == [], (text, dialect)
