"""The lint gate's summary before a run (the gate itself is :class:`safemigrate.commands.LintGate`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..output import Output

if TYPE_CHECKING:
    from ...lint import LintReport

__all__ = ["show_lint_summary"]


def show_lint_summary(out: Output, report: LintReport, file_count: int, *, strict: bool, details: bool) -> None:
    """On stderr: one line per severity, every error-level finding in full, the rest with --lint-details.

    Nothing in text mode when there is no finding; nothing in JSON mode, whose document carries
    the whole report. A fresh database replaying hundreds of files must not print thousands of lines before its
    first step; ``safemigrate lint`` (or JSON output) shows every finding.
    """
    from ...lint import LintReport, Severity, render

    if not report.findings or out.json:
        return
    counts = report.counts()
    blocking = "blocking: --strict" if strict else "not blocking; --strict makes errors block"
    out.warn(
        f"lint: {_count(counts['error'], 'error')}, {_count(counts['warning'], 'warning')}, "
        f"{_count(counts['info'], 'note')} in the {_count(file_count, 'file')} about to run ({blocking})")
    shown = report.findings if details else report.at_least(Severity.ERROR)
    if shown:
        part = LintReport(findings=list(shown), files=report.files, dialect=report.dialect,
                          pg_version=report.pg_version)
        text = render(part, "text", color=out.color())
        # The report's own closing summary line repeats the counts above.
        body = text.rsplit("\n", 1)[0] if "\n" in text else ""
        out.stderr.write(out.scrub(body.rstrip("\n")) + "\n")
    if details:
        return
    for severity, word in ((Severity.WARNING, "warning"), (Severity.INFO, "note")):
        hidden = [f for f in report.findings if f.severity == severity]
        if hidden:
            out.warn(f"lint: {_count(len(hidden), word)} not shown ({_by_rule(hidden)}): "
                     "add --lint-details, or run safemigrate lint, to see them")


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _by_rule(findings: Sequence[Any], limit: int = 4) -> str:
    """``rule-a 12, rule-b 3, and 2 more rules``: which rules the hidden findings come from."""
    from collections import Counter

    ranked = Counter(f.rule_id for f in findings).most_common()
    text = ", ".join(f"{rule_id} {n}" for rule_id, n in ranked[:limit])
    rest = len(ranked) - limit
    return text + (f", and {_count(rest, 'more rule')}" if rest > 0 else "")
