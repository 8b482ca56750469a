"""What a rule sees: the statement, its facts, and the file's state up to that statement.

The engine walks a file's statements in order. Before a statement's rules run,
the context reflects only the statements before it (what the file created,
whether a transaction is open, whether ``lock_timeout`` is set); after them it
is advanced with the statement's facts. That ordering is what lets rules cut
false positives such as ``CREATE INDEX`` on a table the same file created.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from .._record import Record
from .source import SourceText

__all__ = ["Facts", "FileContext", "Hit", "NotNullChecks", "Obj", "ObjectSet", "Partner", "Stmt"]


class Obj(Record, frozen=True):
    """A schema object a statement creates or drops. Names are compared case-folded, without schema."""

    kind: str  # table, column, index, view, type, sequence, schema
    name: str
    table: str
    columns: tuple[str, ...]

    def __init__(self, kind: str, name: str, table: str = "", columns: tuple[str, ...] = ()) -> None:
        self.__dict__.update(kind=kind, name=name, table=table, columns=columns)


class Facts(Record):
    """What a statement does, independent of the dialect it was written in."""

    # Slots: one per statement, and read by every rule.
    __slots__ = (
        "category",
        "constraints",
        "creates",
        "drops",
        "locks",
        "not_null",
        "renames",
        "settings",
        "tx",
        "validates",
        "writes",
    )

    category: str  # ddl, dml, tx, session, query, other
    creates: list[Obj]
    drops: list[Obj]
    writes: tuple[str, ...]  # tables whose rows a DML statement changes
    locks: tuple[str, ...]  # tables the statement locks in a way that queues other sessions
    settings: list[tuple[str, str | None, bool]]  # name, value, LOCAL
    tx: str  # begin, commit, rollback, savepoint, ... for transaction control
    # CHECK and FOREIGN KEY constraints added: (name, table, column of a "col IS NOT NULL" check, validated)
    constraints: list[tuple[str, str, str | None, bool]]
    validates: list[str]  # constraint names validated
    not_null: list[tuple[str, str]]  # (table, column) set NOT NULL
    renames: list[tuple[Obj, str]]  # (table or column, its new name)

    def __init__(self, category: str = "other", creates: list[Obj] | None = None, drops: list[Obj] | None = None,
                 writes: tuple[str, ...] = (), locks: tuple[str, ...] = (),
                 settings: list[tuple[str, str | None, bool]] | None = None, tx: str = "",
                 constraints: list[tuple[str, str, str | None, bool]] | None = None,
                 validates: list[str] | None = None, not_null: list[tuple[str, str]] | None = None,
                 renames: list[tuple[Obj, str]] | None = None) -> None:
        self.category = category
        self.creates = [] if creates is None else creates
        self.drops = [] if drops is None else drops
        self.writes = writes
        self.locks = locks
        self.settings = [] if settings is None else settings
        self.tx = tx
        self.constraints = [] if constraints is None else constraints
        self.validates = [] if validates is None else validates
        self.not_null = [] if not_null is None else not_null
        self.renames = [] if renames is None else renames


class Stmt(Record, eq=False):
    """One statement of a file, with its position and what the dialect's parser made of it."""

    # Slots: one per statement, and read by every rule.
    __slots__ = (
        "byte_base",
        "cache",
        "column",
        "end",
        "end_line",
        "facts",
        "index",
        "kind",
        "line",
        "node",
        "start",
        "text",
        "tokens",
        "transaction_control",
        "transactional",
    )

    index: int
    start: int  # character offset of its first token
    end: int
    line: int
    column: int
    end_line: int
    kind: str  # PostgreSQL node type (e.g. AlterTableStmt) or the leading keywords (ALTER TABLE)
    text: str
    node: dict[str, Any]  # PostgreSQL: the node's fields
    tokens: tuple[Any, ...]  # SQLite/MySQL: the statement's tokens
    transactional: bool
    transaction_control: bool
    byte_base: int  # PostgreSQL: byte offset that the node locations count from
    facts: Facts
    cache: dict[str, Any]  # helpers memoize what several rules read

    def __init__(self, index: int, start: int, end: int, line: int, column: int, end_line: int, kind: str,
                 text: str, node: dict[str, Any] | None = None, tokens: tuple[Any, ...] = (),
                 transactional: bool = True, transaction_control: bool = False, byte_base: int = 0,
                 facts: Facts | None = None, cache: dict[str, Any] | None = None) -> None:
        self.index = index
        self.start = start
        self.end = end
        self.line = line
        self.column = column
        self.end_line = end_line
        self.kind = kind
        self.text = text
        self.node = {} if node is None else node
        self.tokens = tokens
        self.transactional = transactional
        self.transaction_control = transaction_control
        self.byte_base = byte_base
        self.facts = Facts() if facts is None else facts
        self.cache = {} if cache is None else cache


class Hit(Record, frozen=True):
    """A rule's report: an optional message (default: the rule's summary) and where (default: the statement)."""

    message: str | None
    offset: int | None
    length: int | None
    related: tuple[tuple[str, int, str], ...]  # (path, line, message)

    def __init__(self, message: str | None = None, offset: int | None = None, length: int | None = None,
                 related: tuple[tuple[str, int, str], ...] = ()) -> None:
        self.__dict__.update(message=message, offset=offset, length=length, related=related)


class ObjectSet(Record):
    """Objects and the line that created or dropped them."""

    tables: dict[str, int]
    columns: dict[tuple[str, str], int]
    indexes: dict[str, tuple[str, tuple[str, ...], int]]
    others: dict[tuple[str, str], int]

    def __init__(self, tables: dict[str, int] | None = None, columns: dict[tuple[str, str], int] | None = None,
                 indexes: dict[str, tuple[str, tuple[str, ...], int]] | None = None,
                 others: dict[tuple[str, str], int] | None = None) -> None:
        self.tables = {} if tables is None else tables
        self.columns = {} if columns is None else columns
        self.indexes = {} if indexes is None else indexes
        self.others = {} if others is None else others

    def add(self, obj: Obj, line: int) -> None:
        if obj.kind == "table":
            self.tables.setdefault(obj.name, line)
        elif obj.kind == "column":
            self.columns.setdefault((obj.table, obj.name), line)
        elif obj.kind == "index":
            self.indexes.setdefault(obj.name, (obj.table, obj.columns, line))
        else:
            self.others.setdefault((obj.kind, obj.name), line)

    def rename(self, obj: Obj, new_name: str) -> None:
        """Follow a RENAME of a table or column in the set (what the file made keeps being its own)."""
        if obj.kind == "table" and obj.name in self.tables:
            self.tables[new_name] = self.tables.pop(obj.name)
            self.columns = {(new_name if t == obj.name else t, c): line
                            for (t, c), line in self.columns.items()}
            self.indexes = {name: (new_name if t == obj.name else t, cols, line)
                            for name, (t, cols, line) in self.indexes.items()}
        elif obj.kind == "column" and (obj.table, obj.name) in self.columns:
            self.columns[(obj.table, new_name)] = self.columns.pop((obj.table, obj.name))

    def items(self) -> list[tuple[Obj, int]]:
        found: list[tuple[Obj, int]] = [(Obj("table", n), line) for n, line in self.tables.items()]
        found += [(Obj("column", c, t), line) for (t, c), line in self.columns.items()]
        found += [(Obj("index", n, t, cols), line) for n, (t, cols, line) in self.indexes.items()]
        found += [(Obj(k, n), line) for (k, n), line in self.others.items()]
        return sorted(found, key=lambda pair: pair[1])


class NotNullChecks(Record):
    """``CHECK (column IS NOT NULL)`` constraints and ``SET NOT NULL`` columns known so far.

    PostgreSQL 12+ skips the table scan of ``SET NOT NULL`` when a validated
    check proves it; the check may have been added (and validated) by an
    earlier migration of the folder, so the engine seeds a file's copy with
    what the earlier files did. Names are case-folded, without schema.
    """

    checks: dict[str, tuple[str, str, bool]]  # name -> table, column, validated
    not_null: set[tuple[str, str]]  # columns set NOT NULL

    def __init__(self, checks: dict[str, tuple[str, str, bool]] | None = None,
                 not_null: set[tuple[str, str]] | None = None) -> None:
        self.checks = {} if checks is None else checks
        self.not_null = set() if not_null is None else not_null

    def copy(self) -> NotNullChecks:
        return NotNullChecks(dict(self.checks), set(self.not_null))

    def proves(self, table: str, column: str, ignoring: Collection[str] = ()) -> bool:
        """Whether a validated check (other than those named in ``ignoring``) proves ``table.column`` has no NULL."""
        return any(t == table and c == column and valid and name not in ignoring
                   for name, (t, c, valid) in self.checks.items())

    def is_redundant_helper(self, table: str, name: str, also: Collection[tuple[str, str]] = ()) -> bool:
        """Whether constraint ``name`` on ``table`` is a NOT NULL check on a column set NOT NULL
        (before, or in ``also``: by the statement that drops it)."""
        entry = self.checks.get(name)
        return entry is not None and entry[0] == table and (
            (table, entry[1]) in self.not_null or (table, entry[1]) in also)

    def apply(self, facts: Facts) -> None:
        """Record what a statement did to such checks and columns."""
        for name, table, column, validated in facts.constraints:
            if column:
                # PostgreSQL names an unnamed single-column check <table>_<column>_check.
                self.checks[name or f"{table}_{column}_check"] = (table, column, validated)
        for name in facts.validates:
            entry = self.checks.get(name)
            if entry is not None:
                self.checks[name] = (entry[0], entry[1], True)
        self.not_null.update(facts.not_null)
        for obj in facts.drops:
            self._forget(obj)

    def _forget(self, obj: Obj) -> None:
        if obj.kind == "constraint":
            self.checks.pop(obj.name, None)
        elif obj.kind in ("column", "table"):
            table = obj.table if obj.kind == "column" else obj.name

            def gone(t: str, c: str) -> bool:
                return t == table and (obj.kind == "table" or c == obj.name)

            self.checks = {n: e for n, e in self.checks.items() if not gone(e[0], e[1])}
            self.not_null = {(t, c) for t, c in self.not_null if not gone(t, c)}


class Partner(Record):
    """The other half of a migration: for an up file its down file, for a down file its up file."""

    path: str | None  # None: there is no such file
    created: ObjectSet | None  # for a down file: what the up file created
    empty: bool

    def __init__(self, path: str | None, created: ObjectSet | None = None, empty: bool = False) -> None:
        self.path = path
        self.created = created
        self.empty = empty


class FileContext:
    """One file being linted, and its state as of the statement being checked."""

    def __init__(
        self,
        *,
        path: str,
        source: SourceText,
        dialect: str,
        pg_version: int | None,
        direction: str | None,
        statements: list[Stmt],
        wrapped: bool,
        statement_mode_reason: str | None = None,
        partner: Partner | None = None,
        history: NotNullChecks | None = None,
    ) -> None:
        self.path = path
        self.source = source
        self.dialect = dialect
        self.pg_version = pg_version
        self.direction = direction
        self.statements = statements
        # True when our runner runs the whole file (and the version update) in one transaction.
        self.wrapped = wrapped
        self.statement_mode_reason = statement_mode_reason
        self.partner = partner
        self.created = ObjectSet()  # everything the file creates, also IF NOT EXISTS (for down files)
        # What the file made new: a plain CREATE, not IF NOT EXISTS or OR REPLACE, which
        # say the object may already exist (with data, and in use).
        self.new = ObjectSet()
        self.dropped = ObjectSet()
        self.index = -1
        self.tx_open = False
        self._tx_block = 0
        self._settings: dict[str, int | None] = {}  # name -> transaction it is limited to (None: session)
        self.not_valid: dict[str, tuple[str, str | None, int]] = {}  # constraint -> table, column, tx
        self.not_null_checks = history.copy() if history is not None else NotNullChecks()
        self.flags: set[str] = set()
        self.syntax_problems = 0

    # -- versions and transactions ---------------------------------------------
    def pg_at_least(self, major: int) -> bool:
        """Unknown versions are taken to be current PostgreSQL."""
        return self.pg_version is None or self.pg_version >= major

    @property
    def in_transaction(self) -> bool:
        """Whether the statement being checked runs inside a transaction block."""
        return self.wrapped or self.tx_open

    @property
    def transaction_id(self) -> int:
        """Statements with the same id share one transaction."""
        if self.wrapped:
            return 0
        if self.tx_open:
            return self._tx_block
        return -(self.index + 1)

    def setting_active(self, name: str) -> bool:
        if name not in self._settings:
            return False
        scope = self._settings[name]
        return scope is None or scope == self.transaction_id

    def once(self, key: str) -> bool:
        """True the first time ``key`` is seen in this file (for rules that report once per file)."""
        if key in self.flags:
            return False
        self.flags.add(key)
        return True

    # -- objects ---------------------------------------------------------------
    def created_table(self, name: str) -> bool:
        """Whether a plain CREATE TABLE earlier in this file made the table (new and empty)."""
        return bool(name) and name in self.new.tables

    def created_column(self, table: str, column: str) -> bool:
        return self.created_table(table) or (table, column) in self.new.columns

    def created_index(self, name: str) -> bool:
        return name in self.new.indexes

    # -- positions -------------------------------------------------------------
    def char_offset(self, stmt: Stmt, node: dict[str, Any] | None) -> int | None:
        """Character offset of a PostgreSQL node's ``location`` (None when it has none)."""
        if not node:
            return None
        location = node.get("location")
        if not isinstance(location, int) or location < 0:
            return None
        return self.source.char_of_byte(stmt.byte_base + location)

    # -- advancing -------------------------------------------------------------
    def advance(self, stmt: Stmt) -> None:
        """Record what ``stmt`` did, so the next statement's rules see it."""
        facts = stmt.facts
        if facts.tx:
            self._advance_transaction(facts.tx)
        for name, value, local in facts.settings:
            if value is None or value.strip().strip("'\"") in ("0", ""):
                self._settings.pop(name, None)
            else:
                self._settings[name] = self.transaction_id if local else None
        for name, table, column, validated in facts.constraints:
            if not validated and name:
                self.not_valid[name] = (table, column, self.transaction_id)
        self.not_null_checks.apply(facts)
        for obj in facts.creates:
            self.created.add(obj, stmt.line)
            if not _may_already_exist(stmt, obj):
                self.new.add(obj, stmt.line)
        for obj in facts.drops:
            self.dropped.add(obj, stmt.line)
        for obj, new_name in facts.renames:
            self.created.rename(obj, new_name)
            self.new.rename(obj, new_name)

    def _advance_transaction(self, tx: str) -> None:
        if tx == "begin":
            self.tx_open = True
            self._tx_block += 1
        elif tx in ("commit", "rollback"):
            self.tx_open = False
            # SET LOCAL values end with their transaction.
            block = self._tx_block
            self._settings = {k: v for k, v in self._settings.items() if v is None or v != block}

    def begin_statement(self, stmt: Stmt) -> None:
        self.index = stmt.index


def _may_already_exist(stmt: Stmt, obj: Obj) -> bool:
    """Whether ``stmt`` creates ``obj`` only if it is missing (IF NOT EXISTS) or replaces it (OR REPLACE).

    Such an object may exist with data from an earlier release (Mattermost's
    migrations run against databases that older versions created), so it is not new.
    """
    node = stmt.node
    if not node:  # SQLite/MySQL: the statement's own words
        words = [t.value for t in stmt.tokens if t.kind == "word"]
        return any(words[i:i + 3] == ["IF", "NOT", "EXISTS"] for i in range(len(words) - 2))
    if stmt.kind == "AlterTableStmt":
        if obj.kind != "column":
            return False
        for wrapped in node.get("cmds") or ():
            cmd = wrapped.get("AlterTableCmd") or {}
            column_def = (cmd.get("def") or {}).get("ColumnDef") or {}
            if cmd.get("missing_ok") and column_def.get("colname") == obj.name:
                return True
        return False
    return bool(node.get("if_not_exists") or node.get("replace"))
