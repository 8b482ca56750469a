"""The dialect-neutral result of splitting a file: statements with positions."""

from __future__ import annotations

import bisect
import re
from typing import Any

from .._record import Record

__all__ = ["LEADING_NOISE", "NO_TRANSACTION_MARKER", "LineIndex", "ParseProblem", "Script", "Statement",
           "refuse_unrunnable", "skip_leading_noise", "split_sql"]

# A file holding this comment runs statement by statement, each committed on its own.
NO_TRANSACTION_MARKER = "safemigrate:no-transaction"
_MARKER_RE = re.compile(r"--\s*" + re.escape(NO_TRANSACTION_MARKER) + r"\b")
# Blanks and comments before a statement's first keyword.
LEADING_NOISE = re.compile(r"(?:\s+|--[^\n]*|/\*.*?\*/)*", re.DOTALL)


class Statement(Record, frozen=True, hidden=("node",), uncompared=("node",)):
    """One statement of a file, with its exact text and where it starts (1-based line and column).

    Slots: a file of 100,000 statements holds 100,000 of these for the whole run.
    """

    __slots__ = (
        "column",
        "end_line",
        "kind",
        "line",
        "node",
        "start",
        "text",
        "transaction_control",
        "transactional",
    )

    text: str
    start: int
    line: int
    column: int
    end_line: int
    kind: str
    transactional: bool
    transaction_control: bool
    node: Any

    def __init__(self, text: str, start: int, line: int, column: int, end_line: int, kind: str = "",
                 transactional: bool = True, transaction_control: bool = False, node: Any = None) -> None:
        _set(self, "text", text)
        _set(self, "start", start)
        _set(self, "line", line)
        _set(self, "column", column)
        _set(self, "end_line", end_line)
        _set(self, "kind", kind)
        _set(self, "transactional", transactional)
        _set(self, "transaction_control", transaction_control)
        _set(self, "node", node)


_set = object.__setattr__  # a frozen record's fields are set once, in __init__


class ParseProblem(Record, frozen=True):
    message: str
    line: int
    column: int
    hint: str  # what to do about it, when the problem makes the runner refuse the file

    def __init__(self, message: str, line: int, column: int, hint: str = "") -> None:
        self.__dict__.update(message=message, line=line, column=column, hint=hint)


class Script(Record, frozen=True):
    """A split file. ``parsed`` is False when the parser could not read it; the file is then one statement."""

    text: str
    statements: tuple[Statement, ...]
    parsed: bool
    problem: ParseProblem | None
    no_transaction_marker: bool
    # Set when the file cannot be run as it is (psql meta-commands, a MySQL file the splitter
    # cannot read exactly): the runner refuses it before running anything.
    refused: ParseProblem | None

    def __init__(self, text: str, statements: tuple[Statement, ...], parsed: bool = True,
                 problem: ParseProblem | None = None, no_transaction_marker: bool = False,
                 refused: ParseProblem | None = None) -> None:
        self.__dict__.update(text=text, statements=statements, parsed=parsed, problem=problem,
                             no_transaction_marker=no_transaction_marker, refused=refused)

    @property
    def non_transactional(self) -> tuple[Statement, ...]:
        return tuple(s for s in self.statements if not s.transactional)

    @property
    def transaction_control(self) -> tuple[Statement, ...]:
        return tuple(s for s in self.statements if s.transaction_control)

    @property
    def needs_statement_mode(self) -> bool:
        """True when the file cannot be wrapped in one transaction by the runner."""
        return bool(self.no_transaction_marker or self.non_transactional or self.transaction_control)

    def statement_mode_reason(self) -> str | None:
        if self.no_transaction_marker:
            return f"the file contains the -- {NO_TRANSACTION_MARKER} marker"
        if self.transaction_control:
            s = self.transaction_control[0]
            return f"the file manages its own transactions ({s.kind} at line {s.line})"
        if self.non_transactional:
            s = self.non_transactional[0]
            first = s.text.strip().splitlines()[0][:60] if s.text.strip() else s.kind
            return f"line {s.line} cannot run inside a transaction ({first})"
        return None


class LineIndex:
    """Maps character offsets of a text to 1-based (line, column)."""

    def __init__(self, text: str) -> None:
        self._starts = [0]
        find = text.find
        at = find("\n")
        while at >= 0:
            self._starts.append(at + 1)
            at = find("\n", at + 1)

    def position(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self._starts, offset)
        return line, offset - self._starts[line - 1] + 1


def has_no_transaction_marker(text: str) -> bool:
    return _MARKER_RE.search(text) is not None


def skip_leading_noise(text: str, start: int, end: int) -> int:
    """Where the statement in ``text[start:end]`` really starts: after blanks and comments."""
    match = LEADING_NOISE.match(text, start, end)
    return match.end() if match else start


def make_statement(text: str, index: LineIndex, start: int, end: int, **kwargs: Any) -> Statement:
    line, column = index.position(start)
    end_line, _ = index.position(max(start, end - 1))
    return Statement(text=text[start:end], start=start, line=line, column=column,
                     end_line=end_line, **kwargs)


def whole_file(text: str, index: LineIndex) -> tuple[Statement, ...]:
    """The fallback when a file cannot be parsed: send it as one statement, as golang-migrate does."""
    stripped = text.strip()
    if not stripped:
        return ()
    start = text.index(stripped[0])
    return (make_statement(text, index, start, start + len(stripped), kind="unparsed"),)


def refuse_unrunnable(script: Script, path: object) -> None:
    """Raise when ``script`` cannot be run as it is, naming the file, line and column."""
    problem = script.refused
    if problem is None:
        return
    from ..errors import SourceError

    raise SourceError(
        f"{path}:{problem.line}:{problem.column}: {problem.message}; nothing was applied",
        hint=problem.hint or None,
        details={"path": str(path), "line": problem.line, "column": problem.column},
    )


def split_sql(text: str, dialect: str, *, nodes: bool = True) -> Script:
    """Split ``text`` with the parser of ``dialect`` ('postgres', 'sqlite' or 'mysql').

    ``nodes=False`` drops the parse-tree nodes the linter reads: the runner needs only the
    text and positions, and a PostgreSQL node takes about ten times its statement's memory.
    """
    if dialect == "postgres":
        from .postgres import split_postgres

        # Without the nodes from the start: copying each statement to drop its node afterwards
        # cost a quarter of the split of a one-statement file.
        return split_postgres(text, nodes=nodes)
    if dialect == "sqlite":
        from .sqlite import split_sqlite

        return split_sqlite(text)
    if dialect == "mysql":
        from .mysql import split_mysql  # type: ignore[import-not-found,unused-ignore]

        result: Script = split_mysql(text)
        return result
    raise ValueError(f"unknown SQL dialect {dialect!r}")
