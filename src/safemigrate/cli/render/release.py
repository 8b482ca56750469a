"""``release`` and ``preflight``: the outcome, what to run next, where the report files are."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..output import Output

if TYPE_CHECKING:
    from ...commands import ReleaseResult

__all__ = ["render_release"]


def render_release(out: Output, result: ReleaseResult, signal_number: int | None, command: str = "release") -> int:
    """Print the closing lines (the steps were printed as they ended); the exit status.

    The report names settings (`backup.location`); the lines printed here name their flags."""
    report = result.report
    data = result.to_dict()

    def text() -> str:
        from ..flags import spell_text

        lines = ["", f"{report.outcome}: {spell_text(report.summary, command)}"]
        if report.next_command:
            lines.append(f"next: {spell_text(report.next_command, command)}")
        if result.report_files:
            lines.append("report: " + ", ".join(str(p) for p in result.report_files))
        if result.report_error:
            lines.append(f"warning: {result.report_error}; the outcome above is the release's "
                         "(safemigrate history shows its steps)")
        return "\n".join(lines)

    code = report.exit_code
    if report.outcome == "interrupted" and signal_number is not None:
        code = 128 + signal_number  # what a shell reports for a process stopped by that signal
    data["exit_code"] = code
    out.result(data, text)
    return code
