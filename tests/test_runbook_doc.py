"""docs/runbook.md is the runbook as safemigrate commands: every command in it is run here.

Each `## section` gets the database state the runbook describes for it (a fresh staging and
production database on the real PostgreSQL, the chat app's migrations, the doc's own
safemigrate.toml, a real health endpoint), then its ```sh lines run in order. A line ending in
`# exit N` must exit N; every other line must exit 0.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support import REPO, run_cli, unique_name, with_database, with_password, write_migrations

pytestmark = pytest.mark.postgres

DOC = REPO / "docs" / "runbook.md"

MIGRATIONS = {
    "000001_users.up.sql": "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);\n",
    "000001_users.down.sql": "DROP TABLE users;\n",
    "000002_rooms.up.sql": "CREATE TABLE rooms (id bigint PRIMARY KEY, name text NOT NULL);\n",
    "000002_rooms.down.sql": "DROP TABLE rooms;\n",
    "000003_memberships.up.sql": "CREATE TABLE memberships (user_id bigint NOT NULL, room_id bigint NOT NULL);\n",
    "000003_memberships.down.sql": "DROP TABLE memberships;\n",
    # The runbook's own "Example Safe Migration", as written there.
    "000004_add_last_seen.up.sql": (
        "BEGIN;\n\n-- Add column with default (safe)\nALTER TABLE users\nADD COLUMN last_seen TIMESTAMP DEFAULT NOW();\n\n"
        "-- Create index concurrently (no table lock)\nCOMMIT;\n"
        "CREATE INDEX CONCURRENTLY idx_users_last_seen ON users(last_seen);\n"),
    "000004_add_last_seen.down.sql": ("DROP INDEX IF EXISTS idx_users_last_seen;\n"
                                      "ALTER TABLE users DROP COLUMN IF EXISTS last_seen;\n"),
}


def doc_sections() -> dict[str, list[tuple[str, int]]]:
    """Each section's commands with the exit status the doc expects."""
    sections: dict[str, list[tuple[str, int]]] = {}
    current, in_sh = "", False
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            sections[current] = []
        elif line.strip() == "```sh":
            in_sh = True
        elif line.strip() == "```":
            in_sh = False
        elif in_sh and line.strip():
            expected = re.search(r"#\s*exit (\d+)", line)
            sections[current].append((line, int(expected.group(1)) if expected else 0))
    return {name: commands for name, commands in sections.items() if commands}


def doc_toml() -> str:
    text = DOC.read_text(encoding="utf-8")
    return text.split("```toml\n", 1)[1].split("```", 1)[0]


SECTIONS = doc_sections()


def test_the_runbook_covers_every_scenario_of_the_teams_runbook() -> None:
    assert list(SECTIONS) == ["Pre-migration checklist", "Staging", "Production",
                              "Scenario 1: the migration failed, partially applied",
                              "Scenario 2: the migration succeeded, the application is broken",
                              "Scenario 3: roll back the application and the database", "Common issues",
                              "Complete database recovery", "Backup strategy"]


class Project:
    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder = folder
        self.env = env

    def run(self, line: str) -> Any:
        words = shlex.split(line, comments=True)
        assert words[0] == "safemigrate", line
        args = [self.env.get(w[1:], w) if re.fullmatch(r"\$[A-Z_]+", w) else w for w in words[1:]]
        return run_cli(*args, env=self.env, cwd=self.folder)

    def must(self, line: str, code: int = 0) -> None:
        result = self.run(line)
        assert result.exit_code == code, f"{line}\n{result.output}"


@pytest.fixture
def project(tmp_path: Path, postgres_admin_url: str) -> Iterator[Project]:
    import os

    import psycopg

    from schema_app import serve_app

    names = [unique_name("sm_prod"), unique_name("sm_staging")]
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        for name in names:
            conn.execute(f'CREATE DATABASE "{name}"')
    production, staging = (with_password(with_database(postgres_admin_url, n)) for n in names)
    write_migrations(tmp_path / "migrations", MIGRATIONS)
    (tmp_path / "safemigrate.toml").write_text(doc_toml(), encoding="utf-8")
    try:
        with serve_app(with_database(postgres_admin_url, names[0]), {None, 1, 2, 3, 4}) as app:
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PRODUCTION_DATABASE_URL": production,
                   "STAGING_DATABASE_URL": staging, "HEALTH_URL": app.url}
            yield Project(tmp_path, env)
    finally:
        with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
            rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'sm\\_prod\\_%' "
                                "OR datname LIKE 'sm\\_staging\\_%'").fetchall()
            for (db,) in rows:
                if any(db.startswith(n) for n in names):
                    conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


FAST_GATE = ("--health-interval", "0.02")


def prepare(project: Project, section: str) -> None:
    """Bring the databases to the state the section starts from."""
    def at(env: str, version: int) -> None:
        project.must(f"safemigrate --env {env} goto {version}")

    if section in ("Pre-migration checklist", "Staging", "Complete database recovery", "Backup strategy"):
        at("production", 3)
        at("staging", 3)
    if section == "Complete database recovery":
        project.must("safemigrate --env production backup create")
    if section in ("Production", "Scenario 2: the migration succeeded, the application is broken",
                   "Scenario 3: roll back the application and the database", "Common issues"):
        at("production", 3)
        at("staging", 3)
        project.must("safemigrate --env staging release --health-url $HEALTH_URL " + " ".join(FAST_GATE))
    if section in ("Scenario 2: the migration succeeded, the application is broken",
                   "Scenario 3: roll back the application and the database", "Common issues"):
        project.must("safemigrate --env production release --health-url $HEALTH_URL " + " ".join(FAST_GATE))
    if section == "Scenario 1: the migration failed, partially applied":
        import psycopg

        at("production", 3)
        # What a run killed after the file's own transaction committed leaves: the column, no index.
        with psycopg.connect(project.env["PRODUCTION_DATABASE_URL"], autocommit=True) as conn:
            conn.execute("ALTER TABLE users ADD COLUMN last_seen TIMESTAMP DEFAULT NOW()")
            conn.execute("UPDATE schema_migrations SET version = 4, dirty = true")


@pytest.mark.parametrize("section", list(SECTIONS))
def test_every_command_of_the_runbook_section_runs(project: Project, section: str) -> None:
    prepare(project, section)
    for line, code in SECTIONS[section]:
        if " release " in f" {line} " or " preflight " in f" {line} ":
            line = line.split("#")[0].rstrip() + " " + " ".join(FAST_GATE) + (f"  # exit {code}" if code else "")
        project.must(line, code)
