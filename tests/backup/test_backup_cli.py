"""The backup command line: --json everywhere, progress on stderr, the library's public surface."""

from __future__ import annotations

import json
import os
from pathlib import Path

import safemigrate.backup as backup_api
from support import run_cli, run_cli_process


def test_every_subcommand_speaks_json(sqlite_db: str, tmp_path: Path) -> None:
    store = str(tmp_path / "b")
    created = run_cli("backup", "create", "--database", sqlite_db, "--to", store, "--json")
    backup_id = created.json()["backup"]["id"]
    target = str(tmp_path / "r.db")
    commands = [
        ("list", "--to", store),
        ("show", backup_id, "--to", store),
        ("verify", backup_id, "--to", store),
        ("verify", backup_id, "--quick", "--to", store),
        ("restore", backup_id, "--to", store, "--target", target),
        ("pin", backup_id, "--to", store),
        ("keep", backup_id, "--unpin", "--to", store),
        ("prune", "--dry-run", "--to", store),
        ("prune", "--to", store),
    ]
    for args in commands:
        result = run_cli("backup", *args, "--json")
        assert result.exit_code == 0, (args, result.output)
        doc = json.loads(result.stdout)  # exactly one JSON document on stdout
        assert doc["ok"] is True, args
        assert result.stderr == "", (args, result.stderr)  # no progress chatter in JSON mode
    failing = run_cli("backup", "show", "nope", "--to", store, "--json")
    assert failing.exit_code == 2 and json.loads(failing.stdout)["ok"] is False


def test_text_output_and_progress(sqlite_db: str, tmp_path: Path) -> None:
    store = str(tmp_path / "b")
    result = run_cli_process("backup", "create", "--database", sqlite_db, "--to", store, "--verify",
                             env={**os.environ, "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("created backup ")
    assert "verified (full)" in result.stdout
    assert "dump: " in result.stderr and "/s" in result.stderr  # bytes and rate, plain lines
    assert "\x1b[" not in result.stderr
    listed = run_cli("backup", "list", "--to", store)
    assert listed.stdout.splitlines()[0].split()[:2] == ["ID", "CREATED"]


def test_help_lists_the_subcommands() -> None:
    result = run_cli("backup", "--help")
    for name in ("create", "list", "show", "verify", "restore", "prune", "pin", "keep"):
        assert name in result.stdout
    create = run_cli("backup", "create", "--help").stdout
    for option in ("--to", "--s3-endpoint-url", "--format", "--jobs", "--compression", "--pg-bin-dir",
                   "--verify"):
        assert option in create


def test_public_api() -> None:
    for name in ("create_backup", "verify_backup", "restore_backup", "list_backups", "prune", "open_storage",
                 "Manifest", "Policy", "CreateOptions", "RestoreOptions"):
        assert name in backup_api.__all__ and hasattr(backup_api, name)
    assert sorted(backup_api.__all__) == backup_api.__all__ or set(backup_api.__all__) == set(
        dir(backup_api)) & set(backup_api.__all__)


def test_library_round_trip(sqlite_db: str, tmp_path: Path) -> None:
    storage = backup_api.open_storage(str(tmp_path / "b"))
    events: list[backup_api.ProgressEvent] = []
    manifest = backup_api.create_backup(sqlite_db, storage, progress=events.append)
    assert events and events[-1].final
    result = backup_api.verify_backup(storage, manifest.id)
    assert result.ok and result.mode == "full"
    assert backup_api.list_backups(storage).backups[0].verified
    restored = backup_api.restore_backup(storage, manifest.id, None, target=str(tmp_path / "x.db"))
    assert Path(restored.target).exists()
    plan = backup_api.prune(storage, backup_api.Policy(daily=1, weekly=0, monthly=0), dry_run=True)
    assert [c.id for c in plan.plan.kept] == [manifest.id]
