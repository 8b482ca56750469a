"""The demo folder the README's first command runs applies and rolls back cleanly."""

from __future__ import annotations

from support import REPO, run_cli


def test_demo_migrations_apply_roll_back_and_reapply(sqlite_url: str) -> None:
    args = ("-path", str(REPO / "demo" / "migrations"), "-database", sqlite_url)
    up = run_cli(*args, "up")
    assert up.exit_code == 0, up.output
    assert [line.split(" (")[0] for line in up.stdout.splitlines()] == [
        "1/u create_users", "2/u create_rooms", "3/u create_messages", "4/u add_last_seen"]
    assert run_cli(*args, "down", "-all").exit_code == 0
    assert run_cli(*args, "up").exit_code == 0
    assert run_cli(*args, "status", "--exit-code").exit_code == 0


def test_the_run_demo_script_is_what_the_readme_names() -> None:
    readme = (REPO / "README.md").read_text().splitlines()
    commands = [line.split("#")[0].strip() for line in readme[:6] if line.startswith("./")]
    assert commands == ["./run-demo", "./run-tests"]
    ci = (REPO / ".ci" / "run").read_text()
    assert ci.strip().splitlines()[-1] == "./run-tests"
