"""MariaDB/MySQL backups with the real server and the real mariadb-dump / mariadb client."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from backup_support import mysql_rows, write_script

from support import run_cli

pytestmark = pytest.mark.mysql


def test_create_verify_restore_replace(mysql_db: str, tmp_path: Path) -> None:
    store = tmp_path / "b"
    created = run_cli("backup", "create", "--database", mysql_db, "--to", str(store), "--verify", "--json")
    assert created.exit_code == 0, created.output
    backup = created.json()["backup"]
    assert backup["format"] == "sql" and backup["tool"]["name"] in ("mariadb-dump", "mysqldump")
    assert backup["row_counts"] == {"audit": 0, "items": 200, "schema_migrations": 1}
    assert backup["row_counts_consistent"] is True
    assert backup["schema_migrations"]["version"] == 5
    assert backup["verification"]["ok"] is True
    assert run_cli("backup", "verify", "latest", "--quick", "--to", str(store)).exit_code == 0
    listed = run_cli("backup", "list", "--to", str(store), "--json").json()["backups"]
    assert [(b["id"], b["verification"]) for b in listed] == [(backup["id"], "verified")]

    restored = run_cli("backup", "restore", backup["id"], "--database", mysql_db, "--to", str(store),
                       "--json")
    assert restored.exit_code == 0, restored.output
    copy = restored.json()["restore"]["target_url"]
    assert mysql_rows(copy, "SELECT count(*) FROM items") == [(200,)]
    assert mysql_rows(copy, "SELECT count(*) FROM named") == [(200,)]  # the view came back
    assert mysql_rows(copy, "SHOW TRIGGERS")[0][0] == "items_audit"

    mysql_rows(mysql_db, "DELETE FROM items WHERE id > 5")
    mysql_rows(mysql_db, "UPDATE schema_migrations SET version = 6")
    replaced = run_cli("backup", "restore", backup["id"], "--database", mysql_db, "--to", str(store),
                       "--replace", "--yes", "--json")
    assert replaced.exit_code == 0, replaced.output
    assert mysql_rows(mysql_db, "SELECT count(*) FROM items") == [(200,)]
    assert mysql_rows(mysql_db, "SELECT version FROM schema_migrations") == [(5,)]
    pre = replaced.json()["restore"]["pre_restore_backup"]
    shown = run_cli("backup", "show", pre, "--to", str(store), "--json").json()["backup"]
    assert shown["row_counts"]["items"] == 5 and shown["pinned"] is True
    pruned = run_cli("backup", "prune", "--to", str(store), "--json").json()
    assert {k["id"] for k in pruned["keep"]} == {backup["id"], pre} and pruned["deleted"] == []


def test_dump_cut_short_is_caught(mysql_db: str, tmp_path: Path) -> None:
    real = shutil.which("mariadb-dump") or shutil.which("mysqldump")
    assert real
    bindir = tmp_path / "bin"
    for name in ("mariadb-dump", "mysqldump"):
        write_script(bindir / name, f"""#!/bin/sh
case "$1" in --version) exec "{real}" --version;; esac
"{real}" "$@" | head -c 3000
exit 0
""")
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}"}
    store = tmp_path / "b"
    result = run_cli("backup", "create", "--database", mysql_db, "--to", str(store), env=env)
    assert result.exit_code == 1 and "incomplete" in result.stderr
    assert run_cli("backup", "list", "--to", str(store), "--json").json()["backups"] == []


def test_flipped_byte(mysql_db: str, tmp_path: Path) -> None:
    store = tmp_path / "b"
    backup = run_cli("backup", "create", "--database", mysql_db, "--to", str(store), "--json").json()["backup"]
    data = store / backup["id"] / "database.sql.zst"
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 3] ^= 0x10
    data.write_bytes(bytes(raw))
    result = run_cli("backup", "verify", backup["id"], "--database", mysql_db, "--to", str(store), "--json")
    assert result.exit_code == 1 and result.json()["error"]["file"] == "database.sql.zst"


def test_user_without_reload_and_a_password(mysql_db: str, mysql_admin_url: str, tmp_path: Path) -> None:
    """A user that needs its password (passed in a private defaults file) and lacks RELOAD:
    the counts come from a snapshot taken just before the dump, and the manifest says so."""
    from urllib.parse import urlsplit, urlunsplit

    from support import CANARY_PASSWORD, unique_name

    db = urlsplit(mysql_db).path.lstrip("/")
    user = unique_name("smu")[:30]
    mysql_rows(mysql_admin_url, f"CREATE USER '{user}'@'%' IDENTIFIED BY '{CANARY_PASSWORD}'")
    try:
        mysql_rows(mysql_admin_url, f"GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES ON `{db}`.* "
                                    f"TO '{user}'@'%'")
        parts = urlsplit(mysql_db)
        limited = urlunsplit(parts._replace(netloc=f"{user}:{CANARY_PASSWORD}@{parts.hostname}:{parts.port}"))
        store = tmp_path / "b"
        result = run_cli("backup", "create", "--database", limited, "--to", str(store), "--verify-quick")
        assert result.exit_code == 0, result.output
        assert "no RELOAD privilege" in result.stderr
        backup = run_cli("backup", "show", "latest", "--to", str(store), "--json").json()["backup"]
        assert backup["row_counts_consistent"] is False and backup["row_counts"]["items"] == 200
        assert CANARY_PASSWORD not in (store / backup["id"] / "manifest.json").read_text()
        full = run_cli("backup", "verify", backup["id"], "--database", mysql_db, "--to", str(store))
        assert full.exit_code == 0, full.output
    finally:
        mysql_rows(mysql_admin_url, f"DROP USER '{user}'@'%'")
