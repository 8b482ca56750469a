"""MySQL statement splitting: a real tokenizer, DELIMITER, stored programs, exact positions."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from mysql_strategies import procedure_bodies

from safemigrate.sql import split_sql
from safemigrate.sql.mysql import split_mysql
from safemigrate.sql.script import LineIndex, Script


def texts(sql: str) -> list[str]:
    script = split_mysql(sql)
    assert script.parsed, script.problem
    return [s.text for s in script.statements]


def check_invariants(source: str, script: Script) -> None:
    """What every split must satisfy, whatever the input."""
    index = LineIndex(source)
    previous_end = 0
    for statement in script.statements:
        assert statement.text
        if script.parsed:
            assert statement.text == statement.text.strip(" \t\n\r\f\v\ufeff")
        assert source[statement.start : statement.start + len(statement.text)] == statement.text
        assert statement.start >= previous_end
        previous_end = statement.start + len(statement.text)
        assert (statement.line, statement.column) == index.position(statement.start)
        assert statement.end_line == index.position(previous_end - 1)[0]
    if not script.parsed:
        assert script.problem is not None


# -- quoting and comments ----------------------------------------------------------------------


def test_semicolons_inside_strings_identifiers_and_comments_do_not_split() -> None:
    sql = (
        "CREATE TABLE `a;b` (`c``;` text DEFAULT 'x;y', d text DEFAULT \"p;q\");\n"
        "INSERT INTO `a;b` VALUES ('it''s; fine', 'back\\'slash;', \"dq\"\";\", 'end\\\\');\n"
        "# a hash comment; with a semicolon\n"
        "-- a dash comment; too\n"
        "/* a block comment;\n spanning lines; */\n"
        "SELECT 1;"
    )
    assert texts(sql) == [
        "CREATE TABLE `a;b` (`c``;` text DEFAULT 'x;y', d text DEFAULT \"p;q\")",
        "INSERT INTO `a;b` VALUES ('it''s; fine', 'back\\'slash;', \"dq\"\";\", 'end\\\\')",
        "SELECT 1",
    ]


def test_backslash_does_not_escape_inside_backticks() -> None:
    assert texts("SELECT `a\\`; SELECT 2;") == ["SELECT `a\\`", "SELECT 2"]


def test_double_dash_needs_a_space_or_control_character() -> None:
    # 1--1 is arithmetic (1 - -1), not a comment; "--" then space/tab/newline/end is one.
    assert texts("SELECT 1--1; SELECT 2;") == ["SELECT 1--1", "SELECT 2"]
    assert texts("SELECT 1 --\tcomment; still\nSELECT 2;") == ["SELECT 1 --\tcomment; still\nSELECT 2"]
    assert texts("SELECT 1;--\nSELECT 2;--") == ["SELECT 1", "SELECT 2"]
    assert texts("SELECT 3 --x;") == ["SELECT 3 --x"]


def test_comments_before_a_statement_are_not_part_of_it_and_position_is_its_first_word() -> None:
    sql = "-- intro\n/* block\n comment */  # more\n\n   CREATE TABLE t (id int) -- trailing\n;\n"
    script = split_mysql(sql)
    [statement] = script.statements
    assert statement.text == "CREATE TABLE t (id int)"
    assert (statement.line, statement.column, statement.end_line) == (5, 4, 5)


def test_only_comments_and_empty_statements_give_nothing() -> None:
    for sql in ("", "  \n", "-- c\n# d\n/* e */", ";;;\n;", "DELIMITER //\n//\n// DELIMITER ;\n"):
        script = split_mysql(sql)
        assert script.parsed and script.statements == ()


def test_positions_with_crlf_tabs_and_unicode() -> None:
    sql = "SELECT 'é;ü';\r\n\tSELECT \"日本;語\";\r\n  -- x\r\n  SELECT 3;"
    script = split_mysql(sql)
    assert [(s.line, s.column) for s in script.statements] == [(1, 1), (2, 2), (4, 3)]
    assert [s.text for s in script.statements] == ["SELECT 'é;ü'", 'SELECT "日本;語"', "SELECT 3"]
    check_invariants(sql, script)


def test_multiline_statement_end_line() -> None:
    script = split_mysql("\n\nCREATE TABLE t (\n  id int\n);\nSELECT 1;")
    first, second = script.statements
    assert (first.line, first.end_line) == (3, 5)
    assert (second.line, second.end_line) == (6, 6)


# -- executable comments -------------------------------------------------------------------------


def test_executable_comments_are_statements_and_their_content_is_sql() -> None:
    sql = (
        "/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;\n"
        "/*!50503 SET NAMES utf8mb4 */;\n"
        "/*M!100616 SET @OLD_NOTE_VERBOSITY=@@NOTE_VERBOSITY, NOTE_VERBOSITY=0 */;\n"
        "/*! SET @a = 'x */ y' */;\n"
        "CREATE /*!32312 IF NOT EXISTS*/ TABLE t (id int);\n"
        "/* an ordinary comment; not a statement */;\n"
    )
    script = split_mysql(sql)
    assert [s.text for s in script.statements] == [
        "/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */",
        "/*!50503 SET NAMES utf8mb4 */",
        "/*M!100616 SET @OLD_NOTE_VERBOSITY=@@NOTE_VERBOSITY, NOTE_VERBOSITY=0 */",
        "/*! SET @a = 'x */ y' */",
        "CREATE /*!32312 IF NOT EXISTS*/ TABLE t (id int)",
    ]
    assert [s.kind for s in script.statements] == ["SET", "SET", "SET", "SET", "CREATE TABLE"]


def test_mysqldump_trigger_with_double_semicolon_delimiter() -> None:
    sql = (
        "/*!50003 SET @saved_sql_mode = @@sql_mode */ ;\n"
        "DELIMITER ;;\n"
        "/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER trg BEFORE INSERT ON t"
        " FOR EACH ROW BEGIN\n  SET NEW.a = 1;\n  SET NEW.b = 2;\nEND */;;\n"
        "DELIMITER ;\n"
        "/*!50003 SET sql_mode = @saved_sql_mode */ ;\n"
    )
    script = split_mysql(sql)
    assert len(script.statements) == 3
    trigger = script.statements[1]
    assert trigger.text.startswith("/*!50003 CREATE*/") and trigger.text.endswith("END */")
    assert trigger.kind == "CREATE TRIGGER" and trigger.line == 3


# -- DELIMITER -----------------------------------------------------------------------------------


PROCEDURE_FILE = """\
CREATE TABLE counters (id int PRIMARY KEY, n int NOT NULL);

DELIMITER //
CREATE PROCEDURE bump(IN k int)
BEGIN
  INSERT INTO counters VALUES (k, 1) ON DUPLICATE KEY UPDATE n = n + 1;
  SELECT n FROM counters WHERE id = k;
END //
DELIMITER ;

CALL bump(1);
"""


def test_delimiter_command_is_not_a_statement_and_changes_the_terminator() -> None:
    script = split_mysql(PROCEDURE_FILE)
    assert [s.kind for s in script.statements] == ["CREATE TABLE", "CREATE PROCEDURE", "CALL"]
    procedure = script.statements[1]
    assert procedure.text.startswith("CREATE PROCEDURE bump(IN k int)\nBEGIN")
    assert procedure.text.endswith("SELECT n FROM counters WHERE id = k;\nEND")
    assert (procedure.line, procedure.column, procedure.end_line) == (4, 1, 8)
    assert script.statements[2].line == 11
    assert not any("DELIMITER" in s.text.upper() for s in script.statements)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("delimiter $$\nSELECT 1; SELECT 2$$\ndelimiter ;\nSELECT 3;",
         ["SELECT 1; SELECT 2", "SELECT 3"]),
        ("DELIMITER '//'\nSELECT 1//\nDELIMITER \"!!\"\nSELECT 2!!", ["SELECT 1", "SELECT 2"]),
        ("DELIMITER // ignored words\nSELECT 1 //DELIMITER ;\nSELECT 2;", ["SELECT 1", "SELECT 2"]),
        ("DELIMITER //\nSELECT '//' // SELECT 2 /* // */ //", ["SELECT '//'", "SELECT 2"]),
        ("DELIMITER $$\nSELECT a$$b$$", ["SELECT a", "b"]),  # the mysql client's rule
        ("DELIMITER ;;\nSELECT 1; SELECT 2;;\nDELIMITER ;\n", ["SELECT 1; SELECT 2"]),
        ("\tDelimiter\t//\r\nSELECT 1//\r\n", ["SELECT 1"]),
    ],
)
def test_delimiter_variants(sql: str, expected: list[str]) -> None:
    script = split_mysql(sql)
    check_invariants(sql, script)
    assert texts(sql) == expected


def test_delimiter_is_a_command_only_at_the_start_of_a_statement() -> None:
    # A column named "delimiter" at the start of a line is SQL, not a client command.
    sql = "CREATE TABLE t (\n  id int,\ndelimiter varchar(3)\n);\nSELECT delimiter FROM t;"
    assert texts(sql) == ["CREATE TABLE t (\n  id int,\ndelimiter varchar(3)\n)",
                          "SELECT delimiter FROM t"]


def test_delimiter_problems_are_reported_with_their_position() -> None:
    script = split_mysql("SELECT 1;\nDELIMITER\nSELECT 2;")
    assert not script.parsed and script.problem is not None
    assert (script.problem.line, script.problem.column) == (2, 1)
    assert "must be followed" in script.problem.message
    bad = split_mysql("SELECT 1;\n  DELIMITER \\\\\n")
    assert bad.problem is not None and "backslash" in bad.problem.message
    assert (bad.problem.line, bad.problem.column) == (2, 3)


# -- stored programs without DELIMITER (golang-migrate users write them so) ------------------------


def test_procedure_without_delimiter_keeps_its_body() -> None:
    sql = """\
CREATE DEFINER=`root`@`%` PROCEDURE fill(IN n INT)
  MODIFIES SQL DATA
BEGIN
  DECLARE i INT DEFAULT 0;
  DECLARE done INT DEFAULT FALSE;
  DECLARE cur CURSOR FOR SELECT id FROM t FOR UPDATE;
  DECLARE CONTINUE HANDLER FOR NOT FOUND SET done = TRUE;
  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;
  CREATE TABLE IF NOT EXISTS t (id int);
  fill_loop: LOOP
    IF i >= n THEN LEAVE fill_loop; ELSEIF i = 3 THEN SET i = i + 1; ITERATE fill_loop; END IF;
    INSERT INTO t VALUES (IF(i > 2, i, -i));
    SET i = i + 1;
  END LOOP fill_loop;
  WHILE i > 0 DO SET i = i - 1; END WHILE;
  REPEAT SET i = i + 1; UNTIL i > 2 END REPEAT;
  SELECT REPEAT('x', 2), CASE WHEN i THEN 'a;' ELSE IF(i, 1, 2) END INTO @s, @c;
  CASE i WHEN 1 THEN SELECT 1; ELSE BEGIN END; END CASE;
END;
SELECT 'after';
"""
    script = split_mysql(sql)
    check_invariants(sql, script)
    assert [s.kind for s in script.statements] == ["CREATE PROCEDURE", "SELECT"]
    assert script.statements[0].text.endswith("END CASE;\nEND")
    assert script.statements[1].line == 20


@pytest.mark.parametrize(
    ("sql", "kinds"),
    [
        ("CREATE FUNCTION f(x int) RETURNS int DETERMINISTIC RETURN CASE WHEN x THEN 1 END;\nSELECT f(1);",
         ["CREATE FUNCTION", "SELECT"]),
        ("CREATE FUNCTION f() RETURNS int BEGIN DECLARE r int; SET r = 1; RETURN r; END;SELECT 1;",
         ["CREATE FUNCTION", "SELECT"]),
        ("CREATE TRIGGER t1 BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1;\nSELECT 1;",
         ["CREATE TRIGGER", "SELECT"]),
        ("CREATE TRIGGER t1 BEFORE INSERT ON t FOR EACH ROW IF NEW.a IS NULL THEN SET NEW.a = 0; END IF;"
         "\nSELECT 1;", ["CREATE TRIGGER", "SELECT"]),
        ("CREATE OR REPLACE TRIGGER t1 AFTER UPDATE ON t FOR EACH ROW BEGIN\n"
         "  IF (NEW.a > 1) THEN INSERT INTO log VALUES (NEW.a); END IF;\nEND;\nSELECT 1;",
         ["CREATE TRIGGER", "SELECT"]),
        ("CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO BEGIN DELETE FROM t; DELETE FROM u; END;SELECT 1;",
         ["CREATE EVENT", "SELECT"]),
        ("ALTER EVENT e DO BEGIN DELETE FROM t; END;SELECT 1;", ["ALTER EVENT", "SELECT"]),
        ("CREATE PROCEDURE p() BEGIN FOR i IN 1..3 DO INSERT INTO t VALUES (i); END FOR; END;SELECT 1;",
         ["CREATE PROCEDURE", "SELECT"]),
        ("BEGIN NOT ATOMIC DECLARE a int DEFAULT 1; SELECT a; END;\nSELECT 1;",
         ["BEGIN NOT ATOMIC", "SELECT"]),
        ("IF @x THEN SELECT 1; ELSE SELECT 2; END IF;\nSELECT 3;", ["compound statement", "SELECT"]),
        ("CREATE TABLE t (trigger_name text, `procedure` int);\nSELECT 1;", ["CREATE TABLE", "SELECT"]),
        ("SELECT CASE WHEN 1 THEN 2 END; SELECT IF(1, 2, 3); SELECT 1 FROM t FOR UPDATE;",
         ["SELECT", "SELECT", "SELECT"]),
    ],
)
def test_stored_programs_and_compound_statements(sql: str, kinds: list[str]) -> None:
    script = split_mysql(sql)
    check_invariants(sql, script)
    assert script.parsed
    assert [s.kind for s in script.statements] == kinds


# -- kinds and transactions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "kind", "transactional", "control"),
    [
        ("CREATE TABLE t (id int)", "CREATE TABLE", False, False),
        ("CREATE TEMPORARY TABLE t (id int)", "CREATE TABLE", True, False),
        ("DROP TEMPORARY TABLE IF EXISTS t", "DROP TABLE", True, False),
        ("CREATE UNIQUE INDEX i ON t (id)", "CREATE INDEX", False, False),
        ("ALTER TABLE t ADD COLUMN c int", "ALTER TABLE", False, False),
        ("ALTER ONLINE TABLE t ADD COLUMN c int", "ALTER TABLE", False, False),
        ("DROP VIEW v", "DROP VIEW", False, False),
        ("CREATE OR REPLACE ALGORITHM=MERGE VIEW v AS SELECT 1", "CREATE VIEW", False, False),
        ("RENAME TABLE a TO b", "RENAME TABLE", False, False),
        ("TRUNCATE t", "TRUNCATE TABLE", False, False),
        ("GRANT SELECT ON t TO u", "GRANT", False, False),
        ("LOCK TABLES t WRITE", "LOCK TABLES", False, False),
        ("UNLOCK TABLES", "UNLOCK TABLES", False, False),
        ("INSERT INTO t VALUES (1)", "INSERT", True, False),
        ("update t set a = 1", "UPDATE", True, False),
        ("START TRANSACTION", "START TRANSACTION", True, True),
        ("BEGIN", "BEGIN", True, True),
        ("BEGIN WORK", "BEGIN", True, True),
        ("COMMIT", "COMMIT", True, True),
        ("COMMIT WORK AND CHAIN", "COMMIT", True, True),
        ("ROLLBACK", "ROLLBACK", True, True),
        ("ROLLBACK WORK TO SAVEPOINT s", "ROLLBACK TO SAVEPOINT", True, True),
        ("ROLLBACK TO s", "ROLLBACK TO SAVEPOINT", True, True),
        ("SAVEPOINT s", "SAVEPOINT", True, True),
        ("RELEASE SAVEPOINT s", "RELEASE SAVEPOINT", True, True),
        ("XA START 'x'", "XA START", True, True),
        ("SET autocommit = 0", "SET AUTOCOMMIT", True, True),
        ("SET SESSION autocommit=1", "SET AUTOCOMMIT", True, True),
        ("SET @@session.autocommit = 0", "SET AUTOCOMMIT", True, True),
        ("SET NAMES utf8mb4", "SET", True, False),
        ("/*!40014 SET FOREIGN_KEY_CHECKS=0 */", "SET", True, False),
    ],
)
def test_kind_and_transaction_properties(sql: str, kind: str, transactional: bool, control: bool) -> None:
    [statement] = split_mysql(sql + ";").statements
    assert (statement.kind, statement.transactional, statement.transaction_control) == (
        kind, transactional, control)


def test_script_reports_own_transactions_and_statement_mode() -> None:
    script = split_mysql("START TRANSACTION;\nINSERT INTO t VALUES (1);\nCOMMIT;\n")
    assert [s.line for s in script.transaction_control] == [1, 3]
    assert script.needs_statement_mode
    assert "START TRANSACTION at line 1" in (script.statement_mode_reason() or "")
    ddl = split_mysql("CREATE TABLE t (id int);")
    assert ddl.needs_statement_mode and ddl.non_transactional


def test_split_sql_dispatches_to_mysql() -> None:
    assert [s.text for s in split_sql("SELECT 1; SELECT '2;'", "mysql").statements] == [
        "SELECT 1", "SELECT '2;'"]


# -- problems ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "line", "column", "words"),
    [
        ("SELECT 1;\nSELECT 'abc;\nSELECT 3;", 2, 8, "unterminated quoted string"),
        ('SELECT 1;\nSELECT "abc;', 2, 8, "unterminated quoted string"),
        ("SELECT 1;\n  SELECT `abc;", 2, 10, "unterminated quoted identifier"),
        ("SELECT 1; /* never closed;\nSELECT 2;", 1, 11, "unterminated comment"),
        ("SELECT 1; /*!40101 SET a = 1", 1, 11, "unterminated executable comment"),
        ("SELECT 1; /*!40101 SET a = 1; SELECT 2;", 1, 11, "ends inside an executable comment"),
    ],
)
def test_unterminated_tokens_are_problems_with_exact_position(
        sql: str, line: int, column: int, words: str) -> None:
    script = split_mysql(sql)
    assert not script.parsed
    assert script.problem is not None
    assert words in script.problem.message
    assert (script.problem.line, script.problem.column) == (line, column)
    # The file is then one statement, as golang-migrate would send it ...
    assert [s.kind for s in script.statements] == ["unparsed"]
    # ... unless the caller asks for the best effort.
    best = split_mysql(sql, best_effort=True)
    assert best.statements[0].text == "SELECT 1"
    check_invariants(sql, best)


# -- properties ------------------------------------------------------------------------------------------

_IDENT = st.from_regex(r"[a-z_][a-z0-9_]{0,7}", fullmatch=True).filter(
    lambda w: w.upper() not in {"DELIMITER", "BEGIN", "END", "CASE", "IF", "LOOP", "REPEAT", "WHILE", "FOR"}
)
_NUMBER = st.integers(0, 10**9).map(str)


@st.composite
def _quoted(draw: st.DrawFn, quote: str) -> str:
    body = draw(st.text(st.characters(blacklist_categories=("Cs",)), max_size=12))
    doubled = draw(st.booleans())
    out = []
    for ch in body:
        if ch == "\\" and quote != "`":
            out.append("\\\\")
        elif ch == quote:
            out.append(quote * 2 if doubled or quote == "`" else "\\" + quote)
        else:
            out.append(ch)
    return quote + "".join(out) + quote


_STRING = st.one_of(_quoted("'"), _quoted('"'))
_BACKTICK = _quoted("`")
_LINE_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"), max_size=12)
_BLOCK_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12).filter(
    lambda t: "*/" not in t and not t.endswith("*")
)
_COMMENT = st.one_of(
    _LINE_TEXT.map(lambda t: "# " + t + "\n"),
    _LINE_TEXT.map(lambda t: "-- " + t + "\n"),
    _BLOCK_TEXT.map(lambda t: "/* " + t + " */"),
)
_SIGNIFICANT = st.one_of(_IDENT, _NUMBER, _STRING, _BACKTICK)
_OPERATOR = st.sampled_from(["=", "+", "-", "*", "/", "(", ")", ",", "<>", ":=", ".", "!", "%", "@x"])
_EXEC = st.lists(_SIGNIFICANT, min_size=1, max_size=4).map(lambda xs: "/*!40101 " + " ".join(xs) + " */")
_FILLER = st.lists(st.one_of(st.sampled_from([" ", "\n", "\t", "\r\n"]), _COMMENT), max_size=3).map(
    lambda xs: "".join(x if x.endswith("\n") or x.isspace() else x + " " for x in xs)
)


@st.composite
def _statement(draw: st.DrawFn, extra: st.SearchStrategy[str] | None = None) -> str:
    first = draw(st.sampled_from(["SELECT", "INSERT INTO t VALUES", "UPDATE t SET", "CALL p", "DO"]))
    middle = st.one_of(_SIGNIFICANT, _OPERATOR, _COMMENT, _EXEC, *(() if extra is None else (extra,)))
    atoms = draw(st.lists(middle, max_size=8))
    last = draw(st.one_of(_SIGNIFICANT, _EXEC))
    parts = [first, *atoms, last]
    out = ""
    for part in parts:
        out += part if out.endswith("\n") or not out else " " + part
    return out


@given(statements=st.lists(_statement(), max_size=6), fillers=st.lists(_FILLER, min_size=7, max_size=7))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@example(statements=["SELECT 1--1"], fillers=[""] * 7)
def test_property_round_trip(statements: list[str], fillers: list[str]) -> None:
    """Statements joined by ';' and comments split back into exactly those statements."""
    source = fillers[0]
    for i, statement in enumerate(statements):
        source += statement + fillers[i + 1] + ";" + fillers[(i + 2) % 7]
    script = split_mysql(source)
    assert script.parsed, script.problem
    assert [s.text for s in script.statements] == statements
    check_invariants(source, script)


@given(statements=st.lists(_statement(extra=st.just(";")), min_size=1, max_size=5), filler=_FILLER,
       delimiter=st.sampled_from(["//", "$$", ";;", "@@@", "!!"]))
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
def test_property_round_trip_under_delimiter(statements: list[str], filler: str, delimiter: str) -> None:
    """Under DELIMITER X, a ';' is ordinary text and X ends statements; DELIMITER lines vanish."""
    if delimiter in ("@@@", "$$"):
        statements = [s.replace("@x", "x") for s in statements]  # keep the delimiter out of the words
    source = filler + f"DELIMITER {delimiter}\n"
    source += "".join(s + f" {delimiter}\n" + filler for s in statements)
    source += "DELIMITER ;\nSELECT 'after';\n"
    script = split_mysql(source)
    assert script.parsed, script.problem
    assert [s.text for s in script.statements] == [*statements, "SELECT 'after'"]
    check_invariants(source, script)


_NASTY = st.lists(
    st.one_of(
        st.sampled_from(["'", '"', "`", "\\", "#", "--", "-- ", "-", "/*", "*/", "/*!", "/*!50001 ", "*",
                         ";", ";;", "//", "$$", "\n", "\r\n", " ", "\t", "DELIMITER ", "delimiter //\n",
                         "DELIMITER ;\n", "BEGIN", " END", "END IF", " IF ", "CASE", "LOOP", "CREATE ",
                         "PROCEDURE ", "TRIGGER ", "BEGIN NOT ATOMIC ", "(", ")", ",", ":", "x", "é"]),
        st.text(max_size=3),
    ),
    max_size=40,
).map("".join)


@given(source=st.one_of(_NASTY, st.text()))
@settings(max_examples=500)
def test_property_any_text_splits_without_error_and_consistently(source: str) -> None:
    script = split_mysql(source)
    check_invariants(source, script)
    if not script.parsed:
        assert len(script.statements) <= 1
    best = split_mysql(source, best_effort=True)
    check_invariants(source, best)
    assert best.problem == script.problem


@given(source=st.one_of(_NASTY, st.text()))
@settings(max_examples=300)
def test_property_resplitting_statements_is_stable(source: str) -> None:
    """Re-joining the statements of a file with ';' splits back into the same statements."""
    script = split_mysql(source)
    if not script.parsed or any(s.kind == "BEGIN NOT ATOMIC" for s in script.statements):
        return
    if "delimiter" in source.lower():
        return  # statements written under another delimiter may hold a ';' of their own
    again = split_mysql("".join(s.text + ";\n" for s in script.statements))
    assert [s.text for s in again.statements] == [s.text for s in script.statements]


def test_an_unclosed_block_of_a_stored_program_is_a_problem() -> None:
    sql = "SELECT 1;\nCREATE PROCEDURE p()\nBEGIN\n  SELECT 1;\n  SELECT 2;\n"
    script = split_mysql(sql)
    assert script.problem is not None and not script.parsed
    assert (script.problem.line, script.problem.column) == (3, 1)
    assert "BEGIN block" in script.problem.message


@given(body=procedure_bodies(), name=st.sampled_from(["p", "`p;x`"]))
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
def test_property_stored_program_bodies_stay_whole(body: str, name: str) -> None:
    """A procedure written without DELIMITER is one statement, as the server parses it."""
    source = f"CREATE TABLE t (id int);\nCREATE PROCEDURE {name}()\nBEGIN\n{body}\nEND;\nSELECT 1;\n"
    script = split_mysql(source)
    assert script.parsed, script.problem
    assert [s.kind for s in script.statements] == ["CREATE TABLE", "CREATE PROCEDURE", "SELECT"]
    assert script.statements[1].text == f"CREATE PROCEDURE {name}()\nBEGIN\n{body}\nEND"
    # The same file under DELIMITER // splits the same way.
    fenced = f"DELIMITER //\nCREATE PROCEDURE {name}()\nBEGIN\n{body}\nEND //\nDELIMITER ;\nSELECT 1;"
    assert [s.kind for s in split_mysql(fenced).statements] == ["CREATE PROCEDURE", "SELECT"]


# -- IF [NOT] EXISTS(...) THEN inside stored programs (issue 9, item 1) -------------------------------

# Each body holds IF [NOT] EXISTS conditions beside the IF [NOT] EXISTS clauses of DROP and CREATE.
IF_EXISTS_BODIES = {
    "if-exists": """\
CREATE PROCEDURE p_if_exists() BEGIN
  IF EXISTS(SELECT * FROM cfg WHERE k = 'a;b') THEN
    DROP TABLE IF EXISTS old_cfg;
    INSERT INTO cfg VALUES ('seen', 'if-exists');
  END IF;
END""",
    "if-not-exists-space": """\
CREATE PROCEDURE p_if_not_exists() BEGIN
  IF NOT EXISTS (SELECT * FROM cfg WHERE k = 'missing') THEN
    CREATE TABLE IF NOT EXISTS extra (id int);
    INSERT INTO cfg VALUES ('seen', 'if-not-exists');
  END IF;
END""",
    "nested-elseif": """\
CREATE PROCEDURE p_nested() BEGIN
  IF exists(select * FROM cfg WHERE k = 'a;b') then
    IF NOT EXISTS(SELECT 1 FROM cfg WHERE k = 'x') THEN
      INSERT INTO cfg VALUES ('seen', 'nested');
    ELSEIF EXISTS (SELECT 1 FROM cfg WHERE k = 'y') THEN
      DELETE FROM cfg WHERE k = 'y';
    ELSE
      BEGIN
        DROP TABLE IF EXISTS never;
      END;
    END IF;
  END IF;
END""",
    "while-repeat-case-labels": """\
CREATE PROCEDURE p_loops() BEGIN
  DECLARE i int DEFAULT 0;
  outer_loop: WHILE i < 2 DO
    SET i = i + 1;
    IF NOT EXISTS (SELECT 1 FROM cfg WHERE k = CONCAT('w', i)) THEN
      INSERT INTO cfg VALUES (CONCAT('w', i), 'while');
    END IF;
  END WHILE outer_loop;
  rep: REPEAT
    IF EXISTS(SELECT 1 FROM cfg WHERE k = 'w1') THEN SET i = i + 1; END IF;
  UNTIL i > 3 END REPEAT rep;
  CASE WHEN EXISTS(SELECT 1 FROM cfg WHERE k = 'w2') THEN
      IF NOT EXISTS(SELECT 1 FROM cfg WHERE k = 'case') THEN INSERT INTO cfg VALUES ('case', 'case'); END IF;
    ELSE
      DROP TABLE IF EXISTS never;
  END CASE;
  blk: BEGIN
    IF EXISTS (SELECT 1 FROM cfg WHERE k = 'case') THEN LEAVE blk; END IF;
    INSERT INTO cfg VALUES ('unreachable', 'x');
  END blk;
END""",
    "trigger": """\
CREATE TRIGGER cfg_audit AFTER INSERT ON cfg FOR EACH ROW
  IF NOT EXISTS (SELECT 1 FROM audit WHERE k = NEW.k) THEN
    INSERT INTO audit VALUES (NEW.k);
  END IF""",
    "function": """\
CREATE FUNCTION has_key(key_name varchar(20)) RETURNS int READS SQL DATA BEGIN
  IF EXISTS(SELECT 1 FROM cfg WHERE k = key_name) THEN RETURN 1; END IF;
  RETURN 0;
END""",
    "event": """\
CREATE EVENT IF NOT EXISTS cfg_cleanup ON SCHEDULE EVERY 1 DAY DO BEGIN
  IF EXISTS(SELECT 1 FROM cfg WHERE k = 'tmp') THEN DELETE FROM cfg WHERE k = 'tmp'; END IF;
END""",
}
IF_EXISTS_SETUP = ("CREATE TABLE IF NOT EXISTS cfg (k varchar(20), v varchar(20))",
                   "CREATE TABLE IF NOT EXISTS audit (k varchar(20))",
                   "DROP TABLE IF EXISTS old_cfg")


def if_exists_file(body: str) -> str:
    return ";\n".join([*IF_EXISTS_SETUP, body, "DROP PROCEDURE IF EXISTS gone", "SELECT 'after'"]) + ";\n"


@pytest.mark.parametrize("name", sorted(IF_EXISTS_BODIES))
def test_if_exists_condition_in_a_stored_program_ends_at_its_own_end(name: str) -> None:
    body = IF_EXISTS_BODIES[name]
    sql = if_exists_file(body)
    script = split_mysql(sql)
    check_invariants(sql, script)
    assert script.parsed, script.problem
    assert [s.text for s in script.statements] == [*IF_EXISTS_SETUP, body, "DROP PROCEDURE IF EXISTS gone",
                                                  "SELECT 'after'"]
    assert script.refused is None


def test_harbor_0004_procedure_with_if_exists_is_one_statement() -> None:
    # The shape of Harbor's make/migrations/mysql/0004_1.8.0_schema.up.sql, lines 177-193.
    sql = """\
CREATE PROCEDURE PROC_UPDATE_ADMIN_JOB ( ) BEGIN
    IF exists(select * FROM properties WHERE k = 'scan_all_policy') then
        IF exists(select * FROM admin_job WHERE job_name = 'IMAGE_SCAN_ALL') then
            UPDATE admin_job SET cron_str = 'x';
        ELSE
            INSERT INTO admin_job (job_name) VALUES ('IMAGE_SCAN_ALL');
        END IF;
        DELETE FROM properties WHERE k='scan_all_policy';
    END IF;
END;

CALL PROC_UPDATE_ADMIN_JOB();
"""
    script = split_mysql(sql)
    assert script.parsed, script.problem
    assert [s.kind for s in script.statements] == ["CREATE PROCEDURE", "CALL"]
    assert script.statements[0].text.endswith("    END IF;\nEND")


@pytest.mark.parametrize(
    "sql",
    [
        "IF NOT EXISTS (SELECT 1 FROM t) THEN CREATE TABLE IF NOT EXISTS u (id int); END IF;\nSELECT 1;",
        "IF EXISTS(SELECT 1) THEN DROP TABLE IF EXISTS u; ELSEIF NOT EXISTS (SELECT 2) THEN SELECT 3; "
        "END IF;\nSELECT 1;",
    ],
)
def test_top_level_if_exists_compound_statement_of_mariadb(sql: str) -> None:
    script = split_mysql(sql)
    assert script.parsed, script.problem
    assert [s.kind for s in script.statements] == ["compound statement", "SELECT"]


def test_if_not_condition_in_a_body_opens_a_block() -> None:
    sql = "CREATE PROCEDURE p() BEGIN IF NOT @done THEN SELECT 1; END IF; SELECT 2; END;\nSELECT 3;"
    assert [s.kind for s in split_mysql(sql).statements] == ["CREATE PROCEDURE", "SELECT"]


@pytest.mark.parametrize(
    ("sql", "word", "line"),
    [
        ("SELECT 1;\nEND IF;\nSELECT 2;", "END", 2),
        ("CREATE TABLE t (id int);\n  END;", "END", 2),
        ("SELECT 1;\nELSE SELECT 2;", "ELSE", 2),
        ("DECLARE x int;", "DECLARE", 1),
        ("SELECT 1; UNTIL 1 END REPEAT;", "UNTIL", 1),
    ],
)
def test_a_statement_starting_with_a_body_only_word_is_refused(sql: str, word: str, line: int) -> None:
    script = split_mysql(sql)
    assert not script.parsed and script.problem is not None
    assert script.problem.message.startswith(f"{word} starts a statement only inside the body")
    assert script.problem.line == line
    # The runner refuses the file before anything runs; lint still sees the statements before it.
    assert script.refused is not None and "DELIMITER" in script.refused.hint
    assert script.refused.line == line


def test_every_mysql_problem_makes_the_runner_refuse_the_file() -> None:
    for sql in ("SELECT 'abc;", "CREATE PROCEDURE p() BEGIN SELECT 1;", "SELECT 1;\nDELIMITER\n"):
        script = split_mysql(sql)
        assert script.problem is not None and script.refused is not None
        assert (script.refused.line, script.refused.column) == (script.problem.line, script.problem.column)
    assert split_mysql("SELECT 1; SELECT 2;").refused is None
