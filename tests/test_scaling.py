"""status and plan stay linear in the number of files: pinned by counting work, never by timing.

``status`` with 10,000 applied migrations took 12.5 s because, for every file, it scanned the whole
history again to find up steps that had jumped over the file's version (10,000 x 10,000 records).
These tests count how often the history is walked, so that the quadratic shape cannot come back
unnoticed, and check the fast "jumped over" test against its definition on random histories.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from safemigrate.drivers.base import VersionState
from safemigrate.history import HistoryRecord
from safemigrate.source import load_source
from safemigrate.status import _JumpedOver, _replay, build_status
from support import write_migrations

NOW = datetime(2026, 12, 1, tzinfo=UTC)


class CountingHistory(list[HistoryRecord]):
    """The history as build_status receives it (a list), counting the passes made over it."""

    passes = 0

    def __iter__(self) -> Iterator[HistoryRecord]:
        self.passes += 1
        return super().__iter__()


def linear_history(count: int) -> CountingHistory:
    """What ``up`` records for versions 1..count applied one after the other."""
    return CountingHistory(
        HistoryRecord(run_id=f"r{v}", version=v, name=f"t{v}", direction="up", from_version=v - 1 or None,
                      to_version=v, started_at=NOW, outcome="applied", checksum="0" * 64)
        for v in range(1, count + 1))


def folder_of(tmp_path: Path, count: int) -> Path:
    return write_migrations(tmp_path, {
        f"{v:06d}_t{v}.{d}.sql": f"SELECT {v};\n" for v in range(1, count + 1) for d in ("up", "down")})


def passes_over_history(tmp_path: Path, count: int) -> int:
    source = load_source(folder_of(tmp_path / str(count), count))
    history = linear_history(count)
    report = build_status(source, VersionState(count, False), history, database="db", history_available=True)
    assert [m.state for m in report.migrations] == ["applied"] * (count - 1) + ["current"]
    return history.passes


def test_status_walks_the_history_a_fixed_number_of_times_whatever_the_number_of_files(tmp_path: Path) -> None:
    # Before the fix: one pass per applied file plus one (11 and 201 here).
    assert passes_over_history(tmp_path, 10) == passes_over_history(tmp_path, 200) <= 2


def naive_jumped_over(history: list[HistoryRecord], version: int) -> bool:
    """The definition: an applied up step went from below ``version`` to above it."""
    return any(
        r.direction == "up" and r.outcome == "applied"
        and (-1 if r.from_version is None else r.from_version) < version < r.version
        for r in history)


step = st.tuples(st.one_of(st.none(), st.integers(0, 40)), st.integers(0, 40),
                 st.sampled_from(["up", "down", "force"]), st.sampled_from(["applied", "failed"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(step, max_size=12))
def test_the_skipped_version_test_agrees_with_its_definition_on_any_history(
        steps: list[tuple[int | None, int, str, str]]) -> None:
    history = [HistoryRecord(run_id="r", version=to, name="n", direction=direction, from_version=start,
                             to_version=to, started_at=NOW, outcome=outcome)
               for start, to, direction, outcome in steps]
    jumped_over = _JumpedOver(_replay(history)[1])
    for version in range(-2, 43):
        assert jumped_over(version) == naive_jumped_over(history, version), version


_WHO = st.none() | st.sampled_from(["", "ann", "bob", "x y"])


@settings(max_examples=60, deadline=None)
@given(authors=st.lists(st.tuples(_WHO, _WHO, _WHO), min_size=1, max_size=8))
def test_each_row_names_its_own_author_however_many_share_one(
        tmp_path_factory: pytest.TempPathFactory, authors: list[tuple[str | None, str | None, str | None]]) -> None:
    # "user@host (db user ...)" is made once per author and reused for the rows with the same one.
    count = len(authors)
    source = load_source(folder_of(tmp_path_factory.mktemp("authors"), count))
    history = [HistoryRecord(run_id=f"r{v}", version=v, name=f"t{v}", direction="up",
                             from_version=v - 1 or None, to_version=v, started_at=NOW, outcome="applied",
                             os_user=os_user, host=host, db_user=db_user)
               for v, (os_user, host, db_user) in enumerate(authors, start=1)]
    report = build_status(source, VersionState(count, False), history, database="db", history_available=True)
    expected = [" ".join(part for part in (os_user and f"{os_user}@{host}", db_user and f"(db user {db_user})")
                         if part) or None for os_user, host, db_user in authors]
    assert [m.applied_by for m in report.migrations] == expected


def test_the_author_text_is_made_once_per_author(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import safemigrate.status as status_module

    made = 0
    real = status_module._applied_by

    def counting(os_user: str | None, host: str | None, db_user: str | None) -> str | None:
        nonlocal made
        made += 1
        return real(os_user, host, db_user)

    monkeypatch.setattr(status_module, "_applied_by", counting)
    source = load_source(folder_of(tmp_path, 50))
    history = [HistoryRecord(run_id=f"r{v}", version=v, name=f"t{v}", direction="up", from_version=v - 1 or None,
                             to_version=v, started_at=NOW, outcome="applied", os_user="ann" if v % 2 else "bob",
                             host="h", db_user="app") for v in range(1, 51)]
    report = build_status(source, VersionState(50, False), history, database="db", history_available=True)
    assert made == 2 and report.migrations[0].applied_by == "ann@h (db user app)"
