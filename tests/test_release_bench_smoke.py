"""bench/release_bench.py without running it: its arguments, its refusal without golang-migrate, and how
it splits a release report into phases. Never timed (the benchmark itself is not part of the suite)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "release_bench.py"


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("release_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["release_bench"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_release_bench_defaults_to_a_1_gb_database_and_the_shared_golang_migrate() -> None:
    args = load_bench().parse_args([])
    assert (args.size_mb, args.rounds, args.database) == (1024, 3, "safemigrate_release_bench")
    assert args.migrate == "/work/shared/tools/golang-migrate/migrate"


@pytest.mark.parametrize("argv", [["--size-mb", "0"], ["--rounds", "0"], ["--database", "bench; DROP"]])
def test_release_bench_rejects_bad_arguments_with_exit_2(argv: list[str],
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        load_bench().parse_args(argv)
    assert exc.value.code == 2
    assert "must be" in capsys.readouterr().err


def test_release_bench_refuses_clearly_without_the_golang_migrate_binary(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no" / "migrate"
    # An unreachable admin URL: the refusal must come before any database work.
    code = load_bench().main(["--migrate", str(missing), "--admin-url", "postgres://nobody@127.0.0.1:1/none"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"golang-migrate not found at {missing}" in err
    assert "never downloads" in err and "--migrate" in err


def test_release_bench_refuses_a_migrate_path_that_is_not_executable(tmp_path: Path) -> None:
    bench = load_bench()
    plain = tmp_path / "migrate"
    plain.write_text("not a program")
    with pytest.raises(bench.BenchError, match="golang-migrate not found"):
        bench.check_migrate(str(plain))


def test_release_bench_splits_the_backup_step_by_the_manifest_and_counts_the_rest_as_overhead() -> None:
    bench = load_bench()
    steps = [
        {"phase": "preflight", "name": "lint: no error-level finding", "duration_s": 0.1},
        {"phase": "backup", "name": "backup verified by a restore", "duration_s": 10.0},
        {"phase": "backup", "name": "restore point", "duration_s": 0.01},
        {"phase": "apply", "name": "apply", "duration_s": 0.5},
        {"phase": "gate", "name": "health after apply", "duration_s": 0.02},
    ]
    run = bench.release_run(12.0, {"steps": steps}, {"verification": {"duration_s": 6.0}})
    assert run.phases == pytest.approx({"backup": 4.0, "verification": 6.0, "apply": 0.5, "gate": 0.02})
    assert run.overhead == pytest.approx(1.48)
    assert run.overhead_parts["preflight: lint: no error-level finding"] == pytest.approx(0.1)
    assert run.overhead_parts["backup: restore point"] == pytest.approx(0.01)
    assert run.overhead_parts[bench.UNTIMED] == pytest.approx(1.37)
    assert sum(run.overhead_parts.values()) == pytest.approx(run.overhead)


def test_release_bench_migrations_are_ten_pending_files_above_the_base_version(tmp_path: Path) -> None:
    bench = load_bench()
    bench.write_migrations(tmp_path / "m")
    ups = sorted(p.name for p in (tmp_path / "m").glob("*.up.sql"))
    downs = sorted(p.name for p in (tmp_path / "m").glob("*.down.sql"))
    assert len(ups) == len(downs) == 11
    assert ups[0].startswith(f"{bench.BASE_VERSION:06d}_") and ups[-1].startswith("000011_")


def test_release_bench_splits_the_untimed_overhead_by_the_reports_clock() -> None:
    from datetime import UTC, datetime, timedelta

    bench = load_bench()
    spawned = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    report = {"steps": [{"phase": "backup", "name": "backup verified by a restore", "duration_s": 10.0}],
              "started_at": (spawned + timedelta(seconds=0.3)).isoformat(),
              "finished_at": (spawned + timedelta(seconds=11.9)).isoformat()}
    run = bench.release_run(12.0, report, {"verification": {"duration_s": 6.0}}, spawned=spawned)
    assert run.overhead == pytest.approx(2.0)
    assert run.overhead_parts[bench.START_UP] == pytest.approx(0.3)
    assert run.overhead_parts[bench.AFTER] == pytest.approx(0.1)
    assert run.overhead_parts[bench.BETWEEN] == pytest.approx(1.6)
