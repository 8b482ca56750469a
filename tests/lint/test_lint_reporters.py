"""Reporters only format: text with caret, JSON, SARIF 2.1.0 (schema-validated), GitHub annotations."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from lint_support import lint, pair

from safemigrate.lint import LintReport, Severity, all_rules, render

SCHEMA = json.loads((Path(__file__).parent / "fixtures" / "sarif-schema-2.1.0.json").read_text("utf-8"))

UNSAFE = """\
-- orders
ALTER TABLE orders
  ADD COLUMN public_id uuid DEFAULT gen_random_uuid();
DROP TABLE audit_log;  -- safemigrate:ignore drop-column
CREATE INDEX idx_orders_customer ON orders (customer_id);
"""


def _report() -> LintReport:
    return lint(UNSAFE)


def _validate_sarif(text: str) -> dict[str, object]:
    doc = json.loads(text)
    validator = jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])
    return doc


def test_text_shows_position_rule_source_line_and_caret() -> None:
    text = render(_report(), "text")
    lines = text.splitlines()
    head = next(i for i, line in enumerate(lines) if "[add-column-volatile-default]" in line)
    assert lines[head].startswith("<sql>:3:14: error[add-column-volatile-default] ")
    assert lines[head + 1] == "    3 |   ADD COLUMN public_id uuid DEFAULT gen_random_uuid();"
    assert lines[head + 2] == "      |              ^^^^^^^^^"
    assert lines[head + 3].startswith("      = help: Add the column without a default")


def test_text_ends_with_a_summary() -> None:
    report = _report()
    counts = report.counts()
    assert render(report, "text").splitlines()[-1] == (
        f"{counts['error']} errors, {counts['warning']} warnings, {counts['info']} info in 1 file")
    assert render(lint("SELECT 1;"), "text").splitlines()[-1] == "no findings in 1 file"


def test_text_caret_keeps_tabs_aligned() -> None:
    report = lint("ALTER TABLE t\n\tADD COLUMN x int NOT NULL;")
    text = render(report, "text")
    assert "      | \t           ^" in text


def test_json_holds_every_finding_and_the_verdict() -> None:
    report = _report()
    doc = json.loads(render(report, "json"))
    assert doc["ok"] is False
    assert doc["summary"] == report.counts()
    assert [(f["rule_id"], f["line"]) for f in doc["findings"]] == [(f.rule_id, f.line) for f in report.findings]
    first = next(f for f in doc["findings"] if f["rule_id"] == "drop-table")
    assert first["statement"] == "DROP TABLE audit_log"
    assert first["severity"] == "error" and first["column"] == 1


def test_json_ok_follows_fail_on() -> None:
    report = lint("ALTER TABLE users ADD COLUMN a text;")  # warnings only
    assert json.loads(render(report, "json"))["ok"] is True
    assert json.loads(render(report, "json", fail_on=Severity.WARNING))["ok"] is False


def test_sarif_validates_against_the_official_schema() -> None:
    doc = _validate_sarif(render(_report(), "sarif"))
    run = doc["runs"][0]  # type: ignore[index]
    assert run["tool"]["driver"]["name"] == "safemigrate"
    assert len(run["tool"]["driver"]["rules"]) == len(all_rules())


def test_sarif_results_point_at_rules_and_regions() -> None:
    report = _report()
    doc = _validate_sarif(render(report, "sarif"))
    run = doc["runs"][0]  # type: ignore[index]
    rules = run["tool"]["driver"]["rules"]
    for result, finding in zip(run["results"], report.findings, strict=True):
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"] == finding.rule_id
        region = result["locations"][0]["physicalLocation"]["region"]
        assert (region["startLine"], region["startColumn"]) == (finding.line, finding.column)
        assert result["level"] == {"error": "error", "warning": "warning", "info": "note"}[finding.severity.value]


def test_sarif_with_related_locations_and_no_findings_validates() -> None:
    related = pair("CREATE TABLE notes (id bigint);", "SELECT 1;")
    doc = _validate_sarif(render(related, "sarif"))
    results = doc["runs"][0]["results"]  # type: ignore[index]
    undo = next(r for r in results if r["ruleId"] == "down-does-not-undo")
    assert undo["relatedLocations"][0]["physicalLocation"]["region"]["startLine"] == 1
    _validate_sarif(render(lint("SELECT 1;"), "sarif"))


def test_sarif_uses_absolute_file_uris_for_absolute_paths(tmp_path: Path) -> None:
    from safemigrate.lint import lint_paths

    target = tmp_path / "x.sql"
    target.write_text("DROP TABLE t;")
    doc = _validate_sarif(render(lint_paths([target]), "sarif"))
    uri = doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]  # type: ignore[index]
    assert uri == target.as_uri()


def test_github_annotations_carry_level_file_line_and_title() -> None:
    lines = render(_report(), "github").splitlines()
    assert "::error file=<sql>,line=4,col=1,endLine=4,endColumn=5,title=safemigrate drop-table::" \
        "DROP TABLE audit_log deletes the table and every row in it%0A" in "\n".join(lines)
    assert all(line.startswith(("::error ", "::warning ", "::notice ")) for line in lines)


@pytest.mark.parametrize(("raw", "escaped"), [("100%", "100%25"), ("a\nb", "a%0Ab"), ("a\rb", "a%0Db")])
def test_github_escapes_message_data(raw: str, escaped: str) -> None:
    from safemigrate.lint.reporters import _escape_data

    assert _escape_data(raw) == escaped


def test_github_escapes_commas_and_colons_in_file_names() -> None:
    from safemigrate.lint.reporters import _escape_property

    assert _escape_property("db/a,b:c.sql") == "db/a%2Cb%3Ac.sql"


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown lint output format"):
        render(_report(), "xml")


def test_text_gives_each_rule_s_help_once() -> None:
    report = lint("DROP TABLE a;\nDROP TABLE b;\nDROP TABLE c;")
    text = render(report, "text")
    assert len([f for f in report.findings if f.rule_id == "drop-table"]) == 3
    assert text.count("= help: Stop using the table") == 1
