"""SQLite and MySQL statements as tokens, and what each statement does.

The dialect's splitter (``safemigrate.sql``) decides where statements end; this
module only reads one statement at a time: a tokenizer that knows each
dialect's quoting and comments (MySQL's ``#`` comments and backslash escapes,
SQLite's ``[name]`` identifiers), and small readers for the statement shapes
the rules look at (CREATE/ALTER/DROP TABLE, CREATE/DROP INDEX, DML targets).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from .context import Facts, Obj

__all__ = [
    "AlterTable",
    "Token",
    "parse_alter_table",
    "read_name",
    "split_top_level",
    "text_facts",
    "tokenize",
    "words",
]


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # word, name (quoted identifier), string, number, punct, param
    value: str  # words upper-cased, names and strings unquoted
    start: int
    end: int

    def is_word(self, *values: str) -> bool:
        return self.kind == "word" and (not values or self.value in values)


@cache
def _scanner(dialect: str) -> re.Pattern[str]:
    mysql = dialect == "mysql"
    parts = [
        r"(?P<ws>\s+)",
        r"(?P<comment>--(?:[ \t\r\n]|$)[^\n]*|/\*.*?(?:\*/|$)" + (r"|#[^\n]*" if mysql else r"|--[^\n]*") + ")",
        r"(?P<string>'(?:[^'\\]|''|\\.)*(?:'|$))" if mysql else r"(?P<string>'(?:[^']|'')*(?:'|$))",
        r'(?P<dq>"(?:[^"\\]|""|\\.)*(?:"|$))' if mysql else r'(?P<dq>"(?:[^"]|"")*(?:"|$))',
        r"(?P<bq>`(?:[^`]|``)*(?:`|$))",
        r"(?P<br>\[[^\]]*(?:\]|$))" if not mysql else r"(?P<br>(?!))",
        r"(?P<number>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+)",
        r"(?P<word>[^\W\d][\w$]*)",
        r"(?P<param>[?@:$][\w$]*)",
        r"(?P<punct>.)",
    ]
    return re.compile("|".join(parts), re.DOTALL)


def tokenize(text: str, start: int, end: int, dialect: str) -> tuple[Token, ...]:
    scanner = _scanner(dialect)
    tokens: list[Token] = []
    pos = start
    while pos < end:
        match = scanner.match(text, pos, end)
        if match is None:  # pragma: no cover - the last alternative matches any character
            break
        kind = match.lastgroup or "punct"
        raw = match.group()
        pos = match.end()
        if kind in ("ws", "comment"):
            continue
        if kind == "word":
            tokens.append(Token("word", raw.upper(), match.start(), pos))
        elif kind == "string":
            tokens.append(Token("string", raw[1:-1], match.start(), pos))
        elif kind == "dq":
            # MySQL reads "..." as a string unless ANSI_QUOTES is on; SQLite as a name.
            tokens.append(Token("string" if dialect == "mysql" else "name",
                                raw[1:-1].replace('""', '"'), match.start(), pos))
        elif kind in ("bq", "br"):
            tokens.append(Token("name", raw[1:-1].replace("``", "`"), match.start(), pos))
        else:
            tokens.append(Token(kind, raw, match.start(), pos))
    return tuple(tokens)


def words(tokens: Sequence[Token], n: int = 4) -> list[str]:
    """The first ``n`` tokens as upper-cased words ('' for anything that is not a word)."""
    return [t.value if t.kind == "word" else "" for t in tokens[:n]]


def read_name(tokens: Sequence[Token], i: int) -> tuple[str, int]:
    """Read ``name`` or ``schema.name`` at ``i``: (folded name without schema, index after it)."""
    name = ""
    while i < len(tokens) and tokens[i].kind in ("word", "name", "string"):
        token = tokens[i]
        name = token.value.lower()
        i += 1
        if i < len(tokens) and tokens[i].kind == "punct" and tokens[i].value == ".":
            i += 1
            continue
        break
    return name, i


def _skip_words(tokens: Sequence[Token], i: int, *options: str) -> int:
    while i < len(tokens) and tokens[i].is_word(*options):
        i += 1
    return i


def _skip_if_exists(tokens: Sequence[Token], i: int) -> tuple[int, bool]:
    if i + 1 < len(tokens) and tokens[i].is_word("IF") and tokens[i + 1].is_word("EXISTS"):
        return i + 2, True
    if i + 2 < len(tokens) and tokens[i].is_word("IF") and tokens[i + 1].is_word("NOT") \
            and tokens[i + 2].is_word("EXISTS"):
        return i + 3, True
    return i, False


def split_top_level(tokens: Sequence[Token], separator: str = ",") -> list[list[Token]]:
    """Split at separators outside parentheses."""
    parts: list[list[Token]] = [[]]
    depth = 0
    for token in tokens:
        if token.kind == "punct":
            if token.value == "(":
                depth += 1
            elif token.value == ")":
                depth -= 1
            elif token.value == separator and depth == 0:
                parts.append([])
                continue
        parts[-1].append(token)
    return [p for p in parts if p]


def parenthesized(tokens: Sequence[Token], i: int) -> tuple[list[Token], int]:
    """The tokens inside the parentheses that open at ``i`` (exclusive), and the index after them."""
    if i >= len(tokens) or tokens[i].value != "(":
        return [], i
    depth = 0
    for j in range(i, len(tokens)):
        value = tokens[j].value if tokens[j].kind == "punct" else ""
        if value == "(":
            depth += 1
        elif value == ")":
            depth -= 1
            if depth == 0:
                return list(tokens[i + 1 : j]), j + 1
    return list(tokens[i + 1 :]), len(tokens)


@dataclass
class AlterTable:
    table: str
    specs: list[list[Token]]  # one token list per comma-separated action


# Words after ADD/DROP that make the action about something other than a column.
NOT_A_COLUMN = {"CONSTRAINT", "INDEX", "KEY", "PRIMARY", "UNIQUE", "FOREIGN", "FULLTEXT",
                "SPATIAL", "CHECK", "PARTITION", "PERIOD", "SYSTEM"}


def parse_alter_table(tokens: Sequence[Token]) -> AlterTable | None:
    if len(tokens) < 3 or not (tokens[0].is_word("ALTER")):
        return None
    i = _skip_words(tokens, 1, "ONLINE", "IGNORE")
    if i >= len(tokens) or not tokens[i].is_word("TABLE"):
        return None
    i, _ = _skip_if_exists(tokens, i + 1)
    table, i = read_name(tokens, i)
    return AlterTable(table, split_top_level(tokens[i:]))


def column_action(spec: Sequence[Token]) -> tuple[str, str, int]:
    """For ``ADD [COLUMN] name ...`` / ``DROP [COLUMN] name``: (ADD or DROP, column, index after name)."""
    if not spec or not spec[0].is_word("ADD", "DROP"):
        return "", "", 0
    verb = spec[0].value
    i = 1
    if i < len(spec) and spec[i].is_word("COLUMN"):
        i += 1
    elif i < len(spec) and spec[i].kind == "word" and spec[i].value in NOT_A_COLUMN:
        return "", "", 0
    i, _ = _skip_if_exists(spec, i)
    if i < len(spec) and spec[i].value == "(":  # MySQL: ADD (a int, b int)
        return "", "", 0
    name, after = read_name(spec, i)
    return (verb, name, after) if name else ("", "", 0)


_DML_WORDS = {"INSERT", "UPDATE", "DELETE", "REPLACE", "TRUNCATE", "MERGE", "LOAD", "UPSERT"}
_DDL_WORDS = {"CREATE", "ALTER", "DROP", "RENAME"}
_TX_WORDS = {"BEGIN": "begin", "START": "begin", "COMMIT": "commit", "END": "commit",
             "ROLLBACK": "rollback", "SAVEPOINT": "savepoint", "RELEASE": "savepoint"}


def dml_target(tokens: Sequence[Token]) -> str:
    """The table an INSERT/REPLACE/UPDATE/DELETE/TRUNCATE statement writes."""
    first = tokens[0].value if tokens else ""
    i = 1
    if first in ("INSERT", "REPLACE", "UPSERT"):
        i = _skip_words(tokens, 1, "OR", "ROLLBACK", "ABORT", "REPLACE", "FAIL", "IGNORE",
                        "LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY", "INTO")
    elif first == "UPDATE":
        i = _skip_words(tokens, 1, "OR", "ROLLBACK", "ABORT", "REPLACE", "FAIL", "IGNORE",
                        "LOW_PRIORITY")
    elif first == "DELETE":
        i = _skip_words(tokens, 1, "LOW_PRIORITY", "QUICK", "IGNORE", "FROM")
    elif first == "TRUNCATE":
        i = _skip_words(tokens, 1, "TABLE")
    return read_name(tokens, i)[0]


def text_facts(tokens: Sequence[Token]) -> Facts:
    facts = Facts()
    if not tokens or tokens[0].kind != "word":
        return facts
    first = tokens[0].value
    if first in _TX_WORDS and not (first == "START" and len(tokens) > 1 and not tokens[1].is_word("TRANSACTION")):
        facts.category = "tx"
        facts.tx = _TX_WORDS[first]
        return facts
    if first in ("SET", "PRAGMA", "USE"):
        facts.category = "session"
        return facts
    if first in _DML_WORDS:
        facts.category = "dml"
        target = dml_target(tokens)
        facts.writes = (target,) if target else ()
        return facts
    if first not in _DDL_WORDS:
        facts.category = "query" if first in ("SELECT", "WITH", "EXPLAIN", "SHOW", "ANALYZE") else "other"
        return facts
    facts.category = "ddl"
    if first == "CREATE":
        _text_create(tokens, facts)
    elif first == "DROP":
        _text_drop(tokens, facts)
    elif first == "ALTER":
        _text_alter(tokens, facts)
    return facts


def _text_create(tokens: Sequence[Token], facts: Facts) -> None:
    i = _skip_words(tokens, 1, "TEMP", "TEMPORARY", "UNIQUE", "FULLTEXT", "SPATIAL", "OR",
                    "REPLACE", "VIRTUAL", "ALGORITHM", "DEFINER", "SQL", "SECURITY")
    if i >= len(tokens):
        return
    what = tokens[i].value
    i, _ = _skip_if_exists(tokens, i + 1)
    name, i = read_name(tokens, i)
    if not name:
        return
    if what == "TABLE":
        facts.creates.append(Obj("table", name))
    elif what == "VIEW":
        facts.creates.append(Obj("view", name))
    elif what == "INDEX" and i < len(tokens) and tokens[i].is_word("ON"):
        table, j = read_name(tokens, i + 1)
        inner, _ = parenthesized(tokens, j)
        columns = tuple(read_name(part, 0)[0] for part in split_top_level(inner))
        facts.creates.append(Obj("index", name, table, columns))
        facts.locks = (table,)


def _text_drop(tokens: Sequence[Token], facts: Facts) -> None:
    i = _skip_words(tokens, 1, "TEMPORARY")
    if i >= len(tokens):
        return
    what = tokens[i].value
    kind = {"TABLE": "table", "INDEX": "index", "VIEW": "view", "DATABASE": "schema",
            "SCHEMA": "schema"}.get(what)
    if kind is None:
        return
    i, _ = _skip_if_exists(tokens, i + 1)
    for part in split_top_level(tokens[i:]):
        name, _ = read_name(part, 0)
        if name:
            facts.drops.append(Obj(kind, name))
    if kind in ("table", "index"):
        facts.locks = tuple(o.name for o in facts.drops)


def _text_alter(tokens: Sequence[Token], facts: Facts) -> None:
    alter = parse_alter_table(tokens)
    if alter is None:
        return
    facts.locks = (alter.table,)
    for spec in alter.specs:
        verb, column, _after = column_action(spec)
        if verb == "ADD":
            facts.creates.append(Obj("column", column, alter.table))
        elif verb == "DROP":
            facts.drops.append(Obj("column", column, alter.table))
        elif spec and spec[0].is_word("ADD") and len(spec) > 1 and spec[1].is_word("INDEX", "KEY", "UNIQUE"):
            j = _skip_words(spec, 1, "UNIQUE", "INDEX", "KEY")
            name, j = read_name(spec, j)
            inner, _ = parenthesized(spec, j)
            columns = tuple(read_name(p, 0)[0] for p in split_top_level(inner))
            if name:
                facts.creates.append(Obj("index", name, alter.table, columns))
        elif spec and spec[0].is_word("DROP") and len(spec) > 2 and spec[1].is_word("INDEX", "KEY"):
            facts.drops.append(Obj("index", read_name(spec, 2)[0], alter.table))
