"""The engine's results: a run (up, down, goto), a plan (plan, --dry-run), force and drop."""

from __future__ import annotations

from typing import Any

from ...drivers.base import VersionState
from ...engine import PlannedStep, RunResult
from ..output import Output

__all__ = ["render_drop", "render_force", "render_plan", "render_run"]


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
    target = "no version" if planned.step.target is None else f"version {planned.step.target}"
    what = {
        "transaction": f"in the same transaction: {target} marked dirty before the file's SQL and "
                       "clean after it, and its history row",
        "statements": f"{target} marked dirty and committed before the first statement, the "
                      "history row updated after each statement, clean at the end",
        "atomic": f"inside the --atomic transaction: the version and history rows ({target} at the end)",
    }.get(planned.mode, "the version and history rows")
    return [*own, f"-- plus {ours} statement(s) of bookkeeping {what} (--verbose shows them)"]


def render_force(out: Output, state: VersionState, extra: dict[str, Any]) -> None:
    out.result(
        {"ok": True, "command": "force", "version": state.version, "dirty": state.dirty, **extra},
        f"forced version {state.describe()}" if state.version is not None else "forced version -1 (no version)",
    )


def render_drop(out: Output, dropped: list[str], extra: dict[str, Any]) -> None:
    out.result({"ok": True, "command": "drop", "dropped_tables": dropped, **extra},
               f"dropped {len(dropped)} table(s)" + (": " + ", ".join(dropped) if dropped else ""))

