"""PostgreSQL statements, split by PostgreSQL's own parser (libpg_query through pglast).

The parse tree is read as libpg_query's JSON rather than as pglast's Python
node objects: building those objects costs about ten times the parse itself,
and the runner splits every file it applies.
"""

from __future__ import annotations

import json
from typing import Any

from .script import (
    LineIndex,
    ParseProblem,
    Script,
    Statement,
    has_no_transaction_marker,
    make_statement,
    skip_leading_noise,
    whole_file,
)

__all__ = ["split_postgres", "transaction_properties"]

# Statements PostgreSQL refuses inside a transaction block, whatever their options.
_NEVER_IN_TRANSACTION = {
    "CreatedbStmt",
    "DropdbStmt",
    "AlterSystemStmt",
    "CreateTableSpaceStmt",
    "DropTableSpaceStmt",
    "CreateSubscriptionStmt",
    "DropSubscriptionStmt",
}


def _has_def(options: Any, name: str) -> bool:
    for option in options or ():
        fields = option.get("DefElem") if isinstance(option, dict) else None
        if fields and fields.get("defname") == name:
            return True
    return False


def transaction_properties(kind: str, node: dict[str, Any]) -> tuple[bool, bool]:
    """(can run inside a transaction block, is transaction control) for one parse-tree node.

    ``kind`` is the node type (``IndexStmt``) and ``node`` its fields, as in libpg_query's JSON.
    """
    if kind == "TransactionStmt":
        return True, True
    if kind in _NEVER_IN_TRANSACTION:
        return False, False
    if kind in ("IndexStmt", "DropStmt") and node.get("concurrent"):
        return False, False
    if kind == "ReindexStmt" and (_has_def(node.get("params"), "concurrently") or node.get("concurrent")):
        return False, False
    if kind == "VacuumStmt" and node.get("is_vacuumcmd"):
        return False, False
    if kind == "ClusterStmt" and not node.get("relation"):
        return False, False  # CLUSTER of every table
    if kind == "AlterDatabaseStmt" and _has_def(node.get("options"), "tablespace"):
        return False, False
    if kind == "AlterSubscriptionStmt":
        return False, False  # REFRESH PUBLICATION and friends refuse a transaction block
    if kind == "AlterTableStmt":
        for cmd in node.get("cmds") or ():
            part = (cmd.get("AlterTableCmd") or {}).get("def") or {}
            if (part.get("PartitionCmd") or {}).get("concurrent"):
                return False, False  # DETACH PARTITION ... CONCURRENTLY
    return True, False


def _describe(kind: str, node: dict[str, Any]) -> str:
    if kind == "TransactionStmt":
        return str(node.get("kind", "")).replace("TRANS_STMT_", "") or kind
    return kind


class _Offsets:
    """libpg_query reports byte offsets; statements need character offsets."""

    def __init__(self, text: str) -> None:
        self.ascii = text.isascii()
        self.data = b"" if self.ascii else text.encode("utf-8")

    def char(self, byte_offset: int) -> int:
        if self.ascii:
            return byte_offset
        return len(self.data[:byte_offset].decode("utf-8", errors="ignore"))


def split_postgres(text: str) -> Script:
    from pglast import parser

    index = LineIndex(text)
    marker = has_no_transaction_marker(text)
    try:
        tree = json.loads(parser.parse_sql_json(text))
    except parser.ParseError as exc:
        location = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else 0
        line, column = index.position(min(max(location, 0), max(len(text) - 1, 0)))
        problem = ParseProblem(str(exc.args[0]) if exc.args else str(exc), line, column)
        return Script(text, whole_file(text, index), parsed=False, problem=problem,
                      no_transaction_marker=marker)
    offsets = _Offsets(text)
    statements: list[Statement] = []
    for raw in tree.get("stmts") or ():
        start_byte = raw.get("stmt_location") or 0
        length = raw.get("stmt_len") or 0
        start = offsets.char(start_byte)
        end = offsets.char(start_byte + length) if length else len(text)
        # Report a statement where its first keyword is, not where a comment before it starts.
        start = skip_leading_noise(text, start, end)
        end = start + len(text[start:end].rstrip())
        if end <= start:
            continue
        ((kind, node),) = raw["stmt"].items()
        transactional, control = transaction_properties(kind, node)
        statements.append(
            make_statement(text, index, start, end, kind=_describe(kind, node),
                           transactional=transactional, transaction_control=control, node=node)
        )
    return Script(text, tuple(statements), no_transaction_marker=marker)
