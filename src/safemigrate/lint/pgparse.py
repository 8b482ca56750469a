"""PostgreSQL files through PostgreSQL's own grammar (libpg_query via pglast), fast and fault-tolerant.

The linter reads libpg_query's JSON parse tree rather than pglast's Python node
objects: building those objects costs about 7x more than parsing, and the
linter's speed budget is set by squawk. A file that does not parse is split at
its top-level semicolons with PostgreSQL's scanner, each piece is parsed on its
own, and every piece that still fails becomes a syntax error at its position,
so one typo does not hide the findings in the rest of the file.

Whether a statement can run inside a transaction comes from the runner's own
``safemigrate.sql.postgres.transaction_properties``, so the linter and the
runner agree on which files run in one transaction.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Callable
from typing import Any, cast

from .._record import Record
from ..sql.postgres import pglast_parser, transaction_properties
from .context import Stmt
from .pgnodes import pg_facts
from .source import SourceText

__all__ = ["ParsedFile", "SyntaxProblem", "parse_postgres"]


class SyntaxProblem(Record, frozen=True):
    message: str
    offset: int  # character offset in the file

    def __init__(self, message: str, offset: int) -> None:
        self.__dict__.update(message=message, offset=offset)


class ParsedFile(Record):
    statements: list[Stmt]
    problems: list[SyntaxProblem]

    def __init__(self, statements: list[Stmt], problems: list[SyntaxProblem]) -> None:
        self.statements = statements
        self.problems = problems


# The C scanner behind json.loads, called directly: libpg_query's JSON is one object without
# surrounding blanks, so json.loads's type checks and its two whitespace regexes (run per file)
# are not needed. It is an attribute of CPython's decoder, not a documented API: without it (or
# for anything it does not read whole) json.loads reads the document.
_scan_json: Callable[[str, int], tuple[Any, int]] | None = getattr(json.JSONDecoder(), "scan_once", None)


def _load_tree(document: str) -> dict[str, Any]:
    if _scan_json is not None:
        try:
            tree, end = _scan_json(document, 0)
        except StopIteration:  # not expected from libpg_query; json.loads says what is wrong
            pass
        else:
            if end == len(document):
                return cast("dict[str, Any]", tree)
    return cast("dict[str, Any]", json.loads(document))


def parse_postgres(source: SourceText) -> ParsedFile:
    parser = pglast_parser()
    text = source.text
    try:
        tree = _load_tree(parser.parse_sql_json(text))
    except parser.ParseError:
        return _recover(source)
    statements: list[Stmt] = []
    _collect(source, tree.get("stmts") or (), 0, len(text), statements)
    return ParsedFile(statements, [])


def _collect(source: SourceText, raw_statements: Any, char_base: int, char_end: int,
             out: list[Stmt]) -> None:
    """Turn libpg_query's statements (byte offsets relative to ``char_base``) into :class:`Stmt`."""
    byte_base = source.byte_of_char(char_base)
    starts = source.line_starts  # positions looked up here directly: this loop runs per statement
    for raw in raw_statements:
        start_byte = byte_base + (raw.get("stmt_location") or 0)
        length = raw.get("stmt_len") or 0
        start = source.char_of_byte(start_byte)
        end = source.char_of_byte(start_byte + length) if length else char_end
        start = source.skip_noise(start, end)
        chunk = source.text[start:end].rstrip()
        if not chunk:
            continue
        end = start + len(chunk)
        ((kind, node),) = raw["stmt"].items()
        transactional, control = transaction_properties(kind, node)
        line = bisect_right(starts, start)
        column = start - starts[line - 1] + 1
        end_line = bisect_right(starts, end - 1) if end > start else line
        stmt = Stmt(index=len(out), start=start, end=end, line=line, column=column,
                    end_line=end_line, kind=kind, text=chunk, node=node,
                    transactional=transactional, transaction_control=control,
                    byte_base=byte_base, facts=pg_facts(kind, node))
        if kind == "AlterTableStmt" and len(node.get("cmds") or ()) > 1:
            _locate_alter_cmds(source, stmt)
        out.append(stmt)


# Scanner tokens that open and close a nesting level; a comma inside one does not separate commands.
_OPENERS = {"ASCII_40", "ASCII_91"}  # ( [
_CLOSERS = {"ASCII_41", "ASCII_93"}  # ) ]


def _locate_alter_cmds(source: SourceText, stmt: Stmt) -> None:
    """Give each AlterTableCmd of a multi-command ALTER TABLE the ``location`` libpg_query omits.

    Findings about one sub-command (a DROP COLUMN among several) then point at it rather
    than at the statement's first line. The commands are the statement's pieces between
    its top-level commas after the table name; when the count does not match the tree's
    (which would be a misreading), no location is set and findings stay at the statement.
    """
    parser = pglast_parser()
    try:
        tokens = parser.scan(stmt.text)
    except parser.ParseError:
        return
    relation = stmt.node.get("relation") or {}
    rel_at = relation.get("location", -1)
    rel_char = source.char_of_byte(stmt.byte_base + rel_at) - stmt.start if rel_at >= 0 else -1
    starts: list[int] = []
    depth = 0
    expect_name = True  # the table's name (schema-qualified or not) comes before the first command
    after_dot = False
    for token in tokens:
        name = token.name
        if name in ("SQL_COMMENT", "C_COMMENT") or token.start < rel_char:
            continue
        if expect_name:
            if name == "ASCII_46":  # the dot of schema.table
                after_dot = True
            elif token.start == rel_char or after_dot:
                after_dot = False
            else:
                expect_name = False
                starts.append(token.start)
            continue
        if name in _OPENERS:
            depth += 1
        elif name in _CLOSERS:
            depth -= 1
        elif name == "ASCII_44" and depth == 0:
            starts.append(-1)  # the next token starts a command
        elif starts and starts[-1] == -1:
            starts[-1] = token.start
    cmds = [c.get("AlterTableCmd") for c in stmt.node.get("cmds") or ()]
    if len(starts) != len(cmds) or -1 in starts:
        return
    for cmd, start in zip(cmds, starts, strict=True):
        if isinstance(cmd, dict):
            cmd["location"] = source.byte_of_char(stmt.start + start) - stmt.byte_base


def _pieces(text: str) -> list[tuple[int, int]]:
    """Character ranges of the file split at top-level semicolons, found by PostgreSQL's scanner."""
    parser = pglast_parser()

    limit = len(text)
    try:
        tokens = parser.scan(text)
    except parser.ParseError as exc:
        # An unterminated string or comment: scan up to it; the rest is one (broken) piece.
        limit = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else 0
        try:
            tokens = parser.scan(text[:limit])
        except parser.ParseError:
            tokens, limit = [], 0
    pieces: list[tuple[int, int]] = []
    start = 0
    atomic = 0  # depth inside BEGIN ATOMIC ... END bodies, whose semicolons do not end the statement
    previous = ""
    for token in tokens:
        name = token.name
        if (name == "ATOMIC" and previous == "BEGIN_P") or (atomic and name == "CASE"):
            atomic += 1
        elif atomic and name == "END_P":
            atomic -= 1
        elif name == "ASCII_59" and not atomic:
            pieces.append((start, token.start))
            start = token.end + 1
        if name not in ("SQL_COMMENT", "C_COMMENT"):
            previous = name
    pieces.append((start, len(text) if limit < len(text) else limit))
    return pieces


def _without_psql(text: str) -> list[tuple[int, int]]:
    """The pieces of ``text`` around psql's meta-commands and COPY's inline rows.

    Those are not SQL (the psql-syntax rule reports them); cut out, the statements
    around them are linted as usual instead of failing to parse with them.
    """
    from ..sql.postgres import find_psql_syntax

    skips = [item.skip for item in find_psql_syntax(text)] \
        if "\\" in text or "stdin" in text.lower() else []
    if not skips:
        return _pieces(text)
    blanked = list(text)
    for start, end in skips:
        blanked[start:end] = [ch if ch == "\n" else " " for ch in text[start:end]]
    pieces: list[tuple[int, int]] = []
    first = 0  # both lists are in file order: skips before this one end before the piece
    for start, end in _pieces("".join(blanked)):
        while first < len(skips) and skips[first][1] <= start:
            first += 1
        for skip_start, skip_end in skips[first:]:
            if skip_start >= end:
                break
            if start < skip_start:  # keep only what is outside the skipped range
                pieces.append((start, skip_start))
            start = max(start, skip_end)
        if start < end:
            pieces.append((start, end))
    return pieces


def _recover(source: SourceText) -> ParsedFile:
    parser = pglast_parser()

    statements: list[Stmt] = []
    problems: list[SyntaxProblem] = []
    text = source.text
    for start, end in _without_psql(text):
        first = source.skip_noise(start, end)
        if first >= end or not text[first:end].strip():
            continue
        piece = text[start:end]
        try:
            tree = _load_tree(parser.parse_sql_json(piece))
        except parser.ParseError as exc:
            where = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else 0
            offset = min(start + max(where, 0), max(end - 1, start))
            problems.append(SyntaxProblem(str(exc.args[0]) if exc.args else str(exc), offset))
            continue
        _collect(source, tree.get("stmts") or (), start, end, statements)
    return ParsedFile(statements, problems)
