"""Which lock a PostgreSQL statement takes, on which relation: the model ``lock-timeout-missing`` follows.

Each statement kind's locks were read from a real server (run the statement in a
transaction, read ``pg_locks`` joined to ``pg_class``), and
tests/lint/test_lock_probe.py keeps doing so: for every kind listed there, the
locks below equal the strongest lock the server takes on each relation. Only
locks from SHARE UPDATE EXCLUSIVE up are modelled: weaker ones (ACCESS SHARE,
ROW SHARE, ROW EXCLUSIVE, what reads and writes take) conflict with nothing
but ACCESS EXCLUSIVE, so they never make other sessions queue.

Names are relation names without schema, as the rest of the linter compares them.
"""

from __future__ import annotations

from typing import Any

from .._record import Record
from .pgnodes import alter_cmds, names, relname, unwrap

__all__ = ["Lock", "statement_locks"]

Node = dict[str, Any]

SHARE_UPDATE_EXCLUSIVE = "ShareUpdateExclusiveLock"
SHARE = "ShareLock"
SHARE_ROW_EXCLUSIVE = "ShareRowExclusiveLock"
EXCLUSIVE = "ExclusiveLock"
ACCESS_EXCLUSIVE = "AccessExclusiveLock"

_STRENGTH = {SHARE_UPDATE_EXCLUSIVE: 4, SHARE: 5, SHARE_ROW_EXCLUSIVE: 6, EXCLUSIVE: 7, ACCESS_EXCLUSIVE: 8}
# LOCK TABLE's mode numbers (lockdefs.h), from ACCESS SHARE (1) to ACCESS EXCLUSIVE (8).
_LOCK_MODES = {4: SHARE_UPDATE_EXCLUSIVE, 5: SHARE, 6: SHARE_ROW_EXCLUSIVE, 7: EXCLUSIVE, 8: ACCESS_EXCLUSIVE}
_SQL_NAMES = {SHARE_UPDATE_EXCLUSIVE: "SHARE UPDATE EXCLUSIVE", SHARE: "SHARE",
              SHARE_ROW_EXCLUSIVE: "SHARE ROW EXCLUSIVE", EXCLUSIVE: "EXCLUSIVE",
              ACCESS_EXCLUSIVE: "ACCESS EXCLUSIVE"}


class Lock(Record, frozen=True):
    """A lock on one relation.

    ``kind`` says what ``relation`` names: ``table``, ``view``, ``sequence``, ``index``
    (the index itself), ``index-table`` (the table of index ``relation``), ``type`` (a
    composite type's relation, which queries never lock), or ``others`` (relations the
    statement reaches that its text does not name: tables using a domain, tables a
    dropped foreign key references, what CASCADE drops; ``relation`` is then empty).
    """

    relation: str
    mode: str
    kind: str

    def __init__(self, relation: str, mode: str, kind: str = "table") -> None:
        self.__dict__.update(relation=relation, mode=mode, kind=kind)

    @property
    def sql_mode(self) -> str:
        return _SQL_NAMES[self.mode]

    @property
    def blocks(self) -> str | None:
        """What waits while the lock is held or queued: "queries", "writes", or None."""
        if self.kind == "type":
            return None
        if self.mode == ACCESS_EXCLUSIVE:
            return "queries"
        if self.mode in (SHARE, SHARE_ROW_EXCLUSIVE, EXCLUSIVE):
            return "writes"
        return None

    def describe(self) -> str:
        if self.kind == "index-table":
            return f"the table of index {self.relation}"
        if self.kind == "others":
            return "other tables"
        return f"{self.kind} {self.relation}" if self.kind != "table" else self.relation


def statement_locks(kind: str, node: Node) -> tuple[Lock, ...]:
    """The locks of SHARE UPDATE EXCLUSIVE or stronger that the statement takes on existing relations."""
    handler = _HANDLERS.get(kind)
    return tuple(handler(node)) if handler is not None else ()


def strongest(locks: list[Lock]) -> list[Lock]:
    """One lock per relation and kind, the strongest one."""
    best: dict[tuple[str, str], Lock] = {}
    for found in locks:
        key = (found.relation, found.kind)
        if key not in best or _STRENGTH[found.mode] > _STRENGTH[best[key].mode]:
            best[key] = found
    return list(best.values())


# -- ALTER TABLE (and ALTER INDEX / VIEW / SEQUENCE / TYPE, which share its node) ------------

_ALTER_KINDS = {"OBJECT_TABLE": "table", "OBJECT_FOREIGN_TABLE": "table", "OBJECT_MATVIEW": "view",
                "OBJECT_VIEW": "view", "OBJECT_SEQUENCE": "sequence", "OBJECT_INDEX": "index",
                "OBJECT_TYPE": "type"}

# AlterTableGetLockLevel: what each subcommand takes on the altered relation (the rest: ACCESS EXCLUSIVE).
_SUBCOMMAND_MODES = {
    "AT_SetStatistics": SHARE_UPDATE_EXCLUSIVE, "AT_ClusterOn": SHARE_UPDATE_EXCLUSIVE,
    "AT_DropCluster": SHARE_UPDATE_EXCLUSIVE, "AT_SetOptions": SHARE_UPDATE_EXCLUSIVE,
    "AT_ResetOptions": SHARE_UPDATE_EXCLUSIVE, "AT_ValidateConstraint": SHARE_UPDATE_EXCLUSIVE,
    "AT_AttachPartition": SHARE_UPDATE_EXCLUSIVE, "AT_DetachPartitionFinalize": SHARE_UPDATE_EXCLUSIVE,
    "AT_EnableTrig": SHARE_ROW_EXCLUSIVE, "AT_EnableAlwaysTrig": SHARE_ROW_EXCLUSIVE,
    "AT_EnableReplicaTrig": SHARE_ROW_EXCLUSIVE, "AT_EnableTrigAll": SHARE_ROW_EXCLUSIVE,
    "AT_EnableTrigUser": SHARE_ROW_EXCLUSIVE, "AT_DisableTrig": SHARE_ROW_EXCLUSIVE,
    "AT_DisableTrigAll": SHARE_ROW_EXCLUSIVE, "AT_DisableTrigUser": SHARE_ROW_EXCLUSIVE,
}
# Storage parameters of tables and indexes (fillfactor, autovacuum_*) take SHARE UPDATE EXCLUSIVE;
# a view's (security_barrier, check_option) take ACCESS EXCLUSIVE.
_REL_OPTIONS = {"AT_SetRelOptions", "AT_ResetRelOptions", "AT_ReplaceRelOptions"}


def _alter_table(node: Node) -> list[Lock]:
    kind = _ALTER_KINDS.get(node.get("objtype", "OBJECT_TABLE"), "table")
    target = relname(node.get("relation"))
    locks: list[Lock] = []
    for cmd in alter_cmds(node):
        subtype = cmd.get("subtype", "AT_AddColumn")
        definition = unwrap(cmd.get("def"))[1]
        mode = _SUBCOMMAND_MODES.get(subtype, ACCESS_EXCLUSIVE)
        if subtype in _REL_OPTIONS:
            mode = ACCESS_EXCLUSIVE if kind == "view" else SHARE_UPDATE_EXCLUSIVE
        elif subtype == "AT_AddConstraint" and definition.get("contype") == "CONSTR_FOREIGN":
            mode = SHARE_ROW_EXCLUSIVE
            locks.append(Lock(relname(definition.get("pktable")), SHARE_ROW_EXCLUSIVE))
        elif subtype == "AT_AddColumn":
            locks += [Lock(t, SHARE_ROW_EXCLUSIVE) for t in _references(definition)]
        elif subtype == "AT_AttachPartition":
            locks.append(Lock(relname(definition.get("name")), ACCESS_EXCLUSIVE))
        elif subtype == "AT_DetachPartition":
            mode = SHARE_UPDATE_EXCLUSIVE if definition.get("concurrent") else ACCESS_EXCLUSIVE
            locks.append(Lock(relname(definition.get("name")), mode))
        elif subtype == "AT_AddInherit":
            locks.append(Lock(relname(cmd.get("def")), SHARE_UPDATE_EXCLUSIVE))
        elif subtype == "AT_DropConstraint":
            # A foreign key's triggers live on the table it references too.
            locks.append(Lock("", ACCESS_EXCLUSIVE, "others"))
        locks.append(Lock(target, mode, kind))
    return strongest(locks)


def _references(fields: Node) -> list[str]:
    """Tables a column definition's REFERENCES point at."""
    found: list[str] = []
    for constraint in fields.get("constraints") or ():  # plain lookups: this runs for every column
        inner = constraint.get("Constraint") if isinstance(constraint, dict) else None
        if inner and inner.get("contype") == "CONSTR_FOREIGN":
            found.append(relname(inner.get("pktable")))
    return found


# -- CREATE ---------------------------------------------------------------------------------


def _create_table(node: Node) -> list[Lock]:
    locks: list[Lock] = []
    partition = bool(node.get("partbound"))
    for parent in node.get("inhRelations") or ():
        # PARTITION OF locks the parent against everything; INHERITS only against DDL.
        locks.append(Lock(relname(parent), ACCESS_EXCLUSIVE if partition else SHARE_UPDATE_EXCLUSIVE))
    for element in node.get("tableElts") or ():
        if not isinstance(element, dict):
            continue
        column = element.get("ColumnDef")
        if column is not None:
            locks += [Lock(t, SHARE_ROW_EXCLUSIVE) for t in _references(column)]
            continue
        fields = element.get("Constraint")
        if fields and fields.get("contype") == "CONSTR_FOREIGN":
            locks.append(Lock(relname(fields.get("pktable")), SHARE_ROW_EXCLUSIVE))
    return strongest(locks)


def _index(node: Node) -> list[Lock]:
    mode = SHARE_UPDATE_EXCLUSIVE if node.get("concurrent") else SHARE
    return [Lock(relname(node.get("relation")), mode)]


def _view(node: Node) -> list[Lock]:
    # CREATE OR REPLACE VIEW locks the view it replaces; a plain CREATE VIEW makes a new one.
    return [Lock(relname(node.get("view")), ACCESS_EXCLUSIVE, "view")] if node.get("replace") else []


def _trigger(node: Node) -> list[Lock]:
    return [Lock(relname(node.get("relation")), SHARE_ROW_EXCLUSIVE)]


def _policy(node: Node) -> list[Lock]:
    return [Lock(relname(node.get("table")), ACCESS_EXCLUSIVE)]


def _on_relation(mode: str, kind: str = "table") -> Any:
    def handler(node: Node) -> list[Lock]:
        return [Lock(relname(node.get("relation")), mode, kind)]

    return handler


def _statistics(node: Node) -> list[Lock]:
    return [Lock(relname(r), SHARE_UPDATE_EXCLUSIVE) for r in node.get("relations") or ()]


# -- DROP, RENAME, SET SCHEMA, COMMENT --------------------------------------------------------

_RELATION_KINDS = {"OBJECT_TABLE": "table", "OBJECT_FOREIGN_TABLE": "table", "OBJECT_VIEW": "view",
                   "OBJECT_MATVIEW": "view", "OBJECT_SEQUENCE": "sequence"}
# Objects that belong to a table: DROP/ALTER ... ON table lock the table.
_TABLE_MEMBERS = {"OBJECT_TRIGGER", "OBJECT_POLICY", "OBJECT_RULE"}


def _object_path(obj: Any) -> list[str]:
    if isinstance(obj, dict) and "List" in obj:
        return names(obj["List"].get("items"))
    if isinstance(obj, dict) and "String" in obj:
        return [obj["String"].get("sval", "")]
    return []


def _drop(node: Node) -> list[Lock]:
    remove = node.get("removeType", "")
    cascade = node.get("behavior") == "DROP_CASCADE"
    locks: list[Lock] = []
    for obj in node.get("objects") or ():
        path = _object_path(obj)
        if not path:
            continue
        if remove in _RELATION_KINDS:
            locks.append(Lock(path[-1], ACCESS_EXCLUSIVE, _RELATION_KINDS[remove]))
        elif remove == "OBJECT_INDEX":
            mode = SHARE_UPDATE_EXCLUSIVE if node.get("concurrent") else ACCESS_EXCLUSIVE
            locks.append(Lock(path[-1], mode, "index-table"))
        elif remove in _TABLE_MEMBERS and len(path) > 1:
            locks.append(Lock(path[-2], ACCESS_EXCLUSIVE))
    if remove in ("OBJECT_TABLE", "OBJECT_EXTENSION") or cascade:
        # A dropped table's foreign keys lock the tables they reference; CASCADE drops dependents
        # (the columns of a type, the triggers of a function, the views of a table); an
        # extension drops its own tables and views.
        locks.append(Lock("", ACCESS_EXCLUSIVE, "others"))
    return strongest(locks)


def _rename(node: Node) -> list[Lock]:
    rename = node.get("renameType", "")
    target = relname(node.get("relation"))
    if rename == "OBJECT_INDEX":
        return [Lock(target, SHARE_UPDATE_EXCLUSIVE, "index")]
    if rename in _RELATION_KINDS:
        return [Lock(target, ACCESS_EXCLUSIVE, _RELATION_KINDS[rename])]
    if rename in ("OBJECT_COLUMN", "OBJECT_TABCONSTRAINT", *_TABLE_MEMBERS) and target:
        kind = _RELATION_KINDS.get(node.get("relationType", ""), "table")
        return [Lock(target, ACCESS_EXCLUSIVE, kind)]
    if rename == "OBJECT_ATTRIBUTE":
        return [Lock(target, ACCESS_EXCLUSIVE, "type")]
    return []


def _set_schema(node: Node) -> list[Lock]:
    kind = _RELATION_KINDS.get(node.get("objectType", ""))
    return [Lock(relname(node.get("relation")), ACCESS_EXCLUSIVE, kind)] if kind else []


_COMMENT_KINDS = {**_RELATION_KINDS, "OBJECT_INDEX": "index"}


def _comment(node: Node) -> list[Lock]:
    objtype = node.get("objtype", "")
    path = _object_path(node.get("object"))
    if objtype in _COMMENT_KINDS and path:
        return [Lock(path[-1], SHARE_UPDATE_EXCLUSIVE, _COMMENT_KINDS[objtype])]
    if objtype == "OBJECT_COLUMN" and len(path) > 1:
        return [Lock(path[-2], SHARE_UPDATE_EXCLUSIVE)]
    return []


# -- sequences, domains, data, maintenance ------------------------------------------------------


def _alter_sequence(node: Node) -> list[Lock]:
    # SHARE ROW EXCLUSIVE conflicts with the ROW EXCLUSIVE lock nextval() takes: inserts wait.
    return [Lock(relname(node.get("sequence")), SHARE_ROW_EXCLUSIVE, "sequence")]


def _alter_domain(node: Node) -> list[Lock]:
    subtype = node.get("subtype", "")
    constraint = unwrap(node.get("def"))[1]
    validated_check = subtype == "C" and not constraint.get("skip_validation")
    if validated_check or subtype in ("O", "V"):
        # Checking the rows of every column of the domain: writes to those tables wait.
        return [Lock("", SHARE, "others")]
    return []


def _truncate(node: Node) -> list[Lock]:
    return [Lock(relname(r), ACCESS_EXCLUSIVE) for r in node.get("relations") or ()]


def _lock(node: Node) -> list[Lock]:
    mode = _LOCK_MODES.get(node.get("mode", 8))
    return [Lock(relname(r), mode) for r in node.get("relations") or ()] if mode else []


def _refresh(node: Node) -> list[Lock]:
    mode = EXCLUSIVE if node.get("concurrent") else ACCESS_EXCLUSIVE
    return [Lock(relname(node.get("relation")), mode, "view")]


def _cluster(node: Node) -> list[Lock]:
    table = relname(node.get("relation"))
    return [Lock(table, ACCESS_EXCLUSIVE) if table else Lock("", ACCESS_EXCLUSIVE, "others")]


def _reindex(node: Node) -> list[Lock]:
    concurrent = any(unwrap(p)[1].get("defname") == "concurrently" for p in node.get("params") or ())
    mode = SHARE_UPDATE_EXCLUSIVE if concurrent else SHARE
    name = relname(node.get("relation"))
    kind = node.get("kind", "")
    if kind == "REINDEX_OBJECT_INDEX":
        index = [] if concurrent else [Lock(name, ACCESS_EXCLUSIVE, "index")]
        return [Lock(name, mode, "index-table"), *index]
    if kind == "REINDEX_OBJECT_TABLE":
        return [Lock(name, mode)]
    return [Lock("", mode, "others")]


def _vacuum(node: Node) -> list[Lock]:
    full = any(unwrap(o)[1].get("defname") == "full" for o in node.get("options") or ())
    mode = ACCESS_EXCLUSIVE if full else SHARE_UPDATE_EXCLUSIVE
    tables = [relname(unwrap(r)[1].get("relation")) for r in node.get("rels") or ()]
    return [Lock(t, mode) for t in tables] if tables else [Lock("", mode, "others")]


_HANDLERS: dict[str, Any] = {
    "AlterTableStmt": _alter_table,
    "CreateStmt": _create_table,
    "IndexStmt": _index,
    "ViewStmt": _view,
    "CreateTrigStmt": _trigger,
    "CreatePolicyStmt": _policy,
    "AlterPolicyStmt": _policy,
    "RuleStmt": _on_relation(ACCESS_EXCLUSIVE),
    "CreateStatsStmt": _statistics,
    "DropStmt": _drop,
    "RenameStmt": _rename,
    "AlterObjectSchemaStmt": _set_schema,
    "CommentStmt": _comment,
    "AlterSeqStmt": _alter_sequence,
    "AlterDomainStmt": _alter_domain,
    "TruncateStmt": _truncate,
    "LockStmt": _lock,
    "RefreshMatViewStmt": _refresh,
    "ClusterStmt": _cluster,
    "ReindexStmt": _reindex,
    "VacuumStmt": _vacuum,
}
# Statements with no entry take no lock that makes others wait: ALTER TYPE ... ADD VALUE and
# RENAME lock only the type (queries never lock types), CREATE FUNCTION, GRANT and DML take
# ROW EXCLUSIVE or weaker.
