"""``status``: the table of every migration, its state and flags, then what is wrong and what next."""

from __future__ import annotations

from ...status import StatusReport, status_table
from ..output import Output

__all__ = ["render_status"]


def render_status(out: Output, report: StatusReport) -> None:
    def text() -> str:
        lines = [
            f"database:   {report.database}",
            f"migrations: {report.migrations_dir}",
            f"version:    {report.version.describe()}",
            "",
        ]
        lines.extend(status_table(report.migrations))
        pending = report.pending
        lines.append("")
        lines.append(f"{len(pending)} pending" + (": " + ", ".join(map(str, pending)) if pending else ""))
        if not report.history_available and report.history_error is None:
            lines.append("no safemigrate history yet: applied times, authors and checksums appear "
                         "after the first safemigrate run")
        if report.problems:
            # the library names settings (`no_follow`): say the flags that set them
            from ..flags import spell_text

            for problem in report.problems:
                mark = "!!" if problem.fails_check else "--"
                lines.append(f"{mark} {spell_text(problem.message, 'status')}")
                lines.append(f"   next: {spell_text(problem.hint, 'status')}")
        return "\n".join(lines)

    # The JSON document of 10,000 migrations costs as much as the table: build only the one shown.
    out.result(report.to_dict() if out.json else {}, text)
