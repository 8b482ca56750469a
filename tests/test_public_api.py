"""The public API is exactly what safemigrate exports; everything else is private."""

from __future__ import annotations

import subprocess
import sys

import safemigrate

EXPECTED = {
    "DatabaseError", "DatabaseURL", "DirtyDatabaseError", "Driver", "LockTimeoutError", "Migration",
    "MigrationFailedError", "MigrationFile", "MigrationSource", "Migrator", "NoMigrationError",
    "NotExistError", "Plan", "RunInterruptedError", "RunResult", "SafemigrateError", "ShortLimitError",
    "SourceError", "StatusReport", "Step", "StepResult", "UsageError", "VersionState", "__version__",
    "load_source", "open_driver", "parse_database_url",
}


def test_public_names_are_exactly_the_curated_ones() -> None:
    assert set(safemigrate.__all__) == EXPECTED
    public = {name for name in dir(safemigrate) if not name.startswith("_")} | {"__version__"}
    modules = {name for name in public if type(getattr(safemigrate, name)).__name__ == "module"}
    assert public - modules == EXPECTED


def test_every_error_derives_from_the_root_error() -> None:
    errors = [getattr(safemigrate, n) for n in EXPECTED if n.endswith("Error")]
    assert all(issubclass(e, safemigrate.SafemigrateError) for e in errors)


def test_the_sqlite_path_never_imports_psycopg(tmp_path: object) -> None:
    code = ("import sys, safemigrate.cli as c; c.run(['-path', '.', '-database', 'sqlite3://:memory:', "
            "'version']); print('psycopg' in sys.modules, 'pglast' in sys.modules, 'rich' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False False False"
