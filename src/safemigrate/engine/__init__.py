"""Planning and applying migrations: the lock, the dirty protocol, transactions, history.

Every step follows golang-migrate's protocol (version marked dirty, migration
run, version marked clean) and adds what golang-migrate lacks:

* where the database has transactional DDL the three happen in ONE transaction,
  so a failing migration leaves the previous clean version, never a dirty one;
* a file that cannot run in a transaction runs statement by statement, each
  committed on its own, after the dirty marker is committed; a failure then says
  exactly which statements committed;
* every step is recorded in ``safemigrate_history``.

All SQL goes through :class:`SqlRunner`, the one place that executes it; a dry
run swaps in a recording runner and runs the very same code.

The package's modules (docs/architecture.md says what each may import):

* ``migrator``: the :class:`Migrator`, the public API;
* ``steps``: one class per step mode (one transaction, statement by statement, --atomic);
* ``failure``: the failure report as data, and the one function that words it;
* ``runner``: :class:`SqlRunner`;
* ``results``: what a run returns, and :class:`RunEvents`, the typed events it sends while it works.
"""

from __future__ import annotations

from .migrator import Migrator
from .results import PlannedStep, RunEvents, RunResult, StepResult
from .runner import SqlRunner

__all__ = [
    "Migrator",
    "PlannedStep",
    "RunEvents",
    "RunResult",
    "SqlRunner",
    "StepResult",
]
