"""Every rule documents itself and proves its own examples: bad is flagged, good is not."""

from __future__ import annotations

import re

import pytest

from safemigrate.lint import LintReport, Severity, all_rules, lint_text
from safemigrate.lint.registry import DIALECTS, Example, Rule

RULES = sorted(all_rules().values(), key=lambda r: r.id)
EXAMPLES = [(r, e) for r in RULES for e in r.examples]
EXAMPLE_IDS = [f"{r.id}-{e.dialect}-{r.examples.index(e)}" for r, e in EXAMPLES]


def _lint(example: Example, up: str, down: str | None) -> LintReport:
    kwargs = {"dialect": example.dialect, "pg_version": example.pg_version}
    if example.paired:
        return lint_text(up, direction="up", paired=True, partner_text=down, **kwargs)
    return lint_text(up, **kwargs)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_every_rule_is_documented(rule: Rule) -> None:
    assert re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", rule.id)
    assert isinstance(rule.severity, Severity)
    assert rule.summary and "\n" not in rule.summary and len(rule.summary) <= 120
    assert len(rule.rationale.split()) >= 20, "the rationale must say which lock, rewrite or breakage"
    assert "```sql" in rule.alternative, "the safe alternative needs example SQL"
    assert rule.help_text(), "reports show the first line of the alternative"
    assert rule.examples, "a rule needs bad and good examples"
    assert rule.family == rule.checks[rule.dialects[0]].__module__.rsplit(".", 1)[-1]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_every_dialect_a_rule_runs_on_has_an_example(rule: Rule) -> None:
    assert rule.dialects and set(rule.dialects) <= set(DIALECTS)
    assert {e.dialect for e in rule.examples} == set(rule.dialects)


@pytest.mark.parametrize("case", EXAMPLES, ids=EXAMPLE_IDS)
def test_bad_example_is_flagged(case: tuple[Rule, Example]) -> None:
    rule, example = case
    report = _lint(example, example.bad, example.bad_down)
    assert rule.id in report.rule_ids(), [(f.rule_id, f.message) for f in report.findings]


@pytest.mark.parametrize("case", EXAMPLES, ids=EXAMPLE_IDS)
def test_good_example_is_not_flagged(case: tuple[Rule, Example]) -> None:
    rule, example = case
    report = _lint(example, example.good, example.good_down)
    assert rule.id not in report.rule_ids(), [f.message for f in report.findings if f.rule_id == rule.id]


def test_the_catalog_covers_every_squawk_default_rule() -> None:
    # squawk 2.66's rules that run without --include (require-table-schema is opt-in).
    squawk_defaults = {
        "adding-field-with-default", "adding-foreign-key-constraint", "adding-not-nullable-field",
        "adding-required-field", "adding-serial-primary-key-field", "ban-alter-domain-with-add-constraint",
        "ban-char-field", "ban-concurrent-index-creation-in-transaction", "ban-create-domain-with-constraint",
        "ban-drop-column", "ban-drop-database", "ban-drop-not-null", "ban-drop-table",
        "ban-duplicate-column-assignments", "ban-truncate-cascade", "ban-uncommitted-transaction",
        "changing-column-type", "constraint-missing-not-valid", "disallowed-unique-constraint",
        "identifier-too-long", "prefer-bigint-over-int", "prefer-bigint-over-smallint", "prefer-identity",
        "prefer-robust-stmts", "prefer-text-field", "prefer-timestamp-tz", "renaming-column",
        "renaming-table", "require-concurrent-index-creation", "require-concurrent-index-deletion",
        "require-concurrent-partition-detach", "require-concurrent-reindex", "require-enum-value-ordering",
        "require-lock-timeout", "require-statement-timeout", "transaction-nesting", "syntax-error",
    }
    covered = {name for r in RULES for name in r.squawk}
    assert squawk_defaults - covered == set()
