"""Acknowledging findings in the file itself.

``-- safemigrate:ignore rule-id[, rule-id] -- reason`` after a statement (on one of
its lines) or alone on the line above it acknowledges those rules for that
statement; ``-- safemigrate:ignore-file rule-id[, ...]`` anywhere acknowledges
them for the whole file. An acknowledgement that matches no finding is itself
reported (rule ``unused-ignore``), so stale ones do not pile up.
"""

from __future__ import annotations

import re

from .._record import Record
from .source import SourceText

__all__ = ["Ignore", "parse_ignores"]

_MARK = "safemigrate:ignore"
_IGNORE = re.compile(r"(?:--|#)[ \t]*safemigrate:(ignore-file|ignore)(?![\w-])[ \t]*([^\n]*)")
_ID = re.compile(r"[a-z0-9][a-z0-9-]*")


class Ignore(Record):
    line: int  # the line of the comment
    column: int
    target_line: int | None  # the line whose statement it acknowledges; None: the whole file
    rule_ids: tuple[str, ...]
    used: set[str]

    def __init__(self, line: int, column: int, target_line: int | None, rule_ids: tuple[str, ...],
                 used: set[str] | None = None) -> None:
        self.line = line
        self.column = column
        self.target_line = target_line
        self.rule_ids = rule_ids
        self.used = set() if used is None else used

    @property
    def whole_file(self) -> bool:
        return self.target_line is None


def _rule_ids(rest: str) -> tuple[str, ...]:
    # The reason follows a second "--"; rule ids come before it, separated by commas or blanks.
    ids_part = rest.split("--", 1)[0]
    return tuple(m.group() for m in _ID.finditer(ids_part.lower()))


def _next_code_line(source: SourceText, line: int) -> int:
    """The first line after ``line`` that holds something other than blanks and ``--`` comments."""
    total = source.text.count("\n") + 1
    current = line + 1
    while current <= total:
        stripped = source.line_text(current).strip()
        if stripped and not stripped.startswith("--"):
            return current
        current += 1
    return line + 1


def parse_ignores(source: SourceText) -> list[Ignore]:
    if _MARK not in source.text:
        return []
    found: list[Ignore] = []
    for match in _IGNORE.finditer(source.text):
        line, column = source.position(match.start())
        ids = _rule_ids(match.group(2))
        if match.group(1) == "ignore-file":
            found.append(Ignore(line, column, None, ids))
            continue
        before = source.line_text(line)[: column - 1]
        # A comment after code acknowledges that line's statement; alone on its line, the next one.
        target = line if before.strip() else _next_code_line(source, line)
        found.append(Ignore(line, column, target, ids))
    return found
