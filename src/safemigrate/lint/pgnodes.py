"""Reading libpg_query's JSON parse tree, and what each PostgreSQL statement does (its :class:`Facts`).

In the JSON tree a generic node is ``{"TypeName": {fields}}``; a field whose type
is fixed (a RangeVar, a TypeName) holds the fields directly. Fields that are
false, zero or empty are left out, so every lookup uses ``.get``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .context import Facts, Obj

__all__ = [
    "alter_cmds",
    "column_constraints",
    "func_name",
    "names",
    "pg_facts",
    "qualified_tail",
    "relname",
    "type_name",
    "unwrap",
]

Node = dict[str, Any]


def unwrap(node: Any) -> tuple[str, Node]:
    """(node type, fields) of a wrapped node; ("", {}) for anything else."""
    if isinstance(node, dict) and len(node) == 1:
        ((kind, fields),) = node.items()
        if isinstance(fields, dict):
            return kind, fields
    return "", {}


def names(items: Any) -> list[str]:
    """The strings of a list of ``String`` nodes (qualified names, type names)."""
    out: list[str] = []
    for item in items or ():
        kind, fields = unwrap(item)
        if kind == "String":
            out.append(fields.get("sval", ""))
    return out


def qualified_tail(items: Any) -> str:
    parts = names(items)
    return parts[-1] if parts else ""


def relname(rangevar: Any) -> str:
    """A RangeVar's table name; lists hold RangeVars wrapped, fixed fields hold them bare."""
    if not isinstance(rangevar, dict):
        return ""
    if "RangeVar" in rangevar:
        rangevar = rangevar["RangeVar"]
    name = rangevar.get("relname", "")
    return name if isinstance(name, str) else ""


def type_name(type_node: Any) -> str:
    """The type's own name without ``pg_catalog``: ``int4``, ``varchar``, ``timestamptz``."""
    if not isinstance(type_node, dict):
        return ""
    parts = type_node.get("names")
    if not parts:
        return ""
    last = parts[-1].get("String") if isinstance(parts[-1], dict) else None
    return str(last.get("sval", "")).lower() if last else ""


def func_name(fields: Node) -> str:
    parts = names(fields.get("funcname"))
    return parts[-1].lower() if parts else ""


def alter_cmds(node: Node) -> list[Node]:
    """The AlterTableCmd fields of an ALTER TABLE (kept on the node: a dozen rules read them)."""
    cached: list[Node] | None = node.get("_cmds")
    if cached is None:
        cached = [c["AlterTableCmd"] for c in node.get("cmds") or () if "AlterTableCmd" in c]
        node["_cmds"] = cached
    return cached


def column_constraints(coldef: Node) -> Iterator[Node]:
    for constraint in coldef.get("constraints") or ():
        kind, fields = unwrap(constraint)
        if kind == "Constraint":
            yield fields


def _column_defs(elements: Any) -> Iterator[Node]:
    for element in elements or ():
        kind, fields = unwrap(element)
        if kind == "ColumnDef":
            yield fields


def _index_columns(params: Any) -> tuple[str, ...]:
    cols: list[str] = []
    for param in params or ():
        kind, fields = unwrap(param)
        if kind == "IndexElem" and fields.get("name"):
            cols.append(fields["name"])
    return tuple(cols)


_DROP_KINDS = {
    "OBJECT_TABLE": "table",
    "OBJECT_INDEX": "index",
    "OBJECT_VIEW": "view",
    "OBJECT_MATVIEW": "view",
    "OBJECT_TYPE": "type",
    "OBJECT_DOMAIN": "type",
    "OBJECT_SEQUENCE": "sequence",
    "OBJECT_SCHEMA": "schema",
}

# Statements that change data rather than schema.
_DML = {"InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt", "TruncateStmt"}
_QUERY = {"SelectStmt", "ExplainStmt", "VariableShowStmt", "DoStmt", "CallStmt", "NotifyStmt",
          "ListenStmt", "CheckPointStmt", "LockStmt"}


def drop_object_names(fields: Node) -> list[str]:
    """Object names of a DROP statement, without schema."""
    out: list[str] = []
    for obj in fields.get("objects") or ():
        if isinstance(obj, dict) and "List" in obj:
            out.append(qualified_tail(obj["List"].get("items")))
        elif isinstance(obj, dict) and "String" in obj:
            out.append(obj["String"].get("sval", ""))
        elif isinstance(obj, dict) and "TypeName" in obj:
            out.append(type_name(obj["TypeName"]))
        elif isinstance(obj, list):
            out.append(qualified_tail(obj))
    return out


def _setting(fields: Node) -> list[tuple[str, str | None, bool]]:
    name = (fields.get("name") or "").lower()
    kind = fields.get("kind", "VAR_SET_VALUE")
    local = bool(fields.get("is_local"))
    if kind in ("VAR_RESET", "VAR_SET_DEFAULT"):
        return [(name, None, local)]
    if kind == "VAR_RESET_ALL":
        return [("lock_timeout", None, False), ("statement_timeout", None, False)]
    if kind != "VAR_SET_VALUE" or not name:
        return []
    return [(name, _const_text(fields.get("args")), local)]


def _const_text(args: Any) -> str | None:
    for arg in args or ():
        kind, fields = unwrap(arg)
        if kind == "A_Const":
            for key in ("sval", "ival", "fval"):
                if key in fields:
                    inner = fields[key]
                    value = inner.get(key, 0 if key == "ival" else "") if isinstance(inner, dict) else inner
                    return str(value)
            return "0"  # an empty ival (zero) is left out of the JSON
    return None


def _set_config_calls(fields: Node) -> list[tuple[str, str | None, bool]]:
    """``SELECT set_config('lock_timeout', '2s', false)`` sets a value like SET does."""
    found: list[tuple[str, str | None, bool]] = []
    for target in fields.get("targetList") or ():
        _, res = unwrap(target)
        kind, call = unwrap(res.get("val"))
        if kind != "FuncCall" or func_name(call) != "set_config":
            continue
        args: list[Any] = list(call.get("args") or ())
        if len(args) < 2:
            continue
        name = _const_text([args[0]])
        value = _const_text([args[1]])
        local_kind, local = unwrap(args[2]) if len(args) > 2 else ("", {})
        is_local = bool(local.get("boolval", {}).get("boolval")) if local_kind == "A_Const" else False
        if name:
            found.append((name.lower(), value, is_local))
    return found


def pg_facts(kind: str, node: Node) -> Facts:
    """What a PostgreSQL statement does (creates, drops, writes, locks, sets)."""
    facts = Facts()
    if kind == "TransactionStmt":
        facts.category = "tx"
        tx_kind = node.get("kind", "TRANS_STMT_BEGIN")
        facts.tx = {
            "TRANS_STMT_BEGIN": "begin",
            "TRANS_STMT_START": "begin",
            "TRANS_STMT_COMMIT": "commit",
            "TRANS_STMT_ROLLBACK": "rollback",
            "TRANS_STMT_COMMIT_PREPARED": "commit",
            "TRANS_STMT_ROLLBACK_PREPARED": "rollback",
            "TRANS_STMT_PREPARE": "commit",
        }.get(tx_kind, "savepoint")
        return facts
    if kind == "VariableSetStmt":
        facts.category = "session"
        facts.settings = _setting(node)
        return facts
    if kind in _DML:
        facts.category = "dml"
        if kind == "TruncateStmt":
            facts.writes = tuple(relname(r) for r in node.get("relations") or ())
            facts.locks = facts.writes
        else:
            facts.writes = (relname(node.get("relation")),)
        return facts
    if kind == "CopyStmt":
        facts.category = "dml" if node.get("is_from") else "query"
        facts.writes = (relname(node.get("relation")),) if node.get("is_from") else ()
        return facts
    if kind == "SelectStmt":
        facts.category = "query"
        facts.settings = _set_config_calls(node)
        if node.get("intoClause"):
            facts.category = "ddl"
            into = node["intoClause"].get("rel")
            facts.creates.append(Obj("table", relname(into)))
        return facts
    if kind in _QUERY:
        facts.category = "query" if kind != "LockStmt" else "other"
        if kind == "LockStmt":
            facts.locks = tuple(relname(r) for r in node.get("relations") or ())
        return facts
    facts.category = "ddl"
    handler = _DDL_FACTS.get(kind)
    if handler is not None:
        handler(node, facts)
    elif kind.startswith(("Comment", "Grant", "Sec")):
        facts.category = "other"
    return facts


def _create_table(node: Node, facts: Facts) -> None:
    table = relname(node.get("relation"))
    facts.creates.append(Obj("table", table))
    for element in node.get("tableElts") or ():
        # A plain lookup rather than unwrap(): this runs for every column of every CREATE TABLE.
        fields = (element.get("ColumnDef") or element.get("Constraint")) if isinstance(element, dict) else None
        referenced = _references(fields) if fields else ""
        if referenced:
            # A foreign key locks the referenced table (SHARE ROW EXCLUSIVE).
            facts.locks = (*facts.locks, referenced)


def _references(fields: Node) -> str:
    """The table a foreign key (a table constraint, or one of a column's) references."""
    if fields.get("contype") == "CONSTR_FOREIGN":
        return relname(fields.get("pktable"))
    for constraint in fields.get("constraints") or ():  # a plain loop: this runs for every column
        inner = constraint.get("Constraint") if isinstance(constraint, dict) else None
        if inner is not None and inner.get("contype") == "CONSTR_FOREIGN":
            return relname(inner.get("pktable"))
    return ""


def _create_table_as(node: Node, facts: Facts) -> None:
    into = node.get("into") or {}
    kind = "view" if node.get("objtype") == "OBJECT_MATVIEW" else "table"
    facts.creates.append(Obj(kind, relname(into.get("rel"))))


def _index(node: Node, facts: Facts) -> None:
    table = relname(node.get("relation"))
    name = node.get("idxname") or ""
    if name:
        facts.creates.append(Obj("index", name, table, _index_columns(node.get("indexParams"))))
    if not node.get("concurrent"):
        facts.locks = (table,)


# ALTER TABLE actions that take SHARE UPDATE EXCLUSIVE at most: they never block reads or writes.
_WEAK_ALTERS = {"AT_ValidateConstraint", "AT_SetStatistics", "AT_ClusterOn", "AT_DropCluster"}


def _alter_table(node: Node, facts: Facts) -> None:
    table = relname(node.get("relation"))
    if node.get("objtype", "OBJECT_TABLE") not in ("OBJECT_TABLE", "OBJECT_MATVIEW", "OBJECT_FOREIGN_TABLE"):
        facts.locks = (table,)
        return
    subtypes = {cmd.get("subtype", "AT_AddColumn") for cmd in alter_cmds(node)}
    if not subtypes <= _WEAK_ALTERS:
        facts.locks = (table,)
    for cmd in alter_cmds(node):
        subtype = cmd.get("subtype", "AT_AddColumn")
        if subtype == "AT_AddColumn":
            coldef = unwrap(cmd.get("def"))[1]
            facts.creates.append(Obj("column", coldef.get("colname", ""), table))
            referenced = _references(coldef)
            if referenced:
                facts.locks = (*facts.locks, referenced)
        elif subtype == "AT_ValidateConstraint":
            facts.validates.append(cmd.get("name", ""))
        elif subtype == "AT_DropColumn":
            facts.drops.append(Obj("column", cmd.get("name", ""), table))
        elif subtype == "AT_DropConstraint":
            facts.drops.append(Obj("constraint", cmd.get("name", ""), table))
        elif subtype == "AT_SetNotNull":
            facts.not_null.append((table, cmd.get("name", "")))
        elif subtype == "AT_AddConstraint":
            constraint = unwrap(cmd.get("def"))[1]
            name = constraint.get("conname", "")
            if name:
                facts.creates.append(Obj("constraint", name, table))
            if constraint.get("contype") in ("CONSTR_CHECK", "CONSTR_FOREIGN"):
                column = not_null_check_column(constraint)
                facts.constraints.append((name, table, column, not constraint.get("skip_validation")))
            referenced = _references(constraint)
            if referenced:
                facts.locks = (*facts.locks, referenced)


def not_null_check_column(constraint: Node) -> str | None:
    """The column of a ``CHECK (column IS NOT NULL)`` constraint, else None."""
    if constraint.get("contype") != "CONSTR_CHECK":
        return None
    kind, test = unwrap(constraint.get("raw_expr"))
    if kind != "NullTest" or test.get("nulltesttype") != "IS_NOT_NULL":
        return None
    ref_kind, ref = unwrap(test.get("arg"))
    if ref_kind != "ColumnRef":
        return None
    parts = names(ref.get("fields"))
    return parts[-1] if parts else None


def _drop(node: Node, facts: Facts) -> None:
    kind = _DROP_KINDS.get(node.get("removeType", ""))
    if kind is None:
        return
    objects = drop_object_names(node)
    facts.drops.extend(Obj(kind, name) for name in objects)
    if kind == "table" or (kind == "index" and not node.get("concurrent")):
        # For an index the lock is on its table; the index name stands in for it.
        facts.locks = tuple(objects)


def _rename(node: Node, facts: Facts) -> None:
    table = relname(node.get("relation"))
    facts.locks = (table,)
    rename = node.get("renameType", "")
    if rename == "OBJECT_COLUMN" and node.get("relationType", "OBJECT_TABLE") == "OBJECT_TABLE":
        facts.renames.append((Obj("column", node.get("subname", ""), table), node.get("newname", "")))
    elif rename == "OBJECT_TABLE":
        facts.renames.append((Obj("table", table), node.get("newname", "")))


def _simple_create(kind: str, key: str) -> Any:
    def handler(node: Node, facts: Facts) -> None:
        value = node.get(key)
        name = relname(value) if isinstance(value, dict) else qualified_tail(value) if value else ""
        if name:
            facts.creates.append(Obj(kind, name))

    return handler


def _create_schema(node: Node, facts: Facts) -> None:
    if node.get("schemaname"):
        facts.creates.append(Obj("schema", node["schemaname"]))


def _create_enum(node: Node, facts: Facts) -> None:
    facts.creates.append(Obj("type", qualified_tail(node.get("typeName"))))


def _create_domain(node: Node, facts: Facts) -> None:
    facts.creates.append(Obj("type", qualified_tail(node.get("domainname"))))


def _create_trigger(node: Node, facts: Facts) -> None:
    facts.locks = (relname(node.get("relation")),)


def _locks_relation(node: Node, facts: Facts) -> None:
    table = relname(node.get("relation"))
    facts.locks = (table,) if table else ("",)


def _vacuum(node: Node, facts: Facts) -> None:
    if _has_option(node.get("options"), "full"):
        facts.locks = ("",)
    facts.category = "other"


def _has_option(options: Any, name: str) -> bool:
    return any(unwrap(o)[1].get("defname") == name for o in options or ())


_DDL_FACTS: dict[str, Any] = {
    "CreateStmt": _create_table,
    "CreateTableAsStmt": _create_table_as,
    "IndexStmt": _index,
    "AlterTableStmt": _alter_table,
    "DropStmt": _drop,
    "RenameStmt": _rename,
    "ViewStmt": _simple_create("view", "view"),
    "CreateSeqStmt": _simple_create("sequence", "sequence"),
    "CompositeTypeStmt": _simple_create("type", "typevar"),
    "CreateEnumStmt": _create_enum,
    "CreateDomainStmt": _create_domain,
    "CreateSchemaStmt": _create_schema,
    "CreateTrigStmt": _create_trigger,
    "ReindexStmt": _locks_relation,
    "ClusterStmt": _locks_relation,
    "VacuumStmt": _vacuum,
}
