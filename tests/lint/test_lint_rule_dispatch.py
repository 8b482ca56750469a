"""The engine calls an ALTER TABLE rule only for the sub-commands it declares, and loses nothing by it.

A rule on ``AlterTableStmt`` may name the ``AlterTableCmd`` subtypes it looks at (``subtypes``);
the engine then leaves it out for an ALTER TABLE without one of them. That is only right if the
rule could never report on such a statement: the second test runs every such rule on ALTER TABLEs
of every kind, whatever their sub-commands, and checks it finds nothing where the engine skips it.
"""

from __future__ import annotations

import pytest

from safemigrate.lint import all_rules
from safemigrate.lint.context import FileContext, Hit, Stmt
from safemigrate.lint.engine import Linter
from safemigrate.lint.pgnodes import alter_cmds
from safemigrate.lint.source import SourceText

# ALTER TABLEs of an existing table (nothing in the file makes it new), of as many kinds as rules read.
ALTERS = [
    "ALTER TABLE t ADD COLUMN c int",
    "ALTER TABLE t ADD COLUMN c serial",
    "ALTER TABLE t ADD COLUMN c bigint GENERATED ALWAYS AS IDENTITY",
    "ALTER TABLE t ADD COLUMN c timestamptz DEFAULT clock_timestamp()",
    "ALTER TABLE t ADD COLUMN c int GENERATED ALWAYS AS (a * 2) STORED",
    "ALTER TABLE t ADD COLUMN c text NOT NULL",
    "ALTER TABLE t ADD COLUMN c int REFERENCES p (id)",
    "ALTER TABLE t ADD COLUMN c int UNIQUE",
    "ALTER TABLE t ADD COLUMN c int PRIMARY KEY",
    "ALTER TABLE t ADD COLUMN c int CHECK (c > 0)",
    "ALTER TABLE t ADD COLUMN c varchar(20), ADD COLUMN d timestamp, ADD COLUMN e char(3)",
    "ALTER TABLE t ADD COLUMN IF NOT EXISTS c int",
    "ALTER TABLE t DROP COLUMN c",
    "ALTER TABLE t DROP COLUMN c, DROP COLUMN d",
    "ALTER TABLE t DROP CONSTRAINT t_c_check",
    "ALTER TABLE t ALTER COLUMN c DROP NOT NULL",
    "ALTER TABLE t ALTER COLUMN c SET NOT NULL",
    "ALTER TABLE t ALTER COLUMN c TYPE int",
    "ALTER TABLE t ALTER COLUMN c TYPE varchar(10)",
    "ALTER TABLE t ALTER COLUMN c SET DEFAULT 0",
    "ALTER TABLE t ALTER COLUMN c SET STATISTICS 100",
    "ALTER TABLE t ADD CONSTRAINT t_c_check CHECK (c > 0)",
    "ALTER TABLE t ADD CONSTRAINT t_c_check CHECK (c > 0) NOT VALID",
    "ALTER TABLE t ADD CONSTRAINT t_p_fk FOREIGN KEY (p) REFERENCES p (id)",
    "ALTER TABLE t ADD CONSTRAINT t_c_key UNIQUE (c)",
    "ALTER TABLE t ADD CONSTRAINT t_pkey PRIMARY KEY (id)",
    "ALTER TABLE t ADD CONSTRAINT t_no_overlap EXCLUDE USING gist (r WITH &&)",
    "ALTER TABLE t VALIDATE CONSTRAINT t_c_check",
    "ALTER TABLE t DETACH PARTITION t_2020",
    "ALTER TABLE t ATTACH PARTITION t_2021 FOR VALUES FROM (1) TO (2)",
    "ALTER TABLE t OWNER TO someone",
    "ALTER TABLE t ENABLE TRIGGER t_audit",
    "ALTER TABLE t SET (fillfactor = 70)",
    "ALTER TABLE t SET LOGGED",
    "ALTER TABLE t INHERIT parent",
    "ALTER TABLE t ALTER COLUMN c SET NOT NULL, DROP CONSTRAINT t_c_check, ADD COLUMN d int NOT NULL",
]


def _subtypes(stmt: Stmt) -> frozenset[str]:
    return frozenset(cmd.get("subtype", "AT_AddColumn") for cmd in alter_cmds(stmt.node))


def _statement(linter: Linter, sql: str) -> tuple[Stmt, FileContext]:
    source = SourceText(sql + ";")
    statements, problems, wrapped, reason = linter._split(source)
    assert not problems and len(statements) == 1 and statements[0].kind == "AlterTableStmt", sql
    ctx = FileContext(path="m.up.sql", source=source, dialect="postgres", pg_version=None,
                      direction="up", statements=statements, wrapped=wrapped,
                      statement_mode_reason=reason)
    ctx.begin_statement(statements[0])
    return statements[0], ctx


def test_an_alter_table_meets_only_the_rules_of_its_sub_commands() -> None:
    linter = Linter("postgres")
    stmt, _ctx = _statement(linter, "ALTER TABLE t DROP COLUMN c")
    ids = {found.id for found, _check in linter._alter_checks(stmt)}
    assert {"drop-column", "lock-timeout-missing", "identifier-too-long"} <= ids
    assert not ids & {"add-column-volatile-default", "set-not-null", "change-column-type",
                      "constraint-without-not-valid", "prefer-text", "drop-constraint"}


RESTRICTED = sorted((r for r in all_rules().values() if r.subtypes), key=lambda r: r.id)


@pytest.mark.parametrize("rule", RESTRICTED, ids=lambda r: r.id)
def test_a_rule_left_out_for_an_alter_table_would_have_found_nothing_there(rule: object) -> None:
    from safemigrate.lint.registry import Rule

    assert isinstance(rule, Rule) and "AlterTableStmt" in rule.nodes
    linter = Linter("postgres")
    check = rule.checks["postgres"]
    skipped = 0
    for sql in ALTERS:
        stmt, ctx = _statement(linter, sql)
        if rule.subtypes.isdisjoint(_subtypes(stmt)):
            skipped += 1
            hits: list[Hit] = list(check(stmt, ctx))
            assert hits == [], f"{rule.id} reports on {sql!r}, which the engine does not show it"
    assert skipped, f"no statement above lacks {rule.id}'s sub-commands: the test proves nothing"


CREATE_TABLES = [
    "CREATE TABLE t (id bigint PRIMARY KEY, name text NOT NULL)",
    "CREATE TABLE t (id bigint PRIMARY KEY, p bigint REFERENCES p (id))",
    "CREATE TABLE t (id bigint, p bigint NOT NULL REFERENCES p (id), q bigint REFERENCES q (id))",
    "CREATE TABLE t (id bigint, p bigint, CONSTRAINT t_p_fk FOREIGN KEY (p) REFERENCES p (id))",
    "CREATE TABLE t (id bigint) INHERITS (parent)",
    "CREATE TABLE t_2024 PARTITION OF t FOR VALUES FROM (1) TO (2)",
    "CREATE TABLE IF NOT EXISTS t (LIKE other INCLUDING ALL)",
]


@pytest.mark.parametrize("sql", CREATE_TABLES)
def test_the_locks_of_a_create_table_read_from_its_facts_are_the_lock_models(sql: str) -> None:
    """statement_locks_of skips walking a CREATE TABLE that its facts say references no table."""
    from safemigrate.lint.pglocks import statement_locks
    from safemigrate.lint.rules._helpers import statement_locks_of

    source = SourceText(sql + ";")
    statements, problems, _wrapped, _reason = Linter("postgres")._split(source)
    assert not problems and statements[0].kind == "CreateStmt"
    assert statement_locks_of(statements[0]) == statement_locks("CreateStmt", statements[0].node)
