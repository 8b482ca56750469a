"""Progress on a terminal, plain lines otherwise, colour only on a terminal and never with NO_COLOR.

The terminal is a real pseudo-terminal (the pty module): ``python -m safemigrate up`` runs with
its stderr on the pty's slave end, as in an interactive shell, and the test reads what it wrote.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from support import assert_no_secret, run_cli_process, write_migrations

SGR = re.compile(r"\x1b\[[0-9;]*m")  # colour and style codes
ANY_ESCAPE = re.compile(r"\x1b")


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, str]:
    files: dict[str, str] = {}
    for n in (1, 2, 3):
        files[f"00000{n}_t{n}.up.sql"] = f"CREATE TABLE t{n} (x int);\nCREATE INDEX i{n} ON t{n} (x);\nSELECT 1;\n"
        files[f"00000{n}_t{n}.down.sql"] = f"DROP TABLE t{n};\n"
    return write_migrations(tmp_path / "migrations", files), f"sqlite3://{tmp_path / 'app.db'}"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "TERM", "COLUMNS")}
    return {**env, "TERM": "xterm-256color", "PYTHONUNBUFFERED": "1", **extra}


def run_on_terminal(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    """(exit status, stdout, what stderr printed on the pseudo-terminal)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))  # rows, columns
    proc = subprocess.Popen([sys.executable, "-m", "safemigrate", *args], stdout=subprocess.PIPE,
                            stderr=slave, stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    chunks: list[bytes] = []
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 60)
            if not ready:
                proc.kill()
                raise AssertionError("safemigrate printed nothing on the terminal for 60 s")
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert proc.stdout is not None
        stdout = proc.stdout.read().decode()
        code = proc.wait(timeout=60)
    finally:
        os.close(master)
    stderr = b"".join(chunks).decode("utf-8", errors="replace")
    assert_no_secret(stdout, stderr)
    return code, stdout, stderr


GOLANG_MIGRATE_LINES = re.compile(r"\A1/u t1 \(\d+\.\d\dms\)\n2/u t2 \(\d+\.\d\dms\)\n3/u t3 \(\d+\.\d\dms\)\n\Z")


def test_up_on_a_terminal_shows_the_step_total_file_statement_and_elapsed_time(project: tuple[Path, str]) -> None:
    folder, url = project
    code, stdout, stderr = run_on_terminal("-database", url, "-path", str(folder), "up", env=_env())
    assert code == 0, stderr
    for n in (1, 2, 3):
        assert re.search(rf"applying {n}/3 00000{n}_t{n}\.up\.sql, statement 3/3, \d+s", stderr), repr(stderr)
    assert SGR.search(stderr), "a terminal without NO_COLOR gets a coloured spinner"
    assert GOLANG_MIGRATE_LINES.match(stdout), stdout  # the results on stdout are unchanged


def test_up_piped_prints_plain_lines_and_no_progress(project: tuple[Path, str]) -> None:
    folder, url = project
    result = run_cli_process("-database", url, "-path", str(folder), "up", env=_env())
    assert result.exit_code == 0, result.stderr
    assert GOLANG_MIGRATE_LINES.match(result.stdout), result.stdout
    assert "applying" not in result.stderr
    assert not ANY_ESCAPE.search(result.stdout + result.stderr)


def test_no_color_removes_the_colour_codes_on_a_terminal_and_keeps_the_progress(
        project: tuple[Path, str]) -> None:
    folder, url = project
    code, _stdout, stderr = run_on_terminal("-database", url, "-path", str(folder), "up",
                                            env=_env(NO_COLOR="1"))
    assert code == 0, stderr
    assert "applying 3/3 000003_t3.up.sql, statement 3/3" in stderr
    assert not SGR.search(stderr), repr(stderr)


@pytest.mark.parametrize("no_color", [False, True], ids=["colour", "NO_COLOR"])
def test_an_error_is_red_on_a_terminal_unless_no_color(project: tuple[Path, str], no_color: bool) -> None:
    folder, url = project
    (folder / "000004_bad.up.sql").write_text("CREATE TABLE t1 (x int);\n", encoding="utf-8")
    env = _env(NO_COLOR="1") if no_color else _env()
    code, _stdout, stderr = run_on_terminal("-database", url, "-path", str(folder), "up", env=env)
    assert code == 1
    plain = SGR.sub("", stderr)
    assert "error: migration 4/u bad failed" in plain
    assert ("\x1b[31merror:" in stderr) is not no_color
    if no_color:
        assert not SGR.search(stderr), repr(stderr)


def test_a_dumb_terminal_gets_the_plain_lines(project: tuple[Path, str]) -> None:
    folder, url = project
    code, stdout, stderr = run_on_terminal("-database", url, "-path", str(folder), "up", env=_env(TERM="dumb"))
    assert code == 0, stderr
    assert "applying" not in stderr
    assert GOLANG_MIGRATE_LINES.match(stdout), stdout


def test_the_progress_line_reads_step_total_file_statement_and_elapsed(tmp_path: Path) -> None:
    from safemigrate.cli.runtime import _Progress
    from safemigrate.events import StepStarted

    now = [100.0]
    up = StepStarted("db", version=12, name="add_index", direction="up", index=11, total=340, mode="transaction",
                     file=str(tmp_path / "000012_add_index.up.sql"))
    progress = _Progress(up, clock=lambda: now[0])
    assert progress.text() == "applying 12/340 000012_add_index.up.sql, 0s"
    progress.statement = (1, 3)
    now[0] += 63.4
    assert progress.text() == "applying 12/340 000012_add_index.up.sql, statement 2/3, 1m03s"
    down = StepStarted("db", version=12, name="add_index", direction="down", index=0, total=1, mode="transaction",
                       file=str(tmp_path / "000012_add_index.down.sql"))
    assert _Progress(down, clock=lambda: now[0]).text() == "rolling back 1/1 000012_add_index.down.sql, 0s"
    no_file = StepStarted("db", version=5, name="gap", direction="up", index=0, total=1, mode="transaction")
    assert _Progress(no_file, clock=lambda: now[0]).text() == "applying 1/1 5 gap, 0s"


@pytest.mark.parametrize(("seconds", "text"), [(0, "0s"), (7.9, "7s"), (63, "1m03s"), (7509, "2h05m09s")])
def test_elapsed_text(seconds: float, text: str) -> None:
    from safemigrate.cli.runtime import elapsed_text

    assert elapsed_text(seconds) == text
