"""Linting on several processes finds exactly what one process finds."""

from __future__ import annotations

from pathlib import Path

import pytest

from safemigrate.lint import lint_paths
from safemigrate.lint.engine import Linter, SourceFile, _chunks, lint_sources


def _folder(tmp_path: Path, versions: int) -> Path:
    folder = tmp_path / "migrations"
    folder.mkdir()
    for n in range(1, versions + 1):
        (folder / f"{n:04d}_m.up.sql").write_text(
            f"CREATE TABLE t{n} (id serial PRIMARY KEY);\nALTER TABLE users ADD COLUMN c{n} text NOT NULL;\n")
        if n % 3:
            (folder / f"{n:04d}_m.down.sql").write_text(f"DROP TABLE t{n};\n" if n % 2 else "SELECT 1;\n")
    return folder


def test_forked_run_matches_serial_run(tmp_path: Path) -> None:
    folder = _folder(tmp_path, 40)
    serial = lint_paths([folder], jobs=1)
    forked = lint_paths([folder], jobs=2)
    assert forked.findings == serial.findings
    assert {"missing-down-file", "down-does-not-undo", "prefer-identity"} <= serial.rule_ids()


def test_chunks_keep_each_version_together_and_balance_the_rest() -> None:
    files = [SourceFile(f"m/{n}_x.{d}.sql", "", n, d) for n in range(10) for d in ("up", "down")]
    files.append(SourceFile("adhoc.sql", ""))
    parts = _chunks(files, 3)
    assert sorted(len(p) for p in parts) == [6, 7, 8]
    for part in parts:
        versions = {f.version for f in part if f.version is not None}
        assert all(sum(1 for f in part if f.version == v) == 2 for v in versions)


def test_a_failing_child_has_its_share_linted_again(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    import safemigrate.lint.engine as engine

    parent = os.getpid()
    real_serial = engine._lint_serial

    def failing_in_children(files: list[SourceFile], linter: Linter, find_partner: object,
                            histories: dict[str, object]) -> object:
        if os.getpid() != parent:
            raise RuntimeError("child breaks")
        return real_serial(files, linter, None, {})

    monkeypatch.setattr(engine, "_lint_serial", failing_in_children)
    files = [SourceFile(f"m/{n}_x.up.sql", "DROP TABLE t;", n, "up") for n in range(6)]
    findings = lint_sources(files, Linter("postgres"), None, jobs=2)
    assert [f.path for f in findings if f.rule_id == "drop-table"] == [f.path for f in files]


def test_worker_pool_starts_on_a_busy_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    # A load average far above the CPU count (other work running) used to mean one process.
    from safemigrate.lint import engine

    monkeypatch.setattr(engine.os, "getloadavg", lambda: (40.0, 40.0, 40.0), raising=False)
    monkeypatch.setattr(engine.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(engine.os, "cpu_count", lambda: 2)
    assert engine._workers(1000, None) == 2
    assert engine._workers(150, None) == 1  # too few files to pay for a fork
    assert engine._workers(1000, 1) == 1  # --jobs decides


def test_linting_loads_only_pglasts_parser_and_pglast_still_works_afterwards() -> None:
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from safemigrate.lint import lint_text\n"
        "assert lint_text('CREATE INDEX i ON t (a);').rule_ids()\n"
        "import types\n"
        "# LazyLoader's stand-in turns into a plain module once it has run\n"
        "assert type(sys.modules['pglast.enums']) is not types.ModuleType, 'pglast.enums ran'\n"
        "import pglast\n"
        "assert type(pglast.parse_sql('SELECT 1')[0].stmt).__name__ == 'SelectStmt'\n"
        "assert pglast.enums.SortByDir.SORTBY_ASC.name == 'SORTBY_ASC'\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_chunks_balance_by_size_as_well_as_by_count() -> None:
    big = SourceFile("m/1_big.up.sql", "SELECT 1;\n" * 5000, 1, "up")  # 50 KB: about 50 small files
    small = [SourceFile(f"m/{n}_s.up.sql", "SELECT 1;", n, "up") for n in range(2, 62)]
    parts = _chunks([big, *small], 2)
    with_big = next(p for p in parts if big in p)
    other = next(p for p in parts if big not in p)
    assert len(with_big) < len(other) / 2


def test_a_few_large_files_are_enough_work_for_a_second_process(monkeypatch: pytest.MonkeyPatch) -> None:
    from safemigrate.lint import engine

    monkeypatch.setattr(engine.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    files = [SourceFile(f"m/{n}_x.up.sql", "SELECT 1;\n" * 3000, n, "up") for n in range(1, 11)]
    assert engine._workers(engine._work(files), None) == 2  # 10 files of 30 KB each
