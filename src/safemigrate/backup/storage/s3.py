"""``s3://bucket/prefix`` on AWS S3 or any S3-compatible store: staged locally, uploaded, manifest last."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import IO, Any

from ...errors import BackupNotFoundError, SafemigrateError, StorageError, UsageError
from ...redact import redact_text
from ..manifest import MANIFEST_NAME, Manifest, ManifestError, valid_backup_id
from ..progress import Cancel, Meter, ProgressCallback
from . import (
    S3_ENDPOINT_ENV,
    Listing,
    Staging,
    Storage,
    os_error_message,
    walk_files,
    work_root,
)

__all__ = ["S3Storage"]


class S3Storage(Storage):
    """``s3://bucket/prefix`` on AWS S3 or any S3-compatible store (MinIO, Ceph, moto...)."""

    PART_SIZE = 16 * 1024 * 1024
    CONCURRENCY = 4
    MAX_PARTS = 10_000

    def __init__(self, url: str, *, endpoint_url: str | None = None, work_dir: str | None = None,
                 client: Any = None) -> None:
        rest = url[len("s3://"):]
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise UsageError(f"no bucket in {url!r}", hint="write the location as s3://bucket/prefix")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.location = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self.endpoint_url = endpoint_url or os.environ.get(S3_ENDPOINT_ENV) or None
        self.work_dir = work_root(work_dir)
        self._client = client

    # -- boto3 ---------------------------------------------------------------------
    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            session = boto3.session.Session()
            region = session.region_name or "us-east-1"
            self._client = session.client(
                "s3", endpoint_url=self.endpoint_url, region_name=region,
                config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5,
                              read_timeout=60, max_pool_connections=self.CONCURRENCY * 2 + 2),
            )
        return self._client

    def _key(self, backup_id: str, name: str = "") -> str:
        self.check_id(backup_id)
        base = f"{self.prefix}/{backup_id}/" if self.prefix else f"{backup_id}/"
        return base + name

    def _error(self, exc: BaseException, what: str) -> StorageError:
        where = self.location + (f" (endpoint {self.endpoint_url})" if self.endpoint_url else "")
        code = ""
        response = getattr(exc, "response", None)
        if isinstance(response, dict):
            code = str(response.get("Error", {}).get("Code", ""))
        name = type(exc).__name__
        if code == "NoSuchBucket":
            hint = f"create the bucket {self.bucket} or fix the location (`backup.location` s3://bucket/prefix)"
        elif code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch") or name in (
                "NoCredentialsError", "PartialCredentialsError"):
            hint = ("check the AWS credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE) "
                    "and the bucket policy")
        elif name in ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError",
                      "ConnectionClosedError"):
            hint = ("check that the S3 endpoint is reachable (`backup.s3_endpoint_url` or "
                    f"{S3_ENDPOINT_ENV}) and run the command again")
        else:
            hint = "check the S3 location and credentials, then run the command again"
        message = redact_text(f"{what} on {where} failed: {name}: {exc}")
        return StorageError(message, hint=hint, details={"s3_error": code or name},
                            settings=("backup.location", "backup.s3_endpoint_url"))

    def _call(self, what: str, method: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, method)(**kwargs)
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc, what) from None

    # -- reading -------------------------------------------------------------------
    def _ids_with_objects(self) -> tuple[set[str], set[str]]:
        """(ids that have a manifest, ids that have any object)."""
        from botocore.exceptions import BotoCoreError, ClientError

        prefix = f"{self.prefix}/" if self.prefix else ""
        with_manifest: set[str] = set()
        anything: set[str] = set()
        try:
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    rest = obj["Key"][len(prefix):]
                    backup_id, _, name = rest.partition("/")
                    if not name or not valid_backup_id(backup_id):
                        continue
                    anything.add(backup_id)
                    if name == MANIFEST_NAME:
                        with_manifest.add(backup_id)
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc, "listing backups") from None
        return with_manifest, anything

    def listing(self) -> Listing:
        result = Listing()
        with_manifest, anything = self._ids_with_objects()
        result.incomplete = sorted(anything - with_manifest)
        for backup_id in sorted(with_manifest):
            try:
                result.backups.append(self.read_manifest(backup_id))
            except BackupNotFoundError:
                result.incomplete.append(backup_id)
            except SafemigrateError as exc:
                result.broken[backup_id] = exc.message
        result.backups.sort(key=lambda m: (m.created_at, m.id))
        return result

    def read_manifest(self, backup_id: str) -> Manifest:
        from botocore.exceptions import BotoCoreError, ClientError

        key = self._key(backup_id, MANIFEST_NAME)
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise self.not_found(backup_id) from None
            raise self._error(exc, f"reading the manifest of {backup_id}") from None
        except BotoCoreError as exc:
            raise self._error(exc, f"reading the manifest of {backup_id}") from None
        manifest = Manifest.from_json(body, f"s3://{self.bucket}/{key}")
        if manifest.id != backup_id:
            raise ManifestError(f"s3://{self.bucket}/{key} describes backup {manifest.id!r}")
        return manifest

    def update_manifest(self, manifest: Manifest) -> None:
        self.read_manifest(manifest.id)  # exists and is complete
        self._call(f"writing the manifest of {manifest.id}", "put_object", Bucket=self.bucket,
                   Key=self._key(manifest.id, MANIFEST_NAME), Body=manifest.to_json().encode(),
                   ContentType="application/json")

    def delete(self, backup_id: str) -> None:
        self._call(f"deleting the manifest of {backup_id}", "delete_object", Bucket=self.bucket,
                   Key=self._key(backup_id, MANIFEST_NAME))
        self._delete_prefix(backup_id)

    def _delete_prefix(self, backup_id: str) -> None:
        prefix = self._key(backup_id)
        paginator = self.client.get_paginator("list_objects_v2")
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if keys:
                    self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc, f"deleting backup {backup_id}") from None

    @contextlib.contextmanager
    def open_file(self, backup_id: str, name: str) -> Iterator[IO[bytes]]:
        from botocore.exceptions import ClientError

        key = self._key(backup_id, name)
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise StorageError(f"file {name} of backup {backup_id} is missing from {self.location}",
                                   hint="the backup is damaged; use another one (safemigrate backup list)",
                                   details={"file": name}) from None
            raise self._error(exc, f"reading {name} of {backup_id}") from None
        except Exception as exc:
            raise self._error(exc, f"reading {name} of {backup_id}") from None
        body = response["Body"]
        try:
            yield _S3Reader(body, self, f"reading {name} of {backup_id}")  # type: ignore[misc]
        finally:
            body.close()

    def local_dir(self, backup_id: str) -> Path | None:
        return None

    # -- writing -------------------------------------------------------------------
    def begin(self, backup_id: str) -> Staging:
        _, anything = self._ids_with_objects()
        if backup_id in anything:
            raise StorageError(f"backup {backup_id} already exists in {self.location}; "
                               "backups are never overwritten", hint="run the command again")
        try:
            Path(self.work_dir).mkdir(parents=True, exist_ok=True)
            # named like tools.private_dir's folders, so a killed run's staging is swept later
            folder = Path(tempfile.mkdtemp(prefix=f"safemigrate-staging-{os.getpid()}-{backup_id}-",
                                           dir=self.work_dir))
            os.chmod(folder, 0o700)
        except OSError as exc:
            raise os_error_message(exc, f"creating a staging folder in {self.work_dir}") from None
        return Staging(backup_id, folder, cleanup=True)

    def commit(self, staging: Staging, manifest: Manifest, progress: ProgressCallback | None,
               cancel: Cancel | None = None) -> None:
        names = walk_files(staging.dir)
        total = sum((staging.dir / n).stat().st_size for n in names)
        meter = Meter("upload", progress, total, cancel=cancel)
        uploaded: list[str] = []
        digests = {f.name: f.sha256 for f in manifest.files}
        try:
            for name in names:
                self.upload_file(staging.dir / name, self._key(staging.backup_id, name), meter,
                                 sha256=digests.get(name))
                uploaded.append(name)
            meter.finish()
            self._check_uploaded(staging, names)
            # The manifest goes last: only now does the backup exist.
            self._call(f"writing the manifest of {manifest.id}", "put_object", Bucket=self.bucket,
                       Key=self._key(manifest.id, MANIFEST_NAME), Body=manifest.to_json().encode(),
                       ContentType="application/json")
        except BaseException:
            with contextlib.suppress(Exception):
                self._delete_prefix(staging.backup_id)
            raise

    def _check_uploaded(self, staging: Staging, names: list[str]) -> None:
        """Every object is there with the size of our file and our SHA-256 in its metadata.

        (The bytes themselves are hashed whenever they are read back: ``verify``.)"""
        for name in names:
            head = self._call(f"checking the upload of {name}", "head_object", Bucket=self.bucket,
                              Key=self._key(staging.backup_id, name))
            size = (staging.dir / name).stat().st_size
            if int(head.get("ContentLength", -1)) != size:
                raise StorageError(
                    f"the upload of {name} to {self.location} is incomplete: {head.get('ContentLength')} "
                    f"bytes stored, {size} sent", hint="run safemigrate backup create again")

    def upload_file(self, path: Path, key: str, meter: Meter, *, sha256: str | None = None) -> None:
        """Upload ``path`` to ``key``: one PUT when small, else a multipart upload from the file
        with at most CONCURRENCY parts in flight (each read from the file in small blocks),
        aborted on any failure. Our SHA-256 goes into the object's metadata."""
        size = path.stat().st_size
        part_size = max(self.PART_SIZE, -(-size // self.MAX_PARTS))
        metadata = {"sha256": sha256} if sha256 else {}
        if size <= part_size:
            with open(path, "rb") as handle:
                self._call(f"uploading {path.name}", "put_object", Bucket=self.bucket, Key=key,
                           Body=_FileWindow(handle, 0, size), ContentLength=size, Metadata=metadata)
            meter.add(size)
            return
        created = self._call(f"starting the upload of {path.name}", "create_multipart_upload",
                             Bucket=self.bucket, Key=key, Metadata=metadata)
        upload_id = created["UploadId"]
        count = -(-size // part_size)
        parts: dict[int, str] = {}
        failed = threading.Event()

        def send(number: int) -> None:
            if failed.is_set():
                return
            start = (number - 1) * part_size
            length = min(part_size, size - start)
            with open(path, "rb") as handle:
                # A window on the file, read by botocore in small blocks: memory stays bounded
                # whatever the part size.
                body = _FileWindow(handle, start, length)
                response = self._call(f"uploading part {number} of {path.name}", "upload_part",
                                      Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number,
                                      Body=body, ContentLength=length)
            parts[number] = response["ETag"]
            meter.add(length)

        try:
            with ThreadPoolExecutor(max_workers=self.CONCURRENCY) as pool:
                pending: set[Future[None]] = set()
                for number in range(1, count + 1):
                    if len(pending) >= self.CONCURRENCY:
                        done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                        for fut in done:
                            fut.result()
                    pending.add(pool.submit(send, number))
                done, _ = wait(pending, return_when=FIRST_EXCEPTION)
                for fut in done:
                    fut.result()
                for fut in pending:
                    fut.result()
            self._call(f"completing the upload of {path.name}", "complete_multipart_upload",
                       Bucket=self.bucket, Key=key, UploadId=upload_id,
                       MultipartUpload={"Parts": [{"PartNumber": n, "ETag": parts[n]}
                                                  for n in sorted(parts)]})
        except BaseException as exc:
            failed.set()
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            except Exception:
                if isinstance(exc, StorageError):
                    exc.hint = (exc.hint or "") + (
                        "; the multipart upload could not be aborted (the endpoint is unreachable): "
                        "an S3 lifecycle rule with AbortIncompleteMultipartUpload removes its parts")
            raise

    def abort(self, staging: Staging) -> None:
        shutil.rmtree(staging.dir, ignore_errors=True)


class _FileWindow:
    """``length`` bytes of an open file from ``start``, as a seekable file of its own."""

    def __init__(self, handle: IO[bytes], start: int, length: int) -> None:
        self.handle = handle
        self.start = start
        self.length = length
        self.pos = 0
        handle.seek(start)

    def read(self, size: int = -1) -> bytes:
        left = self.length - self.pos
        if left <= 0:
            return b""
        size = left if size is None or size < 0 else min(size, left)
        self.handle.seek(self.start + self.pos)
        data = self.handle.read(size)
        self.pos += len(data)
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self.pos, os.SEEK_END: self.length}[whence]
        self.pos = max(0, min(self.length, base + offset))
        return self.pos

    def tell(self) -> int:
        return self.pos

    def __len__(self) -> int:
        return self.length

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True


class _S3Reader:
    """A StreamingBody whose network errors become StorageError."""

    def __init__(self, body: Any, storage: S3Storage, what: str) -> None:
        self.body = body
        self.storage = storage
        self.what = what

    def read(self, size: int = -1) -> bytes:
        from botocore.exceptions import BotoCoreError

        try:
            data: bytes = self.body.read(size if size >= 0 else None)
            return data
        except (BotoCoreError, OSError) as exc:
            raise self.storage._error(exc, self.what) from None

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.body.close()


