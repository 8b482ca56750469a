"""MySQL and MariaDB statements, split by a tokenizer that knows MySQL's lexical rules.

What it understands (never a plain split on ``;``):

* strings ``'...'`` and ``"..."`` with backslash escapes and doubled quotes,
  identifiers in backticks (doubled backticks), so a ``;`` inside them is text;
* comments ``# ...``, ``-- ...`` (MySQL needs a space or control character after
  ``--``; ``1--1`` is arithmetic) and ``/* ... */``;
* executable comments ``/*! ... */``, ``/*!50001 ... */`` and MariaDB's
  ``/*M! ... */``: their content is SQL (mysqldump writes whole statements in them);
* the mysql client's ``DELIMITER`` command (``DELIMITER //`` ... ``END //``
  ``DELIMITER ;``), as the first word of a statement. It is a client command: it
  changes where statements end and is never sent to the server;
* stored programs written without ``DELIMITER``, as golang-migrate users write them
  (golang-migrate sends the whole file to the server, whose parser sees the body):
  with the default ``;`` delimiter, a ``;`` inside the ``BEGIN ... END`` /
  ``IF ... END IF`` / ``LOOP`` / ``REPEAT`` / ``WHILE`` / ``CASE`` / ``FOR`` blocks of
  ``CREATE PROCEDURE|FUNCTION|TRIGGER|EVENT`` (and of MariaDB's top-level compound
  statements such as ``BEGIN NOT ATOMIC``) does not end the statement.

Each statement's text runs from its first to its last token (comments before it
and the delimiter after it are left out), with its exact line and column.

Every statement that commits implicitly in MySQL (DDL, ``LOCK TABLES``, ``GRANT``,
...) is marked ``transactional=False``: it cannot be part of a transaction.
``START TRANSACTION``, ``BEGIN``, ``COMMIT``, ``ROLLBACK``, ``SAVEPOINT``,
``RELEASE SAVEPOINT``, ``XA ...`` and ``SET autocommit`` are transaction control.

A file with an unterminated string, identifier or comment, or a ``DELIMITER`` with
no argument, has a :class:`~safemigrate.sql.script.ParseProblem` naming the exact
line and column; it is then one statement (``parsed=False``), or, with
``best_effort=True``, split as far as the tokenizer could.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .script import (
    LineIndex,
    ParseProblem,
    Script,
    Statement,
    has_no_transaction_marker,
    make_statement,
    whole_file,
)

__all__ = ["split_mysql", "statement_properties"]

_SPACE = " \t\n\r\f\v\ufeff"  # MySQL's white space, and a byte order mark
_WORD_CHARS = "A-Za-z0-9_$@.\u0080-\U0010FFFF"
_WORD_RE = re.compile(f"[{_WORD_CHARS}]+")
_DELIMITER_RE = re.compile(r"delimiter(?=[ \t]|\r?\n|$)", re.IGNORECASE)
_EXEC_COMMENT_RE = re.compile(r"/\*M?!\d*")

# Tokens after which an IF, LOOP, REPEAT, WHILE or FOR starts a block inside a stored
# program (a statement starts there), rather than being the IF() or REPEAT() function.
_BODY_STATEMENT_START = {
    ";", ":", "BEGIN", "THEN", "ELSE", "DO", "LOOP", "REPEAT", "ROW",
    "DETERMINISTIC", "SQL", "DATA", "INVOKER", "DEFINER",
}
_BLOCK_WORDS = {"IF", "LOOP", "REPEAT", "WHILE", "FOR"}
_END_SUFFIXES = {"IF", "LOOP", "REPEAT", "WHILE", "CASE", "FOR"}
_ROUTINE_OBJECTS = {"PROCEDURE", "FUNCTION", "TRIGGER", "EVENT", "PACKAGE"}
_OBJECTS = _ROUTINE_OBJECTS | {
    "TABLE", "TABLES", "VIEW", "INDEX", "DATABASE", "SCHEMA", "USER", "ROLE", "SEQUENCE",
    "SERVER", "TABLESPACE", "LOGFILE", "SYNONYM", "RESOURCE", "SPATIAL",
}
_TOP_LEVEL_COMPOUND = {"IF", "CASE", "LOOP", "REPEAT", "WHILE", "FOR"}
# Words that start a statement only inside a stored program's body. A statement of the
# file that starts with one means the body before it was cut short: the file is not
# read exactly, and running its statements one by one would apply half of it.
_BODY_ONLY_FIRST = {"END", "ELSE", "ELSEIF", "UNTIL", "WHEN", "DECLARE", "LEAVE", "ITERATE"}

# Statements after which MySQL commits implicitly (the manual's "Statements That Cause
# an Implicit Commit"): they can never be part of a transaction.
_IMPLICIT_COMMIT_FIRST = {
    "RENAME", "TRUNCATE", "GRANT", "REVOKE", "INSTALL", "UNINSTALL", "LOCK", "UNLOCK",
    "ANALYZE", "CHECK", "OPTIMIZE", "REPAIR", "FLUSH", "RESET", "CACHE", "LOAD", "CHANGE",
}
_MAX_WORDS = 16


@dataclass
class _Current:
    """The statement being read."""

    start: int | None = None  # offset of its first token
    end: int = 0  # offset just after its last token
    words: list[str] = field(default_factory=list)  # its first words, upper case ("" for quoted)
    prev: str | None = None  # the previous token: an upper-case word or a punctuation character
    compound: bool | None = None  # a stored program or compound statement (None: not known yet)
    depth: int = 0  # open BEGIN/IF/LOOP/CASE... blocks
    block_start: int = 0  # offset of the outermost open block
    after_end: bool = False  # the previous word was END (so END IF's IF opens nothing)

    def significant(self, start: int, end: int) -> None:
        if self.start is None:
            self.start = start
        self.end = end

    def add_word(self, word: str) -> None:
        if len(self.words) < _MAX_WORDS:
            self.words.append(word)
            if self.compound is None:
                self.compound = _classify_compound(self.words)
                if self.compound and self.words[0] == "BEGIN" and self.start is not None:
                    self.depth = 1  # BEGIN NOT ATOMIC: the BEGIN was read before it was known
                    self.block_start = self.start

    def open_block(self, offset: int) -> None:
        if self.depth == 0:
            self.block_start = offset
        self.depth += 1


def _classify_compound(words: list[str]) -> bool | None:
    """Whether a statement with these first words can hold ``;`` in BEGIN ... END blocks."""
    first = words[0]
    if first in ("CREATE", "ALTER"):
        for word in words[1:]:
            if word in _ROUTINE_OBJECTS:
                return True
            if word in _OBJECTS:
                return False
        return None if len(words) < 12 else False
    if first == "BEGIN":
        if len(words) < 2:
            return None
        return words[1] == "NOT"  # BEGIN NOT ATOMIC; BEGIN and BEGIN WORK start a transaction
    if first in _TOP_LEVEL_COMPOUND:
        return True  # MariaDB runs IF/CASE/LOOP/... outside stored programs
    if len(words) >= 2 and words[1] == ":":
        return True  # label: BEGIN NOT ATOMIC / LOOP ...
    return None if len(words) < 2 and first == "" else False


def statement_properties(words: list[str]) -> tuple[str, bool, bool]:
    """(kind, can be part of a transaction, is transaction control) from a statement's first words.

    ``words`` are the statement's first words in upper case, with ``""`` for a quoted
    string or identifier and ``":"`` for a label's colon.
    """
    if not words:
        return "", True, False
    first = words[0]
    second = words[1] if len(words) > 1 else ""
    if first == "START" and second == "TRANSACTION":
        return "START TRANSACTION", True, True
    if first == "BEGIN":
        if second == "NOT":
            return "BEGIN NOT ATOMIC", False, False
        return "BEGIN", True, True
    if first in ("COMMIT", "ROLLBACK"):
        rest = [w for w in words[1:3] if w != "WORK"]
        if first == "ROLLBACK" and rest and rest[0] == "TO":
            return "ROLLBACK TO SAVEPOINT", True, True
        return first, True, True
    if first == "SAVEPOINT":
        return "SAVEPOINT", True, True
    if first == "RELEASE" and second == "SAVEPOINT":
        return "RELEASE SAVEPOINT", True, True
    if first == "XA":
        return f"XA {second}".strip(), True, True
    if first == "SET":
        if any(w.lstrip("@").rsplit(".", 1)[-1] == "AUTOCOMMIT" for w in words[1:4]):
            return "SET AUTOCOMMIT", True, True
        if second == "PASSWORD":
            return "SET PASSWORD", False, False
        return "SET", True, False
    if first in ("CREATE", "ALTER", "DROP"):
        temporary = "TEMPORARY" in words[1:4]
        for word in words[1:12]:
            if word in _OBJECTS:
                obj = {"TABLES": "TABLE", "SPATIAL": "INDEX"}.get(word, word)
                # CREATE/DROP TEMPORARY TABLE do not commit; everything else does.
                return f"{first} {obj}", temporary and obj == "TABLE", False
        return first, False, False
    if first in ("LOCK", "UNLOCK") and second in ("TABLE", "TABLES", "INSTANCE"):
        return f"{first} {'INSTANCE' if second == 'INSTANCE' else 'TABLES'}", False, False
    if first == "RENAME":
        return (f"RENAME {second}" if second in ("TABLE", "USER") else "RENAME TABLE"), False, False
    if first == "TRUNCATE":
        return "TRUNCATE TABLE", False, False
    if first == "LOAD":
        if second == "INDEX":
            return "LOAD INDEX", False, False
        return f"LOAD {second}".strip(), True, False
    if first in ("CHECK", "CACHE", "CHANGE"):
        return f"{first} {second}".strip(), False, False
    if first in _IMPLICIT_COMMIT_FIRST:
        return first, False, False
    if first in _TOP_LEVEL_COMPOUND or (len(words) > 2 and words[1] == ":"):
        return "compound statement", False, False
    return first, True, False


class _Splitter:
    def __init__(self, text: str) -> None:
        self.text = text
        self.index = LineIndex(text)
        self.statements: list[Statement] = []
        self.problem: ParseProblem | None = None
        self.cur = _Current()
        self._set_delimiter(";")

    def _set_delimiter(self, delimiter: str) -> None:
        self.delimiter = delimiter
        lead = re.escape(delimiter[0])
        # The mysql client finds its delimiter anywhere outside strings and comments, even
        # inside a word, so no token may run over the delimiter's first character.
        self._word_re = re.compile(f"(?:(?!{lead})[{_WORD_CHARS}])+")
        special = re.escape("'\"`#/*-;:()," + _SPACE)
        self._other_re = re.compile(f"(?:(?!{lead})[^{special}{_WORD_CHARS}])+")

    def _fail(self, message: str, offset: int) -> None:
        if self.problem is None:
            line, column = self.index.position(min(offset, max(len(self.text) - 1, 0)))
            self.problem = ParseProblem(message, line, column)

    def _flush(self) -> None:
        cur = self.cur
        if cur.compound and cur.depth > 0 and self.delimiter == ";":
            word = _WORD_RE.match(self.text, cur.block_start)
            opened = word.group(0).upper() if word else "BEGIN"
            self._fail(f"the {opened} block opened here is not closed by an END before the end of "
                       "the statement", cur.block_start)
        if cur.start is not None and cur.words and cur.words[0] in _BODY_ONLY_FIRST:
            first = cur.words[0]
            self._fail(f"{first} starts a statement only inside the body of a stored program "
                       f"(BEGIN ... END): the statement before it ended too early, or the {first} "
                       "is stray, so the file cannot be split exactly", cur.start)
        if cur.start is not None:
            kind, transactional, control = statement_properties(cur.words)
            self.statements.append(
                make_statement(self.text, self.index, cur.start, cur.end, kind=kind,
                               transactional=transactional, transaction_control=control)
            )
        self.cur = _Current()

    # -- tokens ------------------------------------------------------------------------------
    def _word(self, word: str, start: int, end: int) -> None:
        cur = self.cur
        upper = word.upper()
        cur.significant(start, end)
        cur.add_word(upper)
        if cur.compound:
            if cur.after_end:
                cur.after_end = False
                if upper in _END_SUFFIXES:  # END IF, END LOOP, END CASE ...
                    cur.prev = "END " + upper
                    return
            if upper == "END":
                cur.depth = max(cur.depth - 1, 0)
                cur.after_end = True
            elif upper in ("BEGIN", "CASE") or (
                upper in _BLOCK_WORDS and self._opens_block(upper, cur.prev, end)
            ):
                cur.open_block(start)
        cur.prev = upper

    def _opens_block(self, word: str, prev: str | None, end: int) -> bool:
        """Whether IF/LOOP/REPEAT/WHILE/FOR at ``end`` starts a block (not a function or clause)."""
        if prev is not None and prev not in _BODY_STATEMENT_START:
            return False
        nxt = self._skip_blanks(end)
        following = self.text[nxt : nxt + 1]
        if word == "IF":
            # Where a statement starts, IF is the IF statement, also as IF [NOT] EXISTS(...) THEN:
            # the IF [NOT] EXISTS clause follows an object word (TABLE, COLUMN, PROCEDURE ...),
            # never a statement start, and was excluded by the check on ``prev`` above.
            return not (following == "(" and self._has_top_level_comma(nxt))  # IF(a, b, c)
        if word == "REPEAT":
            return following != "("  # REPEAT(str, count)
        if word == "FOR":
            # MariaDB's FOR i IN ... DO loop; FOR UPDATE, FOR EACH ROW and friends are clauses.
            after = self._skip_blanks(nxt + len(self._peek_word(nxt)))
            return bool(self._peek_word(nxt)) and self._peek_word(after) == "IN"
        return True

    def _punct(self, char: str, start: int) -> None:
        cur = self.cur
        cur.significant(start, start + 1)
        if char == ":" and len(cur.words) == 1 and cur.compound is not True:
            cur.compound = None
            cur.add_word(":")
        cur.after_end = False
        cur.prev = char

    def _line_comment_at(self, offset: int) -> bool:
        """``#`` or ``--`` followed by a space or control character (or the end) starts a comment."""
        text = self.text
        if text[offset] == "#":
            return True
        if not text.startswith("--", offset):
            return False
        return offset + 2 >= len(text) or text[offset + 2] in _SPACE or ord(text[offset + 2]) < 32

    def _skip_blanks(self, offset: int) -> int:
        """The offset of the next character that is not white space or a plain comment."""
        text = self.text
        n = len(text)
        while offset < n:
            ch = text[offset]
            if ch in _SPACE:
                offset += 1
            elif self._line_comment_at(offset):
                eol = text.find("\n", offset)
                offset = n if eol < 0 else eol
            elif text.startswith("/*", offset) and not _EXEC_COMMENT_RE.match(text, offset):
                close = text.find("*/", offset + 2)
                offset = n if close < 0 else close + 2
            else:
                break
        return offset

    def _peek_word(self, offset: int) -> str:
        match = self._word_re.match(self.text, offset)
        return match.group(0).upper() if match else ""

    def _has_top_level_comma(self, offset: int) -> bool:
        """For the parenthesis at ``offset``: does a comma separate arguments inside it?"""
        text = self.text
        depth = 0
        pos = offset
        n = len(text)
        while pos < n:
            ch = text[pos]
            if ch in "'\"`":
                pos = self._string(pos, report=False)
                continue
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    return False
            elif ch == "," and depth == 1:
                return True
            elif ch == ";" and self.delimiter == ";" and depth <= 1:
                return False
            pos += 1
        return False

    def _delimiter_command(self, offset: int) -> int:
        """Read a DELIMITER line starting at ``offset``; return the offset of its end."""
        text = self.text
        eol = text.find("\n", offset)
        if eol < 0:
            eol = len(text)
        argument_text = text[offset + len("delimiter") : eol].strip(" \t\r")
        if argument_text[:1] in ("'", '"', "`"):
            quote = argument_text[0]
            close = argument_text.find(quote, 1)
            argument = argument_text[1:close] if close > 0 else argument_text[1:]
        else:
            parts = argument_text.split()
            argument = parts[0] if parts else ""
        if not argument:
            self._fail("DELIMITER must be followed by a 'delimiter' character or string", offset)
        elif "\\" in argument:
            self._fail("DELIMITER cannot contain a backslash character", offset)
        else:
            self._set_delimiter(argument)
        return eol

    def _string(self, offset: int, *, report: bool = True) -> int:
        """Skip the quoted string or identifier at ``offset``; return the offset after it."""
        text = self.text
        quote = text[offset]
        pos = offset + 1
        n = len(text)
        backslash = quote != "`"
        while pos < n:
            ch = text[pos]
            if backslash and ch == "\\":
                pos += 2
                continue
            if ch == quote:
                if pos + 1 < n and text[pos + 1] == quote:
                    pos += 2
                    continue
                return pos + 1
            pos += 1
        if report:
            what = "identifier" if quote == "`" else "string"
            self._fail(f"unterminated quoted {what} ({quote}...{quote}) starting here", offset)
        return n

    # -- the loop ----------------------------------------------------------------------------
    def run(self) -> None:
        text = self.text
        n = len(text)
        pos = 0
        in_exec = False  # inside /*! ... */
        exec_start = 0
        while pos < n:
            ch = text[pos]
            cur = self.cur
            if cur.start is None and ch in "dD" and _DELIMITER_RE.match(text, pos):
                pos = self._delimiter_command(pos)
                continue
            if text.startswith(self.delimiter, pos):
                if self.delimiter == ";" and cur.compound and cur.depth > 0:
                    self._punct(";", pos)  # a ; inside BEGIN ... END of a stored program
                    pos += 1
                    continue
                if in_exec:
                    # The mysql client ends a statement at its delimiter even inside /*! ... */,
                    # and the server then refuses the statement.
                    self._fail("the statement ends inside an executable comment (/*! without */)",
                               exec_start)
                    in_exec = False
                self._flush()
                pos += len(self.delimiter)
                continue
            if ch in _SPACE:
                pos += 1
            elif self._line_comment_at(pos):
                eol = text.find("\n", pos)
                pos = n if eol < 0 else eol
            elif ch == "/" and text.startswith("/*", pos):
                executable = _EXEC_COMMENT_RE.match(text, pos)
                if executable and not in_exec:
                    # /*! ... */: the server runs its content, so it is read as SQL.
                    in_exec = True
                    exec_start = pos
                    cur.significant(pos, executable.end())
                    pos = executable.end()
                    continue
                close = text.find("*/", pos + 2)
                if close < 0:
                    self._fail("unterminated comment (/* without */) starting here", pos)
                    pos = n
                else:
                    pos = close + 2
            elif ch == "*" and in_exec and text.startswith("*/", pos):
                in_exec = False
                cur.significant(pos, pos + 2)
                pos += 2
            elif ch in "'\"`":
                end = self._string(pos)
                cur.significant(pos, end)
                cur.add_word("")
                cur.prev = "'"
                cur.after_end = False
                pos = end
            else:
                word = self._word_re.match(text, pos)
                if word is not None:
                    self._word(word.group(0), pos, word.end())
                    pos = word.end()
                    continue
                other = self._other_re.match(text, pos)
                if other is not None:
                    cur.significant(pos, other.end())
                    cur.after_end = False
                    cur.prev = other.group(0)[-1]
                    pos = other.end()
                    continue
                self._punct(ch, pos)  # ; : ( ) , * / - or the first character of the delimiter
                pos += 1
        if in_exec:
            self._fail("unterminated executable comment (/*! without */)", exec_start)
        self._flush()


_REFUSAL_HINT = ("fix the file at that place (safemigrate lint shows it too); for a stored program, "
                 "write it between DELIMITER // and END // DELIMITER ; so its end is explicit, "
                 "then run the command again")


def split_mysql(text: str, *, best_effort: bool = False) -> Script:
    """Split a MySQL/MariaDB migration file into statements (see the module docstring)."""
    splitter = _Splitter(text)
    splitter.run()
    marker = has_no_transaction_marker(text)
    if splitter.problem is not None:
        statements = tuple(splitter.statements) if best_effort else whole_file(text, splitter.index)
        # Run one by one, a file split in the wrong places applies in part, then fails (and the
        # server would refuse it sent whole, as several statements): refuse it before anything runs.
        refused = ParseProblem(splitter.problem.message, splitter.problem.line,
                               splitter.problem.column, hint=_REFUSAL_HINT)
        return Script(text, statements, parsed=False, problem=splitter.problem,
                      no_transaction_marker=marker, refused=refused)
    return Script(text, tuple(splitter.statements), no_transaction_marker=marker)
