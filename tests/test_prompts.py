"""down (no N) and drop ask on a real terminal, and do nothing unless the answer is yes."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import assert_no_secret, run_cli, write_migrations


def run_on_terminal(args: list[str], answer: str) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as stdin, answer its prompt, return (status, output)."""
    controller, terminal = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "safemigrate", *args], stdin=terminal,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    os.close(terminal)
    time.sleep(0.5)
    os.write(controller, (answer + "\n").encode())
    out, err = proc.communicate(timeout=60)
    os.close(controller)
    assert_no_secret(out, err)
    return proc.returncode, out + err


@pytest.fixture
def migrated(tmp_path: Path, sqlite_url: str) -> list[str]:
    folder = write_migrations(tmp_path / "m", {"1_a.up.sql": "CREATE TABLE a (id INTEGER);\n",
                                                "1_a.down.sql": "DROP TABLE a;\n"})
    args = ["-path", str(folder), "-database", sqlite_url]
    assert run_cli(*args, "up").exit_code == 0
    return args


def test_down_all_asks_and_no_keeps_everything(migrated: list[str]) -> None:
    code, output = run_on_terminal([*migrated, "down"], "n")
    assert "Are you sure you want to apply all down migrations?" in output
    assert code == 2 and "nothing was changed" in output
    assert run_cli(*migrated, "version").stdout == "1\n"


def test_down_all_asks_and_yes_applies(migrated: list[str]) -> None:
    code, output = run_on_terminal([*migrated, "down"], "y")
    assert code == 0 and "1/d a" in output
    assert run_cli(*migrated, "version").exit_code == 1


def test_drop_asks_and_no_keeps_everything(migrated: list[str]) -> None:
    code, output = run_on_terminal([*migrated, "drop"], "")
    assert "drop the entire database schema?" in output and code == 2
    assert run_cli(*migrated, "version").stdout == "1\n"
