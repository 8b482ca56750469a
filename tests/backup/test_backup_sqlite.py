"""SQLite backups through the online backup API, on local storage."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from support import run_cli


def path_of(url: str) -> Path:
    return Path(url.split("://", 1)[1])


def test_create_verify_restore_replace(sqlite_db: str, tmp_path: Path) -> None:
    store = tmp_path / "b"
    created = run_cli("backup", "create", "--database", sqlite_db, "--to", str(store), "--verify", "--json")
    assert created.exit_code == 0, created.output
    backup = created.json()["backup"]
    assert backup["format"] == "sqlite" and backup["compression"]["method"] == "zstd"
    assert backup["schema_migrations"] == {"table": "schema_migrations", "version": 7, "dirty": False}
    assert backup["row_counts"] == {"notes": 300, "schema_migrations": 1}
    assert backup["verification"]["ok"] and backup["verification"]["mode"] == "full"
    assert "PRAGMA integrity_check: ok" in backup["verification"]["checks"]

    quick = run_cli("backup", "verify", backup["id"], "--quick", "--to", str(store))
    assert quick.exit_code == 0, quick.output

    target = tmp_path / "copy.db"
    restored = run_cli("backup", "restore", backup["id"], "--database", sqlite_db, "--to", str(store),
                       "--target", str(target))
    assert restored.exit_code == 0, restored.output
    assert sqlite3.connect(target).execute("SELECT count(*) FROM notes").fetchone() == (300,)
    again = run_cli("backup", "restore", backup["id"], "--to", str(store), "--target", str(target))
    assert again.exit_code == 2 and "already exists" in again.stderr

    db = path_of(sqlite_db)
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM notes WHERE id > 10")
        conn.execute("UPDATE schema_migrations SET version = 8")
    replaced = run_cli("backup", "restore", backup["id"], "--database", sqlite_db, "--to", str(store),
                       "--replace", "--yes", "--json")
    assert replaced.exit_code == 0, replaced.output
    pre = replaced.json()["restore"]["pre_restore_backup"]
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM notes").fetchone() == (300,)
    assert conn.execute("SELECT version FROM schema_migrations").fetchone() == (7,)
    conn.close()
    shown = run_cli("backup", "show", pre, "--to", str(store), "--json").json()["backup"]
    assert shown["row_counts"]["notes"] == 10 and shown["schema_migrations"]["version"] == 8
    assert not list(db.parent.glob(".app.db.safemigrate-incoming-*"))


def test_default_restore_target_is_beside_the_original(sqlite_db: str, tmp_path: Path) -> None:
    store = tmp_path / "b"
    assert run_cli("backup", "create", "--database", sqlite_db, "--to", str(store)).exit_code == 0
    result = run_cli("backup", "restore", "latest", "--to", str(store), "--json")
    assert result.exit_code == 0, result.output
    target = Path(result.json()["restore"]["target"])
    assert target.parent == path_of(sqlite_db).parent and target.name.startswith("app.restored-")
    assert target.stat().st_mode & 0o777 == 0o600


def test_damaged_backup_is_reported(sqlite_db: str, tmp_path: Path) -> None:
    store = tmp_path / "b"
    backup = run_cli("backup", "create", "--database", sqlite_db, "--to", str(store), "--json").json()["backup"]
    data = store / backup["id"] / "database.sqlite.zst"
    data.write_bytes(data.read_bytes()[:-40])
    for args in ((), ("--quick",)):
        result = run_cli("backup", "verify", backup["id"], "--to", str(store), *args)
        assert result.exit_code == 1 and "database.sqlite.zst" in result.stderr
    assert not list(tmp_path.glob("**/scratch.sqlite"))


def test_missing_database_file(tmp_path: Path) -> None:
    result = run_cli("backup", "create", "--database", f"sqlite3://{tmp_path}/nope.db", "--to",
                     str(tmp_path / "b"))
    assert result.exit_code == 1 and "does not exist" in result.stderr
    assert not (tmp_path / "b").exists() or list((tmp_path / "b").iterdir()) == []


def test_missing_data_file_is_a_failed_verification(sqlite_db: str, tmp_path: Path) -> None:
    store = tmp_path / "b"
    backup = run_cli("backup", "create", "--database", sqlite_db, "--to", str(store), "--json").json()["backup"]
    (store / backup["id"] / "database.sqlite.zst").unlink()
    result = run_cli("backup", "verify", backup["id"], "--to", str(store), "--json")
    assert result.exit_code == 1 and result.json()["error"]["file"] == "database.sqlite.zst"
    listed = run_cli("backup", "list", "--to", str(store), "--json").json()["backups"]
    assert listed[0]["verification"] == "failed"
