"""Memory per statement (issue 8): what splitting a file of many statements costs.

Two measurements, in the same run:

* in this process, with tracemalloc: the memory still held after splitting a file of
  N one-line INSERT statements (what a run keeps for its whole duration), and the peak
  during the split, for each dialect, along the runner's path (``Driver.split``, no
  parse-tree nodes) and the linter's path (``split_sql``, nodes kept);
* the whole command: the maximum resident set size (from ``wait4``) of
  ``safemigrate up --dry-run --no-lint`` on that file, against SQLite (and PostgreSQL on
  127.0.0.1:5432 when it answers), next to ``python -c "import safemigrate.engine"`` as the
  floor every run pays.

Usage:

    .venv/bin/python bench/memory_bench.py [--statements 100000]

Results are printed as Markdown (copied into docs/benchmarks.md, "Memory per statement").
Never a timed test: the suite does not run this.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAFEMIGRATE = REPO / ".venv" / "bin" / "safemigrate"
PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"


def _script(statements: int) -> str:
    return "".join(f"INSERT INTO t (id, name) VALUES ({i}, 'name {i}');\n" for i in range(statements))


def _traced(split: object, text: str) -> tuple[int, int]:
    tracemalloc.start()
    result = split(text)  # type: ignore[operator]
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del result
    return current, peak


def in_process(text: str, statements: int) -> list[str]:
    from safemigrate.drivers import open_driver
    from safemigrate.sql.script import split_sql
    from safemigrate.urls import parse_database_url

    urls = {"postgres": "postgres://bench@127.0.0.1/bench?sslmode=disable", "sqlite": "sqlite3:///tmp/bench.db",
            "mysql": "mysql://root@tcp(127.0.0.1:3306)/bench"}
    rows = ["| dialect | path | held after split | per statement | peak during split |", "|---|---|---|---|---|"]
    for dialect, url in urls.items():
        driver = open_driver(parse_database_url(url))  # not connected: split needs no server
        for label, split in (("runner (Driver.split)", driver.split),
                             ("linter (split_sql, nodes)", lambda t, d=dialect: split_sql(t, d))):
            held, peak = _traced(split, text)
            rows.append(f"| {dialect} | {label} | {held / 1e6:.1f} MB | {held / statements:.0f} B "
                        f"| {peak / 1e6:.1f} MB |")
    return rows


def _max_rss_kb(args: list[str], env: dict[str, str]) -> tuple[int, int]:
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss


def _pg_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return True
    except OSError:
        return False


def whole_command(text: str) -> list[str]:
    rows = ["| command | max RSS |", "|---|---|"]
    env = dict(os.environ)
    code, floor = _max_rss_kb([sys.executable, "-c", "import safemigrate.engine"], env)
    rows.append(f"| `python -c \"import safemigrate.engine\"` (floor) | {floor / 1024:.0f} MB |")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "migrations"
        folder.mkdir()
        (folder / "1_many.up.sql").write_text(text)
        targets = [("sqlite", f"sqlite3://{tmp}/bench.db")]
        if _pg_answers():
            targets.append(("postgres", PG_ADMIN))
        for dialect, url in targets:
            code, rss = _max_rss_kb([str(SAFEMIGRATE), "-path", str(folder), "-database", url,
                                     "up", "--dry-run", "--no-lint"], env)
            status = "" if code == 0 else f" (exit {code})"
            rows.append(f"| `safemigrate up --dry-run --no-lint`, {dialect}{status} | {rss / 1024:.0f} MB |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--statements", type=int, default=100_000)
    args = parser.parse_args()
    text = _script(args.statements)
    print(f"{args.statements:,} statements, {len(text) / 1e6:.1f} MB of SQL\n")
    # The commands first: a child forked from a process that has grown counts the parent's pages.
    commands = whole_command(text)
    print("\n".join(in_process(text, args.statements)))
    print()
    print("\n".join(commands))


if __name__ == "__main__":
    main()
