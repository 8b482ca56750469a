"""The folder reader builds a migration's file objects only for the steps that use them.

``up`` with nothing pending on a 10,000-file folder spent most of its time building 20,000
``MigrationFile`` objects it never used. These tests count the objects built and the files
opened (never time), so that reading every file up front cannot come back unnoticed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import safemigrate.source as source_module
from safemigrate import Migrator, load_source, open_driver
from safemigrate.source import MigrationFile
from support import python_calls, write_migrations

COUNT = 30


class Counts:
    built = 0
    opened = 0


@pytest.fixture
def counts(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counts]:
    """Count every MigrationFile the reader builds and every migration file opened."""
    seen = Counts()

    class CountingFile(MigrationFile):
        def __init__(self, *args: object, **kwargs: object) -> None:
            seen.built += 1
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    real_open = os.open

    def counting_open(path: str | Path, flags: int, *args: int, **kwargs: object) -> int:
        if str(path).endswith(".sql"):
            seen.opened += 1
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(source_module, "MigrationFile", CountingFile)
    monkeypatch.setattr(os, "open", counting_open)
    yield seen


def folder(tmp_path: Path, count: int = COUNT) -> Path:
    return write_migrations(tmp_path / "migrations", {
        f"{v:04d}_t{v}.{d}.sql": (f"CREATE TABLE t{v} (id int);\n" if d == "up" else f"DROP TABLE t{v};\n")
        for v in range(1, count + 1) for d in ("up", "down")})


def applied(tmp_path: Path, count: int = COUNT) -> str:
    url = f"sqlite3://{tmp_path / 'lazy.db'}"
    with Migrator(load_source(folder(tmp_path, count)), open_driver(url)) as m:
        m.up()
    return url


def test_up_with_nothing_pending_builds_and_opens_no_migration_file(tmp_path: Path, counts: Counts) -> None:
    url = applied(tmp_path)
    counts.built = counts.opened = 0
    with Migrator(load_source(tmp_path / "migrations"), open_driver(url)) as m:
        result = m.up()
        plan = m.plan("up")
    assert result.no_change and plan.no_change
    # Before: load_source built both files of every version (60 here, 20,000 at 10,000 versions).
    assert (counts.built, counts.opened) == (0, 0)


def test_up_builds_and_reads_only_the_pending_files(tmp_path: Path, counts: Counts) -> None:
    url = applied(tmp_path, COUNT - 2)
    counts.built = counts.opened = 0
    with Migrator(load_source(folder(tmp_path)), open_driver(url)) as m:
        result = m.up()
    assert [s.step.version for s in result.steps] == [COUNT - 1, COUNT]
    assert counts.built == 4  # the two pending versions' up and down files
    assert counts.opened == 2  # only the two up files that ran, each read once (hashed from memory)


def test_a_file_is_read_without_a_buffered_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    readers = 0
    real_fdopen = os.fdopen

    def counting_fdopen(*args: Any, **kwargs: Any) -> Any:
        nonlocal readers
        readers += 1
        return real_fdopen(*args, **kwargs)

    monkeypatch.setattr(os, "fdopen", counting_fdopen)
    path = folder(tmp_path, 3)
    source = load_source(path)
    assert [source.migrations[v].up.data for v in (1, 2, 3)] == [  # type: ignore[union-attr]
        (path / f"{v:04d}_t{v}.up.sql").read_bytes() for v in (1, 2, 3)]
    assert readers == 0  # one per file before (os.fdopen's BufferedReader)


def test_status_hashes_each_applied_file_once_and_builds_no_file_object(
        tmp_path: Path, counts: Counts, monkeypatch: pytest.MonkeyPatch) -> None:
    url = applied(tmp_path)
    counts.built = counts.opened = 0
    folder_text = str(tmp_path / "migrations")
    opened: list[str] = []
    real_os_open = os.open

    def counting_os_open(path: str | Path, flags: int, *args: int, **kwargs: object) -> int:
        if str(path).startswith(folder_text + os.sep):  # a file in it (not the folder, listed by its descriptor)
            opened.append(os.path.basename(path))
        return real_os_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", counting_os_open)
    with Migrator(load_source(tmp_path / "migrations"), open_driver(url)) as m:
        report = m.status()
    assert [row.state for row in report.migrations] == ["applied"] * (COUNT - 1) + ["current"]
    # every applied up file hashed once to compare with the history, nothing else opened
    assert sorted(opened) == [f"{v:04d}_t{v}.up.sql" for v in range(1, COUNT + 1)]
    assert all(row.checksum_matches for row in report.migrations)
    # Before: both files of every version were built as objects (60 here, 20,000 at 10,000 versions).
    assert counts.built == 0
    assert report.migrations[0].up_file == str(tmp_path / "migrations" / "0001_t1.up.sql")
    assert report.migrations[0].down_file == str(tmp_path / "migrations" / "0001_t1.down.sql")


@pytest.mark.parametrize("spelling", [".", "./", "migrations", "./migrations/", "migrations//", "ABS"])
def test_status_shows_each_path_as_the_file_object_would(tmp_path: Path, spelling: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    folder(tmp_path, 2)
    monkeypatch.chdir(tmp_path / "migrations" if spelling in (".", "./") else tmp_path)
    source = load_source(str(tmp_path / "migrations") if spelling == "ABS" else spelling)
    listed = list(source.listing())
    built = [(v, m.name, str(m.up.path) if m.up else None, str(m.down.path) if m.down else None)
             for v in source.versions for m in (source.migrations[v],)]
    assert listed == built
    assert source.columns() == tuple(map(list, zip(*built, strict=True)))
    assert [source.up_sha256(v) for v in source.versions] == \
        [hashlib.sha256(f"CREATE TABLE t{v} (id int);\n".encode()).hexdigest() for v in (1, 2)]


def test_a_file_built_late_is_the_same_object_every_time(tmp_path: Path) -> None:
    source = load_source(folder(tmp_path, 3))
    assert source.up_file(2) is source.up_file(2) is source.migrations[2].up
    assert source.name(3) == "t3" and source.exists(3) and not source.exists(4)
    assert list(source.migrations) == [1, 2, 3] and len(source.migrations) == 3
    assert source.migrations[1].up is not None and source.migrations[1].up.path == tmp_path / "migrations" / "0001_t1.up.sql"


def test_plain_files_are_typed_from_the_listing_without_a_stat_call(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = folder(tmp_path, 5)
    os.mkfifo(path / "0006_fifo.up.sql")
    calls = 0
    real_stat = os.DirEntry.stat

    class Entry:
        """os.scandir's entries, counting stat calls (DirEntry cannot be subclassed)."""

        def __init__(self, entry: os.DirEntry[str]) -> None:
            self._entry = entry

        def __getattr__(self, name: str) -> object:
            return getattr(self._entry, name)

        def stat(self, **kwargs: bool) -> os.stat_result:
            nonlocal calls
            calls += 1
            return real_stat(self._entry, **kwargs)

    real_scandir = os.scandir
    monkeypatch.setattr(os, "scandir", lambda p: [Entry(e) for e in real_scandir(p)])
    source = load_source(path)
    assert source.versions == [1, 2, 3, 4, 5]
    assert [w.path.name for w in source.warnings] == ["0006_fifo.up.sql"]  # still refused
    assert calls == 1  # only the FIFO, whose type the listing does not make a regular file


_QUICK = source_module._QUICK_READ


@pytest.mark.parametrize("size", [0, 1, 10, _QUICK - 1, _QUICK, _QUICK + 1, 1024 * 1024 - 1, 1024 * 1024,
                                  3 * 1024 * 1024 + 7])
def test_a_streamed_checksum_is_the_sha256_of_the_whole_file(tmp_path: Path, size: int) -> None:
    path = folder(tmp_path, 1)
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    (path / "0001_t1.up.sql").write_bytes(data)
    source = load_source(path)
    assert source.up_sha256(1) == hashlib.sha256(data).hexdigest()
    up = source.up_file(1)
    assert up is not None and up.sha256 == hashlib.sha256(data).hexdigest()


def test_a_small_file_is_hashed_from_one_read_without_asking_its_type(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """status hashes every applied file: a file smaller than one read is hashed from a single
    ``pread`` (a regular file's short read is its end), without an ``fstat``; an empty file, which
    a FIFO would also read as, is still checked."""
    path = folder(tmp_path, 3)
    (path / "0003_t3.up.sql").write_bytes(b"")
    source = load_source(path)
    stats: list[int] = []
    real_fstat = os.fstat

    def counting_fstat(fd: int) -> os.stat_result:
        stats.append(fd)
        return real_fstat(fd)

    monkeypatch.setattr(os, "fstat", counting_fstat)
    listing = {version: up for version, _name, up, _down in source.listing()}
    assert source.up_sha256s([1, 2], [listing[1], listing[2]]) == \
        [hashlib.sha256(f"CREATE TABLE t{v} (id int);\n".encode()).hexdigest() for v in (1, 2)]
    assert stats == []
    assert source.up_sha256s([3], [listing[3]]) == [hashlib.sha256(b"").hexdigest()]
    assert len(stats) == 1


def test_a_file_that_grows_while_it_is_hashed_is_hashed_to_its_end(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A file larger than one read is checked and streamed: bytes written after its size was
    taken are hashed too (never a hash of a prefix the size promised)."""
    path = folder(tmp_path, 1)
    file = path / "0001_t1.up.sql"
    data = b"-- x\n" * (_QUICK // 5 + 10)
    file.write_bytes(data)
    source = load_source(path)
    real_fstat = os.fstat
    grown = b"SELECT 1;\n" * 1000

    def fstat_then_grow(fd: int) -> os.stat_result:
        info = real_fstat(fd)
        with file.open("ab") as more:
            more.write(grown)
        return info

    monkeypatch.setattr(os, "fstat", fstat_then_grow)
    assert source.up_sha256(1) == hashlib.sha256(data + grown).hexdigest()


@pytest.mark.parametrize("kind", ["fifo", "fifo with a writer", "folder"])
def test_a_file_replaced_by_a_fifo_after_the_listing_is_refused_by_the_checksum(tmp_path: Path, kind: str) -> None:
    from safemigrate.errors import SourceError

    path = folder(tmp_path, 2)
    source = load_source(path)
    (path / "0002_t2.up.sql").unlink()
    ends: list[int] = []
    if kind == "folder":
        (path / "0002_t2.up.sql").mkdir()
    else:
        os.mkfifo(path / "0002_t2.up.sql")
        if kind == "fifo with a writer":  # something to read: still not hashed as a file
            ends.append(os.open(path / "0002_t2.up.sql", os.O_RDONLY | os.O_NONBLOCK))
            ends.append(os.open(path / "0002_t2.up.sql", os.O_WRONLY))
            os.write(ends[1], b"SELECT 1;\n")
    try:
        with pytest.raises(SourceError, match=r"0002_t2\.up\.sql is not a regular file"):
            source.up_sha256(2)  # never blocks: opened non-blocking
    finally:
        for end in ends:
            os.close(end)
    (path / "0001_t1.up.sql").unlink()
    with pytest.raises(SourceError, match=r"cannot read .*0001_t1\.up\.sql: No such file"):
        source.up_sha256(1)


# --- the listing matched in one pass (issue 11, third round) ------------------------------------

_NAME_PARTS = st.sampled_from(["1", "0002", "10", "9", "_", "a", ".up.", ".down.", ".UP.", "up", ".sql", ".",
                               "\n", " ", "\t", "\u00e9", "_x", ".up.sql", ".down.sql", "-", "\\", "\\0"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.sets(st.lists(_NAME_PARTS, min_size=1, max_size=6).map("".join), max_size=12))
def test_the_listing_finds_what_the_expression_finds_in_each_name(tmp_path_factory: pytest.TempPathFactory,
                                                                  names: set[str]) -> None:
    path = tmp_path_factory.mktemp("listing")
    names = {n for n in names if n not in (".", "..") and "/" not in n}
    for name in names:
        (path / name).write_text("SELECT 1;\n")
    expected: dict[tuple[int, str], tuple[str, str]] = {}
    for name in sorted(names):
        match = source_module.MIGRATION_FILE_RE.match(name)
        if match is not None:
            key = (int(match.group(1)), match.group(3))
            if key in expected:
                with pytest.raises(source_module.SourceError, match="duplicate migration file"):
                    load_source(path)
                return
            expected[key] = (match.group(2), name)
    source = load_source(path)
    assert source.versions == sorted({version for version, _ in expected})
    assert list(source.listing()) == [
        (v, (expected.get((v, "up")) or expected[(v, "down")])[0],
         str(path / expected[(v, "up")][1]) if (v, "up") in expected else None,
         str(path / expected[(v, "down")][1]) if (v, "down") in expected else None)
        for v in source.versions]
    misnamed = sorted(n for n in names if source_module.MIGRATION_FILE_RE.match(n) is None
                      and not n.startswith(".") and source_module._looks_like_migration(n))
    assert [w.path.name for w in source.warnings] == misnamed


def test_warnings_come_in_the_listing_order_whatever_made_them(tmp_path: Path) -> None:
    path = folder(tmp_path, 3)
    (path / "0002_b.UP.sql").write_text("x")  # misnamed
    os.mkfifo(path / "0002_c.up.sql")  # not a regular file
    (path / "0001_a.sql").write_text("x")  # misnamed
    os.mkdir(path / "0003_d.down.sql")  # a folder named like a migration
    outside = tmp_path / "outside.sql"
    outside.write_text("SELECT 1;\n")
    os.symlink(outside, path / "0004_e.up.sql")  # a link out of the folder
    names = [w.path.name for w in load_source(path).warnings]
    assert names == ["0001_a.sql", "0002_b.UP.sql", "0002_c.up.sql", "0003_d.down.sql", "0004_e.up.sql"]


def test_reading_the_folder_makes_no_python_call_per_file(tmp_path: Path) -> None:
    small, large = folder(tmp_path / "small", 50), folder(tmp_path / "large", 550)
    extra = python_calls(lambda: load_source(large).versions) - python_calls(lambda: load_source(small).versions)
    # 1,000 more files. Before: 3 calls per file (the sort key, the entry's type, the version), 3,000.
    assert extra < 50


def test_the_first_error_is_the_first_file_s_whatever_the_folder_s_order(tmp_path: Path) -> None:
    from safemigrate.errors import SourceError

    path = tmp_path / "migrations"
    path.mkdir()
    # Created so that the folder's own order differs from the names' order on most file systems.
    for name in ["2_d.up.sql", "0002_c.up.sql", "1_b.up.sql", "0001_a.up.sql", "9" * 20 + "_big.up.sql"]:
        (path / name).write_text("SELECT 1;\n")
    with pytest.raises(SourceError) as raised:
        load_source(path)
    assert raised.value.message.startswith(
        "duplicate migration file: 1_b.up.sql has the same version and direction as 0001_a.up.sql")


def test_reading_the_folder_and_building_the_status_pause_the_cycle_collector(tmp_path: Path) -> None:
    import gc

    url = applied(tmp_path)  # 30 applied, with their history
    folder(tmp_path, 6000)  # and 5,970 more files, pending
    collections = 0

    def count(phase: str, _info: dict[str, int]) -> None:
        nonlocal collections
        if phase == "start":
            collections += 1

    with Migrator(load_source(tmp_path / "migrations"), open_driver(url)) as m:
        gc.collect()
        gc.callbacks.append(count)
        try:
            report = m.status()
        finally:
            gc.callbacks.remove(count)
    assert len(report.pending) == 5970 and gc.isenabled()
    # One young-generation collection as each paused block ends (reading the history, building
    # the rows). Before: the rows' objects set off one every 700 allocations, 17 here.
    assert collections <= 4


def test_a_folder_of_plain_files_is_read_without_a_loop_step_per_file(tmp_path: Path) -> None:
    import sys
    from types import FrameType

    def loop_lines(path: Path) -> int:
        lines = 0

        def trace(frame: FrameType, event: str, _arg: Any) -> Any:
            nonlocal lines
            if frame.f_code is source_module._read_entries.__code__:
                if event == "line":
                    lines += 1
                return trace
            return None

        sys.settrace(trace)
        try:
            load_source(path)
        finally:
            sys.settrace(None)
        return lines

    small, large = folder(tmp_path / "small", 20), folder(tmp_path / "large", 520)
    # 1,000 more files; before: about 10 lines of the loop per file, 10,000.
    assert loop_lines(large) - loop_lines(small) < 20


def test_a_duplicate_or_huge_version_among_plain_files_is_named_as_the_loop_names_it(tmp_path: Path) -> None:
    from safemigrate.errors import SourceError

    path = folder(tmp_path, 20)
    (path / "00000000000000000000000000003_again.up.sql").write_text("SELECT 1;\n")  # 29 digits: version 3
    with pytest.raises(SourceError) as raised:
        load_source(path)
    # The first in name order is kept, the second named, as for every duplicate.
    assert raised.value.message == ("duplicate migration file: 0003_t3.up.sql has the same version and "
                                    "direction as 00000000000000000000000000003_again.up.sql")
    (path / "00000000000000000000000000003_again.up.sql").rename(path / "3_again.down.sql.up.sql")
    with pytest.raises(SourceError, match=r"duplicate migration file: 3_again\.down\.sql\.up\.sql"):
        load_source(path)
