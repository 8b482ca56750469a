"""The engine's step modes, one class each (engine/steps.py), and the failure report as data
(engine/failure.py), driven directly on real databases."""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from safemigrate import (
    MigrationFailedError,
    Migrator,
    RunInterruptedError,
    VersionState,
    load_source,
    open_driver,
)
from safemigrate.drivers.base import DbErrorInfo, TableName
from safemigrate.engine import SqlRunner
from safemigrate.engine.failure import FailureReport, Location, render
from safemigrate.engine.steps import Atomic, InTransaction, StatementByStatement, StepContext
from safemigrate.planner import Plan, plan_up
from safemigrate.sql.script import Script
from support import TestDatabase, write_migrations


@contextmanager
def steps_of(url: str, folder: Path, files: dict[str, str]) -> Iterator[tuple[Migrator, StepContext, Plan,
                                                                             list[Script | None]]]:
    """A connected Migrator holding the lock, the run's step context, the plan of ``up`` and its scripts."""
    m = Migrator(load_source(write_migrations(folder, files)), open_driver(url), lock_timeout=5)
    with m, m.locked():
        plan = plan_up(m.source, None)
        yield m, m._step_context(SqlRunner(m.driver)), plan, [m._script(step) for step in plan.steps]


TWO_TABLES = {"1_a.up.sql": "CREATE TABLE a (id INTEGER);\n", "2_b.up.sql": "CREATE TABLE b (id INTEGER);\n"}


def test_in_transaction_says_it_opened_the_next_steps_transaction(pg_url: str, tmp_path: Path) -> None:
    with steps_of(pg_url, tmp_path / "m", TWO_TABLES) as (m, context, plan, scripts):
        first, second = plan.steps
        mode = InTransaction(context)
        chained = mode.run(first, scripts[0], None, chain=second)
        assert chained.next_opened  # step 1 committed and step 2's transaction began in one round trip
        assert m.driver.in_transaction()
        assert (chained.result.from_version, chained.result.to_version) == (None, 1)
        last = mode.run(second, scripts[1], 1, opened=chained.next_opened)
        assert not last.next_opened and not m.driver.in_transaction()
        assert (last.result.from_version, last.result.to_version) == (1, 2)
        assert m.version() == VersionState(2, False)
        assert [(r.version, r.outcome, r.mode) for r in m.read_history()] == [
            (1, "applied", "transaction"), (2, "applied", "transaction")]


def test_statement_by_statement_reports_what_committed(db: TestDatabase, tmp_path: Path) -> None:
    files = {"1_a.up.sql": "CREATE TABLE a (id INTEGER);\nCREATE TABLE b (id INTEGER);\n"
             "INSERT INTO missing_table VALUES (1);\nCREATE TABLE c (id INTEGER);\n"}
    with steps_of(db.url, tmp_path / "m", files) as (m, context, plan, scripts):
        with pytest.raises(MigrationFailedError) as caught:
            StatementByStatement(context).run(plan.steps[0], scripts[0], None)
        report = caught.value.report
        assert isinstance(report, FailureReport)
        assert (report.mode, report.statement_number, report.statements_total) == ("statements", 3, 4)
        assert (report.statements_committed, report.committed_lines, report.statements_not_run) == (2, (1, 2), 1)
        assert report.version_after == VersionState(1, True) and report.hint_kind == "force_by_hand"
        assert report.location is not None and report.location.line == 3
        assert db.version_row() == [(1, True)]
        assert {"a", "b"} <= set(db.tables()) and "c" not in db.tables()
        record = m.read_history()[-1]
        assert (record.outcome, record.statements_committed) == ("failed", 2)


def test_atomic_rolls_back_every_step_of_the_plan(pg_url: str, tmp_path: Path) -> None:
    files = {**TWO_TABLES, "3_c.up.sql": "CREATE TABLE c (id INTEGER);\nINSERT INTO missing_table VALUES (1);\n"}
    with steps_of(pg_url, tmp_path / "m", files) as (m, context, plan, scripts):
        with pytest.raises(MigrationFailedError) as caught:
            Atomic(context).run(plan, scripts)
        report = caught.value.report
        assert isinstance(report, FailureReport)
        assert (report.mode, report.version, report.atomic_steps, report.statement_number) == ("atomic", 3, 3, 2)
        assert report.version_after == VersionState(None, False) and report.hint_kind == "fix_then_up_atomic"
        assert m.version() == VersionState(None, False)
        assert not m.driver.table_exists(TableName("a"))
        assert [(r.version, r.outcome, r.mode) for r in m.read_history()] == [(3, "failed", "atomic")]


@pytest.mark.parametrize("mode", [InTransaction, StatementByStatement, Atomic])
def test_every_mode_stops_at_a_signal_before_its_next_statement(
        mode: type[InTransaction | StatementByStatement | Atomic], pg_url: str, tmp_path: Path) -> None:
    """The body loop they share checks for a signal before sending each statement."""
    with steps_of(pg_url, tmp_path / "m", TWO_TABLES) as (m, context, plan, scripts):
        m._interrupted = 15  # as Migrator.interrupt leaves it, without cancelling the connection
        with pytest.raises(RunInterruptedError) as caught:
            if isinstance(runner := mode(context), Atomic):
                runner.run(plan, scripts)
            else:
                runner.run(plan.steps[0], scripts[0], None)
        report = caught.value.report
        assert isinstance(report, FailureReport)
        assert report.stopped and report.signal == 15 and report.statement_number is None
        assert caught.value.exit_code == 128 + 15
        assert m.version() == VersionState(None, False) and not m.driver.table_exists(TableName("a"))


def test_the_failure_text_comes_from_the_report_alone() -> None:
    report = FailureReport(
        version=7, name="add_index", direction="up", file="/m/7_add_index.up.sql", mode="statements",
        location=Location(line=2, column=8, source="CREATE\tINDEX CONCURRENTLY i ON t (x);"),
        statement_number=2, statements_total=3,
        database_error=DbErrorInfo("could not create unique index", code="23505", detail="Key (x)=(1) is duplicated."),
        stopped=False, signal=None, statements_committed=1, committed_lines=(1, 1), own_transaction_line=None,
        statements_not_run=1, leftover=None, atomic_steps=0, version_before=6,
        version_after=VersionState(7, True), hint_kind="force_by_hand", migrations_reached=0)
    text = render(report)
    assert text.message == ("migration 7/u add_index failed at /m/7_add_index.up.sql:2:8: "
                            "could not create unique index")
    assert text.lines == [
        "  file:      /m/7_add_index.up.sql, line 2, column 8 (statement 2 of 3)",
        "      2 | CREATE  INDEX CONCURRENTLY i ON t (x);",
        "        |        ^",
        "  database:  ERROR 23505: could not create unique index",
        "  detail:    Key (x)=(1) is duplicated.",
        "  committed: statements 1-1 of 3 (lines 1-1) were committed before the failure; "
        "1 statement(s) after the failing one did not run",
        "  version:   7 (dirty)",
    ]
    assert "safemigrate force 6, or finish the migration by hand and run: safemigrate force 7" in text.hint
    # Nothing but the data decides the words: the same report, restored, gives the other hint.
    restored = dataclasses.replace(report, version_after=VersionState(6, False), hint_kind="fix_then_same_command")
    assert render(restored).hint == "fix 7_add_index.up.sql, then run the same command again"
    assert render(restored).lines[-1] == "  version:   6"


def test_the_error_carries_the_report_not_its_text(sqlite_url: str, tmp_path: Path) -> None:
    m = Migrator(load_source(write_migrations(tmp_path / "m", {
        "1_a.up.sql": "CREATE TABLE a (id INTEGER);\nINSERT INTO missing_table VALUES (1);\n"})),
        open_driver(sqlite_url), lock_timeout=5)
    with m, pytest.raises(MigrationFailedError) as caught:
        m.up()
    error = caught.value
    assert isinstance(error.report, FailureReport)
    assert all(isinstance(v, (str, int, bool, type(None), dict)) for v in error.details.values())
    assert "report_lines" not in error.details
    text = render(error.report)
    assert (error.message, error.hint, error.report_lines) == (text.message, text.hint, text.lines)
    document = error.to_dict()
    assert document["report"]["statement_number"] == 2 and document["report"]["location"]["line"] == 2
    assert document["version_after"] == {"version": None, "dirty": False}  # one transaction, rolled back


def test_engine_modules_import_one_way() -> None:
    """docs/architecture.md: runner, results and failure import no other engine module; steps
    imports only those; the migrator may import them all."""
    package = Path(__file__).resolve().parent.parent / "src" / "safemigrate" / "engine"
    allowed = {"runner": set(), "results": set(), "failure": set(),
               "steps": {"runner", "results", "failure"},
               "migrator": {"runner", "results", "failure", "steps"}}
    for name, may in allowed.items():
        tree = ast.parse((package / f"{name}.py").read_text())
        imported = {node.module for node in ast.walk(tree)
                    if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module}
        assert imported <= may, f"engine/{name}.py imports {sorted(imported - may)}"


def test_a_plan_stopped_by_a_signal_writes_nothing(pg_url: str, tmp_path: Path) -> None:
    """Even after a real step made the history writable, a dry run's failure bookkeeping goes to
    its recording runner, never to the database."""
    m = Migrator(load_source(write_migrations(tmp_path / "m", TWO_TABLES)), open_driver(pg_url), lock_timeout=5)
    with m:
        m.up(1)
        m._interrupted = 2
        with pytest.raises(RunInterruptedError):
            m.plan("up")
        assert [(r.version, r.outcome) for r in m.read_history()] == [(1, "applied")]
        assert m.version() == VersionState(1, False)
