"""Syntax only the psql client understands: backslash meta-commands and COPY ... FROM STDIN."""

from __future__ import annotations

from collections.abc import Iterator

from ...sql.postgres import find_psql_syntax, is_copy_from_stdin
from ..context import FileContext, Hit
from ..model import Severity
from ..registry import Example, rule


@rule(
    "psql-syntax",
    severity=Severity.ERROR,
    summary="The file uses psql syntax that a migration tool cannot run",
    rationale="""
Backslash commands (`\\set`, `\\i`, `\\connect`, `\\gset`, ...) and the rows that
follow `COPY ... FROM STDIN` up to `\\.` are read by the psql client, not by
the server. A migration tool (safemigrate, golang-migrate, Flyway, ...) sends
the file's SQL to the server, which answers a syntax error, or waits for COPY
rows that never come. safemigrate refuses such a file before anything runs,
naming the line; golang-migrate marks the version dirty and fails.
""",
    alternative="""
Write the file as plain SQL: inline what `\\i` includes, replace `:variables`
with their values, drop client settings such as `\\set ON_ERROR_STOP` (every
failing statement stops the run anyway), and load rows with `INSERT`:

```sql
INSERT INTO plans (id, name) VALUES (1, 'free'), (2, 'pro');
```
""",
    examples=[
        Example("\\set ON_ERROR_STOP on\nCREATE TABLE plans (id bigint PRIMARY KEY, name text);",
                "CREATE TABLE plans (id bigint PRIMARY KEY, name text);"),
        Example("COPY plans (id, name) FROM stdin;\n1\tfree\n2\tpro\n\\.\n",
                "INSERT INTO plans (id, name) VALUES (1, 'free'), (2, 'pro');"),
    ],
    scope="file",
)
def psql_syntax(ctx: FileContext) -> Iterator[Hit]:
    found: dict[int, Hit] = {}
    text = ctx.source.text
    if "\\" in text or any(s.kind == "CopyStmt" for s in ctx.statements):
        for item in find_psql_syntax(text):
            found[item.start] = Hit(item.message, item.start, len(item.command.split()[0]))
    for stmt in ctx.statements:
        # COPY ... FROM STDIN parses even without rows after it; no tool can feed it any.
        if stmt.start not in found and is_copy_from_stdin(stmt.kind, stmt.node or {}):
            found[stmt.start] = Hit(
                "the file uses psql syntax that a migration tool cannot run: COPY ... FROM STDIN "
                "takes its rows from the psql client, not from SQL the server can run", stmt.start, 4)
    yield from (found[offset] for offset in sorted(found))
