"""``check`` and ``history``: the version check's verdict, the history table and a release's checklist."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..output import Output

if TYPE_CHECKING:
    from ...commands import CheckResult, HistoryResult

__all__ = ["render_check", "render_history"]


def render_check(out: Output, result: CheckResult) -> None:
    out.result(result.to_dict(), f"ok: the database is at version {result.describe()}")


def render_history(out: Output, result: HistoryResult, version: int | None = None) -> None:
    """The steps as a table, oldest first; with a release, its checklist first. ``version``: the filter used."""

    def release_lines() -> list[str]:
        from ...release.report import StepRecord, StepStatus

        report = result.release or {}
        lines = [f"release {report.get('id')}: {report.get('outcome')} ({report.get('summary', '')})",
                 f"started {report.get('started_at')}, finished {report.get('finished_at')}"]
        for step in report.get("steps", []):
            record = StepRecord(step["phase"], step["name"], StepStatus(step["status"]), step["reason"],
                                step["duration_s"])
            lines.append("  " + record.line())
        return [*lines, ""]

    def text() -> str:
        head = release_lines() if result.release is not None else []
        return "\n".join([*head, body()])

    def body() -> str:
        if not result.available:
            return "no history yet: safemigrate records every step it runs in safemigrate_history"
        if not result.records:
            return "no steps recorded" + (f" for migration {version}" if version is not None else "")
        header = ("WHEN (UTC)", "VERSION", "NAME", "DIR", "FROM→TO", "OUTCOME", "MS", "BY", "ERROR")
        rows = [header]
        for r in result.records:
            moved = f"{'-' if r.from_version is None else r.from_version}→" \
                    f"{'-' if r.to_version is None else r.to_version}"
            who = "@".join(x for x in (r.os_user or r.db_user, r.host) if x)
            error = (r.error or "").splitlines()[0][:60] if r.error else ""
            rows.append((r.started_at.strftime("%Y-%m-%d %H:%M:%S"), str(r.version), r.name[:32],
                         r.direction, moved, r.outcome,
                         "" if r.duration_ms is None else f"{r.duration_ms:.0f}", who, error))
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
        if result.total > len(result.records):
            lines.append(f"(the last {len(result.records)} of {result.total} steps; --limit N shows more)")
        return "\n".join(lines)

    out.result(result.to_dict(), text)
