"""The interface each database's backup code implements, and the one function that picks it.

``create``, ``verify`` and ``restore`` know nothing of a database: they ask the
:class:`BackupDialect` of the URL (PostgreSQL: :mod:`.postgres`, MySQL/MariaDB: :mod:`.mysql`,
SQLite: :mod:`.sqlite`) to dump, verify, restore into a new target, swap a restored copy in for
the original, and say what database it is. A dialect is made for one run: it holds the URL, the
event callback and the cancel token, so the methods take only what changes between calls.
"""

from __future__ import annotations

import calendar
import contextlib
import re
import secrets
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

from ..errors import SafemigrateError, UsageError
from ..urls import DatabaseURL
from .engine import CreateOptions, DumpOutcome, Inspection, RestoreOptions
from .manifest import Manifest
from .progress import Cancel, InfoEvent, ProgressCallback, WarningEvent
from .storage import Storage

__all__ = [
    "BackupDialect",
    "DatabaseIdentity",
    "DialectEvents",
    "Leftover",
    "ServerDialect",
    "Verified",
    "dialect_for",
    "dialect_named",
]


@dataclass(frozen=True)
class DatabaseIdentity:
    """What database a URL names: recorded in manifests, shown to whoever restores."""

    dialect: str  # "postgres", "mysql", "sqlite"
    name: str  # database name (SQLite: the file's absolute path)
    server: str  # host:port (SQLite: this machine's name)
    version: str  # the server's version (SQLite: the library's)


@dataclass
class Verified:
    """What a verification checked; a full one also returns what the restored copy holds, and the
    scratch databases that earlier, interrupted verifications left on the server."""

    checks: list[str]
    inspection: Inspection | None = None
    leftovers: list[Leftover] = field(default_factory=list)


@dataclass(frozen=True)
class Leftover:
    """Something an interrupted restore left behind, and the command that removes or repairs it."""

    name: str
    command: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "command": self.command}


@runtime_checkable
class BackupDialect(Protocol):
    """One database kind's backups. ``target``/``original`` are database names (SQLite: file paths)."""

    dialect: str
    needs_server: bool  # a full verify and a restore need a server URL

    def identity(self) -> DatabaseIdentity:
        """Name, server and version of the URL's database (connects)."""
        ...

    def label(self) -> str:
        """A short name for backup ids (no connection)."""
        ...

    def create(self, staging: Path, options: CreateOptions) -> DumpOutcome:
        """Dump the database into the folder ``staging``."""
        ...

    def verify(self, storage: Storage, manifest: Manifest, options: RestoreOptions, *,
               quick: bool) -> Verified:
        """Quick: every file's checksum and data block read, no server. Full: a real restore into
        a scratch target that is always removed, and what it holds."""
        ...

    def original(self, manifest: Manifest) -> str:
        """The database the URL names ("" when it names none): what ``--replace`` replaces."""
        ...

    def check_replaceable(self, original: str) -> bool:
        """Refuse (UsageError) a replace that cannot be done; True if there is a current state to
        back up first."""
        ...

    def new_target(self, manifest: Manifest, target: str | None) -> str:
        """Where a restore into a new database goes: ``target``, or a default name."""
        ...

    def incoming(self, original: str) -> str:
        """Where a replacing restore is put before it is swapped in."""
        ...

    def restore(self, storage: Storage, manifest: Manifest, target: str,
                options: RestoreOptions) -> Inspection:
        """Restore into the new ``target`` (created here; removed again if this fails)."""
        ...

    def discard(self, target: str) -> None:
        """Remove a target :meth:`restore` made (a failed or abandoned restore)."""
        ...

    def swap(self, original: str, incoming: str, storage: Storage, manifest: Manifest,
             options: RestoreOptions) -> None:
        """Put the restored, checked ``incoming`` in place of ``original``, atomically."""
        ...

    def target_url(self, target: str, *, replaced: bool) -> str:
        """The (redacted) URL of a restored target."""
        ...

    def leftovers(self, original: str) -> list[Leftover]:
        """Report (as warning events) what interrupted restores of ``original`` left behind."""
        ...


class DialectEvents:
    """What every dialect holds (its database URL, the run's progress callback and cancel token)
    and the part of it that reports: info and warning events on that one callback."""

    def __init__(self, url: DatabaseURL | None, *, progress: ProgressCallback | None = None,
                 cancel: Cancel | None = None) -> None:
        self._url = url
        self.progress = progress
        self.cancel = cancel

    def info(self, message: str) -> None:
        if self.progress is not None:
            self.progress(InfoEvent(message))

    def warn(self, message: str) -> None:
        if self.progress is not None:
            self.progress(WarningEvent(message))


# A verification's scratch database: SCRATCH_PREFIX, when it was made (UTC; local time before
# 2026-12), and a random part. Made before pg_restore connects to it and dropped after it is
# read, so one that nobody is connected to and that is older than this was left by a run that
# was killed (a killed client's CREATE DATABASE still finishes on the server).
SCRATCH_PREFIX = "safemigrate_verify_"
SCRATCH_NAME_RE = re.compile(re.escape(SCRATCH_PREFIX) + r"([0-9]{14})_[0-9a-f]{8}")
SCRATCH_GRACE_S = 3600


def scratch_name() -> str:
    """A new scratch database's name, e.g. safemigrate_verify_20261201211500_1f2e3d4c."""
    return f"{SCRATCH_PREFIX}{time.strftime('%Y%m%d%H%M%S', time.gmtime())}_{secrets.token_hex(4)}"


def stale_scratch(names: list[str], now: float | None = None) -> list[str]:
    """The scratch databases among ``names`` made more than SCRATCH_GRACE_S ago, sorted."""
    now = time.time() if now is None else now
    stale = []
    for name in names:
        match = SCRATCH_NAME_RE.fullmatch(name)
        if match is None:
            continue
        try:
            made = calendar.timegm(time.strptime(match[1], "%Y%m%d%H%M%S"))
        except ValueError:
            continue  # not a date: not ours
        if now - made > SCRATCH_GRACE_S:
            stale.append(name)
    return sorted(stale)


def leftover_note(names: list[str], where: str, commands: list[str]) -> str:
    return (f"an interrupted restore left {', '.join(names)} {where}; nothing in them is needed once the "
            "database is in the state you want (its previous state is in the pinned backup labelled "
            "'before restoring …'). When no restore is running, remove them with: " + " ".join(commands))


class ServerDialect(DialectEvents, ABC):
    """What PostgreSQL and MySQL/MariaDB share: databases on a server, created, dropped, renamed."""

    dialect: str
    needs_server = True
    max_name: int  # the server's longest database name
    client: str  # the command-line client that runs the statements we print

    @property
    def url(self) -> DatabaseURL:
        if self._url is None:  # the callers check first; a bug otherwise
            raise UsageError(f"a {self.dialect} server URL is needed", hint="pass `database_url`",
                             settings=("database_url",))
        return self._url

    # -- what each server does --------------------------------------------------------------
    @abstractmethod
    def create_database(self, name: str, manifest: Manifest | None) -> None: ...

    @abstractmethod
    def drop_database(self, name: str) -> None: ...

    @abstractmethod
    def restore_into(self, storage: Storage, manifest: Manifest, name: str,
                     options: RestoreOptions) -> None: ...

    @abstractmethod
    def inspect(self, name: str, manifest: Manifest) -> Inspection: ...

    @abstractmethod
    def swap_databases(self, original: str, incoming: str, storage: Storage, manifest: Manifest,
                       options: RestoreOptions) -> None: ...

    @abstractmethod
    def exists(self, name: str) -> bool: ...

    @abstractmethod
    def leftover_names(self, original: str) -> list[str]: ...

    @abstractmethod
    def drop_command(self, name: str) -> str: ...

    @abstractmethod
    def idle_scratch_names(self) -> list[str]:
        """The verification scratch databases on the server that no session is connected to."""

    def reopen_command(self, name: str) -> str | None:
        """The statement that reopens ``name`` if an interrupted swap left it closed (PostgreSQL)."""
        return None

    def rename_back_command(self, old: str, original: str) -> str | None:
        """The statement that puts ``old`` back under ``original``'s name (PostgreSQL)."""
        return None

    # -- shared --------------------------------------------------------------------------------
    def original(self, manifest: Manifest) -> str:
        from .catalog import selector_for

        try:
            selector = selector_for(self.url)
        except SafemigrateError:
            return ""
        return selector.name if selector is not None else ""

    def check_replaceable(self, original: str) -> bool:
        if not original:
            raise UsageError("`replace` needs a URL that names the database to replace",
                             hint="pass `database_url` postgres://user@host/DBNAME",
                             settings=("replace", "database_url"))
        if not self.exists(original):
            raise UsageError(f"database {original!r} does not exist on the server of {self.url.redacted()}: "
                             "there is nothing to replace",
                             hint=f"restore into a new database with that name instead: drop `replace` and "
                             f"add `target` {original}", settings=("replace", "target"))
        return True

    def new_target(self, manifest: Manifest, target: str | None) -> str:
        source_db = str(manifest.database.get("database") or "db")
        name = target or f"{source_db[:40]}_restored_{time.strftime('%Y%m%d%H%M%S')}"
        if len(name) > self.max_name:
            raise UsageError(f"database name {name!r} is longer than {self.max_name} characters",
                             hint="choose a shorter one with `target` NAME", settings=("target",))
        return name

    def incoming(self, original: str) -> str:
        return f"{original[:30]}_safemigrate_incoming_{secrets.token_hex(3)}"

    def restore(self, storage: Storage, manifest: Manifest, target: str,
                options: RestoreOptions) -> Inspection:
        self.create_database(target, manifest)
        try:
            self.info(f"restoring backup {manifest.id} into database {target}")
            self.restore_into(storage, manifest, target, options)
            return self.inspect(target, manifest)
        except BaseException:
            self.discard(target)
            raise

    def discard(self, target: str) -> None:
        with contextlib.suppress(Exception):
            self.drop_database(target)

    def swap(self, original: str, incoming: str, storage: Storage, manifest: Manifest,
             options: RestoreOptions) -> None:
        self.info(f"swapping the restored copy in for {original}")
        self.swap_databases(original, incoming, storage, manifest, options)

    def target_url(self, target: str, *, replaced: bool) -> str:
        if replaced:
            return self.url.redacted()
        return urlunsplit(urlsplit(self.url.redacted())._replace(path="/" + target))

    def leftovers(self, original: str) -> list[Leftover]:
        if not original:
            return []
        try:
            names = self.leftover_names(original)
            present = self.exists(original) if names else True
            reopen = self.reopen_command(original)
        except SafemigrateError:
            return []  # the restore itself reports an unreachable server
        found: list[Leftover] = []
        if reopen is not None:
            self.warn(f"database {original} refuses connections: a restore was interrupted while swapping "
                      f"it; open it again with: {reopen}")
            found.append(Leftover(original, reopen))
        for name in names:
            back = self.rename_back_command(name, original) if "_safemigrate_old_" in name else None
            if back is not None and not present:
                # Killed between PostgreSQL's two renames: the original is under the old name.
                self.warn(f"database {original} is missing and {name} holds its previous state (a restore "
                          f"was interrupted between its two renames): put it back with: {back}")
                found.append(Leftover(name, back))
            else:
                found.append(Leftover(name, self.drop_command(name)))
        drops = [f for f in found if "DROP" in f.command]
        if drops:
            self.warn(leftover_note([f.name for f in drops], f"on the server of {original} ({self.client})",
                                    [f.command for f in drops]))
        return found

    def scratch_leftovers(self) -> list[Leftover]:
        """Report (as one warning event) the scratch databases that interrupted verifications left
        on the server; never dropped here: one may still be another verification's."""
        try:
            names = stale_scratch(self.idle_scratch_names())
        except SafemigrateError:
            return []  # the verification itself reports an unreachable server
        found = [Leftover(name, self.drop_command(name)) for name in names]
        if found:
            self.warn(f"interrupted verifications left the scratch database(s) {', '.join(names)} on this "
                      f"server ({self.client}); nothing in them is needed. When no verification is running, "
                      "remove them with: " + " ".join(f.command for f in found))
        return found


def dialect_named(dialect: str, url: DatabaseURL | None, *, progress: ProgressCallback | None = None,
                  cancel: Cancel | None = None) -> BackupDialect:
    """The backup dialect for ``dialect`` ("postgres", "mysql", "sqlite"); ``url`` may be None where
    no server is needed (a quick verify, a SQLite restore to a path)."""
    if dialect == "postgres":
        from .postgres import PostgresDialect

        return PostgresDialect(url, progress=progress, cancel=cancel)
    if dialect == "sqlite":
        from .sqlite import SqliteDialect

        return SqliteDialect(url, progress=progress, cancel=cancel)
    from .mysql import MysqlDialect

    return MysqlDialect(url, progress=progress, cancel=cancel)


def dialect_for(url: DatabaseURL, *, progress: ProgressCallback | None = None,
                cancel: Cancel | None = None) -> BackupDialect:
    """The one place that picks the backup dialect of a database URL."""
    return dialect_named(url.dialect, url, progress=progress, cancel=cancel)

