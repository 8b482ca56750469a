"""What the earlier migrations of a folder did, for the rules of a later one.

PostgreSQL 12+ skips the table scan of ``SET NOT NULL`` when a validated
``CHECK (column IS NOT NULL)`` proves the column has no NULL. The safe pattern
spreads over several migrations (add the check NOT VALID in one, validate it in
the next, set NOT NULL and drop the helper check after that), so a file is
linted knowing which such checks and NOT NULL columns its folder's earlier up
files left behind.

Only files that can use that knowledge (they hold ``SET NOT NULL`` or ``DROP
CONSTRAINT``) get it, and only the earlier files that can change it (they
mention ``IS NOT NULL``, or validate, set or drop something once a check is
known) are parsed: most folders cost a text search per file and nothing more.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .context import NotNullChecks
from .source import SourceText

if TYPE_CHECKING:  # the engine imports this module: no import cycle at run time
    from .engine import SourceFile

__all__ = ["EarlierLookup", "not_null_histories"]

# The earlier up files of a file's folder that are not being linted (read from disk).
EarlierLookup = Callable[["SourceFile"], Sequence["SourceFile"]]

# Searched in the lower-cased text: several times faster than re.IGNORECASE over every file.
_USES = re.compile(r"set\s+not\s+null|drop\s+constraint")
_ADDS_CHECK = re.compile(r"is\s+not\s+null")
_CHANGES = re.compile(r"validate|set\s+not\s+null|drop\s")


def not_null_histories(files: Sequence[SourceFile],
                       find_earlier: EarlierLookup | None = None) -> dict[str, NotNullChecks]:
    """For each PostgreSQL up file that can use it: the checks its folder's earlier up files left.

    ``find_earlier`` supplies the earlier up files that are not among ``files``
    (the engine lints only pending migrations; the applied ones are on disk).
    """
    folders: dict[str, list[SourceFile]] = {}
    for file in files:
        if file.direction == "up" and file.pair_key is not None:
            folders.setdefault(file.pair_key[0], []).append(file)
    histories: dict[str, NotNullChecks] = {}
    for ups in folders.values():
        users = [f for f in ups if _USES.search(f.text.lower())]
        if users:
            histories.update(_folder_history(ups, users, find_earlier))
    return histories


def _folder_history(ups: list[SourceFile], users: list[SourceFile],
                    find_earlier: EarlierLookup | None) -> dict[str, NotNullChecks]:
    last = max(users, key=lambda f: f.version or 0)
    by_version: dict[int, SourceFile] = {}
    if find_earlier is not None:
        for earlier in find_earlier(last):
            by_version[earlier.version or 0] = earlier
    for file in ups:
        by_version[file.version or 0] = file  # the text being linted wins over the disk
    wanted = {f.path for f in users}
    state = NotNullChecks()
    out: dict[str, NotNullChecks] = {}
    for version in sorted(v for v in by_version if v <= (last.version or 0)):
        file = by_version[version]
        if file.path in wanted:
            out[file.path] = state.copy()
        lowered = file.text.lower()
        if _ADDS_CHECK.search(lowered) or (state.checks and _CHANGES.search(lowered)):
            _replay(file.text, state)
    return out


def _replay(text: str, state: NotNullChecks) -> None:
    """Apply what each statement of ``text`` does to the checks (statements that do not parse are skipped)."""
    from .pgparse import parse_postgres

    for stmt in parse_postgres(SourceText(text)).statements:
        state.apply(stmt.facts)  # parse_postgres computed them: pg_facts(stmt.kind, stmt.node)
