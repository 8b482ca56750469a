"""Retention: restic's calendar semantics, as properties (hypothesis) and worked examples."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from safemigrate.backup.retention import Candidate, Policy, plan
from safemigrate.errors import UsageError

START = datetime(2024, 1, 1, tzinfo=UTC)


def cand(i: int, hours: float, verified: bool = True, pinned: bool = False) -> Candidate:
    return Candidate(f"b{i:04d}", START + timedelta(hours=hours), verified, pinned)


candidates = st.lists(
    st.tuples(st.floats(min_value=0, max_value=24 * 800, allow_nan=False), st.booleans(),
              st.sampled_from([False, False, False, True])),
    max_size=60,
).map(lambda rows: [cand(i, h, v, p) for i, (h, v, p) in enumerate(rows)])
policies = st.builds(Policy, daily=st.integers(0, 10), weekly=st.integers(0, 6), monthly=st.integers(0, 14),
                     timezone=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]),
                     within=st.sampled_from([timedelta(0), timedelta(days=1), timedelta(hours=36)]))


@settings(max_examples=300, deadline=None)
@given(candidates, policies)
def test_properties(items: list[Candidate], policy: Policy) -> None:
    result = plan(items, policy)
    kept = {c.id for c in result.kept}
    removed = {c.id for c in result.removed}
    # kept and removed partition the input
    assert kept | removed == {c.id for c in items} and not kept & removed
    # keep-within: everything created within that span of the newest backup is kept
    recent: set[str] = set()
    if items and policy.within:
        newest_any = max(c.created for c in items)
        recent = {c.id for c in items if c.created > newest_any - policy.within}
        assert recent <= kept
    # at most d + w + m unpinned verified backups are kept by the calendar (+1: the newest verified)
    verified = sorted((c for c in items if c.verified), key=lambda c: (c.created, c.id))
    kept_unpinned_verified = [c for c in result.kept if c.verified and not c.pinned and c.id not in recent]
    assert len(kept_unpinned_verified) <= policy.daily + policy.weekly + policy.monthly + 1
    if verified:
        # the newest verified backup is always kept
        assert verified[-1].id in kept
        # an unverified backup is kept only when newer than the newest verified one (or pinned)
        newest = (verified[-1].created, verified[-1].id)
        for c in result.kept:
            if not c.verified and not c.pinned and c.id not in recent:
                assert (c.created, c.id) > newest
    else:
        assert removed == set()  # nothing verified: nothing is removed
    # pinned backups are always kept
    assert all(c.id in kept for c in items if c.pinned)
    # pruning twice changes nothing
    again = plan(result.kept, policy)
    assert {c.id for c in again.kept} == kept and again.removed == []


def test_runbook_policy_over_a_year_of_daily_backups() -> None:
    items = [cand(i, 24 * i + 2) for i in range(400)]  # daily at 02:00 UTC
    result = plan(items, Policy())
    kept = sorted(result.kept, key=lambda c: c.created, reverse=True)
    # 7 daily, then the newest of 4 ISO weeks (some overlap the days), then 12 months
    days = {c.created.date() for c in kept}
    newest = items[-1].created.date()
    assert all(newest - timedelta(days=d) in days for d in range(7))
    assert len(kept) <= 7 + 4 + 12
    months = {(c.created.year, c.created.month) for c in kept}
    assert len(months) == 12
    weeks = {c.created.isocalendar()[:2] for c in kept}
    assert len(weeks) >= 4


def test_one_backup_counts_for_several_rules() -> None:
    result = plan([cand(0, 0)], Policy(daily=1, weekly=1, monthly=1, within=timedelta(0)))
    reasons = result.decisions[0].reasons
    assert reasons[0] == "newest verified backup" and len(reasons) == 4


def test_iso_weeks_and_time_zone() -> None:
    # 2024-12-30 is in ISO week 2025-W01; 23:30 UTC on Sunday 2024-12-29 is Monday in Berlin.
    sunday_utc = Candidate("a", datetime(2024, 12, 29, 23, 30, tzinfo=UTC), True)
    monday = Candidate("b", datetime(2024, 12, 30, 12, 0, tzinfo=UTC), True)
    utc = plan([sunday_utc, monday], Policy(daily=0, weekly=2, monthly=0, within=timedelta(0)))
    assert {c.id for c in utc.kept} == {"a", "b"}  # two ISO weeks in UTC: 2024-W52 and 2025-W01
    berlin = plan([sunday_utc, monday], Policy(daily=0, weekly=2, monthly=0, timezone="Europe/Berlin",
                                                  within=timedelta(0)))
    assert {c.id for c in berlin.kept} == {"b"}  # one ISO week in Berlin: only the newest counts
    assert "weekly 2025-W01" in berlin.decisions[0].reasons


def test_unverified_do_not_fill_buckets() -> None:
    items = [cand(0, 0), cand(1, 24, verified=False), cand(2, 48, verified=False)]
    result = plan(items, Policy(daily=7))
    assert {c.id for c in result.kept} == {"b0000", "b0001", "b0002"}  # newer than the newest verified
    items.append(cand(3, 72))
    result = plan(items, Policy(daily=7))
    assert {c.id for c in result.removed} == {"b0001", "b0002"}
    assert "not verified and older than the newest verified backup" in result.decisions[1].reasons


def test_bad_policy() -> None:
    with pytest.raises(UsageError):
        Policy(daily=-1)
    with pytest.raises(UsageError, match="time zone"):
        plan([cand(0, 0)], Policy(timezone="Mars/Olympus"))


def test_keep_within_keeps_the_same_days_manual_backup() -> None:
    # Yesterday's nightly, today's manual pre-migration backup (15:00) and a later one (20:00): the
    # daily bucket alone keeps only the day's newest and would delete the manual one.
    same_day = [cand(0, 2), cand(1, 24 + 15), cand(2, 24 + 20)]
    assert {c.id for c in plan(same_day, Policy(daily=7, within=timedelta(0))).removed} == {"b0001"}
    result = plan(same_day, Policy(daily=7))  # default: 1 day
    assert result.removed == []
    reasons = {d.candidate.id: d.reasons for d in result.decisions}
    assert reasons["b0001"] == ("within 1d of the newest backup",)


def test_keep_within_is_measured_from_the_newest_backup() -> None:
    items = [cand(0, 0), cand(1, 30), cand(2, 40)]
    kept = {c.id for c in plan(items, Policy(daily=0, weekly=0, monthly=0, within=timedelta(hours=12))).kept}
    assert kept == {"b0001", "b0002"}  # 30h is within 12h of 40h; 0h is not


def test_keep_within_durations() -> None:
    from safemigrate.backup.retention import format_duration, parse_duration

    assert parse_duration("0") == timedelta(0)
    assert parse_duration("1d12h") == timedelta(hours=36)
    assert parse_duration("2w") == timedelta(days=14)
    assert format_duration(timedelta(hours=36)) == "1d12h"
    for bad in ("", "1", "1y", "-1d", "1 d", "d"):
        with pytest.raises(UsageError, match="not a duration"):
            parse_duration(bad)


def test_damaged_backup_is_kept_for_inspection_and_not_counted() -> None:
    items = [cand(0, 0), Candidate("b0001", START + timedelta(hours=48), False, damaged=True)]
    result = plan(items, Policy(daily=1, weekly=0, monthly=0, within=timedelta(0)))
    assert {c.id for c in result.kept} == {"b0000", "b0001"}
    reasons = dict((d.candidate.id, d.reasons) for d in result.decisions)
    assert reasons["b0000"][0] == "newest verified backup"
    assert reasons["b0001"][0].startswith("damaged")
