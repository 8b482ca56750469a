"""Whatever the folder, linting it on several processes gives exactly the serial findings.

Folders are drawn from statements that exercise what crosses files (up and down pairs,
missing down files, NOT NULL checks validated in earlier migrations, acknowledgements,
syntax errors), and a generated corpus of 1,000 files (bench/lint_bench.py's).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from safemigrate.lint import lint_paths

STATEMENTS = [
    "CREATE TABLE t{k} (id serial PRIMARY KEY, name varchar(20));",
    "CREATE TABLE IF NOT EXISTS users (id bigint PRIMARY KEY);",
    "ALTER TABLE users ADD COLUMN c{k} text NOT NULL;",
    "ALTER TABLE users ADD CONSTRAINT c{k}_nn CHECK (c{k} IS NOT NULL) NOT VALID;",
    "ALTER TABLE users VALIDATE CONSTRAINT c{k}_nn;",
    "ALTER TABLE users ALTER COLUMN c{k} SET NOT NULL;",
    "ALTER TABLE users DROP CONSTRAINT c{k}_nn;",
    "ALTER TABLE users DROP COLUMN c{k}, DROP COLUMN d{k};",
    "CREATE INDEX i{k} ON users (c{k});",
    "CREATE INDEX CONCURRENTLY j{k} ON users (c{k});",
    "DROP TABLE t{k};",
    "SET lock_timeout = '2s';",
    "UPDATE users SET c{k} = '' WHERE c{k} IS NULL;",
    "-- safemigrate:ignore drop-table -- reviewed\nDROP TABLE old{k};",
    "ALTER TABLE users ADD COLUMN x{k} timestamp DEFAULT now();",
    "CREATE TABLE broken{k} (id int,;",
    "BEGIN;\nALTER TABLE users ADD COLUMN b{k} int;\nCOMMIT;",
]

# A statement about one of three names: files of different versions meet the same objects.
statement = st.builds(lambda template, k: template.format(k=k), st.sampled_from(STATEMENTS),
                      st.integers(0, 2))
version = st.tuples(
    st.lists(statement, min_size=1, max_size=4),  # the up file
    st.one_of(st.none(), st.lists(statement, max_size=2)),  # the down file, if any
)
Versions = list[tuple[list[str], list[str] | None]]


def _write(folder: Path, versions: Versions) -> None:
    folder.mkdir()
    for n, (up, down) in enumerate(versions, start=1):
        (folder / f"{n:04d}_m.up.sql").write_text("\n".join(up) + "\n")
        if down is not None:
            (folder / f"{n:04d}_m.down.sql").write_text("\n".join(down) + "\n")


# The safe NOT NULL pattern over three migrations: the third file needs what the first two did.
NOT_NULL_IN_STEPS: Versions = [
    ([STATEMENTS[3].format(k=1)], None), ([STATEMENTS[4].format(k=1)], []), ([STATEMENTS[5].format(k=1)], []),
]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(version, min_size=1, max_size=40), st.sampled_from([2, 3]))
@example(NOT_NULL_IN_STEPS, 2)
def test_forked_findings_equal_serial_findings(versions: Versions, jobs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "migrations"
        _write(folder, versions)
        serial = lint_paths([folder], jobs=1)
        forked = lint_paths([folder], jobs=jobs)
    assert forked.findings == serial.findings
    assert forked.files == serial.files


def test_a_generated_corpus_gives_the_same_findings_on_one_and_on_three_processes(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    try:
        from lint_bench import generate
    finally:
        sys.path.pop(0)
    generate(tmp_path / "m", 500)
    serial = lint_paths([tmp_path / "m"], jobs=1)
    assert len(serial.findings) > 1000
    assert lint_paths([tmp_path / "m"], jobs=3).findings == serial.findings
    assert lint_paths([tmp_path / "m"], jobs=None).findings == serial.findings
