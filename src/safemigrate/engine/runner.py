"""SqlRunner: the one place the engine sends SQL, so a dry run records exactly what would run."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Sequence
from typing import Any

from ..drivers.base import Driver, Query
from ..sql.script import Statement

__all__ = ["SqlRunner"]

_BEGIN_KINDS = {"BEGIN", "START"}
_END_KINDS = {"COMMIT", "ROLLBACK", "END", "COMMIT_PREPARED", "PREPARE"}


@functools.lru_cache(maxsize=64)
def _render_template(sql: str, placeholder: str) -> str:
    """Our bookkeeping SQL as a ``str.format`` template, its placeholders as ``{}``: the same few
    statements come back every step, so each is split once and then filled in one call."""
    return "{}".join(piece.replace("{", "{{").replace("}", "}}") for piece in sql.split(placeholder))


# Rendered literals of text values kept by a runner: the history row's constant values (user,
# host, tool version, mode, outcome) and the lock-timeout settings come back every step.
_LITERAL_MEMO_SIZE = 256


def _own(runner: SqlRunner, start: int, end: int) -> frozenset[int]:
    """The migration statements among ``runner.recorded[start:end]``, relative to ``start``."""
    return frozenset(i - start for i in runner.own if start <= i < end)


class SqlRunner:
    """Executes SQL on the driver, or (dry run) records exactly what would be executed."""

    def __init__(self, driver: Driver, *, dry_run: bool = False) -> None:
        self.driver = driver
        self.dry_run = dry_run
        self.recorded: list[str] = []
        self.own: set[int] = set()  # dry run: indices of ``recorded`` that are migration statements
        self._simulated_transaction = False
        self._literals: dict[str, str] = {}

    def run(self, sql: str, params: Sequence[Any] | None = None) -> None:
        if self.dry_run:
            self.recorded.append(self.render(sql, params))
            return
        self.driver.execute(sql, params)

    def run_all(self, queries: Sequence[Query]) -> None:
        for sql, params in queries:
            self.run(sql, params)

    def run_batch(self, queries: Sequence[Query], *, begin: bool = False, commit: bool = False,
                  then_begin: Sequence[Query] | None = None) -> None:
        """Bookkeeping in one round trip where the driver takes several statements per call.

        Only our own SQL is batched (values rendered by the driver's ``literal``);
        migration statements always go one by one so a failure points at one of them.
        ``then_begin``: after the COMMIT, open the next transaction with these queries.
        """
        if self.dry_run or not self.driver.multi_statement:
            if begin:
                self.begin()
            self.run_all(queries)
            if commit:
                self.commit()
            if then_begin is not None:
                self.begin()
                self.run_all(then_begin)
            return
        parts = ["BEGIN"] if begin else []
        parts.extend(self.render(sql, params).rstrip(";") for sql, params in queries)
        if commit:
            parts.append("COMMIT")
        if then_begin is not None:
            parts.append("BEGIN")
            parts.extend(self.render(sql, params).rstrip(";") for sql, params in then_begin)
        self.driver.execute(";\n".join(parts), None)

    def run_statements(self, texts: Sequence[str]) -> None:
        """Several migration statements in one go (StatementFailed names the one that failed)."""
        if self.dry_run:
            self.own.update(range(len(self.recorded), len(self.recorded) + len(texts)))
            self.recorded.extend(text.rstrip().rstrip(";") + ";" for text in texts)
            return
        self.driver.execute_statements(texts)

    def run_statement(self, statement: Statement) -> None:
        if self.dry_run:
            if statement.transaction_control:
                kind = statement.kind.upper().replace("_", " ")
                word = kind.split()[0] if kind else ""
                if word in _BEGIN_KINDS:
                    self._simulated_transaction = True
                elif word in _END_KINDS and not kind.startswith("ROLLBACK TO"):
                    self._simulated_transaction = False
            self.own.add(len(self.recorded))
            self.recorded.append(statement.text.rstrip().rstrip(";") + ";")
            return
        self.driver.execute(statement.text, None)

    def begin(self) -> None:
        self._simulated_transaction = True
        self.run("BEGIN")

    def commit(self) -> None:
        self._simulated_transaction = False
        self.run("COMMIT")

    def rollback(self) -> None:
        self._simulated_transaction = False
        self.run("ROLLBACK")

    def rollback_quietly(self) -> None:
        """After a failure: roll back what is open, if anything; a failure to do so changes nothing
        (the server rolls back when the connection goes)."""
        with contextlib.suppress(Exception):
            if self.dry_run or self.driver.in_transaction():
                self.rollback()

    def in_transaction(self) -> bool:
        return self._simulated_transaction if self.dry_run else self.driver.in_transaction()

    def render(self, sql: str, params: Sequence[Any] | None) -> str:
        text = sql.strip()
        if params:
            text = _render_template(text, self.driver.placeholder).format(*map(self._literal, params))
        return text if text.endswith(";") else text + ";"

    def _literal(self, value: Any) -> str:
        """The driver's literal for ``value``; a text value's is kept (the driver's is pure)."""
        if type(value) is not str:
            return self.driver.literal(value)
        rendered = self._literals.get(value)
        if rendered is None:
            if len(self._literals) >= _LITERAL_MEMO_SIZE:
                self._literals.clear()  # run ids and checksums are new every step: bound the memo
            rendered = self._literals[value] = self.driver.literal(value)
        return rendered
