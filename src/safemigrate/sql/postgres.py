"""PostgreSQL statements, split by PostgreSQL's own parser (libpg_query through pglast).

The parse tree is read as libpg_query's JSON rather than as pglast's Python
node objects: building those objects costs about ten times the parse itself,
and the runner splits every file it applies.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from .._record import Record
from .script import (
    LineIndex,
    ParseProblem,
    Script,
    Statement,
    has_no_transaction_marker,
    make_statement,
    skip_leading_noise,
    whole_file,
)

__all__ = [
    "PsqlSyntax",
    "find_psql_syntax",
    "is_copy_from_stdin",
    "pglast_parser",
    "split_postgres",
    "split_statement_by_statement",
    "transaction_properties",
]


def pglast_parser() -> Any:
    """pglast's parser module, imported on first use (SQLite and MySQL runs never load it).

    The runner's split and the linter both take it from here: ``from pglast import parser``
    would build all of pglast (200 M instructions, as much as the rest of ``up --no-lint`` of
    100 migrations beyond ``version``), none of which the JSON parse tree needs.
    """
    global _PARSER
    if _PARSER is None:
        _PARSER = _load_parser()
    return _PARSER


_PARSER: Any = None


def _load_parser() -> Any:
    """Import ``pglast.parser`` without paying for the rest of pglast until someone uses it.

    ``import pglast`` builds hundreds of Enum classes and the AST module (about 25 ms,
    a tenth of linting 1,000 files), none of which the JSON parse tree needs. The package
    and those two modules are registered lazily instead (importlib's LazyLoader): they are
    executed, whole and unchanged, the first time anything touches them, so other code
    that imports pglast later gets the real package. Any surprise falls back to a plain import.
    """
    import sys

    if "pglast" in sys.modules:
        from pglast import parser

        return parser
    try:
        return _load_parser_lazily(sys.modules)
    except Exception:  # a pglast release laid out differently: the ordinary, slower import
        for name in ("pglast.parser", "pglast.ast", "pglast.enums", "pglast.error", "pglast"):
            sys.modules.pop(name, None)
        from pglast import parser

        return parser


def _load_parser_lazily(modules: dict[str, Any]) -> Any:
    import importlib
    import importlib.util

    spec = importlib.util.find_spec("pglast")
    if spec is None or spec.loader is None:
        raise ImportError("pglast")
    package = importlib.util.module_from_spec(spec)
    loader = spec.loader

    def complete(name: str) -> Any:
        # The first attribute the stand-in lacks: run the real pglast/__init__.py in it.
        del package.__dict__["__getattr__"]
        loader.exec_module(package)
        return getattr(package, name)

    package.__dict__["__getattr__"] = complete
    modules["pglast"] = package
    for name in ("pglast.ast", "pglast.enums"):  # the parser module imports both at load time
        sub = importlib.util.find_spec(name)
        if sub is None or sub.loader is None:
            raise ImportError(name)
        lazy = importlib.util.LazyLoader(sub.loader)
        sub.loader = lazy
        module = importlib.util.module_from_spec(sub)
        modules[name] = module
        lazy.exec_module(module)
        setattr(package, name.rpartition(".")[2], module)
    package.__dict__["Error"] = importlib.import_module("pglast.error").Error  # parser: from . import Error
    return importlib.import_module("pglast.parser")


# Statements PostgreSQL refuses inside a transaction block, whatever their options.
_NEVER_IN_TRANSACTION = {
    "CreatedbStmt",
    "DropdbStmt",
    "AlterSystemStmt",
    "CreateTableSpaceStmt",
    "DropTableSpaceStmt",
    "CreateSubscriptionStmt",
    "DropSubscriptionStmt",
}


def _has_def(options: Any, name: str) -> bool:
    for option in options or ():
        fields = option.get("DefElem") if isinstance(option, dict) else None
        if fields and fields.get("defname") == name:
            return True
    return False


def transaction_properties(kind: str, node: dict[str, Any]) -> tuple[bool, bool]:
    """(can run inside a transaction block, is transaction control) for one parse-tree node.

    ``kind`` is the node type (``IndexStmt``) and ``node`` its fields, as in libpg_query's JSON.
    """
    if kind == "TransactionStmt":
        return True, True
    if kind in _NEVER_IN_TRANSACTION:
        return False, False
    if kind in ("IndexStmt", "DropStmt") and node.get("concurrent"):
        return False, False
    if kind == "ReindexStmt" and (_has_def(node.get("params"), "concurrently") or node.get("concurrent")):
        return False, False
    if kind == "VacuumStmt" and node.get("is_vacuumcmd"):
        return False, False
    if kind == "ClusterStmt" and not node.get("relation"):
        return False, False  # CLUSTER of every table
    if kind == "AlterDatabaseStmt" and _has_def(node.get("options"), "tablespace"):
        return False, False
    if kind == "AlterSubscriptionStmt":
        return False, False  # REFRESH PUBLICATION and friends refuse a transaction block
    if kind == "AlterTableStmt":
        for cmd in node.get("cmds") or ():
            part = (cmd.get("AlterTableCmd") or {}).get("def") or {}
            if (part.get("PartitionCmd") or {}).get("concurrent"):
                return False, False  # DETACH PARTITION ... CONCURRENTLY
    return True, False


def _describe(kind: str, node: dict[str, Any]) -> str:
    if kind == "TransactionStmt":
        return str(node.get("kind", "")).replace("TRANS_STMT_", "") or kind
    return kind


class _Offsets:
    """libpg_query reports byte offsets; statements need character offsets."""

    def __init__(self, text: str) -> None:
        self.ascii = text.isascii()
        self.data = b"" if self.ascii else text.encode("utf-8")

    def char(self, byte_offset: int) -> int:
        if self.ascii:
            return byte_offset
        return len(self.data[:byte_offset].decode("utf-8", errors="ignore"))


# -- psql-only syntax ------------------------------------------------------------------------

PSQL_MESSAGE = "the file uses psql syntax that a migration tool cannot run"
_META_NAME = re.compile(r"\\(?:\\|[^\s\\]*)")
_COPY_END = re.compile(r"^\\\.[ \t]*\r?$", re.MULTILINE)
_META_HINT = ("write it as plain SQL: put the SQL of a file that \\i includes into the migration, "
              "replace :variables with their values, and drop client settings such as "
              "\\set ON_ERROR_STOP (every statement's failure stops the run anyway)")
_COPY_HINT = ("load the rows with INSERT INTO ... VALUES (...) statements instead (or COPY ... FROM "
              "a file on the database server, which needs the pg_read_server_files role)")


class PsqlSyntax(Record, frozen=True):
    """Something only the psql client understands: a backslash meta-command, or COPY FROM STDIN.

    ``start`` is the character offset of the backslash or of COPY; ``skip`` the range that
    is not SQL at all (the meta-command up to its line's end, or COPY's inline rows up to
    their ``\\.`` line), which a parser must not read.
    """

    start: int
    skip: tuple[int, int]
    command: str  # "\\set", "\\i", ... or "COPY ... FROM STDIN"
    hint: str

    def __init__(self, start: int, skip: tuple[int, int], command: str, hint: str) -> None:
        self.__dict__.update(start=start, skip=skip, command=command, hint=hint)

    @property
    def message(self) -> str:
        if self.command.startswith("\\"):
            return (f"{PSQL_MESSAGE}: {self.command} is a psql meta-command, which only the psql "
                    "client understands; the server cannot run it")
        return (f"{PSQL_MESSAGE}: COPY ... FROM STDIN takes its rows from the psql client (the lines "
                "after it, up to \\.), not from SQL the server can run")


def is_copy_from_stdin(kind: str, node: dict[str, Any]) -> bool:
    return kind == "CopyStmt" and bool(node.get("is_from")) and not node.get("filename") \
        and not node.get("is_program")


def find_psql_syntax(text: str) -> list[PsqlSyntax]:
    """Every psql meta-command and COPY FROM STDIN of ``text``, found by PostgreSQL's scanner.

    A backslash outside strings, quoted names and comments is never SQL (PostgreSQL has no
    backslash operator), so the scanner's backslash token marks a meta-command. After
    ``COPY ... FROM STDIN;`` the rows follow, up to a line holding ``\\.``; they are skipped,
    since they are data (with backslashes and quotes of their own), not statements.
    """
    parser = pglast_parser()

    found: list[PsqlSyntax] = []
    pos = 0
    while pos < len(text):
        # Scan up to the next line holding \. (the end of COPY's rows, or itself a backslash
        # token), so a file with many COPY blocks is scanned once, not once per block.
        stop = _COPY_END.search(text, pos)
        segment_end = stop.end() if stop else len(text)
        tokens, complete = _scan(parser, text[pos:segment_end])
        before = len(found)
        resume = _walk(text, pos, segment_end, tokens, complete, found)
        if not complete and len(found) == before and segment_end < len(text):
            # Nothing before the unterminated string or comment: it runs past the \. line.
            tokens, complete = _scan(parser, text[pos:])
            resume = _walk(text, pos, len(text), tokens, complete, found)
        pos = resume
    return found


def _scan(parser: Any, chunk: str) -> tuple[Any, bool]:
    """The tokens of ``chunk``, and whether the scanner read all of it."""
    try:
        return parser.scan(chunk), True
    except parser.ParseError as exc:
        # An unterminated string or comment: what comes before it is still read.
        limit = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else 0
        try:
            return parser.scan(chunk[:limit]), False
        except parser.ParseError:
            return [], False


def _walk(text: str, base: int, limit: int, tokens: Any, complete: bool, found: list[PsqlSyntax]) -> int:
    """Add the psql syntax among ``tokens`` (scanned from ``base`` to ``limit``) to ``found``.

    Returns where to scan again: the scanner read psql's parts as SQL, so after one the
    tokens are reused only while they line up with the text after it (a quote in COPY's
    rows, say, may have swallowed what follows); otherwise ``limit``.
    """
    at_start = True  # the next token starts a statement
    copy_start: int | None = None
    previous = ""
    stdin = False
    i, count = 0, len(tokens)
    while i < count:
        token = tokens[i]
        i += 1
        name = token.name
        if name in ("SQL_COMMENT", "C_COMMENT"):
            continue
        item: PsqlSyntax | None = None
        offset = base + int(token.start)
        if name == "ASCII_92":  # a backslash: PostgreSQL has no such operator
            end = text.find("\n", offset)
            match = _META_NAME.match(text, offset)
            item = PsqlSyntax(offset, (offset, len(text) if end < 0 else end),
                              match.group(0) if match else "\\", _META_HINT)
        elif name == "ASCII_59":  # ;
            if stdin and copy_start is not None:
                newline = text.find("\n", base + token.end + 1)
                data = len(text) if newline < 0 else newline + 1
                close = _COPY_END.search(text, data)
                item = PsqlSyntax(copy_start, (data, len(text) if close is None else close.end()),
                                  "COPY ... FROM STDIN", _COPY_HINT)
            at_start, copy_start, stdin = True, None, False
        else:
            if at_start:
                copy_start = offset if name == "COPY" else None
            elif copy_start is not None and name == "STDIN" and previous == "FROM":
                stdin = True
            at_start = False
            previous = name
        if item is None:
            continue
        found.append(item)
        resume = max(item.skip[1], offset + 1)
        relative = resume - base
        while i < count and tokens[i].start < relative:
            if tokens[i].end >= relative:
                return resume  # a token runs over the end of the skipped part: scan again there
            i += 1
        if not complete:
            return resume  # the scan stopped at an unterminated string, maybe one in the skipped part
        at_start, copy_start, stdin, previous = True, None, False, ""
    if stdin and copy_start is not None and limit == len(text):  # at the end, without its ;
        found.append(PsqlSyntax(copy_start, (len(text), len(text)), "COPY ... FROM STDIN", _COPY_HINT))
    return limit


def _refusal(text: str, index: LineIndex, items: list[PsqlSyntax]) -> ParseProblem | None:
    if not items:
        return None
    first = items[0]
    line, column = index.position(min(first.start, max(len(text) - 1, 0)))
    return ParseProblem(first.message, line, column, hint=first.hint)


# From this size the runner's split parses statement by statement: libpg_query's JSON tree
# of a whole file costs about 85 bytes per byte of SQL at its peak (a 5.5 MB file of 100,000
# INSERTs peaked at 470 MB), the tree of one statement next to nothing. Below it one parse of
# the whole file is cheaper in CPU, and the linter, which keeps the nodes, always takes it.
STATEMENT_BY_STATEMENT_FROM = 256 * 1024


def split_postgres(text: str, *, nodes: bool = True) -> Script:
    """Split ``text``; ``nodes=False`` keeps no parse-tree node (the runner reads none)."""
    if not nodes and len(text) >= STATEMENT_BY_STATEMENT_FROM:
        script = split_statement_by_statement(text)
        if script is not None:
            return script
    return _split_whole(text, nodes=nodes)


def _split_whole(text: str, *, nodes: bool) -> Script:
    parser = pglast_parser()

    index = LineIndex(text)
    marker = has_no_transaction_marker(text)
    try:
        tree = json.loads(parser.parse_sql_json(text))
    except parser.ParseError as exc:
        location = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else 0
        line, column = index.position(min(max(location, 0), max(len(text) - 1, 0)))
        problem = ParseProblem(str(exc.args[0]) if exc.args else str(exc), line, column)
        # psql's meta-commands and COPY's inline rows never parse: say what they are, and refuse
        # the file before anything runs (sent whole, the server would answer a bare syntax error).
        psql = find_psql_syntax(text) if "\\" in text or "stdin" in text.lower() else []
        return Script(text, whole_file(text, index), parsed=False, problem=problem,
                      no_transaction_marker=marker, refused=_refusal(text, index, psql))
    offsets = _Offsets(text)
    builder = _Statements(text, index, nodes=nodes)
    for raw in tree.get("stmts") or ():
        start_byte = raw.get("stmt_location") or 0
        length = raw.get("stmt_len") or 0
        start = offsets.char(start_byte)
        end = offsets.char(start_byte + length) if length else len(text)
        ((kind, node),) = raw["stmt"].items()
        builder.add(start, end, kind, node)
    return Script(text, tuple(builder.statements), no_transaction_marker=marker, refused=builder.refused)


def split_statement_by_statement(text: str) -> Script | None:
    """The runner's split of a large file: the parser finds the statements, then each is parsed
    alone for its kind, so no tree of the whole file is ever held. None when the file does not
    parse (the whole-file split then reports where, as for any file)."""
    parser = pglast_parser()

    try:
        slices = parser.split(text, with_parser=True, only_slices=True)
    except parser.ParseError:
        return None
    index = LineIndex(text)
    builder = _Statements(text, index, nodes=False)
    for piece in slices:
        found = json.loads(parser.parse_sql_json(text[piece])).get("stmts") or []
        if len(found) != 1:
            return None  # not one statement alone: leave it to the whole-file split
        ((kind, node),) = found[0]["stmt"].items()
        # One string per kind, as one json.loads of the whole file shares its keys: otherwise
        # each statement would hold its own copy of "InsertStmt".
        builder.add(piece.start, piece.stop, sys.intern(kind), node)
    return Script(text, tuple(builder.statements), no_transaction_marker=has_no_transaction_marker(text),
                  refused=builder.refused)


class _Statements:
    """Statements of one file in order, as the parser found them (character offsets)."""

    def __init__(self, text: str, index: LineIndex, *, nodes: bool) -> None:
        self.text, self.index, self.nodes = text, index, nodes
        self.statements: list[Statement] = []
        self.refused: ParseProblem | None = None

    def add(self, start: int, end: int, kind: str, node: dict[str, Any]) -> None:
        text = self.text
        # Report a statement where its first keyword is, not where a comment before it starts.
        start = skip_leading_noise(text, start, end)
        end = start + len(text[start:end].rstrip())
        if end <= start:
            return
        if self.refused is None and is_copy_from_stdin(kind, node):
            # Without rows after it the file parses, but no migration tool can feed it rows.
            self.refused = _refusal(text, self.index, [PsqlSyntax(start, (end, end), "COPY ... FROM STDIN",
                                                                  _COPY_HINT)])
        transactional, control = transaction_properties(kind, node)
        self.statements.append(
            make_statement(text, self.index, start, end, kind=_describe(kind, node),
                           transactional=transactional, transaction_control=control,
                           node=node if self.nodes else None)
        )
