"""Releases whose backup goes to S3 (moto's server, real HTTP on 127.0.0.1): pre-flight's write probe,
the whole release, and the restore rung restoring from S3 with every row checked.

The moto server here is this module's own (not the backup tests' session server): one test turns
IAM enforcement on, a process-wide moto setting, and turns it off again before any other test runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from test_release_e2e import release, users, version

from health_app import closed_port_url
from schema_app import serve_app
from support import run_cli, unique_name

pytestmark = pytest.mark.postgres

AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing-secret", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    import socket

    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A fresh bucket on moto; the release finds the endpoint and credentials in the environment."""
    import boto3

    for key, value in AWS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setenv("SAFEMIGRATE_S3_ENDPOINT_URL", moto_url)
    bucket = unique_name("smrel").replace("_", "-")
    client = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    return {"bucket": bucket, "location": f"s3://{bucket}/releases/app", "client": client, "url": moto_url}


def objects(s3: dict[str, Any]) -> list[str]:
    return [o["Key"] for o in s3["client"].list_objects_v2(Bucket=s3["bucket"]).get("Contents", [])]


def preflight(p: dict[str, Any], location: str, *args: str) -> Any:
    return run_cli("-path", str(p["folder"]), "-database", p["url"], "preflight", "--backup-location", location,
                   "--format", "json", *args)


def location_step(result: Any) -> dict[str, Any]:
    return next(s for s in result.json()["steps"] if s["name"] == "backup location usable")


def test_preflight_writes_and_deletes_a_probe_object_in_a_writable_bucket(
        project: dict[str, Any], s3: dict[str, Any]) -> None:
    result = preflight(project, s3["location"])
    assert result.exit_code == 0, result.output
    step = location_step(result)
    assert step["status"] == "passed" and "writable (a probe object was written and deleted)" in step["reason"]
    assert objects(s3) == []  # the probe is gone
    assert version(project["plain"]) == (1, False)


def test_a_missing_bucket_is_refused_by_preflight_and_nothing_changes(
        project: dict[str, Any], s3: dict[str, Any]) -> None:
    result = release(project, None, "--backup-location", "s3://no-such-bucket-here/x", "--format", "json")
    assert result.exit_code == 1, result.output
    data = result.json()
    step = location_step(result)
    assert step["status"] == "failed" and "the bucket no-such-bucket-here does not exist" in step["reason"]
    assert data["outcome"] == "refused" and "refused by pre-flight: backup location usable" in data["summary"]
    assert [s["phase"] for s in data["steps"]].count("backup") == 0
    assert version(project["plain"]) == (1, False)
    assert users(project["plain"]) == project["before"]


def test_a_bucket_that_refuses_writes_is_refused_by_preflight_and_nothing_changes(
        project: dict[str, Any], s3: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from moto import settings
    from moto.core.responses import ActionAuthenticatorMixin

    iam = boto3.client("iam", endpoint_url=s3["url"], region_name="us-east-1")
    user = unique_name("reader")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="read-only", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"], "Resource": "*"}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    saved = settings.INITIAL_NO_AUTH_ACTION_COUNT
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0  # moto checks credentials and IAM policies from now on
    ActionAuthenticatorMixin.request_count = 0
    try:
        result = release(project, None, "--backup-location", s3["location"], "--format", "json")
    finally:
        settings.INITIAL_NO_AUTH_ACTION_COUNT = saved
    assert result.exit_code == 1, result.output
    step = location_step(result)
    assert step["status"] == "failed"
    assert f"cannot write to {s3['location']}: refused (AccessDenied)" in step["reason"]
    assert "s3:PutObject" in step["reason"]
    assert result.json()["outcome"] == "refused"
    assert objects(s3) == []
    assert version(project["plain"]) == (1, False)


def test_an_s3_endpoint_that_is_gone_is_refused_by_preflight(
        project: dict[str, Any], s3: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    gone = closed_port_url().rsplit("/health", 1)[0]
    monkeypatch.setenv("SAFEMIGRATE_S3_ENDPOINT_URL", gone)
    result = release(project, None, "--backup-location", s3["location"], "--format", "json")
    assert result.exit_code == 1, result.output
    step = location_step(result)
    assert step["status"] == "failed" and "the S3 endpoint cannot be reached" in step["reason"]
    assert gone in step["reason"]
    assert version(project["plain"]) == (1, False)


def test_a_release_backed_up_to_s3_verifies_applies_and_passes_the_gate(
        project: dict[str, Any], s3: dict[str, Any]) -> None:
    with serve_app(project["plain"], {1, 3}) as app:
        result = release(project, app, "--backup-location", s3["location"], "--format", "json")
    assert result.exit_code == 0, result.output
    data = result.json()
    assert (data["outcome"], data["version_after"]) == ("released", 3)
    backup = next(s for s in data["steps"] if s["phase"] == "backup" and s["name"] == "backup verified by a restore")
    assert backup["status"] == "passed" and s3["location"] in backup["reason"]
    assert f"releases/app/{data['backup_id']}/manifest.json" in objects(s3)
    listed = run_cli("backup", "list", "--to", s3["location"], "--json", "-database", project["url"]).json()
    mine = next(b for b in listed["backups"] if b["id"] == data["backup_id"])
    assert mine["pinned"] is True
    assert version(project["plain"]) == (3, False)
    assert users(project["plain"]) == project["before"]


def test_the_restore_rung_restores_the_backup_from_s3_row_by_row(
        project: dict[str, Any], s3: dict[str, Any]) -> None:
    (project["folder"] / "000002_rooms.up.sql").write_text(
        "CREATE TABLE rooms (id integer PRIMARY KEY);\nDELETE FROM users WHERE id > 40;\n")
    with serve_app(project["plain"], {1}) as app:
        app.required_users = 50
        result = release(project, app, "--backup-location", s3["location"], "--on-failure", "restore",
                         "--to", "2", "--format", "json")
    assert result.exit_code == 1, result.output
    data = result.json()
    assert data["outcome"] == "rolled_back" and f"restored from backup {data['backup_id']}" in data["summary"]
    restore = next(s for s in data["steps"] if s["phase"] == "restore")
    assert restore["status"] == "passed"
    assert version(project["plain"]) == (1, False)
    assert users(project["plain"]) == project["before"]  # each of the 50 rows, as before the release
    # The state before the restore was kept too, in the same bucket, so the restore can be undone.
    pre = restore["details"]["pre_restore_backup"]
    assert f"releases/app/{pre}/manifest.json" in objects(s3)
