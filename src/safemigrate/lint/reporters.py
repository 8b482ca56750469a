"""Formatting a :class:`LintReport`: text with the source line and a caret, JSON, SARIF 2.1.0, GitHub annotations.

Reporters only format; they neither read files nor decide exit codes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from .._version import __version__
from .model import Finding, LintReport, Severity
from .registry import Rule

__all__ = ["FORMATS", "render", "render_github", "render_json", "render_sarif", "render_text"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
_GITHUB_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _caret_line(finding: Finding) -> str:
    source = finding.source_line or ""
    # Keep tabs so the caret lines up under the same characters in a terminal.
    head = source[: finding.column - 1]
    prefix = "".join("\t" if ch == "\t" else " " for ch in head) if "\t" in head else " " * len(head)
    width = max(1, (finding.end_column or finding.column + 1) - finding.column)
    return prefix + "^" * width


def render_text(report: LintReport, rules: Mapping[str, Rule] | None = None,
                color: bool = False) -> str:
    """``path:line:col: severity[rule] message``, the source line, a caret, and how to fix it.

    How to fix a rule's findings is said at its first finding only: a folder with
    hundreds of the same finding should not repeat the same advice hundreds of times.
    """
    lines: list[str] = []
    helped: set[str] = set()
    paint: Callable[[str, str], str] = (lambda code, s: f"\x1b[{code}m{s}\x1b[0m") if color else (lambda _c, s: s)
    codes = {Severity.ERROR: "31", Severity.WARNING: "33", Severity.INFO: "36"}
    for f in report.findings:
        head = f"{f.path}:{f.line}:{f.column}: {paint(codes[f.severity], f.severity.value)}[{f.rule_id}] {f.message}"
        lines.append(head)
        if f.source_line is not None and f.source_line.strip():
            gutter = f"{f.line:>5} | "
            lines.append(gutter + f.source_line)
            lines.append(" " * (len(gutter) - 2) + "| " + paint(codes[f.severity], _caret_line(f)))
        for related in f.related:
            lines.append(f"      = note: {related.path}:{related.line}: {related.message or ''}".rstrip())
        if f.help and f.rule_id not in helped:
            helped.add(f.rule_id)
            lines.append(f"      = help: {f.help}")
        lines.append("")
    counts = report.counts()
    summary = (f"{_plural(counts['error'], 'error')}, {_plural(counts['warning'], 'warning')}, "
               f"{counts['info']} info in {_plural(len(report.files), 'file')}")
    if not report.findings:
        summary = f"no findings in {_plural(len(report.files), 'file')}"
    lines.append(summary)
    return "\n".join(lines)


def render_json(report: LintReport, rules: Mapping[str, Rule] | None = None,
                fail_on: Severity = Severity.ERROR) -> str:
    return json.dumps(report.to_dict(fail_on), indent=2)


def _sarif_uri(path: str) -> str:
    if path.startswith("/"):
        return "file://" + path
    return path.replace("\\", "/")


def _sarif_rule(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": "".join(part.capitalize() for part in rule.id.split("-")),
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": " ".join(rule.rationale.split())},
        "help": {"text": " ".join(rule.alternative.split()), "markdown": rule.alternative.strip()},
        "defaultConfiguration": {"level": _SARIF_LEVEL[rule.severity]},
        "properties": {"tags": [rule.family, *rule.dialects]},
    }


def _sarif_result(f: Finding, index: int) -> dict[str, Any]:
    region: dict[str, Any] = {"startLine": f.line, "startColumn": f.column}
    if f.end_line is not None:
        region["endLine"] = f.end_line
    if f.end_column is not None:
        region["endColumn"] = f.end_column
    if f.source_line is not None:
        region["snippet"] = {"text": f.source_line}
    result: dict[str, Any] = {
        "ruleId": f.rule_id,
        "level": _SARIF_LEVEL[f.severity],
        "message": {"text": f.message},
        "locations": [{"physicalLocation": {
            "artifactLocation": {"uri": _sarif_uri(f.path)},
            "region": region,
        }}],
        # Stable across runs as long as the finding stays the same (code scanning matches on it).
        "partialFingerprints": {"safemigrate/v1": f"{f.rule_id}:{f.path}:{(f.source_line or '').strip()}"},
    }
    if index >= 0:
        result["ruleIndex"] = index
    if f.related:
        result["relatedLocations"] = [
            {"id": i, "message": {"text": r.message or ""},
             "physicalLocation": {"artifactLocation": {"uri": _sarif_uri(r.path)},
                                  "region": {"startLine": r.line}}}
            for i, r in enumerate(f.related)
        ]
    return result


def render_sarif(report: LintReport, rules: Mapping[str, Rule] | None = None) -> str:
    """SARIF 2.1.0, as GitHub code scanning and other tools read it."""
    if rules is None:
        from .registry import all_rules

        rules = all_rules()
    ordered = sorted(rules.values(), key=lambda r: r.id)
    index = {r.id: i for i, r in enumerate(ordered)}
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "safemigrate",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": [_sarif_rule(r) for r in ordered],
            }},
            "columnKind": "unicodeCodePoints",
            "results": [_sarif_result(f, index.get(f.rule_id, -1)) for f in report.findings],
        }],
    }
    return json.dumps(doc, indent=2)


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def render_github(report: LintReport, rules: Mapping[str, Rule] | None = None) -> str:
    """GitHub Actions workflow commands: one ``::error file=...,line=...::message`` per finding."""
    lines = []
    for f in report.findings:
        props = [f"file={_escape_property(f.path)}", f"line={f.line}", f"col={f.column}"]
        if f.end_line is not None:
            props.append(f"endLine={f.end_line}")
        if f.end_column is not None and f.end_line == f.line:
            props.append(f"endColumn={f.end_column}")
        props.append(f"title={_escape_property('safemigrate ' + f.rule_id)}")
        message = f.message + (f"\n{f.help}" if f.help else "")
        lines.append(f"::{_GITHUB_LEVEL[f.severity]} {','.join(props)}::{_escape_data(message)}")
    return "\n".join(lines)


FORMATS: dict[str, Callable[..., str]] = {
    "text": render_text,
    "json": render_json,
    "sarif": render_sarif,
    "github": render_github,
}


def render(report: LintReport, fmt: str, rules: Mapping[str, Rule] | None = None, **kwargs: Any) -> str:
    try:
        renderer = FORMATS[fmt]
    except KeyError:
        raise ValueError(f"unknown lint output format {fmt!r}") from None
    return renderer(report, rules, **kwargs)
