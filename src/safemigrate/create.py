"""``create``: a new pair of empty up/down files, named as golang-migrate's ``create`` names them."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import CreateFailedError, UsageError

__all__ = ["DEFAULT_TIME_FORMAT", "CreatedFiles", "create_migration", "go_time_format"]

DEFAULT_TIME_FORMAT = "20060102150405"

_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


@dataclass(frozen=True)
class CreatedFiles:
    version: str
    up: Path
    down: Path


def _offset(moment: datetime, colon: bool, seconds: bool, z: bool, hours_only: bool = False) -> str:
    delta = moment.utcoffset()
    total = int(delta.total_seconds()) if delta is not None else 0
    if z and total == 0:
        return "Z"
    sign = "-" if total < 0 else "+"
    total = abs(total)
    hh, mm, ss = total // 3600, (total // 60) % 60, total % 60
    if hours_only:
        return f"{sign}{hh:02d}"
    sep = ":" if colon else ""
    text = f"{sign}{hh:02d}{sep}{mm:02d}"
    if seconds:
        text += f"{sep}{ss:02d}"
    return text


def go_time_format(moment: datetime, layout: str) -> str:
    """Format ``moment`` with a Go reference-time layout (``2006-01-02 15:04:05``), as time.Format does."""
    out: list[str] = []
    i = 0
    n = len(layout)

    def at(token: str) -> bool:
        return layout.startswith(token, i)

    while i < n:
        tokens: list[tuple[str, str]] = [
            ("January", _MONTHS[moment.month - 1]), ("Jan", _MONTHS[moment.month - 1][:3]),
            ("Monday", _DAYS[moment.weekday()]), ("Mon", _DAYS[moment.weekday()][:3]),
            ("MST", moment.tzname() or "UTC"),
            ("2006", f"{moment.year:04d}"), ("002", f"{moment.timetuple().tm_yday:03d}"),
            ("01", f"{moment.month:02d}"), ("02", f"{moment.day:02d}"), ("03", f"{(moment.hour % 12) or 12:02d}"),
            ("04", f"{moment.minute:02d}"), ("05", f"{moment.second:02d}"), ("06", f"{moment.year % 100:02d}"),
            ("15", f"{moment.hour:02d}"), ("_2", f"{moment.day:>2d}"),
            ("Z07:00:00", _offset(moment, True, True, True)), ("Z070000", _offset(moment, False, True, True)),
            ("Z07:00", _offset(moment, True, False, True)), ("Z0700", _offset(moment, False, False, True)),
            ("Z07", _offset(moment, False, False, True, hours_only=True)),
            ("-07:00:00", _offset(moment, True, True, False)), ("-070000", _offset(moment, False, True, False)),
            ("-07:00", _offset(moment, True, False, False)), ("-0700", _offset(moment, False, False, False)),
            ("-07", _offset(moment, False, False, False, hours_only=True)),
            ("PM", "PM" if moment.hour >= 12 else "AM"), ("pm", "pm" if moment.hour >= 12 else "am"),
            ("1", str(moment.month)), ("2", str(moment.day)), ("3", str((moment.hour % 12) or 12)),
            ("4", str(moment.minute)), ("5", str(moment.second)),
        ]
        for token, value in tokens:
            if at(token):
                out.append(value)
                i += len(token)
                break
        else:
            ch = layout[i]
            if ch in ".," and i + 1 < n and layout[i + 1] in "09":
                j = i + 1
                digit = layout[i + 1]
                while j < n and layout[j] == digit:
                    j += 1
                if j >= n or not layout[j].isdigit():
                    width = j - i - 1
                    fraction = f"{moment.microsecond:06d}000"[:width]
                    if digit == "9":
                        fraction = fraction.rstrip("0")
                        out.append(ch + fraction if fraction else "")
                    else:
                        out.append(ch + fraction)
                    i = j
                    continue
            out.append(ch)
            i += 1
    return "".join(out)


def _next_sequence(directory: Path, ext: str, digits: int) -> str:
    if digits <= 0:
        raise UsageError("Digits must be positive", hint="use `digits` N with N >= 1 (default 6)",
                         settings=("digits",))
    matches = sorted(glob.glob(os.path.join(glob.escape(str(directory)), "*" + ext)))
    next_seq = 1
    if matches:
        base = os.path.basename(matches[-1])
        idx = base.find("_")
        if idx < 1:
            raise CreateFailedError(f"Malformed migration filename: {matches[-1]}",
                                    hint="rename or move the file, then run create again")
        try:
            next_seq = int(base[:idx]) + 1
        except ValueError:
            raise CreateFailedError(f"Malformed migration filename: {matches[-1]}",
                                    hint="rename or move the file, then run create again") from None
    version = f"{next_seq:0{digits}d}"
    if len(version) > digits:
        raise CreateFailedError(f"Next sequence number {version} too large. At most {digits} digits are allowed",
                                hint=f"use `digits` {len(version)} or more", settings=("digits",))
    return version


# A name or extension may not reach outside -dir or hide a path in the file name.
_FORBIDDEN = ("/", "\\", "..", "\x00")


def _check_part(value: str, what: str, example: str) -> None:
    bad = [f for f in _FORBIDDEN if f in value]
    if bad:
        shown = "NUL" if bad[0] == "\x00" else repr(bad[0])
        raise UsageError(f"`{what}` {value!r} contains {shown}: the files must be created inside `directory`",
                         hint=f"use a plain word such as {example}; choose the folder with `directory`",
                         settings=(what, "directory"))


def _check_version(version: str, time_format: str) -> None:
    """The version must be digits: golang-migrate's file pattern reads ^([0-9]+)_ and nothing else."""
    if not version.isdigit() or not version.isascii():
        raise UsageError(
            f"`time_format` {time_format!r} gives the version {version!r}, which is not a number: "
            "the files would be ignored by up (and could land outside `directory`)",
            hint="use a layout of digits only, such as 20060102150405 (the default), unix or unixNano",
            settings=("time_format", "directory"),
        )


def _name_max(folder: Path) -> int:
    """The longest file name the folder's file system takes (its nearest existing ancestor's)."""
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        return os.pathconf(probe, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def _check_length(folder: Path, names: list[str]) -> None:
    limit = _name_max(folder)
    longest = max(names, key=lambda n: len(os.fsencode(n)))
    size = len(os.fsencode(longest))
    if size > limit:
        raise UsageError(f"the file name would be {size} bytes long; the file system allows {limit}",
                         hint="use a shorter NAME (or fewer `digits`)", settings=("digits",))


def _write_pair(folder: Path, names: list[str]) -> list[Path]:
    """Create both empty files, or neither: a half-created pair is removed."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CreateFailedError(f"cannot create the folder {folder}: {exc.strerror}",
                                hint="choose a writable folder with `directory`", settings=("directory",)) from None
    created: list[Path] = []
    try:
        for file_name in names:
            path = folder / file_name
            with open(path, "x", encoding="utf-8"):
                pass
            created.append(path)
    except FileExistsError as exc:
        _remove(created)
        raise CreateFailedError(f"{exc.filename} already exists", hint="choose another name") from None
    except OSError as exc:
        _remove(created)
        raise CreateFailedError(f"cannot create {exc.filename or folder}: {exc.strerror}",
                                hint="choose a writable folder with `directory`", settings=("directory",)) from None
    return [p.resolve() for p in created]


def _remove(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def create_migration(name: str, *, ext: str, directory: str = "", seq: bool = False, digits: int = 6,
                     time_format: str = DEFAULT_TIME_FORMAT, timezone: str = "UTC",
                     now: datetime | None = None) -> CreatedFiles:
    """golang-migrate's createCmd: two empty files, refusing a version that already exists."""
    if not name:
        raise UsageError("please specify name", hint="safemigrate create -ext sql -dir migrations NAME")
    if not ext:
        # golang-migrate's exact words in the CLI ("-ext flag must be specified")
        raise UsageError("`ext` flag must be specified", hint="for SQL files: `ext` sql", settings=("ext",))
    if seq and time_format != DEFAULT_TIME_FORMAT:
        raise UsageError("The seq and format options are mutually exclusive")
    _check_part(name, "NAME", "add_users")
    _check_part(ext, "ext", "sql")
    if digits > 255:  # also keeps f"{n:0{digits}d}" from building a huge string
        raise UsageError(f"`digits` {digits} is more than a file name can hold", hint="use `digits` 6 (the default)",
                         settings=("digits",))
    ext = "." + ext.lstrip(".")
    folder = Path(os.path.normpath(directory or "."))
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"`directory` {str(folder)!r} is a file, not a folder", hint="choose a folder with `directory`",
                         settings=("directory",))
    if seq:
        version = _next_sequence(folder, ext, digits)
    else:
        try:
            zone = ZoneInfo("UTC" if timezone in ("", "UTC", "utc") else timezone) \
                if timezone != "Local" else None
        except (ZoneInfoNotFoundError, ValueError):
            raise UsageError(f"unknown time zone {timezone!r}",
                             hint="use an IANA name such as UTC or Europe/Paris, or Local") from None
        moment = now or datetime.now().astimezone()
        moment = moment.astimezone(zone) if zone is not None else moment.astimezone()
        if time_format == "":
            raise UsageError("Time format may not be empty")
        if time_format == "unix":
            version = str(int(moment.timestamp()))
        elif time_format == "unixNano":
            version = str(int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000)
        else:
            version = go_time_format(moment, time_format)
        _check_version(version, time_format)
    names = [f"{version}_{name}.{direction}{ext}" for direction in ("up", "down")]
    _check_length(folder, names)
    if glob.glob(os.path.join(glob.escape(str(folder)), glob.escape(version) + "_*" + glob.escape(ext))):
        raise CreateFailedError(f"duplicate migration version: {version}",
                                hint="wait a second (timestamps) or use `seq`", settings=("seq",))
    up, down = _write_pair(folder, names)
    return CreatedFiles(version, up, down)
