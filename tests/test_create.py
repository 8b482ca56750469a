"""create: the same file names golang-migrate's create makes."""

from __future__ import annotations

import os
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
    ({"ext": ""}, "`ext` flag must be specified"),  # the CLI says -ext (golang-migrate's words)
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


def _all_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize(("argv", "message"), [
    (("-format", "../2006"), "is not a number"),
    (("-format", "2006/01"), "is not a number"),
    (("-format", "2006-01-02"), "is not a number"),
    (("-ext", "sql/../../x"), "contains '/'"),
])
def test_create_never_writes_outside_dir(tmp_path: Path, argv: tuple[str, ...], message: str) -> None:
    base = tmp_path / "project"
    (base / "migrations").mkdir(parents=True)
    options = ("-ext", "sql", *argv) if argv[0] != "-ext" else argv
    result = run_cli("create", *options, "-dir", str(base / "migrations"), "users", cwd=base)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "next:" in result.stderr
    assert _all_files(tmp_path) == {"project", "project/migrations"}


@pytest.mark.parametrize("name", ["../evil", "a/b", "a\\b", "..", "x..y"])
def test_create_refuses_a_name_with_a_path_in_it(tmp_path: Path, name: str) -> None:
    result = run_cli("create", "-ext", "sql", "-dir", str(tmp_path / "m"), "-seq", name)
    assert result.exit_code == 2 and "must be created inside -dir" in result.stderr, result.output
    assert not (tmp_path / "m").exists() and list(tmp_path.iterdir()) == []


def test_create_refuses_a_name_too_long_for_the_file_system(tmp_path: Path) -> None:
    result = run_cli("create", "-ext", "sql", "-dir", str(tmp_path), "-seq", "n" * 250)
    assert result.exit_code == 2 and "the file system allows 255" in result.stderr, result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("digits", ["300", "5000"])
def test_create_refuses_digits_no_file_name_can_hold(tmp_path: Path, digits: str) -> None:
    result = run_cli("create", "-ext", "sql", "-dir", str(tmp_path), "-seq", "-digits", digits, "users")
    assert result.exit_code == 2 and "more than a file name can hold" in result.stderr, result.output
    assert list(tmp_path.iterdir()) == []


def test_create_into_a_folder_that_cannot_be_made_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    inside = run_cli("create", "-ext", "sql", "-dir", str(blocker / "migrations"), "-seq", "users")
    assert inside.exit_code == 1 and "cannot create the folder" in inside.stderr, inside.output
    assert "internal error" not in inside.output
    itself = run_cli("create", "-ext", "sql", "-dir", str(blocker), "-seq", "users")
    assert itself.exit_code == 2 and "is a file, not a folder" in itself.stderr, itself.output
    assert _all_files(tmp_path) == {"file"}


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_create_into_a_read_only_folder_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        result = run_cli("create", "-ext", "sql", "-dir", str(folder), "-seq", "users")
    finally:
        folder.chmod(0o700)
    assert result.exit_code == 1 and "Permission denied" in result.stderr and "next:" in result.stderr
    assert list(folder.iterdir()) == []


def test_options_after_the_name_are_refused_not_ignored(tmp_path: Path) -> None:
    # golang-migrate would ignore -seq here and write a timestamp version: we refuse instead.
    result = run_cli("create", "-ext", "sql", "-dir", str(tmp_path), "users", "-seq")
    assert result.exit_code == 2 and "options after NAME are not read: -seq" in result.stderr
    assert "put them before the name" in result.stderr
    assert list(tmp_path.iterdir()) == []
    extra = run_cli("create", "-ext", "sql", "-dir", str(tmp_path), "add", "users")
    assert extra.exit_code == 2 and "add_users" in extra.stderr and list(tmp_path.iterdir()) == []


def test_help_after_the_name_shows_the_help(tmp_path: Path) -> None:
    from support import run_cli

    result = run_cli("create", "-dir", str(tmp_path / "m"), "add_last_seen", "--help")
    assert result.exit_code == 0 and "Options go before NAME" in result.stdout
    assert not (tmp_path / "m").exists()
