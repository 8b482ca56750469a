"""`safemigrate status` and `up` read without click give exactly what the click commands give.

The click-free reader (cli/fast_engine.py) takes the plain spellings; every other command line
falls back to click. Both run the same command bodies, so for the same arguments stdout, stderr
and the exit status must be identical.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from safemigrate.cli import fast_engine
from safemigrate.cli.settings import Settings
from support import falls_back_to_click, run_cli, write_migrations


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_migrations(tmp_path / "migrations", {
        "000001_users.up.sql": "CREATE TABLE users (id int);\n",
        "000001_users.down.sql": "DROP TABLE users;\n",
        "000002_plan.up.sql": "ALTER TABLE users ADD COLUMN plan text;\n",  # no down file
        "000003_x.UP.sql": "SELECT 1;\n"})  # a misnamed file: a source warning
    assert run_cli("-database", f"sqlite3://{tmp_path / 'db.sqlite'}", "up", "1", cwd=tmp_path).exit_code == 0
    return tmp_path


def _through_click(monkeypatch: pytest.MonkeyPatch, args: list[str], cwd: Path) -> tuple[int, str, str]:
    with monkeypatch.context() as patch:
        patch.setattr(fast_engine, "parse_status_command", lambda argv, settings: None)
        patch.setattr(fast_engine, "parse_up_command", lambda argv, settings: None)
        result = run_cli(*args, cwd=cwd)
    return result.exit_code, result.stdout, result.stderr


DB = "sqlite3://db.sqlite"
STATUS_ARGS = [
    ["-database", DB, "status"],
    ["-database", DB, "status", "--exit-code"],
    ["status", "-database", DB, "--exit-code"],
    ["--json", "-database", DB, "status"],
    ["-database", DB, "status", "--format", "json", "--exit-code"],
    ["--database=" + DB, "-path", "migrations", "status", "--verbose"],
    ["-database", DB, "-source", "file://migrations", "status", "-lock-timeout", "3", "--prefetch", "10"],
    ["-database", DB, "-path", "nowhere", "status"],  # a source error
    ["-database", "oracle://h/db", "status"],  # a usage error
    ["-database", "postgres://u:Canary-Pa55w0rd-7f3a@127.0.0.1:1/db", "status", "--json"],  # unreachable
    ["status", "--config", "missing.toml", "-database", DB],
    ["-database", DB, "status", "-database", "sqlite3://other.sqlite"],
]


@pytest.mark.parametrize("args", STATUS_ARGS, ids=" ".join)
def test_the_status_fast_path_prints_what_click_prints(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                        args: list[str]) -> None:
    assert fast_engine.parse_status_command(args, Settings()) is not None, "this spelling should not need click"
    fast = run_cli(*args, cwd=project)
    assert (fast.exit_code, fast.stdout, fast.stderr) == _through_click(monkeypatch, args, project)


def test_the_compared_status_outputs_are_real_reports(project: Path) -> None:
    # Guards the comparison above against comparing two empty or failed runs.
    shown = run_cli("-database", DB, "status", "--exit-code", cwd=project)
    assert shown.exit_code == 1 and "1 pending: 2" in shown.stdout and "no down file" in shown.stdout
    assert "000003_x.UP.sql" in shown.stdout
    assert run_cli("-database", DB, "status", cwd=project).exit_code == 0
    assert run_cli("-database", "oracle://h/db", "status", cwd=project).exit_code == 2


FALLBACK_ARGS = [
    ["status", "--help"],
    ["status", "-h"],
    ["--help", "status"],
    ["--version", "status"],
    ["status", "--"],
    ["status", "x"],
    ["status", "--exit-code", "--exit-code"],
    ["status", "--exit-code=1"],
    ["status", "--exitcode"],
    ["status", "--json", "--json"],
    ["status", "--format", "xml"],
    ["-lock-timeout", "-1", "status"],
    ["--exit-code", "status"],  # the command's flag before the command
    ["-databse", "x", "status"],
    ["-database", "status"],
    ["plan", "status"],
    ["up", "status"],
    ["stat"],
    [],
]


@pytest.mark.parametrize("args", FALLBACK_ARGS, ids=lambda args: " ".join(args) or "nothing")
def test_odd_status_spellings_fall_back_to_click(args: list[str]) -> None:
    assert falls_back_to_click(fast_engine.parse_status_command, args)


def test_a_status_fallback_gets_clicks_answer(project: Path) -> None:
    result = run_cli("-database", DB, "status", "--exitcode", cwd=project)
    assert result.exit_code == 2 and "--exit-code" in result.stderr  # click's "Did you mean --exit-code?"


def test_shell_completion_is_left_to_click(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_SAFEMIGRATE_COMPLETE", "bash_complete")
    assert fast_engine.parse_status_command(["status"], Settings()) is None
    assert fast_engine.parse_up_command(["up"], Settings()) is None


def test_the_status_fast_path_reads_options_into_the_same_settings_as_click() -> None:
    settings = Settings()
    exit_code = fast_engine.parse_status_command(
        ["-path", "m", "--json", "status", "--exit-code", "--lock-timeout=4", "--database", "sqlite3://x"],
        settings)
    assert exit_code is True
    assert (settings.path, settings.format, settings.lock_timeout, settings.database) == ("m", "json", 4,
                                                                                           "sqlite3://x")
    assert settings.command == "status"  # as click's group sets it: an error names this command's flags
    assert fast_engine.parse_status_command(["status"], Settings()) is False


def _own_flags(command: object) -> dict[str, str]:
    import click

    from safemigrate.cli.settings import GLOBAL_OPTIONS

    assert isinstance(command, click.Command)
    shared = {spec.name for spec in GLOBAL_OPTIONS}
    return {o: p.name or "" for p in command.params if isinstance(p, click.Option) and p.name not in shared
            for o in p.opts}


def test_the_flags_of_both_readers_are_the_same() -> None:
    from safemigrate.cli.engine_cmds import status, up

    assert _own_flags(status) == fast_engine.STATUS_FLAGS
    assert _own_flags(up) == fast_engine.UP_FLAGS


def _exit_code_and_click_modules(project: Path, *args: str) -> str:
    """Run the CLI in a fresh interpreter; its exit code and the click modules it imported."""
    script = ("import sys\nfrom safemigrate.cli import run\n"
              f"code = run(['-database', {DB!r}, *{list(args)!r}])\n"
              "print(code, sorted(m for m in sys.modules if m.split('.')[0] == 'click'))\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=project,
                          env={**os.environ, "NO_COLOR": "1"}, timeout=120)
    return proc.stdout.splitlines()[-1] if proc.stdout else proc.stderr[-2000:]


def test_status_does_not_import_click(project: Path) -> None:
    assert _exit_code_and_click_modules(project, "status") == "0 []"


# -- up ----------------------------------------------------------------------------------------

_DURATION = re.compile(r"\((?:[0-9.]+(?:ms|s|us|µs|m[0-9.]+s)?)\)|\"duration_ms\": [0-9.e+-]+")


def _same_start(project: Path, name: str) -> str:
    """A copy of the project's database (version 1 applied): each run starts from the same state."""
    shutil.copy(project / "db.sqlite", project / name)
    return f"sqlite3://{name}"


def _without_durations(text: str) -> str:
    """The output without the steps' durations, which differ from one run to the next."""
    return _DURATION.sub("(duration)", text)


UP_ARGS = [
    ["up"],
    ["up", "1"],
    ["up", "--no-lint"],
    ["up", "--dry-run"],
    ["--json", "up", "--atomic"],
    ["up", "--strict", "--lint-details"],
    ["up", "--lint-details", "--json"],
    ["up", "--no-lint", "--strict"],  # a usage error from the command body
    ["up", "5"],  # beyond the last version: applies what there is, then golang-migrate's error
    ["up", "0", "--no-lint"],
    ["-path", "migrations", "up", "--verbose", "-lock-timeout", "3", "--prefetch", "10"],
    ["-path", "nowhere", "up"],  # a source error
    ["up", "--atomic", "--dry-run", "1", "--no-lint"],
]


@pytest.mark.parametrize("args", UP_ARGS, ids=" ".join)
def test_the_up_fast_path_prints_what_click_prints(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                    args: list[str]) -> None:
    assert fast_engine.parse_up_command(args, Settings()) is not None, "this spelling should not need click"
    fast = run_cli("-database", _same_start(project, "fast.sqlite"), *args, cwd=project)
    code, stdout, stderr = _through_click(monkeypatch, ["-database", _same_start(project, "slow.sqlite"), *args],
                                          project)
    fast_text = [_without_durations(t).replace("fast.sqlite", "db copy") for t in (fast.stdout, fast.stderr)]
    slow_text = [_without_durations(t).replace("slow.sqlite", "db copy") for t in (stdout, stderr)]
    assert (fast.exit_code, *fast_text) == (code, *slow_text)


def test_the_compared_up_outputs_are_real_runs(project: Path) -> None:
    # Guards the comparison above against comparing two empty or failed runs.
    applied = run_cli("-database", _same_start(project, "a.sqlite"), "up", cwd=project)
    assert applied.exit_code == 0 and "2/u plan" in applied.stdout and "lint:" in applied.stderr
    assert run_cli("-database", _same_start(project, "b.sqlite"), "up", "5", cwd=project).exit_code == 1
    assert run_cli("-database", "sqlite3://a.sqlite", "up", cwd=project).stdout == "no change\n"


UP_FALLBACK_ARGS = [
    ["up", "--help"],
    ["up", "-1"],
    ["up", "1", "2"],
    ["up", "--atomic", "--atomic"],
    ["up", "--dryrun"],
    ["up", "x"],
    ["up", "\u0663"],  # an Arabic-Indic digit: click's reader decides
    ["up", "--"],
    ["--atomic", "up"],
    ["down"],
    ["status", "up"],
]


@pytest.mark.parametrize("args", UP_FALLBACK_ARGS, ids=" ".join)
def test_odd_up_spellings_fall_back_to_click(args: list[str]) -> None:
    settings = Settings()
    assert fast_engine.parse_up_command(args, settings) is None
    assert settings == Settings(output=settings.output)  # nothing stored on the way


def test_the_up_fast_path_reads_its_arguments_as_click_does() -> None:
    settings = Settings()
    args = fast_engine.parse_up_command(["-path", "m", "up", "--atomic", "7", "--no-lint", "--json"], settings)
    assert args == fast_engine.UpArgs(("7",), atomic=True, no_lint=True)
    assert (settings.path, settings.format, settings.command) == ("m", "json", "up")


def test_up_does_not_import_click(project: Path) -> None:
    assert _exit_code_and_click_modules(project, "up", "--no-lint") == "0 []"


def test_up_without_click_still_drops_psycopgs_pipeline_exit_noise() -> None:
    import logging

    fast_engine.quiet_pipeline_exit_noise()
    fast_engine.quiet_pipeline_exit_noise()  # installed once
    logger = logging.getLogger("psycopg")
    assert sum(isinstance(f, fast_engine._PipelineExitNoise) for f in logger.filters) == 1
    noise = logging.LogRecord("psycopg", logging.WARNING, "", 0, "error ignored terminating %r", ("p",), None)
    assert not logger.filter(noise)
    assert logger.filter(logging.LogRecord("psycopg", logging.WARNING, "", 0, "other", (), None))


def test_the_console_script_collects_cycles_in_larger_batches_and_skips_the_final_scan(tmp_path: Path) -> None:
    # The imports leave some 35,000 tracked objects alive to the end: with the default thresholds
    # the older collections scan them again and again; at the exit, frozen objects are not scanned.
    script = ("import atexit, gc, sys\n"
              "atexit.register(lambda: print(gc.get_threshold(), gc.get_freeze_count() > 1000))\n"
              "from safemigrate.cli import main\n"
              "sys.argv = ['safemigrate', '-database', 'sqlite3://db.sqlite', 'version']\n"
              "main()\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 1 and "no migration" in proc.stderr  # the command ran, and failed as it should
    assert proc.stdout.splitlines()[-1] == "(50000, 20, 100) True"
