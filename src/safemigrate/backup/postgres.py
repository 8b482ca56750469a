"""PostgreSQL: pg_dump in one exported snapshot, row counts in that same snapshot, pg_restore back.

Fast default: ``pg_dump --format=custom --compress=0`` piped through multi-threaded zstd
into the stored file, and in the same pass into ``pg_restore -f /dev/null``, which reads
every block: a dump that stops early (a killed pg_dump, a full pipe) fails here, at
backup time, instead of at restore time. A pg_dump built with zstd (16+) compresses
itself instead; the manifest's ``compression.method`` says which was used.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import DatabaseError, UsageError
from ..redact import redact_text
from ..urls import DatabaseURL
from .compress import (
    CHUNK,
    DEFAULT_ZSTD_LEVEL,
    HashingWriter,
    sha256_file,
    zstd_compressor,
    zstd_threads,
)
from .dialect import SCRATCH_PREFIX, DatabaseIdentity, ServerDialect, Verified, scratch_name
from .engine import (
    BackupFailedError,
    CreateOptions,
    DumpOutcome,
    Inspection,
    RestoreFailedError,
    RestoreOptions,
    StreamFeeder,
    TeeQueue,
    checked_stream,
    fetch_checked,
    run_tool,
    verify_local_files,
)
from .manifest import BackupFile, Compression, Manifest
from .progress import Cancel, Meter, ProgressCallback, check_cancel, end_children_on_cancel
from .storage import Storage, os_error_message
from .tools import (
    BackupToolError,
    Tool,
    child_env,
    clean_stderr,
    conninfo_string,
    find_pg_tool,
    pg_dump_supports,
    pg_passfile,
    private_dir,
)

__all__ = [
    "SCRATCH_PREFIX",
    "PostgresDialect",
    "create_database",
    "drop_database",
    "dump",
    "inspect_database",
    "quick_check",
    "restore_into",
]

MAINTENANCE_DBS = ("postgres", "template1")


# -- connections -----------------------------------------------------------------------
def _params(url: DatabaseURL, dbname: str | None = None) -> dict[str, str]:
    from ..drivers.postgres import connection_params

    params = connection_params(url, application_name="safemigrate-backup")
    if dbname is not None:
        params["dbname"] = dbname
    return params


def _secrets(url: DatabaseURL) -> list[str | None]:
    return [url.password]


def _connect(url: DatabaseURL, dbname: str | None = None) -> Any:
    import psycopg

    params = _params(url, dbname)
    try:
        return psycopg.connect(autocommit=True, **params)  # type: ignore[arg-type]
    except psycopg.Error as exc:
        target = dbname or params.get("dbname", "")
        raise DatabaseError(
            f"cannot connect to database {target!r} at {url.redacted()}: "
            f"{redact_text(str(exc).strip(), [url.password or ''])}",
            hint="check that the server is running and the URL's host, port, user and password",
        ) from None


@contextlib.contextmanager
def admin_connection(url: DatabaseURL) -> Iterator[Any]:
    """A connection to a maintenance database, for CREATE/DROP/ALTER DATABASE."""
    last: DatabaseError | None = None
    for name in MAINTENANCE_DBS:
        try:
            conn = _connect(url, name)
        except DatabaseError as exc:
            last = exc
            continue
        try:
            yield conn
        finally:
            conn.close()
        return
    assert last is not None
    raise last


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def server_major(conn: Any) -> tuple[int, str]:
    row = conn.execute("SELECT current_setting('server_version_num')::int, "
                       "current_setting('server_version')").fetchone()
    return int(row[0]) // 10000, str(row[1])


# -- what a database holds ---------------------------------------------------------------
_TABLES_SQL = """
SELECT n.nspname, c.relname
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg\\_toast%%' AND n.nspname NOT LIKE 'pg\\_temp\\_%%'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
 ORDER BY 1, 2
"""


def count_rows(conn: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for schema, table in conn.execute(_TABLES_SQL).fetchall():
        row = conn.execute(f"SELECT count(*) FROM {_quote(schema)}.{_quote(table)}").fetchone()
        counts[f"{schema}.{table}"] = int(row[0])
    return counts


def version_table(url: DatabaseURL, conn: Any) -> tuple[str, str]:
    """(schema, table) of golang-migrate's version table as the driver would find it."""
    name = url.custom.get("x-migrations-table") or "schema_migrations"
    quoted = url.custom_bool("x-migrations-table-quoted")
    schema = conn.execute("SELECT current_schema()").fetchone()[0] or "public"
    if quoted and name.startswith('"'):
        import re

        parts = re.findall(r'"(.*?)"', name)
        if len(parts) == 2:
            return parts[0], parts[1]
        return schema, parts[-1]
    return schema, name


def read_version(conn: Any, schema: str, table: str) -> tuple[int | None, bool]:
    exists = conn.execute("SELECT to_regclass(%s)", (f"{_quote(schema)}.{_quote(table)}",)).fetchone()[0]
    if exists is None:
        return None, False
    row = conn.execute(f"SELECT version, dirty FROM {_quote(schema)}.{_quote(table)} LIMIT 1").fetchone()
    if row is None:
        return None, False
    version = int(row[0])
    return (None if version == -1 else version), bool(row[1])


# -- dump ---------------------------------------------------------------------------------
def _choose_compression(tool: Tool, options: CreateOptions) -> Compression:
    choice = options.compression
    if options.format == "directory":
        if choice == "zstd" and not pg_dump_supports(tool, "zstd"):
            raise UsageError(
                f"`compression` zstd with `dump_format` directory needs a pg_dump built with zstd "
                f"({tool.path} {tool.version} is not)",
                hint="use `compression` auto (pg_dump's gzip) or `dump_format` custom",
                settings=("compression", "dump_format"))
        if choice in ("auto", "zstd") and pg_dump_supports(tool, "zstd"):
            return Compression("pg_dump:zstd", options.level or DEFAULT_ZSTD_LEVEL)
        if choice == "none":
            return Compression("none", 0)
        return Compression("pg_dump:gzip", options.level)
    if choice == "gzip":
        return Compression("pg_dump:gzip", options.level)
    if choice == "none":
        return Compression("none", 0)
    if choice == "auto" and pg_dump_supports(tool, "zstd"):
        return Compression("pg_dump:zstd", options.level or DEFAULT_ZSTD_LEVEL)
    return Compression("zstd", options.level or DEFAULT_ZSTD_LEVEL, zstd_threads())


def _compress_arg(compression: Compression) -> str:
    if compression.method == "pg_dump:zstd":
        return f"--compress=zstd:{compression.level}"
    if compression.method == "pg_dump:gzip":
        return f"--compress={compression.level}" if compression.level is not None else ""
    return "--compress=0"


def dump(url: DatabaseURL, staging: Path, options: CreateOptions,
         progress: ProgressCallback | None = None, cancel: Cancel | None = None) -> DumpOutcome:
    conn = _connect(url)
    try:
        major, server_version = server_major(conn)
        tool = find_pg_tool("pg_dump", major, bin_dir=options.pg_bin_dir,
                            why=f"the server (PostgreSQL {server_version})")
        checker = (find_pg_tool("pg_restore", tool.major, bin_dir=str(Path(tool.path).parent),
                                why=f"reading back dumps made by pg_dump {tool.version}")
                   if options.check_stream else None)
        compression = _choose_compression(tool, options)
        info = conn.execute(
            "SELECT current_database(), pg_encoding_to_char(d.encoding), d.datcollate, d.datctype "
            "FROM pg_database d WHERE d.datname = current_database()").fetchone()
        dbname, encoding, collate, ctype = info
        params = _params(url)
        identity = {"host": params.get("host") or "localhost", "port": int(params.get("port") or 5432),
                    "database": dbname}
        schema, table = version_table(url, conn)

        # One snapshot for everything: exported here, imported by pg_dump, counted in by us.
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        version, dirty = read_version(conn, schema, table)

        counts: dict[str, int] = {}
        count_error: list[BaseException] = []

        def count() -> None:
            try:
                counts.update(count_rows(conn))
            except BaseException as exc:
                count_error.append(exc)

        counter = threading.Thread(target=count, daemon=True)
        counter.start()
        try:
            files, data = _run_dump(url, tool, checker, compression, snapshot, staging, options, progress,
                                    cancel)
        finally:
            counter.join()
        if count_error:
            raise DatabaseError(f"counting rows in {dbname} failed: "
                                f"{redact_text(str(count_error[0]), [url.password or ''])}")
        conn.execute("COMMIT")
    finally:
        conn.close()
    return DumpOutcome(
        files=files, data=data, format=options.format, compression=compression,
        tool={**tool.to_dict(), "checked_with": checker.to_dict() if checker is not None else None},
        server_version=server_version, database=identity,
        schema_migrations={"table": f"{schema}.{table}", "version": version, "dirty": dirty},
        row_counts=counts, row_counts_consistent=True,
        extra={"snapshot": "pg_export_snapshot", "encoding": encoding, "collate": collate, "ctype": ctype,
               "server_major": major},
    )


def _pg_dump_argv(tool: Tool, url: DatabaseURL, snapshot: str, compression: Compression,
                  options: CreateOptions, target: Path | None) -> list[str]:
    argv = [tool.path, f"--format={options.format}", "--no-password", f"--snapshot={snapshot}"]
    arg = _compress_arg(compression)
    if arg:
        argv.append(arg)
    if options.format == "directory" and options.jobs > 1:
        argv.append(f"--jobs={options.jobs}")
    if target is not None:
        argv.append(f"--file={target}")
    argv.append("--dbname=" + conninfo_string(_params(url)))
    return argv


def _run_dump(url: DatabaseURL, tool: Tool, checker: Tool | None, compression: Compression, snapshot: str,
              staging: Path, options: CreateOptions, progress: ProgressCallback | None,
              cancel: Cancel | None = None) -> tuple[list[BackupFile], str]:
    params = _params(url)
    with pg_passfile(params) as pass_env, private_dir("safemigrate-dump-") as private:
        env = child_env(pass_env)
        if compression.method == "zstd":
            name = "database.dump.zst"
            entry = _stream_dump(url, tool, checker, compression, snapshot, staging / name, options,
                                 env, private, progress, cancel)
            return [entry], name
        # pg_dump writes (and compresses) itself: a file, or a folder for --dump-format directory.
        name = "database.dump" if options.format == "custom" else "database.dir"
        target = staging / name
        argv = _pg_dump_argv(tool, url, snapshot, compression, options, target)
        # Counted from the watcher thread below, so no cancel here: run_tool polls it and kills pg_dump.
        meter = Meter("dump", progress)
        stop = threading.Event()

        def watch() -> None:
            while not stop.wait(1.0):
                meter.done = 0
                meter.add(_size_of(target))

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            run_tool(argv, env=env, what=f"pg_dump of {url.redacted()}", secrets=_secrets(url),
                     hint="fix the cause above and run safemigrate backup create again", cancel=cancel)
        finally:
            stop.set()
            watcher.join()
        meter.done = 0
        meter.add(_size_of(target))
        meter.finish()
        if checker is not None:
            run_tool([checker.path, "--file=" + os.devnull, str(target)], env=env,
                     what=f"reading back the dump {name} with pg_restore",
                     hint="the dump is incomplete or damaged; run safemigrate backup create again",
                     cancel=cancel)
        files = []
        paths = [target] if target.is_file() else sorted(p for p in target.rglob("*") if p.is_file())
        for path in paths:
            os.chmod(path, 0o600)
            files.append(BackupFile(path.relative_to(staging).as_posix(), path.stat().st_size,
                                    sha256_file(path)))
        if not files or sum(f.size for f in files) == 0:
            raise BackupFailedError(f"pg_dump of {url.redacted()} wrote nothing",
                                    hint="run safemigrate backup create again")
        return files, name


def _size_of(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return 0


def _stream_dump(url: DatabaseURL, tool: Tool, checker: Tool | None, compression: Compression, snapshot: str,
                 target: Path, options: CreateOptions, env: dict[str, str], private: Path,
                 progress: ProgressCallback | None, cancel: Cancel | None = None) -> BackupFile:
    argv = _pg_dump_argv(tool, url, snapshot, compression, options, None)
    dump_err = open(private / "pg_dump.err", "w+b")  # noqa: SIM115 - closed below
    check_err = open(private / "pg_restore.err", "w+b")  # noqa: SIM115
    meter = Meter("dump", progress, cancel=cancel)
    stack = contextlib.ExitStack()  # the cancel watcher: ended first in the finally below
    children = stack.enter_context(end_children_on_cancel(cancel))
    proc = children.add(subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=dump_err, umask=0o077))
    check: subprocess.Popen[bytes] | None = None
    tee: TeeQueue | None = None
    raw_size = 0
    try:
        if checker is not None:
            check = children.add(subprocess.Popen([checker.path, "--file=" + os.devnull], env=env,
                                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                                  stderr=check_err, umask=0o077))
            assert check.stdin is not None
            tee = TeeQueue(check.stdin)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        assert proc.stdout is not None
        with os.fdopen(fd, "wb") as out:
            writer = HashingWriter(out)
            cctx = zstd_compressor(compression.level or DEFAULT_ZSTD_LEVEL, compression.threads)
            with cctx.stream_writer(writer, closefd=False, write_size=CHUNK) as zwriter:
                while True:
                    block = proc.stdout.read(CHUNK)
                    if not block:
                        break
                    raw_size += len(block)
                    meter.add(len(block))
                    if tee is not None:
                        tee.put(block)
                    zwriter.write(block)
            out.flush()
            os.fsync(out.fileno())
        rc = proc.wait()
        if tee is not None:
            tee.close()
        check_rc = check.wait() if check is not None else 0
        meter.finish()
        if rc != 0:
            dump_err.seek(0)
            err = clean_stderr(dump_err.read().decode("utf-8", "replace"), _secrets(url))
            raise BackupToolError(
                f"pg_dump of {url.redacted()} failed (exit status {rc}): {err}",
                hint="fix the cause above and run safemigrate backup create again",
                details={"exit_status": rc})
        if raw_size == 0:
            raise BackupFailedError(f"pg_dump of {url.redacted()} wrote nothing",
                                    hint="check pg_dump and run safemigrate backup create again")
        if check_rc != 0:
            check_err.seek(0)
            err = clean_stderr(check_err.read().decode("utf-8", "replace"), _secrets(url))
            raise BackupFailedError(
                f"the dump of {url.redacted()} is incomplete or damaged: pg_restore could not read "
                f"it back ({err}); pg_dump exited with status 0 anyway",
                hint="the backup was discarded; check pg_dump (and the disk) and run "
                "safemigrate backup create again",
                details={"raw_size": raw_size})
    except OSError as exc:
        raise os_error_message(exc, f"writing {target.name}") from None
    finally:
        stack.close()
        for child in (proc, check):
            if child is not None and child.poll() is None:
                child.kill()
                child.wait()
        if tee is not None and tee.thread.is_alive():
            tee.close()
        dump_err.close()
        check_err.close()
    return BackupFile(target.name, writer.size, writer.hexdigest())


# -- restore ---------------------------------------------------------------------------------
def create_database(url: DatabaseURL, name: str, manifest: Manifest | None) -> None:
    import psycopg

    extra = manifest.extra if manifest is not None else {}
    with admin_connection(url) as conn:
        sql = f"CREATE DATABASE {_quote(name)} TEMPLATE template0"
        if extra.get("encoding"):
            with_locale = (sql + f" ENCODING '{extra['encoding']}' LC_COLLATE '{extra['collate']}' "
                           f"LC_CTYPE '{extra['ctype']}'")
            try:
                conn.execute(with_locale.replace("%", "%%"))
                return
            except psycopg.errors.DuplicateDatabase:
                raise UsageError(f"database {name!r} already exists on {url.redacted()}",
                                 hint="choose another name with `target` NAME", settings=("target",)) from None
            except psycopg.Error:
                pass  # locale not available here: fall back to the server's defaults
        try:
            conn.execute(sql)
        except psycopg.errors.DuplicateDatabase:
            raise UsageError(f"database {name!r} already exists on {url.redacted()}",
                             hint="choose another name with `target` NAME", settings=("target",)) from None
        except psycopg.errors.InsufficientPrivilege:
            raise DatabaseError(
                f"the user of {url.redacted()} may not create databases (needed for {name!r})",
                hint="grant it CREATEDB (ALTER ROLE ... CREATEDB) or verify with a user that has it, "
                "or use safemigrate backup verify --quick") from None


def drop_database(url: DatabaseURL, name: str) -> None:
    import psycopg

    with admin_connection(url) as conn:
        try:
            conn.execute(f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)")
        except psycopg.errors.SyntaxError:  # PostgreSQL < 13
            conn.execute(f"DROP DATABASE IF EXISTS {_quote(name)}")


def restore_tool(url: DatabaseURL, manifest: Manifest, bin_dir: str | None) -> Tool:
    conn = _connect(url)
    try:
        major, version = server_major(conn)
    finally:
        conn.close()
    dumped_with = int(str(manifest.tool.get("version", "0")).split(".")[0] or 0)
    needed = max(major, dumped_with)
    return find_pg_tool("pg_restore", needed, bin_dir=bin_dir,
                        why=f"this backup (made by pg_dump {manifest.tool.get('version')}) and the "
                        f"server (PostgreSQL {version})")


def restore_into(storage: Storage, manifest: Manifest, url: DatabaseURL, dbname: str,
                 options: RestoreOptions, progress: ProgressCallback | None = None,
                 cancel: Cancel | None = None) -> Tool:
    """Restore ``manifest`` into the existing, empty database ``dbname`` on ``url``'s server."""
    tool = restore_tool(url, manifest, options.pg_bin_dir)
    params = _params(url, dbname)
    argv = [tool.path, "--no-password", "--exit-on-error", "--dbname=" + conninfo_string(params)]
    if options.no_owner:
        argv += ["--no-owner", "--no-privileges"]
    use_jobs = options.jobs > 1
    if options.single_transaction and not use_jobs:
        argv.append("--single-transaction")
    hint = ("the backup could not be restored; see the error above, then run safemigrate backup "
            "verify on an older backup (safemigrate backup list)")
    meter = Meter("restore", progress, sum(f.size for f in manifest.files), cancel=cancel)
    with pg_passfile(params) as pass_env:
        env = child_env(pass_env)
        local = storage.local_dir(manifest.id)
        stream = manifest.compression.method == "zstd"
        if stream and not use_jobs:
            _restore_stream(storage, manifest, argv, env, _secrets(url), meter, cancel)
        else:
            with private_dir("safemigrate-restore-", options.work_dir) as work:
                if local is not None and not stream:
                    verify_local_files(local, manifest, meter)
                    source = local / manifest.data_name
                else:
                    fetch_checked(storage, manifest, work, meter)
                    source = work / manifest.data_name
                    if stream:  # decompress so pg_restore can seek (parallel restore)
                        plain = work / "database.dump"
                        _decompress_file(source, plain)
                        source.unlink()
                        source = plain
                if use_jobs:
                    argv.append(f"--jobs={options.jobs}")
                run_tool([*argv, str(source)], env=env, what=f"pg_restore into {dbname}",
                         secrets=_secrets(url), hint=hint, error=RestoreFailedError, cancel=cancel)
    meter.finish()
    return tool


def _decompress_file(source: Path, target: Path) -> None:
    import zstandard

    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(source, "rb") as src, os.fdopen(fd, "wb") as out:
        zstandard.ZstdDecompressor().copy_stream(src, out, read_size=CHUNK, write_size=CHUNK)


def _restore_stream(storage: Storage, manifest: Manifest, argv: list[str], env: dict[str, str],
                    secrets_: list[str | None], meter: Meter, cancel: Cancel | None = None) -> None:
    with private_dir("safemigrate-restore-") as private:
        err_path = private / "pg_restore.err"
        with open(err_path, "w+b") as err, checked_stream(storage, manifest, manifest.data_name,
                                                          meter) as reader, \
                end_children_on_cancel(cancel) as children:
            proc = children.add(subprocess.Popen(argv, env=env, stdin=subprocess.PIPE,
                                                 stdout=subprocess.DEVNULL, stderr=err, umask=0o077))
            assert proc.stdin is not None
            feeder = StreamFeeder(reader, manifest.compression.method, proc.stdin).start()
            try:
                feeder.join()
                rc = proc.wait()
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            check_cancel(cancel)  # a cancelled restore's tool was killed: not its failure
            if rc != 0:
                err.seek(0)
                text = clean_stderr(err.read().decode("utf-8", "replace"), secrets_)
                raise RestoreFailedError(
                    f"pg_restore of backup {manifest.id} failed (exit status {rc}): {text}",
                    hint="the backup could not be restored; restore an older verified backup "
                    "(safemigrate backup list)", details={"exit_status": rc})


def inspect_database(url: DatabaseURL, dbname: str, manifest: Manifest) -> Inspection:
    conn = _connect(url, dbname)
    try:
        table = manifest.schema_migrations.get("table") or "public.schema_migrations"
        schema, _, name = table.partition(".")
        version, dirty = read_version(conn, schema, name)
        return Inspection(version=version, dirty=dirty, row_counts=count_rows(conn))
    finally:
        conn.close()


def quick_check(storage: Storage, manifest: Manifest, options: RestoreOptions,
                progress: ProgressCallback | None = None, cancel: Cancel | None = None) -> list[str]:
    """Checksums of every file, and every data block read by ``pg_restore -f /dev/null``; no server."""
    dumped_with = int(str(manifest.tool.get("version", "0")).split(".")[0] or 0)
    tool = find_pg_tool("pg_restore", dumped_with, bin_dir=options.pg_bin_dir,
                        why=f"this backup (made by pg_dump {manifest.tool.get('version')})")
    argv = [tool.path, "--file=" + os.devnull]
    meter = Meter("verify", progress, sum(f.size for f in manifest.files), cancel=cancel)
    if manifest.compression.method == "zstd":
        _restore_stream(storage, manifest, argv, child_env(), [], meter, cancel)
    else:
        with private_dir("safemigrate-verify-", options.work_dir) as work:
            local = storage.local_dir(manifest.id)
            if local is not None:
                verify_local_files(local, manifest, meter)
                source = local / manifest.data_name
            else:
                fetch_checked(storage, manifest, work, meter)
                source = work / manifest.data_name
            run_tool([*argv, str(source)], what=f"reading every block of backup {manifest.id}",
                     error=RestoreFailedError, cancel=cancel,
                     hint="the backup is damaged; restore an older verified backup (safemigrate backup list)")
    meter.finish()
    return [f"sha256 of {len(manifest.files)} file(s)", f"every data block read by {tool.name} {tool.version}"]


def verify_full(storage: Storage, manifest: Manifest, url: DatabaseURL | None, options: RestoreOptions,
                progress: ProgressCallback | None = None, cancel: Cancel | None = None) -> Inspection:
    """Restore into a scratch database (created here, always dropped) and inspect it."""
    assert url is not None
    name = scratch_name()
    create_database(url, name, manifest)
    try:
        tool = restore_into(storage, manifest, url, name, options, progress, cancel)
        inspection = inspect_database(url, name, manifest)
        inspection.checks.append(f"restored by {tool.name} {tool.version} into scratch database {name} "
                                 "(--single-transaction), then dropped")
        return inspection
    finally:
        drop_database(url, name)


def database_exists(url: DatabaseURL, name: str) -> bool:
    with admin_connection(url) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def leftovers(url: DatabaseURL, original: str) -> list[str]:
    """Databases an interrupted restore of ``original`` left on the server (``_incoming_``/``_old_``)."""
    with admin_connection(url) as conn:
        names = [str(r[0]) for r in conn.execute("SELECT datname FROM pg_database ORDER BY 1").fetchall()]
    return [n for n in names
            if any(n.startswith(f"{original[:30]}_safemigrate_{kind}_") for kind in ("incoming", "old"))]


def drop_command(name: str) -> str:
    return f"DROP DATABASE IF EXISTS {_quote(name)};"


def idle_scratch_databases(url: DatabaseURL) -> list[str]:
    """The scratch databases (SCRATCH_PREFIX) on the server that no session is connected to."""
    import psycopg

    try:
        with admin_connection(url) as conn:
            rows = conn.execute(
                "SELECT datname FROM pg_database d WHERE left(datname, %s) = %s "
                "AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datid = d.oid)",
                (len(SCRATCH_PREFIX), SCRATCH_PREFIX)).fetchall()
    except psycopg.Error:
        return []  # reading the catalog is refused: nothing to report
    return [str(r[0]) for r in rows]


def refusing_connections(url: DatabaseURL, name: str) -> str | None:
    """The statement that reopens ``name`` when a restore killed during its swap left it closed."""
    with admin_connection(url) as conn:
        row = conn.execute("SELECT datallowconn FROM pg_database WHERE datname = %s", (name,)).fetchone()
    if row is None or row[0]:
        return None
    return f"ALTER DATABASE {_quote(name)} ALLOW_CONNECTIONS true;"


def swap_databases(url: DatabaseURL, original: str, incoming: str) -> None:
    """Put ``incoming`` in place of ``original`` (two renames in one transaction), then drop the old one.

    Sessions connected to the original are ended (the restore replaces what they see).
    The original's owner is carried over when we may.
    """
    import psycopg

    old = f"{original[:30]}_safemigrate_old_{secrets.token_hex(3)}"
    with admin_connection(url) as conn:
        owner = conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
                             (original,)).fetchone()
        if owner is None:
            raise UsageError(f"database {original!r} does not exist on {url.redacted()}",
                             hint=f"restore into a new database instead: add `target` {original} and "
                             "drop `replace`", settings=("target", "replace"))
        with contextlib.suppress(psycopg.Error):
            conn.execute(f"ALTER DATABASE {_quote(incoming)} OWNER TO {_quote(owner[0])}")
        # No ALLOW_CONNECTIONS false: a kill would leave the live database closed. Sessions are
        # ended and both renames run in one transaction, retried while a session reconnects, so a
        # kill at any moment leaves the original or the restored copy under the name, unchanged.
        last: Exception | None = None
        for _ in range(50):
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = %s AND pid <> pg_backend_pid()", (original,))
            try:
                with conn.transaction():
                    conn.execute(f"ALTER DATABASE {_quote(original)} RENAME TO {_quote(old)}")
                    conn.execute(f"ALTER DATABASE {_quote(incoming)} RENAME TO {_quote(original)}")
                break
            except psycopg.errors.ObjectInUse as exc:  # a session is still (or again) connected
                last = exc
                time.sleep(0.1)
            except psycopg.Error as exc:
                raise DatabaseError(f"cannot replace {original!r}: {redact_text(str(exc))}",
                                    hint="nothing was replaced; see the error above and run the restore "
                                    "again") from None
        else:
            raise DatabaseError(
                f"cannot replace {original!r}: sessions keep connecting to it "
                f"({redact_text(str(last)).strip()})",
                hint="nothing was replaced; stop the applications using it (step 4 of the restore "
                "procedure in docs/backups.md) and run the restore again")
    drop_database(url, old)



class PostgresDialect(ServerDialect):
    """PostgreSQL behind the :class:`~safemigrate.backup.dialect.BackupDialect` interface."""

    dialect = "postgres"
    max_name = 63
    client = "psql"

    def identity(self) -> DatabaseIdentity:
        conn = _connect(self.url)
        try:
            _major, version = server_major(conn)
            name = str(conn.execute("SELECT current_database()").fetchone()[0])
        finally:
            conn.close()
        params = _params(self.url)
        return DatabaseIdentity(self.dialect, name,
                                f"{params.get('host') or 'localhost'}:{params.get('port') or 5432}", version)

    def label(self) -> str:
        return self.url.path.lstrip("/") or "db"

    def create(self, staging: Path, options: CreateOptions) -> DumpOutcome:
        return dump(self.url, staging, options, self.progress, self.cancel)

    def verify(self, storage: Storage, manifest: Manifest, options: RestoreOptions, *,
               quick: bool) -> Verified:
        if quick:
            return Verified(quick_check(storage, manifest, options, self.progress, self.cancel))
        inspection = verify_full(storage, manifest, self.url, options, self.progress, self.cancel)
        return Verified(inspection.checks, inspection, self.scratch_leftovers())

    def create_database(self, name: str, manifest: Manifest | None) -> None:
        create_database(self.url, name, manifest)

    def drop_database(self, name: str) -> None:
        drop_database(self.url, name)

    def restore_into(self, storage: Storage, manifest: Manifest, name: str, options: RestoreOptions) -> None:
        restore_into(storage, manifest, self.url, name, options, self.progress, self.cancel)

    def inspect(self, name: str, manifest: Manifest) -> Inspection:
        return inspect_database(self.url, name, manifest)

    def swap_databases(self, original: str, incoming: str, storage: Storage, manifest: Manifest,
                       options: RestoreOptions) -> None:
        swap_databases(self.url, original, incoming)

    def exists(self, name: str) -> bool:
        return database_exists(self.url, name)

    def leftover_names(self, original: str) -> list[str]:
        return leftovers(self.url, original)

    def drop_command(self, name: str) -> str:
        return drop_command(name)

    def idle_scratch_names(self) -> list[str]:
        return idle_scratch_databases(self.url)

    def reopen_command(self, name: str) -> str | None:
        return refusing_connections(self.url, name)

    def rename_back_command(self, old: str, original: str) -> str | None:
        return f"ALTER DATABASE {_quote(old)} RENAME TO {_quote(original)};"
