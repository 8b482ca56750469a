"""Calendar retention with restic's semantics, as pure functions.

For each of the ``daily`` most recent days that have a (verified) backup, keep that day's
newest; likewise for ISO weeks and months. One backup may count for several rules. Buckets
are computed in an explicit time zone (default UTC). Only verified backups fill the buckets;
pinned backups are always kept and never count; the newest verified backup is always kept;
an unverified backup newer than the newest verified one is kept (it may be waiting for its
verification), and older unverified ones are removed. With no verified backup at all,
nothing is removed.

``within`` is restic's ``--keep-within``: every backup created within that duration of the
newest backup is kept (default one day, so the day's manual pre-migration backup survives the
nightly prune; 0 turns it off). A backup whose files were found damaged by prune's own re-check
(``damaged``) is not verified any more: it is kept for inspection, never counted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import UsageError

__all__ = ["Candidate", "Decision", "Policy", "RetentionPlan", "format_duration", "parse_duration", "plan",
           "resolve_timezone"]

_DURATION_PART = re.compile(r"(\d+)([wdh])")
_UNITS = {"w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1)}


def parse_duration(text: str) -> timedelta:
    """``0``, ``1d``, ``36h``, ``1w2d``, ``1d12h`` (restic's ``--keep-within`` style; no years or months)."""
    value = text.strip().lower()
    if value == "0":
        return timedelta(0)
    if not value or _DURATION_PART.sub("", value):
        raise UsageError(f"`keep_within` {text!r} is not a duration",
                         hint="write it as a number with a unit: 1d, 36h, 2w, 1d12h (0 turns it off)",
                         settings=("keep_within",))
    total = timedelta(0)
    for number, unit in _DURATION_PART.findall(value):
        total += int(number) * _UNITS[unit]
    return total


def format_duration(span: timedelta) -> str:
    hours = int(span.total_seconds() // 3600)
    days, hours = divmod(hours, 24)
    text = (f"{days}d" if days else "") + (f"{hours}h" if hours else "")
    return text or "0"


@dataclass(frozen=True)
class Policy:
    daily: int = 7
    weekly: int = 4
    monthly: int = 12
    timezone: str = "UTC"
    within: timedelta = timedelta(days=1)

    def __post_init__(self) -> None:
        for name in ("daily", "weekly", "monthly"):
            if getattr(self, name) < 0:
                raise UsageError(f"`backup.keep_{name}` must be 0 or more", hint=f"for example `backup.keep_{name}` 7",
                                 settings=(f"backup.keep_{name}",))
        if self.within < timedelta(0):
            raise UsageError("`keep_within` must be 0 or more", hint="for example `keep_within` 1d",
                             settings=("keep_within",))

    def describe(self) -> str:
        within = (f", everything within {format_duration(self.within)} of the newest backup"
                  if self.within else "")
        return f"{self.daily} daily, {self.weekly} weekly, {self.monthly} monthly ({self.timezone}){within}"


@dataclass(frozen=True)
class Candidate:
    id: str
    created: datetime  # timezone-aware
    verified: bool
    pinned: bool = False
    damaged: bool = False  # its files no longer match the manifest (found by prune's re-check)


@dataclass(frozen=True)
class Decision:
    candidate: Candidate
    keep: bool
    reasons: tuple[str, ...]


@dataclass
class RetentionPlan:
    policy: Policy
    decisions: list[Decision] = field(default_factory=list)  # newest first

    @property
    def kept(self) -> list[Candidate]:
        return [d.candidate for d in self.decisions if d.keep]

    @property
    def removed(self) -> list[Candidate]:
        return [d.candidate for d in self.decisions if not d.keep]


def resolve_timezone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"unknown time zone {name!r}",
                         hint="use an IANA name such as UTC, Europe/Berlin or America/New_York") from None


def _rules(tz: tzinfo) -> list[tuple[str, Callable[[datetime], Hashable]]]:
    def day(moment: datetime) -> Hashable:
        return moment.astimezone(tz).date()

    def week(moment: datetime) -> Hashable:
        iso = moment.astimezone(tz).isocalendar()
        return (iso.year, iso.week)

    def month(moment: datetime) -> Hashable:
        local = moment.astimezone(tz)
        return (local.year, local.month)

    return [("daily", day), ("weekly", week), ("monthly", month)]


def plan(candidates: Sequence[Candidate], policy: Policy) -> RetentionPlan:
    tz = resolve_timezone(policy.timezone)
    ordered = sorted(candidates, key=lambda c: (c.created, c.id), reverse=True)
    verified = [c for c in ordered if c.verified]
    reasons: dict[str, list[str]] = {c.id: [] for c in ordered}
    for c in ordered:
        if c.pinned:
            reasons[c.id].append("pinned")
        if c.damaged:
            reasons[c.id].append("damaged: its files do not match the manifest (checked now); not counted, "
                                 "kept for inspection")
    if ordered and policy.within:
        newest_any = max(c.created for c in ordered)
        for c in ordered:
            if c.created > newest_any - policy.within:
                reasons[c.id].append(f"within {format_duration(policy.within)} of the newest backup")
    if not verified:
        for c in ordered:
            if not c.pinned:
                reasons[c.id].append("no verified backup yet: nothing is removed")
    else:
        newest = verified[0]
        reasons[newest.id].append("newest verified backup")
        for c in ordered:
            if not c.verified and not c.pinned and (c.created, c.id) > (newest.created, newest.id):
                reasons[c.id].append("not verified yet, newer than the newest verified backup")
        limits = {"daily": policy.daily, "weekly": policy.weekly, "monthly": policy.monthly}
        for rule, bucket_of in _rules(tz):
            remaining = limits[rule]
            last: Hashable = object()
            for c in verified:
                if c.pinned:
                    continue
                if remaining <= 0:
                    break
                bucket = bucket_of(c.created)
                if bucket != last:
                    last = bucket
                    remaining -= 1
                    reasons[c.id].append(f"{rule} {_label(rule, bucket)}")
    result = RetentionPlan(policy)
    for c in ordered:
        why = reasons[c.id]
        result.decisions.append(Decision(c, bool(why), tuple(why) if why else (_why_removed(c),)))
    return result


def _label(rule: str, bucket: Hashable) -> str:
    if rule == "weekly" and isinstance(bucket, tuple):
        return f"{bucket[0]}-W{bucket[1]:02d}"
    if rule == "monthly" and isinstance(bucket, tuple):
        return f"{bucket[0]}-{bucket[1]:02d}"
    return str(bucket)


def _why_removed(c: Candidate) -> str:
    if not c.verified:
        return "not verified and older than the newest verified backup"
    return "not needed by the policy"
