"""Diagnose a dirty database against its catalog, and the repairs it allows.

A dirty version means a migration did not finish. golang-migrate says only
"Dirty database version N. Fix and force version."; the people who then edit
``schema_migrations`` by hand guess what the failed file left. Here every
statement of the failed file is looked up twice:

* in **our history** (when we ran it): statements 1..k committed, statement k+1
  *started* (a statement that cannot run in a transaction: it may or may not have
  completed), the rest never sent;
* in **the catalog**: is the table, column, index (valid?), constraint, type, enum
  value, view, function, trigger… it creates there, or gone, as a DROP leaves it?

The catalog is the only witness on a database dirtied by golang-migrate, and the
report says so; for DML only the history can tell. From the verdicts come the
repairs: **finish** (drop what a statement left half-built, run what did not take
effect, mark the version clean), **undo** (take back what took effect with known
inverses, or with the down file when all of it is safe to run on the partial
state, then mark the previous version clean), **mark** (force the version only,
after a person repaired it by hand).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ..errors import SourceError
from .catalog import probe
from .effects import Effect, effects_of

if TYPE_CHECKING:
    from ..drivers.base import Driver
    from ..history import HistoryRecord
    from ..source import MigrationFile, MigrationSource

__all__ = ["Diagnosis", "RepairOption", "StatementVerdict", "diagnose"]

Recorded = Literal["committed", "started", "failed", "not run", "unknown"]
Verdict = Literal["took effect", "did not run", "half-built", "unknown"]


@dataclass
class StatementVerdict:
    number: int  # 1-based
    line: int
    text: str
    recorded: Recorded
    present: str  # what the catalog says, in words
    verdict: Verdict
    effects: list[Effect] | None
    notes: list[str] = field(default_factory=list)
    control: bool = False  # BEGIN / COMMIT of the file's own transaction block

    @property
    def summary(self) -> str:
        first = " ".join(self.text.split())
        return first if len(first) <= 70 else first[:67] + "..."

    def to_dict(self) -> dict[str, Any]:
        return {"statement": self.number, "line": self.line, "sql": self.summary, "recorded": self.recorded,
                "catalog": self.present, "verdict": self.verdict, "notes": self.notes}


@dataclass
class RepairOption:
    name: Literal["finish", "undo", "mark"]
    safe: bool
    reason: str
    sql: list[str]
    target: int | None  # the version marked clean afterwards (None: no version)
    # finish: the migration's statement number each of ``sql`` is (None: a drop of something half-built),
    # so the repair can record its progress in the interrupted run's history row as it goes
    numbers: list[int | None] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"option": self.name, "safe": self.safe, "reason": self.reason, "sql": self.sql,
                "marks_version": self.target}


@dataclass
class Diagnosis:
    dirty: bool
    version: int | None
    direction: Literal["up", "down"] | None = None
    file: str | None = None
    record: HistoryRecord | None = None
    history_used: bool = False
    statements: list[StatementVerdict] = field(default_factory=list)
    conclusion: str = ""
    options: list[RepairOption] = field(default_factory=list)
    previous: int | None = None

    def option(self, name: str) -> RepairOption:
        return next(option for option in self.options if option.name == name)

    @property
    def safe_options(self) -> list[RepairOption]:
        return [option for option in self.options if option.safe and option.name != "mark"]

    def to_dict(self) -> dict[str, Any]:
        record = self.record
        return {
            "ok": True, "command": "recover", "dirty": self.dirty, "version": self.version,
            "direction": self.direction, "file": self.file, "history_used": self.history_used,
            "failed_run": None if record is None else {
                "started_at": record.started_at.isoformat(), "outcome": record.outcome,
                "by": " ".join(x for x in (record.os_user, record.host and f"@{record.host}",
                                           record.db_user and f"(db user {record.db_user})") if x),
                "error": record.error, "statements_committed": record.statements_committed,
                "statement_started": getattr(record, "statement_started", None)},
            "statements": [s.to_dict() for s in self.statements],
            "conclusion": self.conclusion,
            "options": [o.to_dict() for o in self.options],
        }


# -- which migration, which direction ---------------------------------------------------------

def _failed_record(history: list[HistoryRecord], version: int | None) -> HistoryRecord | None:
    """Our record of the step that left the database dirty: the last unfinished one."""
    for record in reversed(history):
        if record.direction in ("up", "down") and record.outcome in ("running", "failed", "interrupted"):
            target = record.to_version
            if (record.direction == "up" and record.version == version) or \
                    (record.direction == "down" and target == version):
                return record
        if record.outcome in ("applied", "forced"):
            return None  # something finished after it: this dirty state is not ours to explain
    return None


def _recorded(record: HistoryRecord | None, number: int) -> Recorded:
    if record is None:
        return "unknown"
    committed = record.statements_committed or 0
    started = getattr(record, "statement_started", None)
    if number <= committed:
        return "committed"
    if record.outcome == "failed" and number == committed + 1:
        return "failed"  # sent, and the server answered with an error
    if started is not None and number == started:
        return "started"
    return "not run"


# -- one statement ----------------------------------------------------------------------------

_CONTROL = re.compile(r"^\s*(BEGIN|START\s+TRANSACTION|COMMIT|END|ROLLBACK)\b", re.IGNORECASE)


def _judge(driver: Driver, number: int, line: int, text: str, recorded: Recorded) -> StatementVerdict:
    if _CONTROL.match(text) and not re.match(r"^\s*BEGIN\s+ATOMIC", text, re.IGNORECASE):
        # Judged with the block it opens or closes (see _judge_blocks).
        return StatementVerdict(number, line, text, recorded, "n/a", "unknown", None,
                                ["the file's own transaction control: judged with its block"], control=True)
    effects = effects_of(text, driver.dialect)
    if effects is None:
        verdict: Verdict = {"committed": "took effect", "not run": "did not run",  # type: ignore[assignment]
                            "failed": "did not run"}.get(recorded, "unknown")
        why = "no catalog witness (DML, SET, …): the history's word only" if recorded != "unknown" \
            else "no catalog witness and no history of ours: unknown"
        return StatementVerdict(number, line, text, recorded, "n/a", verdict, None, [why])
    results = [(effect, *probe(driver, effect)) for effect in effects]
    notes = [note for _e, _p, note in results if note]
    if any(presence == "unknown" for _e, presence, _n in results):
        return StatementVerdict(number, line, text, recorded, "cannot tell", "unknown", effects, notes)
    done = [presence == effect.expect for effect, presence, _n in results]
    invalid = [effect for effect, presence, _n in results if presence == "invalid"]
    described = "; ".join(
        f"{effect.describe()} {'INVALID' if presence == 'invalid' else presence}" for effect, presence, _n in results)
    if invalid:
        return StatementVerdict(number, line, text, recorded, described, "half-built", effects, notes)
    if all(done) and recorded in ("not run", "failed") and all(effect.expect == "absent" for effect in effects):
        verdict = "did not run"
        notes.append("what it drops is not there, but the history says it " + (
            "failed" if recorded == "failed" else "was never sent") + ": it may never have existed")
    elif all(done):
        verdict = "took effect"
    elif not any(done):
        verdict = "did not run"
    else:
        verdict = "unknown"
        notes.append("some of its effects are there and some are not")
    if recorded == "not run" and verdict == "took effect":
        notes.append("the catalog shows it ran although the history says it was not sent")
    return StatementVerdict(number, line, text, recorded, described, verdict, effects, notes)


def _infer_from_order(statements: list[StatementVerdict]) -> None:
    """A file runs in order and stops at its first failure: a statement with no witness of its own
    took effect when a later one did, and did not run when an earlier one did not."""
    witnessed = [s for s in statements if s.effects is not None and s.verdict in ("took effect", "did not run")]
    statements = [s for s in statements if not s.control]
    last_done = max((s.number for s in witnessed if s.verdict == "took effect"), default=0)
    first_not = min((s.number for s in witnessed if s.verdict == "did not run"), default=len(statements) + 1)
    for s in statements:
        if s.verdict != "unknown" or s.effects is not None:
            continue
        if s.number < last_done:
            s.verdict = "took effect"
            s.notes = [f"inferred: statement {last_done} after it took effect"]
        elif s.number > first_not:
            s.verdict = "did not run"
            s.notes = [f"inferred: statement {first_not} before it did not run"]


def _judge_blocks(statements: list[StatementVerdict]) -> None:
    """BEGIN takes the verdict of the statement after it, COMMIT of the one before: a block commits whole."""
    for index, s in enumerate(statements):
        if not s.control:
            continue
        opening = s.text.strip().upper().startswith(("BEGIN", "START"))
        neighbours = statements[index + 1:] if opening else reversed(statements[:index])
        for other in neighbours:
            if not other.control:
                s.verdict = other.verdict
                break
        else:
            s.verdict = "did not run" if s.recorded == "not run" else "took effect"


def _conclusion(statements: list[StatementVerdict], history_used: bool) -> str:
    if not statements:
        return "the file has no statements"
    groups: list[tuple[str, list[int]]] = []
    for s in statements:
        label: str = s.verdict
        if groups and groups[-1][0] == label:
            groups[-1][1].append(s.number)
        else:
            groups.append((label, [s.number]))
    parts = []
    total = len(statements)
    for label, numbers in groups:
        span = f"{numbers[0]}" if len(numbers) == 1 else f"{numbers[0]}-{numbers[-1]}"
        noun = "statement" if len(numbers) == 1 else "statements"
        if label == "half-built":
            parts.append("; ".join(n for s in statements if s.number in numbers for n in s.notes)
                         or f"{noun} {span} left something half-built")
        else:
            parts.append(f"{noun} {span} of {total} {label if label != 'unknown' else 'cannot be judged'}")
    text = "; ".join(parts)
    if not history_used:
        text += " (no history of ours for this run: the catalog is the only witness)"
    return text


# -- repairs ----------------------------------------------------------------------------------

def _finish(diagnosis: Diagnosis, target: int | None) -> RepairOption:
    unknown = [s for s in diagnosis.statements if s.verdict == "unknown"]
    if unknown:
        listed = ", ".join(str(s.number) for s in unknown)
        return RepairOption("finish", False, f"statement(s) {listed} cannot be judged: running them again could "
                            "apply them twice", [], target)
    sql: list[str] = []
    numbers: list[int | None] = []
    for s in diagnosis.statements:
        if s.verdict == "half-built":
            for effect in s.effects or []:
                if effect.inverse:
                    sql.append(effect.inverse)
                    numbers.append(None)
            sql.append(s.text)
            numbers.append(s.number)
        elif s.verdict == "did not run":
            sql.append(s.text)
            numbers.append(s.number)
    return RepairOption("finish", True, "every statement is judged: run the ones that did not take effect"
                        + (" (dropping what was half-built first)" if any(
                            s.verdict == "half-built" for s in diagnosis.statements) else ""), sql, target,
                        numbers)


def _undo(diagnosis: Diagnosis, down: MigrationFile | None, driver: Driver, target: int | None) -> RepairOption:
    sql: list[str] = []
    problems: list[str] = []
    for s in reversed(diagnosis.statements):
        if s.verdict == "did not run":
            continue
        if s.verdict == "unknown":
            problems.append(f"statement {s.number} cannot be judged")
            continue
        if s.effects is None:
            problems.append(f"statement {s.number} ({s.summary}) took effect and has no known inverse")
            continue
        for effect in reversed(s.effects):
            if effect.witness_only:
                continue  # the old name of a rename: its inverse is on the new one
            if effect.inverse is None:
                problems.append(f"statement {s.number}: {effect.inverse_note or 'no known inverse'}")
            else:
                sql.append(effect.inverse)
    if not problems:
        return RepairOption("undo", True, "every statement that took effect has a known inverse", sql, target)
    if down is not None:
        statements = [st.text for st in driver.split(down.text).statements]
        if statements and all(" if exists" in " ".join(st.lower().split()) for st in statements):
            return RepairOption("undo", True, f"the down file {down.path.name} uses IF EXISTS throughout, so it "
                                "is safe on the partial state", statements, target)
    return RepairOption("undo", False, "; ".join(problems), [], target)


def diagnose(driver: Driver, source: MigrationSource, history: list[HistoryRecord]) -> Diagnosis:
    """Read-only: what the failed migration left, and the repairs that are possible."""
    state = driver.read_version()
    if not state.dirty:
        conclusion = ("the database has no version yet: nothing to recover" if state.version is None
                      else f"the database is clean at version {state.version}: nothing to recover")
        return Diagnosis(dirty=False, version=state.version, conclusion=conclusion)
    version = state.version
    record = _failed_record(history, version)
    direction: Literal["up", "down"] = "down" if record is not None and record.direction == "down" else "up"
    if direction == "up":
        if version is None or source.up_file(version) is None:
            raise SourceError(f"the database is dirty at version {state.describe()}, but {source.directory} has no "
                              "up file for it", hint="point `path` at the folder the database was migrated from",
                              settings=("path",))
        failed = source.up_file(version)
        previous = source.prev(version)
        finish_target: int | None = version
        undo_target: int | None = previous
    else:
        assert record is not None
        failed = source.down_file(record.version)
        if failed is None:
            raise SourceError(f"the failed down step of version {record.version} has no file in {source.directory}")
        finish_target, undo_target, previous = version, record.version, version
    assert failed is not None
    diagnosis = Diagnosis(dirty=True, version=version, direction=direction, file=str(failed.path), record=record,
                          history_used=record is not None, previous=previous)
    script = driver.split(failed.text)
    for number, statement in enumerate(script.statements, start=1):
        diagnosis.statements.append(_judge(driver, number, statement.line, statement.text,
                                           _recorded(record, number)))
    _infer_from_order(diagnosis.statements)
    _judge_blocks(diagnosis.statements)
    diagnosis.conclusion = _conclusion(diagnosis.statements, diagnosis.history_used)
    down = source.down_file(version) if direction == "up" and version is not None else None
    diagnosis.options = [
        _finish(diagnosis, finish_target),
        _undo(diagnosis, down if direction == "up" else None, driver, undo_target),
        RepairOption("mark", False, "forces the version only: for a database a person repaired by hand",
                     [], finish_target),
    ]
    return diagnosis
