"""What the linter produces: findings as plain data, and the report that holds them.

Reporters only format these; nothing here knows about SQL or output formats.
"""

from __future__ import annotations

from collections import Counter
from enum import StrEnum
from typing import Any

from .._record import Record

__all__ = ["Finding", "LintReport", "Location", "Severity"]


class Severity(StrEnum):
    """How bad a finding is. ``error`` findings fail ``safemigrate lint`` by default."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _RANK[self.value]

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank


_RANK = {"info": 0, "warning": 1, "error": 2}


class Location(Record, frozen=True):
    """A place in a file: 1-based line and column; ``end_column`` is exclusive (as in SARIF)."""

    path: str
    line: int
    column: int
    end_line: int | None
    end_column: int | None
    message: str | None

    def __init__(self, path: str, line: int, column: int = 1, end_line: int | None = None,
                 end_column: int | None = None, message: str | None = None) -> None:
        self.__dict__.update(path=path, line=line, column=column, end_line=end_line, end_column=end_column,
                             message=message)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path, "line": self.line, "column": self.column}
        if self.end_line is not None:
            data["end_line"] = self.end_line
        if self.end_column is not None:
            data["end_column"] = self.end_column
        if self.message:
            data["message"] = self.message
        return data


class Finding(Record, frozen=True):
    """One problem found in one file.

    ``line``/``column`` point at the construct (a column definition, a keyword),
    ``statement_line`` at the start of the statement that holds it; ``source_line``
    is the text of ``line`` so reporters can show it without reading the file again.
    """

    rule_id: str
    severity: Severity
    message: str
    path: str
    line: int
    column: int
    end_line: int | None
    end_column: int | None
    statement_line: int | None
    statement_text: str | None
    source_line: str | None
    help: str | None
    related: tuple[Location, ...]

    def __init__(self, rule_id: str, severity: Severity, message: str, path: str, line: int, column: int = 1,
                 end_line: int | None = None, end_column: int | None = None, statement_line: int | None = None,
                 statement_text: str | None = None, source_line: str | None = None, help: str | None = None,
                 related: tuple[Location, ...] = ()) -> None:
        self.__dict__.update(rule_id=rule_id, severity=severity, message=message, path=path, line=line,
                             column=column, end_line=end_line, end_column=end_column,
                             statement_line=statement_line, statement_text=statement_text,
                             source_line=source_line, help=help, related=related)

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.line, self.column, self.rule_id)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "rule_id": self.rule_id,
            "severity": self.severity.value,
            "message": self.message,
            "path": self.path,
            "line": self.line,
            "column": self.column,
        }
        if self.end_line is not None:
            data["end_line"] = self.end_line
        if self.end_column is not None:
            data["end_column"] = self.end_column
        if self.statement_line is not None:
            data["statement_line"] = self.statement_line
        if self.statement_text is not None:
            data["statement"] = self.statement_text
        if self.help:
            data["help"] = self.help
        if self.related:
            data["related"] = [loc.to_dict() for loc in self.related]
        return data


class LintReport(Record):
    """Everything one lint run found, sorted by file and position."""

    findings: list[Finding]
    files: list[str]
    notes: list[str]
    dialect: str
    pg_version: int | None

    def __init__(self, findings: list[Finding] | None = None, files: list[str] | None = None,
                 notes: list[str] | None = None, dialect: str = "postgres", pg_version: int | None = None) -> None:
        self.findings = [] if findings is None else findings
        self.files = [] if files is None else files
        self.notes = [] if notes is None else notes
        self.dialect = dialect
        self.pg_version = pg_version

    def counts(self) -> dict[str, int]:
        counter = Counter(f.severity.value for f in self.findings)
        return {s.value: counter.get(s.value, 0) for s in Severity}

    def at_least(self, severity: Severity) -> list[Finding]:
        return [f for f in self.findings if f.severity.at_least(severity)]

    def fails(self, fail_on: Severity = Severity.ERROR) -> bool:
        """True when any finding is at or above ``fail_on`` (what makes ``lint`` exit 1)."""
        return any(f.severity.at_least(fail_on) for f in self.findings)

    def rule_ids(self) -> set[str]:
        return {f.rule_id for f in self.findings}

    def to_dict(self, fail_on: Severity = Severity.ERROR) -> dict[str, Any]:
        return {
            "ok": not self.fails(fail_on),
            "dialect": self.dialect,
            "pg_version": self.pg_version,
            "files": len(self.files),
            "summary": self.counts(),
            "findings": [f.to_dict() for f in self.findings],
            "notes": list(self.notes),
        }


class LintResult:
    """What :func:`safemigrate.commands.lint` returns: the report, and the severity that fails the run.

    A plain class, not a dataclass: ``safemigrate lint`` defines it on every start-up.
    """

    __slots__ = ("fail_on", "report")

    def __init__(self, report: LintReport, fail_on: Severity = Severity.ERROR) -> None:
        self.report = report
        self.fail_on = fail_on

    def __repr__(self) -> str:
        return f"LintResult(report={self.report!r}, fail_on={self.fail_on!r})"

    @property
    def failed(self) -> bool:
        """True when a finding is at least ``fail_on`` severe (``safemigrate lint`` exits 1)."""
        return self.report.fails(self.fail_on)

    def to_dict(self) -> dict[str, Any]:
        return self.report.to_dict(self.fail_on)
