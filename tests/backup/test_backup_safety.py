"""Issue 8: nothing lost, nothing leaked. Prune re-checks what it keeps, `latest` is per database,
keep-within, restores that survive SIGKILL, and no secret in a child's environment or in /dev/shm."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from backup_support import admin_execute, mysql_rows, write_script

from support import CANARY_PASSWORD, run_cli


def no_url_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(extra)
    return env


def create(url: str, store: Path, *extra: str) -> dict:
    result = run_cli("backup", "create", "--database", url, "--to", str(store), "--json", *extra,
                     env=no_url_env())
    assert result.exit_code == 0, result.output
    return result.json()["backup"]


def flip_byte(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))


def listed(store: Path | str, *extra: str) -> list[dict]:
    result = run_cli("backup", "list", "--to", str(store), "--json", *extra, env=no_url_env())
    return list(result.json()["backups"])


# -- 1. prune re-checks what it keeps ----------------------------------------------------------
def test_prune_keeps_the_good_backups_when_the_newest_verified_one_is_damaged(sqlite_db: str,
                                                                             tmp_path: Path) -> None:
    store = tmp_path / "b"
    older = create(sqlite_db, store, "--verify")
    newest = create(sqlite_db, store, "--verify")
    flip_byte(store / newest["id"] / newest["files"][0]["name"])  # damaged after its verification
    result = run_cli("backup", "prune", "--to", str(store), "--keep-daily", "1", "--keep-weekly", "0",
                     "--keep-monthly", "0", "--keep-within", "0", "--json", env=no_url_env())
    assert result.exit_code == 1, result.output  # damage is reported as a failure cron sees
    doc = result.json()
    assert doc["deleted"] == [] and list(doc["damaged"]) == [newest["id"]]
    assert doc["checked"] == [newest["id"]]  # then nothing was left to delete: no need to go on
    keep = {k["id"]: k["reasons"] for k in doc["keep"]}
    assert keep[older["id"]][0] == "newest verified backup"
    assert keep[newest["id"]][0].startswith("damaged")
    assert "is damaged" in result.stderr
    states = {b["id"]: b["verification"] for b in listed(store)}
    assert states == {older["id"]: "verified", newest["id"]: "failed"}
    refused = run_cli("backup", "restore", newest["id"], "--to", str(store), "--target",
                      str(tmp_path / "x.db"), env=no_url_env())
    assert refused.exit_code == 2 and "failed its last verification" in refused.stderr
    # The older one is restorable: it was kept for exactly this.
    restored = run_cli("backup", "restore", older["id"], "--to", str(store), "--target",
                       str(tmp_path / "y.db"), env=no_url_env())
    assert restored.exit_code == 0, restored.output


def test_prune_on_s3_rehashes_what_it_keeps_before_deleting(sqlite_db: str, s3_endpoint: object,
                                                            s3_bucket: str) -> None:
    from backup_support import s3_client

    env = no_url_env(SAFEMIGRATE_S3_ENDPOINT_URL=s3_endpoint.url)  # type: ignore[attr-defined]
    ids = []
    for _ in range(2):
        made = run_cli("backup", "create", "--database", sqlite_db, "--to", s3_bucket, "--verify", "--json",
                       env=env)
        assert made.exit_code == 0, made.output
        ids.append(made.json()["backup"]["id"])
    bucket, prefix = s3_bucket[5:].split("/", 1)
    client = s3_client(s3_endpoint)  # type: ignore[arg-type]
    key = f"{prefix}/{ids[1]}/database.sqlite.zst"
    body = bytearray(client.get_object(Bucket=bucket, Key=key)["Body"].read())  # type: ignore[attr-defined]
    body[len(body) // 2] ^= 0x01
    client.put_object(Bucket=bucket, Key=key, Body=bytes(body))  # type: ignore[attr-defined]
    result = run_cli("backup", "prune", "--to", s3_bucket, "--keep-daily", "1", "--keep-weekly", "0",
                     "--keep-monthly", "0", "--keep-within", "0", "--json", env=env)
    assert result.exit_code == 1 and result.json()["deleted"] == [] and list(result.json()["damaged"]) == [ids[1]]


def test_list_says_when_the_files_were_last_checked_and_check_rehashes(sqlite_db: str, tmp_path: Path) -> None:
    store = tmp_path / "b"
    made = create(sqlite_db, store, "--verify")
    assert [b["files_checked"] for b in listed(store)] == ["not re-checked"]
    text = run_cli("backup", "list", "--to", str(store), env=no_url_env()).stdout
    day = listed(store)[0]["verified_at"][:10]
    assert f"verified {day}, not re-checked" in text
    checked = run_cli("backup", "list", "--to", str(store), "--check", env=no_url_env())
    assert checked.exit_code == 0 and f"verified {day}, files checked now" in checked.stdout
    assert listed(store)[0]["files_checked"].startswith("files checked 20")
    flip_byte(store / made["id"] / made["files"][0]["name"])
    damaged = run_cli("backup", "list", "--to", str(store), "--check", "--json", env=no_url_env())
    assert damaged.exit_code == 1 and list(damaged.json()["damaged"]) == [made["id"]]
    assert listed(store)[0]["verification"] == "failed"


# -- 3. latest means the URL's database -------------------------------------------------------------
def two_sqlite_databases(tmp_path: Path) -> tuple[str, str]:
    import sqlite3

    urls = []
    for name, version in (("chat", 4), ("billing", 9)):
        path = tmp_path / f"{name}.db"
        conn = sqlite3.connect(path)
        conn.executescript(f"CREATE TABLE schema_migrations (version uint64, dirty bool);"
                           f"INSERT INTO schema_migrations VALUES ({version}, 0);"
                           f"CREATE TABLE {name}_rows (id INTEGER PRIMARY KEY);")
        conn.commit()
        conn.close()
        urls.append(f"sqlite3://{path}")
    return urls[0], urls[1]


def sqlite_version(url: str) -> int:
    import sqlite3

    conn = sqlite3.connect(url.removeprefix("sqlite3://"))
    try:
        return int(conn.execute("SELECT version FROM schema_migrations").fetchone()[0])
    finally:
        conn.close()


def test_latest_is_the_newest_backup_of_the_database_the_url_names(tmp_path: Path) -> None:
    chat, billing = two_sqlite_databases(tmp_path)
    store = tmp_path / "b"
    chat_backup = create(chat, store, "--verify")
    billing_backup = create(billing, store, "--verify")  # the newest in the storage
    replaced = run_cli("backup", "restore", "latest", "--replace", "--yes", "--to", str(store), "--json",
                       env=no_url_env(DATABASE_URL=chat))
    assert replaced.exit_code == 0, replaced.output
    assert replaced.json()["restore"]["backup_id"] == chat_backup["id"]
    assert sqlite_version(chat) == 4
    # list, verify latest and prune follow the URL too
    assert [b["id"] for b in listed(store, "--database", billing)] == [billing_backup["id"]]
    verified = run_cli("backup", "verify", "latest", "--to", str(store), "--json",
                       env=no_url_env(DATABASE_URL=billing))
    assert verified.exit_code == 0 and verified.json()["backup_id"] == billing_backup["id"]
    # no URL and several databases: an error that lists them
    for args in (("verify", "latest"), ("show", "latest"), ("prune", "--dry-run")):
        result = run_cli("backup", *args, "--to", str(store), env=no_url_env())
        assert result.exit_code == 2, (args, result.output)
        assert "several databases" in result.stderr and "chat.db" in result.stderr
        assert "billing.db" in result.stderr
    named = run_cli("backup", "show", "latest", "--database-name", "billing.db", "--to", str(store), "--json",
                    env=no_url_env())
    assert named.json()["backup"]["id"] == billing_backup["id"]
    everything = {b["id"] for b in listed(store)}  # no URL: all (with the pre-restore backup of chat)
    assert len(everything) == 3 and {chat_backup["id"], billing_backup["id"]} <= everything


def test_replace_with_another_databases_backup_needs_from_database(tmp_path: Path) -> None:
    chat, billing = two_sqlite_databases(tmp_path)
    store = tmp_path / "b"
    billing_backup = create(billing, store)
    refused = run_cli("backup", "restore", billing_backup["id"], "--replace", "--yes", "--database", chat,
                      "--to", str(store), env=no_url_env())
    assert refused.exit_code == 2, refused.output
    assert "taken from database" in refused.stderr and "--from-database billing.db" in refused.stderr
    assert sqlite_version(chat) == 4  # untouched
    wrong = run_cli("backup", "restore", billing_backup["id"], "--replace", "--yes", "--database", chat,
                    "--from-database", "other.db", "--to", str(store), env=no_url_env())
    assert wrong.exit_code == 2 and sqlite_version(chat) == 4
    allowed = run_cli("backup", "restore", billing_backup["id"], "--replace", "--yes", "--database", chat,
                      "--from-database", "billing.db", "--to", str(store), env=no_url_env())
    assert allowed.exit_code == 0, allowed.output
    assert sqlite_version(chat) == 9


# -- 4. keep-within, labels -------------------------------------------------------------------------
def test_prune_keeps_the_days_manual_backup_by_default(sqlite_db: str, tmp_path: Path) -> None:
    store = tmp_path / "b"
    manual = create(sqlite_db, store, "--verify", "--label", "before migration 42")
    nightly = create(sqlite_db, store, "--verify")
    default = run_cli("backup", "prune", "--to", str(store), "--json", env=no_url_env()).json()
    assert default["deleted"] == [] and default["policy"]["keep_within"] == "1d"
    reasons = {k["id"]: k["reasons"] for k in default["keep"]}
    assert "within 1d of the newest backup" in reasons[manual["id"]]
    text = run_cli("backup", "list", "--to", str(store), env=no_url_env()).stdout
    assert "before migration 42" in text.splitlines()[1] and "LABEL" in text.splitlines()[0]
    off = run_cli("backup", "prune", "--to", str(store), "--keep-within", "0", "--json", env=no_url_env())
    assert off.json()["deleted"] == [manual["id"]]
    assert [b["id"] for b in listed(store)] == [nightly["id"]]
    bad = run_cli("backup", "prune", "--to", str(store), "--keep-within", "1y", env=no_url_env())
    assert bad.exit_code == 2 and "not a duration" in bad.stderr


# -- 13. children's environment ----------------------------------------------------------------------
def recording_wrappers(bindir: Path, record: Path, tools: dict[str, str]) -> None:
    for name, real in tools.items():
        write_script(bindir / name, f"""#!/bin/sh
env > "{record}/{name}.$$"
exec "{real}" "$@"
""")


def assert_clean_environments(record: Path, expected: set[str]) -> None:
    files = list(record.iterdir())
    assert {f.name.split(".")[0] for f in files} >= expected
    for path in files:
        text = path.read_text()
        assert CANARY_PASSWORD not in text, path.name
        names = {line.split("=", 1)[0] for line in text.splitlines() if "=" in line}
        assert not names & {"DATABASE_URL", "PGPASSWORD", "MYSQL_PWD"}, path.name
        assert not [n for n in names if n.startswith("SAFEMIGRATE_")], path.name


@pytest.mark.postgres
def test_pg_tools_do_not_inherit_the_password_or_database_url(pg_db: str, tmp_path: Path,
                                                               postgres_admin_url: str) -> None:
    from test_backup_postgres import real_pg_tools

    real_dump, real_restore = real_pg_tools(postgres_admin_url)
    bindir, record = tmp_path / "bin", tmp_path / "env"
    record.mkdir()
    recording_wrappers(bindir, record, {"pg_dump": real_dump, "pg_restore": real_restore})
    env = {k: v for k, v in os.environ.items() if k != "SAFEMIGRATE_PG_BIN_DIR"}
    env.update(DATABASE_URL=pg_db, PGPASSWORD=CANARY_PASSWORD, SAFEMIGRATE_TEST_SECRET=CANARY_PASSWORD,
               PATH=f"{bindir}:{os.environ['PATH']}")
    store = tmp_path / "b"
    result = run_cli("backup", "create", "--to", str(store), "--verify", env=env)
    assert result.exit_code == 0, result.output
    assert_clean_environments(record, {"pg_dump", "pg_restore"})


@pytest.mark.mysql
def test_mariadb_tools_do_not_inherit_the_password_or_database_url(mysql_db: str, tmp_path: Path) -> None:
    import shutil

    tools = {}
    for group in (("mariadb-dump", "mysqldump"), ("mariadb", "mysql")):
        real = next(p for p in (shutil.which(n) for n in group) if p)
        tools.update({n: real for n in group})
    bindir, record = tmp_path / "bin", tmp_path / "env"
    record.mkdir()
    recording_wrappers(bindir, record, tools)
    # The test server's root has no password: the canary rides in variables a child could read.
    env = {**os.environ, "DATABASE_URL": f"mysql://root:{CANARY_PASSWORD}@127.0.0.1:1/elsewhere",
           "SAFEMIGRATE_TEST_SECRET": CANARY_PASSWORD, "PATH": f"{bindir}:{os.environ['PATH']}"}
    store = tmp_path / "b"
    result = run_cli("backup", "create", "--database", mysql_db, "--to", str(store), "--verify", env=env)
    assert result.exit_code == 0, result.output
    assert_clean_environments(record, {"mariadb-dump", "mariadb"} & {p.name for p in bindir.iterdir()})


# -- 14. a killed run's passfile ----------------------------------------------------------------------
def shm_folders_with_canary() -> list[Path]:
    base = Path("/dev/shm")
    found = []
    for folder in base.glob("safemigrate-*"):
        for path in folder.rglob("*"):
            with contextlib.suppress(OSError):
                if path.is_file() and CANARY_PASSWORD.encode() in path.read_bytes():
                    found.append(folder)
    return found


@contextlib.contextmanager
def killed_group(proc: subprocess.Popen[bytes]) -> Iterator[None]:
    try:
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wait_for(predicate: object, proc: subprocess.Popen[bytes], limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while not predicate() and proc.poll() is None and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.05)


@pytest.mark.postgres
@pytest.mark.skipif(not Path("/dev/shm").is_dir(), reason="no /dev/shm on this system")
def test_passfile_of_a_killed_backup_is_removed_by_the_next_command(pg_db: str, tmp_path: Path,
                                                                     postgres_admin_url: str) -> None:
    from test_backup_postgres import real_pg_tools

    real_dump, real_restore = real_pg_tools(postgres_admin_url)
    bindir, marker = tmp_path / "bin", tmp_path / "started"
    write_script(bindir / "pg_dump", f"""#!/bin/sh
case "$1" in --version) exec "{real_dump}" --version;; esac
touch "{marker}"
exec sleep 60
""")
    (bindir / "pg_restore").symlink_to(real_restore)
    before = set(shm_folders_with_canary())
    proc = subprocess.Popen([sys.executable, "-m", "safemigrate", "backup", "create", "--database", pg_db,
                             "--to", str(tmp_path / "b"), "--pg-bin-dir", str(bindir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    with killed_group(proc):
        wait_for(marker.exists, proc)
        assert marker.exists(), "pg_dump never started"
    left = {f for f in set(shm_folders_with_canary()) - before if f"-{proc.pid}-" in f.name}
    assert left, "the killed run should have left its passfile (SIGKILL cannot be caught)"
    # A command that needs no password at all still sweeps it.
    assert run_cli("backup", "list", "--to", str(tmp_path / "b"), env=no_url_env()).exit_code == 0
    assert not [f for f in left if f.exists()]


# -- 2. restore --replace killed at any point ---------------------------------------------------------
def mysql_state(url: str) -> tuple[int, int] | None:
    tables = {str(r[0]) for r in mysql_rows(url, "SHOW FULL TABLES WHERE Table_type = 'BASE TABLE'")}
    if tables != {"audit", "items", "schema_migrations"}:
        return None
    return (int(mysql_rows(url, "SELECT count(*) FROM items")[0][0]),  # type: ignore[call-overload]
            int(mysql_rows(url, "SELECT version FROM schema_migrations")[0][0]))  # type: ignore[call-overload]


@pytest.mark.mysql
def test_mariadb_replace_killed_mid_restore_never_leaves_the_database_half_restored(mysql_db: str,
                                                                                    tmp_path: Path) -> None:
    import shutil

    store = tmp_path / "b"
    # What RENAME TABLE does not carry by itself: a foreign key between moved tables, an event.
    mysql_rows(mysql_db, "ALTER TABLE audit ADD CONSTRAINT audit_item FOREIGN KEY (item) REFERENCES items (id)")
    mysql_rows(mysql_db, "CREATE EVENT tidy ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM audit")
    backup = create(mysql_db, store, "--verify")
    real = next(p for p in (shutil.which("mariadb"), shutil.which("mysql")) if p)
    bindir, marks = tmp_path / "bin", tmp_path / "marks"
    marks.mkdir()
    for name in ("mariadb", "mysql"):  # each restore through the client starts 0.5 s late
        write_script(bindir / name, f"""#!/bin/sh
case "$1" in --version) exec "{real}" --version;; esac
touch "{marks}/client.$$"
sleep 0.5
"{real}" "$@"
rc=$?
touch "{marks}/done.$$"
exit $rc
""")
    env = {**no_url_env(), "PATH": f"{bindir}:{os.environ['PATH']}"}
    old, new = (5, 6), (200, 5)

    def marked(prefix: str) -> int:
        return len(list(marks.glob(prefix + ".*")))

    # While restoring into the incoming copy; right after it (the check and the swap follow); at
    # the next client start (the old code restored a second time, into the emptied original).
    for point, reached in (("first client start", lambda: marked("client") >= 1),
                           ("first client end", lambda: marked("done") >= 1),
                           ("second client start", lambda: marked("client") >= 2)):
        mysql_rows(mysql_db, "DELETE FROM items WHERE id > 5")
        mysql_rows(mysql_db, "UPDATE schema_migrations SET version = 6")
        for mark in marks.iterdir():
            mark.unlink()
        proc = subprocess.Popen([sys.executable, "-m", "safemigrate", "backup", "restore", backup["id"],
                                 "--replace", "--yes", "--database", mysql_db, "--to", str(store)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                                start_new_session=True)
        with killed_group(proc):
            wait_for(reached, proc)
        state = mysql_state(mysql_db)
        assert state in (old, new), f"killed at the {point}: live database is {state}"
    # The next run reports what the interrupted one left, with the statement that removes it.
    again = run_cli("backup", "restore", backup["id"], "--replace", "--yes", "--database", mysql_db,
                    "--to", str(store), "--json", env=no_url_env())
    assert again.exit_code == 0, again.output
    leftovers = again.json()["restore"]["leftovers"]
    assert leftovers and all("_safemigrate_incoming_" in f["name"] or "_safemigrate_old_" in f["name"]
                             for f in leftovers)
    assert "interrupted restore left" in again.stderr and "DROP DATABASE" in again.stderr
    for item in leftovers:
        mysql_rows(mysql_db, item["command"])
    assert mysql_state(mysql_db) == new
    assert mysql_rows(mysql_db, "SHOW TRIGGERS")[0][0] == "items_audit"  # non-table objects came along
    assert mysql_rows(mysql_db, "SELECT count(*) FROM named") == [(200,)]
    assert mysql_rows(mysql_db, "CALL answer()") == [(42,)]
    assert [r[1] for r in mysql_rows(mysql_db, "SHOW EVENTS")] == ["tidy"]
    db = mysql_db.rsplit("/", 1)[-1]
    assert mysql_rows(mysql_db, "SELECT constraint_schema, unique_constraint_schema, referenced_table_name "
                      "FROM information_schema.referential_constraints WHERE constraint_name = 'audit_item'"
                      ) == [(db, db, "items")]


@pytest.mark.postgres
def test_postgres_replace_killed_mid_restore_keeps_the_database_whole_and_reports_leftovers(
        pg_db: str, pg_plain_url: str, tmp_path: Path, postgres_admin_url: str) -> None:
    from test_backup_postgres import real_pg_tools

    real_dump, real_restore = real_pg_tools(postgres_admin_url)
    store = tmp_path / "b"
    backup = create(pg_db, store)
    bindir, marks = tmp_path / "bin", tmp_path / "marks"
    bindir.mkdir()
    marks.mkdir()
    (bindir / "pg_dump").symlink_to(real_dump)
    write_script(bindir / "pg_restore", f"""#!/bin/sh
case "$*" in *--dbname=*)
  touch "{marks}/start.$$"; sleep 0.5
  "{real_restore}" "$@"; rc=$?
  touch "{marks}/done.$$"; exit $rc;;
esac
exec "{real_restore}" "$@"
""")
    env = {k: v for k, v in no_url_env().items() if k != "SAFEMIGRATE_PG_BIN_DIR"}
    env["PATH"] = f"{bindir}:{os.environ['PATH']}"
    old, new = 100, 500
    for point in ("start", "done"):  # restoring into the incoming copy; just after (check, swap)
        admin_execute(pg_plain_url, "DELETE FROM billing.invoices WHERE user_id > 100",
                      "DELETE FROM users WHERE id > 100")
        for mark in marks.iterdir():
            mark.unlink()
        proc = subprocess.Popen([sys.executable, "-m", "safemigrate", "backup", "restore", backup["id"],
                                 "--replace", "--yes", "--database", pg_db, "--to", str(store)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                                start_new_session=True)
        with killed_group(proc):
            wait_for(lambda: bool(list(marks.glob(point + ".*"))), proc)  # noqa: B023
        users = admin_execute(pg_plain_url, "SELECT count(*) FROM users")[0][0]
        assert users in (old, new), f"killed at {point}: {users} users"
    again = run_cli("backup", "restore", backup["id"], "--replace", "--yes", "--database", pg_db, "--to",
                    str(store), "--json", env=no_url_env())
    assert again.exit_code == 0, again.output
    leftovers = again.json()["restore"]["leftovers"]
    assert [f["name"] for f in leftovers if "_safemigrate_incoming_" in f["name"]]
    assert 'DROP DATABASE IF EXISTS "' in again.stderr
    for item in leftovers:
        admin_execute(postgres_admin_url, item["command"].rstrip(";"))
    assert admin_execute(pg_plain_url, "SELECT count(*) FROM users") == [(new,)]


# -- smaller items ------------------------------------------------------------------------------------
def test_sqlite_replace_keeps_the_files_mode_and_owner(sqlite_db: str, tmp_path: Path) -> None:
    path = Path(sqlite_db.removeprefix("sqlite3://"))
    store = tmp_path / "b"
    backup = create(sqlite_db, store)
    path.chmod(0o644)
    owner = (os.getuid(), os.getgid())
    if os.getuid() == 0:
        os.chown(path, 4321, 4321)
        owner = (4321, 4321)
    result = run_cli("backup", "restore", backup["id"], "--replace", "--yes", "--database", sqlite_db,
                     "--to", str(store), env=no_url_env())
    assert result.exit_code == 0, result.output
    st = path.stat()
    assert st.st_mode & 0o777 == 0o644 and (st.st_uid, st.st_gid) == owner


@pytest.mark.postgres
def test_replace_onto_a_database_that_no_longer_exists_suggests_target(pg_db: str, tmp_path: Path,
                                                                      postgres_admin_url: str) -> None:
    from urllib.parse import urlsplit

    store = tmp_path / "b"
    backup = create(pg_db, store)
    name = urlsplit(pg_db).path.lstrip("/")
    admin_execute(postgres_admin_url, f'DROP DATABASE "{name}" WITH (FORCE)')
    result = run_cli("backup", "restore", backup["id"], "--replace", "--yes", "--database", pg_db,
                     "--to", str(store), env=no_url_env())
    assert result.exit_code == 2, result.output
    assert "does not exist" in result.stderr and f"--target {name}" in result.stderr
    assert "check the host" not in result.stderr


def test_storage_credentials_are_masked_in_output(monkeypatch: pytest.MonkeyPatch) -> None:
    from safemigrate.cli.backup_cmd import _register_storage_secrets
    from safemigrate.cli.settings import Settings

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-" + CANARY_PASSWORD)
    settings = Settings()
    _register_storage_secrets(settings, "s3://bucket/p", f"http://key:{CANARY_PASSWORD}x@127.0.0.1:9000")
    scrubbed = settings.output.scrub(f"signature for aws-{CANARY_PASSWORD} and {CANARY_PASSWORD}x failed")
    assert CANARY_PASSWORD not in scrubbed


@pytest.mark.postgres
def test_states_an_interrupted_postgres_swap_can_leave_are_named_with_the_fix(pg_db: str, tmp_path: Path,
                                                                              postgres_admin_url: str) -> None:
    from urllib.parse import urlsplit

    store = tmp_path / "b"
    backup = create(pg_db, store)
    name = urlsplit(pg_db).path.lstrip("/")
    # What a restore of an earlier release, killed mid-swap, could leave: the original closed...
    admin_execute(postgres_admin_url, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    closed = run_cli("backup", "restore", backup["id"], "--target", f"{name}_copy", "--database", pg_db,
                     "--to", str(store), env=no_url_env())
    assert f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true;' in closed.stderr, closed.output
    admin_execute(postgres_admin_url, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    # ...or, killed between its two separate renames, the original under its _old_ name only.
    old = f"{name}_safemigrate_old_abc123"
    admin_execute(postgres_admin_url, f'ALTER DATABASE "{name}" RENAME TO "{old}"')
    try:
        missing = run_cli("backup", "restore", backup["id"], "--replace", "--yes", "--database", pg_db,
                          "--to", str(store), env=no_url_env())
        assert missing.exit_code == 2
        assert f'ALTER DATABASE "{old}" RENAME TO "{name}";' in missing.stderr, missing.output
    finally:
        admin_execute(postgres_admin_url, f'ALTER DATABASE "{old}" RENAME TO "{name}"')


def ddl_racing_dump(real: str, marker: Path, connect: dict[str, object], name: str, every_time: bool) -> str:
    """A wrapper around the real dump: once the dump has begun (its snapshot exists), a "migration"
    rebuilds z_late before the dump reaches it, exactly what a concurrent `safemigrate up` does."""
    once = "" if every_time else f" or os.path.exists({str(marker)!r})"
    return f"""#!{sys.executable}
import os, subprocess, sys
REAL = {real!r}
if sys.argv[1:2] == ["--version"]{once}:
    os.execv(REAL, [REAL, *sys.argv[1:]])
open({str(marker)!r}, "a").write("x")
proc = subprocess.Popen([REAL, *sys.argv[1:]], stdout=subprocess.PIPE)
out, seen = sys.stdout.buffer, b""
while b"CREATE TABLE" not in seen:
    block = proc.stdout.read1(65536)
    if not block:
        break
    out.write(block)
    out.flush()
    seen += block
import pymysql
ddl = pymysql.connect(**{connect!r}, autocommit=True)
ddl.cursor().execute("ALTER TABLE `{name}`.z_late ENGINE=InnoDB")
ddl.close()
while block := proc.stdout.read1(65536):
    out.write(block)
out.flush()
sys.exit(proc.wait())
"""


@pytest.fixture
def ddl_database(mysql_admin_url: str) -> Iterator[tuple[str, dict[str, object], str]]:
    from urllib.parse import urlsplit

    import pymysql

    from support import unique_name, with_database

    parts = urlsplit(mysql_admin_url)
    connect: dict[str, object] = dict(host=parts.hostname or "127.0.0.1", port=parts.port or 3306,
                                      user=parts.username or "root", password=parts.password or "")
    name = unique_name("sm_ddl")
    conn = pymysql.connect(**connect, autocommit=True)  # type: ignore[arg-type]
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}`")
            cur.execute(f"CREATE TABLE `{name}`.a_big (id int PRIMARY KEY, pad varchar(2000))")
            cur.executemany(f"INSERT INTO `{name}`.a_big VALUES (%s, REPEAT('x', 2000))",
                            [(i,) for i in range(1500)])  # ~3 MB: the dump waits on a full pipe here
            cur.execute(f"CREATE TABLE `{name}`.z_late (id int PRIMARY KEY)")
        yield with_database(mysql_admin_url, name), connect, name
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


def ddl_env(tmp_path: Path, script: str) -> dict[str, str]:
    bindir = tmp_path / "bin"
    for tool in ("mariadb-dump", "mysqldump"):
        write_script(bindir / tool, script)
    return {**no_url_env(), "PATH": f"{bindir}:{os.environ['PATH']}"}


def real_mysql_dump() -> str:
    import shutil

    return next(p for p in (shutil.which("mariadb-dump"), shutil.which("mysqldump")) if p)


@pytest.mark.mysql
def test_mariadb_backup_during_a_schema_change_is_retried(ddl_database: tuple[str, dict[str, object], str],
                                                          tmp_path: Path) -> None:
    url, connect, name = ddl_database
    marker = tmp_path / "altered"
    env = ddl_env(tmp_path, ddl_racing_dump(real_mysql_dump(), marker, connect, name, every_time=False))
    result = run_cli("backup", "create", "--database", url, "--to", str(tmp_path / "b"), "--json", env=env)
    assert marker.exists()
    assert result.exit_code == 0, result.output
    warnings = result.json()["backup"]["extra"]["warnings"]
    assert any("1412" in w for w in warnings), warnings


@pytest.mark.mysql
def test_mariadb_backup_that_keeps_racing_a_schema_change_says_so(ddl_database: tuple[str, dict[str, object], str],
                                                                 tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from safemigrate.backup import mysql

    monkeypatch.setattr(mysql, "RETRY_DELAYS", (0.0, 0.0))  # the pauses themselves are not under test
    url, connect, name = ddl_database
    marker = tmp_path / "altered"
    env = ddl_env(tmp_path, ddl_racing_dump(real_mysql_dump(), marker, connect, name, every_time=True))
    store = tmp_path / "b"
    result = run_cli("backup", "create", "--database", url, "--to", str(store), env=env)
    assert result.exit_code == 1, result.output
    assert marker.read_text() == "xxx"  # three attempts
    assert "failed 3 times: a table was changed while it ran" in result.stderr
    assert "1412" in result.stderr and "once the migration has finished" in result.stderr
    assert "internal error" not in result.stderr
    assert listed(store) == []


@pytest.mark.mysql
def test_mariadb_replace_when_a_view_now_has_a_restored_tables_name(mysql_db: str, tmp_path: Path) -> None:
    store = tmp_path / "b"
    mysql_rows(mysql_db, "CREATE TABLE report (id int PRIMARY KEY)")
    mysql_rows(mysql_db, "INSERT INTO report VALUES (1), (2)")
    backup = create(mysql_db, store)
    mysql_rows(mysql_db, "DROP TABLE report")
    mysql_rows(mysql_db, "CREATE VIEW report AS SELECT id FROM items")  # a migration turned it into a view
    result = run_cli("backup", "restore", backup["id"], "--replace", "--yes", "--database", mysql_db,
                     "--to", str(store), env=no_url_env())
    assert result.exit_code == 0, result.output
    assert mysql_rows(mysql_db, "SELECT count(*) FROM report") == [(2,)]
    assert mysql_rows(mysql_db, "SHOW FULL TABLES WHERE Tables_in_" + mysql_db.rsplit("/", 1)[-1]
                      + " = 'report'")[0][1] == "BASE TABLE"


def test_sqlite_leftover_of_an_interrupted_replace_is_reported(sqlite_db: str, tmp_path: Path) -> None:
    path = Path(sqlite_db.removeprefix("sqlite3://"))
    store = tmp_path / "b"
    backup = create(sqlite_db, store)
    leftover = path.with_name(f".{path.name}.safemigrate-incoming-0a1b2c")  # what SIGKILL leaves
    leftover.write_bytes(b"partial")
    result = run_cli("backup", "restore", backup["id"], "--replace", "--yes", "--database", sqlite_db,
                     "--to", str(store), "--json", env=no_url_env())
    assert result.exit_code == 0, result.output
    assert result.json()["restore"]["leftovers"] == [{"name": str(leftover), "command": f"rm -- {leftover}"}]
    assert "interrupted restore left" in result.stderr and leftover.exists()  # reported, never deleted


def test_prune_takes_its_keep_counts_from_the_backup_section_and_flags_over_it(sqlite_db: str,
                                                                              tmp_path: Path) -> None:
    # A team that keeps 30 daily backups in safemigrate.toml must not have prune apply the
    # built-in 7 because no --keep-daily was typed.
    store = tmp_path / "b"
    create(sqlite_db, store, "--verify")
    (tmp_path / "safemigrate.toml").write_text("[backup]\nkeep_daily = 30\nkeep_weekly = 8\nkeep_monthly = 24\n")

    def policy(*flags: str) -> dict[str, object]:
        result = run_cli("backup", "prune", "--to", str(store), "--dry-run", "--json", *flags,
                         env=no_url_env(), cwd=tmp_path)
        assert result.exit_code == 0, result.output
        found: dict[str, object] = result.json()["policy"]
        return found

    assert policy() == {"keep_daily": 30, "keep_weekly": 8, "keep_monthly": 24, "keep_within": "1d",
                        "timezone": "UTC"}
    assert policy("--keep-daily", "3")["keep_daily"] == 3
    (tmp_path / "safemigrate.toml").unlink()
    assert policy()["keep_daily"] == 7  # the default without a configuration


# -- scratch databases left by interrupted verifications ----------------------------------------------
def test_a_scratch_database_counts_as_left_over_only_an_hour_after_its_name_says_it_was_made() -> None:
    from safemigrate.backup.dialect import scratch_name, stale_scratch

    now = time.time()
    hour_ago = time.strftime("%Y%m%d%H%M%S", time.gmtime(now - 3601))
    minutes_ago = time.strftime("%Y%m%d%H%M%S", time.gmtime(now - 600))
    names = [f"safemigrate_verify_{minutes_ago}_0a1b2c3d", f"safemigrate_verify_{hour_ago}_0a1b2c3d",
             scratch_name(), "safemigrate_verify_20001399000000_0a1b2c3d",  # no such date
             "safemigrate_verify_20000101000000_0a1b2c3d_mine", "app_safemigrate_verify_20000101000000_0a1b2c3d",
             "safemigrate_verify_20000101000000_0a1b2c3d"]
    assert stale_scratch(names, now) == ["safemigrate_verify_20000101000000_0a1b2c3d",
                                         f"safemigrate_verify_{hour_ago}_0a1b2c3d"]
    import calendar

    made = calendar.timegm(time.strptime(scratch_name().split("_")[2], "%Y%m%d%H%M%S"))
    assert abs(made - time.time()) < 120  # named in UTC, whatever the local zone


def _old_scratch_name() -> str:
    import secrets

    return f"safemigrate_verify_20000101000000_{secrets.token_hex(4)}"


@pytest.mark.postgres
def test_postgres_full_verify_reports_scratch_databases_an_interrupted_verify_left_and_keeps_them(
        pg_db: str, tmp_path: Path, postgres_admin_url: str) -> None:
    import psycopg
    from backup_support import pg_databases

    from safemigrate.backup.dialect import scratch_name
    from support import with_database

    store = tmp_path / "b"
    backup = create(pg_db, store)
    stale, in_use, fresh = _old_scratch_name(), _old_scratch_name(), scratch_name()
    admin_execute(postgres_admin_url, *(f'CREATE DATABASE "{n}"' for n in (stale, in_use, fresh)))
    try:
        with psycopg.connect(with_database(postgres_admin_url, in_use)):  # a verification still at work
            result = run_cli("backup", "verify", backup["id"], "--database", pg_db, "--to", str(store),
                             "--json", env=no_url_env())
        assert result.exit_code == 0, result.output
        reported = {item["name"]: item["command"] for item in result.json()["leftovers"]}
        assert reported[stale] == f'DROP DATABASE IF EXISTS "{stale}";'
        assert in_use not in reported and fresh not in reported  # in use, or maybe still being set up
        assert "interrupted verifications left the scratch database(s)" in result.stderr
        assert f'DROP DATABASE IF EXISTS "{stale}";' in result.stderr
        assert pg_databases(postgres_admin_url, stale) == [stale]  # reported, never dropped
    finally:
        admin_execute(postgres_admin_url, *(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)'
                                            for n in (stale, in_use, fresh)))


@pytest.mark.mysql
def test_mysql_full_verify_reports_scratch_databases_an_interrupted_verify_left_and_keeps_them(
        mysql_db: str, tmp_path: Path, mysql_admin_url: str) -> None:
    store = tmp_path / "b"
    backup = create(mysql_db, store)
    stale = _old_scratch_name()
    mysql_rows(mysql_admin_url, f"CREATE DATABASE `{stale}`")
    try:
        result = run_cli("backup", "verify", backup["id"], "--database", mysql_db, "--to", str(store),
                         "--json", env=no_url_env())
        assert result.exit_code == 0, result.output
        assert {"name": stale, "command": f"DROP DATABASE IF EXISTS `{stale}`;"} in result.json()["leftovers"]
        assert f"DROP DATABASE IF EXISTS `{stale}`;" in result.stderr
        assert mysql_rows(mysql_admin_url, "SELECT schema_name FROM information_schema.schemata "
                          f"WHERE schema_name = '{stale}'") == [(stale,)]
    finally:
        mysql_rows(mysql_admin_url, f"DROP DATABASE IF EXISTS `{stale}`")
