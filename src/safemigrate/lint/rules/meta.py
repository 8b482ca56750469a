"""Findings the engine makes itself: statements that do not parse, acknowledgements that match nothing."""

from __future__ import annotations

from collections.abc import Iterator

from ..context import Hit
from ..model import Severity
from ..registry import Example, rule


@rule(
    "syntax-error",
    severity=Severity.ERROR,
    summary="This statement does not parse",
    rationale="""
The database will reject the statement, so the migration fails at this
point (and, in a file that is not atomic, leaves the statements before it
applied). The rest of the file is still linted: the file is split at its
top-level semicolons and every statement that parses is checked.
""",
    alternative="""
Fix the statement; check it against the database version you deploy to
(for PostgreSQL, `--pg-version`), since newer syntax fails on older servers.

```sql
ALTER TABLE users ADD COLUMN note text;
```
""",
    examples=[Example("ALTER TABLE users ADD COLUM note text;",
                      "ALTER TABLE users ADD COLUMN note text;")],
    scope="engine",
    squawk=("syntax-error",),
)
def syntax_error(*_args: object) -> Iterator[Hit]:
    return iter(())


@rule(
    "unused-ignore",
    severity=Severity.WARNING,
    summary="A safemigrate:ignore comment matches no finding",
    rationale="""
An acknowledgement that no longer matches anything (the statement changed,
the rule id is misspelled, or the rule does not run on this database) hides
nothing today but would silently hide a future finding at that place; it
also misleads reviewers into thinking a risk was accepted.
""",
    alternative="""
Remove the comment, or fix the rule id; the reason after the second `--`
is for the reviewer:

```sql
DROP TABLE audit_log;  -- safemigrate:ignore drop-table -- archived to S3 in OPS-1234
```
""",
    examples=[
        Example("-- safemigrate:ignore drop-table -- archived\nSELECT 1;",
                "-- safemigrate:ignore drop-table -- archived\nDROP TABLE audit_log;"),
        Example("-- safemigrate:ignore drop-table -- archived\nSELECT 1;",
                "-- safemigrate:ignore drop-table -- archived\nDROP TABLE audit_log;", dialect="sqlite"),
        Example("-- safemigrate:ignore drop-table -- archived\nSELECT 1;",
                "-- safemigrate:ignore drop-table -- archived\nDROP TABLE audit_log;", dialect="mysql"),
    ],
    dialects=("postgres", "sqlite", "mysql"),
    scope="engine",
    squawk=("unused-ignore",),
)
def unused_ignore(*_args: object) -> Iterator[Hit]:
    return iter(())
