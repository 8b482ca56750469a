"""Acceptance: `safemigrate lint` on the runbook's example, on unsafe migrations and on their safe forms."""

from __future__ import annotations

from pathlib import Path

from support import run_cli

FIXTURES = Path(__file__).parent / "fixtures"


def _findings(folder: str, *extra: str) -> tuple[int, list[tuple[str, int, str]]]:
    result = run_cli("lint", str(FIXTURES / folder), "--format", "json", *extra)
    doc = result.json()
    found = [(f["path"].rsplit("/", 1)[-1], f["line"], f["rule_id"]) for f in doc["findings"]]
    return result.exit_code, sorted(found)


def test_runbook_example_reports_its_risks_but_no_errors() -> None:
    code, found = _findings("runbook")
    up, down = "000004_add_last_seen.up.sql", "000004_add_last_seen.down.sql"
    assert found == sorted([
        (up, 5, "lock-timeout-missing"),
        (up, 5, "statement-timeout-missing"),
        (up, 5, "not-idempotent"),  # the ADD COLUMN is re-run if the index build fails
        (up, 6, "prefer-timestamptz"),
        (up, 10, "not-idempotent"),  # a failed CONCURRENTLY build leaves its index behind
        (down, 2, "drop-index-not-concurrently"),
        (down, 2, "lock-timeout-missing"),
        (down, 2, "statement-timeout-missing"),
    ])
    assert code == 0  # warnings and info only


def test_runbook_example_fails_with_fail_on_warning() -> None:
    code, _ = _findings("runbook", "--fail-on", "warning")
    assert code == 1


def test_runbook_example_own_transaction_is_understood() -> None:
    # BEGIN ... COMMIT then CREATE INDEX CONCURRENTLY: not mixed, not inside a transaction block.
    _, found = _findings("runbook")
    assert {rule for _, _, rule in found} & {
        "non-transactional-mixed", "cannot-run-in-transaction", "create-index-not-concurrently",
        "add-column-volatile-default", "uncommitted-transaction"} == set()


def test_unsafe_migrations_report_expected_rules_at_their_lines() -> None:
    code, found = _findings("unsafe")
    expected = [
        ("000001_create_users.up.sql", 1, "missing-down-file"),
        ("000001_create_users.up.sql", 2, "prefer-bigint-key"),
        ("000001_create_users.up.sql", 2, "prefer-identity"),
        ("000001_create_users.up.sql", 3, "prefer-text"),
        ("000001_create_users.up.sql", 4, "prefer-timestamptz"),
        ("000002_add_plan.down.sql", 1, "empty-down-file"),
        ("000002_add_plan.up.sql", 1, "add-not-null-column-without-default"),
        ("000002_add_plan.up.sql", 1, "lock-timeout-missing"),
        ("000002_add_plan.up.sql", 1, "statement-timeout-missing"),
        ("000002_add_plan.up.sql", 2, "ddl-and-dml-mixed"),
        ("000002_add_plan.up.sql", 2, "update-without-where"),
        ("000002_add_plan.up.sql", 3, "create-index-not-concurrently"),
        ("000003_cleanup.down.sql", 3, "rename-column"),
        ("000003_cleanup.up.sql", 3, "drop-column"),
        ("000003_cleanup.up.sql", 4, "drop-table"),
        ("000003_cleanup.up.sql", 5, "ddl-and-dml-mixed"),
        ("000003_cleanup.up.sql", 5, "truncate"),
        ("000003_cleanup.up.sql", 6, "rename-column"),
        ("000004_constraints.down.sql", 1, "down-does-not-undo"),
        ("000004_constraints.up.sql", 3, "foreign-key-without-not-valid"),
        ("000004_constraints.up.sql", 4, "constraint-without-not-valid"),
        ("000004_constraints.up.sql", 5, "set-not-null"),
        ("000004_constraints.up.sql", 6, "change-column-type"),
        ("000004_constraints.up.sql", 7, "add-column-volatile-default"),
        ("000005_status_index.down.sql", 1, "down-does-not-undo"),
        ("000005_status_index.up.sql", 1, "lock-timeout-missing"),
        ("000005_status_index.up.sql", 1, "not-idempotent"),
        ("000005_status_index.up.sql", 1, "statement-timeout-missing"),
        ("000005_status_index.up.sql", 2, "non-transactional-mixed"),
        ("000005_status_index.up.sql", 2, "not-idempotent"),
        ("000006_broken.up.sql", 2, "syntax-error"),
        ("000006_broken.up.sql", 3, "drop-table"),
        ("000006_broken.up.sql", 3, "statement-timeout-missing"),
    ]
    assert found == sorted(expected)
    assert code == 1


def test_safe_forms_report_nothing() -> None:
    result = run_cli("lint", str(FIXTURES / "safe"))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "no findings in 10 files"


def test_safe_forms_report_nothing_even_when_warnings_fail() -> None:
    code, found = _findings("safe", "--fail-on", "warning")
    assert (code, found) == (0, [])


def test_path_option_names_the_default_folder() -> None:
    result = run_cli("-path", str(FIXTURES / "unsafe"), "lint", "--format", "json")
    assert result.exit_code == 1
    assert result.json()["files"] == 11
