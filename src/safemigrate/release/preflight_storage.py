"""Pre-flight checks of where the release's backup goes and what takes it.

* An S3 location is probed by writing a small object and deleting it again (the runbook's
  "backup location reachable and writable"): a missing bucket, refused credentials, a policy
  that forbids writes or an endpoint that is gone are found before anything changes, not by
  the backup halfway through a maintenance window. The probe goes through the storage's
  public client, bucket and prefix; its key (``<prefix>/.safemigrate-probe-<uuid>``) is not a
  backup id, so a listing running meanwhile never shows it.
* The dump tools: pg_dump and pg_restore found and not older than the server (PostgreSQL), a
  mariadb-dump/mysqldump and a mariadb/mysql client found (MariaDB/MySQL), through the backup
  code's own lookup, so pre-flight refuses exactly what the backup would refuse later.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from ..redact import redact_text

__all__ = ["dump_tools_check", "probe_s3"]

Check = tuple[bool, str, dict[str, Any]]


def _s3_reason(exc: BaseException, what: str, storage: Any) -> str:
    response = getattr(exc, "response", None)
    code = str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""
    name = type(exc).__name__
    endpoint = f" (endpoint {storage.endpoint_url})" if getattr(storage, "endpoint_url", None) else ""
    if code == "NoSuchBucket":
        why = f"the bucket {storage.bucket} does not exist{endpoint}: create it or fix the location"
    elif code in ("AccessDenied", "Forbidden", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch",
                  "AllAccessDisabled") or name in ("NoCredentialsError", "PartialCredentialsError"):
        why = (f"refused ({code or name}){endpoint}: check the AWS credentials and the bucket policy "
               "(the backup needs s3:PutObject, s3:GetObject, s3:ListBucket and s3:DeleteObject)")
    elif name in ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError",
                  "ConnectionClosedError") or isinstance(exc, OSError):
        why = f"the S3 endpoint cannot be reached{endpoint} ({name})"
    else:
        why = f"{code or name}{endpoint}: {exc}"
    return redact_text(f"{what}: {why}")


def probe_s3(storage: Any) -> Check:
    """Write a probe object into ``storage`` (an S3Storage) and delete it; (ok, reason, details)."""
    from botocore.exceptions import BotoCoreError, ClientError

    key = (f"{storage.prefix}/" if storage.prefix else "") + f".safemigrate-probe-{uuid.uuid4().hex}"
    where = f"s3://{storage.bucket}/{key}"
    try:
        storage.client.put_object(Bucket=storage.bucket, Key=key, Body=b"safemigrate release pre-flight probe\n")
    except (BotoCoreError, ClientError, OSError) as exc:
        return False, _s3_reason(exc, f"cannot write to {storage.location}", storage), {"probe": where}
    try:
        storage.client.delete_object(Bucket=storage.bucket, Key=key)
    except (BotoCoreError, ClientError, OSError) as exc:
        return False, _s3_reason(exc, f"wrote the probe {where} but cannot delete it (delete it by hand; "
                                 "pruning old backups would fail the same way)", storage), {"probe": where}
    return True, f"{storage.location} is writable (a probe object was written and deleted)", {}


def dump_tools_check(dialect: str, server_version: str) -> Check:
    """The tools the backup and its verification will run: present, and new enough for the server."""
    from ..backup.tools import find_mysql_client, find_mysql_dump, find_pg_tool
    from ..errors import SafemigrateError

    try:
        if dialect == "postgres":
            major = _major(server_version)
            why = f"the server (PostgreSQL {server_version})"
            dump = find_pg_tool("pg_dump", major, why=why)
            # pg_restore from pg_dump's folder, as the backup itself picks it (it reads the dump back).
            restore = find_pg_tool("pg_restore", dump.major, bin_dir=str(Path(dump.path).parent),
                                   why=f"reading back dumps made by pg_dump {dump.version}")
            tools = [dump, restore]
        elif dialect == "mysql":
            tools = [find_mysql_dump(), find_mysql_client()]
        else:
            return True, "none needed (SQLite is copied through its own backup API)", {}
    except SafemigrateError as exc:
        return False, exc.message + (f" ({exc.hint})" if exc.hint else ""), {}
    return True, ", ".join(f"{t.name} {t.version}" for t in tools), {"tools": [t.to_dict() for t in tools]}


def _major(server_version: str) -> int:
    """``"16.4 (Debian 16.4-1)"`` -> 16; ``"9.6.24"`` -> 9."""
    digits = server_version.strip().split(".")[0].split()[0] if server_version.strip() else "0"
    return int(digits) if digits.isdigit() else 0
