"""``safemigrate backup import``: the team's existing pg_dump files become backups we list, verify and
restore. Every dump here is written by the real pg_dump from a real database."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from support import REPO, database_name, run_cli

pytestmark = pytest.mark.postgres

CHAT = REPO / "examples" / "chat" / "migrations"


def connect(url: str) -> Any:
    import psycopg

    return psycopg.connect(url, autocommit=True)


def rows(url: str) -> list[tuple[Any, ...]]:
    with connect(url) as conn:
        return list(conn.execute("SELECT m.id, u.username, r.name, m.body FROM messages m "
                                 "JOIN users u ON u.id = m.user_id JOIN rooms r ON r.id = m.room_id "
                                 "ORDER BY m.id").fetchall())


@pytest.fixture
def chat_db(pg_url: str, pg_plain_url: str) -> str:
    """The chat schema at version 4 with some messages: what production's manual dumps hold."""
    assert run_cli("-path", str(CHAT), "-database", pg_url, "up").exit_code == 0
    with connect(pg_plain_url) as conn:
        conn.execute("INSERT INTO users (username) SELECT 'user' || g FROM generate_series(1, 20) g")
        conn.execute("INSERT INTO rooms (name) VALUES ('general'), ('ops')")
        conn.execute("INSERT INTO messages (room_id, user_id, body) SELECT r.id, u.id, 'hi ' || u.username "
                     "FROM rooms r, users u")
    return pg_plain_url


def pg_dump(url: str, target: Path, *args: str) -> Path:
    from safemigrate.backup.tools import find_pg_tool

    with connect(url) as conn:
        major = int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000
    tool = find_pg_tool("pg_dump", major)
    subprocess.run([tool.path, *args, "--file", str(target), "--dbname", url], check=True)
    return target


def imported(result: Any) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    return dict(result.json()["backup"])


def restore_and_compare(pg_url: str, store: Path, backup_id: str, expected: list[tuple[Any, ...]],
                        postgres_admin_url: str) -> None:
    target = f"{database_name(pg_url)}_restored"
    restored = run_cli("-database", pg_url, "backup", "restore", backup_id, "--to", str(store),
                       "--target", target, "--yes")
    assert restored.exit_code == 0, restored.output
    try:
        url = re.sub(r"/[^/?]+(\?|$)", f"/{target}\\1", postgres_admin_url, count=1)
        assert rows(url) == expected
    finally:
        with connect(postgres_admin_url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')


@pytest.mark.parametrize("gzipped", [False, True], ids=["dump", "dump.gz"])
def test_a_custom_format_dump_is_stored_byte_for_byte_then_lists_verifies_and_restores(
        tmp_path: Path, chat_db: str, pg_url: str, postgres_admin_url: str, gzipped: bool) -> None:
    dump = pg_dump(chat_db, tmp_path / "chat-2025-01-01.dump", "--format=custom")
    original = dump.read_bytes()
    if gzipped:
        dump = tmp_path / "chat-2025-01-01.dump.gz"
        dump.write_bytes(gzip.compress(original))
    store = tmp_path / "backups"
    backup = imported(run_cli("-database", pg_url, "backup", "import", str(dump), "--to", str(store),
                              "--format", "json"))
    assert backup["format"] == "custom" and backup["schema_migrations"]["version"] == 4
    assert backup["row_counts"]["public.messages"] == 40 and backup["row_counts"]["public.users"] == 20
    assert backup["database"]["database"] == database_name(chat_db)  # from the archive's header
    stored = store / backup["id"] / "database.dump"
    assert stored.read_bytes() == original  # the very bytes pg_dump wrote
    assert backup["extra"]["imported"]["sha256"] == hashlib.sha256(dump.read_bytes()).hexdigest()
    assert backup["extra"]["imported"]["created_from"] == "archive header"

    listed = run_cli("backup", "list", "--to", str(store), "--format", "json").json()["backups"]
    assert [b["id"] for b in listed] == [backup["id"]]
    verified = run_cli("-database", pg_url, "backup", "verify", backup["id"], "--to", str(store))
    assert verified.exit_code == 0, verified.output
    assert "row counts of 6 table(s) match the manifest" in verified.stdout
    restore_and_compare(pg_url, store, backup["id"], rows(chat_db), postgres_admin_url)


@pytest.mark.parametrize("gzipped", [False, True], ids=["sql", "sql.gz"])
def test_a_plain_sql_dump_is_restored_redumped_and_kept_beside_the_original(
        tmp_path: Path, chat_db: str, pg_url: str, postgres_admin_url: str, gzipped: bool) -> None:
    dump = pg_dump(chat_db, tmp_path / "chat.sql")
    if gzipped:
        gz = tmp_path / "chat.sql.gz"
        gz.write_bytes(gzip.compress(dump.read_bytes()))
        dump.unlink()
        dump = gz
    store = tmp_path / "backups"
    backup = imported(run_cli("-database", pg_url, "backup", "import", str(dump), "--to", str(store),
                              "--verify", "--format", "json"))
    assert backup["verification_state"] == "verified"
    assert backup["schema_migrations"] == {"table": "public.schema_migrations", "version": 4, "dirty": False}
    kept = store / backup["id"] / "original" / dump.name
    assert kept.read_bytes() == dump.read_bytes()
    names = {f["name"] for f in backup["files"]}
    assert f"original/{dump.name}" in names and backup["extra"]["data"] in names
    restore_and_compare(pg_url, store, backup["id"], rows(chat_db), postgres_admin_url)


def test_a_file_already_imported_is_refused(tmp_path: Path, chat_db: str, pg_url: str) -> None:
    dump = pg_dump(chat_db, tmp_path / "chat.dump", "--format=custom")
    store = tmp_path / "backups"
    first = imported(run_cli("-database", pg_url, "backup", "import", str(dump), "--to", str(store),
                             "--format", "json"))
    again = run_cli("-database", pg_url, "backup", "import", str(dump), "--to", str(store))
    assert again.exit_code == 2
    assert f"was already imported as backup {first['id']}" in again.stderr
    assert len(run_cli("backup", "list", "--to", str(store), "--format", "json").json()["backups"]) == 1


def test_a_dump_that_does_not_restore_is_not_imported_and_its_scratch_database_is_dropped(
        tmp_path: Path, chat_db: str, pg_url: str, postgres_admin_url: str) -> None:
    dump = pg_dump(chat_db, tmp_path / "broken.sql")
    text = dump.read_text()
    dump.write_text(text.replace("CREATE TABLE public.messages (", "CREATE TABLE public.messages (;", 1))
    store = tmp_path / "backups"
    result = run_cli("-database", pg_url, "backup", "import", str(dump), "--to", str(store))
    assert result.exit_code == 1
    assert "restoring broken.sql into scratch database" in result.stderr and "syntax error" in result.stderr
    scratch = re.search(r"scratch database (safemigrate_verify_\w+)", result.stderr)
    assert scratch is not None
    with connect(postgres_admin_url) as conn:
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [scratch.group(1)]).fetchall() == []
    assert not store.exists() or list(store.iterdir()) == []


@pytest.mark.parametrize("content, message", [
    (b"", "is neither a pg_dump custom-format file nor plain SQL (it is empty)"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "is neither a pg_dump custom-format file nor plain SQL"),
])
def test_a_file_that_is_no_dump_is_a_usage_error(tmp_path: Path, pg_url: str, content: bytes,
                                                  message: str) -> None:
    path = tmp_path / "file.dump"
    path.write_bytes(content)
    result = run_cli("-database", pg_url, "backup", "import", str(path), "--to", str(tmp_path / "b"))
    assert result.exit_code == 2 and message in result.stderr, result.output


def test_a_tar_format_dump_is_refused_with_the_conversion(tmp_path: Path, chat_db: str, pg_url: str) -> None:
    dump = pg_dump(chat_db, tmp_path / "chat.tar", "--format=tar")
    assert tarfile.is_tarfile(dump)
    result = run_cli("-database", pg_url, "backup", "import", str(dump), "--to", str(tmp_path / "b"))
    assert result.exit_code == 2
    assert "pg_dump --format=tar" in result.stderr and "pg_restore -f FILE.sql FILE.tar" in result.stderr


def test_a_missing_file_says_so(tmp_path: Path, pg_url: str) -> None:
    result = run_cli("-database", pg_url, "backup", "import", str(tmp_path / "nope.dump"))
    assert result.exit_code == 2 and "nope.dump: no such file" in result.stderr
    assert json.dumps(result.stderr).count("Traceback") == 0
