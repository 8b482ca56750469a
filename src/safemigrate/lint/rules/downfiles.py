"""Down files: there must be one, it must do something, and it must undo what the up file creates."""

from __future__ import annotations

from collections.abc import Iterator

from ..context import FileContext, Hit, Obj
from ..model import Severity
from ..registry import Example, rule

ALL = ("postgres", "sqlite", "mysql")
_UNDO_KINDS = {"table", "column", "index", "view", "type", "sequence", "schema"}


@rule(
    "missing-down-file",
    severity=Severity.WARNING,
    summary="This migration has no down file, so it cannot be rolled back",
    rationale="""
Without VERSION_name.down.sql, `down` and `goto` to an earlier version stop
at this migration ("no change" in golang-migrate), and rolling back a bad
release means restoring a backup. The runbook: "add both up AND down
migrations" and "forget to add down migrations" is a DON'T.
""",
    alternative="""
Write VERSION_name.down.sql next to the up file, undoing the up file in reverse order.

```sql
-- 000004_add_last_seen.down.sql
DROP INDEX IF EXISTS idx_users_last_seen;
ALTER TABLE users DROP COLUMN IF EXISTS last_seen;
```
""",
    examples=[
        Example("ALTER TABLE users ADD COLUMN note text;", "ALTER TABLE users ADD COLUMN note text;",
                bad_down=None, good_down="ALTER TABLE users DROP COLUMN note;"),
        Example("ALTER TABLE users ADD COLUMN note text;", "ALTER TABLE users ADD COLUMN note text;",
                dialect="sqlite", bad_down=None, good_down="ALTER TABLE users DROP COLUMN note;"),
        Example("ALTER TABLE users ADD COLUMN note text;", "ALTER TABLE users ADD COLUMN note text;",
                dialect="mysql", bad_down=None, good_down="ALTER TABLE users DROP COLUMN note;"),
    ],
    dialects=ALL,
    scope="file",
)
def missing_down_file(ctx: FileContext) -> Iterator[Hit]:
    if ctx.direction == "up" and ctx.partner is not None and ctx.partner.path is None:
        expected = ctx.path.replace(".up.", ".down.")
        yield Hit(f"no down file: {expected.rsplit('/', 1)[-1]} is missing, so this version "
                  "cannot be rolled back", 0)


@rule(
    "empty-down-file",
    severity=Severity.WARNING,
    summary="The down file is empty, so rolling back does nothing",
    rationale="""
An empty down file makes `down` succeed and record the earlier version while
the schema still has everything the up file created: the version table now
lies about the schema, and the next `up` fails on objects that already exist.
""",
    alternative="""
Undo the up file; if it truly cannot be undone, say so and fail loudly:

```sql
-- 000012_backfill_plan.down.sql
DO $$ BEGIN RAISE EXCEPTION '000012 cannot be rolled back: restore a backup'; END $$;
```
""",
    examples=[
        Example("ALTER TABLE users ADD COLUMN note text;", "ALTER TABLE users ADD COLUMN note text;",
                bad_down="-- nothing to do\n", good_down="ALTER TABLE users DROP COLUMN note;"),
        Example("ALTER TABLE users ADD COLUMN note text;", "ALTER TABLE users ADD COLUMN note text;",
                dialect="sqlite", bad_down="", good_down="ALTER TABLE users DROP COLUMN note;"),
        Example("ALTER TABLE users ADD COLUMN note text;", "ALTER TABLE users ADD COLUMN note text;",
                dialect="mysql", bad_down="\n", good_down="ALTER TABLE users DROP COLUMN note;"),
    ],
    dialects=ALL,
    scope="file",
)
def empty_down_file(ctx: FileContext) -> Iterator[Hit]:
    # A file whose statements all failed to parse is not empty: it gets syntax-error findings.
    if ctx.direction == "down" and not ctx.statements and not ctx.syntax_problems:
        yield Hit("the down file has no statements: rolling back would record the earlier "
                  "version without undoing anything", 0)


def _undone(obj: Obj, ctx: FileContext) -> bool:
    dropped = ctx.dropped
    if obj.kind == "table":
        return obj.name in dropped.tables
    if obj.kind == "column":
        return obj.table in dropped.tables or (obj.table, obj.name) in dropped.columns
    if obj.kind == "index":
        return (obj.name in dropped.indexes or obj.table in dropped.tables
                or any((obj.table, c) in dropped.columns for c in obj.columns))
    return (obj.kind, obj.name) in dropped.others


@rule(
    "down-does-not-undo",
    severity=Severity.WARNING,
    summary="The down file does not drop something the up file creates",
    rationale="""
After `down`, the version table says the migration is gone, but the table,
column or index it created is still there: running `up` again fails on
"already exists", and the schema no longer matches any version of the code.
""",
    alternative="""
Drop everything the up file creates, in reverse order.

```sql
-- up:   ALTER TABLE users ADD COLUMN last_seen timestamptz;
--       CREATE INDEX CONCURRENTLY idx_users_last_seen ON users (last_seen);
-- down:
DROP INDEX IF EXISTS idx_users_last_seen;
ALTER TABLE users DROP COLUMN IF EXISTS last_seen;
```
""",
    examples=[
        Example("CREATE TABLE notes (id bigint PRIMARY KEY);\nALTER TABLE users ADD COLUMN note text;",
                "CREATE TABLE notes (id bigint PRIMARY KEY);\nALTER TABLE users ADD COLUMN note text;",
                bad_down="DROP TABLE notes;",
                good_down="ALTER TABLE users DROP COLUMN note;\nDROP TABLE notes;"),
        Example("CREATE INDEX idx_users_email ON users (email);",
                "CREATE INDEX idx_users_email ON users (email);",
                dialect="sqlite", bad_down="SELECT 1;", good_down="DROP INDEX idx_users_email;"),
        Example("ALTER TABLE users ADD COLUMN note text;", "ALTER TABLE users ADD COLUMN note text;",
                dialect="mysql", bad_down="ALTER TABLE users DROP COLUMN other;",
                good_down="ALTER TABLE users DROP COLUMN note;"),
    ],
    dialects=ALL,
    scope="file",
)
def down_does_not_undo(ctx: FileContext) -> Iterator[Hit]:
    partner = ctx.partner
    if ctx.direction != "down" or partner is None or partner.created is None or not ctx.statements:
        return
    created = partner.created
    for obj, line in created.items():
        if obj.kind not in _UNDO_KINDS or _undone(obj, ctx):
            continue
        if obj.kind in ("column", "index") and obj.table in created.tables:
            continue  # dropping the table (checked on its own) takes these with it
        what = f"column {obj.table}.{obj.name}" if obj.kind == "column" else f"{obj.kind} {obj.name}"
        up_name = (partner.path or "").replace("\\", "/").rsplit("/", 1)[-1]
        yield Hit(f"{what} created by {up_name} (line {line}) is not dropped here", 0,
                  related=((partner.path or "", line, f"{what} is created here"),))
