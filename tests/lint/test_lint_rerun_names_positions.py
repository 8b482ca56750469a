"""Issue 9, items 6-9: re-run judgement, long names from the scanner, time columns, sub-command positions."""

from __future__ import annotations

from lint_support import lines_of, lint

# -- 6: judge a file by what a re-run after a failure at each statement would do -------


def test_not_idempotent_is_silent_when_the_file_commits_everything_in_its_own_block() -> None:
    report = lint("""
        BEGIN;
        CREATE TABLE plans (id bigint PRIMARY KEY);
        ALTER TABLE users ADD COLUMN plan_id bigint;
        COMMIT;
        """)
    assert lines_of(report, "not-idempotent") == []


def test_not_idempotent_reports_statements_committed_before_a_later_statement() -> None:
    report = lint("""
        BEGIN;
        CREATE TABLE plans (id bigint PRIMARY KEY);
        COMMIT;
        CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_users_plan ON users (plan_id);
        """)
    assert lines_of(report, "not-idempotent") == [2]


def test_not_idempotent_ignores_a_block_that_rolls_back() -> None:
    report = lint("""
        BEGIN;
        CREATE TABLE scratch (id bigint);
        ROLLBACK;
        CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_users_plan ON users (plan_id);
        """)
    assert lines_of(report, "not-idempotent") == []


def test_not_idempotent_in_mysql_block_still_reports_ddl_which_commits_itself() -> None:
    report = lint("""
        START TRANSACTION;
        CREATE TABLE a (id int);
        CREATE TABLE b (id int);
        COMMIT;
        """, dialect="mysql")
    assert lines_of(report, "not-idempotent") == [2]


def test_non_transactional_mixed_is_silent_when_the_other_statements_are_safe_to_rerun() -> None:
    report = lint("""
        SET lock_timeout = '2s';
        ALTER TYPE order_status ADD VALUE IF NOT EXISTS 'refunded' AFTER 'paid';
        DROP INDEX CONCURRENTLY IF EXISTS idx_orders_old;
        CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_orders_status ON orders (status);
        """)
    assert lines_of(report, "non-transactional-mixed") == []


def test_non_transactional_mixed_reports_a_change_a_later_failure_leaves_behind() -> None:
    report = lint("""
        SET lock_timeout = '2s';
        ALTER TABLE orders ADD CONSTRAINT orders_total_check CHECK (total >= 0) NOT VALID;
        CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_orders_status ON orders (status);
        """)
    findings = [f for f in report.findings if f.rule_id == "non-transactional-mixed"]
    assert [f.line for f in findings] == [3]
    assert "line 2 stays applied" in findings[0].message


def test_non_transactional_mixed_reports_an_unguarded_concurrent_index_before_a_change() -> None:
    report = lint("""
        CREATE INDEX CONCURRENTLY idx_orders_status ON orders (status);
        ALTER TYPE order_status ADD VALUE IF NOT EXISTS 'refunded' AFTER 'paid';
        """)
    assert lines_of(report, "non-transactional-mixed") == [1]


# -- 7: identifier-too-long reads names, not text ---------------------------------------

_LONG = "trg_" + "x" * 70  # 74 bytes


def test_identifier_too_long_ignores_a_quote_inside_a_line_comment() -> None:
    report = lint(f"""
        -- keeps the "{'y' * 70} column of the old release
        ALTER TABLE "users" ADD COLUMN note text;
        """)
    assert lines_of(report, "identifier-too-long") == []


def test_identifier_too_long_ignores_long_words_in_strings_and_function_bodies() -> None:
    report = lint(f"""
        COMMENT ON TABLE users IS '{'z' * 80}';
        CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 AS {'w' * 70} $$;
        """)
    assert lines_of(report, "identifier-too-long") == []


def test_identifier_too_long_reports_trigger_names() -> None:
    report = lint(f"""
        CREATE TRIGGER {_LONG} BEFORE INSERT ON users
            FOR EACH ROW EXECUTE FUNCTION touch();
        """)
    [finding] = [f for f in report.findings if f.rule_id == "identifier-too-long"]
    assert (finding.line, finding.column) == (1, 16)
    assert "74 bytes" in finding.message


def test_identifier_too_long_reports_every_named_object() -> None:
    name = "n" * 64
    report = lint(f"""
        ALTER TABLE users ADD CONSTRAINT {name}_c CHECK (id > 0);
        CREATE SEQUENCE {name}_s;
        CREATE POLICY {name}_p ON users USING (true);
        CREATE FUNCTION {name}_f() RETURNS int LANGUAGE sql AS 'SELECT 1';
        CREATE INDEX CONCURRENTLY "{name}_I" ON users (id);
        """)
    assert lines_of(report, "identifier-too-long") == [1, 2, 3, 4, 5]


def test_identifier_too_long_counts_bytes_of_quoted_unicode_names() -> None:
    short_in_chars = "é" * 32  # 32 characters, 64 bytes
    report = lint(f'CREATE TABLE "{short_in_chars}" (id bigint);')
    assert lines_of(report, "identifier-too-long") == [1]


# -- 8: time columns are left alone ------------------------------------------------------


def test_prefer_timestamptz_leaves_time_columns_alone() -> None:
    report = lint("""
        CREATE TABLE shifts (id bigint PRIMARY KEY, starts time, ends time without time zone);
        ALTER TABLE shifts ADD COLUMN logged_at timestamp;
        """)
    findings = [f for f in report.findings if f.rule_id == "prefer-timestamptz"]
    assert [f.line for f in findings] == [2]
    assert "timetz" not in findings[0].message


# -- 9: each finding at its own sub-command -----------------------------------------------


def test_findings_of_a_multi_command_alter_table_point_at_each_sub_command() -> None:
    report = lint("""
        ALTER TABLE app.users
            DROP COLUMN legacy_a,
            ADD COLUMN note numeric(10, 2) DEFAULT 0,
            DROP COLUMN legacy_b,
            ALTER COLUMN nick DROP NOT NULL;
        """)
    places = sorted((f.rule_id, f.line, f.column) for f in report.findings
                    if f.rule_id in ("drop-column", "drop-not-null"))
    assert places == [("drop-column", 2, 5), ("drop-column", 4, 5), ("drop-not-null", 5, 5)]
    assert all(f.statement_line == 1 for f in report.findings if f.rule_id == "drop-column")


def test_sub_command_positions_skip_commas_inside_parentheses_and_comments() -> None:
    report = lint("""
        ALTER TABLE users ADD COLUMN tags text[] DEFAULT ARRAY['a', 'b'], -- one, two
            ALTER COLUMN nick DROP NOT NULL, DROP COLUMN old;
        """)
    places = sorted((f.rule_id, f.line, f.column) for f in report.findings
                    if f.rule_id in ("drop-column", "drop-not-null"))
    assert places == [("drop-column", 2, 38), ("drop-not-null", 2, 5)]


def test_identifier_too_long_reports_names_of_views_and_renames() -> None:
    name = "v" * 70
    report = lint(f"""
        CREATE VIEW {name} AS SELECT 1;
        ALTER TABLE users RENAME COLUMN a TO {name};
        CREATE FOREIGN TABLE {name}_f (id int) SERVER remote;
        """)
    assert lines_of(report, "identifier-too-long") == [1, 2, 3]


def test_sub_command_positions_in_a_file_with_non_ascii_text_and_a_broken_statement() -> None:
    report = lint("""
        -- supprime les colonnes « héritées »
        SELEC 1;
        ALTER TABLE "société" DROP COLUMN "née", DROP COLUMN âge;
        """)
    places = sorted((f.line, f.column) for f in report.findings if f.rule_id == "drop-column")
    assert places == [(3, 23), (3, 42)]
    assert lines_of(report, "syntax-error") == [2]
