"""The public API: one function per command, ``(config, ...) -> result``.

The CLI parses its arguments into a :class:`~safemigrate.config.Config`, calls
one of these and renders the result (``to_dict()`` for ``--format json``). A
script, a CI job or the release procedure calls the very same functions::

    from safemigrate import commands
    config = commands.load_config(env="staging")
    result = commands.check(config, expect=4)
    print(result.ok, result.version)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .config import Config, load_config
from .errors import CheckFailedError, DatabaseError, UsageError

if TYPE_CHECKING:
    from .drivers.base import Driver
    from .history import HistoryRecord

__all__ = ["CheckResult", "HistoryResult", "check", "history", "load_config"]


def _open(config: Config) -> Driver:
    from .drivers import open_driver
    from .urls import parse_database_url

    driver = open_driver(parse_database_url(config.database_url))
    driver.connect()
    return driver


# -- check ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CheckResult:
    """The database's version against the one the application expects."""

    ok: bool
    version: int | None
    dirty: bool
    expect: int
    at_least: bool
    database: str

    def describe(self) -> str:
        if self.version is None:
            return "no version (dirty)" if self.dirty else "no version"
        return f"{self.version} (dirty)" if self.dirty else str(self.version)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "command": "check", "database": self.database, "version": self.version,
                "dirty": self.dirty, "expect": self.expect, "at_least": self.at_least}


def check(config: Config, *, expect: int, at_least: bool = False) -> CheckResult:
    """Is the database at version ``expect`` (or newer with ``at_least``) and clean?

    Raises :class:`CheckFailedError` (exit 1) when it is not, with both versions and
    the command that would move the database; read-only, so a read-only role may run it.
    """
    if expect < 0:
        raise UsageError(f"the expected version must be 0 or more, not {expect}")
    driver = _open(config)
    try:
        state = driver.read_version()
        database = driver.url.redacted()
    finally:
        driver.close()
    result = CheckResult(
        ok=not state.dirty and state.version is not None
        and (state.version >= expect if at_least else state.version == expect),
        version=state.version, dirty=state.dirty, expect=expect, at_least=at_least, database=database)
    if not result.ok:
        raise _check_failure(result)
    return result


def _check_failure(result: CheckResult) -> CheckFailedError:
    wanted = f"at least {result.expect}" if result.at_least else str(result.expect)
    if result.dirty:
        hint = (f"a migration failed at version {result.version}: see safemigrate status, repair the "
                "database, then safemigrate force V")
    else:
        hint = f"safemigrate goto {result.expect} moves the database to the expected version"
    where = ("has no version yet" if result.version is None and not result.dirty
             else f"is at version {result.describe()}")
    details = {k: v for k, v in result.to_dict().items() if k not in ("ok", "command")}
    return CheckFailedError(f"the database {where}, expected {wanted}", hint=hint, details=details)


# -- history ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class HistoryResult:
    """Rows of ``safemigrate_history``, oldest first; ``available`` False when there is no table."""

    records: tuple[HistoryRecord, ...]
    available: bool
    total: int
    database: str
    release: dict[str, Any] | None = None  # with --release ID: that release's stored report

    def to_dict(self) -> dict[str, Any]:
        data = {"ok": True, "command": "history", "database": self.database, "available": self.available,
                "total": self.total, "records": [_record_dict(r) for r in self.records]}
        if self.release is not None:
            data["release"] = self.release
        return data


def _record_dict(record: HistoryRecord) -> dict[str, Any]:
    from dataclasses import asdict

    data = asdict(record)
    for key in ("started_at", "finished_at"):
        if data[key] is not None:
            data[key] = data[key].isoformat()
    return data


def history(config: Config, *, limit: int | None = None, version: int | None = None,
            release_id: str | None = None) -> HistoryResult:
    """The last ``limit`` steps recorded (all of them by default), optionally of one ``version``.

    With ``release_id``: that release's report, and the steps it ran (recorded between its start and end).
    """
    from .history import HistoryTable
    from .release.record import ReleasesTable

    if limit is not None and limit < 1:
        raise UsageError(f"--limit must be 1 or more, not {limit}")
    driver = _open(config)
    try:
        available = driver.table_exists(driver.history_table)
        try:
            records = HistoryTable(driver).read() if available else []
            release = None
            if release_id is not None:
                rows = ReleasesTable(driver).read(release_id=release_id)
                if not rows:
                    raise UsageError(f"no release {release_id!r} is recorded in this database",
                                     hint="safemigrate history --format json lists the releases' steps; "
                                     "the report files are in ./releases")
                release = rows[0].report
                finished = (release or {}).get("finished_at")
                started = rows[0].started_at
                records = [r for r in records if r.started_at >= started
                           and (finished is None or r.started_at.isoformat() <= finished)]
        except (DatabaseError, UsageError):
            raise
        except Exception as exc:
            info = driver.describe_error(exc)
            if info is None:
                raise
            raise DatabaseError(
                f"cannot read the history table: {info.message}",
                hint=f"grant SELECT on {driver.qualified(driver.history_table)} to this role") from None
        database = driver.url.redacted()
    finally:
        driver.close()
    if version is not None:
        records = [r for r in records if r.version == version]
    total = len(records)
    if limit is not None:
        records = records[-limit:]
    return HistoryResult(records=tuple(records), available=available, total=total, database=database,
                         release=release)
