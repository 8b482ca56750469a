"""Helpers for the lint tests (a uniquely named module: tests have no packages)."""

from __future__ import annotations

import textwrap
from typing import Any

from safemigrate.lint import LintReport, lint_text


def sql(text: str) -> str:
    """Dedent a triple-quoted SQL snippet so line 1 is its first line."""
    return textwrap.dedent(text).lstrip("\n")


def lint(text: str, dialect: str = "postgres", **kwargs: Any) -> LintReport:
    return lint_text(sql(text), dialect=dialect, **kwargs)


def lines_of(report: LintReport, rule_id: str, path_suffix: str = "") -> list[int]:
    """The lines where ``rule_id`` was reported (in files ending with ``path_suffix``), in order."""
    return [f.line for f in report.findings
            if f.rule_id == rule_id and f.path.endswith(path_suffix)]


def pair(up: str, down: str | None, dialect: str = "postgres", **kwargs: Any) -> LintReport:
    """Lint an up file together with its down file (None: there is no down file)."""
    return lint_text(sql(up), dialect=dialect, direction="up", paired=True,
                     partner_text=None if down is None else sql(down), **kwargs)
