"""What a rule sees: the statement, its facts, and the file's state up to that statement.

The engine walks a file's statements in order. Before a statement's rules run,
the context reflects only the statements before it (what the file created,
whether a transaction is open, whether ``lock_timeout`` is set); after them it
is advanced with the statement's facts. That ordering is what lets rules cut
false positives such as ``CREATE INDEX`` on a table the same file created.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .source import SourceText

__all__ = ["Facts", "FileContext", "Hit", "Obj", "ObjectSet", "Partner", "Stmt"]


@dataclass(frozen=True)
class Obj:
    """A schema object a statement creates or drops. Names are compared case-folded, without schema."""

    kind: str  # table, column, index, view, type, sequence, schema
    name: str
    table: str = ""
    columns: tuple[str, ...] = ()


@dataclass
class Facts:
    """What a statement does, independent of the dialect it was written in."""

    category: str = "other"  # ddl, dml, tx, session, query, other
    creates: list[Obj] = field(default_factory=list)
    drops: list[Obj] = field(default_factory=list)
    writes: tuple[str, ...] = ()  # tables whose rows a DML statement changes
    locks: tuple[str, ...] = ()  # tables the statement locks in a way that queues other sessions
    settings: list[tuple[str, str | None, bool]] = field(default_factory=list)  # name, value, LOCAL
    tx: str = ""  # begin, commit, rollback, savepoint, ... for transaction control
    # CHECK and FOREIGN KEY constraints added: (name, table, column of a "col IS NOT NULL" check, validated)
    constraints: list[tuple[str, str, str | None, bool]] = field(default_factory=list)
    validates: list[str] = field(default_factory=list)  # constraint names validated


@dataclass(eq=False)
class Stmt:
    """One statement of a file, with its position and what the dialect's parser made of it."""

    index: int
    start: int  # character offset of its first token
    end: int
    line: int
    column: int
    end_line: int
    kind: str  # PostgreSQL node type (e.g. AlterTableStmt) or the leading keywords (ALTER TABLE)
    text: str
    node: dict[str, Any] = field(default_factory=dict)  # PostgreSQL: the node's fields
    tokens: tuple[Any, ...] = ()  # SQLite/MySQL: the statement's tokens
    transactional: bool = True
    transaction_control: bool = False
    byte_base: int = 0  # PostgreSQL: byte offset that the node locations count from
    facts: Facts = field(default_factory=Facts)
    cache: dict[str, Any] = field(default_factory=dict)  # helpers memoize what several rules read


@dataclass(frozen=True)
class Hit:
    """A rule's report: an optional message (default: the rule's summary) and where (default: the statement)."""

    message: str | None = None
    offset: int | None = None
    length: int | None = None
    related: tuple[tuple[str, int, str], ...] = ()  # (path, line, message)


@dataclass
class ObjectSet:
    """Objects and the line that created or dropped them."""

    tables: dict[str, int] = field(default_factory=dict)
    columns: dict[tuple[str, str], int] = field(default_factory=dict)
    indexes: dict[str, tuple[str, tuple[str, ...], int]] = field(default_factory=dict)
    others: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, obj: Obj, line: int) -> None:
        if obj.kind == "table":
            self.tables.setdefault(obj.name, line)
        elif obj.kind == "column":
            self.columns.setdefault((obj.table, obj.name), line)
        elif obj.kind == "index":
            self.indexes.setdefault(obj.name, (obj.table, obj.columns, line))
        else:
            self.others.setdefault((obj.kind, obj.name), line)

    def items(self) -> list[tuple[Obj, int]]:
        found: list[tuple[Obj, int]] = [(Obj("table", n), line) for n, line in self.tables.items()]
        found += [(Obj("column", c, t), line) for (t, c), line in self.columns.items()]
        found += [(Obj("index", n, t, cols), line) for n, (t, cols, line) in self.indexes.items()]
        found += [(Obj(k, n), line) for (k, n), line in self.others.items()]
        return sorted(found, key=lambda pair: pair[1])


@dataclass
class Partner:
    """The other half of a migration: for an up file its down file, for a down file its up file."""

    path: str | None  # None: there is no such file
    created: ObjectSet | None = None  # for a down file: what the up file created
    empty: bool = False


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
        self.created = ObjectSet()
        self.dropped = ObjectSet()
        self.index = -1
        self.tx_open = False
        self._tx_block = 0
        self._settings: dict[str, int | None] = {}  # name -> transaction it is limited to (None: session)
        self.not_valid: dict[str, tuple[str, str | None, int]] = {}  # constraint -> table, column, tx
        self.validated_not_null: set[tuple[str, str]] = set()
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
        return bool(name) and name in self.created.tables

    def created_column(self, table: str, column: str) -> bool:
        return self.created_table(table) or (table, column) in self.created.columns

    def created_index(self, name: str) -> bool:
        return name in self.created.indexes

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
            if validated:
                if column:
                    self.validated_not_null.add((table, column))
            elif name:
                self.not_valid[name] = (table, column, self.transaction_id)
        for name in facts.validates:
            entry = self.not_valid.get(name)
            if entry is not None and entry[1]:
                self.validated_not_null.add((entry[0], entry[1]))
        for obj in facts.creates:
            self.created.add(obj, stmt.line)
        for obj in facts.drops:
            self.dropped.add(obj, stmt.line)

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
