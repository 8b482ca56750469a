"""lock-timeout-missing on objects other than tables (issue 9, item 4), following the probed lock model.

test_lock_probe.py proves the model equals the server's locks; these tests prove
the rule reports exactly the statements whose modelled lock makes other sessions wait.
"""

from __future__ import annotations

import pytest
from lint_support import lines_of, lint
from test_lock_probe import CASES

from safemigrate.lint.pglocks import statement_locks
from safemigrate.lint.pgparse import parse_postgres
from safemigrate.lint.source import SourceText

WAITS = [
    ("create-or-replace-view", "CREATE OR REPLACE VIEW active_users AS SELECT * FROM users;", "view active_users"),
    ("drop-view", "DROP VIEW active_users;", "view active_users"),
    ("drop-materialized-view", "DROP MATERIALIZED VIEW report;", "view report"),
    ("refresh-materialized-view", "REFRESH MATERIALIZED VIEW report;", "view report"),
    ("alter-sequence-restart", "ALTER SEQUENCE orders_id_seq RESTART WITH 1000;", "sequence orders_id_seq"),
    ("create-trigger", "CREATE TRIGGER t BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION f();", "orders"),
    ("drop-trigger", "DROP TRIGGER t ON orders;", "orders"),
    ("create-policy", "CREATE POLICY own ON orders USING (owner = current_user);", "orders"),
    ("drop-policy", "DROP POLICY own ON orders;", "orders"),
    ("create-rule", "CREATE RULE r AS ON INSERT TO orders DO ALSO NOTHING;", "orders"),
    ("partition-of", "CREATE TABLE orders_2024 PARTITION OF orders FOR VALUES FROM (1) TO (2);", "orders"),
    ("alter-domain-add-check", "ALTER DOMAIN positive ADD CONSTRAINT p CHECK (VALUE > 0);",
     "the tables with a column of positive"),
    ("drop-type-cascade", "DROP TYPE mood CASCADE;", "the tables with a column of mood"),
    ("drop-schema-cascade", "DROP SCHEMA archive CASCADE;", "every table in schema archive"),
    ("reindex-schema", "REINDEX SCHEMA archive;", "every table in schema archive"),
    ("cluster-everything", "CLUSTER;", "every table it processes"),
    ("set-schema", "ALTER TABLE orders SET SCHEMA archive;", "orders"),
    ("alter-index-set-tablespace", "ALTER INDEX orders_pkey SET TABLESPACE fast;", "index orders_pkey"),
    # Supabase's pg_graphql migration: DROP EXTENSION drops the extension's tables and views.
    ("drop-extension", "DROP EXTENSION IF EXISTS pg_graphql;", "the tables and views the extension owns"),
]


@pytest.mark.parametrize(("sql", "target"), [c[1:] for c in WAITS], ids=[c[0] for c in WAITS])
def test_statements_that_lock_other_objects_need_a_lock_timeout(sql: str, target: str) -> None:
    report = lint(sql)
    assert lines_of(report, "lock-timeout-missing") == [1]
    assert lines_of(report, "statement-timeout-missing") == [1]
    message = next(f.message for f in report.findings if f.rule_id == "lock-timeout-missing")
    assert f"lock on {target}," in message


NO_WAIT = [
    ("alter-type-add-value", "ALTER TYPE mood ADD VALUE 'sad';"),
    ("alter-type-rename-value", "ALTER TYPE mood RENAME VALUE 'sad' TO 'blue';"),
    ("comment", "COMMENT ON TABLE orders IS 'orders';"),
    ("analyze", "ANALYZE orders;"),
    ("storage-parameter", "ALTER TABLE orders SET (fillfactor = 90);"),
    ("statistics", "ALTER TABLE orders ALTER COLUMN total SET STATISTICS 500;"),
    ("lock-access-share", "LOCK TABLE orders IN ACCESS SHARE MODE;"),
    ("new-view", "CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 100;"),
    ("replace-view-created-in-the-file", "CREATE VIEW v AS SELECT 1 AS a;\nCREATE OR REPLACE VIEW v AS SELECT 2 AS a;"),
    ("sequence-created-in-the-file", "CREATE SEQUENCE s;\nALTER SEQUENCE s RESTART WITH 10;"),
    ("domain-created-in-the-file", "CREATE DOMAIN d AS int;\nALTER DOMAIN d ADD CONSTRAINT p CHECK (VALUE > 0);"),
    ("trigger-on-table-created-in-the-file",
     "CREATE TABLE t (id bigint);\nCREATE TRIGGER g BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f();"),
    ("function", "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';"),
    ("alter-role", "ALTER ROLE authenticator SET statement_timeout = '8s';"),
    ("alter-default-privileges", "ALTER DEFAULT PRIVILEGES IN SCHEMA auth GRANT ALL ON TABLES TO postgres;"),
    ("alter-function-owner", "ALTER FUNCTION lo_export OWNER TO supabase_admin;"),
    ("event-trigger", "DROP EVENT TRIGGER IF EXISTS api_restart;"),
    ("drop-function", "DROP FUNCTION th(bigint);"),
]


@pytest.mark.parametrize("sql", [c[1] for c in NO_WAIT], ids=[c[0] for c in NO_WAIT])
def test_statements_that_make_nobody_wait_need_no_lock_timeout(sql: str) -> None:
    report = lint(sql)
    assert lines_of(report, "lock-timeout-missing") == []


def test_or_replace_view_of_a_view_created_if_not_exists_is_not_new() -> None:
    report = lint("CREATE OR REPLACE VIEW v AS SELECT 1 AS a;\nCREATE OR REPLACE VIEW v AS SELECT 2 AS a;")
    assert lines_of(report, "lock-timeout-missing") == [1]


def test_share_locks_say_that_writes_queue() -> None:
    report = lint("ALTER SEQUENCE orders_id_seq RESTART;")
    message = next(f.message for f in report.findings if f.rule_id == "lock-timeout-missing")
    assert "SHARE ROW EXCLUSIVE lock on sequence orders_id_seq, every other write on it queues" in message


def test_a_dropped_index_locks_its_table_even_when_the_file_built_the_index() -> None:
    report = lint("CREATE INDEX CONCURRENTLY i ON orders (total);\nDROP INDEX i;")
    assert lines_of(report, "lock-timeout-missing") == [2]


@pytest.mark.parametrize("sql", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_the_rule_reports_exactly_the_probed_statements_that_make_others_wait(sql: str) -> None:
    (stmt,) = parse_postgres(SourceText(sql)).statements
    waits = any(lock.blocks for lock in statement_locks(stmt.kind, stmt.node))
    assert bool(lines_of(lint(sql + ";"), "lock-timeout-missing")) == waits
