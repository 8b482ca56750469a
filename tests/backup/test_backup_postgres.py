"""PostgreSQL backups end to end with the real server, pg_dump and pg_restore, on local storage."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from backup_support import admin_execute, pg_databases, write_script

from support import CANARY_PASSWORD, database_name, run_cli

pytestmark = pytest.mark.postgres


def plain(url: str) -> str:
    return url.replace(f":{CANARY_PASSWORD}@", "@")


def dbname(url: str) -> str:
    return database_name(url)


def create(url: str, store: Path, *extra: str) -> dict:
    result = run_cli("backup", "create", "--database", url, "--to", str(store), "--json", *extra)
    assert result.exit_code == 0, result.output
    return result.json()["backup"]


def real_pg_tools(postgres_admin_url: str) -> tuple[str, str]:
    from safemigrate.backup.tools import find_pg_tool

    major = int(admin_execute(postgres_admin_url, "SHOW server_version_num")[0][0]) // 10000
    dump = find_pg_tool("pg_dump", major)
    restore = find_pg_tool("pg_restore", dump.major, bin_dir=str(Path(dump.path).parent))
    return dump.path, restore.path


def test_create_verify_list_show_restore(pg_db: str, tmp_path: Path, postgres_admin_url: str) -> None:
    store = tmp_path / "backups"
    backup = create(pg_db, store)
    assert backup["dialect"] == "postgres"
    assert backup["schema_migrations"]["version"] == 3 and backup["schema_migrations"]["dirty"] is False
    assert backup["row_counts"] == {"billing.invoices": 1200, "public.schema_migrations": 1,
                                    "public.users": 500}
    assert backup["compression"]["method"] in ("zstd", "pg_dump:zstd")
    assert backup["database"]["database"] == dbname(pg_db)
    assert backup["verification"] is None
    folder = store / backup["id"]
    # mode 0600 files, a 0700 folder, a manifest naming every file's SHA-256, no password anywhere
    for path in [folder, *folder.iterdir()]:
        expected = 0o700 if path.is_dir() else 0o600
        assert path.stat().st_mode & 0o777 == expected, path
    manifest_text = (folder / "manifest.json").read_text()
    assert CANARY_PASSWORD not in manifest_text
    import hashlib

    for entry in backup["files"]:
        assert hashlib.sha256((folder / entry["name"]).read_bytes()).hexdigest() == entry["sha256"]

    listed = run_cli("backup", "list", "--to", str(store), "--json").json()
    assert [b["id"] for b in listed["backups"]] == [backup["id"]]
    assert listed["backups"][0]["verification"] == "unverified"

    verified = run_cli("backup", "verify", backup["id"], "--database", pg_db, "--to", str(store), "--json",
                       "--no-owner")
    assert verified.exit_code == 0, verified.output
    v = verified.json()["verification"]
    assert v["ok"] and v["mode"] == "full" and v["restored_version"] == 3
    scratch = next(c for c in v["checks"] if "scratch database" in c).split("scratch database ")[1].split()[0]
    assert scratch.startswith("safemigrate_verify_")
    assert pg_databases(postgres_admin_url, scratch) == []  # dropped again

    text = run_cli("backup", "list", "--to", str(store))
    assert "verified" in text.stdout and backup["id"] in text.stdout
    shown = run_cli("backup", "show", "latest", "--to", str(store), "--json").json()["backup"]
    assert shown["verification"]["ok"] is True and shown["verification_state"] == "verified"

    restored = run_cli("backup", "restore", backup["id"], "--database", pg_db, "--to", str(store),
                       "--target", dbname(pg_db) + "_copy", "--json")
    assert restored.exit_code == 0, restored.output
    info = restored.json()["restore"]
    assert info["target"] == dbname(pg_db) + "_copy" and info["replaced"] is False
    copy_url = plain(pg_db).replace("/" + dbname(pg_db), "/" + dbname(pg_db) + "_copy")
    assert admin_execute(copy_url, "SELECT count(*) FROM billing.invoices") == [(1200,)]
    assert admin_execute(copy_url, "SELECT version, dirty FROM schema_migrations") == [(3, False)]
    # parallel restore of the zstd stream: decompressed to a private file first, for pg_restore -j
    parallel = run_cli("backup", "restore", backup["id"], "--database", pg_db, "--to", str(store),
                       "--target", dbname(pg_db) + "_par", "--jobs", "2")
    assert parallel.exit_code == 0, parallel.output
    taken = run_cli("backup", "restore", backup["id"], "--database", pg_db, "--to", str(store),
                    "--target", dbname(pg_db) + "_par")
    assert taken.exit_code == 2 and "already exists" in taken.stderr
    par_url = plain(pg_db).replace("/" + dbname(pg_db), "/" + dbname(pg_db) + "_par")
    assert admin_execute(par_url, "SELECT count(*) FROM users") == [(500,)]  # left alone


def test_directory_format_with_jobs(pg_db: str, tmp_path: Path) -> None:
    store = tmp_path / "b"
    backup = create(pg_db, store, "--format", "directory", "--jobs", "2", "--verify")
    assert backup["format"] == "directory"
    assert backup["compression"]["method"].startswith("pg_dump:")
    assert len(backup["files"]) > 2 and all(f["name"].startswith("database.dir/") for f in backup["files"])
    assert backup["verification"]["ok"] is True
    restored = run_cli("backup", "restore", "latest", "--database", pg_db, "--to", str(store), "--jobs", "2")
    assert restored.exit_code == 0, restored.output
    assert "match the manifest" in restored.stdout


def test_gzip_and_uncompressed_custom_format(pg_db: str, tmp_path: Path) -> None:
    for choice, method in (("gzip", "pg_dump:gzip"), ("none", "none")):
        backup = create(pg_db, tmp_path / choice, "--compression", choice, "--verify-quick")
        assert backup["compression"]["method"] == method
        assert backup["files"][0]["name"] == "database.dump"
        assert backup["verification"]["mode"] == "quick" and backup["verification"]["ok"]
        full = run_cli("backup", "verify", "latest", "--database", pg_db, "--to", str(tmp_path / choice))
        assert full.exit_code == 0, full.output


def test_row_counts_and_version_come_from_the_dump_snapshot(pg_db: str, tmp_path: Path) -> None:
    """Writes that land while pg_dump runs are in neither the dump nor the counts."""
    import threading

    import psycopg

    stop = threading.Event()

    def writer() -> None:
        with psycopg.connect(plain(pg_db), autocommit=True) as conn:
            while not stop.is_set():
                conn.execute("INSERT INTO users (email) VALUES (gen_random_uuid()::text)")

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        backup = create(pg_db, tmp_path / "b", "--verify")
    finally:
        stop.set()
        thread.join()
    assert backup["verification"]["ok"] is True  # restored counts == counts taken in the snapshot


def test_replace_takes_a_backup_first_and_can_be_undone(pg_db: str, tmp_path: Path) -> None:
    store = tmp_path / "b"
    original = create(pg_db, store)
    admin_execute(plain(pg_db), "INSERT INTO users (email) VALUES ('late@example.com')",
                  "UPDATE schema_migrations SET version = 4")
    refused = run_cli("backup", "restore", original["id"], "--database", pg_db, "--to", str(store),
                      "--replace")
    assert refused.exit_code == 2 and "--yes" in refused.output
    assert admin_execute(plain(pg_db), "SELECT version FROM schema_migrations") == [(4,)]

    import psycopg

    app = psycopg.connect(plain(pg_db), autocommit=True)  # an application still connected
    done = run_cli("backup", "restore", original["id"], "--database", pg_db, "--to", str(store),
                   "--replace", "--yes", "--json")
    assert done.exit_code == 0, done.output
    with pytest.raises(psycopg.OperationalError):
        app.execute("SELECT 1")  # its session was ended by the swap
    app.close()
    info = done.json()["restore"]
    assert info["replaced"] is True and info["pre_restore_backup"]
    assert admin_execute(plain(pg_db), "SELECT version FROM schema_migrations") == [(3,)]
    assert admin_execute(plain(pg_db), "SELECT count(*) FROM users") == [(500,)]
    pre = run_cli("backup", "show", info["pre_restore_backup"], "--to", str(store), "--json").json()["backup"]
    assert pre["pinned"] is True and pre["schema_migrations"]["version"] == 4
    assert pre["row_counts"]["public.users"] == 501

    undo = run_cli("backup", "restore", pre["id"], "--database", pg_db, "--to", str(store), "--replace",
                   "--yes")
    assert undo.exit_code == 0, undo.output
    assert admin_execute(plain(pg_db), "SELECT version FROM schema_migrations") == [(4,)]
    assert admin_execute(plain(pg_db), "SELECT count(*) FROM users") == [(501,)]


def test_prune_counts_only_verified_backups(pg_db: str, tmp_path: Path) -> None:
    store = tmp_path / "b"
    first = create(pg_db, store)
    second = create(pg_db, store, "--verify")
    pinned = create(pg_db, store, "--pin")
    newest = create(pg_db, store)
    plan = run_cli("backup", "prune", "--to", str(store), "--dry-run", "--keep-within", "0", "--json").json()
    assert {k["id"] for k in plan["keep"]} == {second["id"], pinned["id"], newest["id"]}
    assert [r["id"] for r in plan["remove"]] == [first["id"]]
    assert len(run_cli("backup", "list", "--to", str(store), "--json").json()["backups"]) == 4
    text = run_cli("backup", "prune", "--to", str(store), "--keep-within", "0")
    assert text.exit_code == 0 and "removed " + first["id"] in text.stdout
    ids = [b["id"] for b in run_cli("backup", "list", "--to", str(store), "--json").json()["backups"]]
    assert ids == [second["id"], pinned["id"], newest["id"]]
    assert run_cli("backup", "pin", pinned["id"], "--unpin", "--to", str(store)).exit_code == 0
    again = run_cli("backup", "prune", "--to", str(store), "--keep-daily", "0", "--keep-weekly", "0",
                    "--keep-monthly", "0", "--keep-within", "0", "--json").json()
    # unpinned, it is still unverified and newer than the newest verified backup: kept for now
    assert again["remove"] == []
    reasons = {k["id"]: k["reasons"] for k in again["keep"]}
    assert reasons[pinned["id"]] == ["not verified yet, newer than the newest verified backup"]
    assert reasons[second["id"]] == ["newest verified backup"]


# -- faults ---------------------------------------------------------------------------------
def test_flipped_byte_fails_verify_and_names_the_file(pg_db: str, tmp_path: Path) -> None:
    store = tmp_path / "b"
    backup = create(pg_db, store)
    data = store / backup["id"] / backup["files"][0]["name"]
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    data.write_bytes(bytes(raw))
    for args in ((), ("--quick",)):
        result = run_cli("backup", "verify", backup["id"], "--database", pg_db, "--to", str(store), *args)
        assert result.exit_code == 1
        assert backup["files"][0]["name"] in result.stderr and "damaged" in result.stderr
    as_json = run_cli("backup", "verify", backup["id"], "--database", pg_db, "--to", str(store), "--json")
    assert as_json.json()["error"]["file"] == backup["files"][0]["name"]
    listed = run_cli("backup", "list", "--to", str(store), "--json").json()["backups"]
    assert listed[0]["verification"] == "failed"
    refused = run_cli("backup", "restore", backup["id"], "--database", pg_db, "--to", str(store))
    assert refused.exit_code == 2 and "failed its last verification" in refused.stderr


def test_stored_dump_cut_short_fails_verify(pg_db: str, tmp_path: Path, postgres_admin_url: str) -> None:
    _dump, restore = real_pg_tools(postgres_admin_url)
    store = tmp_path / "b"
    backup = create(pg_db, store, "--compression", "none")
    data = store / backup["id"] / "database.dump"
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    # The runbook's own check passes on the half-sized dump: it reads only the table of contents.
    assert subprocess.run([restore, "--list", str(data)], capture_output=True).returncode == 0
    result = run_cli("backup", "verify", backup["id"], "--quick", "--to", str(store))
    assert result.exit_code == 1 and "database.dump" in result.stderr


def test_pg_dump_cut_short_is_caught_at_backup_time(pg_db: str, tmp_path: Path,
                                                    postgres_admin_url: str) -> None:
    """A pg_dump whose output stops early but which exits 0 (the `pg_dump | gzip` failure)."""
    real_dump, real_restore = real_pg_tools(postgres_admin_url)
    bindir = tmp_path / "bin"
    write_script(bindir / "pg_dump", f"""#!/bin/sh
case "$1" in --version) exec "{real_dump}" --version;; esac
"{real_dump}" "$@" | head -c 6000
exit 0
""")
    (bindir / "pg_restore").symlink_to(real_restore)
    store = tmp_path / "b"
    result = run_cli("backup", "create", "--database", pg_db, "--to", str(store), "--pg-bin-dir", str(bindir))
    assert result.exit_code == 1
    assert "incomplete or damaged" in result.stderr and "pg_restore" in result.stderr
    assert run_cli("backup", "list", "--to", str(store), "--json").json() == {
        "ok": True, "storage": str(store), "backups": [], "incomplete": [], "unreadable": {}}
    assert list(store.iterdir()) == []


def test_pg_dump_older_than_the_server_is_refused(pg_db: str, tmp_path: Path,
                                                  postgres_admin_url: str) -> None:
    real_dump, _ = real_pg_tools(postgres_admin_url)
    major = int(admin_execute(postgres_admin_url, "SHOW server_version_num")[0][0]) // 10000
    bindir = tmp_path / "old"
    write_script(bindir / "pg_dump", f"""#!/bin/sh
case "$1" in --version) echo "pg_dump (PostgreSQL) {major - 1}.9"; exit 0;; esac
exec "{real_dump}" "$@"
""")
    store = tmp_path / "b"
    result = run_cli("backup", "create", "--database", pg_db, "--to", str(store), "--pg-bin-dir", str(bindir))
    assert result.exit_code == 1
    assert "too old" in result.stderr and f"postgresql-client-{major}" in result.stderr
    assert f"{major - 1}.9" in result.stderr
    env = {**os.environ, "SAFEMIGRATE_PG_BIN_DIR": str(bindir)}
    via_env = run_cli("backup", "create", "--database", pg_db, "--to", str(store), "--json", env=env)
    assert via_env.exit_code == 1 and via_env.json()["error"]["type"] == "backup_tool"
    assert not store.exists() or list(store.iterdir()) == []


def test_password_goes_through_a_private_passfile(pg_db: str, tmp_path: Path,
                                                  postgres_admin_url: str) -> None:
    real_dump, real_restore = real_pg_tools(postgres_admin_url)
    bindir, log = tmp_path / "bin", tmp_path / "log"
    log.mkdir()
    write_script(bindir / "pg_dump", f"""#!/bin/sh
case "$1" in --version) exec "{real_dump}" --version;; esac
printf '%s\\n' "$@" > "{log}/argv"
stat -c %a "$PGPASSFILE" > "{log}/mode"
cat "$PGPASSFILE" > "{log}/content"
echo "$PGPASSFILE" > "{log}/path"
env > "{log}/env"
exec "{real_dump}" "$@"
""")
    (bindir / "pg_restore").symlink_to(real_restore)
    result = run_cli("backup", "create", "--database", pg_db, "--to", str(tmp_path / "b"),
                     "--pg-bin-dir", str(bindir))
    assert result.exit_code == 0, result.output
    assert CANARY_PASSWORD not in (log / "argv").read_text()
    assert "PGPASSWORD" not in (log / "env").read_text()
    assert (log / "mode").read_text().strip() == "600"
    assert CANARY_PASSWORD in (log / "content").read_text()
    assert not Path((log / "path").read_text().strip()).exists()  # removed afterwards


def test_full_disk_leaves_nothing_listed(pg_db: str, tmp_path: Path) -> None:
    admin_execute(plain(pg_db), "CREATE TABLE blob AS SELECT g, md5(random()::text) || md5(random()::text) "
                  "AS a FROM generate_series(1, 40000) g")
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", str(disk)],
                             capture_output=True).returncode == 0
    try:
        if mounted:
            result = run_cli("backup", "create", "--database", pg_db, "--to", str(disk / "b"))
            assert result.exit_code == 1
            assert "no space left" in result.stderr and "--to" in result.stderr
        else:  # no mounting here: a file size limit instead
            import resource
            import sys

            proc = subprocess.run(
                [sys.executable, "-m", "safemigrate", "backup", "create", "--database", pg_db, "--to",
                 str(disk / "b")], capture_output=True, text=True,
                preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000)))
            assert proc.returncode == 1 and CANARY_PASSWORD not in proc.stderr
            assert "file too large" in proc.stderr or "no space" in proc.stderr
        listed = run_cli("backup", "list", "--to", str(disk / "b"), "--json").json()
        assert listed["backups"] == [] and listed["incomplete"] == []
    finally:
        if mounted:
            subprocess.run(["umount", str(disk)], check=True)


def test_errors_are_clear(pg_db: str, tmp_path: Path) -> None:
    store = tmp_path / "b"
    backup = create(pg_db, store)
    no_server = run_cli("backup", "verify", backup["id"], "--to", str(store), env={
        k: v for k, v in os.environ.items() if k != "DATABASE_URL"})
    assert no_server.exit_code == 2 and "--quick" in no_server.stderr
    missing = run_cli("backup", "show", "20200101T000000Z-nope-abcdef", "--to", str(store), "--json")
    assert missing.exit_code == 1 and missing.json()["error"]["type"] == "not_found"
    bad_id = run_cli("backup", "verify", "../../etc", "--to", str(store))
    assert bad_id.exit_code == 2 and "not a backup id" in bad_id.stderr
    jobs = run_cli("backup", "create", "--database", pg_db, "--to", str(store), "--jobs", "2")
    assert jobs.exit_code == 2 and "--format directory" in jobs.stderr
    wrong = run_cli("backup", "create", "--database", pg_db, "--to", "ftp://host/x")
    assert wrong.exit_code == 2 and "unsupported backup location" in wrong.stderr
    down = run_cli("backup", "create", "--database",
                   f"postgres://postgres:{CANARY_PASSWORD}@127.0.0.1:1/nothing_listens_here?connect_timeout=2",
                   "--to", str(store))
    assert down.exit_code == 1 and "cannot connect" in down.stderr
    (store / "20200101T000000Z-junk-000000.partial").mkdir()
    listed = run_cli("backup", "list", "--to", str(store))
    assert "incomplete" in listed.stderr and "20200101T000000Z-junk" not in listed.stdout
    assert json.loads(run_cli("backup", "list", "--to", str(store), "--json").stdout)["incomplete"]


def test_sigterm_during_the_dump_leaves_nothing(pg_db: str, tmp_path: Path, postgres_admin_url: str) -> None:
    import contextlib
    import signal
    import sys
    import time

    real_dump, real_restore = real_pg_tools(postgres_admin_url)
    bindir = tmp_path / "bin"
    write_script(bindir / "pg_dump", f"""#!/bin/sh
case "$1" in --version) exec "{real_dump}" --version;; esac
"{real_dump}" "$@"
echo $$ >> "{tmp_path}/wrapper.pids"
exec sleep 60
""")
    (bindir / "pg_restore").symlink_to(real_restore)
    store = tmp_path / "b"
    proc = subprocess.Popen([sys.executable, "-m", "safemigrate", "backup", "create", "--database", pg_db,
                             "--to", str(store), "--pg-bin-dir", str(bindir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not list(store.glob("*.partial/database.dump.zst")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "SIGTERM received" in err and CANARY_PASSWORD not in err + out
    assert list(store.iterdir()) == []

    # SIGKILL cannot be caught: the folder stays, marked .partial, and is never listed.
    pids = tmp_path / "wrapper.pids"

    def wrappers_done() -> int:  # a wrapper writes its id once its pg_dump has ended
        return len(pids.read_text().split()) if pids.exists() else 0

    done_before = wrappers_done()  # the first run's wrapper was killed, unless its dump had ended
    proc = subprocess.Popen([sys.executable, "-m", "safemigrate", "backup", "create", "--database", pg_db,
                             "--to", str(store), "--pg-bin-dir", str(bindir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not list(store.glob("*.partial/database.dump.zst")) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 60  # the orphaned pg_dump ends on its broken pipe, then the wrapper
    while wrappers_done() <= done_before and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in (pids.read_text().split() if pids.exists() else []):  # the orphaned wrappers, by id
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)
    listed = run_cli("backup", "list", "--to", str(store), "--json").json()
    assert listed["backups"] == []
    assert len(listed["incomplete"]) == 1 and listed["incomplete"][0].endswith(".partial")
