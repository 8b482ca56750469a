"""Every expected failure derives from :class:`SafemigrateError`; this module holds the whole tree.

The CLI catches this one class in one place and renders it: a message that says
what happened, a hint that names the next command to run, and an exit status.
Anything else that escapes is a bug and is shown as an internal error (with a
traceback only under ``--debug``). Each class has a stable ``code``: the ``type`` of
its JSON error document (``--format json``). The root class itself is never raised.

Messages name settings and parameters, never CLI flags: an error about a setting
(``database_url``, ``backup.location``, ``release.log_cmd``) or a command's parameter
(``allow_data_loss``, ``target``) writes its name in backquotes in ``message``/``hint``
(`` `database_url` ``) and lists it in ``settings``; a library caller reads the name it
passes, and the CLI's renderer swaps each listed name for the flag that sets it
(``-database``, ``--to``, ``--allow-data-loss``).

::

    SafemigrateError                      error (never raised bare)
    ├── UsageError                        usage               exit 2
    ├── SourceError                       source
    ├── DatabaseError                     database
    ├── LockTimeoutError                  lock_timeout
    ├── DirtyDatabaseError                dirty
    ├── NotExistError                     not_exist
    ├── NoMigrationError                  no_migration
    ├── ShortLimitError                   short_limit
    ├── MigrationFailedError              migration_failed
    ├── RunInterruptedError               interrupted         exit 128 + signal
    ├── CheckFailedError                  check_failed
    ├── PlanChangedError                  plan_changed
    ├── LintBlockedError                  lint_blocked        (the lint gate, --strict)
    ├── CreateFailedError                 create_failed       (create: the new pair of files)
    ├── DemoFailedError                   demo_failed         (re-exported as demo.DemoFailed)
    │   backups (re-exported by the safemigrate.backup modules that raise them):
    ├── BackupFailedError                 backup_failed
    │   └── PreRestoreBackupError         pre_restore_backup_failed
    ├── BackupToolError                   backup_tool
    │   └── RestoreFailedError            restore_failed
    ├── ChecksumError                     checksum
    ├── ManifestError                     manifest
    ├── StorageError                      storage
    ├── BackupNotFoundError               not_found
    └── VerificationFailedError           verify_failed
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

__all__ = [
    "BackupFailedError",
    "BackupNotFoundError",
    "BackupToolError",
    "CheckFailedError",
    "ChecksumError",
    "CreateFailedError",
    "DatabaseError",
    "DemoFailedError",
    "DirtyDatabaseError",
    "LintBlockedError",
    "LockTimeoutError",
    "ManifestError",
    "MigrationFailedError",
    "NoMigrationError",
    "NotExistError",
    "PlanChangedError",
    "PreRestoreBackupError",
    "RestoreFailedError",
    "RunInterruptedError",
    "SafemigrateError",
    "ShortLimitError",
    "SourceError",
    "StorageError",
    "UsageError",
    "VerificationFailedError",
]


if TYPE_CHECKING:  # a type only: every class of this module at run time is an error class
    class Report(Protocol):
        """Data an error carries whose words are rendered when asked for (the engine's FailureReport)."""

        def lines(self) -> list[str]: ...

        def to_dict(self) -> dict[str, Any]: ...


class SafemigrateError(Exception):
    """Root of all expected failures.

    ``message`` says what happened, ``hint`` what to do next (ideally a command),
    ``details`` is machine-readable context for ``--json``, ``settings`` the names of the
    settings or parameters the message and hint are about (written `in backquotes` in them).
    """

    exit_code: int = 1
    code: str = "error"
    report: Report | None = None

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        details: Mapping[str, Any] | None = None,
        settings: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details: dict[str, Any] = dict(details or {})
        self.settings: tuple[str, ...] = tuple(settings)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.code, "message": self.message}
        if self.hint:
            data["hint"] = self.hint
        if self.settings:
            data["settings"] = list(self.settings)
        data.update(self.details)
        if self.report is not None:
            data["report"] = self.report.to_dict()
        return data

    @property
    def report_lines(self) -> list[str]:
        """The lines shown under the message: the failure report, rendered from its data."""
        return self.report.lines() if self.report is not None else []


class UsageError(SafemigrateError):
    """The command line or its configuration is wrong; nothing was touched."""

    exit_code = 2
    code = "usage"


class SourceError(SafemigrateError):
    """The migrations folder cannot be used as it is (duplicates, unreadable files)."""

    code = "source"


class DatabaseError(SafemigrateError):
    """The database could not be reached or answered with an unexpected error."""

    code = "database"


class LockTimeoutError(SafemigrateError):
    """Another process holds the migration lock for longer than the lock timeout."""

    code = "lock_timeout"


class DirtyDatabaseError(SafemigrateError):
    """The version table says a migration did not finish (golang-migrate's ErrDirty)."""

    code = "dirty"

    def __init__(self, version: int, *, hint: str | None = None) -> None:
        # The first sentence is golang-migrate's exact text, so scripts that grep for it keep working.
        super().__init__(
            f"Dirty database version {version}. Fix and force version.",
            hint=hint,
            details={"version": version},
        )
        self.version = version


class NotExistError(SafemigrateError):
    """A version asked for (or the database's current one) has no file (golang-migrate's os.ErrNotExist)."""

    code = "not_exist"


class NoMigrationError(SafemigrateError):
    """No version has been applied yet (golang-migrate's ErrNilVersion, printed as 'no migration')."""

    code = "no_migration"


class ShortLimitError(SafemigrateError):
    """Fewer migrations existed than the N asked for; the ones that existed were applied."""

    code = "short_limit"

    def __init__(self, short: int, *, hint: str | None = None) -> None:
        super().__init__(f"limit {short} short", hint=hint, details={"short": short})
        self.short = short


class MigrationFailedError(SafemigrateError):
    """A migration's SQL failed; ``report`` is the failure report, ``details`` its main fields."""

    code = "migration_failed"

    def __init__(self, message: str, *, hint: str | None = None, details: Mapping[str, Any] | None = None,
                 report: Report | None = None) -> None:
        super().__init__(message, hint=hint, details=details)
        self.report = report


class RunInterruptedError(SafemigrateError):
    """SIGINT or SIGTERM stopped the run after rolling back what was running."""

    code = "interrupted"

    def __init__(self, message: str, *, signal_number: int, hint: str | None = None,
                 details: Mapping[str, Any] | None = None, report: Report | None = None) -> None:
        super().__init__(message, hint=hint, details=details)
        self.report = report
        # 128 + signal number is what shells report for a process killed by that signal.
        self.exit_code = 128 + signal_number


class CheckFailedError(SafemigrateError):
    """``check --expect``: the database is not at the version the application expects."""

    code = "check_failed"


class PlanChangedError(SafemigrateError):
    """``apply(plan)``: the database's version is no longer the one the plan started from."""

    code = "plan_changed"


class LintBlockedError(SafemigrateError):
    """The lint gate in strict mode: error-level findings in the files about to run; nothing ran."""

    code = "lint_blocked"


class CreateFailedError(SafemigrateError):
    """``create``: the new pair of migration files could not be made (name taken, folder unwritable...)."""

    code = "create_failed"


class DemoFailedError(SafemigrateError):
    """The demo walkthrough saw the tool behave otherwise than it says: a bug to report."""

    code = "demo_failed"


# -- backups ---------------------------------------------------------------------------------
class BackupFailedError(SafemigrateError):
    """Taking the backup failed; nothing was listed."""

    code = "backup_failed"


class PreRestoreBackupError(BackupFailedError):
    """``restore --replace``: the backup of the current state, taken first, failed; nothing was restored."""

    code = "pre_restore_backup_failed"


class BackupToolError(SafemigrateError):
    """A dump or restore tool is missing, too old, or failed."""

    code = "backup_tool"


class RestoreFailedError(BackupToolError):
    """The restore tool could not restore the backup."""

    code = "restore_failed"


class ChecksumError(SafemigrateError):
    """A stored file does not match the SHA-256 its manifest recorded: the backup is damaged."""

    code = "checksum"


class ManifestError(SafemigrateError):
    """A manifest is missing, unreadable, or does not describe the files beside it."""

    code = "manifest"


class StorageError(SafemigrateError):
    """The backup storage could not be read or written."""

    code = "storage"


class BackupNotFoundError(SafemigrateError):
    """No complete backup has the id asked for in the storage."""

    code = "not_found"


class VerificationFailedError(SafemigrateError):
    """The backup could not be proven restorable."""

    code = "verify_failed"
