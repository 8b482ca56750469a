"""The runbook's own rules: keep DDL and DML apart, make migrations idempotent."""

from __future__ import annotations

from collections.abc import Iterator

from ..context import FileContext, Hit, Obj, Stmt
from ..model import Severity
from ..pgnodes import alter_cmds
from ..registry import Example, rule
from ._helpers import is_new_or_undone

ALL = ("postgres", "sqlite", "mysql")


@rule(
    "ddl-and-dml-mixed",
    severity=Severity.WARNING,
    summary="The file changes both the schema and existing data",
    rationale="""
The runbook: "mix DDL and DML in same migration (separate them)" is a DON'T.
Together they hold the schema change's strong lock for as long as the data
change runs (in PostgreSQL and SQLite the file is one transaction), a
failed backfill rolls back the schema change with it (or, in MySQL, leaves
the schema changed and the data half done), and neither can be re-run or
rolled back on its own. Inserting rows into a table the same file creates
(seed data, also after CREATE TABLE IF NOT EXISTS) is fine and not reported.
""",
    alternative="""
Put the schema change and the data change in separate migrations (or run the
backfill as a batched job).

```sql
-- 000010_add_plan.up.sql
ALTER TABLE users ADD COLUMN plan text;
-- 000011_backfill_plan.up.sql
UPDATE users SET plan = 'free' WHERE plan IS NULL;
```
""",
    examples=[
        Example("ALTER TABLE users ADD COLUMN plan text;\nUPDATE users SET plan = 'free' WHERE plan IS NULL;",
                "CREATE TABLE plans (name text PRIMARY KEY);\nINSERT INTO plans VALUES ('free');"),
        Example("ALTER TABLE users ADD COLUMN plan text;\nUPDATE users SET plan = 'free' WHERE plan IS NULL;",
                "CREATE TABLE plans (name text PRIMARY KEY);\nINSERT INTO plans VALUES ('free');",
                dialect="sqlite"),
        Example("ALTER TABLE users ADD COLUMN plan text;\nUPDATE users SET plan = 'free' WHERE plan IS NULL;",
                "CREATE TABLE plans (name varchar(20) PRIMARY KEY);\nINSERT INTO plans VALUES ('free');",
                dialect="mysql"),
    ],
    dialects=ALL,
    scope="file",
)
def ddl_and_dml_mixed(ctx: FileContext) -> Iterator[Hit]:
    ddl = [s for s in ctx.statements if s.facts.category == "ddl"]
    if not ddl:
        return
    for stmt in ctx.statements:
        if stmt.facts.category != "dml":
            continue
        # Seeding a table the file creates is fine with IF NOT EXISTS too: that CREATE either
        # made the table or did nothing (and took no lock to hold during the insert).
        existing = [t for t in stmt.facts.writes or ("",)
                    if not t or not (t in ctx.created.tables or is_new_or_undone(ctx, Obj("table", t)))]
        if existing:
            name = existing[0] or "a table"
            yield Hit(f"this file changes the schema (line {ddl[0].line}) and the data of "
                      f"{name} (line {stmt.line}); put them in separate migrations", stmt.start)
            return


def _pg_unguarded(stmt: Stmt) -> str | None:
    """What a PostgreSQL statement creates or drops without IF [NOT] EXISTS (None: nothing)."""
    node = stmt.node
    if stmt.kind == "CreateStmt" and not node.get("if_not_exists"):
        return "CREATE TABLE without IF NOT EXISTS"
    if stmt.kind == "IndexStmt" and not node.get("if_not_exists"):
        return "CREATE INDEX without IF NOT EXISTS"
    if stmt.kind == "DropStmt" and not node.get("missing_ok") and node.get("removeType") in (
            "OBJECT_TABLE", "OBJECT_INDEX", "OBJECT_VIEW", "OBJECT_SEQUENCE", "OBJECT_TYPE"):
        return "DROP without IF EXISTS"
    if stmt.kind == "AlterTableStmt":
        for cmd in alter_cmds(node):
            subtype = cmd.get("subtype", "AT_AddColumn")
            if subtype == "AT_AddColumn" and not cmd.get("missing_ok"):
                return "ADD COLUMN without IF NOT EXISTS"
            if subtype == "AT_DropColumn" and not cmd.get("missing_ok"):
                return "DROP COLUMN without IF EXISTS"
    return None


def _text_unguarded(stmt: Stmt) -> str | None:
    tokens = stmt.tokens
    words = [t.value for t in tokens[:6] if t.kind == "word"]
    if not words or words[0] not in ("CREATE", "DROP"):
        return None
    guarded = "EXISTS" in words
    what = next((w for w in words[1:] if w in ("TABLE", "INDEX", "VIEW")), "")
    if not what or guarded:
        return None
    return f"{words[0]} {what} without {'IF NOT EXISTS' if words[0] == 'CREATE' else 'IF EXISTS'}"


def _left_applied_by_a_later_failure(stmt: Stmt, ctx: FileContext) -> bool:
    """Whether a later statement can fail after ``stmt`` has committed, leaving it applied.

    Inside the file's own BEGIN ... COMMIT a statement commits with the block, so
    only statements after that COMMIT count; a block that never commits, or rolls
    back, leaves nothing. MySQL commits around every DDL statement, block or not.
    """
    block_end, change_after = _file_outline(ctx)
    committed_at = stmt.index
    if ctx.tx_open and not (ctx.dialect == "mysql" and stmt.facts.category == "ddl"):
        end = block_end[stmt.index]
        if end < 0 or ctx.statements[end].facts.tx == "rollback":
            return False
        committed_at = end
    return change_after[committed_at]


def _file_outline(ctx: FileContext) -> tuple[list[int], list[bool]]:
    """For each statement: the index of the next COMMIT or ROLLBACK (-1: none), and whether
    a change (DDL, DML, or a statement that runs outside a transaction) follows it.

    Computed once per file (kept on its first statement), so a long file is read in one pass
    rather than once per statement.
    """
    statements = ctx.statements
    cached: tuple[list[int], list[bool]] | None = statements[0].cache.get("outline") if statements else None
    if cached is not None:
        return cached
    count = len(statements)
    block_end = [-1] * count
    change_after = [False] * count
    next_end, later = -1, False
    for i in range(count - 1, -1, -1):
        block_end[i] = next_end
        change_after[i] = later
        current = statements[i]
        if current.facts.tx in ("commit", "rollback"):
            next_end = i
        if current.facts.category in ("ddl", "dml") or not current.transactional:
            later = True
    outline = (block_end, change_after)
    if statements:
        statements[0].cache["outline"] = outline
    return outline


@rule(
    "not-idempotent",
    severity=Severity.INFO,
    summary="In a file that is not atomic, this statement fails when the file is re-run after a failure",
    rationale="""
When our runner cannot wrap a file in one transaction (it holds a statement
such as CREATE INDEX CONCURRENTLY, its own BEGIN/COMMIT, or the
no-transaction marker; and in MySQL every DDL statement commits), a failure
part way leaves the statements before it applied. After fixing the cause,
the usual recovery (force the previous version, run up again) re-runs them,
and a CREATE without IF NOT EXISTS or a DROP without IF EXISTS then fails.
The runbook: "make migrations idempotent when possible". What is judged is
what a re-run after a failure at each later statement meets: files our runner
runs in one transaction are atomic and are not reported, nor is a statement
that no later failure can leave applied (inside the file's own BEGIN ... COMMIT
with nothing after the COMMIT, or the file's last change: a failing statement
is rolled back). In MySQL each DDL statement commits on its own, block or not.
""",
    alternative="""
Guard the statement. For CREATE INDEX CONCURRENTLY, note that a failed build
leaves an INVALID index behind: drop it before retrying.

```sql
ALTER TABLE users ADD COLUMN IF NOT EXISTS last_seen timestamptz;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_users_last_seen ON users (last_seen);
```
""",
    examples=[
        Example("BEGIN;\nALTER TABLE users ADD COLUMN last_seen timestamptz;\nCOMMIT;\n"
                "CREATE INDEX CONCURRENTLY idx_users_last_seen ON users (last_seen);",
                "BEGIN;\nALTER TABLE users ADD COLUMN IF NOT EXISTS last_seen timestamptz;\nCOMMIT;\n"
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_users_last_seen ON users (last_seen);"),
        Example("PRAGMA foreign_keys = OFF;\nCREATE TABLE users_new (id integer PRIMARY KEY);\n"
                "DROP TABLE users;",
                "PRAGMA foreign_keys = OFF;\nCREATE TABLE IF NOT EXISTS users_new (id integer PRIMARY KEY);\n"
                "DROP TABLE IF EXISTS users;", dialect="sqlite"),
        Example("CREATE TABLE plans (name varchar(20) PRIMARY KEY);\nCREATE INDEX idx_plans ON users (plan);",
                "CREATE TABLE IF NOT EXISTS plans (name varchar(20) PRIMARY KEY);\n"
                "CREATE INDEX IF NOT EXISTS idx_plans ON users (plan);", dialect="mysql"),
    ],
    dialects=ALL,
    squawk=("prefer-robust-stmts",),
)
def not_idempotent(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    if ctx.wrapped:
        return
    what = _pg_unguarded(stmt) if ctx.dialect == "postgres" else _text_unguarded(stmt)
    if what is None:
        return
    # A failed CREATE INDEX CONCURRENTLY leaves an INVALID index behind, so even its own
    # failure makes a re-run stop here; any other statement is at risk only when it can be
    # left applied by a later failure (a failing statement is rolled back: a retry starts clean).
    concurrent = stmt.kind == "IndexStmt" and stmt.node.get("concurrent")
    if not concurrent and not _left_applied_by_a_later_failure(stmt, ctx):
        return
    yield Hit(f"{what}: this file is not atomic, so re-running it after a failure stops here")
