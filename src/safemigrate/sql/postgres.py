"""PostgreSQL statements, split by PostgreSQL's own parser (pglast)."""

from __future__ import annotations

from typing import Any

from .script import (
    LineIndex,
    ParseProblem,
    Script,
    Statement,
    has_no_transaction_marker,
    make_statement,
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
    return any(getattr(opt, "defname", None) == name for opt in (options or ()))


def transaction_properties(node: Any) -> tuple[bool, bool]:
    """Return (can run inside a transaction block, is transaction control) for a parsed statement."""
    kind = type(node).__name__
    if kind == "TransactionStmt":
        return True, True
    if kind in _NEVER_IN_TRANSACTION:
        return False, False
    if kind in ("IndexStmt", "DropStmt") and getattr(node, "concurrent", False):
        return False, False
    if kind == "ReindexStmt" and (
        _has_def(getattr(node, "params", None), "concurrently") or getattr(node, "concurrent", False)
    ):
        return False, False
    if kind == "VacuumStmt" and getattr(node, "is_vacuumcmd", True):
        return False, False
    if kind == "ClusterStmt" and getattr(node, "relation", None) is None:
        return False, False  # CLUSTER of every table
    if kind == "AlterDatabaseStmt" and _has_def(getattr(node, "options", None), "tablespace"):
        return False, False
    if kind == "AlterSubscriptionStmt":
        return False, False  # REFRESH PUBLICATION and friends refuse a transaction block
    if kind == "AlterTableStmt":
        for cmd in getattr(node, "cmds", None) or ():
            part = getattr(cmd, "def_", None)
            if type(part).__name__ == "PartitionCmd" and getattr(part, "concurrent", False):
                return False, False  # DETACH PARTITION ... CONCURRENTLY
    return True, False


def _describe(node: Any) -> str:
    kind = type(node).__name__
    if kind == "TransactionStmt":
        name = getattr(getattr(node, "kind", None), "name", "")
        return name.replace("TRANS_STMT_", "") or kind
    return kind


def split_postgres(text: str) -> Script:
    from pglast import parser

    index = LineIndex(text)
    marker = has_no_transaction_marker(text)
    try:
        raw_statements = parser.parse_sql(text)
    except parser.ParseError as exc:
        location = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else 0
        line, column = index.position(min(max(location, 0), max(len(text) - 1, 0)))
        problem = ParseProblem(str(exc.args[0]) if exc.args else str(exc), line, column)
        return Script(text, whole_file(text, index), parsed=False, problem=problem,
                      no_transaction_marker=marker)
    statements: list[Statement] = []
    for raw in raw_statements:
        start = raw.stmt_location or 0
        end = start + raw.stmt_len if raw.stmt_len else len(text)
        # pglast's offsets include leading blanks for the statement after a comment; trim them.
        chunk = text[start:end]
        lead = len(chunk) - len(chunk.lstrip())
        start += lead
        end = start + len(chunk.strip())
        if end <= start:
            continue
        node = raw.stmt
        transactional, control = transaction_properties(node)
        statements.append(
            make_statement(text, index, start, end, kind=_describe(node),
                           transactional=transactional, transaction_control=control, node=node)
        )
    return Script(text, tuple(statements), no_transaction_marker=marker)
