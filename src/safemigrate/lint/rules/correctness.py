"""Statements that PostgreSQL accepts in a way the author did not mean, or rejects at run time."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

from ..context import FileContext, Hit, Stmt
from ..model import Severity
from ..pgnodes import unwrap
from ..registry import Example, rule

_MAX_IDENTIFIER_BYTES = 63  # NAMEDATALEN - 1


@rule(
    "duplicate-column-assignment",
    severity=Severity.ERROR,
    summary="UPDATE assigns the same column twice",
    rationale="""
PostgreSQL rejects an UPDATE that sets one column twice ("multiple
assignments to same column"), so the migration fails when it reaches the
statement; it is almost always a copy-and-paste slip where another column was meant.
""",
    alternative="""
Assign each column once:

```sql
UPDATE users SET plan = 'free', plan_changed_at = now() WHERE plan IS NULL;
```
""",
    examples=[Example("UPDATE users SET plan = 'free', plan = 'pro' WHERE id = 1;",
                      "UPDATE users SET plan = 'free', plan_changed_at = now() WHERE id = 1;")],
    nodes=("UpdateStmt",),
    squawk=("ban-duplicate-column-assignments",),
)
def duplicate_column_assignment(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    targets = [unwrap(t)[1] for t in stmt.node.get("targetList") or ()]
    counts = Counter(t.get("name", "") for t in targets)
    for target in targets:
        name = target.get("name", "")
        if counts[name] > 1:
            counts[name] = 0  # report each column once
            yield Hit(f"column {name} is assigned more than once", ctx.char_offset(stmt, target))


# The parser already truncates names to 63 bytes, so long ones are found in the statement's text.
_STRING = re.compile(r"'(?:[^']|'')*'")
# 64 bytes take at least 16 characters (4 bytes each at most); the byte length is checked after.
_LONG_NAME = re.compile(r'"((?:[^"]|""){16,})"|\b([^\W\d][\w$]{15,})')


_ANY_LONG_ASCII = re.compile(r'[\w$]{64}|"[^"]{64}')
_ANY_LONG = re.compile(r'[\w$]{16}|"[^"]{16}')


def _long_names(text: str) -> Iterator[tuple[str, int]]:
    if not (_ANY_LONG_ASCII if text.isascii() else _ANY_LONG).search(text):
        return  # the common case: nothing long enough anywhere in the statement
    # Blank out string literals (keeping offsets) so long words inside them are not names.
    blanked = _STRING.sub(lambda m: " " * len(m.group()), text)
    for match in _LONG_NAME.finditer(blanked):
        name = match.group(1) or match.group(2)
        if len(name.encode("utf-8")) > _MAX_IDENTIFIER_BYTES:
            yield name, match.start()


@rule(
    "identifier-too-long",
    severity=Severity.WARNING,
    summary="A name longer than 63 bytes is silently truncated",
    rationale="""
PostgreSQL cuts identifiers to 63 bytes without an error. Two long names
that share their first 63 bytes then collide ("already exists"), and tools
or code that compare the full name do not find the object.
""",
    alternative="""
Use a shorter name:

```sql
CREATE INDEX idx_orders_customer_created ON orders (customer_id, created_at);
```
""",
    examples=[Example(
        "CREATE INDEX idx_orders_by_customer_identifier_and_creation_timestamp_for_reports_v2 "
        "ON orders (customer_id, created_at);",
        "CREATE INDEX idx_orders_customer_created ON orders (customer_id, created_at);")],
    nodes=("CreateStmt", "IndexStmt", "AlterTableStmt", "RenameStmt", "ViewStmt", "CreateSeqStmt",
           "CreateSchemaStmt"),
    squawk=("identifier-too-long",),
)
def identifier_too_long(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    seen: set[str] = set()
    for name, offset in _long_names(stmt.text):
        if name in seen:
            continue
        seen.add(name)
        yield Hit(f"{name[:24]}... is {len(name.encode('utf-8'))} bytes; PostgreSQL truncates it "
                  f"to 63 without an error", stmt.start + offset, len(name))
