"""``restore_backup``: into a new database by default; over the original only when asked twice.

Replacing is guarded: the caller must pass ``replace=True`` *and* ``confirmed=True``
(the CLI asks, or takes ``--yes``), and before anything is touched a backup of the
current state is taken, checked and pinned, so the restore can itself be undone. The
backup is first restored beside the original and compared with its manifest; only then
is it swapped in, atomically (PostgreSQL: two renames in one transaction; MySQL/MariaDB: one
RENAME TABLE of every table; SQLite: a file rename). Each restore first reports what an
interrupted one left behind, with the statement that removes it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shlex
import stat
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import DatabaseError, SafemigrateError, UsageError
from ..urls import DatabaseURL, parse_database_url
from .create import create_backup
from .engine import CreateOptions, RestoreFailedError, RestoreOptions, compare
from .manifest import Manifest
from .progress import ProgressCallback
from .storage import Storage
from .verify import verify_backup

__all__ = ["RestoreResult", "restore_backup"]


@dataclass
class RestoreResult:
    backup_id: str
    dialect: str
    target: str  # database name or file path
    target_url: str  # redacted
    replaced: bool
    pre_restore_backup: str | None
    duration_s: float
    checks: list[str] = field(default_factory=list)
    # What an interrupted earlier restore left behind (name, and the statement that removes it).
    leftovers: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _with_path(url: DatabaseURL, path: str) -> str:
    return urlunsplit(urlsplit(url.redacted())._replace(path=path))


def restore_backup(storage: Storage, backup_id: str, database_url: str | DatabaseURL | None, *,
                   target: str | None = None, replace: bool = False, confirmed: bool = False,
                   options: RestoreOptions | None = None, progress: ProgressCallback | None = None,
                   info: Callable[[str], None] | None = None, warn: Callable[[str], None] | None = None,
                   from_database: str | None = None) -> RestoreResult:
    """Restore backup ``backup_id``.

    New database (default): ``database_url`` names the server (any database on it); the backup
    goes into ``target`` (default ``<database>_restored_<time>``; for SQLite a file beside the
    original). ``replace``: ``database_url`` is the database to replace; a backup taken from
    another database is refused unless ``from_database`` names that database.
    """
    from .tools import sweep_stale_private

    sweep_stale_private()
    manifest = storage.read_manifest(backup_id)
    options = options or RestoreOptions()
    say = info or (lambda _m: None)
    tell = warn or say
    if replace and not confirmed:
        raise UsageError(
            f"restoring backup {backup_id} over the original database needs confirmation",
            hint="run again with --replace --yes, or without --replace to restore into a new database")
    if replace and target:
        raise UsageError("--replace restores over the database of --database; --target cannot be used "
                         "with it", hint="drop --target, or drop --replace to restore into TARGET")
    url: DatabaseURL | None = None
    if database_url is not None:
        url = database_url if isinstance(database_url, DatabaseURL) else parse_database_url(database_url)
        if url.dialect != manifest.dialect:
            raise UsageError(f"backup {backup_id} is a {manifest.dialect} backup; {url.redacted()} is "
                             f"{url.dialect}", hint=f"pass the URL of a {manifest.dialect} database")
    if replace and url is not None:
        _check_same_database(manifest, url, from_database)
    if manifest.verification is not None and not manifest.verification.ok:
        raise UsageError(f"backup {backup_id} failed its last verification: {manifest.verification.error}",
                         hint="restore another backup (safemigrate backup list)")
    start = time.monotonic()
    if manifest.dialect == "sqlite":
        found = _sqlite_leftovers(url, tell)
        result = _restore_sqlite(storage, manifest, url, target, replace, progress, say)
    else:
        ops = _postgres_ops() if manifest.dialect == "postgres" else _mysql_ops()
        server = _need_url(url, manifest)
        found = _server_leftovers(ops, server, tell)
        result = _restore_server(storage, manifest, server, target, replace, options, progress, say, ops)
    result.leftovers = found
    result.duration_s = round(time.monotonic() - start, 3)
    return result


def _check_same_database(manifest: Manifest, url: DatabaseURL, from_database: str | None) -> None:
    """--replace puts the backup's data in place of the URL's database: only when they are the same
    database, or when --from-database names the backup's database explicitly."""
    from .catalog import DatabaseSelector, selector_for

    here = selector_for(url)
    source = str(manifest.database.get("database"))
    if here is None or here.matches(manifest):
        return
    if from_database is not None and DatabaseSelector(from_database).matches(manifest):
        return
    given = f" (--from-database {from_database} does not name it)" if from_database else ""
    raise UsageError(
        f"backup {manifest.id} was taken from database {source}, not {here.name}: --replace would put "
        f"{source}'s data in place of {here.name}{given}; nothing was changed",
        hint=f"if that is really what you want, add --from-database {_short(manifest, source)}; "
        f"otherwise pick a backup of {here.name} (safemigrate backup list)")


def _short(manifest: Manifest, name: str) -> str:
    """SQLite manifests record the full path; its file name is enough to name it."""
    return Path(name).name if manifest.dialect == "sqlite" else name


def _leftover_note(names: list[str], where: str, commands: list[str]) -> str:
    return (f"an interrupted restore left {', '.join(names)} {where}; nothing in them is needed once the "
            "database is in the state you want (its previous state is in the pinned backup labelled "
            "'before restoring …'). When no restore is running, remove them with: " + " ".join(commands))


def _server_leftovers(ops: _ServerOps, url: DatabaseURL, tell: Callable[[str], None]) -> list[dict[str, str]]:
    original = _database_name(url)
    if not original:
        return []
    try:
        names = ops.leftovers(url, original)
        present = ops.exists(url, original) if names else True
        reopen = ops.reopen(url, original) if ops.reopen is not None else None
    except SafemigrateError:
        return []  # the restore itself reports an unreachable server
    found: list[dict[str, str]] = []
    if reopen is not None:
        tell(f"database {original} refuses connections: a restore was interrupted while swapping it; "
             f"open it again with: {reopen}")
        found.append({"name": original, "command": reopen})
    for name in names:
        if "_safemigrate_old_" in name and not present and ops.rename_back is not None:
            # Killed between PostgreSQL's two renames: the original is under the old name.
            command = ops.rename_back(name, original)
            tell(f"database {original} is missing and {name} holds its previous state (a restore was "
                 f"interrupted between its two renames): put it back with: {command}")
        else:
            command = ops.drop_command(name)
        found.append({"name": name, "command": command})
    drops = [f["name"] for f in found if "DROP" in f["command"]]
    if drops:
        tell(_leftover_note(drops, f"on the server of {original} ({ops.client})",
                            [f["command"] for f in found if "DROP" in f["command"]]))
    return found


def _sqlite_leftovers(url: DatabaseURL | None, tell: Callable[[str], None]) -> list[dict[str, str]]:
    if url is None:
        return []
    from . import sqlite

    try:
        original = Path(sqlite.database_path(url))
    except SafemigrateError:
        return []
    found = [{"name": str(p), "command": f"rm -- {shlex.quote(str(p))}"}
             for p in sorted(original.parent.glob(f".{glob.escape(original.name)}.safemigrate-incoming-*"))]
    if found:
        tell(_leftover_note([f["name"] for f in found], f"beside {original}", [f["command"] for f in found]))
    return found


def _database_name(url: DatabaseURL) -> str:
    from .catalog import selector_for

    try:
        selector = selector_for(url)
    except SafemigrateError:
        return ""
    return selector.name if selector is not None else ""


def _need_url(url: DatabaseURL | None, manifest: Manifest) -> DatabaseURL:
    if url is None:
        raise UsageError(
            f"restoring backup {manifest.id} needs the {manifest.dialect} server to restore on",
            hint="pass --database URL (with --replace: the database to replace) or set DATABASE_URL")
    return url


def _pre_restore_backup(storage: Storage, url: DatabaseURL, manifest: Manifest,
                        progress: ProgressCallback | None, say: Callable[[str], None]) -> str:
    say(f"taking a backup of the current state of {url.redacted()} first")
    try:
        pre = create_backup(url, storage, CreateOptions(label=f"before restoring {manifest.id}", pin=True),
                            progress)
        verify_backup(storage, pre.id, quick=True)
    except SafemigrateError as exc:
        raise SafemigrateError(
            f"nothing was restored: the backup of the current state failed first: {exc.message}",
            hint=exc.hint, details=exc.details) from None
    say(f"current state saved as backup {pre.id} (pinned); undo with: safemigrate backup restore "
        f"{pre.id} --replace --to {storage.location}")
    return pre.id


def _check_restored(manifest: Manifest, inspection: Any, where: str) -> list[str]:
    problems, _ = compare(manifest, inspection)
    if problems and not manifest.row_counts_consistent:
        problems = [p for p in problems if not p.startswith("row counts")]
    if problems:
        raise RestoreFailedError(f"the copy restored into {where} does not match backup {manifest.id}: "
                                 + "; ".join(problems),
                                 hint="nothing was replaced; verify the backup (safemigrate backup verify "
                                 f"{manifest.id}) and use another one if it fails")
    return [f"schema_migrations version {'none' if inspection.version is None else inspection.version} and row counts of "
            f"{len(inspection.row_counts)} table(s) match the manifest"]


# -- PostgreSQL and MySQL -----------------------------------------------------------------
@dataclass
class _ServerOps:
    create: Callable[[DatabaseURL, str, Manifest], None]
    drop: Callable[[DatabaseURL, str], None]
    restore: Callable[..., Any]
    inspect: Callable[[DatabaseURL, str, Manifest], Any]
    # (url, original, incoming, storage, manifest, options, progress): incoming becomes original
    swap: Callable[..., None]
    max_name: int
    exists: Callable[[DatabaseURL, str], bool]
    leftovers: Callable[[DatabaseURL, str], list[str]]
    drop_command: Callable[[str], str]
    client: str
    rename_back: Callable[[str, str], str] | None = None
    reopen: Callable[[DatabaseURL, str], str | None] | None = None


def _postgres_ops() -> _ServerOps:
    from . import postgres

    def rename_back(old: str, original: str) -> str:
        return f"ALTER DATABASE {postgres._quote(old)} RENAME TO {postgres._quote(original)};"

    return _ServerOps(postgres.create_database, postgres.drop_database, postgres.restore_into,
                      postgres.inspect_database, postgres.swap_databases, 63, postgres.database_exists,
                      postgres.leftovers, postgres.drop_command, "psql", rename_back,
                      postgres.refusing_connections)


def _mysql_ops() -> _ServerOps:
    from . import mysql

    return _ServerOps(mysql.create_database, mysql.drop_database, mysql.restore_into,
                      mysql.inspect_database, mysql.swap_databases, 64, mysql.database_exists,
                      mysql.leftovers, mysql.drop_command, "mariadb")


def _restore_server(storage: Storage, manifest: Manifest, url: DatabaseURL, target: str | None,
                    replace: bool, options: RestoreOptions, progress: ProgressCallback | None,
                    say: Callable[[str], None], ops: _ServerOps) -> RestoreResult:
    stamp = time.strftime("%Y%m%d%H%M%S")
    source_db = str(manifest.database.get("database") or "db")
    pre_id: str | None = None
    if replace:
        original = _database_name(url)
        if not original:
            raise UsageError("--replace needs a URL that names the database to replace",
                             hint="pass --database postgres://user@host/DBNAME")
        if not ops.exists(url, original):
            raise UsageError(f"database {original!r} does not exist on the server of {url.redacted()}: "
                             "there is nothing to replace",
                             hint=f"restore into a new database with that name instead: drop --replace and "
                             f"add --target {original}")
        pre_id = _pre_restore_backup(storage, url, manifest, progress, say)
        name = f"{original[:30]}_safemigrate_incoming_{secrets.token_hex(3)}"
    else:
        name = target or f"{source_db[:40]}_restored_{stamp}"
        if len(name) > ops.max_name:
            raise UsageError(f"database name {name!r} is longer than {ops.max_name} characters",
                             hint="choose a shorter one with --target NAME")
    ops.create(url, name, manifest)
    try:
        say(f"restoring backup {manifest.id} into database {name}")
        ops.restore(storage, manifest, url, name, options, progress)
        checks = _check_restored(manifest, ops.inspect(url, name, manifest), name)
    except BaseException:
        with contextlib.suppress(Exception):
            ops.drop(url, name)
        raise
    if not replace:
        return RestoreResult(manifest.id, manifest.dialect, name, _with_path(url, "/" + name), False, None,
                             0.0, checks)
    original = _database_name(url)
    say(f"swapping the restored copy in for {original}")
    try:
        ops.swap(url, original, name, storage, manifest, options, progress)
    except BaseException:
        with contextlib.suppress(Exception):
            ops.drop(url, name)
        raise
    checks.append(f"{original} replaced; its previous state is backup {pre_id}")
    return RestoreResult(manifest.id, manifest.dialect, original, url.redacted(), True, pre_id, 0.0, checks)


# -- SQLite -----------------------------------------------------------------------------------
def _keep_mode_and_owner(original: Path, replacement: Path) -> None:
    """The replaced file keeps the original's permission bits and owner (the application's user)."""
    try:
        st = original.stat()
    except FileNotFoundError:
        return
    os.chmod(replacement, stat.S_IMODE(st.st_mode))
    if (st.st_uid, st.st_gid) != (os.getuid(), os.getgid()):
        try:
            os.chown(replacement, st.st_uid, st.st_gid)
        except PermissionError:
            raise DatabaseError(
                f"the restored copy cannot be given {original}'s owner (uid {st.st_uid}, gid {st.st_gid}); "
                "the original was not changed",
                hint="run the restore as that user (or as root)") from None


def _restore_sqlite(storage: Storage, manifest: Manifest, url: DatabaseURL | None, target: str | None,
                    replace: bool, progress: ProgressCallback | None,
                    say: Callable[[str], None]) -> RestoreResult:
    from . import sqlite

    original = Path(sqlite.database_path(url)) if url is not None else Path(str(manifest.database["database"]))
    pre_id: str | None = None
    if replace:
        if url is None:
            raise UsageError("--replace needs the SQLite database to replace",
                             hint="pass --database sqlite3://path/to/app.db")
        if original.exists():
            pre_id = _pre_restore_backup(storage, url, manifest, progress, say)
        dest = original.with_name(f".{original.name}.safemigrate-incoming-{secrets.token_hex(3)}")
    else:
        dest = Path(target) if target else original.with_name(
            f"{original.stem}.restored-{time.strftime('%Y%m%d%H%M%S')}{original.suffix or '.db'}")
    say(f"restoring backup {manifest.id} into {dest}")
    inspection = sqlite.restore_to_file(storage, manifest, dest, progress)
    try:
        checks = _check_restored(manifest, inspection, str(dest))
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    if not replace:
        return RestoreResult(manifest.id, "sqlite", str(dest), f"sqlite3://{dest}", False, None, 0.0, checks)
    try:
        _keep_mode_and_owner(original, dest)
        for suffix in ("-wal", "-shm", "-journal"):
            Path(str(original) + suffix).unlink(missing_ok=True)
        os.replace(dest, original)
    except OSError as exc:
        dest.unlink(missing_ok=True)
        raise DatabaseError(f"replacing {original} failed: {exc.strerror}",
                            hint="check the folder's permissions; the original was not changed") from None
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    checks.append(f"{original} replaced; its previous state is backup {pre_id}")
    return RestoreResult(manifest.id, "sqlite", str(original), f"sqlite3://{original}", True, pre_id, 0.0,
                         checks)
