"""The command-line differences docs/engine.md lists, checked side by side with a real golang-migrate.

Set SAFEMIGRATE_GOLANG_MIGRATE to the path of a golang-migrate v4 binary to run these; without it
they are skipped (the suite never downloads or looks for the binary itself).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from support import run_cli

BINARY = os.environ.get("SAFEMIGRATE_GOLANG_MIGRATE", "")

pytestmark = pytest.mark.skipif(not BINARY, reason="set SAFEMIGRATE_GOLANG_MIGRATE to a golang-migrate binary")


def _golang_migrate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BINARY, *args], capture_output=True, text=True, cwd=cwd, timeout=60)


def test_create_with_seq_after_the_name_golang_migrate_ignores_it_we_refuse(tmp_path: Path) -> None:
    theirs = _golang_migrate("create", "-ext", "sql", "-dir", "theirs", "users", "-seq", cwd=tmp_path)
    assert theirs.returncode == 0, theirs.stderr
    made = sorted(p.name for p in (tmp_path / "theirs").iterdir())
    assert len(made) == 2 and not made[0].startswith("000001_")  # a timestamp: -seq was ignored
    ours = run_cli("create", "-ext", "sql", "-dir", str(tmp_path / "ours"), "users", "-seq")
    assert ours.exit_code == 2 and "options after NAME are not read: -seq" in ours.stderr
    assert not (tmp_path / "ours").exists()


def test_extra_arguments_golang_migrate_ignores_them_we_refuse(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "1_a.up.sql").write_text("CREATE TABLE a (id int);")
    (folder / "2_b.up.sql").write_text("CREATE TABLE b (id int);")
    theirs = _golang_migrate("-path", str(folder), "-database", f"sqlite3://{tmp_path / 'theirs.db'}",
                             "up", "1", "2", cwd=tmp_path)
    assert theirs.returncode == 0 and "1/u a" in theirs.stderr and "2/u b" not in theirs.stderr
    ours = run_cli("-path", str(folder), "-database", f"sqlite3://{tmp_path / 'ours.db'}", "up", "1", "2")
    assert ours.exit_code == 2 and "too many arguments: 1 2" in ours.stderr


def test_usage_errors_have_one_error_prefix_like_golang_migrate(tmp_path: Path) -> None:
    theirs = _golang_migrate("-path", str(tmp_path), "-database", f"sqlite3://{tmp_path / 'x.db'}", "up", "x",
                             cwd=tmp_path)
    ours = run_cli("-path", str(tmp_path), "-database", f"sqlite3://{tmp_path / 'y.db'}", "up", "x")
    assert "error: can't read limit argument N" in theirs.stderr
    assert ours.stderr.splitlines()[0] == "error: can't read limit argument N"
