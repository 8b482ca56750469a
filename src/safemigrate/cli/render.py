"""Text renderings of engine results (JSON comes from each result's ``to_dict``)."""

from __future__ import annotations

from typing import Any

from ..engine import RunResult
from ..status import StatusReport
from .output import Output

__all__ = ["render_plan", "render_run", "render_status"]


def render_run(out: Output, result: RunResult, extra: dict[str, Any] | None = None) -> None:
    """Step lines were printed as each step finished; finish with golang-migrate's ``no change``."""
    if out.json:
        out.result({**result.to_dict(), **(extra or {})})
        return
    if result.no_change:
        out.result({}, "no change")
    elif out.verbose:
        out.info(f"Finished: version {result.start.describe()} -> {result.end.describe()}")


def render_plan(out: Output, result: RunResult, extra: dict[str, Any] | None = None) -> None:
    def text() -> str:
        if result.no_change:
            return f"no change: the database is at version {result.start.describe()}"
        lines = [
            f"plan: {result.command} from version {result.start.describe()} to "
            f"{result.end.describe()}, {len(result.planned)} migration(s); dry run, nothing was changed",
        ]
        for planned in result.planned:
            step = planned.step
            how = {"transaction": "one transaction with its version update",
                   "statements": "statement by statement, each committed on its own",
                   "atomic": "inside the single --atomic transaction"}.get(planned.mode, planned.mode)
            lines.append("")
            lines.append(f"-- {step.log_string}: {step.file.path if step.file else '(no file: version only)'}")
            lines.append(f"-- runs {how}" + (f" because {planned.reason}" if planned.reason else ""))
            lines.extend(planned.sql)
        if result.pending_error is not None:
            lines.append("")
            lines.append(f"-- then fails with: {result.pending_error.message}")
        return "\n".join(lines)

    out.result({**result.to_dict(), **(extra or {})}, text)


def render_status(out: Output, report: StatusReport) -> None:
    def text() -> str:
        lines = [
            f"database:   {report.database}",
            f"migrations: {report.migrations_dir}",
            f"version:    {report.version.describe()}",
            "",
        ]
        header = ("VERSION", "NAME", "STATE", "APPLIED", "BY", "FLAGS")
        rows = [header]
        for m in report.migrations:
            rows.append((
                str(m.version), m.name, m.state,
                m.applied_at.strftime("%Y-%m-%d %H:%M:%S UTC") if m.applied_at else "",
                m.applied_by or "", ",".join(m.flags),
            ))
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        for r in rows:
            lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip())
        pending = report.pending
        lines.append("")
        lines.append(f"{len(pending)} pending" + (": " + ", ".join(map(str, pending)) if pending else ""))
        if not report.history_available:
            lines.append("no safemigrate history yet: applied times, authors and checksums appear "
                         "after the first safemigrate run")
        for problem in report.problems:
            mark = "!!" if problem.fails_check else "--"
            lines.append(f"{mark} {problem.message}")
            lines.append(f"   next: {problem.hint}")
        return "\n".join(lines)

    # The JSON document of 10,000 migrations costs as much as the table: build only the one shown.
    out.result(report.to_dict() if out.json else {}, text)
