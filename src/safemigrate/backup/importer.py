"""``import_dump``: an existing ``pg_dump`` file (custom format or plain SQL, gzip included) as a backup.

The file is first proven: restored into a scratch database (``pg_restore`` for the custom
format, ``psql`` for plain SQL, in one transaction, stopping at the first error), where the
``schema_migrations`` version and every table's row count are read for the manifest. Then:

* a custom-format dump is stored as it is (a ``.gz`` wrapper removed): the backup holds the
  very bytes pg_dump wrote;
* plain SQL cannot be read by ``pg_restore``, so the scratch database is dumped again with
  ``pg_dump --format=custom`` (what ``backup restore`` uses), and the original file is kept
  beside it, byte for byte, under ``original/``.

Either way the manifest records where it came from (``extra.imported``: the file's name, size
and SHA-256) and the backup is listed, verified and restored like any other. The scratch
database is always dropped. A file already imported (same SHA-256) is refused.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, cast

from ..errors import UsageError
from ..urls import DatabaseURL
from .compress import CHUNK
from .dialect import scratch_name
from .engine import CreateOptions, RestoreFailedError, run_tool
from .manifest import BackupFile, Compression, Manifest, format_time, new_backup_id, utc_now
from .storage import Storage
from .tools import conninfo_string, find_pg_tool, pg_passfile, private_dir

__all__ = ["ImportOptions", "import_dump"]

_GZIP_MAGIC = b"\x1f\x8b"
_CUSTOM_MAGIC = b"PGDMP"


@dataclass
class ImportOptions:
    label: str | None = None
    pin: bool = False
    no_owner: bool = False  # restore without owners/privileges (roles the server lacks)
    pg_bin_dir: str | None = None
    work_dir: str | None = None


@dataclass
class _Source:
    path: Path
    gzip: bool
    format: str  # "custom" or "sql"
    size: int
    sha256: str


def _open(path: Path, gzipped: bool) -> IO[bytes]:
    if gzipped:
        return cast(IO[bytes], gzip.GzipFile(path, "rb"))
    return open(path, "rb")  # the caller's with-block closes it


def _sniff(path: Path) -> _Source:
    """What kind of file this is, from its bytes (never from its name)."""
    if path.is_dir():
        raise UsageError(f"{path} is a folder (pg_dump's directory format?); import takes one file",
                         hint="dump it again with pg_dump --format=custom, or restore it and take a "
                         "backup with safemigrate backup create")
    try:
        with open(path, "rb") as raw:
            gzipped = raw.read(2) == _GZIP_MAGIC
        sha = hashlib.sha256()
        size = 0
        with open(path, "rb") as raw:
            while block := raw.read(CHUNK):
                sha.update(block)
                size += len(block)
        with _open(path, gzipped) as content:
            head = content.read(8192)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file", hint="name an existing pg_dump file: "
                         "safemigrate backup import FILE.dump|FILE.sql[.gz]") from None
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise UsageError(f"{path} cannot be read: {exc}",
                         hint="check the file (gzip -t FILE.gz for a compressed one)") from None
    if head.startswith(_CUSTOM_MAGIC):
        kind = "custom"
    elif len(head) >= 262 and head[257:262] == b"ustar":
        raise UsageError(f"{path} is a tar archive (pg_dump --format=tar), which import does not take",
                         hint="convert it: pg_restore -f FILE.sql FILE.tar, then import FILE.sql")
    elif b"\x00" in head or not head.strip():
        raise UsageError(f"{path} is neither a pg_dump custom-format file nor plain SQL"
                         + (" (it is empty)" if not head.strip() else ""),
                         hint="import takes what pg_dump writes: --format=custom, or plain SQL, "
                         "optionally gzip-compressed")
    else:
        kind = "sql"
    return _Source(path=path, gzip=gzipped, format=kind, size=size, sha256=sha.hexdigest())


def _header(listing: str) -> dict[str, str]:
    """The ``; key: value`` lines at the top of ``pg_restore --list``."""
    fields: dict[str, str] = {}
    for line in listing.splitlines():
        match = re.match(r"^;\s+([A-Za-z][A-Za-z_ ]+?):\s*(.*)$", line)
        if match:
            fields[match.group(1).strip().lower()] = match.group(2).strip()
        created = re.match(r"^; Archive created at (.+)$", line)
        if created:
            fields["archive created at"] = created.group(1).strip()
        if line.startswith("; Selected TOC Entries"):
            break
    return fields


def _sql_header(head: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for key in ("Dumped from database version", "Dumped by pg_dump version"):
        match = re.search(rf"^-- {key} (.+)$", head, re.M)
        if match:
            fields[key.lower()] = match.group(1).strip()
    return fields


def _compression(value: str) -> Compression:
    """pg_dump's own compression, as the header names it (15: -1/0-9; 16+: gzip/lz4/zstd[:level])."""
    method, _, level = value.partition(":")
    if method in ("0", "none"):
        return Compression("none", 0)
    if method.lstrip("-").isdigit():
        return Compression("pg_dump:gzip", None if method == "-1" else int(method))
    return Compression(f"pg_dump:{method}", int(level) if level.isdigit() else None)


def _created(fields: dict[str, str], path: Path) -> tuple[datetime, str]:
    """When the dump was taken: the archive's header (in UTC), else the file's modification time."""
    text = fields.get("archive created at", "")
    match = re.match(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (UTC|GMT)$", text)
    if match:
        return datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC), "archive header"
    return datetime.fromtimestamp(path.stat().st_mtime, UTC), "file modification time"


def _major(version: str | None) -> int:
    match = re.match(r"(\d+)", version or "")
    return int(match.group(1)) if match else 0


def import_dump(path: str | os.PathLike[str], storage: Storage, url: DatabaseURL,
                options: ImportOptions | None = None) -> Manifest:
    """Prove ``path`` restorable on ``url``'s server and store it in ``storage`` as a backup."""
    from . import postgres

    options = options or ImportOptions()
    if url.dialect != "postgres":
        raise UsageError(f"backup import restores pg_dump files on a PostgreSQL server; {url.redacted()} "
                         f"is {url.dialect}", hint="pass `database_url` postgres://... (any database on the "
                         "server: a scratch database is created there and dropped)", settings=("database_url",))
    source = _sniff(Path(path))
    for existing in storage.backups():
        if existing.extra.get("imported", {}).get("sha256") == source.sha256:
            raise UsageError(f"{source.path} was already imported as backup {existing.id}",
                             hint=f"see it with safemigrate backup show {existing.id}")
    conn = postgres._connect(url)
    try:
        server_major, _server_version = postgres.server_major(conn)
    finally:
        conn.close()
    start = time.monotonic()
    scratch = scratch_name()
    postgres.create_database(url, scratch, None)
    try:
        with private_dir("safemigrate-import-", options.work_dir) as work:
            return _import(source, storage, url, scratch, server_major, work, options, start)
    finally:
        postgres.drop_database(url, scratch)


def _import(source: _Source, storage: Storage, url: DatabaseURL, scratch: str, server_major: int,
            work: Path, options: ImportOptions, start: float) -> Manifest:
    from . import postgres

    params = postgres._params(url, scratch)
    with pg_passfile(params) as pass_env:
        env = {**os.environ, **pass_env}
        if source.format == "custom":
            plain = work / "database.dump"
            if source.gzip:
                with _open(source.path, True) as src, open(plain, "wb") as out:
                    shutil.copyfileobj(src, out, CHUNK)
            else:
                plain = source.path
            pg_restore = find_pg_tool("pg_restore", server_major, bin_dir=options.pg_bin_dir,
                                      why=f"the server (PostgreSQL {server_major})")
            fields = _header(run_tool([pg_restore.path, "--list", str(plain)],
                                               what=f"reading {source.path.name}", env=env,
                                               hint="the file is not a readable pg_dump archive"))
            argv = [pg_restore.path, "--no-password", "--exit-on-error", "--single-transaction",
                    "--dbname=" + conninfo_string(params)]
            if options.no_owner:
                argv += ["--no-owner", "--no-privileges"]
            run_tool([*argv, str(plain)], env=env, what=f"restoring {source.path.name} into "
                              f"scratch database {scratch}", secrets=[url.password],
                              error=RestoreFailedError, hint=_restore_hint(options), settings=("no_owner",))
            restored_with = pg_restore
        else:
            with _open(source.path, source.gzip) as content:
                head = content.read(65536).decode("utf-8", "replace")
            fields = _sql_header(head)
            psql = find_pg_tool("psql", max(server_major, _major(fields.get("dumped by pg_dump version"))),
                                bin_dir=options.pg_bin_dir, why="this dump and the server")
            argv = [psql.path, "--no-psqlrc", "--quiet", "--no-password", "--single-transaction",
                    "--set", "ON_ERROR_STOP=1", "--dbname=" + conninfo_string(params), "--file=-"]
            with _open(source.path, source.gzip) as content:
                _run_with_stdin(argv, env, content, what=f"restoring {source.path.name} into scratch "
                                f"database {scratch} with psql", secrets=[url.password],
                                hint=_restore_hint(options), settings=("no_owner",))
            restored_with = psql
        inspection = _inspect(url, scratch)
        return _store(source, storage, url, scratch, fields, inspection, restored_with.to_dict(), options,
                      start)


def _restore_hint(options: ImportOptions) -> str:
    if options.no_owner:
        return "the dump does not restore on this server; see the error above"
    return ("the dump does not restore on this server; if a role is missing, create it, or add "
            "`no_owner` (owners and privileges are then not restored)")


def _run_with_stdin(argv: list[str], env: dict[str, str], content: IO[bytes], *, what: str,
                    secrets: list[str | None], hint: str, settings: tuple[str, ...] = ()) -> None:
    import subprocess

    from .tools import clean_stderr

    with open(os.devnull, "wb") as devnull, subprocess.Popen(
            argv, env=env, stdin=subprocess.PIPE, stdout=devnull, stderr=subprocess.PIPE,
            umask=0o077) as proc:
        assert proc.stdin is not None and proc.stderr is not None
        try:
            while block := content.read(CHUNK):
                proc.stdin.write(block)
            proc.stdin.close()
        except BrokenPipeError:
            pass  # psql stopped at an error: its status and message say which
        err = proc.stderr.read().decode("utf-8", "replace")
        code = proc.wait()
    if code != 0:
        raise RestoreFailedError(f"{what} failed (exit status {code}): {clean_stderr(err, secrets)}",
                                 hint=hint, details={"exit_status": code}, settings=settings)


def _inspect(url: DatabaseURL, scratch: str) -> dict[str, Any]:
    from . import postgres

    conn = postgres._connect(url, scratch)
    try:
        version, dirty = postgres.read_version(conn, "public", "schema_migrations")
        return {"version": version, "dirty": dirty, "row_counts": postgres.count_rows(conn)}
    finally:
        conn.close()


def _store(source: _Source, storage: Storage, url: DatabaseURL, scratch: str, fields: dict[str, str],
           inspection: dict[str, Any], restored_with: dict[str, Any], options: ImportOptions,
           start: float) -> Manifest:
    from . import postgres
    from .compress import sha256_file

    created, created_from = _created(fields, source.path)
    dbname = fields.get("dbname") or re.sub(r"(\.sql)?(\.gz)?$|\.dump(\.gz)?$", "", source.path.name) or "db"
    backup_id = new_backup_id(dbname, created)
    with storage.staged(backup_id) as staging:
        if source.format == "custom":
            data = staging.dir / "database.dump"
            with _open(source.path, source.gzip) as src, open(data, "wb") as out:
                shutil.copyfileobj(src, out, CHUNK)
            files = [BackupFile("database.dump", data.stat().st_size, sha256_file(data))]
            compression = _compression(fields.get("compression", "-1"))
            tool = {"name": "pg_dump", "version": (fields.get("dumped by pg_dump version") or "0").split()[0],
                    "path": None}
            extra: dict[str, Any] = {"data": "database.dump"}
        else:
            # pg_restore cannot read plain SQL: the scratch copy is dumped in the custom format.
            outcome = postgres.dump(postgres_url(url, scratch), staging.dir, CreateOptions(), None)
            original = staging.dir / "original"
            original.mkdir()
            shutil.copyfile(source.path, original / source.path.name)
            kept = BackupFile(f"original/{source.path.name}", source.size, source.sha256)
            files, compression, extra = [*outcome.files, kept], outcome.compression, {"data": outcome.data}
            tool = outcome.tool
        extra["imported"] = {
            "file": source.path.name, "size": source.size, "sha256": source.sha256,
            "format": source.format, "gzip": source.gzip, "created_from": created_from,
            "dumped_from": fields.get("dumped from database version"),
            "restored_with": restored_with, "imported_at": format_time(utc_now()),
        }
        manifest = Manifest(
            id=backup_id, created_at=format_time(created), dialect="postgres",
            database={"host": None, "port": None, "database": dbname},
            server_version=(fields.get("dumped from database version") or "?").split()[0],
            tool=tool, format="custom", compression=compression, files=files,
            size=sum(f.size for f in files), duration_s=round(time.monotonic() - start, 3),
            schema_migrations={"table": "public.schema_migrations", "version": inspection["version"],
                               "dirty": inspection["dirty"]},
            row_counts=inspection["row_counts"], row_counts_consistent=True, pinned=options.pin,
            label=options.label or f"imported from {source.path.name}", extra=extra)
        storage.commit(staging, manifest, None)
    return manifest


def postgres_url(url: DatabaseURL, dbname: str) -> DatabaseURL:
    """``url`` pointing at database ``dbname`` on the same server (password and query kept)."""
    from ..urls import parse_database_url

    return parse_database_url(url.split._replace(path="/" + dbname).geturl())

