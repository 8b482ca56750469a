"""Hypothesis strategies for MySQL SQL: stored program bodies built from MySQL's grammar.

Every generated body is valid for MariaDB (the driver tests create procedures from
them on the real server), and full of the things a splitter can trip on: ``;``
inside nested blocks, IF()/REPEAT() functions beside IF/REPEAT statements, IF [NOT]
EXISTS(...) conditions, CASE expressions beside CASE statements, strings and comments
holding ``;`` and ``END``.
"""

from __future__ import annotations

from hypothesis import strategies as st

_VARS = ["v1", "v2"]

_STRING_BODY = st.text(
    st.characters(whitelist_categories=("Ll", "Lu", "Nd"), whitelist_characters=" ;'\"\\/*#-$"),
    max_size=8,
)


def _sql_string(body: str) -> str:
    return "'" + body.replace("\\", "\\\\").replace("'", "''") + "'"


_ATOM = st.one_of(
    st.sampled_from(_VARS),
    st.integers(0, 99).map(str),
    _STRING_BODY.map(lambda b: f"CHAR_LENGTH({_sql_string(b)})"),
)


def _expr(depth: int) -> st.SearchStrategy[str]:
    if depth <= 0:
        return _ATOM
    inner = _expr(depth - 1)
    return st.one_of(
        _ATOM,
        st.tuples(inner, inner).map(lambda t: f"({t[0]} + {t[1]})"),
        st.tuples(inner, inner, inner).map(lambda t: f"IF({t[0]} > 1, {t[1]}, {t[2]})"),
        st.tuples(inner, inner).map(lambda t: f"CASE WHEN {t[0]} THEN {t[1]} ELSE 0 END"),
        inner.map(lambda e: f"CHAR_LENGTH(REPEAT('x', {e} % 3))"),
    )


_COMMENT = st.sampled_from(["", " /* ; END; */", " -- END IF;\n", " # ;END\n"])


def _statements(depth: int) -> st.SearchStrategy[str]:
    expr = _expr(2)
    simple = st.one_of(
        st.tuples(st.sampled_from(_VARS), expr).map(lambda t: f"SET {t[0]} = {t[1]}"),
        expr.map(lambda e: f"SET @r = {e}"),
        _STRING_BODY.map(lambda b: f"SET @s = {_sql_string(b)}"),
        expr.map(lambda e: f"SELECT {e} INTO @x"),
    )
    if depth <= 0:
        return st.tuples(simple, _COMMENT).map(lambda t: f"{t[0]};{t[1]}")
    body = st.lists(_statements(depth - 1), min_size=1, max_size=3).map(lambda xs: " ".join(xs))
    compound = st.one_of(
        st.tuples(expr, body).map(lambda t: f"IF {t[0]} > 2 THEN {t[1]} END IF"),
        st.tuples(expr, body, body).map(lambda t: f"IF ({t[0]}) THEN {t[1]} ELSE {t[2]} END IF"),
        st.tuples(expr, body, expr, body).map(
            lambda t: f"IF {t[0]} THEN {t[1]} ELSEIF {t[2]} THEN {t[3]} END IF"),
        st.tuples(expr, body).map(lambda t: f"IF EXISTS(SELECT {t[0]}) THEN {t[1]} END IF"),
        st.tuples(expr, body, expr, body).map(
            lambda t: f"IF NOT EXISTS (SELECT {t[0]} FROM DUAL WHERE 0) THEN {t[1]} "
                      f"ELSEIF NOT {t[2]} > 1 THEN {t[3]} END IF"),
        body.map(lambda b: f"BEGIN {b} END"),
        body.map(lambda b: f"lbl{depth}: LOOP {b} LEAVE lbl{depth}; END LOOP lbl{depth}"),
        body.map(lambda b: f"REPEAT {b} UNTIL 1 END REPEAT"),
        st.tuples(expr, body).map(lambda t: f"WHILE {t[0]} < 0 DO {t[1]} END WHILE"),
        st.tuples(expr, body, body).map(lambda t: f"CASE WHEN {t[0]} THEN {t[1]} ELSE {t[2]} END CASE"),
        st.tuples(expr, body, body).map(lambda t: f"CASE {t[0]} WHEN 1 THEN {t[1]} ELSE {t[2]} END CASE"),
    )
    return st.tuples(st.one_of(simple, compound), _COMMENT).map(lambda t: f"{t[0]};{t[1]}")


def procedure_bodies(depth: int = 2) -> st.SearchStrategy[str]:
    """The inside of a BEGIN ... END: declarations, then one to four statements."""
    declarations = "DECLARE v1 INT DEFAULT 1; DECLARE v2 INT DEFAULT 2; "
    return st.lists(_statements(depth), min_size=1, max_size=4).map(lambda xs: declarations + " ".join(xs))
