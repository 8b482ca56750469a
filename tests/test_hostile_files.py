"""Hostile migration folders: every one is refused or warned about before anything runs.

Each scenario runs the real CLI against a real database and then checks that the
database was not touched: no table created by a migration, the version unchanged.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from safemigrate.source import MAX_FILE_SIZE, MAX_VERSION
from support import TestDatabase, run_cli, write_migrations


def _up(db: TestDatabase, folder: Path, *extra: str) -> tuple[int, str]:
    result = run_cli("-path", str(folder), "-database", db.url, "up", "--no-lint", *extra)
    assert "internal error" not in result.output and "Traceback" not in result.output, result.output
    return result.exit_code, result.output


def _applied_first(db: TestDatabase, folder: Path) -> None:
    """Apply 1_first so that 'version unchanged' has a version to keep."""
    write_migrations(folder, {"1_first.up.sql": "CREATE TABLE first_t (id int);"})
    code, output = _up(db, folder)
    assert code == 0, output
    assert db.version_row() == [(1, False)]


def _untouched(db: TestDatabase) -> None:
    assert db.version_row() == [(1, False)]
    assert not {"second_t", "after_nul"} & db.tables()


def test_a_nul_byte_is_refused_before_anything_runs_naming_its_offset(db: TestDatabase, tmp_path: Path) -> None:
    folder = tmp_path / "m"
    _applied_first(db, folder)
    (folder / "2_second.up.sql").write_text("CREATE TABLE second_t (id int);\n")
    body = b"CREATE TABLE before_nul (id int);\n\x00\nCREATE TABLE after_nul (id int);\n"
    (folder / "3_nul.up.sql").write_bytes(body)
    code, output = _up(db, folder)
    assert code == 1
    offset = body.index(b"\x00")
    assert f"NUL byte at byte offset {offset}" in output and "3_nul.up.sql" in output
    _untouched(db)
    assert "before_nul" not in db.tables()


def test_a_utf8_bom_is_named_as_such_and_nothing_runs(db: TestDatabase, tmp_path: Path) -> None:
    folder = tmp_path / "m"
    _applied_first(db, folder)
    (folder / "2_second.up.sql").write_bytes(b"\xef\xbb\xbfCREATE TABLE second_t (id int);\n")
    code, output = _up(db, folder)
    assert code == 1
    assert "byte order mark (BOM" in output and "2_second.up.sql" in output and "next:" in output
    _untouched(db)


def test_a_version_beyond_the_signed_64_bit_range_is_refused_before_earlier_ones_run(
        db: TestDatabase, tmp_path: Path) -> None:
    folder = tmp_path / "m"
    _applied_first(db, folder)
    write_migrations(folder, {"2_second.up.sql": "CREATE TABLE second_t (id int);",
                              f"{MAX_VERSION + 1}_huge.up.sql": "SELECT 1;"})
    code, output = _up(db, folder)
    assert code == 1
    assert f"version {MAX_VERSION + 1} is larger than {MAX_VERSION}" in output
    _untouched(db)


def test_a_file_over_the_size_limit_is_refused_with_its_size(db: TestDatabase, tmp_path: Path) -> None:
    folder = tmp_path / "m"
    _applied_first(db, folder)
    (folder / "2_second.up.sql").write_text("CREATE TABLE second_t (id int);\n")
    with open(folder / "3_big.up.sql", "wb") as big:  # sparse: takes no disk space
        big.write(b"SELECT 1;\n")
        big.truncate(MAX_FILE_SIZE + 1)
    code, output = _up(db, folder)
    assert code == 1
    assert "3_big.up.sql is 32.0 MB" in output and "limited to 32 MB" in output
    _untouched(db)


def test_a_dangling_symlink_named_like_a_migration_is_a_clear_error(db: TestDatabase, tmp_path: Path) -> None:
    folder = tmp_path / "m"
    _applied_first(db, folder)
    (folder / "2_second.up.sql").symlink_to(tmp_path / "gone.sql")
    code, output = _up(db, folder)
    assert code == 1
    assert "2_second.up.sql is a symbolic link" in output and "cannot be read" in output
    _untouched(db)


def _second_migration_linked_from_outside(db: TestDatabase, tmp_path: Path) -> tuple[Path, Path]:
    """The folder (version 1 applied) and the file outside it that its 2_second.up.sql links to."""
    folder = tmp_path / "m"
    _applied_first(db, folder)
    outside = tmp_path / "shared.sql"
    outside.write_text("CREATE TABLE second_t (id int);")
    (folder / "2_second.up.sql").symlink_to(outside)
    return folder, outside


def test_a_symlink_leaving_the_folder_is_warned_about_by_default_and_refused_with_no_follow(
        db: TestDatabase, tmp_path: Path) -> None:
    folder, outside = _second_migration_linked_from_outside(db, tmp_path)
    code, output = _up(db, folder, "--no-follow")
    assert code == 1
    assert "outside the migrations folder" in output and "--no-follow refuses" in output
    _untouched(db)
    code, output = _up(db, folder)
    assert code == 0, output
    assert "warning:" in output and f"symbolic link to {outside}" in output
    assert db.version_row() == [(2, False)]
    status = run_cli("-path", str(folder), "-database", db.url, "--json", "status", "--exit-code")
    problems = {p["code"]: p["fails_check"] for p in status.json()["problems"]}
    assert problems.get("outside-link") is False and status.exit_code == 0, status.output


def test_a_symlink_inside_the_folder_is_followed_silently(tmp_path: Path) -> None:
    folder = write_migrations(tmp_path / "m", {"shared.sql.txt": "CREATE TABLE t (id int);"})
    (folder / "1_a.up.sql").symlink_to("shared.sql.txt")
    result = run_cli("-path", str(folder), "-database", f"sqlite3://{tmp_path / 'x.db'}", "--no-follow",
                     "up", "--no-lint")
    assert result.exit_code == 0 and "warning" not in result.output, result.output


def test_a_directory_named_like_a_migration_is_warned_about_and_skipped(db: TestDatabase, tmp_path: Path) -> None:
    folder = tmp_path / "m"
    _applied_first(db, folder)
    (folder / "2_second.up.sql").mkdir()
    code, output = _up(db, folder)
    assert code == 0, output
    assert "2_second.up.sql: is named like a migration but is a folder" in output
    _untouched(db)


def test_invalid_utf8_in_a_file_name_is_a_clear_error(tmp_path: Path) -> None:
    folder = write_migrations(tmp_path / "m", {"1_a.up.sql": "CREATE TABLE t (id int);"})
    with open(os.fsencode(folder) + b"/2_caf\xe9.up.sql", "wb") as handle:
        handle.write(b"CREATE TABLE u (id int);")
    database = tmp_path / "x.db"
    result = run_cli("-path", str(folder), "-database", f"sqlite3://{database}", "up", "--no-lint")
    assert result.exit_code == 1, result.output
    assert "2_caf\\xe9.up.sql: the file name is not valid UTF-8" in result.stderr and "next:" in result.stderr
    assert not database.exists() or "t" not in _sqlite_tables(database)


def _sqlite_tables(path: Path) -> set[str]:
    import sqlite3

    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_a_fifo_named_like_a_migration_does_not_block_up(tmp_path: Path) -> None:
    folder = write_migrations(tmp_path / "m", {"1_a.up.sql": "CREATE TABLE t (id int);"})
    os.mkfifo(folder / "2_pipe.up.sql")
    database = tmp_path / "x.db"
    # Before the fix `up` opened the FIFO and waited for a writer for ever: the timeout fails the test.
    proc = subprocess.run(
        [sys.executable, "-m", "safemigrate", "-path", str(folder), "-database", f"sqlite3://{database}",
         "up", "--no-lint"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "2_pipe.up.sql: is named like a migration but is a FIFO (named pipe)" in proc.stderr
    assert "t" in _sqlite_tables(database)
    status = run_cli("-path", str(folder), "-database", f"sqlite3://{database}", "status", "--exit-code")
    assert status.exit_code == 1 and "is a FIFO" in status.output


def test_the_outside_link_warning_names_the_setting_to_python_and_the_flag_on_the_cli(
        db: TestDatabase, tmp_path: Path) -> None:
    import safemigrate.commands as c

    folder, _ = _second_migration_linked_from_outside(db, tmp_path)
    code, output = _up(db, folder)
    assert code == 0 and "(--no-follow refuses such links)" in output and "`" not in output, output
    status = run_cli("-path", str(folder), "-database", db.url, "status")
    assert "or set --no-follow to refuse links that leave it" in status.stdout and "`no_follow`" not in status.stdout
    report = c.status(c.load_config(flags={"database_url": db.url, "path": str(folder)}, environ={}, start=tmp_path))
    link = next(p for p in report.problems if p.code == "outside-link")
    assert "`no_follow` refuses such links" in link.message and "--no-follow" not in link.message + link.hint
    lint = run_cli("lint", str(folder))
    assert "(--no-follow refuses such links)" in lint.stderr and "`" not in lint.stderr, lint.stderr
