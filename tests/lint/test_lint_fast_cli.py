"""`safemigrate lint` read without click gives exactly what the click command gives.

The click-free reader (cli/fast_lint.py) takes the plain spellings; every other
command line falls back to click. Both run the same command body, so for the same
arguments stdout, stderr and the exit status must be identical.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from safemigrate.cli import fast_lint
from safemigrate.cli.settings import Settings
from support import falls_back_to_click, run_cli, write_migrations

UNSAFE = "ALTER TABLE users ADD COLUMN plan text NOT NULL;\nCREATE TABLE t (at timestamp);\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_migrations(tmp_path / "migrations", {
        "000001_plan.up.sql": UNSAFE, "000001_plan.down.sql": "ALTER TABLE users DROP COLUMN plan;\n",
        "000002_x.UP.sql": "SELECT 1;\n"})  # a misnamed file: a source warning on stderr
    write_migrations(tmp_path, {"a.sql": "SET lock_timeout = '1s';\nCREATE INDEX i ON t (a);\n",
                                "mysql.sql": "ALTER TABLE t ADD COLUMN c int;\n"})
    return tmp_path


def _through_click(monkeypatch: pytest.MonkeyPatch, args: list[str], cwd: Path) -> tuple[int, str, str]:
    with monkeypatch.context() as patch:
        patch.setattr(fast_lint, "parse_lint_command", lambda argv, settings: None)
        result = run_cli(*args, cwd=cwd)
    return result.exit_code, result.stdout, result.stderr


def _taken(args: list[str]) -> bool:
    return fast_lint.parse_lint_command(args, Settings()) is not None


FAST_ARGS = [
    ["lint"],
    ["lint", "migrations"],
    ["lint", "migrations", "a.sql"],
    ["lint", "a.sql", "--format", "json"],
    ["lint", "--format=sarif", "migrations"],
    ["lint", "migrations", "--format", "github"],
    ["lint", "--json", "migrations"],
    ["--json", "lint", "migrations"],
    ["--format", "json", "lint", "a.sql"],
    ["--format", "json", "lint", "a.sql", "--format", "text"],
    ["lint", "a.sql", "--fail-on", "warning"],
    ["lint", "a.sql", "--fail-on=error", "--pg-version", "10"],
    ["lint", "--dialect", "mysql", "mysql.sql"],
    ["-database", "sqlite3://x.db", "lint", "a.sql", "--format", "json"],
    ["lint", "a.sql", "--database=mysql://root:Canary-Pa55w0rd-7f3a@h/db", "--format", "json"],
    ["-database", "oracle://h/db", "lint", "a.sql"],  # a usage error from the command body
    ["lint", "nope.sql"],  # a usage error from the linter
    ["lint", "--config", "missing.toml", "a.sql"],
    ["-path", "migrations", "lint", "--jobs", "2"],
    ["--path=migrations", "--verbose", "lint", "--jobs=1", "-no-follow"],
    ["--env", "staging", "lint", "a.sql"],
    ["--debug", "lint", "a.sql", "-lock-timeout", "3", "--prefetch", "10"],
    ["-database", "postgres://h/db", "lint", "a.sql", "-database", "sqlite3://x.db", "--json"],
    ["lint", "", "a.sql"],
]


@pytest.mark.parametrize("args", FAST_ARGS, ids=" ".join)
def test_the_fast_path_prints_what_click_prints(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                 args: list[str]) -> None:
    assert _taken(args), "this spelling should not need click"
    fast = run_cli(*args, cwd=project)
    assert (fast.exit_code, fast.stdout, fast.stderr) == _through_click(monkeypatch, args, project)


def test_the_compared_outputs_are_real_reports(project: Path) -> None:
    # Guards the comparison above against comparing two empty or failed runs.
    text = run_cli("lint", "migrations", cwd=project)
    assert text.exit_code == 1 and "error[add-not-null-column-without-default]" in text.stdout
    assert "ignored" in text.stderr
    doc = json.loads(run_cli("--json", "lint", "migrations", cwd=project).stdout)
    assert doc["files"] == 2 and doc["summary"]["error"] == 1
    assert run_cli("-database", "oracle://h/db", "lint", "a.sql", cwd=project).exit_code == 2


FALLBACK_ARGS = [
    ["lint", "--help"],
    ["lint", "-h"],
    ["--help", "lint"],
    ["--version", "lint"],
    ["lint", "--", "a.sql"],
    ["lint", "-"],
    ["lint", "--formt", "json"],  # misspelt: click names the closest option
    ["lint", "--format", "xml"],
    ["--format", "sarif", "lint"],  # the shared --format before the command is text or json
    ["lint", "--format"],
    ["lint", "--format", "--json"],
    ["lint", "--pg-version", "5"],
    ["lint", "--pg-version", "100"],
    ["lint", "--pg-version", "+12"],
    ["lint", "--pg-version", "x"],
    ["lint", "--jobs", "0"],
    ["lint", "--json=1"],
    ["lint", "--jobs", "1", "--jobs", "2"],
    ["lint", "--json", "--json"],
    ["-lock-timeout", "-1", "lint"],
    ["--dialect", "mysql", "lint"],  # a lint option before the command
    ["-databse", "x", "lint"],
    ["up", "lint"],
    ["-database", "lint"],
    ["plan"],
    [],
]


@pytest.mark.parametrize("args", FALLBACK_ARGS, ids=lambda args: " ".join(args) or "nothing")
def test_odd_spellings_fall_back_to_click(args: list[str]) -> None:
    assert falls_back_to_click(fast_lint.parse_lint_command, args)


def test_a_fallback_gets_clicks_answer(project: Path) -> None:
    result = run_cli("lint", "--formt", "json", cwd=project)
    assert result.exit_code == 2 and "--format" in result.stderr  # click's "Did you mean --format?"


def test_shell_completion_is_left_to_click(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_SAFEMIGRATE_COMPLETE", "bash_complete")
    assert fast_lint.parse_lint_command(["lint"], Settings()) is None


def test_the_fast_path_reads_options_into_the_same_settings_as_click(project: Path) -> None:
    settings = Settings()
    args = fast_lint.parse_lint_command(
        ["-path", "m", "--json", "lint", "x.sql", "--format", "sarif", "--pg-version", "12",
         "--dialect", "sqlite", "--fail-on", "warning", "--jobs", "3", "--lock-timeout=4", "y"], settings)
    assert args == fast_lint.LintArgs(("x.sql", "y"), "sarif", "warning", 12, "sqlite", 3)
    assert (settings.path, settings.format, settings.lock_timeout) == ("m", "json", 4)


def test_the_lint_options_of_both_readers_are_the_same() -> None:
    import click

    from safemigrate.cli.lint_cmd import lint
    from safemigrate.cli.settings import GLOBAL_OPTIONS

    shared = {spec.name for spec in GLOBAL_OPTIONS}
    own = {o: p for p in lint.params if isinstance(p, click.Option) and p.name not in shared for o in p.opts}
    assert set(own) == set(fast_lint.LINT_OPTIONS)
    for spelling, param in own.items():
        option = fast_lint.LINT_OPTIONS[spelling]
        assert param.name == option.name
        if isinstance(param.type, click.Choice):
            assert tuple(param.type.choices) == option.choices
        else:
            assert isinstance(param.type, click.IntRange)
            assert (param.type.min, param.type.max) == option.int_range


def test_lint_does_not_import_click(project: Path) -> None:
    script = ("import sys\nfrom safemigrate.cli import run\ncode = run(['lint', 'migrations'])\n"
              "print(code, sorted(m for m in sys.modules if m.split('.')[0] == 'click'))\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=project,
                          env={**os.environ, "NO_COLOR": "1"}, timeout=120)
    assert proc.stdout.splitlines()[-1] == "1 []", proc.stderr[-2000:]


def test_the_console_script_writes_the_whole_report_before_it_leaves_without_teardown(
        project: Path, tmp_path: Path) -> None:
    """main() ends a fast-path lint with os._exit: the report must still be complete, on a pipe and in a file."""
    folder = tmp_path / "many"
    write_migrations(folder, {f"{n:06d}_t.up.sql": f"CREATE INDEX i{n} ON t{n} (a);\n" * 40 for n in range(1, 60)})
    expected = run_cli("lint", "--format", "json", str(folder), cwd=project)
    script = "from safemigrate.cli import main\nmain()\n"
    piped = subprocess.run([sys.executable, "-c", script, "lint", "--format", "json", str(folder)],
                           capture_output=True, text=True, cwd=project, timeout=120)
    assert piped.returncode == expected.exit_code == 1
    assert json.loads(piped.stdout) == json.loads(expected.stdout)
    assert len(piped.stdout) > 65536  # more than one pipe buffer: the flush had work to do
    report = tmp_path / "report.txt"
    with report.open("w") as sink:
        code = subprocess.run([sys.executable, "-c", script, "lint", str(folder)], stdout=sink,
                              stderr=subprocess.PIPE, cwd=project, timeout=120).returncode
    assert code == 1
    assert report.read_text().endswith("2360 errors, 118 warnings, 59 info in 59 files\n")
    small = subprocess.run([sys.executable, "-c", script, "lint", "a.sql"], capture_output=True, text=True,
                           cwd=project, timeout=120)  # a short report too
    assert small.stdout == run_cli("lint", "a.sql", cwd=project).stdout != ""
