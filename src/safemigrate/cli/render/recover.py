"""``recover``: the diagnosis of a dirty database, and the repair carried out."""

from __future__ import annotations

from typing import Any

__all__ = ["render_diagnosis", "render_repair"]


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]


def render_diagnosis(d: Any) -> str:
    if not d.dirty:
        return str(d.conclusion)
    record = d.record
    lines = [f"dirty at version {d.version}: the {d.direction} migration {d.file} did not finish"]
    if record is not None:
        who = " ".join(x for x in (record.os_user and f"{record.os_user}@{record.host}",
                                   record.db_user and f"(db user {record.db_user})") if x)
        lines.append(f"  ran {record.started_at:%Y-%m-%d %H:%M:%S} UTC by {who}, {record.outcome}"
                     + (f": {record.error.splitlines()[0]}" if record.error else ""))
    else:
        lines.append("  no history of ours for this run (dirtied by golang-migrate, or before safemigrate): "
                     "the catalog is the only witness")
    lines.append("")
    rows: list[tuple[str, ...]] = [("#", "LINE", "STATEMENT", "RECORDED", "CATALOG", "VERDICT")]
    rows += [(str(s.number), str(s.line), s.summary, s.recorded, s.present, s.verdict) for s in d.statements]
    lines += _table(rows)
    for s in d.statements:
        for note in s.notes:
            lines.append(f"  note on {s.number}: {note}")
    lines += ["", f"conclusion: {d.conclusion}", "", "repairs:"]
    for option in d.options:
        state = "safe" if option.safe else ("by hand" if option.name == "mark" else "not safe")
        marks = "no version" if option.target is None else f"version {option.target}"
        lines.append(f"  {option.name:<6} ({state}) {option.reason}; then marks {marks} clean")
        lines += [f"      {' '.join(sql.split())[:160]};" for sql in option.sql]
    safe = d.safe_options
    if len(safe) == 1:
        lines += ["", f"next: safemigrate recover --apply   (takes {safe[0].name}, the only safe repair)"]
    elif safe:
        lines += ["", "next: safemigrate recover --apply --choose finish   (or --choose undo)"]
    else:
        lines += ["", "next: repair by hand, then safemigrate recover --apply --choose mark"]
    return "\n".join(lines)


def render_repair(result: Any) -> str:
    from ..flags import spell_text

    marks = "no version" if result.version_after is None else f"version {result.version_after}"
    lines = [f"recover {result.option.name}: {spell_text(result.chosen_because, 'recover')}"]
    lines += [f"  ran: {' '.join(sql.split())[:160]}" for sql in result.ran]
    lines.append(f"the database is clean at {marks}; the history records the repair (safemigrate history)")
    return "\n".join(lines)
