"""psql-only syntax in lint: an error-level finding at each meta-command and COPY FROM STDIN,
and the statements around them are linted as if the psql parts were not there."""

from __future__ import annotations

from lint_support import lint

PSQL_FILE = """\
\\set ON_ERROR_STOP on
ALTER TABLE users DROP COLUMN email;
COPY plans (id, name) FROM stdin;
1\tit's free\t\\N
\\.
DROP TABLE audit_log;
"""


def test_psql_syntax_is_an_error_and_the_rest_of_the_file_is_linted() -> None:
    report = lint(PSQL_FILE)
    found = [(f.rule_id, f.line, f.column) for f in report.findings]
    assert ("psql-syntax", 1, 1) in found and ("psql-syntax", 3, 1) in found
    assert all(f.severity.value == "error" for f in report.findings if f.rule_id == "psql-syntax")
    # The statements beside the psql parts are read: no syntax error, their own findings.
    assert "syntax-error" not in {f.rule_id for f in report.findings}, found
    assert ("drop-column", 2) in [(f.rule_id, f.line) for f in report.findings]
    assert ("drop-table", 6) in [(f.rule_id, f.line) for f in report.findings]
    messages = [f.message for f in report.findings if f.rule_id == "psql-syntax"]
    assert messages[0].startswith("the file uses psql syntax that a migration tool cannot run: \\set")
    assert "COPY ... FROM STDIN" in messages[1]


def test_psql_syntax_is_postgres_only() -> None:
    from safemigrate.lint import get_rule

    assert get_rule("psql-syntax").dialects == ("postgres",)
