"""``backup import`` into S3 (moto's server on 127.0.0.1): the runbook's manual .sql.gz dumps join the
S3 backups, and list, verify and restore take them from there."""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

import pytest
from backup_support import S3Endpoint, s3_client

from support import run_cli

pytestmark = pytest.mark.postgres


def test_a_gzipped_sql_dump_is_imported_into_s3_and_verified_from_there(
        pg_db: str, pg_plain_url: str, s3_endpoint: S3Endpoint, s3_bucket: str, tmp_path: Path) -> None:
    import psycopg

    from safemigrate.backup.tools import find_pg_tool

    with psycopg.connect(pg_plain_url) as conn:
        major = int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000  # type: ignore[index]
    dump = tmp_path / "chat-manual.sql"
    subprocess.run([find_pg_tool("pg_dump", major).path, "--file", str(dump), "--dbname", pg_plain_url], check=True)
    gz = tmp_path / "chat-manual.sql.gz"
    gz.write_bytes(gzip.compress(dump.read_bytes()))
    endpoint = ["--s3-endpoint-url", s3_endpoint.url, "--to", s3_bucket]
    result = run_cli("-database", pg_db, "backup", "import", str(gz), *endpoint, "--verify", "--json")
    assert result.exit_code == 0, result.output
    backup = result.json()["backup"]
    assert backup["verification_state"] == "verified"
    bucket, prefix = s3_bucket[5:].split("/", 1)
    keys = sorted(o["Key"] for o in s3_client(s3_endpoint).list_objects_v2(  # type: ignore[attr-defined]
        Bucket=bucket)["Contents"])
    assert f"{prefix}/{backup['id']}/original/chat-manual.sql.gz" in keys
    assert f"{prefix}/{backup['id']}/manifest.json" in keys
    listed = run_cli("backup", "list", *endpoint, "--json").json()["backups"]
    assert [b["id"] for b in listed] == [backup["id"]]
    again = run_cli("-database", pg_db, "backup", "verify", backup["id"], *endpoint)
    assert again.exit_code == 0, again.output
