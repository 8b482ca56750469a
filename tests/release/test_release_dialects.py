"""release on every driver (PostgreSQL, MariaDB, SQLite): the steps that apply to each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from schema_app import serve_app
from support import TestDatabase, run_cli, write_migrations

FILES = {
    "000001_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100) NOT NULL);\n",
    "000001_users.down.sql": "DROP TABLE users;\n",
    "000002_rooms.up.sql": "CREATE TABLE rooms (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL);\n",
    "000002_rooms.down.sql": "DROP TABLE rooms;\n",
    "000003_add_last_seen.up.sql": "ALTER TABLE users ADD COLUMN last_seen VARCHAR(30);\n",
    "000003_add_last_seen.down.sql": "ALTER TABLE users DROP COLUMN last_seen;\n",
}


def prepared(db: TestDatabase, tmp_path: Path) -> dict[str, Any]:
    folder = write_migrations(tmp_path / "migrations", FILES)
    assert run_cli("-path", str(folder), "-database", db.url, "up", "1").exit_code == 0
    db.execute("INSERT INTO users (id, email) VALUES " + ", ".join(f"({i}, 'u{i}@example.com')"
                                                                    for i in range(1, 21)))
    return {"folder": folder, "tmp": tmp_path}


def release(db: TestDatabase, p: dict[str, Any], url: str, *args: str) -> Any:
    result = run_cli("-path", str(p["folder"]), "-database", db.url, "release",
                     "--backup-location", str(p["tmp"] / "backups"), "--report", str(p["tmp"] / "releases"),
                     "--health-url", url, "--health-interval", "0.02", "--health-deadline", "5",
                     "--format", "json", *args)
    return result


def emails(db: TestDatabase) -> list[Any]:
    return [tuple(row) for row in db.query("SELECT id, email FROM users ORDER BY id")]


def test_a_clean_release_on_every_driver(db: TestDatabase, tmp_path: Path) -> None:
    p = prepared(db, tmp_path)
    before = emails(db)
    with serve_app(db.url, {1, 3}) as app:
        result = release(db, p, app.url)
    assert result.exit_code == 0, result.output
    data = result.json()
    assert data["outcome"] == "released" and data["version_after"] == 3
    assert next(s["status"] for s in data["steps"] if s["phase"] == "backup") == "passed"
    assert db.version_row() == [(3, False)]
    assert emails(db) == before


def test_a_failing_gate_rolls_back_on_every_driver(db: TestDatabase, tmp_path: Path) -> None:
    p = prepared(db, tmp_path)
    before = emails(db)
    with serve_app(db.url, {1}) as app:
        result = release(db, p, app.url, "--no-backup")
    assert result.exit_code == 1, result.output
    assert result.json()["outcome"] == "rolled_back"
    assert db.version_row() == [(1, False)]
    assert emails(db) == before


def test_data_written_after_the_apply_holds_the_rollback_on_every_driver(db: TestDatabase,
                                                                          tmp_path: Path) -> None:
    p = prepared(db, tmp_path)
    with serve_app(db.url, {1}) as app:
        app.write_when_unsupported = "UPDATE users SET last_seen = 'today' WHERE id = 7"
        result = release(db, p, app.url, "--no-backup")
    assert result.exit_code == 3, result.output
    assert "column users.last_seen" in result.json()["summary"]
    assert db.version_row() == [(3, False)]


def test_preflight_checks_the_dump_tools_of_each_driver(db: TestDatabase, tmp_path: Path,
                                                        monkeypatch: Any) -> None:
    p = prepared(db, tmp_path)
    found = run_cli("-path", str(p["folder"]), "-database", db.url, "preflight", "--format", "json")
    assert found.exit_code == 0, found.output
    step = next(s for s in found.json()["steps"] if s["name"] == "dump tools present and compatible")
    assert step["status"] == "passed"
    if db.dialect == "sqlite":
        assert "none needed" in step["reason"]
        return
    # A PATH without the MariaDB client tools: pre-flight says so before anything changes.
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))
    monkeypatch.setenv("SAFEMIGRATE_PG_BIN_DIR", str(tmp_path / "no-tools"))
    missing = run_cli("-path", str(p["folder"]), "-database", db.url, "preflight", "--format", "json")
    assert missing.exit_code == 1, missing.output
    step = next(s for s in missing.json()["steps"] if s["name"] == "dump tools present and compatible")
    want = "none of mariadb-dump, mysqldump found on PATH" if db.dialect == "mysql" else "pg_dump not found in"
    assert step["status"] == "failed" and want in step["reason"]
    assert db.version_row() == [(1, False)]


def test_a_held_release_names_the_flags_on_the_cli_and_the_settings_in_its_report(db: TestDatabase,
                                                                                 tmp_path: Path) -> None:
    p = prepared(db, tmp_path)
    with serve_app(db.url, {1}) as app:
        app.write_when_unsupported = "UPDATE users SET last_seen = 'today' WHERE id = 7"
        text = release(db, p, app.url, "--no-backup", "--format", "text")
    assert text.exit_code == 3, text.output
    assert "--no-backup given: no backup was taken" in text.output
    assert "(or release again with --allow-data-loss)" in text.output and "`" not in text.output
    db.execute("UPDATE users SET last_seen = NULL")
    assert run_cli("-path", str(p["folder"]), "-database", db.url, "goto", "1").exit_code == 0
    with serve_app(db.url, {1}) as app:
        app.write_when_unsupported = "UPDATE users SET last_seen = 'today' WHERE id = 7"
        data = release(db, p, app.url, "--no-backup").json()
    assert data["next"].endswith("(or release again with `allow_data_loss`)")
    assert "`no_backup` given: no backup was taken" in [s["reason"] for s in data["steps"]]
