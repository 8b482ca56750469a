"""What a statement leaves in the catalog when it took effect, and the statement that takes it back.

``effects_of(statement, dialect)`` reads one statement (PostgreSQL's own parser
on PostgreSQL, the statement's leading words on MySQL/MariaDB and SQLite) and
returns the objects it creates, drops or renames as :class:`Effect` rows, each
with the catalog state that proves it ran (``present`` after a CREATE,
``absent`` after a DROP) and, where one is known, an ``inverse``: the SQL that
takes it back without touching anything that existed before the migration.
``None`` means "no catalog witness": DML, ``SET``, grants… the history's word
is all there is for those.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Effect", "effects_of"]

ObjectKind = Literal["table", "column", "index", "constraint", "type", "enum_value", "view", "function",
                     "trigger", "sequence", "schema", "extension", "not_null"]


@dataclass(frozen=True)
class Effect:
    kind: ObjectKind
    name: str  # the object's name (a column's name for a column)
    table: str | None = None  # the table it belongs to (column, index, constraint, trigger)
    expect: Literal["present", "absent"] = "present"
    inverse: str | None = None  # SQL that takes it back; None when nothing can (a DROP destroyed data)
    inverse_note: str = ""  # why there is no inverse, or what the inverse would also remove
    concurrently: bool = False  # the inverse cannot run inside a transaction
    witness_only: bool = False  # only proves the statement ran (a rename's old name): nothing to take back

    def describe(self) -> str:
        owner = f" on {self.table}" if self.table and self.kind not in ("column", "not_null") else ""
        what = f"{self.table}.{self.name}" if self.kind in ("column", "not_null") and self.table else self.name
        label = {"not_null": "NOT NULL on", "enum_value": "enum value"}.get(self.kind, self.kind)
        return f"{label} {what}{owner}"


def effects_of(text: str, dialect: str) -> list[Effect] | None:
    """The statement's catalog effects; ``None`` when it has none we can see (DML, SET, …)."""
    if dialect == "postgres":
        return _postgres(text)
    return _textual(text, dialect)


# -- PostgreSQL -------------------------------------------------------------------------------

def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _rel(relation: dict[str, Any]) -> str:
    schema = relation.get("schemaname")
    return f"{_q(schema)}.{_q(relation['relname'])}" if schema else _q(str(relation["relname"]))


def _plain(relation: dict[str, Any]) -> str:
    schema = relation.get("schemaname")
    return f"{schema}.{relation['relname']}" if schema else str(relation["relname"])


def _names(items: list[Any]) -> list[str]:
    return [item["String"]["sval"] for item in items if "String" in item]


def _postgres(text: str) -> list[Effect] | None:
    from ..sql.postgres import pglast_parser

    parser = pglast_parser()  # the parser alone, not all of pglast's Enum classes and AST

    try:
        tree = json.loads(parser.parse_sql_json(text))
    except parser.ParseError:
        return None
    statements = tree.get("stmts") or []
    if len(statements) != 1:
        return None
    ((kind, node),) = statements[0]["stmt"].items()
    handler = _PG_HANDLERS.get(kind)
    return handler(node) if handler else None


def _create_table(node: dict[str, Any]) -> list[Effect] | None:
    relation = node["relation"]
    if node.get("if_not_exists"):
        return None  # present afterwards whether or not this statement made it: no witness
    return [Effect("table", _plain(relation), inverse=f"DROP TABLE IF EXISTS {_rel(relation)}",
                   inverse_note="drops the table and any rows written to it since")]


def _index(node: dict[str, Any]) -> list[Effect] | None:
    name = node.get("idxname")
    if not name or node.get("if_not_exists"):
        return None
    schema = node["relation"].get("schemaname")
    qualified = f"{_q(schema)}.{_q(name)}" if schema else _q(name)
    return [Effect("index", name, _plain(node["relation"]),
                   inverse=f"DROP INDEX CONCURRENTLY IF EXISTS {qualified}", concurrently=True)]


def _alter_table(node: dict[str, Any]) -> list[Effect] | None:
    relation = node["relation"]
    table, rel = _plain(relation), _rel(relation)
    effects: list[Effect] = []
    for item in node.get("cmds") or []:
        cmd = item.get("AlterTableCmd", {})
        subtype = cmd.get("subtype")
        if subtype == "AT_AddColumn":
            column = cmd["def"]["ColumnDef"]["colname"]
            if cmd.get("missing_ok"):
                return None
            effects.append(Effect("column", column, table,
                                  inverse=f"ALTER TABLE {rel} DROP COLUMN IF EXISTS {_q(column)}",
                                  inverse_note="drops the column and any values written to it since"))
        elif subtype == "AT_DropColumn":
            effects.append(Effect("column", cmd["name"], table, expect="absent",
                                  inverse_note="the column and its values were dropped: only a backup has them"))
        elif subtype == "AT_AddConstraint":
            constraint = cmd["def"]["Constraint"]
            name = constraint.get("conname")
            if not name:
                return None
            effects.append(Effect("constraint", name, table,
                                  inverse=f"ALTER TABLE {rel} DROP CONSTRAINT IF EXISTS {_q(name)}"))
        elif subtype == "AT_DropConstraint":
            effects.append(Effect("constraint", cmd["name"], table, expect="absent",
                                  inverse_note="the constraint's definition is in the migration, not the catalog"))
        elif subtype == "AT_SetNotNull":
            effects.append(Effect("not_null", cmd["name"], table,
                                  inverse=f"ALTER TABLE {rel} ALTER COLUMN {_q(cmd['name'])} DROP NOT NULL"))
        elif subtype == "AT_DropNotNull":
            effects.append(Effect("not_null", cmd["name"], table, expect="absent",
                                  inverse=f"ALTER TABLE {rel} ALTER COLUMN {_q(cmd['name'])} SET NOT NULL"))
        else:
            return None  # a type change, a default, a validation…: no single catalog witness
    return effects or None


def _drop(node: dict[str, Any]) -> list[Effect] | None:
    kinds: dict[str, ObjectKind] = {"OBJECT_TABLE": "table", "OBJECT_INDEX": "index", "OBJECT_VIEW": "view",
                                    "OBJECT_TYPE": "type", "OBJECT_SEQUENCE": "sequence",
                                    "OBJECT_SCHEMA": "schema", "OBJECT_EXTENSION": "extension"}
    kind = kinds.get(node.get("removeType", ""))
    if kind is None:
        return None
    effects = []
    for obj in node.get("objects") or []:
        if "List" in obj:
            name = ".".join(_names(obj["List"]["items"]))
        elif "TypeName" in obj:
            name = ".".join(_names(obj["TypeName"]["names"]))
        elif "String" in obj:
            name = obj["String"]["sval"]
        else:
            return None
        effects.append(Effect(kind, name, expect="absent",
                              inverse_note=f"the {kind} was dropped: only a backup or the down file brings it back"))
    return effects or None


_Handler = Callable[[dict[str, Any]], "list[Effect] | None"]


def _simple(kind: ObjectKind, key: str, inverse: str) -> _Handler:
    def handler(node: dict[str, Any]) -> list[Effect] | None:
        if node.get("if_not_exists") or node.get("replace"):
            return None
        value = node[key]
        name = _plain(value) if isinstance(value, dict) else ".".join(_names(value)) \
            if isinstance(value, list) else str(value)
        quoted = _rel(value) if isinstance(value, dict) else ".".join(_q(n) for n in name.split("."))
        return [Effect(kind, name, inverse=inverse.format(name=quoted))]
    return handler


def _trigger(node: dict[str, Any]) -> list[Effect] | None:
    if node.get("replace"):
        return None
    name, table = node["trigname"], node["relation"]
    return [Effect("trigger", name, _plain(table), inverse=f"DROP TRIGGER IF EXISTS {_q(name)} ON {_rel(table)}")]


def _function(node: dict[str, Any]) -> list[Effect] | None:
    if node.get("replace"):
        return None
    name = ".".join(_names(node["funcname"]))
    # The inverse names the function by its argument types, read from the catalog when applied.
    return [Effect("function", name, inverse=f"DROP FUNCTION IF EXISTS {{regprocedure:{name}}}")]


def _enum_value(node: dict[str, Any]) -> list[Effect] | None:
    if not node.get("newVal") or node.get("oldVal"):
        return None
    return [Effect("enum_value", node["newVal"], ".".join(_names(node["typeName"])),
                   inverse_note="PostgreSQL cannot remove a value from an enum type")]


def _rename(node: dict[str, Any]) -> list[Effect] | None:
    rename = node.get("renameType")
    if rename == "OBJECT_COLUMN":
        table, rel = _plain(node["relation"]), _rel(node["relation"])
        old, new = node["subname"], node["newname"]
        return [Effect("column", new, table, inverse=f"ALTER TABLE {rel} RENAME COLUMN {_q(new)} TO {_q(old)}"),
                Effect("column", old, table, expect="absent", witness_only=True)]
    if rename == "OBJECT_TABLE":
        relation = node["relation"]
        schema = relation.get("schemaname")
        new = f"{schema}.{node['newname']}" if schema else node["newname"]
        moved = f"{_q(schema)}.{_q(node['newname'])}" if schema else _q(node["newname"])
        return [Effect("table", new, inverse=f"ALTER TABLE {moved} RENAME TO {_q(relation['relname'])}"),
                Effect("table", _plain(relation), expect="absent", witness_only=True)]
    return None


_PG_HANDLERS: dict[str, _Handler] = {
    "CreateStmt": _create_table,
    "IndexStmt": _index,
    "AlterTableStmt": _alter_table,
    "DropStmt": _drop,
    "ViewStmt": _simple("view", "view", "DROP VIEW IF EXISTS {name}"),
    "CreateSeqStmt": _simple("sequence", "sequence", "DROP SEQUENCE IF EXISTS {name}"),
    "CreateEnumStmt": _simple("type", "typeName", "DROP TYPE IF EXISTS {name}"),
    "CompositeTypeStmt": _simple("type", "typevar", "DROP TYPE IF EXISTS {name}"),
    "CreateDomainStmt": _simple("type", "domainname", "DROP DOMAIN IF EXISTS {name}"),
    "CreateSchemaStmt": _simple("schema", "schemaname", "DROP SCHEMA IF EXISTS {name}"),
    "CreateExtensionStmt": _simple("extension", "extname", "DROP EXTENSION IF EXISTS {name}"),
    "CreateTrigStmt": _trigger,
    "CreateFunctionStmt": _function,
    "AlterEnumStmt": _enum_value,
    "RenameStmt": _rename,
}


# -- MySQL / MariaDB and SQLite: the statement's leading words ---------------------------------

_IDENT = r"(?:`[^`]+`|\"[^\"]+\"|\[[^\]]+\]|[\w$]+)"
_QUALIFIED = rf"(?:{_IDENT}\.)?({_IDENT})"
_CREATE_TABLE = re.compile(rf"^\s*CREATE\s+(?:TEMPORARY\s+)?TABLE\s+(IF\s+NOT\s+EXISTS\s+)?{_QUALIFIED}",
                           re.IGNORECASE)
_CREATE_INDEX = re.compile(rf"^\s*CREATE\s+(?:UNIQUE\s+|FULLTEXT\s+|SPATIAL\s+)?INDEX\s+(IF\s+NOT\s+EXISTS\s+)?"
                           rf"{_QUALIFIED}\s+ON\s+{_QUALIFIED}", re.IGNORECASE)
_CREATE_VIEW = re.compile(rf"^\s*CREATE\s+(OR\s+REPLACE\s+)?(?:[\w=`@%.'\s]+?\s+)?VIEW\s+(IF\s+NOT\s+EXISTS\s+)?"
                          rf"{_QUALIFIED}", re.IGNORECASE)
_CREATE_TRIGGER = re.compile(rf"^\s*CREATE\s+(?:DEFINER\s*=\s*\S+\s+)?(?:TEMP(?:ORARY)?\s+)?TRIGGER\s+"
                             rf"(IF\s+NOT\s+EXISTS\s+)?{_QUALIFIED}", re.IGNORECASE)
_CREATE_ROUTINE = re.compile(rf"^\s*CREATE\s+(?:DEFINER\s*=\s*\S+\s+)?(PROCEDURE|FUNCTION)\s+(IF\s+NOT\s+EXISTS\s+)?"
                             rf"{_QUALIFIED}", re.IGNORECASE)
_DROP = re.compile(rf"^\s*DROP\s+(TABLE|INDEX|VIEW|TRIGGER|PROCEDURE|FUNCTION)\s+(?:IF\s+EXISTS\s+)?{_QUALIFIED}",
                   re.IGNORECASE)
_ALTER_TABLE = re.compile(rf"^\s*ALTER\s+TABLE\s+{_QUALIFIED}\s+(.*)$", re.IGNORECASE | re.DOTALL)
_ADD_COLUMN = re.compile(rf"^\s*ADD\s+(?:COLUMN\s+)?(?!INDEX\b|KEY\b|UNIQUE\b|PRIMARY\b|FOREIGN\b|CONSTRAINT\b|"
                         rf"FULLTEXT\b|SPATIAL\b|CHECK\b)(IF\s+NOT\s+EXISTS\s+)?({_IDENT})", re.IGNORECASE)
_ADD_INDEX = re.compile(rf"^\s*ADD\s+(?:UNIQUE\s+)?(?:INDEX|KEY)\s+(IF\s+NOT\s+EXISTS\s+)?({_IDENT})",
                        re.IGNORECASE)
_ADD_CONSTRAINT = re.compile(rf"^\s*ADD\s+CONSTRAINT\s+({_IDENT})", re.IGNORECASE)
_DROP_COLUMN = re.compile(rf"^\s*DROP\s+(?:COLUMN\s+)?(?!INDEX\b|KEY\b|PRIMARY\b|FOREIGN\b|CONSTRAINT\b|CHECK\b)"
                          rf"(?:IF\s+EXISTS\s+)?({_IDENT})", re.IGNORECASE)
_DROP_INDEX = re.compile(rf"^\s*DROP\s+(?:INDEX|KEY)\s+(?:IF\s+EXISTS\s+)?({_IDENT})", re.IGNORECASE)
_RENAME_COLUMN = re.compile(rf"^\s*RENAME\s+COLUMN\s+({_IDENT})\s+TO\s+({_IDENT})", re.IGNORECASE)


def _unquote(name: str) -> str:
    return name[1:-1] if name[:1] in "`\"[" else name


def _split_clauses(text: str) -> list[str]:
    """ALTER TABLE's comma-separated clauses, ignoring commas inside parentheses and quotes."""
    clauses: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'`\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            clauses.append("".join(current))
            current = []
            continue
        current.append(char)
    clauses.append("".join(current))
    return [c.strip().rstrip(";") for c in clauses if c.strip()]


def _textual(text: str, dialect: str) -> list[Effect] | None:
    def quote(name: str) -> str:
        return f"`{name}`" if dialect == "mysql" else f'"{name}"'

    if match := _CREATE_TABLE.match(text):
        if match.group(1):
            return None
        table = _unquote(match.group(2))
        return [Effect("table", table, inverse=f"DROP TABLE IF EXISTS {quote(table)}",
                       inverse_note="drops the table and any rows written to it since")]
    if match := _CREATE_INDEX.match(text):
        if match.group(1):
            return None
        index, table = _unquote(match.group(2)), _unquote(match.group(3))
        inverse = f"DROP INDEX {quote(index)} ON {quote(table)}" if dialect == "mysql" \
            else f"DROP INDEX IF EXISTS {quote(index)}"
        return [Effect("index", index, table, inverse=inverse)]
    if match := _CREATE_VIEW.match(text):
        if match.group(1) or match.group(2):
            return None
        view = _unquote(match.group(3))
        return [Effect("view", view, inverse=f"DROP VIEW IF EXISTS {quote(view)}")]
    if match := _CREATE_TRIGGER.match(text):
        if match.group(1):
            return None
        trigger = _unquote(match.group(2))
        return [Effect("trigger", trigger, inverse=f"DROP TRIGGER IF EXISTS {quote(trigger)}")]
    if dialect == "mysql" and (match := _CREATE_ROUTINE.match(text)):
        if match.group(2):
            return None
        routine = _unquote(match.group(3))
        return [Effect("function", routine, inverse=f"DROP {match.group(1).upper()} IF EXISTS {quote(routine)}")]
    if match := _DROP.match(text):
        kind = {"TABLE": "table", "INDEX": "index", "VIEW": "view", "TRIGGER": "trigger",
                "PROCEDURE": "function", "FUNCTION": "function"}[match.group(1).upper()]
        return [Effect(kind, _unquote(match.group(2)), expect="absent",  # type: ignore[arg-type]
                       inverse_note=f"the {kind} was dropped: only a backup or the down file brings it back")]
    if match := _ALTER_TABLE.match(text):
        table = _unquote(match.group(1))
        effects = []
        for clause in _split_clauses(match.group(2)):
            if found := _ADD_INDEX.match(clause):
                if found.group(1):
                    return None
                index = _unquote(found.group(2))
                inverse = f"ALTER TABLE {quote(table)} DROP INDEX {quote(index)}"
                effects.append(Effect("index", index, table, inverse=inverse))
            elif found := _ADD_CONSTRAINT.match(clause):
                name = _unquote(found.group(1))
                effects.append(Effect("constraint", name, table))
            elif found := _ADD_COLUMN.match(clause):
                if found.group(1):
                    return None
                column = _unquote(found.group(2))
                effects.append(Effect("column", column, table,
                                      inverse=f"ALTER TABLE {quote(table)} DROP COLUMN {quote(column)}",
                                      inverse_note="drops the column and any values written to it since"))
            elif found := _DROP_INDEX.match(clause):
                effects.append(Effect("index", _unquote(found.group(1)), table, expect="absent"))
            elif found := _RENAME_COLUMN.match(clause):
                old, new = _unquote(found.group(1)), _unquote(found.group(2))
                effects.append(Effect("column", new, table,
                                      inverse=f"ALTER TABLE {quote(table)} RENAME COLUMN {quote(new)} TO {quote(old)}"))
                effects.append(Effect("column", old, table, expect="absent", witness_only=True))
            elif found := _DROP_COLUMN.match(clause):
                effects.append(Effect("column", _unquote(found.group(1)), table, expect="absent",
                                      inverse_note="the column and its values were dropped: only a backup has them"))
            else:
                return None
        return effects or None
    return None
