"""Which tables and columns count as new (issue 9, items 2 and 3), and NOT NULL checks across a folder.

Only a plain CREATE TABLE earlier in the same file makes a table new and empty;
IF NOT EXISTS says it may already exist with data. A column the file added is
new, its table is not, so SET NOT NULL on it still scans the whole table,
unless a validated CHECK (col IS NOT NULL) proves it (PostgreSQL 12+), in this
file or in an earlier migration of the folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lint_support import lines_of, lint, pair

from safemigrate.lint import LintReport, lint_migrations, lint_paths
from safemigrate.source import load_source

# -- item 2: CREATE TABLE IF NOT EXISTS ------------------------------------------------


def test_create_table_if_not_exists_does_not_make_the_table_new() -> None:
    report = lint("""
        CREATE TABLE IF NOT EXISTS users (id bigint PRIMARY KEY, legacy text);
        ALTER TABLE users DROP COLUMN legacy;
        CREATE INDEX idx_users_id ON users (id);
        ALTER TABLE users ADD CONSTRAINT users_id_positive CHECK (id > 0);
        TRUNCATE users;
        """)
    assert lines_of(report, "drop-column") == [2]
    assert lines_of(report, "create-index-not-concurrently") == [3]
    assert lines_of(report, "constraint-without-not-valid") == [4]
    assert lines_of(report, "truncate") == [5]
    assert lines_of(report, "lock-timeout-missing") == [2]


def test_plain_create_table_makes_the_table_new() -> None:
    report = lint("""
        CREATE TABLE users (id bigint PRIMARY KEY, legacy text);
        ALTER TABLE users DROP COLUMN legacy;
        CREATE INDEX idx_users_id ON users (id);
        ALTER TABLE users ADD CONSTRAINT users_id_positive CHECK (id > 0);
        TRUNCATE users;
        """)
    found = {"drop-column", "create-index-not-concurrently", "constraint-without-not-valid", "truncate",
             "lock-timeout-missing"} & report.rule_ids()
    assert found == set()


def test_if_not_exists_after_a_plain_create_keeps_the_table_new() -> None:
    report = lint("""
        CREATE TABLE users (id bigint PRIMARY KEY, legacy text);
        CREATE TABLE IF NOT EXISTS users (id bigint PRIMARY KEY, legacy text);
        ALTER TABLE users DROP COLUMN legacy;
        """)
    assert lines_of(report, "drop-column") == []


def test_add_column_if_not_exists_does_not_make_the_column_new() -> None:
    report = lint("""
        ALTER TABLE users ADD COLUMN IF NOT EXISTS legacy text, ADD COLUMN scratch text;
        ALTER TABLE users DROP COLUMN legacy;
        ALTER TABLE users DROP COLUMN scratch;
        """)
    assert lines_of(report, "drop-column") == [2]


def test_create_index_if_not_exists_does_not_make_the_index_new() -> None:
    report = lint("""
        SET lock_timeout = '1s';
        CREATE INDEX IF NOT EXISTS idx_users_email ON users (email);
        DROP INDEX idx_users_email;
        """)
    assert lines_of(report, "drop-index-not-concurrently") == [3]


@pytest.mark.parametrize("dialect", ["sqlite", "mysql"])
def test_create_table_if_not_exists_is_not_new_in_sqlite_and_mysql(dialect: str) -> None:
    report = lint("""
        CREATE TABLE IF NOT EXISTS users (id integer, legacy text);
        ALTER TABLE users DROP COLUMN legacy;
        DROP TABLE users;
        """, dialect=dialect)
    assert lines_of(report, "drop-column") == [2]
    assert lines_of(report, "drop-table") == [3]


@pytest.mark.parametrize("dialect", ["postgres", "sqlite", "mysql"])
def test_seeding_a_table_created_if_not_exists_is_not_ddl_mixed_with_dml(dialect: str) -> None:
    report = lint("""
        CREATE TABLE IF NOT EXISTS plans (name varchar(20) PRIMARY KEY);
        INSERT INTO plans VALUES ('free');
        """, dialect=dialect)
    assert lines_of(report, "ddl-and-dml-mixed") == []


def test_down_file_dropping_what_its_up_created_if_not_exists_is_undoing_it() -> None:
    report = pair("CREATE TABLE IF NOT EXISTS notes (id bigint);", "DROP TABLE notes;")
    assert lines_of(report, "drop-table", ".down.sql") == []
    assert lines_of(report, "down-does-not-undo", ".down.sql") == []


# -- item 3: SET NOT NULL on a column the file added ----------------------------------------


def test_set_not_null_on_a_column_added_in_the_same_file_is_reported() -> None:
    report = lint("""
        ALTER TABLE users ADD COLUMN plan text DEFAULT 'free';
        ALTER TABLE users ALTER COLUMN plan SET NOT NULL;
        """)
    assert lines_of(report, "set-not-null") == [2]
    message = next(f.message for f in report.findings if f.rule_id == "set-not-null")
    assert "the column is new, but the table is not" in message


def test_set_not_null_on_a_new_table_is_not_reported() -> None:
    report = lint("""
        CREATE TABLE users (id bigint, plan text);
        ALTER TABLE users ALTER COLUMN plan SET NOT NULL;
        """)
    assert lines_of(report, "set-not-null") == []


def test_set_not_null_on_a_table_created_if_not_exists_is_reported() -> None:
    report = lint("""
        CREATE TABLE IF NOT EXISTS users (id bigint, plan text);
        ALTER TABLE users ALTER COLUMN plan SET NOT NULL;
        """)
    assert lines_of(report, "set-not-null") == [2]


@pytest.mark.parametrize(("dialect", "change"), [("postgres", "ALTER COLUMN plan TYPE varchar(20)"),
                                                ("mysql", "MODIFY COLUMN plan varchar(20)")])
def test_changing_the_type_of_a_column_added_in_the_same_file_rewrites_the_old_table(
        dialect: str, change: str) -> None:
    report = lint(f"""
        ALTER TABLE users ADD COLUMN plan text;
        ALTER TABLE users {change};
        """, dialect=dialect)
    assert lines_of(report, "change-column-type") == [2]


def test_a_validated_check_added_in_the_same_file_skips_the_scan() -> None:
    report = lint("""
        ALTER TABLE users ADD COLUMN plan text DEFAULT 'free';
        ALTER TABLE users ADD CONSTRAINT users_plan_nn CHECK (plan IS NOT NULL);
        ALTER TABLE users ALTER COLUMN plan SET NOT NULL;
        """)
    assert lines_of(report, "set-not-null") == []


def test_an_unnamed_check_gets_postgres_default_name() -> None:
    # PostgreSQL names it users_plan_check; dropping it after SET NOT NULL is the pattern's last step.
    report = lint("""
        ALTER TABLE users ADD CHECK (plan IS NOT NULL) NOT VALID;
        COMMIT;
        ALTER TABLE users VALIDATE CONSTRAINT users_plan_check;
        ALTER TABLE users ALTER COLUMN plan SET NOT NULL;
        """)
    assert lines_of(report, "set-not-null") == []


def test_a_check_dropped_by_the_same_statement_does_not_skip_the_scan() -> None:
    # ALTER TABLE runs its DROP CONSTRAINT subcommands before it checks the rows for NULL.
    report = lint("""
        ALTER TABLE users ADD CONSTRAINT users_plan_nn CHECK (plan IS NOT NULL);
        ALTER TABLE users ALTER COLUMN plan SET NOT NULL, DROP CONSTRAINT users_plan_nn;
        """)
    assert lines_of(report, "set-not-null") == [2]


def test_a_check_on_another_table_does_not_skip_the_scan() -> None:
    report = lint("""
        ALTER TABLE orders ADD CONSTRAINT nn CHECK (plan IS NOT NULL);
        ALTER TABLE users ALTER COLUMN plan SET NOT NULL;
        """)
    assert lines_of(report, "set-not-null") == [2]


# -- item 3: the check validated earlier in the folder ---------------------------------------

ADD_NOT_VALID = "ALTER TABLE users ADD CONSTRAINT users_email_nn CHECK (email IS NOT NULL) NOT VALID;\n"
VALIDATE = "ALTER TABLE users VALIDATE CONSTRAINT users_email_nn;\n"
SET_AND_DROP = ("SET lock_timeout = '1s';\n"
                "ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n"
                "ALTER TABLE users DROP CONSTRAINT users_email_nn;\n")


def _folder(tmp_path: Path, *ups: str) -> Path:
    folder = tmp_path / "migrations"
    folder.mkdir()
    for number, text in enumerate(ups, 1):
        (folder / f"{number:06d}_step.up.sql").write_text(text)
        (folder / f"{number:06d}_step.down.sql").write_text("SELECT 1;\n")
    return folder


def _in(report: LintReport, rule_id: str, name: str) -> list[int]:
    return lines_of(report, rule_id, name)


def test_check_validated_in_an_earlier_migration_skips_the_scan_and_its_drop_is_harmless(tmp_path: Path) -> None:
    folder = _folder(tmp_path, ADD_NOT_VALID, VALIDATE, SET_AND_DROP)
    report = lint_paths([folder])
    assert _in(report, "set-not-null", "000003_step.up.sql") == []
    assert _in(report, "drop-constraint", "000003_step.up.sql") == []


def test_check_added_not_valid_earlier_and_validated_in_this_file_skips_the_scan(tmp_path: Path) -> None:
    folder = _folder(tmp_path, ADD_NOT_VALID, VALIDATE + SET_AND_DROP)
    report = lint_paths([folder])
    assert report.rule_ids() & {"set-not-null", "drop-constraint", "validate-in-same-transaction"} == set()


def test_a_file_linted_alone_reads_the_earlier_migrations_from_its_folder(tmp_path: Path) -> None:
    folder = _folder(tmp_path, ADD_NOT_VALID, VALIDATE, SET_AND_DROP)
    report = lint_paths([folder / "000003_step.up.sql"])
    assert report.rule_ids() & {"set-not-null", "drop-constraint"} == set()


def test_pending_migrations_see_the_applied_ones(tmp_path: Path) -> None:
    folder = _folder(tmp_path, ADD_NOT_VALID, VALIDATE, SET_AND_DROP)
    pending = [load_source(folder).migrations[3].up]
    report = lint_migrations([f for f in pending if f], dialect="postgres")
    assert report.rule_ids() & {"set-not-null", "drop-constraint"} == set()


def test_check_added_not_valid_and_never_validated_does_not_skip_the_scan(tmp_path: Path) -> None:
    folder = _folder(tmp_path, ADD_NOT_VALID, "SELECT 1;\n", SET_AND_DROP)
    report = lint_paths([folder])
    assert _in(report, "set-not-null", "000003_step.up.sql") == [2]


def test_check_dropped_in_an_earlier_migration_does_not_skip_the_scan(tmp_path: Path) -> None:
    drop = "ALTER TABLE users DROP CONSTRAINT users_email_nn;\n"
    folder = _folder(tmp_path, ADD_NOT_VALID, VALIDATE, drop,
                     "SET lock_timeout = '1s';\nALTER TABLE users ALTER COLUMN email SET NOT NULL;\n")
    report = lint_paths([folder])
    assert _in(report, "set-not-null", "000004_step.up.sql") == [2]
    # Before the column is NOT NULL, the check is the only guarantee: dropping it is reported.
    assert _in(report, "drop-constraint", "000003_step.up.sql") == [1]


def test_a_later_migration_does_not_count_as_earlier(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "SET lock_timeout = '1s';\nALTER TABLE users ALTER COLUMN email SET NOT NULL;\n",
                     ADD_NOT_VALID, VALIDATE)
    report = lint_paths([folder])
    assert _in(report, "set-not-null", "000001_step.up.sql") == [2]


def test_the_earlier_check_does_not_help_before_postgres_12(tmp_path: Path) -> None:
    folder = _folder(tmp_path, ADD_NOT_VALID, VALIDATE, SET_AND_DROP)
    report = lint_paths([folder], pg_version=11)
    assert _in(report, "set-not-null", "000003_step.up.sql") == [2]


def test_dropping_the_helper_check_after_set_not_null_in_a_later_migration_is_harmless(tmp_path: Path) -> None:
    set_only = "SET lock_timeout = '1s';\nALTER TABLE users ALTER COLUMN email SET NOT NULL;\n"
    drop = "ALTER TABLE users DROP CONSTRAINT users_email_nn;\n"
    folder = _folder(tmp_path, ADD_NOT_VALID, VALIDATE, set_only, drop)
    report = lint_paths([folder])
    assert _in(report, "set-not-null", "000003_step.up.sql") == []
    assert _in(report, "drop-constraint", "000004_step.up.sql") == []


def test_dropping_the_helper_check_in_the_statement_that_sets_not_null_is_harmless(tmp_path: Path) -> None:
    both = ("SET lock_timeout = '1s';\n"
            "ALTER TABLE users ALTER COLUMN email SET NOT NULL, DROP CONSTRAINT users_email_nn;\n")
    folder = _folder(tmp_path, ADD_NOT_VALID, VALIDATE, both)
    report = lint_paths([folder])
    assert _in(report, "drop-constraint", "000003_step.up.sql") == []
    # ... but the drop runs first, so SET NOT NULL scans the table.
    assert _in(report, "set-not-null", "000003_step.up.sql") == [2]


def test_parallel_lint_sees_the_earlier_migrations_too(tmp_path: Path) -> None:
    folder = _folder(tmp_path, ADD_NOT_VALID, VALIDATE, SET_AND_DROP, *["SELECT 1;\n"] * 5)
    serial = lint_paths([folder], jobs=1)
    forked = lint_paths([folder], jobs=3)
    assert [f.to_dict() for f in forked.findings] == [f.to_dict() for f in serial.findings]
    assert _in(forked, "set-not-null", "000003_step.up.sql") == []
