"""``check`` and ``history``: read-only questions about the database, for people and pipelines."""

from __future__ import annotations

import click

from .options import global_options, settings_of

__all__ = ["check", "history"]


@click.command()
@click.option("--expect", "expect", type=click.IntRange(min=0), default=None, metavar="V",
              help="Succeed only when the database is at exactly version V, clean.")
@click.option("--expect-at-least", "at_least", type=click.IntRange(min=0), default=None, metavar="V",
              help="Succeed when the database is at version V or newer, clean.")
@global_options
@click.pass_context
def check(ctx: click.Context, expect: int | None, at_least: int | None) -> None:
    """Exit 0 when the database is at the expected version and clean, 1 otherwise.

    For deploy pipelines and init containers, e.g. safemigrate check --expect 4.
    """
    from .. import commands
    from ..errors import UsageError

    if (expect is None) == (at_least is None):
        raise UsageError("check needs exactly one of --expect V and --expect-at-least V",
                         hint="for example: safemigrate check --expect 4")
    settings = settings_of(ctx)
    wanted = expect if expect is not None else at_least
    assert wanted is not None
    result = commands.check(settings.config(), expect=wanted, at_least=at_least is not None)
    settings.output.result(result.to_dict(), f"ok: the database is at version {result.describe()}")


@click.command()
@click.option("--limit", "-n", "limit", type=click.IntRange(min=1), default=None, metavar="N",
              help="Show only the last N steps.")
@click.option("--migration", "version", type=click.IntRange(min=0), default=None, metavar="V",
              help="Show only the steps of migration V.")
@click.option("--release", "release_id", default=None, metavar="ID",
              help="Show release ID: its checklist and the steps it ran.")
@global_options
@click.pass_context
def history(ctx: click.Context, limit: int | None, version: int | None, release_id: str | None) -> None:
    """Every step safemigrate ran: who, when, what, direction, duration, outcome, error.

    For example: safemigrate history --limit 20. Works for a read-only role.
    """
    from .. import commands

    settings = settings_of(ctx)
    result = commands.history(settings.config(), limit=limit, version=version, release_id=release_id)

    def release_lines() -> list[str]:
        from ..release.report import StepRecord, StepStatus

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

    settings.output.result(result.to_dict(), text)
