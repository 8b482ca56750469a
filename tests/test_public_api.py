"""The public API is exactly what safemigrate exports; everything else is private."""

from __future__ import annotations

import subprocess
import sys

import pytest

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
    for name in EXPECTED:
        assert getattr(safemigrate, name) is not None
    with pytest.raises(AttributeError):
        _ = safemigrate.not_a_public_name  # type: ignore[attr-defined]


def test_every_error_derives_from_the_root_error() -> None:
    errors = [getattr(safemigrate, n) for n in EXPECTED if n.endswith("Error")]
    assert all(issubclass(e, safemigrate.SafemigrateError) for e in errors)


def test_version_imports_neither_the_engine_nor_psycopg_for_sqlite() -> None:
    code = ("import sys, safemigrate.cli as c; c.run(['-path', '.', '-database', 'sqlite3://:memory:', "
            "'version']); print(*(m in sys.modules for m in ('psycopg', 'pglast', 'rich', "
            "'safemigrate.engine')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False False False False"


def test_every_exported_name_has_a_home_module() -> None:
    assert set(safemigrate._EXPORTS) | {"__version__"} == set(safemigrate.__all__)
