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
import itertools
import operator
import os
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ._gc import cyclic_gc_paused
from ._record import Record
from .drivers.base import VersionState
from .history import StepFacts
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


class MigrationStatus(Record):
    version: int
    name: str
    state: str  # applied | current | pending | dirty | skipped
    up_file: str | None
    down_file: str | None
    applied_at: datetime | None
    applied_by: str | None
    checksum_matches: bool | None  # None: no record to compare with
    flags: list[str]

    def __init__(self, version: int, name: str, state: str, up_file: str | None, down_file: str | None,
                 applied_at: datetime | None = None, applied_by: str | None = None,
                 checksum_matches: bool | None = None, flags: list[str] | None = None) -> None:
        self.version = version
        self.name = name
        self.state = state
        self.up_file = up_file
        self.down_file = down_file
        self.applied_at = applied_at
        self.applied_by = applied_by
        self.checksum_matches = checksum_matches
        self.flags = [] if flags is None else flags

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


def _applied_by(record: StepFacts) -> str | None:
    return " ".join(
        part for part in (record.os_user and f"{record.os_user}@{record.host}",
                          record.db_user and f"(db user {record.db_user})") if part
    ) or None


def build_status(source: MigrationSource, state: VersionState, history: Sequence[StepFacts],
                 *, database: str, history_available: bool) -> StatusReport:
    with cyclic_gc_paused():  # a row per file (10,000 and more), no cycle among them
        return _build_status(source, state, history, database=database, history_available=history_available)


def _build_status(source: MigrationSource, state: VersionState, history: Sequence[StepFacts],
                  *, database: str, history_available: bool) -> StatusReport:
    current = state.version
    applied, spans = _replay(history)
    jumped_over = _JumpedOver(spans)
    any_jumped_over = bool(spans)
    up_sha256 = source.up_hasher()
    # "user@host (db user ...)" once per author, not once per row: most histories have a few.
    authors: dict[tuple[str | None, str | None, str | None], str | None] = {}
    problems: list[Problem] = []
    rows: list[MigrationStatus] = []
    # Each version from the folder's listing, as text: no file object or Path is built for a
    # row without a problem (10,000 rows, each with two files), and each applied up file is
    # hashed straight from its descriptor.
    dirty = state.dirty
    append = rows.append
    for version, name, up_file, down_file in source.listing():
        # Each row built once with its values (the state, then the record's facts), not assigned
        # field by field afterwards: 10,000 rows.
        if current is None or version > current:
            row_state = "pending"
        elif version < current:
            row_state = "applied"
        else:
            row_state = "dirty" if dirty else "current"
        record = applied.get(version)
        if record is None:
            row = MigrationStatus(version, name, row_state, up_file, down_file)
            if row_state != "pending" and any_jumped_over and jumped_over(version):
                migration = source.migrations[version]
                row.state = "skipped"
                row.flags.append("skipped")
                problems.append(Problem(
                    "skipped", f"version {version} ({migration.name}) is numbered below the current "
                    f"version {current} but was never applied: it arrived after a later migration ran, "
                    "and golang-migrate never applies it",
                    f"renumber {migration.up.path.name if migration.up else version} above {current} "
                    "(safemigrate create -seq makes the next number), or apply its SQL by hand",
                    version))
        else:
            author = (record.os_user, record.host, record.db_user)
            applied_by = authors.get(author, "")  # "": not seen yet (never a value: None instead)
            if applied_by == "":
                applied_by = authors[author] = _applied_by(record)
            recorded = record.checksum
            if up_file is None or not recorded:
                row = MigrationStatus(version, name, row_state, up_file, down_file, record.applied_at, applied_by)
            else:
                checksum = up_sha256(version, up_file)
                matches = checksum == recorded
                row = MigrationStatus(version, name, row_state, up_file, down_file, record.applied_at, applied_by,
                                      matches)
                if not matches and row_state != "pending":
                    row.flags.append("edited")
                    problems.append(Problem(
                        "edited", f"{os.path.basename(up_file)} was edited after it was applied "
                        f"(SHA-256 {recorded[:12]}... when applied, {(checksum or '')[:12]}... now)",
                        "revert the edit and put the change in a new migration (safemigrate create)",
                        version))
        if down_file is None or up_file is None:
            if up_file is not None:
                row.flags.append("no-down")
                digits = len(os.path.basename(up_file).split("_")[0])
                problems.append(Problem(
                    "no-down", f"version {version} ({name}) has no down file: "
                    "it cannot be rolled back",
                    f"write {version:0{digits}d}_{name}.down.sql",
                    version, fails_check=False))
            else:
                row.flags.append("no-up")
                problems.append(Problem(
                    "no-up", f"version {version} ({name}) has no up file: up only moves the version",
                    "add the up file if this version should change anything", version, fails_check=False))
        append(row)
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
_VERSION = operator.attrgetter("version")
_NAME = operator.attrgetter("name")
_STATE = operator.attrgetter("state")
_APPLIED_AT = operator.attrgetter("applied_at")


def _applied_texts(migrations: list[MigrationStatus]) -> list[str]:
    """Each row's applied time as the table shows it: the datetime's own fields (not asking its
    time zone for an offset), as strftime's ``"%Y-%m-%d %H:%M:%S UTC"`` gives them."""
    two = _TWO_DIGITS
    return [
        "" if at is None
        else f"{year}-{two[at.month]}-{two[at.day]} {two[at.hour]}:{two[at.minute]}:{two[at.second]} UTC"
        if (year := at.year) >= 1000 else at.strftime("%Y-%m-%d %H:%M:%S UTC")  # below 1000, %Y has no zeros
        for at in map(_APPLIED_AT, migrations)
    ]


def status_table(migrations: list[MigrationStatus]) -> list[str]:
    """The status table's lines: the header, then one row per migration, columns padded to their
    widest cell and two spaces apart, trailing blanks cut.

    Built column by column, each cell padded and each row joined by C-level ``map`` calls, with no
    Python function call per row or per cell: 10,000 rows used to cost a generator per cell
    (padding and widths), then a format template parsed again for every row, more than
    everything else status prints.
    """
    columns = (
        list(map(str, map(_VERSION, migrations))),
        list(map(_NAME, migrations)),
        list(map(_STATE, migrations)),
        _applied_texts(migrations),
        [m.applied_by or "" for m in migrations],
        [",".join(m.flags) if m.flags else "" for m in migrations],
    )
    widths = [max(len(title), max(map(len, cells), default=0))
              for title, cells in zip(_TABLE_HEADER, columns, strict=True)]
    count = len(migrations)
    # The last cell is not padded: the padding would be cut with the trailing blanks anyway.
    # Lazily, row by row: no column of padded cells is held (10,000 strings each).
    padded = [map(str.ljust, cells, itertools.repeat(width, count))
              for cells, width in zip(columns[:-1], widths, strict=False)]
    header = "  ".join(title.ljust(width) for title, width in zip(_TABLE_HEADER[:-1], widths, strict=False))
    with cyclic_gc_paused():
        return [(header + "  " + _TABLE_HEADER[-1]).rstrip(),
                *map(str.rstrip, map("  ".join, zip(*padded, columns[-1], strict=True)))]
