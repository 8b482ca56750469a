"""safemigrate: golang-migrate compatible migrations that check, record and can be undone.

The public API is what this module exports; everything else is private and may change.

    from safemigrate import Migrator, load_source, open_driver

    with Migrator(load_source("migrations"), open_driver("sqlite3://app.db")) as m:
        m.up()

Names are imported on first use, so ``safemigrate version`` does not pay for the
engine, and the SQLite path never imports psycopg.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
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

_EXPORTS: dict[str, str] = {
    "DatabaseError": "errors",
    "DatabaseURL": "urls",
    "DirtyDatabaseError": "errors",
    "Driver": "drivers",
    "LockTimeoutError": "errors",
    "Migration": "source",
    "MigrationFailedError": "errors",
    "MigrationFile": "source",
    "MigrationSource": "source",
    "Migrator": "engine",
    "NoMigrationError": "errors",
    "NotExistError": "errors",
    "Plan": "planner",
    "RunInterruptedError": "errors",
    "RunResult": "engine",
    "SafemigrateError": "errors",
    "ShortLimitError": "errors",
    "SourceError": "errors",
    "StatusReport": "status",
    "Step": "planner",
    "StepResult": "engine",
    "UsageError": "errors",
    "VersionState": "drivers",
    "load_source": "source",
    "open_driver": "drivers",
    "parse_database_url": "urls",
}

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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'safemigrate' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
