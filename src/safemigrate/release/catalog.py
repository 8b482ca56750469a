"""What the pending SQL touches, looked up on the live database (PostgreSQL's catalog).

The runbook says "drop columns without checking dependencies" is a DON'T, and
"run long operations in a maintenance window". A linter only sees the file; this
module sees the database the file will run on:

* :func:`statement_targets` reads each statement (PostgreSQL's own parser) for the
  tables, columns and types it drops, renames, rewrites or scans;
* :func:`dependents` lists what depends on each dropped or renamed object
  (views, foreign keys, indexes, triggers, policies, defaults: ``pg_depend``);
* :func:`relation_sizes` gives the size and estimated rows of each table a
  statement rewrites or scans under its lock;
* :func:`blocking_sessions` names the sessions that would block our locks, or
  queue everyone behind them (long transactions, idle in transaction);
* :func:`replication_lag` reads ``pg_stat_replication``.

Everything here is read-only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from ..drivers.base import Driver

__all__ = [
    "BlockingSession",
    "Dependent",
    "RelationSize",
    "ReplicaLag",
    "Target",
    "blocking_sessions",
    "dependents",
    "relation_sizes",
    "replication_lag",
    "statement_targets",
]

Action = Literal["drop", "rename", "rewrite", "scan", "alter"]
ObjectKind = Literal["table", "column", "type", "view"]


@dataclass(frozen=True)
class Target:
    """One object a statement acts on: ``drop column public.users.email``."""

    action: Action
    kind: ObjectKind
    table: str  # schema-qualified when the file qualifies it; the type's name for a type
    column: str | None = None
    statement: int = 0  # 0-based index of the statement in its file

    def describe(self) -> str:
        what = f"{self.table}.{self.column}" if self.column else self.table
        return f"{self.action} {self.kind} {what}"


# -- reading the statements -------------------------------------------------------------------

def _qualified(relation: dict[str, Any]) -> str:
    schema = relation.get("schemaname")
    name = str(relation.get("relname", ""))
    return f"{schema}.{name}" if schema else name


def _names(items: list[Any]) -> str:
    parts = [item["String"]["sval"] for item in items if "String" in item]
    return ".".join(parts)


_DROP_KINDS: dict[str, ObjectKind] = {"OBJECT_TABLE": "table", "OBJECT_VIEW": "view",
                                      "OBJECT_MATVIEW": "view", "OBJECT_TYPE": "type",
                                      "OBJECT_DOMAIN": "type"}


def statement_targets(sql: str) -> list[Target]:
    """The drops, renames, rewrites and scans of a PostgreSQL file; [] when it does not parse."""
    from ..sql.postgres import pglast_parser

    parser = pglast_parser()  # the parser alone, not all of pglast's Enum classes and AST

    try:
        tree = json.loads(parser.parse_sql_json(sql))
    except parser.ParseError:
        return []
    targets: list[Target] = []
    for index, raw in enumerate(tree.get("stmts") or ()):
        ((kind, node),) = raw["stmt"].items()
        targets.extend(_targets_of(kind, node, index))
    return targets


def _targets_of(kind: str, node: dict[str, Any], index: int) -> list[Target]:
    if kind == "DropStmt":
        object_kind = _DROP_KINDS.get(node.get("removeType", ""))
        if object_kind is None:
            return []
        found = []
        for obj in node.get("objects") or ():
            if "List" in obj:
                name = _names(obj["List"]["items"])
            elif "TypeName" in obj:
                name = _names(obj["TypeName"]["names"])
            else:
                continue
            found.append(Target("drop", object_kind, name, statement=index))
        return found
    if kind == "RenameStmt" and "relation" in node:
        table = _qualified(node["relation"])
        if node.get("renameType") == "OBJECT_COLUMN":
            return [Target("rename", "column", table, node.get("subname"), index)]
        if node.get("renameType") in ("OBJECT_TABLE", "OBJECT_VIEW"):
            return [Target("rename", "table", table, statement=index)]
        return []
    if kind == "AlterTableStmt" and node.get("objtype", "OBJECT_TABLE") == "OBJECT_TABLE":
        table = _qualified(node["relation"])
        # Every ALTER TABLE takes a lock on the table (and needs its owner's rights).
        found = [Target("alter", "table", table, statement=index)]
        for item in node.get("cmds") or ():
            cmd = item.get("AlterTableCmd", {})
            subtype = cmd.get("subtype")
            if subtype == "AT_DropColumn":
                found.append(Target("drop", "column", table, cmd.get("name"), index))
            elif subtype == "AT_AlterColumnType":
                found.append(Target("rewrite", "column", table, cmd.get("name"), index))
            elif subtype == "AT_SetNotNull":
                found.append(Target("scan", "column", table, cmd.get("name"), index))
            elif subtype == "AT_AddConstraint":
                constraint = cmd.get("def", {}).get("Constraint", {})
                if _constraint_scans(constraint):
                    found.append(Target("scan", "table", table, statement=index))
            elif subtype == "AT_ValidateConstraint":
                found.append(Target("scan", "table", table, statement=index))
        return found
    return []


def _constraint_scans(constraint: dict[str, Any]) -> bool:
    """A validated FK or CHECK reads every row; a new PK/UNIQUE/EXCLUDE builds an index over them."""
    contype = constraint.get("contype")
    if contype in ("CONSTR_FOREIGN", "CONSTR_CHECK"):
        return not constraint.get("skip_validation")
    return contype in ("CONSTR_PRIMARY", "CONSTR_UNIQUE", "CONSTR_EXCLUSION") and not constraint.get("indexname")


# -- what depends on it -----------------------------------------------------------------------

@dataclass(frozen=True)
class Dependent:
    target: Target
    description: str  # "view active_users", "constraint messages_user_id_fkey on table messages"
    goes_with_it: bool  # dropped automatically with the target (its own index), else it blocks or breaks

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target.describe(), "dependent": self.description,
                "dropped_with_it": self.goes_with_it}


_DEPENDENTS_SQL = """
SELECT DISTINCT
       CASE WHEN d.classid = 'pg_rewrite'::regclass
            THEN (SELECT CASE c.relkind WHEN 'm' THEN 'materialized view ' ELSE 'view ' END
                         || r.ev_class::regclass::text
                  FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class WHERE r.oid = d.objid)
            ELSE pg_describe_object(d.classid, d.objid, d.objsubid) END AS dependent,
       d.deptype = 'a' AS goes_with_it
FROM pg_depend d
WHERE d.refclassid = %s::regclass AND d.refobjid = %s AND (%s = 0 OR d.refobjsubid = %s)
  AND d.deptype IN ('n', 'a')
  AND NOT (d.classid = 'pg_rewrite'::regclass
           AND (SELECT r.ev_class FROM pg_rewrite r WHERE r.oid = d.objid) = %s)
  AND NOT (d.classid = 'pg_type'::regclass)
ORDER BY 1
"""


def _oid(driver: Driver, target: Target) -> tuple[str, int, int] | None:
    """(catalog, oid, column number) of an existing target; None when it does not exist (yet)."""
    if target.kind == "type":
        rows = driver.query("SELECT to_regtype(%s)::oid", [target.table])
        return ("pg_type", int(rows[0][0]), 0) if rows and rows[0][0] else None
    rows = driver.query("SELECT to_regclass(%s)::oid", [target.table])
    if not rows or not rows[0][0]:
        return None
    oid = int(rows[0][0])
    if target.column is None:
        return ("pg_class", oid, 0)
    column = driver.query("SELECT attnum FROM pg_attribute WHERE attrelid = %s AND attname = %s "
                          "AND NOT attisdropped", [oid, target.column])
    return ("pg_class", oid, int(column[0][0])) if column else None


def dependents(driver: Driver, targets: list[Target]) -> list[Dependent]:
    """What depends on each target that is dropped or renamed (PostgreSQL only)."""
    found: list[Dependent] = []
    for target in targets:
        if target.action not in ("drop", "rename", "rewrite"):
            continue
        located = _oid(driver, target)
        if located is None:
            continue
        catalog, oid, column = located
        for description, goes_with_it in driver.query(_DEPENDENTS_SQL, [catalog, oid, column, column, oid]):
            if description:
                found.append(Dependent(target, str(description), bool(goes_with_it)))
    return found


# -- how big, who is in the way, how far behind -----------------------------------------------

@dataclass(frozen=True)
class RelationSize:
    table: str
    bytes: int
    rows: int  # the planner's estimate (reltuples)
    targets: tuple[Target, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "bytes": self.bytes, "estimated_rows": self.rows,
                "because": [t.describe() for t in self.targets]}


def relation_sizes(driver: Driver, targets: list[Target]) -> list[RelationSize]:
    """Size and estimated rows of each existing table that a target rewrites or scans."""
    by_table: dict[str, list[Target]] = {}
    for target in targets:
        if target.action in ("rewrite", "scan") and target.kind in ("table", "column"):
            by_table.setdefault(target.table, []).append(target)
    sizes = []
    for table, its_targets in by_table.items():
        rows = driver.query(
            "SELECT pg_total_relation_size(c.oid), GREATEST(c.reltuples, 0)::bigint "
            "FROM pg_class c WHERE c.oid = to_regclass(%s)", [table])
        if rows:
            sizes.append(RelationSize(table, int(rows[0][0]), int(rows[0][1]), tuple(its_targets)))
    return sizes


@dataclass(frozen=True)
class BlockingSession:
    pid: int
    user: str | None
    application: str | None
    state: str | None
    transaction_seconds: float | None
    query: str
    table: str

    def describe(self) -> str:
        age = f", transaction open {self.transaction_seconds:.0f} s" if self.transaction_seconds else ""
        app = f" ({self.application})" if self.application else ""
        return f"pid {self.pid}{app} by {self.user}, {self.state}{age}, on {self.table}: {self.query}"

    def to_dict(self) -> dict[str, Any]:
        return {"pid": self.pid, "user": self.user, "application": self.application, "state": self.state,
                "transaction_seconds": self.transaction_seconds, "query": self.query, "table": self.table}


def blocking_sessions(driver: Driver, tables: list[str], *, older_than: float = 60.0) -> list[BlockingSession]:
    """Sessions holding a lock on ``tables`` that are idle in a transaction or in one for ``older_than`` s.

    Our ALTER waits behind them, and every query on the table queues behind our ALTER.
    """
    if not tables:
        return []
    rows = driver.query(
        """
        SELECT DISTINCT a.pid, a.usename, a.application_name, a.state,
               EXTRACT(EPOCH FROM now() - a.xact_start)::float8, left(a.query, 200), l.relation::regclass::text
        FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.relation = ANY (SELECT to_regclass(t) FROM unnest(%s::text[]) AS t)
          AND a.pid <> pg_backend_pid()
          AND (a.state LIKE 'idle in transaction%%' OR now() - a.xact_start > make_interval(secs => %s))
        ORDER BY a.pid
        """, [tables, older_than])
    return [BlockingSession(int(pid), user, app, state, seconds, " ".join(str(query or "").split()), str(table))
            for pid, user, app, state, seconds, query, table in rows]


@dataclass(frozen=True)
class ReplicaLag:
    name: str
    state: str | None
    replay_lag_seconds: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"replica": self.name, "state": self.state, "replay_lag_seconds": self.replay_lag_seconds}


def replication_lag(driver: Driver) -> list[ReplicaLag]:
    """Each replica in ``pg_stat_replication`` (empty for a role that may not see them, or none)."""
    rows = driver.query(
        "SELECT coalesce(application_name, client_addr::text, pid::text), state, "
        "EXTRACT(EPOCH FROM replay_lag)::float8 FROM pg_stat_replication ORDER BY 1")
    return [ReplicaLag(str(name), state, lag) for name, state, lag in rows]
