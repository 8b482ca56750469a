"""Text renderings of engine results (JSON comes from each result's ``to_dict``)."""

from __future__ import annotations

from typing import Any

from ..engine import PlannedStep, RunResult
from ..planner import NIL
from ..status import StatusReport, status_table
from .output import Output

__all__ = ["render_plan", "render_run", "render_status"]


def render_run(out: Output, result: RunResult, extra: dict[str, Any] | None = None) -> None:
    """Step lines were printed as each step finished; finish with golang-migrate's ``no change``."""
    if out.json:
        out.result({**result.to_dict(), **(extra or {})})
        return
    empty = result.without_down_file
    if empty:
        versions = ", ".join(str(s.step.version) for s in empty)
        out.warn(f"{len(empty)} down step(s) had no down file, so the version moved but nothing was undone "
                 f"(version(s) {versions}): their changes are still in the database")
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
        if result.setup_sql:
            lines.append("")
            if out.verbose:
                lines.append("-- first, safemigrate's own tables:")
                lines.extend(result.setup_sql)
            else:
                lines.append(f"-- first, {len(result.setup_sql)} statement(s) creating or upgrading the version "
                             "and history tables (--verbose shows them)")
        for planned in result.planned:
            step = planned.step
            how = {"transaction": "one transaction with its version update",
                   "statements": "statement by statement, each committed on its own",
                   "atomic": "inside the single --atomic transaction"}.get(planned.mode, planned.mode)
            lines.append("")
            lines.append(f"-- {step.log_string}: {step.file.path if step.file else '(no file: version only)'}")
            lines.append(f"-- runs {how}" + (f" because {planned.reason}" if planned.reason else ""))
            lines.extend(planned.sql if out.verbose else _own_sql(planned))
        if result.pending_error is not None:
            lines.append("")
            lines.append(f"-- then fails with: {result.pending_error.message}")
        return "\n".join(lines)

    out.result({**result.to_dict(), **(extra or {})}, text)


def _own_sql(planned: PlannedStep) -> list[str]:
    """The migration file's statements, and one line that sums up our bookkeeping around them."""
    own = [sql for i, sql in enumerate(planned.sql) if i in planned.own]
    ours = len(planned.sql) - len(own)
    if not ours:
        return own
    target = "no version" if planned.step.target == NIL else f"version {planned.step.target}"
    what = {
        "transaction": f"in the same transaction: {target} marked dirty before the file's SQL and "
                       "clean after it, and its history row",
        "statements": f"{target} marked dirty and committed before the first statement, the "
                      "history row updated after each statement, clean at the end",
        "atomic": f"inside the --atomic transaction: the version and history rows ({target} at the end)",
    }.get(planned.mode, "the version and history rows")
    return [*own, f"-- plus {ours} statement(s) of bookkeeping {what} (--verbose shows them)"]


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
        for problem in report.problems:
            mark = "!!" if problem.fails_check else "--"
            lines.append(f"{mark} {problem.message}")
            lines.append(f"   next: {problem.hint}")
        return "\n".join(lines)

    # The JSON document of 10,000 migrations costs as much as the table: build only the one shown.
    out.result(report.to_dict() if out.json else {}, text)
