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


@pytest.mark.parametrize("unbuffered", ["", "1"])
def test_a_run_goes_on_when_its_progress_can_no_longer_be_written(tmp_path: Path, unbuffered: str) -> None:
    """`up` piped into a reader that leaves: every migration is still applied (the step lines are
    dropped, never a run stopped between two steps or two statements for want of a log line), and
    the exit status is the run's: 0."""
    folder = write_migrations(tmp_path, {f"{v:04d}_t{v}.up.sql": f"CREATE TABLE t{v} (id int);\n"
                                         for v in range(1, 6)})
    database = f"sqlite3://{tmp_path / 'app.db'}"
    proc = subprocess.Popen([sys.executable, "-m", "safemigrate", "-path", str(folder), "-database", database,
                             "--verbose", "up", "--no-lint"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONUNBUFFERED": unbuffered})
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the step lines and the result go to stdout: its reader is gone at once
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, stderr
    assert "internal error" not in stderr and "Traceback" not in stderr
    assert "Finished: version no version -> 5" in stderr  # the run's own summary, on stderr
    version = subprocess.run([sys.executable, "-m", "safemigrate", "-path", str(folder), "-database", database,
                              "version"], capture_output=True, text=True, timeout=120)
    assert version.returncode == 0 and version.stdout.strip() == "5"  # all applied, not dirty


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
def test_an_events_file_that_cannot_be_written_does_not_stop_the_run(tmp_path: Path) -> None:
    """--events on a full disk: the run applies everything and says, at the end, that the events
    file stopped (every step is in the history table); before, the first event line stopped it."""
    folder = write_migrations(tmp_path, {f"{v:04d}_t{v}.up.sql": f"CREATE TABLE t{v} (id int);\n"
                                         for v in range(1, 6)})
    database = f"sqlite3://{tmp_path / 'app.db'}"
    up = subprocess.run([sys.executable, "-m", "safemigrate", "-path", str(folder), "-database", database,
                         "--events", "/dev/full", "up", "--no-lint"], capture_output=True, text=True, timeout=120)
    assert up.returncode == 0, up.stderr
    assert "warning: the events file /dev/full could not be written after 0 event(s): No space left on device" \
        in up.stderr
    version = subprocess.run([sys.executable, "-m", "safemigrate", "-path", str(folder), "-database", database,
                              "version"], capture_output=True, text=True, timeout=120)
    assert version.stdout.strip() == "5"
