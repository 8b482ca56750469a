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


# The parser truncates names to 63 bytes, so the tree cannot tell a long name from a 63-byte one:
# long names are read from PostgreSQL's own scanner, whose identifier tokens are exactly the
# names of the parse tree (never a word in a comment, a string or a function body).
# 64 bytes take at least 16 characters (4 bytes each at most): a cheap test before scanning.
_ANY_LONG_ASCII = re.compile(r'[\w$]{64}|"[^"]{64}')
_ANY_LONG = re.compile(r'[\w$]{16}|"[^"]{16}')


def _identifier(token_text: str) -> str:
    """The name an identifier token stands for: quotes removed, or folded to lower case."""
    if token_text.startswith('"'):
        return token_text[1:-1].replace('""', '"')
    return token_text.lower()


def _long_names(text: str) -> Iterator[tuple[str, int, int]]:
    """(name, character offset, length in the text) of every identifier over 63 bytes."""
    if not (_ANY_LONG_ASCII if text.isascii() else _ANY_LONG).search(text):
        return  # the common case: nothing long enough anywhere in the statement
    from pglast import parser

    try:
        tokens = parser.scan(text)
    except parser.ParseError:
        return
    for token in tokens:
        if token.name != "IDENT":
            continue
        raw = text[token.start : token.end + 1]
        name = _identifier(raw)
        if len(name.encode("utf-8")) > _MAX_IDENTIFIER_BYTES:
            yield name, token.start, len(raw)


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
    squawk=("identifier-too-long",),
)
def identifier_too_long(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    # Every statement: any name (table, column, index, constraint, trigger, sequence, policy,
    # function, ...) is truncated the same way.
    seen: set[str] = set()
    for name, offset, length in _long_names(stmt.text):
        if name in seen:
            continue
        seen.add(name)
        yield Hit(f"{name[:24]}... is {len(name.encode('utf-8'))} bytes; PostgreSQL truncates it "
                  f"to 63 without an error", stmt.start + offset, length)
