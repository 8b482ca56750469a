"""Engine benchmarks (issue 2), each against its peer measured in the same run.

1. ``safemigrate version`` on an up-to-date PostgreSQL database, as a whole
   process, against ``python -c "import psycopg"`` (goal: median <= 1.5x).
2. 1,000 one-table migrations on an empty database, one transaction each:
   ``safemigrate up`` against ``dbmate migrate --no-dump-schema`` (goal: wall time
   no slower; client CPU per migration, user+sys of the process, <= dbmate's).
3. ``safemigrate up --atomic`` against ``psql -1 -f`` on the same SQL (goal: <= 1.2x).

Usage (PostgreSQL on 127.0.0.1:5432 with trust auth, dbmate from npm):

    npm install --prefix bench/.work dbmate
    .venv/bin/python bench/engine_bench.py [--rounds 3] [--migrations 1000] [--write-docs]

Results are printed as Markdown; ``--write-docs`` replaces the engine section of
docs/benchmarks.md. Never a timed test: the suite does not run this.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "bench" / ".work" / "engine"
DBMATE = REPO / "bench" / ".work" / "node_modules" / ".bin" / "dbmate"
SERVER = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
BEGIN, END = "<!-- engine-bench:begin -->", "<!-- engine-bench:end -->"


@dataclass
class Run:
    wall: float
    cpu: float  # user + sys of the child process


def run(argv: list[str], *, stdin: str | None = None) -> Run:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, input=stdin)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(wall, cpu)


def psql(*sql: str) -> None:
    args = ["psql", f"{SERVER}/postgres", "-qX", "-v", "ON_ERROR_STOP=1"]
    for statement in sql:
        args += ["-c", statement]
    subprocess.run(args, check=True, capture_output=True)


def fresh_database(name: str) -> str:
    psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}")
    return f"{SERVER}/{name}?sslmode=disable"


def generate(count: int) -> tuple[Path, Path, Path]:
    """The same 1,000 CREATE TABLE migrations in golang-migrate's, dbmate's and psql's layouts."""
    gm, dm = WORK / "golang-migrate", WORK / "dbmate"
    for folder in (gm, dm):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    script = WORK / "all.sql"
    statements = []
    for i in range(1, count + 1):
        body = (f"CREATE TABLE bench_{i:05d} (id bigint PRIMARY KEY, name text NOT NULL, "
                "created_at timestamptz NOT NULL DEFAULT now());\n")
        (gm / f"{i:06d}_table_{i}.up.sql").write_text(body)
        (gm / f"{i:06d}_table_{i}.down.sql").write_text(f"DROP TABLE bench_{i:05d};\n")
        (dm / f"{i:06d}_table_{i}.sql").write_text(
            f"-- migrate:up\n{body}\n-- migrate:down\nDROP TABLE bench_{i:05d};\n")
        statements.append(body)
    script.write_text("".join(statements))
    return gm, dm, script


def safemigrate(*args: str) -> list[str]:
    return [str(REPO / ".venv" / "bin" / "safemigrate"), *args]


def median(values: list[float]) -> float:
    return statistics.median(values)


def bench_version(gm: Path, repeats: int) -> dict[str, float]:
    url = fresh_database("bench_version")
    run(safemigrate("-path", str(gm), "-database", url, "up", "5"))
    ours = [run(safemigrate("-path", str(gm), "-database", url, "version")).wall for _ in range(repeats)]
    peer = [run([sys.executable, "-c", "import psycopg"]).wall for _ in range(repeats)]
    dbmate = [run([str(DBMATE), "--url", url, "--migrations-dir", str(WORK / "dbmate"), "status"]).wall
              for _ in range(repeats)] if DBMATE.exists() else []
    return {"ours": median(ours), "import_psycopg": median(peer), "dbmate_status": median(dbmate) if dbmate else 0}


def prepared_databases(names: list[str]) -> dict[str, str]:
    """Fresh databases for one round, created together and followed by a CHECKPOINT, so that the
    checkpoint a DROP DATABASE forces does not land in the middle of whichever tool runs next."""
    urls = {name: fresh_database(name) for name in names}
    psql("CHECKPOINT")
    return urls


def bench_rounds(commands: dict[str, list[str]], rounds: int) -> dict[str, list[Run]]:
    """Run every command once per round, each on its own new database, in a rotating order."""
    results: dict[str, list[Run]] = {name: [] for name in commands}
    names = list(commands)
    for round_number in range(rounds):
        order = names[round_number % len(names):] + names[:round_number % len(names)]
        urls = prepared_databases([f"bench_db_{i}" for i in range(len(names))])
        for i, name in enumerate(order):
            url = urls[f"bench_db_{i}"]
            results[name].append(run([part.replace("{url}", url) for part in commands[name]]))
    return results


def bench_apply(gm: Path, dm: Path, rounds: int) -> dict[str, list[Run]]:
    return bench_rounds({
        "safemigrate": safemigrate("-path", str(gm), "-database", "{url}", "up"),
        "safemigrate --no-lint": safemigrate("-path", str(gm), "-database", "{url}", "up", "--no-lint"),
        "dbmate": [str(DBMATE), "--url", "{url}", "--migrations-dir", str(dm), "--no-dump-schema", "migrate"],
    }, rounds)


def bench_atomic(gm: Path, script: Path, rounds: int) -> dict[str, list[Run]]:
    return bench_rounds({
        "safemigrate --atomic": safemigrate("-path", str(gm), "-database", "{url}", "up", "--atomic"),
        "safemigrate --atomic --no-lint": safemigrate("-path", str(gm), "-database", "{url}", "up", "--atomic",
                                                      "--no-lint"),
        "psql -1 -f": ["psql", "{url}", "-qX", "-v", "ON_ERROR_STOP=1", "-1", "-f", str(script)],
    }, rounds)


def report(version: dict[str, float], apply: dict[str, list[Run]], atomic: dict[str, list[Run]],
           count: int, rounds: int, repeats: int) -> str:
    server = subprocess.run(["psql", f"{SERVER}/postgres", "-qXAtc", "SHOW server_version"],
                            capture_output=True, text=True).stdout.strip()
    dbmate_version = subprocess.run([str(DBMATE), "--version"], capture_output=True, text=True).stdout.strip()
    dm = apply["dbmate"]
    dm_wall = median([r.wall for r in dm])
    dm_cpu = median([r.cpu for r in dm]) / count * 1000
    at_psql = median([r.wall for r in atomic["psql -1 -f"]])
    lines = [
        BEGIN,
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, {os.cpu_count()} CPUs, "
        f"PostgreSQL {server} on 127.0.0.1, Python {platform.python_version()}, {dbmate_version}.",
        "",
        "Command: `npm install --prefix bench/.work dbmate && "
        f".venv/bin/python bench/engine_bench.py --rounds {rounds} --migrations {count} --repeats {repeats}`",
        "",
        "| what | safemigrate | peer (same run) | ratio | goal |",
        "|---|---|---|---|---|",
        f"| `version` on an up-to-date database, whole process, median of {repeats} | "
        f"{version['ours'] * 1000:.0f} ms | `python -c \"import psycopg\"` {version['import_psycopg'] * 1000:.0f} ms "
        f"(dbmate `status` {version['dbmate_status'] * 1000:.0f} ms) | "
        f"{version['ours'] / version['import_psycopg']:.2f}x | <= 1.5x |",
    ]
    for name in ("safemigrate", "safemigrate --no-lint"):
        runs = apply[name]
        wall = median([r.wall for r in runs])
        cpu = median([r.cpu for r in runs]) / count * 1000
        flag = " --no-lint" if "no-lint" in name else ""
        lines += [
            f"| `up{flag}`: {count} one-table migrations, one transaction each, wall, median of {rounds} | "
            f"{wall:.2f} s | `dbmate migrate --no-dump-schema` {dm_wall:.2f} s | {wall / dm_wall:.2f}x | <= 1.0x |",
            f"| `up{flag}`: client CPU (user+sys) per migration, median of {rounds} | {cpu:.2f} ms | "
            f"dbmate {dm_cpu:.2f} ms | {cpu / dm_cpu:.2f}x | <= 1.0x |",
        ]
    for name in ("safemigrate --atomic", "safemigrate --atomic --no-lint"):
        wall = median([r.wall for r in atomic[name]])
        flag = name.removeprefix("safemigrate ")
        lines.append(f"| `up {flag}`: {count} migrations in one transaction, wall, median of {rounds} | "
                     f"{wall:.2f} s | `psql -1 -f` {at_psql:.2f} s | {wall / at_psql:.2f}x | <= 1.2x |")
    lines += [
        "",
        "Every run uses a new empty database; a round creates all of its databases first, then runs a",
        "CHECKPOINT, then the tools in a rotating order. The server's DDL time dominates the wall time and varies",
        "between runs, which is why the client's own CPU time is reported too: it includes start-up",
        "(imports, connecting) spread over the migrations. safemigrate's per-migration work: lint the",
        "pending files (skipped with --no-lint), split each file with libpg_query, one round trip per",
        "statement, and one round trip that writes the clean marker and the history row, commits, and",
        "opens the next migration's transaction with its dirty marker. `--atomic` sends the statements",
        "pipelined and writes the version row and the history rows once for the whole run.",
        "dbmate does no linting and keeps no history; `up --no-lint` is the like-for-like engine row.",
        END,
    ]
    return "\n".join(lines)


def write_docs(section: str) -> None:
    path = REPO / "docs" / "benchmarks.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        text = head + section + tail
    else:
        text = text.rstrip() + "\n\n## Migration engine\n\n" + section + "\n"
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--migrations", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    if not DBMATE.exists():
        sys.exit("dbmate is missing: npm install --prefix bench/.work dbmate")
    gm, dm, script = generate(args.migrations)
    version = bench_version(gm, args.repeats)
    apply = bench_apply(gm, dm, args.rounds)
    atomic = bench_atomic(gm, script, args.rounds)
    for name in ("bench_version", *(f"bench_db_{i}" for i in range(3))):
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    section = report(version, apply, atomic, args.migrations, args.rounds, args.repeats)
    print(section)
    if args.write_docs:
        write_docs(section)


if __name__ == "__main__":
    main()
