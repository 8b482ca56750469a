"""Every way a URL's password could reach a person or a log: it never does."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import CANARY_PASSWORD, run_cli, run_cli_process, write_migrations


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_migrations(tmp_path / "m", {
        "1_ok.up.sql": "CREATE TABLE ok (id integer);\n",
        "2_bad.up.sql": "SELECT * FROM missing_table;\n",
    })


@pytest.mark.parametrize("argv", [
    ("up",), ("up", "--json"), ("status",), ("status", "--json"), ("plan",), ("version",),
    ("goto", "7"), ("force", "1"), ("up", "--debug"), ("-verbose", "up"),
])
def test_commands_that_succeed_or_fail_never_print_the_password(pg_url: str, folder: Path,
                                                                  argv: tuple[str, ...]) -> None:
    result = run_cli("-path", str(folder), "-database", pg_url, *argv)
    assert result.output.strip()
    assert CANARY_PASSWORD not in result.output


@pytest.mark.parametrize("url", [
    f"postgres://u:{CANARY_PASSWORD}@127.0.0.1:1/db?connect_timeout=1",
    f"postgres://u:{CANARY_PASSWORD}@@bad host/db",
    f"mysql://u:{CANARY_PASSWORD}@tcp(127.0.0.1:1)/db?timeout=1s",
    f"pgx5://u:{CANARY_PASSWORD}@127.0.0.1:1/db?sslmode=disable&connect_timeout=1",
])
def test_connection_failures_and_malformed_urls_never_print_the_password(folder: Path, url: str) -> None:
    for extra in ((), ("--json",), ("--debug",)):
        result = run_cli("-path", str(folder), "-database", url, "up", *extra)
        assert result.exit_code in (1, 2)
        assert CANARY_PASSWORD not in result.output
        assert "Traceback" not in result.output or "--debug" in extra


def test_password_in_database_url_environment_is_not_printed(folder: Path) -> None:
    env = {"DATABASE_URL": f"postgres://u:{CANARY_PASSWORD}@127.0.0.1:1/db?connect_timeout=1",
           "PATH": "/usr/bin:/bin"}
    result = run_cli_process("-path", str(folder), "status", env=env)
    assert result.exit_code == 1 and "u:xxxxx@127.0.0.1:1/db" in result.stderr


def test_the_suite_fails_a_test_that_prints_the_password(tmp_path: Path) -> None:
    import shutil
    import subprocess
    import sys

    from support import REPO

    for name in ("conftest.py", "support.py", "fixtures.py"):
        shutil.copy(REPO / "tests" / name, tmp_path / name)
    (tmp_path / "test_leak.py").write_text(
        "from support import CANARY_PASSWORD\n\n"
        "def test_leaks():\n    print('connecting with', CANARY_PASSWORD)\n\n"
        "def test_quiet():\n    print('nothing secret')\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                           str(tmp_path)], capture_output=True, text=True, cwd=tmp_path)
    assert "1 failed, 1 passed" in proc.stdout
    assert "canary password appeared" in proc.stdout
