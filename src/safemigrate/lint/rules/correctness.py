"""Statements that PostgreSQL accepts in a way the author did not mean, or rejects at run time."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from ...sql.postgres import pglast_parser
from ..context import FileContext, Hit, Stmt
from ..model import Severity
from ..pgnodes import alter_cmds, qualified_tail, unwrap
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


# The parser truncates every name to 63 bytes (at a character boundary, so 60 to 63 bytes
# remain). The names a statement defines are read from its parse tree; only when one of them
# is that long can it have been cut, and then PostgreSQL's own scanner gives its full text
# (never a word in a comment, a string or a function body).
_CUT_AT_LEAST = _MAX_IDENTIFIER_BYTES - 3


def _may_be_cut(name: Any) -> bool:
    # At least 60 bytes: 15 characters or more (4 bytes each at most), then the exact count.
    return isinstance(name, str) and len(name) >= _CUT_AT_LEAST // 4 and len(
        name.encode("utf-8")) >= _CUT_AT_LEAST


def _holds_cut_name(kind: str, node: dict[str, Any]) -> bool:
    """Whether a name the statement creates or renames is long enough to have been cut.

    Written as plain loops: it runs on most statements of every file, and almost always
    finds nothing.
    """
    for key in _NAME_FIELDS.get(kind, ()):
        value = node.get(key)
        if isinstance(value, dict):  # a RangeVar, an IntoClause, a CreateStmt
            value = (value.get("rel") or value.get("relation") or value).get("relname")
        elif isinstance(value, list):
            value = qualified_tail(value)
        if _may_be_cut(value):
            return True
    elements: list[Any] = list(node.get("tableElts") or node.get("coldeflist") or ())
    if kind == "AlterTableStmt":
        elements += [cmd.get("def") for cmd in alter_cmds(node)]
    shortest = _CUT_AT_LEAST // 4  # the length test inline: most names are short, most constraints unnamed
    for element in elements:
        if not isinstance(element, dict):
            continue
        column = element.get("ColumnDef")
        if column is None:
            name = (element.get("Constraint") or {}).get("conname")
            if name and len(name) >= shortest and _may_be_cut(name):
                return True
            continue
        name = column.get("colname")
        if name and len(name) >= shortest and _may_be_cut(name):
            return True
        for constraint in column.get("constraints") or ():
            name = (constraint.get("Constraint") or {}).get("conname")
            if name and len(name) >= shortest and _may_be_cut(name):
                return True
    return False


# Where each statement keeps the name it defines (strings, RangeVars or qualified-name lists).
_NAME_FIELDS: dict[str, tuple[str, ...]] = {
    "CreateStmt": ("relation",),
    "CreateForeignTableStmt": ("base",),
    "IndexStmt": ("idxname",),
    "RenameStmt": ("newname",),
    "ViewStmt": ("view",),
    "CreateTableAsStmt": ("into",),
    "CreateSeqStmt": ("sequence",),
    "CreateSchemaStmt": ("schemaname",),
    "CreateTrigStmt": ("trigname",),
    "CreateEventTrigStmt": ("trigname",),
    "CreatePolicyStmt": ("policy_name",),
    "CreateFunctionStmt": ("funcname",),
    "CreateEnumStmt": ("typeName",),
    "CompositeTypeStmt": ("typevar",),
    "CreateDomainStmt": ("domainname",),
    "DefineStmt": ("defnames",),
    "RuleStmt": ("rulename",),
    "CreateStatsStmt": ("defnames",),
    "CreateExtensionStmt": ("extname",),
    "CreatePublicationStmt": ("pubname",),
    "CreateSubscriptionStmt": ("subname",),
    "CreateRoleStmt": ("role",),
    "CreateConversionStmt": ("conversion_name",),
    "AlterTableStmt": (),
}


def _identifier(token_text: str) -> str:
    """The name an identifier token stands for: quotes removed, or folded to lower case."""
    if token_text.startswith('"'):
        return token_text[1:-1].replace('""', '"')
    return token_text.lower()


def _long_names(text: str) -> Iterator[tuple[str, int, int]]:
    """(name, character offset, length in the text) of every identifier over 63 bytes."""
    parser = pglast_parser()
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
    nodes=tuple(_NAME_FIELDS),
    squawk=("identifier-too-long",),
)
def identifier_too_long(stmt: Stmt, ctx: FileContext) -> Iterator[Hit]:
    if not _holds_cut_name(stmt.kind, stmt.node):
        return  # the common case: no name in the tree is long enough to have been cut
    seen: set[str] = set()
    for name, offset, length in _long_names(stmt.text):
        if name in seen:
            continue
        seen.add(name)
        yield Hit(f"{name[:24]}... is {len(name.encode('utf-8'))} bytes; PostgreSQL truncates it "
                  f"to 63 without an error", stmt.start + offset, length)
