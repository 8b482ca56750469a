"""PostgreSQL rules: what each flags (at which line) and the safe forms it leaves alone."""

from __future__ import annotations

from typing import Any

import pytest
from lint_support import lines_of, lint

# (test id, rule, SQL, lines where the rule must fire, lint options)
FLAGGED: list[tuple[str, str, str, list[int], dict[str, Any]]] = [
    # destructive
    ("drop-table-of-existing-table", "drop-table", """
        SET lock_timeout = '1s';
        DROP TABLE audit_log;
        """, [2], {}),
    ("drop-table-reports-each-name", "drop-table", "DROP TABLE IF EXISTS a,\n  b;", [1, 1], {}),
    ("drop-column", "drop-column", """
        ALTER TABLE users
            ADD COLUMN note text,
            DROP COLUMN legacy;
        """, [3], {}),  # at its own sub-command
    ("drop-schema-cascade", "drop-schema", "SELECT 1;\nDROP SCHEMA reporting CASCADE;", [2], {}),
    ("drop-database", "drop-database", "DROP DATABASE old;", [1], {}),
    ("drop-type", "drop-type", "SELECT 1;\n\nDROP TYPE order_status;", [3], {}),
    ("drop-domain", "drop-type", "DROP DOMAIN positive;", [1], {}),
    ("drop-constraint", "drop-constraint", "ALTER TABLE orders DROP CONSTRAINT orders_fk;", [1], {}),
    ("drop-not-null", "drop-not-null", "ALTER TABLE users ALTER COLUMN nick DROP NOT NULL;", [1], {}),
    ("truncate", "truncate", "SELECT 1;\nTRUNCATE sessions;", [2], {}),
    ("delete-without-where", "delete-without-where", "DELETE FROM a WHERE id = 1;\nDELETE FROM b;", [2], {}),
    ("delete-using-without-where", "delete-without-where", "DELETE FROM a USING b;", [1], {}),
    ("update-without-where", "update-without-where", "UPDATE users\nSET plan = 'free';", [1], {}),
    ("rename-table", "rename-table", "ALTER TABLE customers RENAME TO clients;", [1], {}),
    ("rename-column", "rename-column", "SELECT 1;\nALTER TABLE users RENAME COLUMN name TO full_name;", [2], {}),
    # locking
    ("create-index-on-existing-table", "create-index-not-concurrently",
     "CREATE INDEX i ON orders (customer_id);", [1], {}),
    ("create-unique-index-on-existing-table", "create-index-not-concurrently",
     "SELECT 1;\nCREATE UNIQUE INDEX i ON orders (code);", [2], {}),
    ("drop-index", "drop-index-not-concurrently", "DROP INDEX idx_a;", [1], {}),
    ("reindex", "reindex-not-concurrently", "REINDEX TABLE orders;", [1], {}),
    ("detach-partition", "detach-partition-not-concurrently",
     "ALTER TABLE m DETACH PARTITION m_2019;", [1], {}),
    ("vacuum-full", "vacuum-full-or-cluster", "VACUUM FULL orders;", [1], {}),
    ("cluster", "vacuum-full-or-cluster", "CLUSTER orders USING orders_pkey;", [1], {}),
    ("volatile-default-uuid", "add-column-volatile-default", """
        ALTER TABLE orders
          ADD COLUMN public_id uuid DEFAULT gen_random_uuid();
        """, [2], {}),
    ("volatile-default-unknown-function", "add-column-volatile-default",
     "ALTER TABLE orders ADD COLUMN code text DEFAULT make_code();", [1], {}),
    ("volatile-default-inside-cast", "add-column-volatile-default",
     "ALTER TABLE orders ADD COLUMN r text DEFAULT random()::text;", [1], {}),
    ("serial-column-added", "add-column-volatile-default",
     "ALTER TABLE orders ADD COLUMN seq bigserial;", [1], {}),
    ("identity-column-added", "add-column-volatile-default",
     "ALTER TABLE orders ADD COLUMN n bigint GENERATED ALWAYS AS IDENTITY;", [1], {}),
    ("constant-default-before-pg11", "add-column-volatile-default",
     "ALTER TABLE orders ADD COLUMN status text DEFAULT 'new';", [1], {"pg_version": 10}),
    ("stored-generated-column", "add-column-stored-generated",
     "ALTER TABLE o ADD COLUMN c bigint GENERATED ALWAYS AS (a * 100) STORED;", [1], {}),
    ("not-null-without-default", "add-not-null-column-without-default", """
        ALTER TABLE users
          ADD COLUMN a text,
          ADD COLUMN plan text NOT NULL;
        """, [3], {}),
    ("primary-key-column-without-default", "add-not-null-column-without-default",
     "ALTER TABLE users ADD COLUMN k text PRIMARY KEY;", [1], {}),
    ("change-column-type", "change-column-type", "ALTER TABLE o ALTER COLUMN amount TYPE numeric;", [1], {}),
    ("set-not-null", "set-not-null", "ALTER TABLE users ALTER COLUMN email SET NOT NULL;", [1], {}),
    ("set-not-null-with-check-before-pg12", "set-not-null", """
        ALTER TABLE users ADD CONSTRAINT nn CHECK (email IS NOT NULL) NOT VALID;
        COMMIT;
        ALTER TABLE users VALIDATE CONSTRAINT nn;
        ALTER TABLE users ALTER COLUMN email SET NOT NULL;
        """, [4], {"pg_version": 11}),
    ("set-not-null-on-column-added-to-old-table", "set-not-null",
     "ALTER TABLE u ADD COLUMN a int;\nALTER TABLE u ALTER COLUMN a SET NOT NULL;", [2], {}),
    ("set-not-null-with-check-on-other-column", "set-not-null", """
        ALTER TABLE users ADD CONSTRAINT nn CHECK (name IS NOT NULL);
        ALTER TABLE users ALTER COLUMN email SET NOT NULL;
        """, [2], {}),
    ("check-constraint", "constraint-without-not-valid", """
        ALTER TABLE orders
          ADD CONSTRAINT positive CHECK (amount > 0);
        """, [2], {}),
    ("foreign-key-constraint", "foreign-key-without-not-valid",
     "ALTER TABLE o ADD CONSTRAINT fk FOREIGN KEY (c) REFERENCES customers (id);", [1], {}),
    ("column-references", "foreign-key-without-not-valid",
     "ALTER TABLE o ADD COLUMN c bigint REFERENCES customers (id);", [1], {}),
    ("unique-constraint", "add-unique-without-index", "ALTER TABLE u ADD CONSTRAINT k UNIQUE (email);", [1], {}),
    ("unique-column", "add-unique-without-index", "ALTER TABLE u ADD COLUMN code text UNIQUE;", [1], {}),
    ("primary-key-constraint", "add-primary-key-without-index", "ALTER TABLE e ADD PRIMARY KEY (id);", [1], {}),
    ("exclusion-constraint", "add-exclusion-constraint", """
        ALTER TABLE bookings
          ADD CONSTRAINT no_overlap EXCLUDE USING gist (room_id WITH =, during WITH &&);
        """, [2], {}),
    ("exclusion-constraint-on-table-created-if-not-exists", "add-exclusion-constraint", """
        CREATE TABLE IF NOT EXISTS bookings (room_id bigint, during tstzrange);
        ALTER TABLE bookings ADD EXCLUDE USING gist (during WITH &&);
        """, [2], {}),
    ("validate-in-wrapped-file", "validate-in-same-transaction", """
        ALTER TABLE o ADD CONSTRAINT fk FOREIGN KEY (c) REFERENCES customers (id) NOT VALID;
        ALTER TABLE o VALIDATE CONSTRAINT fk;
        """, [2], {}),
    ("validate-in-same-explicit-block", "validate-in-same-transaction", """
        BEGIN;
        ALTER TABLE o ADD CONSTRAINT c CHECK (a > 0) NOT VALID;
        ALTER TABLE o VALIDATE CONSTRAINT c;
        COMMIT;
        """, [3], {}),
    ("lock-timeout-missing-once-per-file", "lock-timeout-missing", """
        CREATE TABLE t (id bigint);
        ALTER TABLE users ADD COLUMN a text;
        ALTER TABLE users ADD COLUMN b text;
        """, [2], {}),
    ("lock-timeout-reset", "lock-timeout-missing", """
        SET lock_timeout = '1s';
        RESET lock_timeout;
        ALTER TABLE users ADD COLUMN a text;
        """, [3], {}),
    ("lock-timeout-zero-disables", "lock-timeout-missing", """
        SET lock_timeout = 0;
        ALTER TABLE users ADD COLUMN a text;
        """, [2], {}),
    ("set-local-lock-timeout-ends-with-statement-mode", "lock-timeout-missing", """
        SET LOCAL lock_timeout = '1s';
        ALTER TABLE users ADD COLUMN a text;
        CREATE INDEX CONCURRENTLY i ON users (a);
        """, [2], {}),
    ("set-local-lock-timeout-ends-with-commit", "lock-timeout-missing", """
        BEGIN;
        SET LOCAL lock_timeout = '1s';
        COMMIT;
        ALTER TABLE users ADD COLUMN a text;
        """, [4], {}),
    ("foreign-key-locks-referenced-table", "lock-timeout-missing",
     "CREATE TABLE t (c bigint REFERENCES customers (id));", [1], {}),
    ("statement-timeout-missing", "statement-timeout-missing",
     "SET lock_timeout = '1s';\nDROP INDEX i;", [2], {}),
    # types
    ("int-primary-key", "prefer-bigint-key", """
        CREATE TABLE events (
            id integer PRIMARY KEY,
            n integer
        );
        """, [2], {}),
    ("table-level-primary-key", "prefer-bigint-key", """
        CREATE TABLE events (
            id int NOT NULL,
            PRIMARY KEY (id)
        );
        """, [2], {}),
    ("serial-key", "prefer-bigint-key", "CREATE TABLE e (id serial);", [1], {}),
    ("smallserial-key", "prefer-bigint-key", "CREATE TABLE e (id smallserial);", [1], {}),
    ("serial", "prefer-identity", "CREATE TABLE e (\n  id bigserial PRIMARY KEY\n);", [2], {}),
    ("varchar-n", "prefer-text", "CREATE TABLE u (\n  id bigint,\n  email varchar(255)\n);", [3], {}),
    ("character-varying-n", "prefer-text", "ALTER TABLE u ADD COLUMN e character varying(20);", [1], {}),
    ("timestamp", "prefer-timestamptz", "CREATE TABLE e (\n  at timestamp\n);", [2], {}),
    ("timestamp-without-time-zone", "prefer-timestamptz",
     "ALTER TABLE e ADD COLUMN at timestamp without time zone;", [1], {}),
    ("time-type-change", "prefer-timestamptz", "ALTER TABLE e ALTER COLUMN at TYPE timestamp;", [1], {}),
    ("char-n", "ban-char", "CREATE TABLE c (code char(2));", [1], {}),
    ("character", "ban-char", "CREATE TABLE c (\n  code character(2)\n);", [2], {}),
    ("domain-with-check", "domain-constraint", "CREATE DOMAIN d AS int\n  CHECK (VALUE > 0);", [2], {}),
    ("alter-domain-add-constraint", "domain-constraint",
     "ALTER DOMAIN d ADD CONSTRAINT c CHECK (VALUE > 1);", [1], {}),
    ("enum-append", "enum-value-without-position", "ALTER TYPE s ADD VALUE 'x';", [1], {}),
    ("enum-value-in-transaction-pg11", "enum-add-value-in-transaction",
     "ALTER TYPE s ADD VALUE 'x' AFTER 'y';", [1], {"pg_version": 11}),
    # transactions
    ("concurrently-mixed-with-ddl", "non-transactional-mixed", """
        ALTER TABLE users ADD COLUMN a text;
        CREATE INDEX CONCURRENTLY i ON users (a);
        """, [2], {}),
    ("concurrently-in-begin-block", "cannot-run-in-transaction", """
        BEGIN;
        ALTER TABLE users ADD COLUMN a text;
        CREATE INDEX CONCURRENTLY i ON users (a);
        COMMIT;
        """, [3], {}),
    ("vacuum-in-begin-block", "cannot-run-in-transaction", "BEGIN;\nVACUUM users;\nCOMMIT;", [2], {}),
    ("nested-begin", "transaction-nesting", "BEGIN;\nSTART TRANSACTION;\nCOMMIT;", [2], {}),
    ("begin-without-commit", "uncommitted-transaction", "SELECT 1;\nBEGIN;\nSELECT 2;", [2], {}),
    # runbook
    ("ddl-then-dml", "ddl-and-dml-mixed", """
        ALTER TABLE users ADD COLUMN plan text;
        UPDATE users SET plan = 'free' WHERE plan IS NULL;
        """, [2], {}),
    ("dml-then-ddl", "ddl-and-dml-mixed", """
        INSERT INTO audit (msg) VALUES ('x');
        CREATE TABLE t (id bigint);
        """, [1], {}),
    ("not-idempotent-in-statement-mode", "not-idempotent", """
        CREATE TABLE t (id bigint);
        CREATE INDEX CONCURRENTLY i ON users (a);
        """, [1, 2], {}),
    ("lone-concurrent-index-is-not-idempotent", "not-idempotent",
     "CREATE INDEX CONCURRENTLY i ON users (a);", [1], {}),
    ("drop-without-if-exists-in-marked-file", "not-idempotent", """
        -- safemigrate:no-transaction
        DROP TABLE a;
        DROP TABLE b;
        """, [2], {}),  # line 3 is last: no later failure can leave it applied
    # correctness
    ("duplicate-assignment", "duplicate-column-assignment",
     "UPDATE u SET a = 1,\n  a = 2 WHERE id = 1;", [1], {}),
    ("long-index-name", "identifier-too-long",
     "CREATE INDEX CONCURRENTLY\n  idx_" + "x" * 70 + " ON t (a);", [2], {}),
    ("sixteen-four-byte-characters", "identifier-too-long",
     'CREATE TABLE t (\n  "' + "\U0001d518" * 16 + '" text\n);', [2], {}),
    ("long-quoted-column-name", "identifier-too-long",
     'CREATE TABLE t (\n  "' + "Ü" * 40 + '" text\n);', [2], {}),
    # psql-only syntax
    ("psql-meta-commands-and-copy-rows", "psql-syntax",
     "\\set ON_ERROR_STOP on\nSELECT 1;\nCOPY t (a) FROM stdin;\nit's \\N\n\\.\n\\i more.sql\nSELECT 2 \\gset\n",
     [1, 3, 6, 7], {}),
    ("copy-from-stdin-without-rows", "psql-syntax", "SELECT 1;\nCOPY t FROM STDIN;", [2], {}),
]

# (test id, rule, SQL that must not be flagged by that rule, lint options)
SAFE: list[tuple[str, str, str, dict[str, Any]]] = [
    ("drop-table-created-in-file", "drop-table", "CREATE TABLE tmp (id bigint);\nDROP TABLE tmp;", {}),
    ("drop-column-added-in-file", "drop-column",
     "ALTER TABLE u ADD COLUMN tmp text;\nALTER TABLE u DROP COLUMN tmp;", {}),
    ("drop-column-of-table-created-in-file", "drop-column",
     "CREATE TABLE t (a int, b int);\nALTER TABLE t DROP COLUMN b;", {}),
    ("drop-schema-created-in-file", "drop-schema", "CREATE SCHEMA s;\nDROP SCHEMA s;", {}),
    ("drop-database-is-only-dropdb", "drop-database", "DROP TABLE IF EXISTS database;", {}),
    ("drop-type-created-in-file", "drop-type", "CREATE TYPE k AS ENUM ('a');\nDROP TYPE k;", {}),
    ("drop-not-null-of-new-column", "drop-not-null",
     "ALTER TABLE u ADD COLUMN a text NOT NULL DEFAULT '';\nALTER TABLE u ALTER COLUMN a DROP NOT NULL;", {}),
    ("drop-constraint-added-in-file", "drop-constraint",
     "ALTER TABLE o ADD CONSTRAINT c CHECK (a > 0) NOT VALID;\nALTER TABLE o DROP CONSTRAINT c;", {}),
    ("truncate-table-created-in-file", "truncate", "CREATE TABLE t (id bigint);\nTRUNCATE t;", {}),
    ("delete-with-where", "delete-without-where", "DELETE FROM s WHERE expires_at < now();", {}),
    ("delete-from-new-table", "delete-without-where", "CREATE TABLE t (id bigint);\nDELETE FROM t;", {}),
    ("update-with-where", "update-without-where", "UPDATE u SET a = 1 WHERE a IS NULL;", {}),
    ("update-new-table", "update-without-where", "CREATE TABLE t (a int);\nUPDATE t SET a = 1;", {}),
    ("rename-index-is-not-rename-table", "rename-table", "ALTER INDEX i RENAME TO j;", {}),
    ("rename-new-table", "rename-table", "CREATE TABLE s (id bigint);\nALTER TABLE s RENAME TO t;", {}),
    ("rename-new-column", "rename-column",
     "ALTER TABLE u ADD COLUMN a text;\nALTER TABLE u RENAME COLUMN a TO b;", {}),
    ("index-on-table-created-in-file", "create-index-not-concurrently",
     "CREATE TABLE t (a bigint);\nCREATE INDEX i ON t (a);", {}),
    ("index-concurrently", "create-index-not-concurrently", "CREATE INDEX CONCURRENTLY i ON t (a);", {}),
    ("drop-index-concurrently", "drop-index-not-concurrently", "DROP INDEX CONCURRENTLY i;", {}),
    ("drop-index-created-in-file", "drop-index-not-concurrently",
     "CREATE TABLE t (a int);\nCREATE INDEX i ON t (a);\nDROP INDEX i;", {}),
    ("reindex-concurrently", "reindex-not-concurrently", "REINDEX TABLE CONCURRENTLY orders;", {}),
    ("reindex-before-pg12-has-no-alternative", "reindex-not-concurrently",
     "REINDEX TABLE orders;", {"pg_version": 11}),
    ("detach-concurrently", "detach-partition-not-concurrently",
     "ALTER TABLE m DETACH PARTITION m_2019 CONCURRENTLY;", {}),
    ("detach-before-pg14-has-no-alternative", "detach-partition-not-concurrently",
     "ALTER TABLE m DETACH PARTITION m_2019;", {"pg_version": 13}),
    ("plain-vacuum", "vacuum-full-or-cluster", "VACUUM (ANALYZE) orders;", {}),
    ("constant-default", "add-column-volatile-default",
     "ALTER TABLE o ADD COLUMN status text NOT NULL DEFAULT 'new';", {}),
    ("stable-default-now", "add-column-volatile-default",
     "ALTER TABLE o ADD COLUMN at timestamptz DEFAULT now();", {}),
    ("current-timestamp-default", "add-column-volatile-default",
     "ALTER TABLE o ADD COLUMN at timestamptz DEFAULT CURRENT_TIMESTAMP;", {}),
    ("cast-constant-default", "add-column-volatile-default",
     "ALTER TABLE o ADD COLUMN tags jsonb DEFAULT '[]'::jsonb;", {}),
    ("null-default-before-pg11", "add-column-volatile-default",
     "ALTER TABLE o ADD COLUMN x text DEFAULT NULL;", {"pg_version": 10}),
    ("volatile-default-on-new-table", "add-column-volatile-default",
     "CREATE TABLE t (a int);\nALTER TABLE t ADD COLUMN id uuid DEFAULT gen_random_uuid();", {}),
    ("virtual-generated-column", "add-column-stored-generated",
     "ALTER TABLE o ADD COLUMN c bigint GENERATED ALWAYS AS (a * 100) VIRTUAL;", {}),
    ("not-null-with-default", "add-not-null-column-without-default",
     "ALTER TABLE u ADD COLUMN plan text NOT NULL DEFAULT 'free';", {}),
    ("not-null-identity", "add-not-null-column-without-default",
     "ALTER TABLE u ADD COLUMN n bigint NOT NULL GENERATED ALWAYS AS IDENTITY;", {}),
    ("not-null-on-new-table", "add-not-null-column-without-default",
     "CREATE TABLE t (a int);\nALTER TABLE t ADD COLUMN b int NOT NULL;", {}),
    ("type-change-on-new-table", "change-column-type",
     "CREATE TABLE u (a int);\nALTER TABLE u ALTER COLUMN a TYPE bigint;", {}),
    ("set-not-null-after-validated-check", "set-not-null", """
        ALTER TABLE users ADD CONSTRAINT nn CHECK (email IS NOT NULL) NOT VALID;
        COMMIT;
        ALTER TABLE users VALIDATE CONSTRAINT nn;
        ALTER TABLE users ALTER COLUMN email SET NOT NULL;
        """, {}),
    ("set-not-null-on-new-table", "set-not-null",
     "CREATE TABLE u (a int);\nALTER TABLE u ALTER COLUMN a SET NOT NULL;", {}),
    ("check-not-valid", "constraint-without-not-valid",
     "ALTER TABLE o ADD CONSTRAINT c CHECK (a > 0) NOT VALID;", {}),
    ("check-on-new-table", "constraint-without-not-valid",
     "CREATE TABLE t (a int);\nALTER TABLE t ADD CONSTRAINT c CHECK (a > 0);", {}),
    ("exclusion-constraint-on-new-table", "add-exclusion-constraint",
     "CREATE TABLE b (r tstzrange);\nALTER TABLE b ADD CONSTRAINT x EXCLUDE USING gist (r WITH &&);", {}),
    ("exclusion-constraint-declared-with-the-table", "add-exclusion-constraint",
     "CREATE TABLE b (r tstzrange, EXCLUDE USING gist (r WITH &&));", {}),
    ("foreign-key-not-valid", "foreign-key-without-not-valid",
     "ALTER TABLE o ADD CONSTRAINT fk FOREIGN KEY (c) REFERENCES customers (id) NOT VALID;", {}),
    ("foreign-key-in-create-table", "foreign-key-without-not-valid",
     "CREATE TABLE t (c bigint REFERENCES customers (id));", {}),
    ("unique-using-index", "add-unique-without-index",
     "ALTER TABLE u ADD CONSTRAINT k UNIQUE USING INDEX k_idx;", {}),
    ("unique-on-new-table", "add-unique-without-index",
     "CREATE TABLE t (a int);\nALTER TABLE t ADD CONSTRAINT k UNIQUE (a);", {}),
    ("primary-key-using-index", "add-primary-key-without-index",
     "ALTER TABLE e ADD CONSTRAINT e_pkey PRIMARY KEY USING INDEX e_idx;", {}),
    ("validate-after-commit", "validate-in-same-transaction", """
        BEGIN;
        ALTER TABLE o ADD CONSTRAINT c CHECK (a > 0) NOT VALID;
        COMMIT;
        ALTER TABLE o VALIDATE CONSTRAINT c;
        """, {}),
    ("validate-of-older-constraint", "validate-in-same-transaction",
     "ALTER TABLE o VALIDATE CONSTRAINT c;", {}),
    ("lock-timeout-set", "lock-timeout-missing", "SET lock_timeout = '2s';\nALTER TABLE u ADD COLUMN a text;", {}),
    ("lock-timeout-set-config", "lock-timeout-missing",
     "SELECT set_config('lock_timeout', '2s', false);\nALTER TABLE u ADD COLUMN a text;", {}),
    ("set-local-lock-timeout-in-wrapped-file", "lock-timeout-missing",
     "SET LOCAL lock_timeout = '2s';\nALTER TABLE u ADD COLUMN a text;", {}),
    ("set-local-lock-timeout-in-block", "lock-timeout-missing",
     "BEGIN;\nSET LOCAL lock_timeout = '2s';\nALTER TABLE u ADD COLUMN a text;\nCOMMIT;", {}),
    ("only-new-tables-touched", "lock-timeout-missing",
     "CREATE TABLE t (a bigint);\nCREATE INDEX i ON t (a);\nALTER TABLE t ADD COLUMN b text;", {}),
    ("validate-takes-a-weak-lock", "lock-timeout-missing", "ALTER TABLE o VALIDATE CONSTRAINT c;", {}),
    ("concurrent-index-needs-no-lock-timeout", "lock-timeout-missing",
     "CREATE INDEX CONCURRENTLY i ON users (a);", {}),
    ("statement-timeout-set", "statement-timeout-missing",
     "SET statement_timeout = '5s';\nALTER TABLE u ADD COLUMN a text;", {}),
    ("bigint-identity-key", "prefer-bigint-key",
     "CREATE TABLE e (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, n int);", {}),
    ("int-non-key-column", "prefer-bigint-key", "CREATE TABLE e (id bigint PRIMARY KEY, qty int);", {}),
    ("identity", "prefer-identity", "CREATE TABLE e (id bigint GENERATED BY DEFAULT AS IDENTITY);", {}),
    ("serial-before-pg10", "prefer-identity", "CREATE TABLE e (id bigserial);", {"pg_version": 9}),
    ("text", "prefer-text", "CREATE TABLE u (email text);", {}),
    ("varchar-without-length", "prefer-text", "CREATE TABLE u (email varchar);", {}),
    ("timestamptz", "prefer-timestamptz", "CREATE TABLE e (at timestamptz, t2 timestamp with time zone);", {}),
    ("internal-char-type", "ban-char", 'CREATE TABLE c (flag "char");', {}),
    ("domain-without-check", "domain-constraint", "CREATE DOMAIN d AS int NOT NULL;", {}),
    ("enum-value-positioned", "enum-value-without-position", "ALTER TYPE s ADD VALUE 'x' BEFORE 'y';", {}),
    ("enum-value-pg12", "enum-add-value-in-transaction", "ALTER TYPE s ADD VALUE 'x';", {"pg_version": 12}),
    ("enum-value-marked-no-transaction-pg11", "enum-add-value-in-transaction",
     "-- safemigrate:no-transaction\nALTER TYPE s ADD VALUE 'x';", {"pg_version": 11}),
    ("runbook-own-transaction", "non-transactional-mixed", """
        BEGIN;
        ALTER TABLE users ADD COLUMN a text;
        COMMIT;
        CREATE INDEX CONCURRENTLY i ON users (a);
        """, {}),
    ("marked-no-transaction", "non-transactional-mixed",
     "-- safemigrate:no-transaction\nALTER TABLE u ADD COLUMN a text;\nCREATE INDEX CONCURRENTLY i ON u (a);", {}),
    ("concurrently-with-settings-only", "non-transactional-mixed",
     "SET lock_timeout = '2s';\nCREATE INDEX CONCURRENTLY i ON u (a);", {}),
    ("concurrently-after-commit", "cannot-run-in-transaction",
     "BEGIN;\nSELECT 1;\nCOMMIT;\nCREATE INDEX CONCURRENTLY i ON u (a);", {}),
    ("savepoint-is-not-nesting", "transaction-nesting", "BEGIN;\nSAVEPOINT s;\nCOMMIT;", {}),
    ("rollback-ends-transaction", "uncommitted-transaction", "BEGIN;\nSELECT 1;\nROLLBACK;", {}),
    ("seed-rows-into-new-table", "ddl-and-dml-mixed",
     "CREATE TABLE plans (name text);\nINSERT INTO plans VALUES ('free');", {}),
    ("dml-only", "ddl-and-dml-mixed", "UPDATE u SET a = 1 WHERE id = 2;\nDELETE FROM s WHERE x;", {}),
    ("wrapped-file-is-atomic", "not-idempotent",
     "CREATE TABLE t (id bigint);\nCREATE INDEX i ON t (id);\nDROP TABLE old;", {}),
    ("guarded-statements", "not-idempotent", """
        -- safemigrate:no-transaction
        CREATE TABLE IF NOT EXISTS t (id bigint);
        ALTER TABLE u ADD COLUMN IF NOT EXISTS a text;
        DROP TABLE IF EXISTS old;
        """, {}),
    ("distinct-assignments", "duplicate-column-assignment", "UPDATE u SET a = 1, b = 2 WHERE id = 1;", {}),
    ("63-byte-name", "identifier-too-long", "CREATE TABLE t_" + "x" * 61 + " (a text);", {}),
    ("long-string-is-not-a-name", "identifier-too-long",
     "ALTER TABLE t ADD CONSTRAINT c CHECK (a <> '" + "y" * 80 + "') NOT VALID;", {}),
    ("backslashes-in-strings-and-comments", "psql-syntax",
     "SELECT E'\\n', '\\', $f$ \\i x $f$; -- \\set\n/* \\i */ COPY t FROM '/srv/t.csv';\nCOPY t TO STDOUT;", {}),
]


@pytest.mark.parametrize(("rule", "text", "lines", "options"),
                         [c[1:] for c in FLAGGED], ids=[c[0] for c in FLAGGED])
def test_rule_flags_at_exact_lines(rule: str, text: str, lines: list[int], options: dict[str, Any]) -> None:
    report = lint(text, **options)
    assert lines_of(report, rule) == lines, [(f.rule_id, f.line, f.message) for f in report.findings]


@pytest.mark.parametrize(("rule", "text", "options"), [c[1:] for c in SAFE], ids=[c[0] for c in SAFE])
def test_safe_form_is_not_flagged(rule: str, text: str, options: dict[str, Any]) -> None:
    report = lint(text, **options)
    assert lines_of(report, rule) == [], [f.message for f in report.findings if f.rule_id == rule]


def test_every_postgres_rule_has_a_flagged_case_here() -> None:
    from safemigrate.lint import all_rules

    postgres_rules = {r.id for r in all_rules().values() if r.runs_on("postgres") and r.scope != "engine"}
    pair_rules = {"missing-down-file", "empty-down-file", "down-does-not-undo"}
    assert postgres_rules - pair_rules - {c[1] for c in FLAGGED} == set()
    assert postgres_rules - pair_rules - {c[1] for c in SAFE} == set()


def test_finding_points_at_the_column_definition() -> None:
    report = lint("ALTER TABLE users\n  ADD COLUMN plan text NOT NULL;")
    finding = next(f for f in report.findings if f.rule_id == "add-not-null-column-without-default")
    assert (finding.line, finding.column, finding.end_column) == (2, 14, 18)
    assert finding.statement_line == 1


def test_positions_count_characters_not_bytes() -> None:
    report = lint("-- überprüfung ä ö ü\nALTER TABLE \"größe\" ADD COLUMN a timestamp;")
    finding = next(f for f in report.findings if f.rule_id == "prefer-timestamptz")
    assert (finding.line, finding.column) == (2, 34)
    assert finding.source_line is not None
    assert finding.source_line[finding.column - 1 : finding.end_column - 1] == "timestamp"  # type: ignore[operator]


def test_down_file_dropping_what_its_up_created_is_not_destructive() -> None:
    from lint_support import pair

    report = pair("CREATE TABLE notes (id bigint);\nALTER TABLE users ADD COLUMN note text;",
                  "ALTER TABLE users DROP COLUMN note;\nDROP TABLE notes;")
    assert lines_of(report, "drop-table", ".down.sql") == []
    assert lines_of(report, "drop-column", ".down.sql") == []


def test_down_file_dropping_something_else_is_destructive() -> None:
    from lint_support import pair

    report = pair("ALTER TABLE users ADD COLUMN note text;", "ALTER TABLE users DROP COLUMN email;")
    assert lines_of(report, "drop-column", ".down.sql") == [1]
