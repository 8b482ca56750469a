"""Carry out one repair of a diagnosis, under the migration lock, recorded in the history."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..engine.steps import _MAY_COMMIT_ITSELF
from ..errors import DatabaseError, UsageError
from .diagnose import Diagnosis, RepairOption, diagnose

if TYPE_CHECKING:
    from ..engine import Migrator

__all__ = ["RepairResult", "choose", "repair"]


@dataclass
class RepairResult:
    option: RepairOption
    diagnosis: Diagnosis
    ran: list[str]
    version_after: int | None
    chosen_because: str

    def to_dict(self) -> dict[str, Any]:
        return {**self.diagnosis.to_dict(), "applied": self.option.name, "chosen_because": self.chosen_because,
                "ran": self.ran, "version_after": self.version_after, "dirty_after": False}


def choose(diagnosis: Diagnosis, wanted: str | None) -> tuple[RepairOption, str]:
    """The option to apply: the one asked for, or the only safe one. Raises when neither is clear."""
    if wanted is not None:
        option = diagnosis.option(wanted)
        if wanted != "mark" and not option.safe:
            raise UsageError(f"`choice` {wanted} is not safe here: {option.reason}; nothing was changed",
                             hint=_other_hint(diagnosis, wanted), settings=("choice",))
        return option, "asked for with `choice`"
    safe = diagnosis.safe_options
    if len(safe) == 1:
        other = next(o for o in diagnosis.options if o.name not in (safe[0].name, "mark"))
        return safe[0], f"it is the only safe option ({other.name} is not: {other.reason})"
    if not safe:
        raise UsageError("neither finish nor undo is safe on this state; nothing was changed",
                         hint="repair by hand (see the statements above), then: safemigrate recover --apply "
                         "--choose mark")
    raise UsageError("both finish and undo are possible: say which; nothing was changed",
                     hint="safemigrate recover --apply --choose finish   (or --choose undo)")


def _other_hint(diagnosis: Diagnosis, wanted: str) -> str:
    others = [o.name for o in diagnosis.safe_options if o.name != wanted]
    if others:
        return f"safemigrate recover --apply --choose {others[0]}"
    return "repair by hand, then: safemigrate recover --apply --choose mark"


def _resolve(migrator: Migrator, sql: str) -> str:
    """``{regprocedure:name}`` placeholders: a function named by its argument types, read now."""
    def replace(match: re.Match[str]) -> str:
        name = match.group(1).split(".")[-1]
        rows = migrator.driver.query("SELECT oid::regprocedure::text FROM pg_proc WHERE proname = %s", [name])
        if len(rows) != 1:
            raise UsageError(f"cannot tell which function {name} to drop ({len(rows)} of that name)",
                             hint="drop it by hand, then: safemigrate recover --apply --choose mark")
        return str(rows[0][0])

    return re.sub(r"\{regprocedure:([^}]+)\}", replace, sql)


def repair(migrator: Migrator, wanted: str | None, *, mark_version: int | None = None) -> RepairResult:
    """Diagnose again under the lock, then run the chosen option and mark the version clean."""
    from ..planner import optional_version

    driver = migrator.driver
    with migrator.locked():
        history = migrator.read_history()
        diagnosis = diagnose(driver, migrator.source, history)
        if not diagnosis.dirty:
            raise UsageError(f"{diagnosis.conclusion}; nothing was changed",
                             hint="recover is for a dirty database (safemigrate status shows it)")
        option, because = choose(diagnosis, wanted)
        target = option.target
        if option.name == "mark" and mark_version is not None:
            target = optional_version(mark_version)
        ran: list[str] = []
        started = datetime.now(UTC)
        clock = time.monotonic()
        progress = _progress_recorder(migrator, diagnosis, option)
        for i, sql in enumerate(option.sql):
            statement = _resolve(migrator, sql) if driver.dialect == "postgres" else sql
            number = option.numbers[i] if i < len(option.numbers) else None
            try:
                if driver.in_transaction():
                    driver.execute("COMMIT")
                progress(statement, number)
            except Exception as exc:
                info = driver.describe_error(exc)
                if info is None:
                    raise
                if driver.in_transaction():
                    driver.execute("ROLLBACK")
                raise DatabaseError(
                    f"recover {option.name}: {info.message} while running: {' '.join(statement.split())[:200]}; "
                    f"{len(ran)} of {len(option.sql)} repair statement(s) ran; the database is still dirty",
                    hint="safemigrate recover shows the new state; run it again once the cause is fixed",
                    details={"ran": ran, "failed": statement}) from None
            ran.append(statement)
        _mark(migrator, diagnosis, option.name, target, started, time.monotonic() - clock, len(ran))
        return RepairResult(option, diagnosis, ran, target, because)


def _progress_recorder(migrator: Migrator, diagnosis: Diagnosis,
                       option: RepairOption) -> Callable[[str, int | None], None]:
    """How ``finish`` sends the migration's statement k: like the engine's statement mode, with the
    interrupted run's history row kept true, so a repair killed halfway is diagnosed right and
    never runs a statement twice. A statement that can run in a transaction commits together with
    ``statements_committed = k``; one that cannot is announced (``statement_started = k``) first."""
    driver = migrator.driver
    record = diagnosis.record
    if option.name != "finish" or record is None or not driver.table_exists(driver.history_table):
        return lambda statement, _number: driver.execute(statement)

    def send(statement: str, number: int | None) -> None:
        if number is None:
            driver.execute(statement)
            return
        parsed = driver.split(statement).statements
        in_transaction = bool(parsed) and all(st.transactional and st.kind not in _MAY_COMMIT_ITSELF
                                              for st in parsed)
        if in_transaction:
            driver.execute("BEGIN")
            try:
                driver.execute(statement)
                driver.execute(*migrator.history.update_sql(record.run_id, statements_committed=number))
                driver.execute("COMMIT")
            except BaseException:
                if driver.in_transaction():
                    driver.execute("ROLLBACK")
                raise
            return
        driver.execute(*migrator.history.update_sql(record.run_id, statement_started=number))
        driver.execute(statement)
        driver.execute(*migrator.history.update_sql(record.run_id, statements_committed=number,
                                                    statement_started=None))

    return send


def _mark(migrator: Migrator, diagnosis: Diagnosis, how: str, target: int | None, started: datetime,
          duration: float, statements: int) -> None:
    """The clean version and a history row, in one transaction."""
    from ..history import HistoryRecord, new_run_id

    driver = migrator.driver
    queries = list(driver.set_version_sql(target, False))
    if driver.table_exists(driver.history_table):
        identity = migrator._identity  # the engine's own record of who runs it
        version = diagnosis.version if diagnosis.version is not None else (target or 0)
        record = HistoryRecord(
            run_id=new_run_id(), version=version, name=migrator.source.name(version) if version else "",
            direction="recover", from_version=diagnosis.version, to_version=target,
            started_at=started, outcome="forced" if how == "mark" else "applied", mode=how,
            finished_at=datetime.now(UTC), duration_ms=duration * 1000, statements_total=statements,
            statements_committed=statements,
            error=f"was {diagnosis.version} (dirty): {diagnosis.conclusion}"[:2000],
            db_user=driver.current_user, os_user=identity.get("os_user"), host=identity.get("host"),
            tool_version=migrator.tool_version)
        queries.append(migrator.history.insert_sql(record))
    driver.execute("BEGIN")
    try:
        for sql, params in queries:
            driver.execute(sql, params)
        driver.execute("COMMIT")
    except BaseException:
        if driver.in_transaction():
            driver.execute("ROLLBACK")
        raise
