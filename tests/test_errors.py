"""The error tree: one module, one stable JSON ``type`` per class, the root never raised bare."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import safemigrate.errors as errors
from support import REPO, run_cli

SOURCE = REPO / "src" / "safemigrate"

# The ``type`` of each class's JSON error document: scripts match on these, so they never change.
TYPES = {
    "SafemigrateError": "error", "UsageError": "usage", "SourceError": "source", "DatabaseError": "database",
    "LockTimeoutError": "lock_timeout", "DirtyDatabaseError": "dirty", "NotExistError": "not_exist",
    "NoMigrationError": "no_migration", "ShortLimitError": "short_limit",
    "MigrationFailedError": "migration_failed", "RunInterruptedError": "interrupted",
    "CheckFailedError": "check_failed", "PlanChangedError": "plan_changed", "LintBlockedError": "lint_blocked",
    "CreateFailedError": "create_failed", "DemoFailedError": "demo_failed", "BackupFailedError": "backup_failed",
    "PreRestoreBackupError": "pre_restore_backup_failed", "BackupToolError": "backup_tool",
    "RestoreFailedError": "restore_failed", "ChecksumError": "checksum", "ManifestError": "manifest",
    "StorageError": "storage", "BackupNotFoundError": "not_found", "VerificationFailedError": "verify_failed",
}


def error_classes() -> dict[str, type[errors.SafemigrateError]]:
    return {name: cls for name, cls in vars(errors).items()
            if inspect.isclass(cls) and issubclass(cls, errors.SafemigrateError)}


def test_each_error_class_has_its_own_pinned_json_type() -> None:
    classes = error_classes()
    assert {name: cls.code for name, cls in classes.items()} == TYPES
    assert len(set(TYPES.values())) == len(TYPES), "two classes share a type"
    assert set(errors.__all__) == set(classes)


def test_the_docstring_draws_every_class() -> None:
    doc = errors.__doc__ or ""
    for name, code in TYPES.items():
        line = next((line for line in doc.splitlines() if f" {name} " in f"{line} "), "")
        assert code in line.split(), f"{name} is not drawn with its type {code!r}"


def _parsed() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(encoding="utf-8"))) for path in SOURCE.rglob("*.py")]


def test_every_error_class_is_defined_in_errors_py() -> None:
    names = set(TYPES)
    elsewhere = []
    for path, tree in _parsed():
        if path.name == "errors.py" and path.parent == SOURCE:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and any(
                    isinstance(base, ast.Name) and base.id in names for base in node.bases):
                elsewhere.append(f"{path.relative_to(REPO)}: {node.name}")
    assert elsewhere == []


def test_the_root_error_is_never_raised_bare() -> None:
    bare = []
    for path, tree in _parsed():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id == "SafemigrateError":
                bare.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert bare == []


def test_a_json_error_carries_its_class_type(tmp_path: Path) -> None:
    (tmp_path / "9_last.up.sql").write_text("")
    result = run_cli("--format", "json", "create", "-ext", "sql", "-dir", str(tmp_path), "-seq", "-digits", "1",
                     "next")
    assert result.exit_code == 1
    assert result.json()["error"]["type"] == "create_failed"
    assert "too large" in result.json()["error"]["message"]
