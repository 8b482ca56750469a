"""Backups on a real S3 HTTP endpoint (moto's server on 127.0.0.1): round trips and faults."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from backup_support import S3Endpoint, admin_execute, mysql_rows, s3_client

from safemigrate.backup import (
    CreateOptions,
    S3Storage,
    StorageError,
    create_backup,
    list_backups,
    open_storage,
)
from support import CANARY_PASSWORD, run_cli


def s3(endpoint: S3Endpoint, *args: str) -> Any:
    return run_cli("backup", *args, "--s3-endpoint-url", endpoint.url)


def keys(endpoint: S3Endpoint, location: str) -> list[str]:
    bucket = location[len("s3://"):].split("/", 1)[0]
    response = s3_client(endpoint).list_objects_v2(Bucket=bucket)  # type: ignore[attr-defined]
    return sorted(o["Key"] for o in response.get("Contents", []))


def big_sqlite(path: Path, megabytes: int) -> str:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_migrations (version uint64, dirty bool)")
    conn.execute("INSERT INTO schema_migrations VALUES (1, 0)")
    conn.execute("CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)")
    conn.executemany("INSERT INTO blobs (data) VALUES (?)", [(os.urandom(1024 * 256),)
                                                            for _ in range(megabytes * 4)])
    conn.commit()
    conn.close()
    return f"sqlite3://{path}"


@pytest.mark.postgres
def test_postgres_round_trip(pg_db: str, s3_endpoint: S3Endpoint, s3_bucket: str, tmp_path: Path) -> None:
    created = s3(s3_endpoint, "create", "--database", pg_db, "--to", s3_bucket, "--json",
                 "--work-dir", str(tmp_path / "work"))
    assert created.exit_code == 0, created.output
    backup = created.json()["backup"]
    assert keys(s3_endpoint, s3_bucket) == [f"team/app/{backup['id']}/database.dump.zst",
                                            f"team/app/{backup['id']}/manifest.json"]
    assert list((tmp_path / "work").iterdir()) == []  # the staging folder is gone
    head = s3_client(s3_endpoint).head_object(  # type: ignore[attr-defined]
        Bucket=s3_bucket[5:].split("/")[0], Key=f"team/app/{backup['id']}/database.dump.zst")
    assert head["Metadata"]["sha256"] == backup["files"][0]["sha256"]
    listed = s3(s3_endpoint, "list", "--to", s3_bucket, "--json").json()
    assert [b["id"] for b in listed["backups"]] == [backup["id"]]
    verified = s3(s3_endpoint, "verify", backup["id"], "--database", pg_db, "--to", s3_bucket)
    assert verified.exit_code == 0, verified.output
    assert s3(s3_endpoint, "verify", backup["id"], "--quick", "--to", s3_bucket).exit_code == 0
    restored = s3(s3_endpoint, "restore", backup["id"], "--database", pg_db, "--to", s3_bucket, "--json")
    assert restored.exit_code == 0, restored.output
    copy = restored.json()["restore"]["target_url"]
    plain_copy = copy.replace(":xxxxx@", "@")
    assert admin_execute(plain_copy, "SELECT count(*) FROM users") == [(500,)]
    assert s3(s3_endpoint, "list", "--to", s3_bucket).stdout.count("verified") == 1
    plan = s3(s3_endpoint, "prune", "--to", s3_bucket, "--dry-run", "--json").json()
    assert [k["id"] for k in plan["keep"]] == [backup["id"]]
    manifest = s3_client(s3_endpoint).get_object(  # type: ignore[attr-defined]
        Bucket=s3_bucket[5:].split("/")[0], Key=f"team/app/{backup['id']}/manifest.json")["Body"].read()
    assert CANARY_PASSWORD.encode() not in manifest


@pytest.mark.postgres
def test_postgres_directory_format_on_s3(pg_db: str, s3_endpoint: S3Endpoint, s3_bucket: str) -> None:
    created = s3(s3_endpoint, "create", "--database", pg_db, "--to", s3_bucket, "--format", "directory",
                 "--verify", "--json")
    assert created.exit_code == 0, created.output
    assert created.json()["backup"]["verification"]["ok"] is True
    restored = s3(s3_endpoint, "restore", "latest", "--database", pg_db, "--to", s3_bucket, "--jobs", "2")
    assert restored.exit_code == 0, restored.output


@pytest.mark.mysql
def test_mysql_round_trip(mysql_db: str, s3_endpoint: S3Endpoint, s3_bucket: str) -> None:
    created = s3(s3_endpoint, "create", "--database", mysql_db, "--to", s3_bucket, "--verify", "--json")
    assert created.exit_code == 0, created.output
    listed = s3(s3_endpoint, "list", "--to", s3_bucket, "--json").json()["backups"]
    assert [b["verification"] for b in listed] == ["verified"]
    restored = s3(s3_endpoint, "restore", "latest", "--database", mysql_db, "--to", s3_bucket, "--json")
    assert restored.exit_code == 0, restored.output
    assert mysql_rows(restored.json()["restore"]["target_url"], "SELECT count(*) FROM items") == [(200,)]
    assert s3(s3_endpoint, "prune", "--to", s3_bucket, "--json").json()["remove"] == []


def test_sqlite_round_trip_and_prune(sqlite_db: str, s3_endpoint: S3Endpoint, s3_bucket: str,
                                     tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFEMIGRATE_S3_ENDPOINT_URL", s3_endpoint.url)  # the environment works too
    first = run_cli("backup", "create", "--database", sqlite_db, "--to", s3_bucket, "--json").json()["backup"]
    second = run_cli("backup", "create", "--database", sqlite_db, "--to", s3_bucket, "--verify",
                     "--json").json()["backup"]
    restored = run_cli("backup", "restore", second["id"], "--to", s3_bucket, "--target",
                       str(tmp_path / "copy.db"))
    assert restored.exit_code == 0, restored.output
    listed = run_cli("backup", "list", "--to", s3_bucket, "--json").json()["backups"]
    assert [b["id"] for b in listed] == [first["id"], second["id"]]
    pruned = run_cli("backup", "prune", "--to", s3_bucket, "--keep-within", "0", "--json").json()
    assert pruned["deleted"] == [first["id"]]
    assert pruned["checked"] == [second["id"]]  # re-hashed before the older one was deleted
    assert all(second["id"] in k for k in keys(s3_endpoint, s3_bucket))


def test_multipart_upload_and_flipped_byte(s3_endpoint: S3Endpoint, s3_bucket: str, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(S3Storage, "PART_SIZE", 5 * 1024 * 1024)
    url = big_sqlite(tmp_path / "big.db", 16)
    storage = open_storage(s3_bucket, s3_endpoint_url=s3_endpoint.url)
    manifest = create_backup(url, storage)
    assert manifest.size > 15 * 1024 * 1024
    assert s3(s3_endpoint, "verify", manifest.id, "--to", s3_bucket).exit_code == 0
    # flip one byte of the stored object: verify names the file
    client = s3_client(s3_endpoint)
    bucket, key = s3_bucket[5:].split("/")[0], f"team/app/{manifest.id}/database.sqlite.zst"
    body = bytearray(client.get_object(Bucket=bucket, Key=key)["Body"].read())  # type: ignore[attr-defined]
    body[len(body) // 2] ^= 0xFF
    client.put_object(Bucket=bucket, Key=key, Body=bytes(body))  # type: ignore[attr-defined]
    result = s3(s3_endpoint, "verify", manifest.id, "--quick", "--to", s3_bucket, "--json")
    assert result.exit_code == 1 and result.json()["error"]["file"] == "database.sqlite.zst"


def test_interrupted_upload_is_aborted_and_not_listed(s3_endpoint: S3Endpoint, s3_bucket: str,
                                                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(S3Storage, "PART_SIZE", 5 * 1024 * 1024)
    url = big_sqlite(tmp_path / "big.db", 16)
    storage = open_storage(s3_bucket, s3_endpoint_url=s3_endpoint.url)

    class Interrupted(Exception):
        pass

    def interrupt(event: Any) -> None:
        if event.stage == "upload" and event.done > 0:
            raise Interrupted

    with pytest.raises(Interrupted):
        create_backup(url, storage, progress=interrupt)
    assert list_backups(storage).backups == [] and keys(s3_endpoint, s3_bucket) == []
    bucket = s3_bucket[5:].split("/")[0]
    uploads = s3_client(s3_endpoint).list_multipart_uploads(Bucket=bucket)  # type: ignore[attr-defined]
    assert uploads.get("Uploads", []) == []  # aborted


def test_endpoint_going_away_mid_upload(s3_endpoint: S3Endpoint, s3_bucket: str, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(S3Storage, "PART_SIZE", 5 * 1024 * 1024)
    url = big_sqlite(tmp_path / "big.db", 24)
    work = tmp_path / "work"
    storage = open_storage(s3_bucket, s3_endpoint_url=s3_endpoint.url, work_dir=str(work))
    stopped = threading.Event()

    def stop_endpoint(event: Any) -> None:
        if event.stage == "upload" and event.done > 0 and not stopped.is_set():
            stopped.set()
            s3_endpoint.server.stop()  # type: ignore[attr-defined]

    try:
        with pytest.raises(StorageError) as caught:
            create_backup(url, storage, CreateOptions(), progress=stop_endpoint)
        assert stopped.is_set()
        assert s3_endpoint.url in caught.value.message
        assert "endpoint" in (caught.value.hint or "")
    finally:
        s3_endpoint.restart()
    assert list_backups(storage).backups == []
    assert not [k for k in keys(s3_endpoint, s3_bucket) if k.endswith("manifest.json")]
    assert list(work.iterdir()) == []
    listed = s3(s3_endpoint, "list", "--to", s3_bucket, "--json").json()
    assert listed["backups"] == []


def test_never_overwrites_and_clear_errors(sqlite_db: str, s3_endpoint: S3Endpoint, s3_bucket: str) -> None:
    storage = open_storage(s3_bucket, s3_endpoint_url=s3_endpoint.url)
    manifest = create_backup(sqlite_db, storage)
    with pytest.raises(StorageError, match="never overwritten"):
        storage.begin(manifest.id)
    missing = s3(s3_endpoint, "list", "--to", "s3://no-such-bucket-here/x", "--json")
    assert missing.exit_code == 1 and "create the bucket" in missing.json()["error"]["hint"]
    nobody = run_cli("backup", "list", "--to", s3_bucket, "--s3-endpoint-url", "http://127.0.0.1:9")
    assert nobody.exit_code == 1 and "reachable" in nobody.stderr
