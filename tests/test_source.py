"""Finding migration files as golang-migrate does, and warning where it stays silent."""

from __future__ import annotations

from pathlib import Path

import pytest

from safemigrate import SourceError, load_source
from support import write_migrations


def test_files_are_parsed_with_golang_migrates_pattern(tmp_path: Path) -> None:
    source = load_source(write_migrations(tmp_path, {
        "000010_ten.up.sql": "", "2_two.down.sql": "", "2_two.up.sql": "",
        "0003_three_has.dots.up.psql": "", "1_one.up.": "",
    }))
    assert source.versions == [1, 2, 3, 10]
    assert source.migrations[3].up is not None and source.migrations[3].name == "three_has.dots"
    assert source.migrations[2].down is not None
    assert source.next(3) == 10 and source.prev(3) == 2 and source.prev(1) is None and source.next(10) is None


def test_duplicate_version_and_direction_is_an_error_naming_both_files(tmp_path: Path) -> None:
    folder = write_migrations(tmp_path, {"1_a.up.sql": "", "001_b.up.sql": "", "1_a.down.sql": ""})
    with pytest.raises(SourceError) as caught:
        load_source(folder)
    assert "001_b.up.sql" in caught.value.message and "1_a.up.sql" in caught.value.message


@pytest.mark.parametrize("name", ["000001_up.sql", "1_x.UP.sql", "1_x.sql", "1.sql", "x.down.sql"])
def test_files_that_look_like_migrations_but_do_not_match_are_warned_about(tmp_path: Path, name: str) -> None:
    source = load_source(write_migrations(tmp_path, {name: "SELECT 1;", "2_ok.up.sql": ""}))
    assert [w.path.name for w in source.warnings] == [name]
    assert source.versions == [2]


def test_other_files_and_subfolders_are_ignored_silently(tmp_path: Path) -> None:
    folder = write_migrations(tmp_path, {"README.md": "", ".gitkeep": "", "1_a.up.sql": ""})
    (folder / "sub").mkdir()
    source = load_source(folder)
    assert source.versions == [1] and source.warnings == []


def test_a_subfolder_named_like_a_migration_is_warned_about(tmp_path: Path) -> None:
    folder = write_migrations(tmp_path, {"1_a.up.sql": ""})
    (folder / "3_sub.up.sql").mkdir()
    source = load_source(folder)
    assert source.versions == [1]
    assert [(w.path.name, w.flag) for w in source.warnings] == [("3_sub.up.sql", "ignored-file")]


def test_invalid_utf8_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "1_a.up.sql").write_bytes(b"SELECT '\xff';")
    with pytest.raises(SourceError, match="not valid UTF-8"):
        _ = load_source(tmp_path).migrations[1].up.text  # type: ignore[union-attr]


def test_the_largest_signed_64_bit_version_is_accepted_and_one_more_is_refused(tmp_path: Path) -> None:
    ok = load_source(write_migrations(tmp_path / "ok", {f"{2**63 - 1}_max.up.sql": ""}))
    assert ok.versions == [2**63 - 1]
    with pytest.raises(SourceError, match="larger than 9223372036854775807"):
        load_source(write_migrations(tmp_path / "bad", {f"{2**63}_over.up.sql": ""}))


def test_a_nul_byte_is_refused_naming_its_byte_offset_and_line(tmp_path: Path) -> None:
    (tmp_path / "1_a.up.sql").write_bytes("SELECT 'é';\n\x00SELECT 2;".encode())
    with pytest.raises(SourceError) as caught:
        _ = load_source(tmp_path).migrations[1].up.text  # type: ignore[union-attr]
    assert "NUL byte at byte offset 13 (line 2)" in caught.value.message
    assert caught.value.details["byte_offset"] == 13


def test_a_utf16_file_is_named_as_utf16(tmp_path: Path) -> None:
    (tmp_path / "1_a.up.sql").write_bytes("SELECT 1;".encode("utf-16"))
    with pytest.raises(SourceError, match="is UTF-16, not UTF-8"):
        _ = load_source(tmp_path).migrations[1].up.text  # type: ignore[union-attr]


def test_the_checksum_of_a_file_over_the_size_limit_is_still_computed(tmp_path: Path) -> None:
    from safemigrate.source import MAX_FILE_SIZE

    with open(tmp_path / "1_big.up.sql", "wb") as big:
        big.truncate(MAX_FILE_SIZE + 1)
    up = load_source(tmp_path).migrations[1].up
    assert up is not None and len(up.sha256) == 64  # status can still show it
    with pytest.raises(SourceError, match="limited to 32 MB"):
        _ = up.text
