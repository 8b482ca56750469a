"""``status``: every migration file against what the database says and what the history recorded.

golang-migrate's model is linear: every version up to the current one counts as
applied. The history table lets us be exact where golang-migrate is blind:

* a file edited after it was applied (its SHA-256 differs from the one recorded);
* a file numbered below the current version that was never applied because it
  arrived after a later version had run (golang-migrate silently never runs it):
  detected when a recorded up step jumped over its version;
* the database's version missing from the folder; a dirty database;
* a version with no down (or no up) file; files that look like migrations but are ignored.
"""

from __future__ import annotations

import bisect
import operator
import os
from collections.abc import Sequence
from datetime import datetime
from itertools import compress, repeat
from typing import Any, NamedTuple

from ._gc import cyclic_gc_paused
from ._record import Record
from .drivers.base import VersionState
from .history import HistoryStep, StepFacts
from .source import MigrationSource

__all__ = ["MigrationStatus", "Problem", "StatusReport", "build_status", "status_table"]


# Records, not dataclasses: generating and compiling the three classes' methods at import cost
# every status run about 10 M instructions (see _record).
class Problem(Record, frozen=True):
    code: str
    message: str
    hint: str
    version: int | None
    fails_check: bool  # counts for ``status --exit-code``

    def __init__(self, code: str, message: str, hint: str, version: int | None = None,
                 fails_check: bool = True) -> None:
        self.__dict__.update(code=code, message=message, hint=hint, version=version, fails_check=fails_check)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "hint": self.hint, "version": self.version,
                "fails_check": self.fails_check}


class _MigrationStatusFields(NamedTuple):
    version: int
    name: str
    state: str  # applied | current | pending | dirty | skipped
    up_file: str | None
    down_file: str | None
    applied_at: datetime | None
    applied_by: str | None
    checksum_matches: bool | None  # None: no record to compare with
    flags: list[str]


class MigrationStatus(_MigrationStatusFields):
    """One row of the status: a named tuple, so that :func:`build_status` builds the 10,000 rows
    of a large folder from its columns in one C-level call (no Python ``__init__`` per row) and
    the table reads its columns back the same way."""

    __slots__ = ()

    def __new__(cls, version: int, name: str, state: str, up_file: str | None, down_file: str | None,
                applied_at: datetime | None = None, applied_by: str | None = None,
                checksum_matches: bool | None = None, flags: list[str] | None = None) -> MigrationStatus:
        return tuple.__new__(cls, (version, name, state, up_file, down_file, applied_at, applied_by,
                                   checksum_matches, [] if flags is None else flags))

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "name": self.name,
            "state": self.state,
            "up_file": self.up_file,
            "down_file": self.down_file,
            "applied_at": self.applied_at.isoformat() if self.applied_at else None,
            "applied_by": self.applied_by,
            "checksum_matches": self.checksum_matches,
            "flags": self.flags,
        }


class StatusReport(Record):
    database: str
    migrations_dir: str
    version: VersionState
    migrations: list[MigrationStatus]
    problems: list[Problem]
    history_available: bool
    history_error: str | None  # the history exists but cannot be read (a missing privilege)

    def __init__(self, database: str, migrations_dir: str, version: VersionState,
                 migrations: list[MigrationStatus], problems: list[Problem], history_available: bool,
                 history_error: str | None = None) -> None:
        self.database = database
        self.migrations_dir = migrations_dir
        self.version = version
        self.migrations = migrations
        self.problems = problems
        self.history_available = history_available
        self.history_error = history_error

    @property
    def pending(self) -> list[int]:
        return [m.version for m in self.migrations if m.state in ("pending", "skipped")]

    @property
    def ok(self) -> bool:
        """False when something is pending or wrong (what ``status --exit-code`` checks)."""
        return not self.pending and not any(p.fails_check for p in self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": True,
            "database": self.database,
            "migrations_dir": self.migrations_dir,
            "version": self.version.version,
            "dirty": self.version.dirty,
            "pending": self.pending,
            "up_to_date": self.ok,
            "history_available": self.history_available,
            "history_error": self.history_error,
            "migrations": [m.to_dict() for m in self.migrations],
            "problems": [p.to_dict() for p in self.problems],
        }


def _replay(history: Sequence[StepFacts]) -> tuple[dict[int, StepFacts], list[tuple[int, int]]]:
    """Replay the history in one pass: which versions are applied now, and the record that applied
    each; and the (from_version, version) of each applied up step that went over a whole version
    (None as -1), in history order, for :class:`_JumpedOver`."""
    applied: dict[int, StepFacts] = {}
    spans: list[tuple[int, int]] = []
    for record in history:
        if record.outcome != "applied":
            continue
        direction = record.direction
        if direction == "up":
            version = record.version
            applied[version] = record
            start = record.from_version
            if start is None:
                start = -1
            if version - start >= 2:  # a whole version lies strictly between them
                spans.append((start, version))
        elif direction == "down":
            applied.pop(record.version, None)
    return applied, spans


class _JumpedOver:
    """Which versions a recorded up step went over, i.e. skipped (from below a version to above it).

    The applied up steps' open intervals (from_version, version) are merged once, so asking about
    one version is a binary search: ``status`` stays linear in the number of files and history rows
    (it used to scan the whole history for every file, which took seconds at 10,000 of each).
    Only the steps that went over a version are sorted (usually none: each step moves by one).
    """

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        """``spans``: the (from_version, version) of the steps that went over a version, as
        :func:`_replay` gives them."""
        intervals = sorted(spans)
        self._starts: list[int] = []
        self._ends: list[int] = []
        for start, end in intervals:
            if self._ends and start < self._ends[-1] - 1:
                # Overlaps the previous interval on at least one version: extend it.
                self._ends[-1] = max(self._ends[-1], end)
            else:
                self._starts.append(start)
                self._ends.append(end)

    def __call__(self, version: int) -> bool:
        """True when some applied up step had ``from_version < version < version it applied``."""
        i = bisect.bisect_left(self._starts, version) - 1  # the last interval starting below version
        return i >= 0 and version < self._ends[i]


def _applied_by(os_user: str | None, host: str | None, db_user: str | None) -> str | None:
    """A record's author as the table shows it: ``user@host (db user NAME)``, or None."""
    return " ".join(
        part for part in (os_user and f"{os_user}@{host}", db_user and f"(db user {db_user})") if part
    ) or None


def build_status(source: MigrationSource, state: VersionState, history: Sequence[StepFacts],
                 *, database: str, history_available: bool) -> StatusReport:
    with cyclic_gc_paused():  # a row per file (10,000 and more), no cycle among them
        return _build_status(source, state, history, database=database, history_available=history_available)


# What a version with no applied record has of one: no time, author or checksum.
_NO_RECORD = HistoryStep(0, "", "", None, None, None, None, None, None)  # type: ignore[arg-type]
_CHECKSUM = operator.attrgetter("checksum")
_AUTHOR = operator.attrgetter("os_user", "host", "db_user")
_RECORD_APPLIED_AT = operator.attrgetter("applied_at")


def _states(versions: list[int], current: int | None, dirty: bool) -> list[str]:
    """Each version's state by its place against the current version (``versions`` ascending)."""
    count = len(versions)
    if current is None:
        return ["pending"] * count
    below = bisect.bisect_left(versions, current)
    at = below < count and versions[below] == current
    return ["applied"] * below + ["dirty" if dirty else "current"] * at + ["pending"] * (count - below - at)


def _build_status(source: MigrationSource, state: VersionState, history: Sequence[StepFacts],
                  *, database: str, history_available: bool) -> StatusReport:
    """The rows are built column by column, each column by C-level ``map`` calls over the
    folder's listing (no Path or file object, and no Python step per row but the hashing loop):
    then only the rows with something to say (skipped, edited, a missing file) are looked at one
    by one. Built one by one, 10,000 rows cost nearly as much as hashing their 10,000 files."""
    current = state.version
    applied, spans = _replay(history)
    versions, names, up_files, down_files = source.columns()
    count = len(versions)
    states = _states(versions, current, state.dirty)
    records = list(map(applied.get, versions, repeat(_NO_RECORD, count)))
    # Hashed: each file whose version has a recorded checksum (and an up file to compare).
    recorded: list[str | None] = list(map(_CHECKSUM, records))
    # all(): no None among the paths (each a non-empty text), without comparing each with None
    every_up, every_down = all(up_files), all(down_files)
    if not every_up:
        hashed = [bool(checksum) and up is not None for checksum, up in zip(recorded, up_files, strict=True)]
    else:
        hashed = list(map(operator.truth, recorded))
    digests = source.up_sha256s(list(compress(versions, hashed)), list(compress(up_files, hashed)))  # type: ignore[arg-type]
    hashed_matches = list(map(operator.eq, digests, compress(recorded, hashed)))
    if all(hashed):
        matches: list[bool | None] = hashed_matches
    else:
        next_match = iter(hashed_matches).__next__
        matches = [next_match() if is_hashed else None for is_hashed in hashed]
    # "user@host (db user ...)" once per author, not once per row: most histories have a few.
    authors = list(map(_AUTHOR, records))
    author_texts = {author: _applied_by(*author) for author in set(authors)}
    flags: list[list[str]] = list(map(list, repeat((), count)))
    # Each row's problems, by row: they are listed in the rows' order.
    row_problems: dict[int, list[Problem]] = {}
    if spans:
        jumped_over = _JumpedOver(spans)
        for i, record in enumerate(records):
            version = versions[i]
            if record is _NO_RECORD and states[i] != "pending" and jumped_over(version):
                migration = source.migrations[version]
                states[i] = "skipped"
                flags[i].append("skipped")
                row_problems.setdefault(i, []).append(Problem(
                    "skipped", f"version {version} ({migration.name}) is numbered below the current "
                    f"version {current} but was never applied: it arrived after a later migration ran, "
                    "and golang-migrate never applies it",
                    f"renumber {migration.up.path.name if migration.up else version} above {current} "
                    "(safemigrate create -seq makes the next number), or apply its SQL by hand",
                    version))
    if not all(hashed_matches):
        for i, digest, matched in zip(compress(range(count), hashed), digests, hashed_matches, strict=True):
            if not matched and states[i] != "pending":
                flags[i].append("edited")
                row_problems.setdefault(i, []).append(Problem(
                    "edited", f"{os.path.basename(up_files[i] or '')} was edited after it was applied "
                    f"(SHA-256 {(recorded[i] or '')[:12]}... when applied, {digest[:12]}... now)",
                    "revert the edit and put the change in a new migration (safemigrate create)",
                    versions[i]))
    if not (every_up and every_down):
        for i, (version, name, up_file, down_file) in enumerate(zip(versions, names, up_files, down_files, strict=True)):
            if up_file is None:
                flags[i].append("no-up")
                row_problems.setdefault(i, []).append(Problem(
                    "no-up", f"version {version} ({name}) has no up file: up only moves the version",
                    "add the up file if this version should change anything", version, fails_check=False))
            elif down_file is None:
                flags[i].append("no-down")
                digits = len(os.path.basename(up_file).split("_")[0])
                row_problems.setdefault(i, []).append(Problem(
                    "no-down", f"version {version} ({name}) has no down file: "
                    "it cannot be rolled back",
                    f"write {version:0{digits}d}_{name}.down.sql",
                    version, fails_check=False))
    rows = list(map(tuple.__new__, repeat(MigrationStatus, count), zip(
        versions, names, states, up_files, down_files, map(_RECORD_APPLIED_AT, records),
        map(author_texts.__getitem__, authors), matches, flags, strict=True)))
    problems = [problem for i in sorted(row_problems) for problem in row_problems[i]]
    if state.dirty:
        problems.append(Problem(
            "dirty", f"the database is dirty at version {state.as_int}: a migration did not finish",
            f"safemigrate recover diagnoses version {state.as_int} against the catalog and finishes or undoes "
            "it; or repair the database, then run safemigrate force V (see the error of the failed run)",
            state.version))
    if current is not None and not source.exists(current):
        problems.append(Problem(
            "version-missing", f"the database is at version {current} but {source.directory} has no file "
            "for it", "check -path: this database may have been migrated from a newer folder", current))
    for warning in source.warnings:
        # an ignored file never runs (fails the check); a link out of the folder runs, and is a warning
        problems.append(Problem(warning.flag, str(warning), warning.hint,
                                fails_check=warning.flag == "ignored-file"))
    return StatusReport(database=database, migrations_dir=str(source.directory), version=state,
                        migrations=rows, problems=problems, history_available=history_available)


_TABLE_HEADER = ("VERSION", "NAME", "STATE", "APPLIED", "BY", "FLAGS")


# Two-digit texts of 0..99: a month, day, hour, minute or second as the table shows it, by index
# (``"%02d" % n`` takes the slow path of padded integer formatting, about 1,200 instructions each).
_TWO_DIGITS = tuple(f"{n:02d}" for n in range(100))
_NO_TEXT = {None: ""}  # the cell of a row without an author


def _applied_texts(times: Sequence[datetime | None]) -> list[str]:
    """Each row's applied time as the table shows it: the datetime's own fields (not asking its
    time zone for an offset), as strftime's ``"%Y-%m-%d %H:%M:%S UTC"`` gives them (``str`` of
    an aware datetime, which asks, costs about twice as much)."""
    two = _TWO_DIGITS
    return [
        "" if at is None
        else f"{year}-{two[at.month]}-{two[at.day]} {two[at.hour]}:{two[at.minute]}:{two[at.second]} UTC"
        if (year := at.year) >= 1000 else at.strftime("%Y-%m-%d %H:%M:%S UTC")  # below 1000, %Y has no zeros
        for at in times
    ]


def status_table(migrations: list[MigrationStatus]) -> list[str]:
    """The status table's lines: the header, then one row per migration, columns padded to their
    widest cell and two spaces apart, trailing blanks cut.

    Built column by column (the rows' fields read back as columns by one ``zip``), each cell
    padded and each row joined by C-level ``map`` calls, with no Python function call per row or
    per cell: 10,000 rows used to cost a generator per cell (padding and widths), then a format
    template parsed again for every row, more than everything else status prints.
    """
    count = len(migrations)
    fields = list(zip(*migrations, strict=True)) if migrations else [()] * len(_MigrationStatusFields._fields)
    versions, names, states, _up, _down, times, authors, _matches, flags = fields
    columns: tuple[Sequence[str], ...] = (
        list(map(str, versions)),
        names,
        states,
        _applied_texts(times),
        list(map(_NO_TEXT.get, authors, authors)),
        list(map(",".join, flags)),
    )
    widths = [max(len(title), max(map(len, cells), default=0))
              for title, cells in zip(_TABLE_HEADER, columns, strict=True)]
    header = "  ".join(title.ljust(width) for title, width in zip(_TABLE_HEADER[:-1], widths, strict=False))
    # The columns after the last one with a cell to show (FLAGS, usually) would only add blanks,
    # and the last shown is not padded: that padding would be cut with the trailing blanks anyway
    # (and a row that then ends in its cell is not copied again by rstrip).
    shown = len(columns)
    while shown > 1 and not any(columns[shown - 1]):
        shown -= 1
    # Lazily, row by row: no column of padded cells is held (10,000 strings each).
    padded = [map(str.ljust, cells, repeat(width, count))
              for cells, width in zip(columns[:shown - 1], widths, strict=False)]
    with cyclic_gc_paused():
        return [(header + "  " + _TABLE_HEADER[-1]).rstrip(),
                *map(str.rstrip, map("  ".join, zip(*padded, columns[shown - 1], strict=True)))]
