"""Linting on several processes finds exactly what one process finds."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from safemigrate.lint import lint_paths, pool
from safemigrate.lint.engine import Linter, SourceFile, _groups, lint_sources
from safemigrate.lint.model import Finding, Location, Severity


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


def test_groups_keep_each_version_together() -> None:
    files = [SourceFile(f"m/{n}_x.{d}.sql", "", n, d) for d in ("up", "down") for n in range(10)]
    files.append(SourceFile("adhoc.sql", ""))
    groups = _groups(files)
    assert len(groups) == 11
    for group in groups:
        assert len({f.version for f in group}) == 1
        assert len(group) == (1 if group[0].version is None else 2)


def test_units_hand_out_the_heaviest_groups_first_in_at_most_max_units() -> None:
    groups = [[n] for n in range(5000)]
    units = pool._units(groups, weight=lambda group: group[0] % 7)
    assert len(units) <= pool.MAX_UNITS
    assert sorted(n for unit in units for [n] in unit) == list(range(5000))
    weights = [group[0] % 7 for unit in units for group in unit]
    assert weights == sorted(weights, reverse=True)


def _finding_of(group: list[int]) -> list[Finding]:
    """A stand-in for linting a unit: one finding per group, saying which process made it."""
    return [Finding("x", Severity.INFO, f"{os.getpid()}", f"g{n}", 1) for [n] in group]


def test_a_worker_takes_the_next_unit_when_it_is_free() -> None:
    # The parent's first unit takes long: the child lints everything else meanwhile,
    # instead of waiting for a half decided in advance.
    parent = os.getpid()
    first = []

    def lint(unit: list[list[int]]) -> list[Finding]:
        if os.getpid() == parent and not first:
            first.append(unit)
            time.sleep(0.5)
        return _finding_of(list(unit))

    findings = pool.lint_forked([[n] for n in range(40)], lint, 2, weight=lambda group: 0)
    assert sorted(f.path for f in findings) == sorted(f"g{n}" for n in range(40))
    by_parent = [f for f in findings if f.message == str(parent)]
    assert len(by_parent) < 10  # with the work shared out in advance it would be 20


def test_findings_come_back_from_the_children_unchanged() -> None:
    location = Location("m/2.up.sql", 3, message="earlier")
    finding = Finding("drop-table", Severity.ERROR, "msg", "m/1.up.sql", 2, 3, 2, 9, 1, "DROP TABLE t",
                      "DROP TABLE t;", "help", (location,))
    assert pool._finding(pool._as_tuple(finding)) == finding
    assert pool._finding(pool._as_tuple(finding)).severity is Severity.ERROR


def test_a_failing_child_has_its_share_linted_again(monkeypatch: pytest.MonkeyPatch) -> None:
    import safemigrate.lint.engine as engine

    parent = os.getpid()
    real_serial = engine._lint_serial
    waited = []

    def failing_in_children(files: list[SourceFile], linter: Linter, find_partner: object,
                            histories: dict[str, object]) -> object:
        if os.getpid() != parent:
            raise RuntimeError("child breaks")
        if not waited:  # let the child take (and fail on) the other units
            waited.append(True)
            time.sleep(0.5)
        return real_serial(files, linter, None, {})

    monkeypatch.setattr(engine, "_lint_serial", failing_in_children)
    files = [SourceFile(f"m/{n}_x.up.sql", "DROP TABLE t;", n, "up") for n in range(6)]
    findings = lint_sources(files, Linter("postgres"), None, jobs=2)
    assert [f.path for f in findings if f.rule_id == "drop-table"] == [f.path for f in files]


def test_a_fork_that_fails_leaves_the_work_to_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_fork() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(pool.os, "fork", no_fork)
    findings = pool.lint_forked([[n] for n in range(5)], lambda unit: _finding_of(list(unit)), 3,
                                weight=lambda group: 0)
    assert sorted(f.path for f in findings) == [f"g{n}" for n in range(5)]


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


def test_a_few_large_files_are_enough_work_for_a_second_process(monkeypatch: pytest.MonkeyPatch) -> None:
    from safemigrate.lint import engine

    monkeypatch.setattr(engine.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    files = [SourceFile(f"m/{n}_x.up.sql", "SELECT 1;\n" * 3000, n, "up") for n in range(1, 11)]
    assert engine._workers(engine._work(files), None) == 2  # 10 files of 30 KB each
