"""safemigrate: golang-migrate compatible migrations that check, record and can be undone.

The public API is what this module exports; everything else is private and may change.

    from safemigrate import Migrator, load_source, open_driver

    with Migrator(load_source("migrations"), open_driver("sqlite3://app.db")) as m:
        m.up()
"""

from ._version import __version__
from .drivers import Driver, VersionState, open_driver
from .engine import Migrator, RunResult, StepResult
from .errors import (
    DatabaseError,
    DirtyDatabaseError,
    LockTimeoutError,
    MigrationFailedError,
    NoMigrationError,
    NotExistError,
    RunInterruptedError,
    SafemigrateError,
    ShortLimitError,
    SourceError,
    UsageError,
)
from .planner import Plan, Step
from .source import Migration, MigrationFile, MigrationSource, load_source
from .status import StatusReport
from .urls import DatabaseURL, parse_database_url

__all__ = [
    "DatabaseError",
    "DatabaseURL",
    "DirtyDatabaseError",
    "Driver",
    "LockTimeoutError",
    "Migration",
    "MigrationFailedError",
    "MigrationFile",
    "MigrationSource",
    "Migrator",
    "NoMigrationError",
    "NotExistError",
    "Plan",
    "RunInterruptedError",
    "RunResult",
    "SafemigrateError",
    "ShortLimitError",
    "SourceError",
    "StatusReport",
    "Step",
    "StepResult",
    "UsageError",
    "VersionState",
    "__version__",
    "load_source",
    "open_driver",
    "parse_database_url",
]
