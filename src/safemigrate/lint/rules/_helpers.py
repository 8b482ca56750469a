"""Helpers shared by the rule modules (not a rule module: its name starts with an underscore)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ..context import FileContext, Obj, Stmt
from ..pglocks import Lock, statement_locks
from ..pgnodes import alter_cmds, column_constraints, func_name, unwrap

if TYPE_CHECKING:  # the SQLite/MySQL tokenizer is loaded only when such files are linted
    from ..textsql import Token

__all__ = [
    "add_column_defs",
    "column_defs",
    "has_top_level_word",
    "is_new_or_undone",
    "is_volatile",
    "statement_locks_of",
    "sub_nodes",
]


def is_new_or_undone(ctx: FileContext, obj: Obj) -> bool:
    """True when ``obj`` was created earlier in this file, or (down file) by the paired up file.

    Changing an object nobody uses yet cannot lock out or break anyone, and a
    down file that drops what its up file created is undoing it, not destroying data.
    Only a plain CREATE makes an object new: ``CREATE TABLE IF NOT EXISTS`` (or
    ``ADD COLUMN IF NOT EXISTS``, ``CREATE OR REPLACE``) may meet one that exists
    with data. A column the file added is new, its table is not: ask about
    ``Obj("table", ...)`` for what locks or scans the table.
    """
    sets = [ctx.new]
    if ctx.direction == "down" and ctx.partner is not None and ctx.partner.created is not None:
        sets.append(ctx.partner.created)
    for objects in sets:
        if obj.kind == "table" and obj.name in objects.tables:
            return True
        if obj.kind == "column" and (obj.table in objects.tables
                                     or (obj.table, obj.name) in objects.columns):
            return True
        if obj.kind == "index" and obj.name in objects.indexes:
            return True
        if obj.kind not in ("table", "column", "index") and (obj.kind, obj.name) in objects.others:
            return True
    return False


def statement_locks_of(stmt: Stmt) -> tuple[Lock, ...]:
    """The locks a PostgreSQL statement takes (see :mod:`..pglocks`), computed once per statement."""
    cached: tuple[Lock, ...] | None = stmt.cache.get("locks")
    if cached is None:
        if stmt.kind == "CreateStmt" and not stmt.facts.locks and not stmt.node.get("inhRelations"):
            # A CREATE TABLE locks only its parents and the tables its foreign keys reference; the
            # statement's facts already list the latter (none here): no need to walk its columns again.
            cached = ()
        else:
            cached = statement_locks(stmt.kind, stmt.node)
        stmt.cache["locks"] = cached
    return cached


def sub_nodes(value: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every wrapped node inside ``value``, depth first."""
    if isinstance(value, dict):
        kind, fields = unwrap(value)
        if kind:
            yield kind, fields
            value = fields
        for child in value.values():
            if isinstance(child, dict | list):
                yield from sub_nodes(child)
    elif isinstance(value, list):
        for item in value:
            yield from sub_nodes(item)


# Functions whose result does not change row by row: a column default using them is
# evaluated once when the column is added (PostgreSQL 11+), so the table is not rewritten.
_NOT_VOLATILE = {
    "now", "transaction_timestamp", "statement_timestamp", "current_setting", "lower", "upper",
    "coalesce", "concat", "concat_ws", "length", "trim", "btrim", "to_json", "to_jsonb",
    "json_build_object", "jsonb_build_object", "json_build_array", "jsonb_build_array",
    "make_interval", "make_date", "make_timestamp", "make_timestamptz", "array_fill",
    "to_timestamp", "to_date", "to_char", "abs", "round", "greatest", "least", "md5",
    "date_trunc", "timezone", "pg_catalog.now",
}
_VOLATILE = {"random", "gen_random_uuid", "uuid_generate_v1", "uuid_generate_v4", "uuidv4",
             "uuidv7", "clock_timestamp", "timeofday", "nextval", "txid_current", "setseed"}
_CONSTANT_NODES = {"A_Const", "SQLValueFunction", "ParamRef", "String", "Integer", "Float",
                   "Boolean", "TypeName"}


def is_volatile(expr: Any) -> bool:
    """Whether a default expression is (or may be) VOLATILE, i.e. computed for every row."""
    kind, fields = unwrap(expr)
    if not kind or kind in _CONSTANT_NODES:
        return False
    if kind == "FuncCall":
        name = func_name(fields)
        if name in _VOLATILE or name not in _NOT_VOLATILE:
            return True
        return any(is_volatile(arg) for arg in fields.get("args") or ())
    if kind in ("TypeCast", "A_Expr", "BoolExpr", "CoalesceExpr", "A_ArrayExpr", "RowExpr",
                "CaseExpr", "CaseWhen", "NullTest", "MinMaxExpr", "A_Indirection", "CollateClause"):
        return any(is_volatile({k: v}) for k, v in sub_nodes_direct(fields))
    return True  # sub-queries and anything unknown: assume the worst


def sub_nodes_direct(fields: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The wrapped nodes directly inside ``fields`` (one level down)."""
    for child in fields.values():
        items = child if isinstance(child, list) else [child]
        for item in items:
            kind, inner = unwrap(item)
            if kind:
                yield kind, inner
            elif isinstance(item, dict):
                # A fixed-type field (e.g. CaseExpr.args holds CaseWhen nodes wrapped, typeName is not).
                yield from sub_nodes_direct(item)


def column_defs(stmt: Stmt) -> list[tuple[str, dict[str, Any], bool]]:
    """(table, ColumnDef fields, is a new column) for CREATE TABLE, ADD COLUMN and ALTER COLUMN TYPE."""
    cached: list[tuple[str, dict[str, Any], bool]] | None = stmt.cache.get("column_defs")
    if cached is None:
        cached = stmt.cache["column_defs"] = list(_column_defs(stmt))
    return cached


def _column_defs(stmt: Stmt) -> Iterator[tuple[str, dict[str, Any], bool]]:
    node = stmt.node
    if stmt.kind == "CreateStmt":
        table = (node.get("relation") or {}).get("relname", "")
        for element in node.get("tableElts") or ():
            kind, fields = unwrap(element)
            if kind == "ColumnDef":
                yield table, fields, True
    elif stmt.kind == "AlterTableStmt":
        table = (node.get("relation") or {}).get("relname", "")
        for cmd in alter_cmds(node):
            subtype = cmd.get("subtype", "AT_AddColumn")
            if subtype == "AT_AddColumn":
                yield table, unwrap(cmd.get("def"))[1], True
            elif subtype == "AT_AlterColumnType":
                fields = dict(unwrap(cmd.get("def"))[1])
                fields.setdefault("colname", cmd.get("name", ""))
                yield table, fields, False


def add_column_defs(stmt: Stmt) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(table, AlterTableCmd fields, ColumnDef fields) for each ADD COLUMN of an ALTER TABLE."""
    table = (stmt.node.get("relation") or {}).get("relname", "")
    for cmd in alter_cmds(stmt.node):
        if cmd.get("subtype", "AT_AddColumn") == "AT_AddColumn":
            yield table, cmd, unwrap(cmd.get("def"))[1]


def constraint_types(coldef: dict[str, Any]) -> set[str]:
    return {c.get("contype", "") for c in column_constraints(coldef)}


def has_top_level_word(tokens: Sequence[Token], word: str) -> bool:
    depth = 0
    for token in tokens:
        if token.kind == "punct":
            if token.value == "(":
                depth += 1
            elif token.value == ")":
                depth -= 1
        elif depth == 0 and token.kind == "word" and token.value == word:
            return True
    return False
