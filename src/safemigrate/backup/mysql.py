"""MySQL / MariaDB: ``mariadb-dump``/``mysqldump --single-transaction --routines --triggers --events``.

Row counts and the version are read in a snapshot taken at the same moment as the dump's:
we hold ``FLUSH TABLES WITH READ LOCK`` (as ``--master-data`` does) while our own
``START TRANSACTION WITH CONSISTENT SNAPSHOT`` and the dump's begin, and release it as
soon as the dump has started on its first table. Without the RELOAD privilege the counts
come from a snapshot taken just before the dump, and the manifest says so
(``row_counts_consistent: false``); verification then reports count differences without failing.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from ..errors import DatabaseError, SafemigrateError, UsageError
from ..redact import redact_text
from ..urls import DatabaseURL
from .compress import (
    CHUNK,
    DEFAULT_ZSTD_LEVEL,
    HashingWriter,
    decompressing_reader,
    zstd_compressor,
    zstd_threads,
)
from .dialect import SCRATCH_PREFIX, DatabaseIdentity, ServerDialect, Verified, scratch_name
from .engine import (
    BackupFailedError,
    ChecksumError,
    CreateOptions,
    DumpOutcome,
    Inspection,
    RestoreFailedError,
    RestoreOptions,
    checked_stream,
)
from .manifest import BackupFile, Compression, Manifest
from .progress import Cancel, Meter, ProgressCallback, check_cancel, end_children_on_cancel
from .storage import Storage, os_error_message
from .tools import (
    BackupToolError,
    child_env,
    clean_stderr,
    find_mysql_client,
    find_mysql_dump,
    mysql_defaults_file,
    private_dir,
)

__all__ = ["SCRATCH_PREFIX", "MysqlDialect", "MysqlParams", "dump", "mysql_params", "verify_full"]

DATA_NAME = "database.sql.zst"
_END_MARK = b"-- Dump completed"


@dataclass(frozen=True)
class MysqlParams:
    host: str
    port: int
    user: str
    password: str | None
    database: str
    socket: str | None = None

    def tool_args(self) -> list[str]:
        args = [f"--user={self.user}"]
        if self.socket:
            args.append(f"--socket={self.socket}")
        else:
            args += [f"--host={self.host}", f"--port={self.port}", "--protocol=TCP"]
        return args


def mysql_params(url: DatabaseURL) -> MysqlParams:
    """Both ``mysql://user:pw@host:3306/db`` and golang-migrate's ``mysql://user:pw@tcp(host:3306)/db``.

    The MySQL driver's parser is used when present, so both read URLs the same way.
    """
    try:
        from ..drivers.mysql import parse_mysql_url  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return _own_params(url)
    target = parse_mysql_url(url)
    if not target.database:
        raise UsageError(f"{url.redacted()} names no database", hint="write mysql://user@host:3306/DBNAME")
    return MysqlParams(host=target.host or "localhost", port=int(target.port), user=target.user or "root",
                       password=target.password, database=target.database, socket=target.unix_socket)


def _own_params(url: DatabaseURL) -> MysqlParams:
    netloc = url.split.netloc
    userinfo, _, hostpart = netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    socket_path: str | None = None
    match = re.fullmatch(r"(tcp|unix)\((.*)\)", hostpart)
    if match and match.group(1) == "unix":
        socket_path, host, port = match.group(2), "localhost", 3306
    else:
        address = match.group(2) if match else hostpart
        host, _, port_text = address.rpartition(":") if ":" in address else (address, "", "")
        try:
            port = int(port_text) if port_text else 3306
        except ValueError:
            raise UsageError(f"bad port in {url.redacted()}", hint="write mysql://user@host:3306/db") from None
    database = unquote(url.path.lstrip("/"))
    if not database:
        raise UsageError(f"{url.redacted()} names no database", hint="write mysql://user@host:3306/DBNAME")
    return MysqlParams(host=host or "127.0.0.1", port=port, user=unquote(user) or "root",
                       password=unquote(password) if password else None, database=database,
                       socket=socket_path)


def _connect(params: MysqlParams, database: str | None = None) -> Any:
    import pymysql

    try:
        if params.socket:
            where: dict[str, Any] = {"unix_socket": params.socket}
        else:
            where = {"host": params.host, "port": params.port}
        return pymysql.connect(**where, user=params.user, password=params.password or "",
                               database=database, autocommit=True, charset="utf8mb4", connect_timeout=15)
    except pymysql.Error as exc:
        raise DatabaseError(
            f"cannot connect to MySQL/MariaDB at {params.host}:{params.port} as {params.user}: "
            f"{redact_text(str(exc), [params.password or ''])}",
            hint="check that the server is running and the URL's host, port, user and password") from None


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _rows(conn: Any, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return list(cur.fetchall())


def _inspect(conn: Any, database: str, table: str) -> Inspection:
    tables = [str(r[0]) for r in _rows(
        conn, "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
        "AND table_type = 'BASE TABLE' ORDER BY table_name", (database,))]
    counts = {t: int(_rows(conn, f"SELECT COUNT(*) FROM {_q(database)}.{_q(t)}")[0][0]) for t in tables}
    version: int | None = None
    dirty: bool | None = False
    if table in counts:
        rows = _rows(conn, f"SELECT version, dirty FROM {_q(database)}.{_q(table)} LIMIT 1")
        if rows:
            version = None if int(rows[0][0]) == -1 else int(rows[0][0])
            dirty = bool(rows[0][1])
    return Inspection(version=version, dirty=dirty, row_counts=counts)


# A table altered after the dump's snapshot began (a migration running): the server says
# "Table definition has changed, please retry transaction". We retry, as it asks, a few times.
_DDL_RACE = ("1412", "Table definition has changed")
RETRY_DELAYS = (1.0, 3.0, 9.0)


def _is_ddl_race(exc: SafemigrateError) -> bool:
    return any(mark in exc.message for mark in _DDL_RACE)


def dump(url: DatabaseURL, staging: Path, options: CreateOptions,
         progress: ProgressCallback | None = None, cancel: Cancel | None = None) -> DumpOutcome:
    """Dump, retrying (with growing pauses) when a concurrent DDL statement breaks the snapshot."""
    params = mysql_params(url)
    tool = find_mysql_dump()
    retried: list[str] = []
    for delay in (*RETRY_DELAYS, None):
        try:
            outcome = _dump_once(url, params, tool, staging, options, progress, cancel)
        except (BackupToolError, DatabaseError) as exc:
            if not _is_ddl_race(exc):
                raise
            (staging / DATA_NAME).unlink(missing_ok=True)
            if delay is None:
                raise BackupFailedError(
                    f"the dump of {params.database} failed {len(retried) + 1} times: a table was changed "
                    "while it ran (MariaDB/MySQL error 1412, 'Table definition has changed'); a migration "
                    "or other schema change is probably running",
                    hint="run safemigrate backup create again once the migration has finished "
                    "(safemigrate version shows whether one is in progress), or take the backup before "
                    "starting it", details={"attempts": len(retried) + 1}) from None
            retried.append(f"attempt {len(retried) + 1} hit error 1412 (a table changed during the dump); "
                           f"retried after {delay:.0f}s")
            if cancel is not None:
                cancel.wait(delay)
                check_cancel(cancel)
            else:
                time.sleep(delay)
            continue
        outcome.warnings.extend(retried)
        return outcome
    raise AssertionError("unreachable")


def _dump_once(url: DatabaseURL, params: MysqlParams, tool: Any, staging: Path, options: CreateOptions,
               progress: ProgressCallback | None, cancel: Cancel | None = None) -> DumpOutcome:
    import pymysql

    table = url.custom.get("x-migrations-table") or "schema_migrations"
    conn = _connect(params, params.database)
    consistent = True
    warnings: list[str] = []
    try:
        server_version = str(_rows(conn, "SELECT VERSION()")[0][0])
        charset, collation = _rows(conn, "SELECT default_character_set_name, default_collation_name "
                                   "FROM information_schema.schemata WHERE schema_name = %s",
                                   (params.database,))[0]
        try:
            _rows(conn, "FLUSH TABLES WITH READ LOCK")
            locked = True
        except pymysql.Error:
            locked = False
            consistent = False
            warnings.append("no RELOAD privilege: row counts were taken just before the dump, not in its "
                            "snapshot")
        _rows(conn, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        _rows(conn, "START TRANSACTION WITH CONSISTENT SNAPSHOT")
        compression = (Compression("none", 0) if options.compression == "none"
                       else Compression("zstd", options.level or DEFAULT_ZSTD_LEVEL, zstd_threads()))
        try:
            entry = _run_dump(tool.path, params, staging / DATA_NAME, compression, progress,
                              conn if locked else None, cancel)
        finally:
            if locked:
                with contextlib.suppress(pymysql.Error):
                    _rows(conn, "UNLOCK TABLES")
        try:
            inspection = _inspect(conn, params.database, table)
            _rows(conn, "COMMIT")
        except pymysql.Error as exc:  # 1412 here too when a migration altered a table meanwhile
            raise DatabaseError(f"counting the rows of {params.database} failed: {exc}") from None
    finally:
        conn.close()
    return DumpOutcome(
        files=[entry], data=entry.name, format="sql", compression=compression, tool=tool.to_dict(),
        server_version=server_version,
        database={"host": params.socket or params.host, "port": params.port, "database": params.database},
        schema_migrations={"table": table, "version": inspection.version, "dirty": inspection.dirty},
        row_counts=inspection.row_counts, row_counts_consistent=consistent,
        extra={"charset": charset, "collation": collation,
               "snapshot": "flush-tables-with-read-lock" if consistent else "separate"},
        warnings=warnings,
    )


def _run_dump(dump_path: str, params: MysqlParams, target: Path, compression: Compression,
              progress: ProgressCallback | None, lock_conn: Any, cancel: Cancel | None = None) -> BackupFile:
    import pymysql

    meter = Meter("dump", progress, cancel=cancel)
    with mysql_defaults_file(params.password) as defaults, private_dir("safemigrate-dump-") as private:
        argv = [dump_path, *defaults, *params.tool_args(), "--single-transaction", "--routines",
                "--triggers", "--events", "--hex-blob", "--default-character-set=utf8mb4",
                "--no-tablespaces", params.database]
        err_path = private / "dump.err"
        tail = b""
        started = lock_conn is None
        with open(err_path, "w+b") as err, end_children_on_cancel(cancel) as children:
            proc = children.add(subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                                 stderr=err, umask=0o077, env=child_env()))
            try:
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                assert proc.stdout is not None
                with os.fdopen(fd, "wb") as out:
                    writer = HashingWriter(out)
                    sink: Any = writer
                    zwriter: Any = None
                    if compression.method == "zstd":
                        zwriter = zstd_compressor(compression.level or DEFAULT_ZSTD_LEVEL,
                                                  compression.threads).stream_writer(
                            writer, closefd=False, write_size=CHUNK)
                        sink = zwriter
                    window = b""
                    while True:
                        block = proc.stdout.read(CHUNK if started else 4096)
                        if not block:
                            break
                        meter.add(len(block))
                        sink.write(block)
                        tail = (tail + block)[-256:]
                        if not started:
                            window = (window + block)[-8192:]
                            if b"CREATE TABLE" in window or _END_MARK in window:
                                started = True  # the dump's snapshot exists: let writers go on
                                _rows(lock_conn, "UNLOCK TABLES")
                    if zwriter is not None:
                        zwriter.close()
                    out.flush()
                    os.fsync(out.fileno())
                rc = proc.wait()
            except OSError as exc:
                raise os_error_message(exc, f"writing {target.name}") from None
            except pymysql.Error as exc:
                raise DatabaseError(f"releasing the read lock failed: {exc}") from None
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            meter.finish()  # raises first if the run was cancelled (the tool was killed)
            if rc != 0:
                err.seek(0)
                text = clean_stderr(err.read().decode("utf-8", "replace"), [params.password])
                raise BackupToolError(f"{Path(dump_path).name} of {params.database} failed (exit status "
                                      f"{rc}): {text}",
                                      hint="fix the cause above and run safemigrate backup create again",
                                      details={"exit_status": rc})
        if _END_MARK not in tail:
            raise BackupFailedError(
                f"the dump of {params.database} is incomplete: it does not end with "
                f"'{_END_MARK.decode()}' although {Path(dump_path).name} exited with status 0",
                hint="the backup was discarded; check the dump tool and the disk, then run "
                "safemigrate backup create again")
    return BackupFile(target.name, writer.size, writer.hexdigest())


# -- restore --------------------------------------------------------------------------------
def create_database(url: DatabaseURL, name: str, manifest: Manifest | None) -> None:
    import pymysql

    params = mysql_params(url)
    extra = manifest.extra if manifest is not None else {}
    conn = _connect(params)
    try:
        sql = f"CREATE DATABASE {_q(name)}"
        if extra.get("charset"):
            sql += f" CHARACTER SET {extra['charset']} COLLATE {extra['collation']}"
        try:
            _rows(conn, sql)
        except pymysql.err.ProgrammingError as exc:
            if exc.args and exc.args[0] == 1007:
                raise UsageError(f"database {name!r} already exists", hint="choose another `target` NAME",
                                 settings=("target",)) \
                    from None
            raise DatabaseError(f"cannot create database {name!r}: {exc}") from None
        except pymysql.Error as exc:
            raise DatabaseError(f"cannot create database {name!r}: {exc}",
                                hint="the user needs the CREATE privilege, or verify with `quick`",
                                settings=("quick",)) from None
    finally:
        conn.close()


def drop_database(url: DatabaseURL, name: str) -> None:
    conn = _connect(mysql_params(url))
    try:
        _rows(conn, f"DROP DATABASE IF EXISTS {_q(name)}")
    finally:
        conn.close()


@contextlib.contextmanager
def _client(params: MysqlParams, database: str) -> Iterator[list[str]]:
    tool = find_mysql_client()
    with mysql_defaults_file(params.password) as defaults:
        yield [tool.path, *defaults, *params.tool_args(), f"--database={database}", "--binary-mode",
               "--default-character-set=utf8mb4"]


def _feed(storage: Storage, manifest: Manifest, argv: list[str] | None, meter: Meter,
          secrets_: list[str | None], cancel: Cancel | None = None) -> None:
    """Stream the stored SQL (checked, decompressed) into ``argv`` (None: just read it all)."""
    tail = b""
    with private_dir("safemigrate-restore-") as private, open(private / "err", "w+b") as err, \
            checked_stream(storage, manifest, manifest.data_name, meter) as reader, \
            end_children_on_cancel(cancel) as children:
        proc = None
        if argv is not None:
            proc = children.add(subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                                 stderr=err, umask=0o077, env=child_env()))
        try:
            data = decompressing_reader(reader, manifest.compression.method)
            while True:
                try:
                    block = data.read(CHUNK)
                except (SafemigrateError, OSError):
                    raise
                except Exception as exc:  # zstandard.ZstdError: damaged data
                    raise ChecksumError(f"the stored data cannot be decompressed: {exc}",
                                        hint="the backup is damaged; use another one") from None
                if not block:
                    break
                tail = (tail + block)[-256:]
                if proc is not None:
                    assert proc.stdin is not None
                    try:
                        proc.stdin.write(block)
                    except BrokenPipeError:
                        break
            if proc is not None:
                assert proc.stdin is not None
                with contextlib.suppress(BrokenPipeError):
                    proc.stdin.close()
                rc = proc.wait()
                check_cancel(cancel)  # a cancelled restore's client was killed: not its failure
                if rc != 0:
                    err.seek(0)
                    text = clean_stderr(err.read().decode("utf-8", "replace"), secrets_)
                    raise RestoreFailedError(
                        f"restoring backup {manifest.id} failed (exit status {rc}): {text}",
                        hint="restore an older verified backup (safemigrate backup list)")
        finally:
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    if _END_MARK not in tail:
        raise ChecksumError(f"backup {manifest.id} is incomplete: its SQL does not end with "
                            f"'{_END_MARK.decode()}'", hint="restore an older verified backup",
                            details={"file": manifest.data_name})


def restore_into(storage: Storage, manifest: Manifest, url: DatabaseURL, dbname: str,
                 options: RestoreOptions, progress: ProgressCallback | None = None,
                 cancel: Cancel | None = None) -> None:
    params = mysql_params(url)
    meter = Meter("restore", progress, sum(f.size for f in manifest.files), cancel=cancel)
    with _client(params, dbname) as argv:
        _feed(storage, manifest, argv, meter, [params.password], cancel)
    meter.finish()


def inspect_database(url: DatabaseURL, dbname: str, manifest: Manifest) -> Inspection:
    params = mysql_params(url)
    conn = _connect(params)
    try:
        return _inspect(conn, dbname, str(manifest.schema_migrations.get("table") or "schema_migrations"))
    finally:
        conn.close()


def verify_full(storage: Storage, manifest: Manifest, url: DatabaseURL | None, options: RestoreOptions,
                progress: ProgressCallback | None = None, cancel: Cancel | None = None) -> Inspection:
    assert url is not None
    name = scratch_name()
    create_database(url, name, manifest)
    try:
        restore_into(storage, manifest, url, name, options, progress, cancel)
        inspection = inspect_database(url, name, manifest)
        inspection.checks.append(f"restored into scratch database {name}, then dropped")
        return inspection
    finally:
        drop_database(url, name)


def quick_check(storage: Storage, manifest: Manifest, options: RestoreOptions,
                progress: ProgressCallback | None = None, cancel: Cancel | None = None) -> list[str]:
    meter = Meter("verify", progress, sum(f.size for f in manifest.files), cancel=cancel)
    _feed(storage, manifest, None, meter, [], cancel)
    meter.finish()
    return [f"sha256 of {len(manifest.files)} file(s)", "decompressed completely; the dump's end marker found"]


def database_exists(url: DatabaseURL, name: str) -> bool:
    conn = _connect(mysql_params(url))
    try:
        return bool(_rows(conn, "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (name,)))
    finally:
        conn.close()


def leftovers(url: DatabaseURL, original: str) -> list[str]:
    """Databases an interrupted restore or verify of ``original`` left on the server."""
    conn = _connect(mysql_params(url))
    try:
        names = [str(r[0]) for r in _rows(conn, "SELECT schema_name FROM information_schema.schemata")]
    finally:
        conn.close()
    return [n for n in names if is_leftover(n, original)]


def is_leftover(name: str, original: str) -> bool:
    return any(name.startswith(f"{original[:30]}_safemigrate_{kind}_") for kind in ("incoming", "old"))


def drop_command(name: str) -> str:
    return f"DROP DATABASE IF EXISTS {_q(name)};"


def idle_scratch_databases(url: DatabaseURL) -> list[str]:
    """The scratch databases (SCRATCH_PREFIX) on the server that no session is using (as far as
    this user may see the sessions: without the PROCESS privilege, only its own)."""
    import pymysql

    conn = _connect(mysql_params(url))
    try:
        rows = _rows(conn, "SELECT schema_name FROM information_schema.schemata WHERE LEFT(schema_name, %s) = %s "
                     "AND schema_name NOT IN (SELECT db FROM information_schema.processlist WHERE db IS NOT NULL)",
                     (len(SCRATCH_PREFIX), SCRATCH_PREFIX))
    except pymysql.Error:
        return []  # reading the catalog is refused: nothing to report
    finally:
        conn.close()
    return [str(r[0]) for r in rows]


@dataclass
class _Objects:
    """What RENAME TABLE does not move: triggers, views, routines and events (their CREATE statements)."""

    triggers: list[tuple[str, str, str]]  # name, sql_mode, CREATE TRIGGER
    views: list[tuple[str, str]]  # name, CREATE VIEW (qualified with the database's name)
    routines: list[tuple[str, str, str, str]]  # kind, name, sql_mode, CREATE
    events: list[tuple[str, str, str, str]]  # name, sql_mode, time_zone, CREATE EVENT

    @classmethod
    def read(cls, conn: Any, db: str) -> _Objects:
        triggers = []
        for (name,) in _rows(conn, "SELECT trigger_name FROM information_schema.triggers "
                             "WHERE trigger_schema = %s ORDER BY action_order", (db,)):
            row = _rows(conn, f"SHOW CREATE TRIGGER {_q(db)}.{_q(name)}")[0]
            triggers.append((str(name), str(row[1]), str(row[2])))
        views = [(str(n), str(_rows(conn, f"SHOW CREATE VIEW {_q(db)}.{_q(n)}")[0][1])) for (n,) in _rows(
            conn, "SELECT table_name FROM information_schema.views WHERE table_schema = %s", (db,))]
        routines = []
        for kind, name in _rows(conn, "SELECT routine_type, routine_name FROM information_schema.routines "
                                "WHERE routine_schema = %s", (db,)):
            row = _rows(conn, f"SHOW CREATE {kind} {_q(db)}.{_q(name)}")[0]
            routines.append((str(kind), str(name), str(row[1]), str(row[2])))
        events = []
        for (name,) in _rows(conn, "SELECT event_name FROM information_schema.events WHERE event_schema = %s",
                             (db,)):
            row = _rows(conn, f"SHOW CREATE EVENT {_q(db)}.{_q(name)}")[0]  # event, sql_mode, time_zone, sql
            events.append((str(name), str(row[1]), str(row[2]), str(row[3])))
        return cls(triggers, views, routines, events)


def _base_tables(conn: Any, db: str) -> list[str]:
    return [str(r[0]) for r in _rows(
        conn, "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
        "AND table_type = 'BASE TABLE' ORDER BY table_name", (db,))]


def _in_mode(conn: Any, sql_mode: str, statement: str) -> None:
    _rows(conn, "SET SESSION sql_mode = %s", (sql_mode,))
    _rows(conn, statement)


def _create_views(conn: Any, views: list[tuple[str, str]], source: str, target: str) -> None:
    """Views name their database in full: point them at ``target``; a view may use another view."""
    pending = [(name, sql.replace(_q(source) + ".", _q(target) + ".")) for name, sql in views]
    while pending:
        failed: list[tuple[str, str]] = []
        last: Exception | None = None
        for name, sql in pending:
            try:
                _rows(conn, sql)
            except Exception as exc:  # a view it depends on comes later: retried
                failed.append((name, sql))
                last = exc
        if len(failed) == len(pending):
            raise DatabaseError(f"recreating the views of {target} failed: {last}",
                                hint="restore again, or restore the backup into a new database and "
                                "compare") from None
        pending = failed


def swap_databases(url: DatabaseURL, original: str, incoming: str) -> None:
    """Move the restored, checked tables of ``incoming`` into ``original`` in one RENAME TABLE.

    RENAME TABLE of many tables is atomic (and crash-safe on MariaDB 10.6+): the live database
    has either all its old tables or all the restored ones, never a mix. The old tables move,
    in the same statement, into ``<original>_safemigrate_old_<random>``, dropped once the swap is
    done. Triggers cannot move between databases, and views, routines and events are not
    tables: they are dropped and created again from the restored copy right after.
    """
    params = mysql_params(url)
    conn = _connect(params)
    try:
        if not _rows(conn, "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (original,)):
            raise UsageError(f"database {original!r} does not exist on {params.host}:{params.port}",
                             hint=f"restore into a new database instead: add `target` {original} "
                             "and drop `replace`", settings=("target", "replace"))
        old = f"{original[:30]}_safemigrate_old_{secrets.token_hex(3)}"
        charset = _rows(conn, "SELECT default_character_set_name, default_collation_name "
                        "FROM information_schema.schemata WHERE schema_name = %s", (original,))[0]
        _rows(conn, f"CREATE DATABASE {_q(old)} CHARACTER SET {charset[0]} COLLATE {charset[1]}")
        restored = _Objects.read(conn, incoming)
        current = _Objects.read(conn, original)
        saved_mode = str(_rows(conn, "SELECT @@SESSION.sql_mode")[0][0])
        for name, _mode, _sql in restored.triggers:
            _rows(conn, f"DROP TRIGGER {_q(incoming)}.{_q(name)}")
        moves = ([f"{_q(original)}.{_q(t)} TO {_q(old)}.{_q(t)}" for t in _base_tables(conn, original)]
                 + [f"{_q(incoming)}.{_q(t)} TO {_q(original)}.{_q(t)}" for t in _base_tables(conn, incoming)])
        # The original's triggers would block moving its tables, and a view of the original named
        # like a restored table would block moving that table in; they are in the backup of its
        # current state (the triggers are put back if the rename fails).
        for name, _mode, _sql in current.triggers:
            _rows(conn, f"DROP TRIGGER {_q(original)}.{_q(name)}")
        for name in {v for v, _sql in current.views} & set(_base_tables(conn, incoming)):
            _rows(conn, f"DROP VIEW {_q(original)}.{_q(name)}")
        try:
            _rows(conn, "RENAME TABLE " + ", ".join(moves))
        except Exception as exc:
            _rows(conn, f"USE {_q(original)}")
            for _name, mode, sql in current.triggers:
                with contextlib.suppress(Exception):
                    _in_mode(conn, mode, sql)
            with contextlib.suppress(Exception):
                _rows(conn, f"DROP DATABASE {_q(old)}")  # still empty: nothing moved
            raise DatabaseError(f"cannot replace {original!r}: {redact_text(str(exc))}",
                                hint="nothing was replaced; stop the applications using it and run "
                                "the restore again") from None
        _rows(conn, f"USE {_q(original)}")
        for _name, mode, sql in restored.triggers:
            _in_mode(conn, mode, sql)
        for name, _view in current.views:
            _rows(conn, f"DROP VIEW IF EXISTS {_q(original)}.{_q(name)}")
        _rows(conn, "SET SESSION sql_mode = %s", (saved_mode,))
        _create_views(conn, restored.views, incoming, original)
        for kind, name, _mode, _sql in current.routines:
            _rows(conn, f"DROP {kind} IF EXISTS {_q(original)}.{_q(name)}")
        for _kind, _name, mode, sql in restored.routines:
            _in_mode(conn, mode, sql)
        for name, _mode, _zone, _sql in current.events:
            _rows(conn, f"DROP EVENT IF EXISTS {_q(original)}.{_q(name)}")
        saved_zone = str(_rows(conn, "SELECT @@SESSION.time_zone")[0][0])
        for _name, mode, zone, sql in restored.events:
            _rows(conn, "SET SESSION time_zone = %s", (zone,))
            _in_mode(conn, mode, sql)
        _rows(conn, "SET SESSION sql_mode = %s, SESSION time_zone = %s", (saved_mode, saved_zone))
        _rows(conn, f"DROP DATABASE {_q(old)}")
    finally:
        conn.close()
    drop_database(url, incoming)



class MysqlDialect(ServerDialect):
    """MySQL/MariaDB behind the :class:`~safemigrate.backup.dialect.BackupDialect` interface."""

    dialect = "mysql"
    max_name = 64
    client = "mariadb"

    def identity(self) -> DatabaseIdentity:
        params = mysql_params(self.url)
        conn = _connect(params, params.database)
        try:
            version = str(_rows(conn, "SELECT VERSION()")[0][0])
        finally:
            conn.close()
        server = params.socket or f"{params.host}:{params.port}"
        return DatabaseIdentity(self.dialect, params.database, server, version)

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
