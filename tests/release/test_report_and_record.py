"""The release report (JSON and Markdown, mode 0600, no password) and the releases table."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path

from safemigrate.drivers import open_driver
from safemigrate.release.record import ReleaseFile, ReleasesTable
from safemigrate.release.report import Outcome, ReleaseReport, StepRecord, StepStatus, secrets_of
from support import CANARY_PASSWORD, TestDatabase


def report() -> ReleaseReport:
    url = f"postgres://app:{CANARY_PASSWORD}@db/app"
    seen: list[str] = []
    made = ReleaseReport(id="20261201-0200-ab12", env="production", database="postgres://app:xxxxx@db/app",
                         from_version=3, to_version=5, secrets=secrets_of([url]),
                         on_step=lambda step: seen.append(step.line()))
    made.add(StepRecord("preflight", "version is clean", StepStatus.PASSED, duration=0.01))
    made.add(StepRecord("hook", "before: kubectl scale", StepStatus.PASSED, duration=1.2,
                        details={"output": f"connected to {url}\nscaled"}))
    made.add(StepRecord("gate", "health", StepStatus.FAILED, f"HTTP 500 from {url}", 9.5))
    made.finish(Outcome.ROLLED_BACK, "the health gate failed; rolled back to 3, healthy",
                next_command="safemigrate history --release 20261201-0200-ab12")
    assert seen[0] == "✔ preflight: version is clean"
    assert seen[2] == "✘ gate: health: HTTP 500 from postgres://app:xxxxx@db/app (9.5s)"
    return made


def test_report_json_and_markdown_carry_every_step_and_no_password(tmp_path: Path) -> None:
    made = report()
    paths = made.write(tmp_path / "releases")
    assert [p.name for p in paths] == ["20261201-0200-ab12.json", "20261201-0200-ab12.md"]
    for path in paths:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert CANARY_PASSWORD not in path.read_text()
    data = json.loads(paths[0].read_text())
    assert (data["outcome"], data["exit_code"], data["from_version"]) == ("rolled_back", 1, 3)
    assert [s["status"] for s in data["steps"]] == ["passed", "passed", "failed"]
    assert "connected to postgres://app:xxxxx@db/app" in data["steps"][1]["details"]["output"]
    markdown = paths[1].read_text()
    assert markdown.startswith("# Release 20261201-0200-ab12: rolled_back")
    assert "| gate | health | failed | HTTP 500 from postgres://app:xxxxx@db/app | 9.5 |" in markdown
    assert "### Output of before: kubectl scale" in markdown
    assert "Next: `safemigrate history --release 20261201-0200-ab12`" in markdown


def test_exit_codes_follow_the_outcome() -> None:
    codes = {}
    for outcome in Outcome:
        made = ReleaseReport(id="x", env=None, database="d")
        made.finish(outcome, "")
        codes[outcome.value] = made.exit_code
    assert codes == {"released": 0, "nothing_to_do": 0, "refused": 1, "rolled_back": 1, "held": 3,
                     "rollback_failed": 4, "interrupted": 130}


def test_the_releases_table_stores_and_finds_releases_by_environment(db: TestDatabase) -> None:
    driver = open_driver(db.url)
    driver.connect()
    try:
        table = ReleasesTable(driver)
        assert not table.exists() and table.read() == []
        driver.execute(*table.create_sql())
        files = [ReleaseFile(4, "add_last_seen", "ab" * 32), ReleaseFile(5, "rooms", "cd" * 32)]
        for release_id, env, outcome in (("r1", "staging", "released"), ("r2", "production", "rolled_back")):
            for sql, params in table.upsert_sql({
                    "id": release_id, "env": env, "outcome": outcome, "started_at": datetime.now(UTC),
                    "to_version": 5, "files": json.dumps([f.to_dict() for f in files]),
                    "report": json.dumps({"id": release_id})}):
                driver.execute(sql, params)
        # Written again: one row per id.
        for sql, params in table.upsert_sql({"id": "r1", "env": "staging", "outcome": "released",
                                             "started_at": datetime.now(UTC),
                                             "files": json.dumps([f.to_dict() for f in files])}):
            driver.execute(sql, params)
        staging = table.read(env="staging")
        assert [(r.id, r.outcome, r.files) for r in staging] == [("r1", "released", tuple(files))]
        assert table.read(release_id="r2")[0].report == {"id": "r2"}
        assert len(table.read()) == 2
    finally:
        driver.close()


def test_a_release_is_read_back_in_utc_whatever_the_sessions_time_zone(pg_url: str) -> None:
    from datetime import timedelta

    driver = open_driver(pg_url)
    driver.connect()
    try:
        table = ReleasesTable(driver)
        driver.execute(*table.create_sql())
        started = datetime(2026, 12, 1, 18, 37, 40, tzinfo=UTC)
        for sql, params in table.upsert_sql({"id": "r1", "env": None, "outcome": "released", "started_at": started,
                                             "files": "[]"}):
            driver.execute(sql, params)
        driver.execute("SET TimeZone = 'America/St_Johns'")  # psycopg then gives timestamptz in that zone
        [row] = table.read()
    finally:
        driver.close()
    assert row.started_at == started and row.started_at.utcoffset() == timedelta(0)
