"""create: the same file names golang-migrate's create makes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from safemigrate import SafemigrateError, UsageError
from safemigrate.create import create_migration, go_time_format
from support import run_cli

MOMENT = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


@pytest.mark.parametrize(("layout", "expected"), [
    ("20060102150405", "20260102030405"),
    ("2006-01-02T15:04:05Z07:00", "2026-01-02T03:04:05Z"),
    ("2006.01.02.15.04.05.000", "2026.01.02.03.04.05.123"),
    ("060102_1504", "260102_0304"),
    ("Jan _2 3:04PM Mon", "Jan  2 3:04AM Fri"),
])
def test_go_time_layouts(layout: str, expected: str) -> None:
    assert go_time_format(MOMENT, layout) == expected


def test_numeric_offsets() -> None:
    moment = MOMENT.astimezone(timezone(timedelta(hours=-5, minutes=-30)))
    assert go_time_format(moment, "15:04 -0700 -07:00") == "21:34 -0530 -05:30"


def test_sequential_versions_continue_from_the_last_file(tmp_path: Path) -> None:
    first = create_migration("users", ext="sql", directory=str(tmp_path), seq=True)
    second = create_migration("posts", ext=".sql", directory=str(tmp_path), seq=True)
    assert (first.up.name, first.down.name) == ("000001_users.up.sql", "000001_users.down.sql")
    assert second.up.name == "000002_posts.up.sql"
    assert first.up.read_text() == ""


def test_timestamp_versions_use_utc_by_default_and_honour_tz(tmp_path: Path) -> None:
    created = create_migration("a", ext="sql", directory=str(tmp_path), now=MOMENT)
    assert created.up.name == "20260102030405_a.up.sql"
    paris = create_migration("b", ext="sql", directory=str(tmp_path / "p"), now=MOMENT, timezone="Europe/Paris")
    assert paris.up.name == "20260102040405_b.up.sql"
    unix = create_migration("c", ext="sql", directory=str(tmp_path / "u"), now=MOMENT, time_format="unix")
    assert unix.version == str(int(MOMENT.timestamp()))


def test_duplicate_version_is_refused(tmp_path: Path) -> None:
    create_migration("a", ext="sql", directory=str(tmp_path), now=MOMENT)
    with pytest.raises(SafemigrateError, match="duplicate migration version: 20260102030405"):
        create_migration("b", ext="sql", directory=str(tmp_path), now=MOMENT)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"ext": ""}, "-ext flag must be specified"),
    ({"ext": "sql", "seq": True, "time_format": "unix"}, "mutually exclusive"),
    ({"ext": "sql", "seq": True, "digits": 0}, "Digits must be positive"),
    ({"ext": "sql", "timezone": "Mars/Olympus"}, "unknown time zone"),
])
def test_bad_options_are_usage_errors(tmp_path: Path, kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(UsageError, match=message):
        create_migration("x", directory=str(tmp_path), **kwargs)


def test_sequence_overflow_is_refused(tmp_path: Path) -> None:
    (tmp_path / "99_last.up.sql").write_text("")
    with pytest.raises(SafemigrateError, match="too large"):
        create_migration("x", ext="sql", directory=str(tmp_path), seq=True, digits=2)


def test_cli_create_prints_both_paths(tmp_path: Path) -> None:
    result = run_cli("create", "-ext", "sql", "-dir", str(tmp_path / "migrations"), "-seq", "-digits", "4",
                     "add_users")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [str(tmp_path / "migrations" / "0001_add_users.up.sql"),
                                          str(tmp_path / "migrations" / "0001_add_users.down.sql")]
    missing = run_cli("create", "-ext", "sql")
    assert missing.exit_code == 2 and "please specify name" in missing.stderr
