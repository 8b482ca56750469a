"""``status`` builds its rows column by column: pinned here against the row-by-row definition.

The definition below is what status said of each file before it was built from columns (one row
at a time: its state against the current version, the last applied up step not undone by a later
applied down, a skipped version, an edited file, a missing file), with the problems in the rows'
order; random folders, histories and versions must give the same rows and problems.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from safemigrate.drivers.base import VersionState
from safemigrate.history import HistoryRecord, HistoryStep
from safemigrate.source import load_source
from safemigrate.status import build_status, status_table

NOW = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
_WHO = st.sampled_from([None, "", "ann", "bob"])


def defined_rows(folder: Path, state: VersionState, history: list[Any]) -> tuple[list[tuple[Any, ...]], list[str]]:
    """(version, name, state, up, down, applied_at, applied_by, checksum_matches, flags) per file, and
    the problems' codes and versions, one row at a time."""
    files = sorted(os.listdir(folder))
    versions = sorted({int(name.split("_")[0]) for name in files})
    rows: list[tuple[Any, ...]] = []
    problems: list[str] = []
    for version in versions:
        up = next((f for f in files if int(f.split("_")[0]) == version and ".up." in f), None)
        down = next((f for f in files if int(f.split("_")[0]) == version and ".down." in f), None)
        name = (up or down or "").partition("_")[2].rpartition(".up." if up else ".down.")[0]
        current = state.version
        row_state = ("pending" if current is None or version > current else "applied" if version < current
                     else "dirty" if state.dirty else "current")
        record = None
        for step in history:
            if step.outcome == "applied" and step.version == version and step.direction in ("up", "down"):
                record = step if step.direction == "up" else None
        flags: list[str] = []
        applied_at = applied_by = matches = None
        if record is None:
            jumped = any(s.direction == "up" and s.outcome == "applied"
                         and (-1 if s.from_version is None else s.from_version) < version < s.version
                         for s in history)
            if row_state != "pending" and jumped:
                row_state = "skipped"
                flags.append("skipped")
                problems.append(f"skipped {version}")
        else:
            applied_at = record.applied_at
            applied_by = " ".join(part for part in (record.os_user and f"{record.os_user}@{record.host}",
                                                    record.db_user and f"(db user {record.db_user})") if part) or None
            if up is not None and record.checksum:
                matches = hashlib.sha256((folder / up).read_bytes()).hexdigest() == record.checksum
                if not matches and row_state != "pending":
                    flags.append("edited")
                    problems.append(f"edited {version}")
        if up is None:
            flags.append("no-up")
            problems.append(f"no-up {version}")
        elif down is None:
            flags.append("no-down")
            problems.append(f"no-down {version}")
        rows.append((version, name, row_state, None if up is None else str(folder / up),
                     None if down is None else str(folder / down), applied_at, applied_by, matches, flags))
    return rows, problems


_FILE = st.tuples(st.booleans(), st.booleans()).filter(any)  # (has up, has down)
_STEP = st.tuples(st.integers(1, 8), st.sampled_from(["up", "down", "force"]), st.sampled_from(["applied", "failed"]),
                  st.one_of(st.none(), st.integers(0, 8)), st.sampled_from(["same", "other", None]),
                  _WHO, _WHO, _WHO, st.integers(0, 3))


@settings(max_examples=150, deadline=None)
@given(files=st.dictionaries(st.integers(1, 8), _FILE, min_size=0, max_size=8),
       steps=st.lists(_STEP, max_size=14), current=st.one_of(st.none(), st.integers(1, 9)),
       dirty=st.booleans(), as_steps=st.booleans())
def test_the_rows_and_problems_are_the_row_by_row_definition(
        tmp_path_factory: Any, files: dict[int, tuple[bool, bool]], steps: list[Any], current: int | None,
        dirty: bool, as_steps: bool) -> None:
    folder = tmp_path_factory.mktemp("rows")
    for version, (has_up, has_down) in files.items():
        if has_up:
            (folder / f"{version:03d}_t{version}.up.sql").write_text(f"SELECT {version};\n")
        if has_down:
            (folder / f"{version:03d}_t{version}.down.sql").write_text(f"SELECT -{version};\n")
    history: list[Any] = []
    for version, direction, outcome, start, checksum, os_user, host, db_user, minutes in steps:
        digest = {"same": hashlib.sha256(f"SELECT {version};\n".encode()).hexdigest(), "other": "0" * 64,
                  None: None}[checksum]
        at = NOW + timedelta(minutes=minutes)
        if as_steps:  # what status reads of PostgreSQL's history: only the applied up and down steps
            if outcome == "applied" and direction in ("up", "down"):
                history.append(HistoryStep(version, direction, outcome, start, digest, at, os_user, host, db_user))
        else:
            history.append(HistoryRecord(run_id="r", version=version, name="n", direction=direction,
                                         from_version=start, to_version=version, started_at=at, outcome=outcome,
                                         checksum=digest, os_user=os_user, host=host, db_user=db_user))
    state = VersionState(current, dirty and current is not None)
    report = build_status(load_source(folder), state, history, database="db", history_available=True)
    rows, problems = defined_rows(folder, state, history)
    assert [tuple(row) for row in report.migrations] == rows
    row_problems = [f"{p.code} {p.version}" for p in report.problems
                    if p.code in ("skipped", "edited", "no-up", "no-down")]
    assert row_problems == problems
    # and the table has a line per row, each starting with its version
    assert [line.split()[0] for line in status_table(report.migrations)] == ["VERSION", *(str(r[0]) for r in rows)]
