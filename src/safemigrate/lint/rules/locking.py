"""Statements that take strong locks, rewrite tables or scan them while holding a lock."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from typing import Any

from ..context import FileContext, Hit, Obj, Stmt
from ..model import Severity
from ..pglocks import ACCESS_EXCLUSIVE, Lock
from ..pgnodes import (
    alter_cmds,
    column_constraints,
    drop_object_names,
    qualified_tail,
    relname,
    type_name,
    unwrap,
)
from ..registry import Example, rule
from ._helpers import (
    add_column_defs,
    constraint_types,
    has_top_level_word,
    is_new_or_undone,
    is_volatile,
    statement_locks_of,
)

# -- indexes ------------------------------------------------------------------------


@rule(
    "create-index-not-concurrently",
    severity=Severity.ERROR,
    summary="CREATE INDEX without CONCURRENTLY blocks every write to the table while it builds",
    rationale="""
A plain CREATE INDEX takes a SHARE lock on the table for the whole build:
reads continue, but every INSERT, UPDATE and DELETE waits, for minutes on a
big table. The runbook: "add indexes concurrently to avoid locks".
""",
    alternative="""
Build it with CONCURRENTLY, in a file our runner does not wrap in a
transaction (a file holding CONCURRENTLY runs statement by statement; put it
in its own migration, or end your own transaction first as the runbook's
example does):

```sql
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_orders_customer ON orders (customer_id);
```
""",
    examples=[Example("CREATE INDEX idx_orders_customer ON orders (customer_id);",
                      "CREATE INDEX CONCURRENTLY idx_orders_customer ON orders (customer_id);")],
    nodes=("IndexStmt",),
    squawk=("require-concurrent-index-creation",),
)
def create_index_not_concurrently(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    table = relname(stmt.node.get("relation"))
    if stmt.node.get("concurrent") or is_new_or_undone(ctx, Obj("table", table)):
        return
    yield Hit(f"CREATE INDEX without CONCURRENTLY blocks writes to {table} while the index builds")


@rule(
    "drop-index-not-concurrently",
    severity=Severity.WARNING,
    summary="DROP INDEX without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the table",
    rationale="""
A plain DROP INDEX locks the index's table against reads and writes. The
drop itself is quick, but the lock request waits behind any long-running
query on the table, and every other query queues behind the waiting DROP.
""",
    alternative="""
Drop it concurrently, outside a transaction block (its own migration, or a
file with the `-- safemigrate:no-transaction` marker):

```sql
DROP INDEX CONCURRENTLY IF EXISTS idx_orders_customer;
```
""",
    examples=[Example("DROP INDEX idx_orders_customer;",
                      "DROP INDEX CONCURRENTLY idx_orders_customer;")],
    nodes=("DropStmt",),
    squawk=("require-concurrent-index-deletion",),
)
def drop_index_not_concurrently(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    node = stmt.node
    if node.get("removeType") != "OBJECT_INDEX" or node.get("concurrent"):
        return
    for name in drop_object_names(node):
        if not ctx.created_index(name):
            yield Hit(f"DROP INDEX {name} without CONCURRENTLY locks its table against reads and writes")


@rule(
    "reindex-not-concurrently",
    severity=Severity.WARNING,
    summary="REINDEX without CONCURRENTLY blocks writes (and reads that use the index)",
    rationale="""
REINDEX takes a SHARE lock on the table (writes wait) and an ACCESS
EXCLUSIVE lock on the index being rebuilt (queries that would use it wait)
for the whole rebuild. PostgreSQL 12 added REINDEX CONCURRENTLY.
""",
    alternative="""
On PostgreSQL 12 or later, outside a transaction block:

```sql
REINDEX INDEX CONCURRENTLY idx_orders_customer;
```
""",
    examples=[Example("REINDEX INDEX idx_orders_customer;",
                      "REINDEX INDEX CONCURRENTLY idx_orders_customer;")],
    nodes=("ReindexStmt",),
    squawk=("require-concurrent-reindex",),
)
def reindex_not_concurrently(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    if not ctx.pg_at_least(12) or not stmt.transactional:
        return  # no CONCURRENTLY before 12; non-transactional means CONCURRENTLY is there
    if stmt.node.get("kind") in ("REINDEX_OBJECT_SYSTEM", "REINDEX_OBJECT_DATABASE"):
        yield Hit("REINDEX of a whole database blocks writes to every table in turn")
        return
    name = relname(stmt.node.get("relation"))
    if not (ctx.created_table(name) or ctx.created_index(name)):
        yield Hit(f"REINDEX of {name} without CONCURRENTLY blocks writes while it rebuilds")


@rule(
    "detach-partition-not-concurrently",
    severity=Severity.WARNING,
    summary="DETACH PARTITION without CONCURRENTLY locks the partitioned table",
    rationale="""
A plain DETACH PARTITION takes an ACCESS EXCLUSIVE lock on the parent table,
blocking every query on every partition. PostgreSQL 14 added DETACH
PARTITION ... CONCURRENTLY, which only needs SHARE UPDATE EXCLUSIVE.
""",
    alternative="""
On PostgreSQL 14 or later, outside a transaction block:

```sql
ALTER TABLE measurements DETACH PARTITION measurements_2019 CONCURRENTLY;
```
""",
    examples=[Example("ALTER TABLE measurements DETACH PARTITION measurements_2019;",
                      "ALTER TABLE measurements DETACH PARTITION measurements_2019 CONCURRENTLY;")],
    nodes=("AlterTableStmt",),
    squawk=("require-concurrent-partition-detach",),
    subtypes=("AT_DetachPartition",),
)
def detach_partition(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    if not ctx.pg_at_least(14):
        return
    table = relname(stmt.node.get("relation"))
    for cmd in alter_cmds(stmt.node):
        if cmd.get("subtype") == "AT_DetachPartition":
            part = unwrap(cmd.get("def"))[1]
            if not part.get("concurrent") and not is_new_or_undone(ctx, Obj("table", table)):
                yield Hit(f"DETACH PARTITION without CONCURRENTLY locks {table} and all its partitions")


@rule(
    "vacuum-full-or-cluster",
    severity=Severity.ERROR,
    summary="VACUUM FULL and CLUSTER rewrite the table under an ACCESS EXCLUSIVE lock",
    rationale="""
Both copy the entire table (and rebuild its indexes) while holding an
ACCESS EXCLUSIVE lock: no reads, no writes, for as long as the copy takes,
and they need free disk space for a second copy of the table.
""",
    alternative="""
Reclaim space online with the pg_repack or pg_squeeze extensions, or plain
VACUUM (which takes no blocking lock), scheduled outside migrations:

```sql
VACUUM (ANALYZE) orders;
```
""",
    examples=[Example("VACUUM FULL orders;", "VACUUM (ANALYZE) orders;")],
    nodes=("VacuumStmt", "ClusterStmt"),
    squawk=("prefer-repack",),
)
def vacuum_full(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    if stmt.kind == "ClusterStmt":
        yield Hit("CLUSTER rewrites the table under an ACCESS EXCLUSIVE lock")
    elif any(lock.mode == ACCESS_EXCLUSIVE for lock in statement_locks_of(stmt)):
        yield Hit("VACUUM FULL rewrites the table under an ACCESS EXCLUSIVE lock")


# -- adding columns -----------------------------------------------------------------

_SERIAL = {"serial", "serial4", "bigserial", "serial8", "smallserial", "serial2"}


@rule(
    "add-column-volatile-default",
    severity=Severity.ERROR,
    summary="ADD COLUMN with a volatile default rewrites the whole table under an ACCESS EXCLUSIVE lock",
    rationale="""
Since PostgreSQL 11 a constant (or STABLE, such as now()) default is stored
once in the catalog and ADD COLUMN is instant. A VOLATILE default
(gen_random_uuid(), random(), clock_timestamp(), nextval() behind serial and
identity columns, or a function PostgreSQL cannot prove stable) must be
computed for every existing row: the table is rewritten while an ACCESS
EXCLUSIVE lock blocks all reads and writes. Before PostgreSQL 11 every
non-NULL default rewrites the table.
""",
    alternative="""
Add the column without a default (or with a constant one), set the default
for new rows separately, and backfill existing rows in batches:

```sql
ALTER TABLE orders ADD COLUMN public_id uuid;
ALTER TABLE orders ALTER COLUMN public_id SET DEFAULT gen_random_uuid();
-- backfill in batches, in a later migration or job:
-- UPDATE orders SET public_id = gen_random_uuid() WHERE public_id IS NULL AND id < 10000;
```
""",
    examples=[
        Example("ALTER TABLE orders ADD COLUMN public_id uuid DEFAULT gen_random_uuid();",
                "ALTER TABLE orders ADD COLUMN public_id uuid;\n"
                "ALTER TABLE orders ALTER COLUMN public_id SET DEFAULT gen_random_uuid();"),
        Example("ALTER TABLE orders ADD COLUMN status text DEFAULT 'new';",
                "ALTER TABLE orders ADD COLUMN status text;", pg_version=10),
    ],
    nodes=("AlterTableStmt",),
    squawk=("adding-field-with-default", "adding-serial-primary-key-field"),
    subtypes=("AT_AddColumn",),
)
def add_column_volatile_default(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    for table, _cmd, coldef in add_column_defs(stmt):
        if is_new_or_undone(ctx, Obj("table", table)):
            continue
        column = coldef.get("colname", "")
        where = ctx.char_offset(stmt, coldef)
        if type_name(coldef.get("typeName")) in _SERIAL:
            yield Hit(f"adding serial column {column} fills it with nextval() for every row: "
                      "the table is rewritten under an ACCESS EXCLUSIVE lock", where)
            continue
        for constraint in column_constraints(coldef):
            contype = constraint.get("contype")
            if contype == "CONSTR_IDENTITY":
                yield Hit(f"adding identity column {column} numbers every existing row: "
                          "the table is rewritten under an ACCESS EXCLUSIVE lock", where)
            elif contype == "CONSTR_DEFAULT":
                expr = constraint.get("raw_expr")
                is_null = unwrap(expr)[1].get("isnull", False)
                if is_null:
                    continue
                if not ctx.pg_at_least(11):
                    yield Hit(f"on PostgreSQL {ctx.pg_version}, ADD COLUMN {column} with any default "
                              "rewrites the table under an ACCESS EXCLUSIVE lock", where)
                elif is_volatile(expr):
                    yield Hit(f"the default of {column} is volatile: every row gets its own value, "
                              "so the table is rewritten under an ACCESS EXCLUSIVE lock", where)


@rule(
    "add-column-stored-generated",
    severity=Severity.ERROR,
    summary="ADD COLUMN ... GENERATED ALWAYS AS (...) STORED rewrites the whole table",
    rationale="""
A stored generated column is computed and written for every existing row
when it is added, while an ACCESS EXCLUSIVE lock blocks all reads and writes.
""",
    alternative="""
Use a VIRTUAL generated column (PostgreSQL 18), a view, or add a plain column
that the application (or a trigger) fills, backfilled in batches:

```sql
ALTER TABLE orders ADD COLUMN total_cents bigint;
-- backfill in batches, then keep it up to date in code or with a trigger
```
""",
    examples=[Example(
        "ALTER TABLE orders ADD COLUMN total_cents bigint GENERATED ALWAYS AS (total * 100) STORED;",
        "ALTER TABLE orders ADD COLUMN total_cents bigint;")],
    nodes=("AlterTableStmt",),
    squawk=("adding-field-with-default",),
    subtypes=("AT_AddColumn",),
)
def add_column_stored_generated(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    for table, _cmd, coldef in add_column_defs(stmt):
        if is_new_or_undone(ctx, Obj("table", table)):
            continue
        for constraint in column_constraints(coldef):
            if constraint.get("contype") == "CONSTR_GENERATED" and constraint.get("generated_kind", "s") == "s":
                yield Hit(f"stored generated column {coldef.get('colname', '')} is computed for every "
                          "row: the table is rewritten under an ACCESS EXCLUSIVE lock",
                          ctx.char_offset(stmt, coldef))


@rule(
    "add-not-null-column-without-default",
    severity=Severity.ERROR,
    summary="ADD COLUMN ... NOT NULL without a DEFAULT fails on a table that has rows",
    rationale="""
Existing rows would get NULL in a NOT NULL column, so PostgreSQL refuses
the statement as soon as the table has a row (SQLite refuses it always, and
MySQL silently fills in 0 or '' instead). The migration passes on an empty
development database and fails in production. The runbook: "add NOT NULL
columns without defaults" is a DON'T.
""",
    alternative="""
Give it a constant default (instant on PostgreSQL 11+), or add it nullable,
backfill, and add the constraint with a validated CHECK first:

```sql
ALTER TABLE users ADD COLUMN plan text NOT NULL DEFAULT 'free';
```
""",
    examples=[
        Example("ALTER TABLE users ADD COLUMN plan text NOT NULL;",
                "ALTER TABLE users ADD COLUMN plan text NOT NULL DEFAULT 'free';"),
        Example("ALTER TABLE users ADD COLUMN plan text NOT NULL;",
                "ALTER TABLE users ADD COLUMN plan text NOT NULL DEFAULT 'free';", dialect="sqlite"),
        Example("ALTER TABLE users ADD COLUMN plan varchar(20) NOT NULL;",
                "ALTER TABLE users ADD COLUMN plan varchar(20) NOT NULL DEFAULT 'free';",
                dialect="mysql"),
    ],
    dialects=("postgres",),
    nodes=("AlterTableStmt",),
    squawk=("adding-required-field",),
    subtypes=("AT_AddColumn",),
)
def add_not_null_without_default(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    for table, _cmd, coldef in add_column_defs(stmt):
        if is_new_or_undone(ctx, Obj("table", table)):
            continue
        kinds = constraint_types(coldef)
        if type_name(coldef.get("typeName")) in _SERIAL:
            continue
        if ("CONSTR_NOTNULL" in kinds or "CONSTR_PRIMARY" in kinds) and not (
            kinds & {"CONSTR_DEFAULT", "CONSTR_IDENTITY", "CONSTR_GENERATED"}
        ):
            yield Hit(f"NOT NULL column {coldef.get('colname', '')} has no default: "
                      f"this fails as soon as {table} has a row", ctx.char_offset(stmt, coldef))


@add_not_null_without_default.also("sqlite", "mysql")
def _add_not_null_text(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    from ..textsql import column_action, parse_alter_table

    alter = parse_alter_table(stmt.tokens)
    if alter is None or is_new_or_undone(ctx, Obj("table", alter.table)):
        return
    for spec in alter.specs:
        verb, column, after = column_action(spec)
        if verb != "ADD":
            continue
        rest = spec[after:]
        not_null = any(a.is_word("NOT") and b.is_word("NULL") for a, b in pairwise(rest))
        has_value = any(has_top_level_word(rest, w) for w in ("DEFAULT", "AUTO_INCREMENT", "GENERATED", "AS"))
        if not_null and not has_value:
            yield Hit(f"NOT NULL column {column} has no default: this fails (or, in MySQL, fills in "
                      f"0 or '') as soon as {alter.table} has a row", spec[after - 1].start)


# -- changing columns ---------------------------------------------------------------


@rule(
    "change-column-type",
    severity=Severity.ERROR,
    summary="Changing a column's type rewrites the table and its indexes under an exclusive lock",
    rationale="""
ALTER COLUMN ... TYPE takes an ACCESS EXCLUSIVE lock and, unless the change
is binary compatible (varchar(n) to text or to a longer varchar), rewrites
every row and rebuilds every index on the table: no reads or writes until it
finishes, also when the same file added the column (the column is new, the
rows are not). Code that reads the column may also break on the new type. In
MySQL, MODIFY/CHANGE COLUMN with a new type copies the table (ALGORITHM=COPY)
and blocks writes.
""",
    alternative="""
Add a new column with the new type, write both, backfill in batches, switch
reads, then drop the old column in a later release:

```sql
ALTER TABLE orders ADD COLUMN amount_cents bigint;
-- deploy dual writes, backfill in batches, switch reads, drop `amount` later
```
""",
    examples=[
        Example("ALTER TABLE orders ALTER COLUMN amount TYPE numeric(12,2);",
                "ALTER TABLE orders ADD COLUMN amount_exact numeric(12,2);"),
        Example("ALTER TABLE orders MODIFY COLUMN amount decimal(12,2);",
                "ALTER TABLE orders ADD COLUMN amount_exact decimal(12,2);", dialect="mysql"),
    ],
    dialects=("postgres",),
    nodes=("AlterTableStmt",),
    squawk=("changing-column-type",),
    subtypes=("AT_AlterColumnType",),
)
def change_column_type(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    table = relname(stmt.node.get("relation"))
    for cmd in alter_cmds(stmt.node):
        if cmd.get("subtype") != "AT_AlterColumnType":
            continue
        column = cmd.get("name", "")
        # The rewrite copies every row of the table: a column the file added is new, its table is not.
        if is_new_or_undone(ctx, Obj("table", table)):
            continue
        new_type = type_name(unwrap(cmd.get("def"))[1].get("typeName"))
        yield Hit(f"changing the type of {table}.{column} to {new_type} rewrites the table "
                  "under an ACCESS EXCLUSIVE lock (unless the change is binary compatible)")


@change_column_type.also("mysql")
def _change_column_type_text(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    from ..textsql import parse_alter_table, read_name

    alter = parse_alter_table(stmt.tokens)
    if alter is None:
        return
    for spec in alter.specs:
        if not spec[0].is_word("MODIFY", "CHANGE"):
            continue
        i = 2 if len(spec) > 1 and spec[1].is_word("COLUMN") else 1
        column, i = read_name(spec, i)
        if spec[0].is_word("CHANGE"):
            _new_name, i = read_name(spec, i)
        if i < len(spec) and not is_new_or_undone(ctx, Obj("table", alter.table)):
            yield Hit(f"{spec[0].value} COLUMN {alter.table}.{column} copies the table and blocks "
                      "writes until it finishes", spec[0].start)


@rule(
    "set-not-null",
    severity=Severity.ERROR,
    summary="SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock",
    rationale="""
To check that no row is NULL, PostgreSQL scans the entire table while
holding an ACCESS EXCLUSIVE lock: no reads or writes until the scan ends.
That holds for a column the same file added, too: the column is new, the
table and its rows are not. From PostgreSQL 12 the scan is skipped when a
validated CHECK (column IS NOT NULL) constraint already proves it, whether it
was validated in this file or in an earlier migration of the folder; such a
finding is then not reported, and dropping that helper check after SET NOT
NULL is not reported by drop-constraint either.
""",
    alternative="""
Add the check NOT VALID (instant), validate it in a separate transaction
(scans with a lock that allows reads and writes), then set NOT NULL (no scan
on PostgreSQL 12+) and drop the now redundant check:

```sql
ALTER TABLE users ADD CONSTRAINT users_email_not_null CHECK (email IS NOT NULL) NOT VALID;
-- next migration (or after COMMIT):
ALTER TABLE users VALIDATE CONSTRAINT users_email_not_null;
ALTER TABLE users ALTER COLUMN email SET NOT NULL;
ALTER TABLE users DROP CONSTRAINT users_email_not_null;
```
""",
    examples=[Example(
        "ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
        "ALTER TABLE users ADD CONSTRAINT users_email_nn CHECK (email IS NOT NULL) NOT VALID;\n"
        "COMMIT;\n"
        "ALTER TABLE users VALIDATE CONSTRAINT users_email_nn;\n"
        "ALTER TABLE users ALTER COLUMN email SET NOT NULL;")],
    nodes=("AlterTableStmt",),
    squawk=("adding-not-nullable-field",),
    subtypes=("AT_SetNotNull",),
)
def set_not_null(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    table = relname(stmt.node.get("relation"))
    # The scan reads every row of the table: a column the file added is new, its table is not.
    if is_new_or_undone(ctx, Obj("table", table)):
        return
    # Subcommands that drop constraints run before SET NOT NULL checks the rows.
    dropped_here = {o.name for o in stmt.facts.drops if o.kind == "constraint"}
    for cmd in alter_cmds(stmt.node):
        if cmd.get("subtype") != "AT_SetNotNull":
            continue
        column = cmd.get("name", "")
        if ctx.pg_at_least(12) and ctx.not_null_checks.proves(table, column, ignoring=dropped_here):
            continue
        added = (table, column) in ctx.new.columns
        yield Hit(f"SET NOT NULL on {table}.{column} scans the table under an ACCESS EXCLUSIVE lock"
                  + (" (the column is new, but the table is not)" if added else ""))


# -- adding constraints ---------------------------------------------------------------


def _added_constraints(stmt: Stmt) -> Iterator[tuple[str, dict[str, Any], dict[str, Any] | None]]:
    """(table, Constraint fields, ColumnDef of an ADD COLUMN or None) for each constraint an ALTER adds."""
    table = relname(stmt.node.get("relation"))
    for cmd in alter_cmds(stmt.node):
        subtype = cmd.get("subtype", "AT_AddColumn")
        if subtype == "AT_AddConstraint":
            yield table, unwrap(cmd.get("def"))[1], None
        elif subtype == "AT_AddColumn":
            coldef = unwrap(cmd.get("def"))[1]
            for constraint in column_constraints(coldef):
                yield table, constraint, coldef


@rule(
    "constraint-without-not-valid",
    severity=Severity.ERROR,
    summary="ADD CONSTRAINT ... CHECK without NOT VALID scans the table under an ACCESS EXCLUSIVE lock",
    rationale="""
Adding a CHECK constraint validates every existing row while holding an
ACCESS EXCLUSIVE lock on the table: reads and writes wait for the whole scan.
The runbook: "validate data before constraints".
""",
    alternative="""
Add it NOT VALID (instant; new rows are checked from then on) and validate
in a separate transaction, which only takes a SHARE UPDATE EXCLUSIVE lock:

```sql
ALTER TABLE orders ADD CONSTRAINT orders_amount_positive CHECK (amount > 0) NOT VALID;
-- next migration (or after COMMIT):
ALTER TABLE orders VALIDATE CONSTRAINT orders_amount_positive;
```
""",
    examples=[Example("ALTER TABLE orders ADD CONSTRAINT orders_amount_positive CHECK (amount > 0);",
                      "ALTER TABLE orders ADD CONSTRAINT orders_amount_positive CHECK (amount > 0) NOT VALID;")],
    nodes=("AlterTableStmt",),
    squawk=("constraint-missing-not-valid",),
    subtypes=("AT_AddConstraint", "AT_AddColumn"),
)
def constraint_without_not_valid(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    for table, constraint, _coldef in _added_constraints(stmt):
        if constraint.get("contype") != "CONSTR_CHECK" or constraint.get("skip_validation"):
            continue
        if not is_new_or_undone(ctx, Obj("table", table)):
            name = constraint.get("conname") or "CHECK"
            yield Hit(f"{name} validates every row of {table} under an ACCESS EXCLUSIVE lock; "
                      "add it NOT VALID and VALIDATE it separately",
                      ctx.char_offset(stmt, constraint))


@rule(
    "foreign-key-without-not-valid",
    severity=Severity.ERROR,
    summary="Adding a foreign key without NOT VALID scans the table and blocks writes on both tables",
    rationale="""
ADD FOREIGN KEY (and ADD COLUMN ... REFERENCES) takes SHARE ROW EXCLUSIVE
locks on the table and on the referenced table, then checks every row:
writes to both tables wait for the whole scan.
""",
    alternative="""
Add the constraint NOT VALID (checks new rows only, brief lock), then
validate it in a separate transaction, which allows reads and writes.

```sql
ALTER TABLE orders ADD CONSTRAINT orders_customer_fk
    FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID;
-- next migration (or after COMMIT):
ALTER TABLE orders VALIDATE CONSTRAINT orders_customer_fk;
```
""",
    examples=[Example(
        "ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id);",
        "ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) "
        "REFERENCES customers (id) NOT VALID;")],
    nodes=("AlterTableStmt",),
    squawk=("adding-foreign-key-constraint", "constraint-missing-not-valid"),
    subtypes=("AT_AddConstraint", "AT_AddColumn"),
)
def foreign_key_without_not_valid(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    for table, constraint, _coldef in _added_constraints(stmt):
        if constraint.get("contype") != "CONSTR_FOREIGN" or constraint.get("skip_validation"):
            continue
        if not is_new_or_undone(ctx, Obj("table", table)):
            target = relname(constraint.get("pktable"))
            yield Hit(f"foreign key to {target} checks every row of {table} while writes to both "
                      "tables wait; add it NOT VALID and VALIDATE it separately",
                      ctx.char_offset(stmt, constraint))


@rule(
    "add-unique-without-index",
    severity=Severity.ERROR,
    summary="Adding a UNIQUE constraint builds its index under an ACCESS EXCLUSIVE lock",
    rationale="""
ALTER TABLE ... ADD UNIQUE builds the unique index while holding an ACCESS
EXCLUSIVE lock on the table: no reads or writes until the build ends.
""",
    alternative="""
Build the unique index concurrently first, then attach it as the constraint
(a quick catalog change):

```sql
CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);
-- next migration:
ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_key;
```
""",
    examples=[Example("ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);",
                      "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_key;")],
    nodes=("AlterTableStmt",),
    squawk=("disallowed-unique-constraint",),
    subtypes=("AT_AddConstraint", "AT_AddColumn"),
)
def add_unique_without_index(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    for table, constraint, _coldef in _added_constraints(stmt):
        if constraint.get("contype") != "CONSTR_UNIQUE" or constraint.get("indexname"):
            continue
        if not is_new_or_undone(ctx, Obj("table", table)):
            yield Hit(f"UNIQUE on {table} builds its index under an ACCESS EXCLUSIVE lock",
                      ctx.char_offset(stmt, constraint))


@rule(
    "add-primary-key-without-index",
    severity=Severity.ERROR,
    summary="Adding a PRIMARY KEY builds its index (and may check NOT NULL) under an ACCESS EXCLUSIVE lock",
    rationale="""
ALTER TABLE ... ADD PRIMARY KEY builds a unique index and sets the columns
NOT NULL (a full scan) while holding an ACCESS EXCLUSIVE lock: no reads or
writes until it finishes.
""",
    alternative="""
Build the unique index concurrently, then promote it:

```sql
CREATE UNIQUE INDEX CONCURRENTLY events_pkey ON events (id);
-- next migration:
ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY USING INDEX events_pkey;
```
""",
    examples=[Example("ALTER TABLE events ADD PRIMARY KEY (id);",
                      "ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY USING INDEX events_pkey;")],
    nodes=("AlterTableStmt",),
    squawk=("adding-serial-primary-key-field",),
    subtypes=("AT_AddConstraint", "AT_AddColumn"),
)
def add_primary_key_without_index(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    for table, constraint, _coldef in _added_constraints(stmt):
        if constraint.get("contype") != "CONSTR_PRIMARY" or constraint.get("indexname"):
            continue
        if not is_new_or_undone(ctx, Obj("table", table)):
            yield Hit(f"PRIMARY KEY on {table} builds its index under an ACCESS EXCLUSIVE lock",
                      ctx.char_offset(stmt, constraint))


@rule(
    "add-exclusion-constraint",
    severity=Severity.ERROR,
    summary="Adding an EXCLUDE constraint builds its index under an ACCESS EXCLUSIVE lock",
    rationale="""
ALTER TABLE ... ADD CONSTRAINT ... EXCLUDE USING gist (...) builds the
constraint's index and checks every row while holding an ACCESS EXCLUSIVE
lock: no reads or writes until the build ends, for minutes on a big table.
Unlike CHECK and FOREIGN KEY it cannot be added NOT VALID, and unlike UNIQUE
it cannot adopt an index built CONCURRENTLY (PostgreSQL has no EXCLUDE ...
USING INDEX), so there is no online way to add one to a table in use.
""",
    alternative="""
Declare it when the table is created. For a table in use, either move to a
new table that has it (create it with the constraint, copy the rows in
batches while the application writes to both, switch over with a rename in
one short transaction), or add it in a maintenance window, with a short
lock_timeout so the statement fails fast instead of queueing every query,
after timing the index build on a copy of the table.

```sql
CREATE EXTENSION IF NOT EXISTS btree_gist;  -- for room_id WITH = in a GiST index
CREATE TABLE bookings (
    room_id bigint NOT NULL,
    during tstzrange NOT NULL,
    CONSTRAINT bookings_no_overlap EXCLUDE USING gist (room_id WITH =, during WITH &&)
);
```
""",
    examples=[Example(
        "ALTER TABLE bookings ADD CONSTRAINT bookings_no_overlap\n"
        "    EXCLUDE USING gist (room_id WITH =, during WITH &&);",
        "CREATE TABLE bookings (room_id bigint, during tstzrange,\n"
        "    CONSTRAINT bookings_no_overlap EXCLUDE USING gist (room_id WITH =, during WITH &&));\n"
        "ALTER TABLE bookings ADD CONSTRAINT bookings_no_same_start EXCLUDE USING gist (room_id WITH =);")],
    nodes=("AlterTableStmt",),
    subtypes=("AT_AddConstraint", "AT_AddColumn"),
)
def add_exclusion_constraint(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    for table, constraint, _coldef in _added_constraints(stmt):
        if constraint.get("contype") != "CONSTR_EXCLUSION":
            continue
        if not is_new_or_undone(ctx, Obj("table", table)):
            name = constraint.get("conname") or "EXCLUDE"
            yield Hit(f"{name} builds its {constraint.get('access_method') or 'btree'} index on {table} "
                      "under an ACCESS EXCLUSIVE lock, and cannot be added NOT VALID",
                      ctx.char_offset(stmt, constraint))


@rule(
    "validate-in-same-transaction",
    severity=Severity.WARNING,
    summary="VALIDATE CONSTRAINT in the transaction that added the constraint keeps the strong lock during the scan",
    rationale="""
The point of NOT VALID is to take the strong lock (ACCESS EXCLUSIVE for a
CHECK, SHARE ROW EXCLUSIVE for a foreign key) only for an instant. Locks are
held until the transaction ends, so validating in the same transaction scans
the whole table while that lock is still held, exactly what NOT VALID was
meant to avoid. Our runner wraps a file in one transaction unless it cannot.
""",
    alternative="""
Validate in the next migration, or COMMIT before validating.

```sql
-- 000051_orders_fk.up.sql
ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id)
    REFERENCES customers (id) NOT VALID;
-- 000052_orders_fk_validate.up.sql
ALTER TABLE orders VALIDATE CONSTRAINT orders_customer_fk;
```
""",
    examples=[Example(
        "ALTER TABLE orders ADD CONSTRAINT orders_amount_positive CHECK (amount > 0) NOT VALID;\n"
        "ALTER TABLE orders VALIDATE CONSTRAINT orders_amount_positive;",
        "ALTER TABLE orders VALIDATE CONSTRAINT orders_amount_positive;")],
    nodes=("AlterTableStmt",),
)
def validate_in_same_transaction(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    for name in stmt.facts.validates:
        entry = ctx.not_valid.get(name)
        if entry is not None and entry[2] == ctx.transaction_id:
            yield Hit(f"{name} was added NOT VALID in this same transaction: validating it now "
                      "scans the table while the lock taken to add it is still held")


# -- timeouts -----------------------------------------------------------------------


def _waits_for(stmt: Stmt, ctx: FileContext) -> Lock | None:
    """The first lock the statement takes that makes other sessions wait, on an object older than the file."""
    if ctx.dialect != "postgres":
        return None
    # Both timeout rules ask, while the file's state is the same (it advances after the statement's
    # rules): the answer is kept on the statement.
    cache = stmt.cache
    if "waits_for" in cache:
        found: Lock | None = cache["waits_for"]
        return found
    found = cache["waits_for"] = next(
        (lock for lock in statement_locks_of(stmt) if lock.blocks and not _is_new(lock, stmt, ctx)), None)
    return found


def _is_new(lock: Lock, stmt: Stmt, ctx: FileContext) -> bool:
    """Whether the locked object was made by a plain CREATE earlier in the file (nobody can be using it)."""
    if lock.kind == "table":
        return ctx.created_table(lock.relation)
    if lock.kind in ("view", "sequence"):
        return (lock.kind, lock.relation) in ctx.new.others
    if lock.kind == "index":
        return ctx.created_index(lock.relation)
    if lock.kind == "index-table":
        entry = ctx.new.indexes.get(lock.relation)
        return entry is not None and ctx.created_table(entry[0])
    # Relations the text does not name: new only when everything the statement names is.
    named = [other for other in statement_locks_of(stmt) if other.kind != "others"]
    primary = _primary_type(stmt)
    if primary:
        return ("type", primary) in ctx.new.others and all(_is_new(o, stmt, ctx) for o in named)
    return bool(named) and all(_is_new(o, stmt, ctx) for o in named)


def _target(lock: Lock, stmt: Stmt) -> str:
    """What the lock is on, in words: for relations the statement does not name, which ones."""
    if lock.kind != "others":
        return lock.describe()
    node = stmt.node
    if _primary_type(stmt):
        return f"the tables with a column of {_primary_type(stmt)}"
    if stmt.kind == "DropStmt" and node.get("removeType") == "OBJECT_SCHEMA":
        return f"every table in schema {', '.join(drop_object_names(node))}"
    if stmt.kind == "DropStmt" and node.get("removeType") == "OBJECT_EXTENSION":
        return "the tables and views the extension owns"
    if stmt.kind == "DropStmt" and node.get("removeType") == "OBJECT_TABLE":
        return "the tables that depend on it or that its foreign keys reference"
    if stmt.kind == "DropStmt":
        return "the tables whose columns, triggers or views depend on it"
    if stmt.kind == "ReindexStmt" and node.get("kind") == "REINDEX_OBJECT_SCHEMA":
        return f"every table in schema {node.get('name', '')}"
    if stmt.kind == "AlterTableStmt":
        return "the table its foreign key references"
    return "every table it processes"


def _primary_type(stmt: Stmt) -> str:
    """The domain or type an ALTER DOMAIN or DROP TYPE/DOMAIN is about ("" for other statements)."""
    if stmt.kind == "AlterDomainStmt":
        return qualified_tail(stmt.node.get("typeName"))
    if stmt.kind == "DropStmt" and stmt.node.get("removeType") in ("OBJECT_TYPE", "OBJECT_DOMAIN"):
        found = drop_object_names(stmt.node)
        return found[0] if found else ""
    return ""


@rule(
    "lock-timeout-missing",
    severity=Severity.WARNING,
    summary="No lock_timeout is set before a statement that waits for a strong lock",
    rationale="""
ALTER TABLE, CREATE INDEX, DROP and similar statements must wait for every
running query on the table to finish before they get their lock, and while
they wait, every new query on the table queues behind them. One slow report
query turns a millisecond ALTER into an outage. Our runner does not set
lock_timeout for migration statements, so the file must. The lock each
statement takes (on tables, and on views, sequences, and the tables a domain,
trigger, policy or rule belongs to) follows what a real server takes: CREATE
OR REPLACE VIEW and DROP VIEW lock the view against every query, ALTER
SEQUENCE blocks nextval() (inserts), CREATE TRIGGER blocks writes, CREATE
TABLE ... PARTITION OF locks the parent table. ALTER TYPE ... ADD VALUE, COMMENT
and ANALYZE take no lock that makes queries wait and are not reported.
""",
    alternative="""
Set a short lock_timeout first, so the migration fails fast (and can be
retried) instead of blocking the table:

```sql
SET lock_timeout = '2s';
ALTER TABLE users ADD COLUMN last_seen timestamptz;
```
""",
    examples=[Example("ALTER TABLE users ADD COLUMN note text;",
                      "SET lock_timeout = '2s';\nALTER TABLE users ADD COLUMN note text;"),
              Example("CREATE OR REPLACE VIEW active_users AS SELECT * FROM users WHERE active;",
                      "SET lock_timeout = '2s';\n"
                      "CREATE OR REPLACE VIEW active_users AS SELECT * FROM users WHERE active;")],
    squawk=("require-timeout-settings", "require-lock-timeout"),
)
def lock_timeout_missing(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    if ctx.setting_active("lock_timeout") or "lock-timeout-missing" in ctx.flags:
        return
    lock = _waits_for(stmt, ctx)
    if lock is not None and ctx.once("lock-timeout-missing"):
        queued = "query" if lock.blocks == "queries" else "write"
        yield Hit(f"no lock_timeout is set: while this statement waits for its {lock.sql_mode} lock on "
                  f"{_target(lock, stmt)}, every other {queued} on it queues behind it")


@rule(
    "statement-timeout-missing",
    severity=Severity.INFO,
    summary="No statement_timeout is set before a statement that locks a table",
    rationale="""
A lock-taking statement that runs longer than expected (a rewrite, a scan
on a table that grew) holds its lock the whole time. A statement_timeout
bounds the damage. It is information only: long, deliberate operations such
as CREATE INDEX CONCURRENTLY or a batched backfill legitimately need no limit.
""",
    alternative="""
Set a statement_timeout that fits the statement:

```sql
SET statement_timeout = '5s';
ALTER TABLE users ADD COLUMN last_seen timestamptz;
```
""",
    examples=[Example("ALTER TABLE users ADD COLUMN note text;",
                      "SET statement_timeout = '5s';\nALTER TABLE users ADD COLUMN note text;")],
    squawk=("require-timeout-settings", "require-statement-timeout"),
)
def statement_timeout_missing(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    if ctx.setting_active("statement_timeout") or "statement-timeout-missing" in ctx.flags:
        return
    lock = _waits_for(stmt, ctx)
    if lock is not None and ctx.once("statement-timeout-missing"):
        yield Hit("no statement_timeout is set: if this statement runs long, it holds its "
                  f"{lock.sql_mode} lock on {_target(lock, stmt)} all that time")
