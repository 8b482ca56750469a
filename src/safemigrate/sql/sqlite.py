"""SQLite statements, split with SQLite's own tokenizer (``sqlite3.complete_statement``).

A statement ends at a ``;`` after which SQLite says the text is complete, so
semicolons in strings, comments and ``CREATE TRIGGER ... BEGIN ... END`` bodies
do not split it.
"""

from __future__ import annotations

import re
import sqlite3

from .script import (
    LineIndex,
    Script,
    Statement,
    has_no_transaction_marker,
    make_statement,
    skip_leading_noise,
)

__all__ = ["split_sqlite"]

_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_CONTROL = {"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"}


def _leading_words(statement: str, n: int = 3) -> list[str]:
    return _COMMENTS.sub(" ", statement).upper().replace(";", " ").split()[:n]


def _properties(statement: str) -> tuple[str, bool, bool]:
    words = _leading_words(statement)
    if not words:
        return "", True, False
    kind = " ".join(words[:2])
    first = words[0]
    if first in _CONTROL:
        return first, True, True
    if first in ("VACUUM", "ATTACH", "DETACH"):
        return first, False, False
    if first == "PRAGMA" and len(words) > 1:
        # These pragmas are silently ignored inside a transaction, which breaks the
        # documented "disable foreign keys, rebuild the table" procedure.
        pragma = words[1].split("=")[0].split("(")[0]
        if pragma.rsplit(".", 1)[-1] in ("FOREIGN_KEYS", "JOURNAL_MODE", "LEGACY_ALTER_TABLE"):
            return "PRAGMA " + pragma, False, False
    return kind, True, False


def _is_only_comments(chunk: str) -> bool:
    return not _COMMENTS.sub("", chunk).strip(" \t\r\n;")


def split_sqlite(text: str) -> Script:
    index = LineIndex(text)
    statements: list[Statement] = []
    start = 0
    pos = text.find(";")
    while pos >= 0:
        candidate = text[start : pos + 1]
        if sqlite3.complete_statement(candidate):
            _append(statements, text, index, start, pos)
            start = pos + 1
        pos = text.find(";", pos + 1)
    _append(statements, text, index, start, len(text))
    return Script(text, tuple(statements), no_transaction_marker=has_no_transaction_marker(text))


def _append(statements: list[Statement], text: str, index: LineIndex, start: int, end: int) -> None:
    chunk = text[start:end]
    if _is_only_comments(chunk):
        return
    # Report the statement where its first keyword is, not where a comment before it starts.
    begin = skip_leading_noise(text, start, end)
    finish = begin + len(text[begin:end].rstrip())
    kind, transactional, control = _properties(chunk)
    statements.append(
        make_statement(text, index, begin, finish, kind=kind, transactional=transactional,
                       transaction_control=control)
    )
