"""The lock model lock-timeout-missing follows equals what a real PostgreSQL server takes (issue 9, item 4).

Each statement runs inside a transaction that is rolled back, on a database
holding one object of every kind; ``pg_locks`` (by relation oid, mapped to the
names the relations had before the statement, so drops and renames count) gives
the strongest lock on each relation, which must equal the lock
``safemigrate.lint.pglocks`` assumes. Locks weaker than SHARE UPDATE EXCLUSIVE
conflict only with ACCESS EXCLUSIVE (they never make readers or writers wait)
and are not modelled; an index's own lock is compared when the model names the
index, and otherwise goes with its table's. A second session then shows what
the model's "blocks queries / blocks writes" means: its read or write waits
(until its lock_timeout) exactly when the model says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from safemigrate.lint.pglocks import Lock, statement_locks
from safemigrate.lint.pgparse import parse_postgres
from safemigrate.lint.source import SourceText
from support import unique_name

SETUP = """
CREATE TABLE t (id bigint PRIMARY KEY, a int, b text);
CREATE TABLE p (id bigint PRIMARY KEY);
CREATE TABLE child (id bigint CONSTRAINT child_p_fk REFERENCES p (id));
CREATE TABLE loose (id int, k int);
CREATE TABLE orphan (id bigint NOT NULL, a int, b text);
CREATE TABLE parted (id int, k int) PARTITION BY RANGE (k);
CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (10);
CREATE VIEW v AS SELECT id, a FROM t;
CREATE MATERIALIZED VIEW mv AS SELECT id FROM t;
CREATE UNIQUE INDEX mv_id ON mv (id);
CREATE INDEX t_a ON t (a);
CREATE SEQUENCE s;
CREATE TYPE mood AS ENUM ('a', 'b');
CREATE TYPE unused AS ENUM ('x');
CREATE TYPE pair AS (x int, y int);
CREATE DOMAIN posint AS int;
CREATE TABLE typed (id bigint, m mood, d posint);
ALTER TABLE typed ADD CONSTRAINT typed_p_fk FOREIGN KEY (id) REFERENCES p (id) NOT VALID;
ALTER DOMAIN posint ADD CONSTRAINT posint_positive CHECK (VALUE > 0) NOT VALID;
CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f();
CREATE POLICY pol ON t USING (true);
CREATE RULE r AS ON INSERT TO p DO ALSO NOTHING;
CREATE SCHEMA sc;
CREATE UNIQUE INDEX t_b_key ON t (b);
DO $$ BEGIN  -- a contrib extension owning views (a server without contrib skips drop-extension)
    IF EXISTS (SELECT FROM pg_available_extensions WHERE name = 'pg_stat_statements') THEN
        CREATE EXTENSION pg_stat_statements;
    END IF;
END $$;
CREATE FUNCTION ef() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
CREATE EVENT TRIGGER et ON ddl_command_end EXECUTE FUNCTION ef();
ALTER EVENT TRIGGER et DISABLE;
"""

# (statement kind, SQL): every kind the model knows, the ones issue 9 names, and kinds that lock nothing.
CASES: list[tuple[str, str]] = [
    ("create-or-replace-view", "CREATE OR REPLACE VIEW v AS SELECT id, a FROM t"),
    ("create-view", "CREATE VIEW v2 AS SELECT id FROM t"),
    ("drop-view", "DROP VIEW v"),
    ("drop-materialized-view", "DROP MATERIALIZED VIEW mv"),
    ("refresh-materialized-view", "REFRESH MATERIALIZED VIEW mv"),
    ("refresh-materialized-view-concurrently", "REFRESH MATERIALIZED VIEW CONCURRENTLY mv"),
    ("alter-view-set-option", "ALTER VIEW v SET (security_barrier = true)"),
    ("rename-view", "ALTER VIEW v RENAME TO v2"),
    ("alter-sequence-restart", "ALTER SEQUENCE s RESTART"),
    ("alter-sequence-restart-with", "ALTER SEQUENCE s RESTART WITH 5"),
    ("alter-sequence-increment", "ALTER SEQUENCE s INCREMENT BY 2"),
    ("rename-sequence", "ALTER SEQUENCE s RENAME TO s2"),
    ("drop-sequence", "DROP SEQUENCE s"),
    ("alter-type-add-value", "ALTER TYPE mood ADD VALUE 'c'"),
    ("alter-type-rename-value", "ALTER TYPE mood RENAME VALUE 'a' TO 'z'"),
    ("alter-type-rename", "ALTER TYPE mood RENAME TO feeling"),
    ("alter-type-add-attribute", "ALTER TYPE pair ADD ATTRIBUTE z int"),
    ("alter-type-rename-attribute", "ALTER TYPE pair RENAME ATTRIBUTE x TO x2"),
    ("drop-unused-type", "DROP TYPE unused"),
    ("drop-domain-cascade", "DROP DOMAIN posint CASCADE"),
    ("alter-domain-add-check", "ALTER DOMAIN posint ADD CONSTRAINT c2 CHECK (VALUE < 100)"),
    ("alter-domain-add-check-not-valid", "ALTER DOMAIN posint ADD CONSTRAINT c2 CHECK (VALUE < 100) NOT VALID"),
    ("alter-domain-set-not-null", "ALTER DOMAIN posint SET NOT NULL"),
    ("alter-domain-validate", "ALTER DOMAIN posint VALIDATE CONSTRAINT posint_positive"),
    ("alter-domain-set-default", "ALTER DOMAIN posint SET DEFAULT 1"),
    ("create-trigger", "CREATE TRIGGER trg2 BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()"),
    ("create-or-replace-trigger", "CREATE OR REPLACE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()"),
    ("drop-trigger", "DROP TRIGGER trg ON t"),
    ("rename-trigger", "ALTER TRIGGER trg ON t RENAME TO trg2"),
    ("disable-trigger", "ALTER TABLE t DISABLE TRIGGER trg"),
    ("create-policy", "CREATE POLICY pol2 ON t USING (true)"),
    ("alter-policy", "ALTER POLICY pol ON t USING (false)"),
    ("drop-policy", "DROP POLICY pol ON t"),
    ("create-rule", "CREATE RULE r2 AS ON INSERT TO t DO ALSO NOTHING"),
    ("create-or-replace-rule", "CREATE OR REPLACE RULE r AS ON INSERT TO p DO ALSO NOTHING"),
    ("drop-rule", "DROP RULE r ON p"),
    ("create-or-replace-function", "CREATE OR REPLACE FUNCTION f() RETURNS trigger LANGUAGE plpgsql "
                                   "AS $$ BEGIN RETURN NEW; END $$"),
    ("comment-on-table", "COMMENT ON TABLE t IS 'x'"),
    ("comment-on-column", "COMMENT ON COLUMN t.a IS 'x'"),
    ("comment-on-view", "COMMENT ON VIEW v IS 'x'"),
    ("comment-on-sequence", "COMMENT ON SEQUENCE s IS 'x'"),
    ("comment-on-index", "COMMENT ON INDEX t_a IS 'x'"),
    ("grant", "GRANT SELECT ON t TO PUBLIC"),
    ("alter-table-add-column", "ALTER TABLE t ADD COLUMN z int"),
    ("alter-table-add-column-references", "ALTER TABLE t ADD COLUMN pid bigint REFERENCES p (id)"),
    ("alter-table-set-default", "ALTER TABLE t ALTER COLUMN a SET DEFAULT 1"),
    ("alter-table-set-statistics", "ALTER TABLE t ALTER COLUMN a SET STATISTICS 100"),
    ("alter-table-set-column-option", "ALTER TABLE t ALTER COLUMN a SET (n_distinct = 10)"),
    ("alter-table-set-storage-parameter", "ALTER TABLE t SET (fillfactor = 50)"),
    ("alter-table-add-check-not-valid", "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID"),
    ("alter-table-add-foreign-key-not-valid", "ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (id) REFERENCES p (id) NOT VALID"),
    ("alter-table-validate-foreign-key", "ALTER TABLE typed VALIDATE CONSTRAINT typed_p_fk"),
    ("alter-table-drop-foreign-key", "ALTER TABLE child DROP CONSTRAINT child_p_fk"),
    ("alter-table-alter-constraint", "ALTER TABLE typed ALTER CONSTRAINT typed_p_fk DEFERRABLE"),
    ("alter-table-exclusion-constraint", "ALTER TABLE t ADD CONSTRAINT t_no_equal_a EXCLUDE USING btree (a WITH =)"),
    ("alter-table-attach-partition", "ALTER TABLE parted ATTACH PARTITION loose FOR VALUES FROM (10) TO (20)"),
    ("alter-table-detach-partition", "ALTER TABLE parted DETACH PARTITION parted_1"),
    ("alter-table-inherit", "ALTER TABLE orphan INHERIT t"),
    ("alter-table-cluster-on", "ALTER TABLE t CLUSTER ON t_a"),
    ("alter-table-enable-row-level-security", "ALTER TABLE t ENABLE ROW LEVEL SECURITY"),
    ("alter-table-owner", "ALTER TABLE t OWNER TO CURRENT_USER"),
    ("alter-table-set-schema", "ALTER TABLE loose SET SCHEMA sc"),
    ("alter-type-set-schema", "ALTER TYPE mood SET SCHEMA sc"),
    ("alter-index-set-storage-parameter", "ALTER INDEX t_a SET (fillfactor = 50)"),
    ("alter-index-set-tablespace", "ALTER INDEX t_a SET TABLESPACE pg_default"),
    ("rename-index", "ALTER INDEX t_a RENAME TO t_a2"),
    ("rename-table", "ALTER TABLE t RENAME TO t2"),
    ("rename-column", "ALTER TABLE t RENAME COLUMN b TO b2"),
    ("rename-constraint", "ALTER TABLE t RENAME CONSTRAINT t_pkey TO t_pk"),
    ("create-index", "CREATE INDEX t_b ON t (b)"),
    ("create-index-on-only-partitioned", "CREATE INDEX ON ONLY parted (k)"),
    ("create-table-with-foreign-key", "CREATE TABLE c1 (id bigint REFERENCES p (id))"),
    ("create-table-partition-of", "CREATE TABLE parted_2 PARTITION OF parted FOR VALUES FROM (20) TO (30)"),
    ("create-table-inherits", "CREATE TABLE heir (x int) INHERITS (t)"),
    ("create-table-like", "CREATE TABLE c2 (LIKE t)"),
    ("create-table-as", "CREATE TABLE c3 AS SELECT * FROM t"),
    ("create-statistics", "CREATE STATISTICS st1 ON a, b FROM t"),
    ("truncate", "TRUNCATE t, loose"),
    ("lock-default-mode", "LOCK TABLE t"),
    ("lock-share-mode", "LOCK TABLE t IN SHARE MODE"),
    ("lock-access-share-mode", "LOCK TABLE t IN ACCESS SHARE MODE"),
    ("drop-table", "DROP TABLE loose"),
    ("drop-table-with-foreign-key", "DROP TABLE child"),
    ("drop-index", "DROP INDEX t_a"),
    ("cluster", "CLUSTER t USING t_a"),
    ("reindex-table", "REINDEX TABLE t"),
    ("reindex-index", "REINDEX INDEX t_a"),
    ("analyze", "ANALYZE t"),
    ("alter-table-add-primary-key", "ALTER TABLE loose ADD PRIMARY KEY (id)"),
    ("alter-table-add-unique-using-index", "ALTER TABLE t ADD CONSTRAINT t_b_unique UNIQUE USING INDEX t_b_key"),
    ("alter-table-replica-identity", "ALTER TABLE t REPLICA IDENTITY FULL"),
    ("alter-table-set-not-null", "ALTER TABLE t ALTER COLUMN a SET NOT NULL"),
    ("alter-table-drop-not-null", "ALTER TABLE typed ALTER COLUMN id DROP NOT NULL"),
    ("alter-table-drop-column", "ALTER TABLE t DROP COLUMN b"),
    ("create-unique-index", "CREATE UNIQUE INDEX t_a_key ON t (a)"),
    ("create-materialized-view", "CREATE MATERIALIZED VIEW mv2 AS SELECT id FROM t"),
    ("create-sequence", "CREATE SEQUENCE s2"),
    ("create-type", "CREATE TYPE size AS ENUM ('s', 'm')"),
    ("create-domain", "CREATE DOMAIN code AS text CHECK (VALUE <> '')"),
    ("create-schema", "CREATE SCHEMA reporting"),
    ("create-extension-that-exists", "CREATE EXTENSION IF NOT EXISTS plpgsql"),
    ("alter-function", "ALTER FUNCTION f() SET search_path = public"),
    ("drop-function", "DROP FUNCTION f() CASCADE"),
    ("grant-on-all-tables", "GRANT SELECT ON ALL TABLES IN SCHEMA public TO PUBLIC"),
    ("alter-default-privileges", "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO PUBLIC"),
    # Kinds squawk reports on the Supabase corpus (require-lock-timeout): an extension drops its
    # tables and views; roles, privileges, schemas, event triggers and function owners lock no relation.
    ("drop-extension", "DROP EXTENSION pg_stat_statements"),
    ("alter-role", "ALTER ROLE CURRENT_USER CREATEDB"),
    ("alter-role-set", "ALTER ROLE CURRENT_USER SET statement_timeout = '1min'"),
    ("grant-role", "GRANT pg_read_all_data TO CURRENT_USER"),
    ("grant-on-schema", "GRANT USAGE ON SCHEMA sc TO PUBLIC"),
    ("alter-function-owner", "ALTER FUNCTION f() OWNER TO CURRENT_USER"),
    ("comment-on-function", "COMMENT ON FUNCTION f() IS 'x'"),
    ("create-schema-that-exists", "CREATE SCHEMA IF NOT EXISTS sc"),
    ("create-event-trigger", "CREATE EVENT TRIGGER et2 ON ddl_command_end EXECUTE FUNCTION ef()"),
    ("drop-event-trigger", "DROP EVENT TRIGGER et"),
    ("setval", "SELECT setval('s', 10)"),
    ("insert", "INSERT INTO t (id) VALUES (1)"),
    ("update", "UPDATE t SET a = 1 WHERE id = 1"),
    ("delete", "DELETE FROM t WHERE id = 1"),
    ("select", "SELECT * FROM t"),
]

_STRENGTH = {"ShareUpdateExclusiveLock": 4, "ShareLock": 5, "ShareRowExclusiveLock": 6,
             "ExclusiveLock": 7, "AccessExclusiveLock": 8}

_RELATIONS = """
SELECT c.oid, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
"""
_INDEX_TABLES = """
SELECT i.relname, t.relname FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
"""
_HELD = "SELECT relation, mode FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'relation' AND granted"


@pytest.fixture(scope="module")
def probe_url(postgres_admin_url: str) -> Iterator[str]:
    """A database holding SETUP's objects (every case rolls back, so they stay as created)."""
    import psycopg

    from support import with_database

    name = unique_name("sm_locks")
    with psycopg.connect(postgres_admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = with_database(postgres_admin_url, name)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(SETUP)
        yield url
    finally:
        with psycopg.connect(postgres_admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def probe_db(probe_url: str) -> Iterator[Any]:
    import psycopg

    with psycopg.connect(probe_url, autocommit=True) as conn:
        yield conn


def _server_locks(conn: Any, sql: str) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(strongest lock per relation that existed before, each relation's kind, each index's table)."""
    with conn.transaction(force_rollback=True):
        relations = {oid: (name, kind) for oid, name, kind in conn.execute(_RELATIONS).fetchall()}
        index_tables = dict(conn.execute(_INDEX_TABLES).fetchall())
        conn.execute(sql)
        held: dict[str, str] = {}
        for oid, mode in conn.execute(_HELD).fetchall():
            if oid not in relations or mode not in _STRENGTH:
                continue  # new relations, and locks that only block DDL
            name = relations[oid][0]
            if name not in held or _STRENGTH[mode] > _STRENGTH[held[name]]:
                held[name] = mode
    kinds = {name: kind for name, kind in relations.values()}
    return held, kinds, index_tables


def _assumed(sql: str) -> tuple[Lock, ...]:
    (stmt,) = parse_postgres(SourceText(sql)).statements
    return statement_locks(stmt.kind, stmt.node)


@pytest.mark.parametrize(("sql"), [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_the_lock_the_rule_assumes_is_the_lock_the_server_takes(probe_db: Any, sql: str) -> None:
    if sql.startswith("DROP EXTENSION") and not probe_db.execute(
            "SELECT FROM pg_extension WHERE extname = 'pg_stat_statements'").fetchall():
        pytest.skip("pg_stat_statements is not available on this server")
    held, kinds, index_tables = _server_locks(probe_db, sql)
    named: dict[str, str] = {}
    others: str | None = None
    for lock in _assumed(sql):
        if lock.kind == "others":
            others = lock.mode
        else:
            named[index_tables[lock.relation] if lock.kind == "index-table" else lock.relation] = lock.mode
    for relation, mode in named.items():
        assert held.get(relation) == mode, (relation, held)
    for relation, mode in held.items():
        if relation in named or kinds[relation] in ("i", "I"):
            continue  # an index not named goes with its table's lock
        assert mode == others, (relation, mode, named)


# (SQL, a read and a write another session runs meanwhile): what "blocks" means, end to end.
CONCURRENT: list[tuple[str, str, str, str]] = [
    ("alter-type-add-value", "ALTER TYPE mood ADD VALUE 'c'",
     "SELECT * FROM typed", "INSERT INTO typed (m) VALUES ('a')"),
    ("alter-sequence-restart", "ALTER SEQUENCE s RESTART", "SELECT last_value FROM s", "SELECT nextval('s')"),
    ("create-or-replace-view", "CREATE OR REPLACE VIEW v AS SELECT id, a FROM t",
     "SELECT * FROM v", "SELECT * FROM v"),
    ("drop-view", "DROP VIEW v", "SELECT * FROM v", "SELECT * FROM v"),
    ("create-trigger", "CREATE TRIGGER trg2 BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()",
     "SELECT * FROM t", "INSERT INTO t (id) VALUES (5)"),
    ("alter-domain-validate", "ALTER DOMAIN posint VALIDATE CONSTRAINT posint_positive",
     "SELECT * FROM typed", "INSERT INTO typed (m) VALUES ('a')"),
    ("comment-on-table", "COMMENT ON TABLE t IS 'x'", "SELECT * FROM t", "INSERT INTO t (id) VALUES (5)"),
]


def _waits(url: str, sql: str) -> bool:
    """Whether ``sql`` in a second session waits for a lock (it gives up after lock_timeout)."""
    import psycopg

    with psycopg.connect(url) as other:
        other.execute("SET lock_timeout = '200ms'")
        try:
            other.execute(sql)
        except psycopg.errors.LockNotAvailable:
            return True
        finally:
            other.rollback()
    return False


@pytest.mark.parametrize(("sql", "read", "write"), [c[1:] for c in CONCURRENT], ids=[c[0] for c in CONCURRENT])
def test_what_the_model_says_waits_is_what_another_session_waits_for(
        probe_db: Any, probe_url: str, sql: str, read: str, write: str) -> None:
    blocks = {lock.blocks for lock in _assumed(sql)}
    with probe_db.transaction(force_rollback=True):
        probe_db.execute(sql)
        assert _waits(probe_url, read) == ("queries" in blocks), read
        assert _waits(probe_url, write) == bool(blocks & {"queries", "writes"}), write
