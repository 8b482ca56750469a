"""How the file meets our runner's transaction: one transaction per file unless it cannot be."""

from __future__ import annotations

from collections.abc import Iterator

from ..context import FileContext, Hit, Stmt
from ..model import Severity
from ..registry import Example, rule

ALL = ("postgres", "sqlite", "mysql")


def _first_line(stmt: Stmt) -> str:
    line = stmt.text.strip().splitlines()[0] if stmt.text.strip() else stmt.kind
    return line if len(line) <= 60 else line[:57] + "..."


@rule(
    "non-transactional-mixed",
    severity=Severity.ERROR,
    summary="A statement that cannot run in a transaction makes the whole file run without one",
    rationale="""
Our runner runs a file and its version update in one transaction, so a
failure leaves nothing half-done. A statement that PostgreSQL (or SQLite)
refuses inside a transaction, such as CREATE INDEX CONCURRENTLY, VACUUM or
PRAGMA foreign_keys, forces the runner to run the file statement by
statement instead: if a later statement fails, the earlier ones stay
applied and the database is left dirty, to be repaired by hand. A file whose
other statements are all safe to run twice (SET, ALTER TYPE ... ADD VALUE IF
NOT EXISTS, DROP INDEX CONCURRENTLY IF EXISTS, CREATE ... IF NOT EXISTS,
CREATE OR REPLACE) is not reported: running it again after a failure finishes
the job.
""",
    alternative="""
Move the statement into a migration of its own, or, as the runbook's example
does, wrap the other statements in your own BEGIN/COMMIT. Add the
`-- safemigrate:no-transaction` marker when statement-by-statement is intended.

```sql
-- 000007_orders_status.up.sql
ALTER TABLE orders ADD COLUMN status text;
-- 000008_orders_status_index.up.sql
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_orders_status ON orders (status);
```
""",
    examples=[
        Example("ALTER TABLE orders ADD COLUMN status text;\n"
                "CREATE INDEX CONCURRENTLY idx_orders_status ON orders (status);",
                "CREATE INDEX CONCURRENTLY idx_orders_status ON orders (status);"),
        Example("PRAGMA foreign_keys = OFF;\nALTER TABLE orders ADD COLUMN status text;\n"
                "CREATE INDEX idx_orders_status ON orders (status);",
                "BEGIN;\nALTER TABLE orders ADD COLUMN status text;\n"
                "CREATE INDEX idx_orders_status ON orders (status);\nCOMMIT;", dialect="sqlite"),
    ],
    dialects=("postgres", "sqlite"),
    scope="file",
)
def non_transactional_mixed(ctx: FileContext) -> Iterator[Hit]:
    if ctx.wrapped or any(s.transaction_control for s in ctx.statements):
        return
    from ...sql.script import has_no_transaction_marker

    if has_no_transaction_marker(ctx.source.text):
        return
    outside = [s for s in ctx.statements if not s.transactional]
    changes = [s for s in ctx.statements
               if s.transactional and s.facts.category in ("ddl", "dml")]
    if not (outside and changes):
        return
    # Judge by what a re-run does after a failure at each statement: a failure leaves the
    # statements before it applied, and the fix is to run the file again. That is harmless when
    # every statement that can be left behind (all but the last) is safe to run twice.
    left_behind = [s for s in ctx.statements[:-1] if not rerun_safe(s, ctx.dialect)]
    if not left_behind:
        return
    first = outside[0]
    yield Hit(f"line {first.line} ({_first_line(first)}) cannot run in a transaction, so this "
              f"file runs statement by statement: if a statement after line {left_behind[0].line} "
              f"fails, line {left_behind[0].line} stays applied and fails or acts twice when the "
              "file is run again", first.start)


# ALTER TABLE actions that leave the table the same when run a second time.
_IDEMPOTENT_ALTERS = {"AT_SetNotNull", "AT_DropNotNull", "AT_ColumnDefault", "AT_ValidateConstraint",
                      "AT_SetStatistics", "AT_SetOptions", "AT_ResetOptions", "AT_SetStorage",
                      "AT_AlterColumnType", "AT_SetRelOptions", "AT_ResetRelOptions", "AT_ClusterOn",
                      "AT_DropCluster", "AT_SetLogged", "AT_SetUnLogged", "AT_ChangeOwner",
                      "AT_EnableTrig", "AT_DisableTrig", "AT_EnableRowSecurity", "AT_DisableRowSecurity",
                      "AT_ForceRowSecurity", "AT_NoForceRowSecurity", "AT_ReplicaIdentity"}
# Statements that succeed again, with the same result, when run a second time.
_RERUNNABLE_KINDS = {"VariableSetStmt", "SelectStmt", "CommentStmt", "GrantStmt", "GrantRoleStmt",
                     "VacuumStmt", "ReindexStmt", "ClusterStmt", "NotifyStmt",
                     "AlterOwnerStmt", "AlterDefaultPrivilegesStmt", "SecLabelStmt", "LockStmt",
                     "TransactionStmt", "CheckPointStmt", "VariableShowStmt", "ExplainStmt"}


def rerun_safe(stmt: Stmt, dialect: str) -> bool:
    """Whether running ``stmt`` a second time succeeds and changes nothing more.

    Guarded forms (IF [NOT] EXISTS, OR REPLACE, ADD VALUE IF NOT EXISTS,
    ON CONFLICT DO NOTHING), settings and idempotent ALTER TABLE actions are;
    anything else (a plain CREATE, an ADD CONSTRAINT, an UPDATE) is taken not to be.
    """
    if dialect != "postgres":
        return _text_rerun_safe(stmt)
    kind, node = stmt.kind, stmt.node
    if kind in _RERUNNABLE_KINDS:
        return stmt.facts.category != "ddl"  # SELECT ... INTO creates a table
    if kind in ("CreateStmt", "IndexStmt", "CreateSeqStmt", "CreateSchemaStmt", "CreateExtensionStmt",
                "CreateTableAsStmt", "CreateForeignTableStmt"):
        return bool(node.get("if_not_exists") or (node.get("into") or {}).get("if_not_exists"))
    if kind in ("DropStmt", "DropRoleStmt", "DropdbStmt", "DropTableSpaceStmt"):
        return bool(node.get("missing_ok"))
    if kind == "AlterEnumStmt":
        return bool(node.get("skipIfNewValExists"))
    if kind in ("CreateFunctionStmt", "ViewStmt", "CreateTrigStmt", "RuleStmt"):
        return bool(node.get("replace"))
    if kind == "InsertStmt":
        conflict = node.get("onConflictClause") or {}
        return conflict.get("action") == "ONCONFLICT_NOTHING"
    if kind == "AlterTableStmt":
        from ..pgnodes import alter_cmds

        return all(_alter_cmd_rerun_safe(cmd) for cmd in alter_cmds(node))
    return False


def _alter_cmd_rerun_safe(cmd: dict[str, object]) -> bool:
    subtype = cmd.get("subtype", "AT_AddColumn")
    if subtype in ("AT_AddColumn", "AT_DropColumn", "AT_DropConstraint"):
        return bool(cmd.get("missing_ok"))
    return subtype in _IDEMPOTENT_ALTERS


def _text_rerun_safe(stmt: Stmt) -> bool:
    """SQLite/MySQL: settings, queries, and CREATE/DROP guarded by IF [NOT] EXISTS."""
    if stmt.facts.category not in ("ddl", "dml"):
        return True
    words = [t.value for t in stmt.tokens[:8] if t.kind == "word"]
    return bool(words) and words[0] in ("CREATE", "DROP") and "EXISTS" in words


@rule(
    "cannot-run-in-transaction",
    severity=Severity.ERROR,
    summary="This statement fails inside a transaction block (BEGIN ... COMMIT)",
    rationale="""
CREATE INDEX CONCURRENTLY, DROP INDEX CONCURRENTLY, REINDEX CONCURRENTLY,
VACUUM, CREATE DATABASE and a few others refuse to run inside a transaction
block, so the migration fails at this line (and, in a file our runner runs
statement by statement, leaves everything before it applied). SQLite
ignores PRAGMA foreign_keys inside a transaction.
""",
    alternative="""
COMMIT your own transaction before this statement, as the runbook's example does.

```sql
BEGIN;
ALTER TABLE users ADD COLUMN last_seen timestamptz;
COMMIT;
CREATE INDEX CONCURRENTLY idx_users_last_seen ON users (last_seen);
```
""",
    examples=[
        Example("BEGIN;\nCREATE INDEX CONCURRENTLY idx_users_email ON users (email);\nCOMMIT;",
                "CREATE INDEX CONCURRENTLY idx_users_email ON users (email);"),
        Example("BEGIN;\nVACUUM;\nCOMMIT;", "VACUUM;", dialect="sqlite"),
    ],
    dialects=("postgres", "sqlite"),
    squawk=("ban-concurrent-index-creation-in-transaction",),
)
def cannot_run_in_transaction(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    if not stmt.transactional and ctx.tx_open:
        yield Hit(f"{_first_line(stmt)} cannot run inside the transaction block opened above")


@rule(
    "transaction-nesting",
    severity=Severity.WARNING,
    summary="BEGIN inside an open transaction does not start a new one",
    rationale="""
A second BEGIN in an open transaction is ignored with a warning
(PostgreSQL), an error (SQLite), or silently commits the open transaction
(MySQL); the matching COMMIT then ends the outer transaction early, so
statements meant to be atomic together are not.
""",
    alternative="""
Use one BEGIN/COMMIT pair, and SAVEPOINT for a nested unit.

```sql
BEGIN;
ALTER TABLE users ADD COLUMN note text;
SAVEPOINT before_backfill;
COMMIT;
```
""",
    examples=[
        Example("BEGIN;\nBEGIN;\nALTER TABLE users ADD COLUMN note text;\nCOMMIT;",
                "BEGIN;\nALTER TABLE users ADD COLUMN note text;\nCOMMIT;"),
        Example("BEGIN;\nBEGIN;\nALTER TABLE users ADD COLUMN note text;\nCOMMIT;",
                "BEGIN;\nALTER TABLE users ADD COLUMN note text;\nCOMMIT;", dialect="sqlite"),
        Example("START TRANSACTION;\nSTART TRANSACTION;\nUPDATE users SET note = '' WHERE id = 1;\nCOMMIT;",
                "START TRANSACTION;\nUPDATE users SET note = '' WHERE id = 1;\nCOMMIT;", dialect="mysql"),
    ],
    dialects=ALL,
    squawk=("transaction-nesting",),
)
def transaction_nesting(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    if stmt.facts.tx == "begin" and ctx.tx_open:
        yield Hit("BEGIN inside an open transaction does not start a new one")


@rule(
    "uncommitted-transaction",
    severity=Severity.ERROR,
    summary="The file opens a transaction and never commits it",
    rationale="""
A BEGIN without COMMIT (or ROLLBACK) leaves the transaction open when the
file ends: the runner's version update lands inside it, and the whole
migration is rolled back when the connection closes, or the open
transaction keeps its locks until it does.
""",
    alternative="""
End every transaction you open with COMMIT (or ROLLBACK).

```sql
BEGIN;
ALTER TABLE users ADD COLUMN note text;
COMMIT;
```
""",
    examples=[
        Example("BEGIN;\nALTER TABLE users ADD COLUMN note text;",
                "BEGIN;\nALTER TABLE users ADD COLUMN note text;\nCOMMIT;"),
        Example("BEGIN;\nALTER TABLE users ADD COLUMN note text;",
                "BEGIN;\nALTER TABLE users ADD COLUMN note text;\nCOMMIT;", dialect="sqlite"),
        Example("START TRANSACTION;\nUPDATE users SET note = '' WHERE id = 1;",
                "START TRANSACTION;\nUPDATE users SET note = '' WHERE id = 1;\nCOMMIT;",
                dialect="mysql"),
    ],
    dialects=ALL,
    scope="file",
    squawk=("ban-uncommitted-transaction",),
)
def uncommitted_transaction(ctx: FileContext) -> Iterator[Hit]:
    if not ctx.tx_open:
        return
    begins = [s for s in ctx.statements if s.facts.tx == "begin"]
    where = begins[-1].start if begins else None
    yield Hit("this transaction is never committed", where)


@rule(
    "enum-add-value-in-transaction",
    severity=Severity.ERROR,
    summary="Before PostgreSQL 12, ALTER TYPE ... ADD VALUE cannot run in a transaction",
    rationale="""
PostgreSQL 11 and older refuse ALTER TYPE ... ADD VALUE inside a transaction
block, and our runner wraps the file in one, so the migration fails. (From
PostgreSQL 12 it is allowed, but the new value cannot be used until the
transaction commits.)
""",
    alternative="""
Put it in a file of its own that starts with the `-- safemigrate:no-transaction` marker.

```sql
-- safemigrate:no-transaction
ALTER TYPE order_status ADD VALUE IF NOT EXISTS 'refunded';
```
""",
    examples=[Example("ALTER TYPE order_status ADD VALUE 'refunded';",
                      "-- safemigrate:no-transaction\nALTER TYPE order_status ADD VALUE 'refunded';",
                      pg_version=11)],
    nodes=("AlterEnumStmt",),
)
def enum_add_value_in_transaction(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    if ctx.pg_at_least(12) or not ctx.in_transaction or not stmt.node.get("newVal"):
        return
    yield Hit(f"PostgreSQL {ctx.pg_version} refuses ALTER TYPE ... ADD VALUE inside a transaction, "
              "and this file runs in one")
