"""Lint migration files for operations that lock, rewrite or destroy.

The engine calls :func:`lint_migrations` on the pending files before ``plan``,
``up`` and ``goto``; ``safemigrate lint`` calls :func:`lint_paths`. Findings
are plain data (:class:`Finding`); :func:`render` formats a report as text,
JSON, SARIF or GitHub annotations. Rules live in ``safemigrate.lint.rules``,
one module per family, and register themselves with :func:`rule`.

Importing this package is cheap: pglast is imported on the first PostgreSQL lint.
"""

from __future__ import annotations

from .api import lint_migrations, lint_paths, lint_text
from .config import LintConfig, load_config
from .model import Finding, LintReport, LintResult, Location, Severity
from .registry import Example, Rule, all_rules, get_rule
from .reporters import FORMATS, render

__all__ = [
    "FORMATS",
    "Example",
    "Finding",
    "LintConfig",
    "LintReport",
    "LintResult",
    "Location",
    "Rule",
    "Severity",
    "all_rules",
    "get_rule",
    "lint_migrations",
    "lint_paths",
    "lint_text",
    "load_config",
    "render",
]
