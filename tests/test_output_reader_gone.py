"""The output's reader goes away (`safemigrate status | head`, a CI step that stops reading): the
command exits 1 without a word, never an "internal error" to report as a bug, whether the command
runs without click (status, version, lint) or through it (plan)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
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


def test_unbuffered_output_cut_by_a_reader_that_left_is_not_reported_as_written(tmp_path: Path) -> None:
    """PYTHONUNBUFFERED (many container images set it): a result larger than the pipe is written
    in one call; the reader leaving in the middle used to drop the rest and exit 0."""
    folder = write_migrations(tmp_path, {f"{v:05d}_table_{v}.up.sql": f"SELECT {v};\n" for v in range(1, 3001)})
    database = f"sqlite3://{tmp_path / 'app.db'}"
    proc = subprocess.Popen([sys.executable, "-m", "safemigrate", "-path", str(folder), "-database", database,
                             "status"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.read(100)  # the table has started: the one write of it fills the pipe and waits
    assert first.startswith(b"database:")
    time.sleep(0.5)
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 1  # the output is incomplete: not 0
    assert stderr == ""
