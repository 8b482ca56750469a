"""Statements that destroy data or break code that is still running (the runbook's "DROP, TRUNCATE")."""

from __future__ import annotations

from collections.abc import Iterator

from ..context import FileContext, Hit, Obj, Stmt
from ..model import Severity
from ..pgnodes import alter_cmds, drop_object_names, relname
from ..registry import Example, rule
from ._helpers import has_top_level_word, is_new_or_undone

ALL = ("postgres", "sqlite", "mysql")


# -- DROP TABLE -------------------------------------------------------------------


@rule(
    "drop-table",
    severity=Severity.ERROR,
    summary="DROP TABLE deletes the table and every row in it",
    rationale="""
Dropping a table loses its data for good (only a backup brings it back) and
breaks every deployed version of the application that still reads or writes
it: during a rolling deploy the old version keeps running for a while. The
statement also takes an ACCESS EXCLUSIVE lock on the table.
""",
    alternative="""
Stop using the table in the application first and deploy that; drop it in a
later migration, after a verified backup. Or rename it out of the way and
drop it once nothing failed:

```sql
-- 000042_retire_audit_log.up.sql (after the code no longer uses it)
ALTER TABLE audit_log RENAME TO audit_log_retired_20240601;
```
""",
    examples=[
        Example("DROP TABLE audit_log;",
                "CREATE TABLE scratch (id bigint);\nDROP TABLE scratch;"),
        Example("DROP TABLE audit_log;", "CREATE TABLE scratch (id integer);\nDROP TABLE scratch;",
                dialect="sqlite"),
        Example("DROP TABLE audit_log;", "CREATE TABLE scratch (id bigint);\nDROP TABLE scratch;",
                dialect="mysql"),
    ],
    dialects=("postgres",),
    nodes=("DropStmt",),
    squawk=("ban-drop-table",),
)
def drop_table(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    if stmt.node.get("removeType") != "OBJECT_TABLE":
        return
    for name in drop_object_names(stmt.node):
        if not is_new_or_undone(ctx, Obj("table", name)):
            yield Hit(f"DROP TABLE {name} deletes the table and every row in it")


@drop_table.also("sqlite", "mysql")
def _drop_table_text(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    for obj in stmt.facts.drops:
        if obj.kind == "table" and not is_new_or_undone(ctx, obj):
            yield Hit(f"DROP TABLE {obj.name} deletes the table and every row in it")


# -- DROP COLUMN ------------------------------------------------------------------


@rule(
    "drop-column",
    severity=Severity.ERROR,
    summary="DROP COLUMN deletes the column's data and breaks code that still selects it",
    rationale="""
The column's values are gone once the migration commits. Application code
deployed before the migration (still running during a rolling deploy, or
after a rollback of the code) fails on every query that names the column,
and ORMs that list columns explicitly fail on every query of the table.
PostgreSQL takes an ACCESS EXCLUSIVE lock; SQLite and older MySQL rebuild
the whole table.
""",
    alternative="""
Deploy code that no longer reads or writes the column first, then drop it in
a later migration (the runbook: "drop columns without checking dependencies"
is a DON'T):

```sql
-- release 1: code stops using users.legacy_flag
-- release 2:
ALTER TABLE users DROP COLUMN IF EXISTS legacy_flag;
```
""",
    examples=[
        Example("ALTER TABLE users DROP COLUMN legacy_flag;",
                "ALTER TABLE users ADD COLUMN tmp text;\nALTER TABLE users DROP COLUMN tmp;"),
        Example("ALTER TABLE users DROP COLUMN legacy_flag;",
                "ALTER TABLE users ADD COLUMN tmp text;\nALTER TABLE users DROP COLUMN tmp;",
                dialect="sqlite"),
        Example("ALTER TABLE users DROP COLUMN legacy_flag;",
                "ALTER TABLE users ADD COLUMN tmp text;\nALTER TABLE users DROP COLUMN tmp;",
                dialect="mysql"),
    ],
    dialects=("postgres",),
    nodes=("AlterTableStmt",),
    squawk=("ban-drop-column",),
    subtypes=("AT_DropColumn",),
)
def drop_column(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    table = relname(stmt.node.get("relation"))
    for cmd in alter_cmds(stmt.node):
        if cmd.get("subtype") == "AT_DropColumn":
            column = cmd.get("name", "")
            if not is_new_or_undone(ctx, Obj("column", column, table)):
                yield Hit(f"DROP COLUMN {table}.{column} deletes its data and breaks code that still uses it",
                          ctx.char_offset(stmt, cmd))


@drop_column.also("sqlite", "mysql")
def _drop_column_text(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    for obj in stmt.facts.drops:
        if obj.kind == "column" and not is_new_or_undone(ctx, obj):
            yield Hit(f"DROP COLUMN {obj.table}.{obj.name} deletes its data and breaks code that still uses it")


# -- DROP SCHEMA / DATABASE / TYPE / CONSTRAINT / NOT NULL ------------------------


@rule(
    "drop-schema",
    severity=Severity.ERROR,
    summary="DROP SCHEMA deletes the schema (with CASCADE, every object in it)",
    rationale="""
A schema holds tables, views, functions and types; with CASCADE they all go,
with their data, and everything that depends on them. Without CASCADE the
statement fails as soon as the schema is not empty, which is rarely what a
migration expects.
""",
    alternative="""
Drop the objects one by one in migrations of their own, each after the code
stopped using them; drop the empty schema last:

```sql
DROP SCHEMA IF EXISTS reporting;  -- RESTRICT: fails if anything is left
```
""",
    examples=[Example("DROP SCHEMA reporting CASCADE;",
                      "CREATE SCHEMA scratch;\nDROP SCHEMA scratch;")],
    nodes=("DropStmt",),
)
def drop_schema(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    if stmt.node.get("removeType") != "OBJECT_SCHEMA":
        return
    for name in drop_object_names(stmt.node):
        if not is_new_or_undone(ctx, Obj("schema", name)):
            cascade = stmt.node.get("behavior") == "DROP_CASCADE"
            yield Hit(f"DROP SCHEMA {name}{' CASCADE deletes every object in it' if cascade else ' deletes the schema'}")


@rule(
    "drop-database",
    severity=Severity.ERROR,
    summary="DROP DATABASE deletes a whole database",
    rationale="""
A migration runs against one database; dropping a database from it deletes
everything in that database, irreversibly, and no down migration can bring it back.
In MySQL, DROP SCHEMA is the same statement.
""",
    alternative="""
Databases are created and dropped by provisioning, not by migrations. Take a
verified backup and drop it by hand if that is really intended:

```sql
-- not in a migration: run by an operator after `safemigrate backup`
DROP DATABASE old_reporting;
```
""",
    examples=[
        Example("DROP DATABASE old_reporting;", "SELECT 1;"),
        Example("DROP DATABASE old_reporting;", "SELECT 1;", dialect="mysql"),
    ],
    dialects=("postgres",),
    nodes=("DropdbStmt",),
    squawk=("ban-drop-database",),
)
def drop_database(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    yield Hit(f"DROP DATABASE {stmt.node.get('dbname', '')} deletes a whole database")


@drop_database.also("mysql")
def _drop_database_text(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    for obj in stmt.facts.drops:
        if obj.kind == "schema":
            yield Hit(f"DROP DATABASE {obj.name} deletes a whole database")


@rule(
    "drop-type",
    severity=Severity.ERROR,
    summary="DROP TYPE/DOMAIN removes a type that columns and functions may still use",
    rationale="""
Dropping a type fails while a column uses it, and with CASCADE drops those
columns (and their data) too. Application code that casts to the type or
sends values of an enum breaks.
""",
    alternative="""
Move the columns off the type in earlier migrations (after the code stopped
using it), then drop the unused type:

```sql
ALTER TABLE orders ALTER COLUMN status TYPE text;  -- in its own, planned migration
DROP TYPE IF EXISTS order_status;                   -- later, once nothing uses it
```
""",
    examples=[Example("DROP TYPE order_status CASCADE;",
                      "CREATE TYPE scratch_kind AS ENUM ('a');\nDROP TYPE scratch_kind;")],
    nodes=("DropStmt",),
)
def drop_type(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    if stmt.node.get("removeType") not in ("OBJECT_TYPE", "OBJECT_DOMAIN"):
        return
    for name in drop_object_names(stmt.node):
        if not is_new_or_undone(ctx, Obj("type", name)):
            yield Hit(f"DROP TYPE {name} removes a type that columns and functions may still use")


@rule(
    "drop-constraint",
    severity=Severity.WARNING,
    summary="DROP CONSTRAINT removes a guarantee the data and the code rely on",
    rationale="""
Once a foreign key, unique or check constraint is gone, bad rows can be
written at once, and putting the constraint back later needs a full scan
(and cleaning whatever slipped in). Dropping a primary key or unique
constraint also drops its index, which can turn fast queries into sequential scans.
The statement takes an ACCESS EXCLUSIVE lock.
""",
    alternative="""
Make sure nothing depends on the constraint, and keep a down migration that
can re-add it safely (NOT VALID, then VALIDATE):

```sql
ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_amount_check;
-- down: ALTER TABLE orders ADD CONSTRAINT orders_amount_check CHECK (amount >= 0) NOT VALID;
```
""",
    examples=[Example("ALTER TABLE orders DROP CONSTRAINT orders_customer_fk;",
                      "CREATE TABLE scratch (id bigint CONSTRAINT scratch_pos CHECK (id > 0));\n"
                      "ALTER TABLE scratch DROP CONSTRAINT scratch_pos;")],
    nodes=("AlterTableStmt",),
    subtypes=("AT_DropConstraint",),
)
def drop_constraint(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    table = relname(stmt.node.get("relation"))
    for cmd in alter_cmds(stmt.node):
        if cmd.get("subtype") == "AT_DropConstraint":
            name = cmd.get("name", "")
            # A CHECK (col IS NOT NULL) that only served SET NOT NULL guards nothing the column does not.
            if not (is_new_or_undone(ctx, Obj("table", table))
                    or is_new_or_undone(ctx, Obj("constraint", name))
                    or ctx.not_null_checks.is_redundant_helper(table, name, stmt.facts.not_null)):
                yield Hit(f"DROP CONSTRAINT {name} on {table} removes a guarantee the data relies on")


@rule(
    "drop-not-null",
    severity=Severity.WARNING,
    summary="DROP NOT NULL lets NULLs in where the running code does not expect them",
    rationale="""
Code deployed before the migration assumes the column is never NULL; once
new code (or anything else) writes NULLs, the old code can crash on them,
and restoring the constraint later needs a full table scan under an ACCESS
EXCLUSIVE lock.
""",
    alternative="""
Make sure every reader handles NULL first (deploy that), then drop the
constraint and acknowledge the finding:

```sql
-- after the code reads users.nickname as optional
ALTER TABLE users ALTER COLUMN nickname DROP NOT NULL;  -- safemigrate:ignore drop-not-null -- readers handle NULL since v2.3
```
""",
    examples=[Example("ALTER TABLE users ALTER COLUMN nickname DROP NOT NULL;",
                      "ALTER TABLE users ADD COLUMN nickname text NOT NULL DEFAULT '';\n"
                      "ALTER TABLE users ALTER COLUMN nickname DROP NOT NULL;")],
    nodes=("AlterTableStmt",),
    squawk=("ban-drop-not-null",),
    subtypes=("AT_DropNotNull",),
)
def drop_not_null(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    table = relname(stmt.node.get("relation"))
    for cmd in alter_cmds(stmt.node):
        if cmd.get("subtype") == "AT_DropNotNull":
            column = cmd.get("name", "")
            if not is_new_or_undone(ctx, Obj("column", column, table)):
                yield Hit(f"DROP NOT NULL on {table}.{column} lets NULLs in where running code does not expect them",
                          ctx.char_offset(stmt, cmd))


# -- TRUNCATE, DELETE/UPDATE without WHERE ---------------------------------------


@rule(
    "truncate",
    severity=Severity.ERROR,
    summary="TRUNCATE deletes every row of the table",
    rationale="""
TRUNCATE removes all rows at once, with an ACCESS EXCLUSIVE lock, and a down
migration cannot bring them back. With CASCADE it also empties every table
that has a foreign key to it, and the tables referencing those, which is
easy to miss when reviewing the migration.
""",
    alternative="""
Migrations change schema; data clean-up belongs in a separate, reviewed
operation with a backup. If rows must go, delete them in bounded batches:

```sql
DELETE FROM sessions WHERE expires_at < now() - interval '30 days';
```
""",
    examples=[
        Example("TRUNCATE sessions CASCADE;",
                "CREATE TABLE scratch (id bigint);\nTRUNCATE scratch;"),
        Example("TRUNCATE TABLE sessions;",
                "CREATE TABLE scratch (id bigint);\nTRUNCATE TABLE scratch;", dialect="mysql"),
    ],
    dialects=("postgres",),
    nodes=("TruncateStmt",),
    squawk=("ban-truncate-cascade",),
)
def truncate(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    tables = [t for t in stmt.facts.writes if not is_new_or_undone(ctx, Obj("table", t))]
    if not tables:
        return
    cascade = stmt.node.get("behavior") == "DROP_CASCADE"
    extra = " and, with CASCADE, every table that references it" if cascade else ""
    yield Hit(f"TRUNCATE deletes every row of {', '.join(tables)}{extra}")


@truncate.also("mysql")
def _truncate_text(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    from ..textsql import dml_target

    if stmt.tokens and stmt.tokens[0].is_word("TRUNCATE"):
        table = dml_target(stmt.tokens)
        if not is_new_or_undone(ctx, Obj("table", table)):
            yield Hit(f"TRUNCATE deletes every row of {table}")


@rule(
    "delete-without-where",
    severity=Severity.ERROR,
    summary="DELETE without WHERE deletes every row of the table",
    rationale="""
A DELETE with no WHERE clause empties the table, row by row, in one
transaction: it holds row locks on everything, bloats the table, and the data
is gone. It is usually a WHERE clause lost in editing.
""",
    alternative="""
Say which rows, and for big tables delete in batches:

```sql
DELETE FROM sessions WHERE expires_at < now() - interval '30 days';
```
""",
    examples=[
        Example("DELETE FROM sessions;", "DELETE FROM sessions WHERE expires_at < now();"),
        Example("DELETE FROM sessions;", "DELETE FROM sessions WHERE expires_at < 0;",
                dialect="sqlite"),
        Example("DELETE FROM sessions;", "DELETE FROM sessions WHERE expires_at < NOW();",
                dialect="mysql"),
    ],
    dialects=("postgres",),
    nodes=("DeleteStmt",),
)
def delete_without_where(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    table = relname(stmt.node.get("relation"))
    if not stmt.node.get("whereClause") and not is_new_or_undone(ctx, Obj("table", table)):
        yield Hit(f"DELETE without WHERE deletes every row of {table}")


@delete_without_where.also("sqlite", "mysql")
def _delete_text(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    from ..textsql import dml_target

    if not stmt.tokens or not stmt.tokens[0].is_word("DELETE"):
        return
    table = dml_target(stmt.tokens)
    if not has_top_level_word(stmt.tokens, "WHERE") and not is_new_or_undone(ctx, Obj("table", table)):
        yield Hit(f"DELETE without WHERE deletes every row of {table}")


@rule(
    "update-without-where",
    severity=Severity.ERROR,
    summary="UPDATE without WHERE rewrites every row of the table",
    rationale="""
An UPDATE with no WHERE clause changes every row in one transaction: it
writes a new version of each row (doubling the table's size until vacuum),
holds a row lock on all of them until commit, so every concurrent write to
the table waits, and overwrites values that may not be recoverable. A
backfill of a new column is the usual cause.
""",
    alternative="""
Backfill in bounded batches, outside the schema migration (the runbook: keep
DDL and DML apart), and add the default to the column instead where possible:

```sql
UPDATE users SET plan = 'free' WHERE plan IS NULL AND id BETWEEN 1 AND 10000;
```
""",
    examples=[
        Example("UPDATE users SET plan = 'free';",
                "UPDATE users SET plan = 'free' WHERE plan IS NULL AND id < 10000;"),
        Example("UPDATE users SET plan = 'free';",
                "UPDATE users SET plan = 'free' WHERE plan IS NULL;", dialect="sqlite"),
        Example("UPDATE users SET plan = 'free';",
                "UPDATE users SET plan = 'free' WHERE plan IS NULL;", dialect="mysql"),
    ],
    dialects=("postgres",),
    nodes=("UpdateStmt",),
)
def update_without_where(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    table = relname(stmt.node.get("relation"))
    if not stmt.node.get("whereClause") and not is_new_or_undone(ctx, Obj("table", table)):
        yield Hit(f"UPDATE without WHERE rewrites every row of {table}")


@update_without_where.also("sqlite", "mysql")
def _update_text(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    from ..textsql import dml_target

    if not stmt.tokens or not stmt.tokens[0].is_word("UPDATE"):
        return
    table = dml_target(stmt.tokens)
    if not has_top_level_word(stmt.tokens, "WHERE") and not is_new_or_undone(ctx, Obj("table", table)):
        yield Hit(f"UPDATE without WHERE rewrites every row of {table}")


# -- renames ----------------------------------------------------------------------


@rule(
    "rename-table",
    severity=Severity.ERROR,
    summary="Renaming a table breaks every running query that uses the old name",
    rationale="""
The rename is instant, but the application version that is running while
the migration is applied (and any other service, report or replica consumer)
still uses the old name and fails until it is redeployed. A rename also
takes an ACCESS EXCLUSIVE lock.
""",
    alternative="""
Expand and contract: create a view with the new name (or the new table plus
sync), move the code over, and remove the old name in a later migration:

```sql
ALTER TABLE customers RENAME TO clients;
CREATE VIEW customers AS SELECT * FROM clients;  -- old code keeps working
```
""",
    examples=[
        Example("ALTER TABLE customers RENAME TO clients;",
                "CREATE TABLE staging (id bigint);\nALTER TABLE staging RENAME TO imported;"),
        Example("ALTER TABLE customers RENAME TO clients;",
                "CREATE TABLE staging (id integer);\nALTER TABLE staging RENAME TO imported;",
                dialect="sqlite"),
        Example("RENAME TABLE customers TO clients;",
                "CREATE TABLE staging (id bigint);\nRENAME TABLE staging TO imported;",
                dialect="mysql"),
    ],
    dialects=("postgres",),
    nodes=("RenameStmt",),
    squawk=("renaming-table",),
)
def rename_table(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    if stmt.node.get("renameType") != "OBJECT_TABLE":
        return
    table = relname(stmt.node.get("relation"))
    if not is_new_or_undone(ctx, Obj("table", table)):
        yield Hit(f"renaming table {table} to {stmt.node.get('newname', '')} breaks queries that use the old name")


@rename_table.also("sqlite", "mysql")
def _rename_table_text(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    from ..textsql import parse_alter_table, read_name, split_top_level

    tokens = stmt.tokens
    if len(tokens) > 2 and tokens[0].is_word("RENAME") and tokens[1].is_word("TABLE"):
        for part in split_top_level(tokens[2:]):
            old, _ = read_name(part, 0)
            if old and not is_new_or_undone(ctx, Obj("table", old)):
                yield Hit(f"renaming table {old} breaks queries that use the old name")
        return
    alter = parse_alter_table(tokens)
    if alter is None or is_new_or_undone(ctx, Obj("table", alter.table)):
        return
    for spec in alter.specs:
        if spec[0].is_word("RENAME") and len(spec) > 1 and spec[1].is_word("TO", "AS"):
            yield Hit(f"renaming table {alter.table} breaks queries that use the old name")


@rule(
    "rename-column",
    severity=Severity.ERROR,
    summary="Renaming a column breaks every running query that uses the old name",
    rationale="""
The application version running while the migration applies still selects
and writes the old column name, and fails until it is redeployed; so do
reports, other services and ORMs with cached column lists.
""",
    alternative="""
Expand and contract: add the new column, write both, backfill, move reads,
then drop the old column in a later release:

```sql
ALTER TABLE users ADD COLUMN display_name text;
-- deploy code writing both; backfill in batches; deploy code reading display_name
-- later: ALTER TABLE users DROP COLUMN name;
```
""",
    examples=[
        Example("ALTER TABLE users RENAME COLUMN name TO display_name;",
                "ALTER TABLE users ADD COLUMN display_name text;"),
        Example("ALTER TABLE users RENAME COLUMN name TO display_name;",
                "ALTER TABLE users ADD COLUMN display_name text;", dialect="sqlite"),
        Example("ALTER TABLE users CHANGE name display_name varchar(100);",
                "ALTER TABLE users ADD COLUMN display_name varchar(100);", dialect="mysql"),
    ],
    dialects=("postgres",),
    nodes=("RenameStmt",),
    squawk=("renaming-column",),
)
def rename_column(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    if stmt.node.get("renameType") != "OBJECT_COLUMN":
        return
    table = relname(stmt.node.get("relation"))
    column = stmt.node.get("subname", "")
    if not is_new_or_undone(ctx, Obj("column", column, table)):
        yield Hit(f"renaming column {table}.{column} breaks queries that use the old name")


@rename_column.also("sqlite", "mysql")
def _rename_column_text(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    from ..textsql import parse_alter_table, read_name

    alter = parse_alter_table(stmt.tokens)
    if alter is None:
        return
    for spec in alter.specs:
        old = new = ""
        if len(spec) > 3 and spec[0].is_word("RENAME") and spec[1].is_word("COLUMN"):
            old, new = read_name(spec, 2)[0], read_name(spec, 4)[0] if len(spec) > 4 else ""
        elif len(spec) > 2 and spec[0].is_word("RENAME") and not spec[1].is_word("TO", "AS", "INDEX", "KEY"):
            old = read_name(spec, 1)[0]
        elif len(spec) > 2 and spec[0].is_word("CHANGE"):
            i = 2 if spec[1].is_word("COLUMN") else 1
            old, after = read_name(spec, i)
            new = read_name(spec, after)[0]
            if old == new:
                continue
        if old and not is_new_or_undone(ctx, Obj("column", old, alter.table)):
            yield Hit(f"renaming column {alter.table}.{old} breaks queries that use the old name")
