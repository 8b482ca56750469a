"""The output's reader goes away (`safemigrate status | head`, a CI step that stops reading): the
command exits 1 without a word, never an "internal error" to report as a bug, whether the command
runs without click (status, version, lint) or through it (plan)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from support import write_migrations


@pytest.mark.parametrize("command", [["status"], ["--format", "json", "status"], ["version"], ["lint"], ["plan"]])
def test_a_reader_that_left_ends_the_command_quietly_with_exit_1(tmp_path: Path, command: list[str]) -> None:
    folder = write_migrations(tmp_path, {f"{v:04d}_t{v}.{d}.sql": f"SELECT {v};\n"
                                         for v in range(1, 301) for d in ("up", "down")})
    database = f"sqlite3://{tmp_path / 'app.db'}"
    up = subprocess.run([sys.executable, "-m", "safemigrate", "-path", str(folder), "-database", database,
                         "up", "200", "--no-lint"], capture_output=True, text=True, timeout=120)
    assert up.returncode == 0, up.stderr
    proc = subprocess.Popen([sys.executable, "-m", "safemigrate", "-path", str(folder), "-database", database,
                             *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the command writes anything
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 1
    assert stderr == ""  # no "internal error", no traceback, no "Exception ignored"
