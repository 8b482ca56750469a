"""Rules register themselves with :func:`rule`; nothing keeps a hand-written list.

A rule is its metadata (id, severity, one-line summary, why it is dangerous,
the safe alternative, bad and good examples) plus one check function per SQL
dialect it runs on. ``safemigrate.lint.rules`` imports every module of its
package, so a new rule module is picked up by being there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

from .._record import Record
from .model import Severity

__all__ = [
    "DIALECTS",
    "Example",
    "Rule",
    "Scope",
    "all_rules",
    "get_rule",
    "rule",
]

DIALECTS = ("postgres", "sqlite", "mysql")

# statement: called once per statement (PostgreSQL rules name the node types they look at);
# file: called once per file after every statement was seen;
# engine: findings the engine itself makes (syntax errors, unused ignores).
# A PostgreSQL rule on ALTER TABLE may also name the sub-commands (AlterTableCmd subtypes, e.g.
# "AT_DropColumn") it looks at: the engine then calls it only for an ALTER TABLE that has one.
Scope = Literal["statement", "file", "engine"]

Check = Callable[..., Iterable[Any]]

# Marks an example that is linted on its own, without a paired up/down file.
UNPAIRED = "\x00unpaired"


class Example(Record, frozen=True):
    """SQL that must be flagged (``bad``) and its safe form that must not be (``good``).

    For rules about up/down pairs, ``bad``/``good`` are the up file and
    ``bad_down``/``good_down`` the down file (None: there is no down file).
    """

    bad: str
    good: str
    dialect: str
    bad_down: str | None
    good_down: str | None
    pg_version: int | None

    def __init__(self, bad: str, good: str, dialect: str = "postgres", bad_down: str | None = UNPAIRED,
                 good_down: str | None = UNPAIRED, pg_version: int | None = None) -> None:
        self.__dict__.update(bad=bad, good=good, dialect=dialect, bad_down=bad_down, good_down=good_down,
                             pg_version=pg_version)

    @property
    def paired(self) -> bool:
        return self.bad_down != UNPAIRED or self.good_down != UNPAIRED


class Rule(Record):
    """A rule's metadata and its check function per dialect."""

    id: str
    severity: Severity
    summary: str
    rationale: str
    alternative: str
    examples: tuple[Example, ...]
    family: str
    scope: Scope
    nodes: frozenset[str]
    subtypes: frozenset[str]  # the ALTER TABLE sub-commands it looks at (empty: every ALTER TABLE)
    squawk: tuple[str, ...]
    checks: dict[str, Check]

    def __init__(self, id: str, severity: Severity, summary: str, rationale: str, alternative: str,
                 examples: tuple[Example, ...], family: str, scope: Scope = "statement",
                 nodes: frozenset[str] = frozenset(), squawk: tuple[str, ...] = (),
                 checks: dict[str, Check] | None = None, subtypes: frozenset[str] = frozenset()) -> None:
        self.id = id
        self.severity = severity
        self.summary = summary
        self.rationale = rationale
        self.alternative = alternative
        self.examples = examples
        self.family = family
        self.scope = scope
        self.nodes = nodes
        self.subtypes = subtypes
        self.squawk = squawk
        self.checks = {} if checks is None else checks

    @property
    def dialects(self) -> tuple[str, ...]:
        return tuple(d for d in DIALECTS if d in self.checks)

    def runs_on(self, dialect: str) -> bool:
        return dialect in self.checks

    def also(self, *dialects: str) -> Callable[[Check], Check]:
        """Register the decorated function as this rule's check for more dialects."""

        def register(fn: Check) -> Check:
            for dialect in dialects:
                _check_dialect(dialect)
                if dialect in self.checks:
                    raise ValueError(f"rule {self.id} already has a check for {dialect}")
                self.checks[dialect] = fn
            return fn

        return register

    def help_text(self) -> str:
        """One line for reports: the first sentence(s) of the alternative, with its first SQL line."""
        paragraphs = [p.strip() for p in self.alternative.strip().split("\n\n") if p.strip()]
        prose = next((p for p in paragraphs if not p.startswith("```")), "")
        code = next((p for p in paragraphs if p.startswith("```")), "")
        sql = next((line.strip() for line in code.splitlines()[1:]
                    if line.strip() and not line.startswith(("```", "--"))), "")
        text = " ".join(prose.split())
        if sql and (not text or text.endswith(":")):
            text = f"{text} {sql}".strip()
        return text


_REGISTRY: dict[str, Rule] = {}
_LOADED = False


def _check_dialect(dialect: str) -> None:
    if dialect not in DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}")


def rule(
    id: str,
    *,
    severity: Severity,
    summary: str,
    rationale: str,
    alternative: str,
    examples: Iterable[Example],
    dialects: Iterable[str] = ("postgres",),
    scope: Scope = "statement",
    nodes: Iterable[str] = (),
    squawk: Iterable[str] = (),
    subtypes: Iterable[str] = (),
) -> Callable[[Check], Rule]:
    """Declare a rule; the decorated function is its check for ``dialects``."""

    def register(fn: Check) -> Rule:
        if id in _REGISTRY:
            raise ValueError(f"rule {id} is registered twice")
        checks: dict[str, Check] = {}
        for dialect in dialects:
            _check_dialect(dialect)
            checks[dialect] = fn
        found = Rule(
            id=id,
            severity=severity,
            summary=summary,
            rationale=rationale,
            alternative=alternative,
            examples=tuple(examples),
            family=fn.__module__.rsplit(".", 1)[-1],
            scope=scope,
            nodes=frozenset(nodes),
            squawk=tuple(squawk),
            checks=checks,
            subtypes=frozenset(subtypes),
        )
        _REGISTRY[id] = found
        return found

    return register


def all_rules() -> Mapping[str, Rule]:
    """Every registered rule, by id (importing the rule modules on first use)."""
    global _LOADED
    if not _LOADED:
        from . import rules

        rules.load_all()
        _LOADED = True
    return _REGISTRY


def get_rule(rule_id: str) -> Rule:
    return all_rules()[rule_id]
