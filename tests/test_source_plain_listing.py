"""A folder of plain migration files is read with string methods, not golang-migrate's expression.

``up`` with nothing pending on a 10,000-file folder spent 78 M of its 877 M instructions in the
expression's ``findall`` and about as much again in the tuples it made and the dicts built from
them (issue 11, sixth round). A folder whose every entry is a regular file with an ASCII name
``DIGITS_NAME.up.EXT`` or ``DIGITS_NAME.down.EXT`` (one of the two markers only) is read by
``source._plain_listing``; anything else still goes through ``_read_entries``. These tests pin
that both readings give the same versions, names, paths, warnings and errors, and that a plain
folder never reaches the expression.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import safemigrate.source as source_module
from safemigrate import load_source
from safemigrate.errors import SourceError


def _reading(path: Path) -> Any:
    """Everything a command can read of the folder: versions, names, paths, warnings; or the error."""
    try:
        source = load_source(path)
    except SourceError as exc:
        return ("error", exc.message, exc.hint, exc.details)
    files = [(v, m.name, m.up and (m.up.name, m.up.direction, m.up.path), m.down and (m.down.name, m.down.path))
             for v in source.versions for m in (source.migrations[v],)]
    names = [source.name(v) for v in [*source.versions, 0, 2**63]]
    listed = list(source.listing())
    # status reads the listing as columns: the same values, each column in version order
    assert source.columns() == (tuple(map(list, zip(*listed, strict=True))) if listed else ([], [], [], []))
    return (source.versions, list(source.listing()), files, names, len(source.migrations),
            list(source.migrations), [0 in source.migrations, 2**63 in source.migrations],
            [(str(w.path), w.message, w.flag, w.hint) for w in source.warnings])


def _by_the_expression(path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as patched:
        patched.setattr(source_module, "_plain_listing", lambda *_args: None)
        return _reading(path)


_PARTS = st.sampled_from(["1", "0002", "10", "9", "007", "_", "a", "b_c", ".up.", ".down.", ".UP.", "up", ".sql",
                          ".", "-", " ", "+", "\u0661", "9" * 19, ".up.sql", ".down.sql", "down"])
_PLAIN = st.builds(lambda v, n, d, e: f"{v}_{n}.{d}.{e}", st.sampled_from(["1", "01", "2", "0003", "10", "9" * 19]),
                   st.sampled_from(["", "a", "a_b", "x.up", "x.y", "up", "down"]), st.sampled_from(["up", "down"]),
                   st.sampled_from(["sql", "", "up", "a.b", "down.sql"]))


_OTHER = st.sampled_from(["README.md", ".gitkeep", "notes", "Makefile", "x.sql", "a.up.b", ".1_x.up.sql", "_1"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.one_of(st.sets(_PLAIN, max_size=8),  # all plain, or mostly: each reading's cases
                       st.sets(st.one_of(_PLAIN, _OTHER), max_size=8),
                       st.sets(st.one_of(_PLAIN, st.lists(_PARTS, min_size=1, max_size=5).map("".join)), max_size=8)))
def test_a_folder_reads_the_same_with_or_without_the_plain_listing(
        tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, names: set[str]) -> None:
    path = tmp_path_factory.mktemp("plain")
    for name in names:
        if name not in (".", "..") and "/" not in name:
            (path / name).write_text("SELECT 1;\n")
    assert _reading(path) == _by_the_expression(path, monkeypatch)


@pytest.mark.parametrize("odd", [
    "fifo", "folder", "link", "non-utf8", "duplicate", "padded duplicate", "too large", "both markers",
    "misnamed", "readme", "readme link", "readme folder", "a folder named like a script", "gitkeep",
    "no digits", "digits then letters", "unicode digits", "empty", "only a readme",
])
def test_each_kind_of_unplain_folder_reads_as_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     odd: str) -> None:
    path = tmp_path / "migrations"
    path.mkdir()
    if odd not in ("empty", "only a readme"):
        for v in (1, 2, 3):
            for d in ("up", "down"):
                (path / f"{v:04d}_t{v}.{d}.sql").write_text("SELECT 1;\n")
    extra = {"duplicate": "0002_again.up.sql", "padded duplicate": "2_again.up.sql",
             "too large": f"{2**63}_big.up.sql", "both markers": "0004_a.down.b.up.sql",
             "misnamed": "0005_x.UP.sql", "readme": "README.md", "no digits": "_x.up.sql",
             "digits then letters": "5a_x.up.sql", "unicode digits": "\u0661_x.up.sql", "gitkeep": ".gitkeep",
             "only a readme": "README.md"}.get(odd)
    if extra is not None:
        (path / extra).write_text("SELECT 1;\n")
    if odd == "fifo":
        os.mkfifo(path / "0004_f.up.sql")
    elif odd == "folder":
        (path / "0004_d.up.sql").mkdir()
    elif odd == "link":
        os.symlink(path / "0001_t1.up.sql", path / "0004_l.up.sql")
    elif odd == "readme link":
        os.symlink(path / "0001_t1.up.sql", path / "README")
    elif odd == "readme folder":
        (path / "docs").mkdir()
    elif odd == "a folder named like a script":
        (path / "seeds.sql").mkdir()  # passed over in silence, as a folder
    elif odd == "non-utf8":
        (path / os.fsdecode(b"0004_\xff.up.sql")).write_text("SELECT 1;\n")
    assert _reading(path) == _by_the_expression(path, monkeypatch)


def test_a_plain_folder_is_read_without_the_expression(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "migrations"
    path.mkdir()
    for v in range(1, 201):
        for d in ("up", "down"):
            (path / f"{v:06d}_table_{v}.{d}.sql").write_text("SELECT 1;\n")

    class Counting:
        calls = 0

        def findall(self, text: str) -> list[Any]:
            Counting.calls += 1
            return real.findall(text)

    real = source_module._LISTING_RE
    monkeypatch.setattr(source_module, "_LISTING_RE", Counting())
    source = load_source(path)
    assert source.versions == list(range(1, 201)) and source.warnings == []
    assert source.name(7) == "table_7" and str(source.migrations[7].down.path).endswith("000007_table_7.down.sql")  # type: ignore[union-attr]
    assert Counting.calls == 0  # before: one findall over the 400 names
    (path / "README.md").write_text("notes\n")  # never a migration, never warned about
    (path / ".gitkeep").write_text("")
    os.symlink(path / "README.md", path / "notes")
    assert load_source(path).versions == list(range(1, 201)) and Counting.calls == 0
    (path / "0201_t.UP.sql").write_text("x")  # warned about: read by the expression, as before
    source = load_source(path)
    assert [w.path.name for w in source.warnings] == ["0201_t.UP.sql"] and Counting.calls == 1
