"""Sum the figures the reliability suite wrote (SAFEMIGRATE_RELIABILITY_REPORT=path, JSON lines).

    SAFEMIGRATE_RELIABILITY_REPORT=/tmp/rel.jsonl .venv/bin/python -m pytest -n 2 tests/reliability
    .venv/bin/python bench/reliability_figures.py /tmp/rel.jsonl          # a Markdown table
    .venv/bin/python bench/reliability_figures.py /tmp/rel.jsonl --json   # the sums as JSON

Each line is {"database": ..., figure: count, ...}, appended by one test; this sums each figure per
database and prints the table docs/reliability.md shows. Exit 1 when a must-be-zero figure is not.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

ROWS = [
    ("kills", "kill -9 done (up, statement mode, --atomic, release, recover --apply)"),
    ("release_kills", "  of which during release"),
    ("recover_kills", "  of which during recover --apply"),
    ("consistent", "states checked consistent afterwards (clean and equal to a fresh run, or exactly described)"),
    ("dirty", "dirty states whose history matched the database statement by statement"),
    ("recovered", "dirty states brought to a clean version by recover --apply"),
    ("rows_lost", "rows that existed before and were lost (must be 0)"),
    ("locks_left", "migration locks left held (must be 0)"),
    ("incomplete_backups", "incomplete or damaged backups listed (must be 0)"),
    ("concurrent_runners", "concurrent runners started"),
    ("runners_held", "concurrent runners whose invariants held"),
    ("lock_timeouts", "  of which ended with the lock-timeout error"),
    ("faults_injected", "faults injected"),
    ("faults_handled", "faults handled (clear error, consistent state, no lock)"),
    ("hostile_tried", "hostile inputs tried (command runs)"),
    ("hostile_internal_errors", "internal errors (must be 0)"),
    ("hostile_db_changed", "database changed by a refused input (must be 0)"),
    ("canary_checks", "places searched for the canary password"),
    ("canary_leaks", "canary leaks (must be 0)"),
]
MUST_BE_ZERO = {"rows_lost", "locks_left", "incomplete_backups", "hostile_internal_errors",
                "hostile_db_changed", "canary_leaks"}
DATABASES = ["postgres", "mysql", "sqlite", "none"]


def sums(path: Path) -> dict[str, dict[str, int]]:
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        database = str(entry.pop("database"))
        for key, value in entry.items():
            totals[database][key] += int(value)
    return {db: dict(figures) for db, figures in totals.items()}


def table(totals: dict[str, dict[str, int]]) -> str:
    present = [db for db in DATABASES if db in totals] + sorted(set(totals) - set(DATABASES))
    names = {"postgres": "PostgreSQL", "mysql": "MariaDB", "sqlite": "SQLite", "none": "no database"}
    lines = ["| figure | " + " | ".join(names.get(db, db) for db in present) + " |",
             "|---|" + "---:|" * len(present)]
    for key, label in ROWS:
        if not any(key in totals[db] for db in present):
            continue
        lines.append(f"| {label} | " + " | ".join(str(totals[db].get(key, 0)) for db in present) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 2
    totals = sums(Path(argv[0]))
    print(json.dumps(totals, indent=2, sort_keys=True) if "--json" in argv else table(totals))
    bad = [f"{db}: {key} = {figures[key]}" for db, figures in totals.items() for key in MUST_BE_ZERO
           if figures.get(key)]
    for line in bad:
        print(f"must be 0: {line}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
