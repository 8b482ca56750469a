"""Engine benchmarks (issues 2 and 11), each against its peers measured in the same run.

1. Start-up: ``safemigrate version`` and ``up`` with nothing pending (1,000 and 10,000 files) on an
   up-to-date PostgreSQL database, as whole processes, against ``python -c "import psycopg"``
   (goal: at most 1.5x) and dbmate's ``status``.
2. ``status`` and ``plan`` with 1,000 and 10,000 migrations applied, against ``version`` on the
   same database (goal: at most 2x, cost linear in the number of files); ``check --expect`` as
   in 1. (goal: at most 1.5x ``import psycopg``).
3. ``up`` of 100 and of 1,000 one-table migrations on an empty database, one transaction each,
   against dbmate's native binary (``dbmate migrate --no-dump-schema``) and, when given, the real
   golang-migrate (``--golang-migrate PATH``): client CPU per migration (user+sys of the child,
   start-up included) at most dbmate's, wall time at most dbmate's and golang-migrate's.
4. ``up --atomic`` against ``psql -1 -f`` on the same SQL (goal: at most 1.2x).

CPU is the child's user+sys from wait4; on a shared machine it moves far less than wall time.
The source tree's bytecode is compiled first, as pip does when it installs the package.
``--callgrind`` also counts the instructions of the start-up commands with valgrind (slow).

Usage (PostgreSQL on 127.0.0.1:5432 with trust auth, dbmate from npm):

    npm install --prefix bench/.work dbmate
    .venv/bin/python bench/engine_bench.py [--rounds 5] [--repeats 21] [--golang-migrate PATH] [--write-docs]

Databases are named ``bench_applied_*`` and ``bench_db_*``; set BENCH_DATABASE_PREFIX to use
another prefix (two checkouts benching on one server at once).

Results are printed as Markdown; ``--write-docs`` replaces the engine section of
docs/benchmarks.md. Never a timed test: the suite does not run this.
"""

from __future__ import annotations

import argparse
import glob
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "bench" / ".work" / "engine"
NODE_MODULES = REPO / "bench" / ".work" / "node_modules"
SERVER = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
# Database names start with this, so that two checkouts benching on one server do not collide.
PREFIX = os.environ.get("BENCH_DATABASE_PREFIX", "bench")
BEGIN, END = "<!-- engine-bench:begin -->", "<!-- engine-bench:end -->"


@dataclass
class Run:
    wall: float
    cpu: float  # user + sys of the child process


def run(argv: list[str]) -> Run:
    """Run ``argv`` to the end; its own CPU time comes from wait4 (RUSAGE_CHILDREN would mix in others)."""
    with tempfile.TemporaryFile() as stderr:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            stderr.seek(0)
            sys.exit(f"{' '.join(argv)} failed ({proc.returncode}): {stderr.read().decode(errors='replace')[-2000:]}")
    return Run(wall, usage.ru_utime + usage.ru_stime)


def psql(*sql: str, database: str = "postgres") -> str:
    args = ["psql", f"{SERVER}/{database}", "-qXAt", "-v", "ON_ERROR_STOP=1"]
    for statement in sql:
        args += ["-c", statement]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()


def fresh_database(name: str) -> str:
    psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}")
    return f"{SERVER}/{name}?sslmode=disable"


def generate(count: int) -> tuple[Path, Path, Path]:
    """``count`` CREATE TABLE migrations in golang-migrate's, dbmate's and psql's layouts."""
    gm, dm = WORK / f"golang-migrate-{count}", WORK / f"dbmate-{count}"
    script = WORK / f"all-{count}.sql"
    for folder in (gm, dm):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
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


def dbmate_binary() -> Path | None:
    """dbmate's native binary, as its npm package ships it (not the Node.js wrapper in .bin)."""
    found = sorted(glob.glob(str(NODE_MODULES / "@dbmate" / "*" / "bin" / "dbmate")))
    return Path(found[0]) if found else None


def safemigrate(*args: str) -> list[str]:
    return [str(REPO / ".venv" / "bin" / "safemigrate"), *args]


def median(values: list[float]) -> float:
    return statistics.median(values)


def interleaved(commands: dict[str, list[str]], repeats: int) -> dict[str, list[Run]]:
    """Each command ``repeats`` times, in rotating order, so that load changes hit all of them."""
    results: dict[str, list[Run]] = {name: [] for name in commands}
    names = list(commands)
    for i in range(repeats):
        for name in names[i % len(names):] + names[:i % len(names)]:
            results[name].append(run(commands[name]))
    return results


def applied_database(name: str, folder: Path) -> str:
    """A database with every migration of ``folder`` applied (kept between runs of the bench)."""
    url = f"{SERVER}/{name}?sslmode=disable"
    count = len(list(folder.glob("*.up.sql")))
    exists = psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
    if exists and psql("SELECT max(version) FROM schema_migrations WHERE NOT dirty", database=name) == str(count):
        return url
    fresh_database(name)
    run(safemigrate("-path", str(folder), "-database", url, "up", "--no-lint"))
    return url


def bench_startup_and_reads(dm: Path, folders: dict[int, Path], repeats: int) -> dict[str, list[Run]]:
    dbmate = dbmate_binary()
    commands: dict[str, list[str]] = {"import psycopg": [sys.executable, "-c", "import psycopg"]}
    for count, folder in folders.items():
        url = applied_database(f"{PREFIX}_applied_{count}", folder)
        base = safemigrate("-path", str(folder), "-database", url)
        commands[f"version {count}"] = [*base, "version"]
        commands[f"up {count}"] = [*base, "up"]
        commands[f"status {count}"] = [*base, "status"]
        commands[f"plan {count}"] = [*base, "plan"]
        commands[f"check {count}"] = [*base, "check", "--expect", str(count)]
        if count == min(folders) and dbmate is not None:
            commands["dbmate status"] = [str(dbmate), "--url", url, "--migrations-dir", str(dm), "status"]
    return interleaved(commands, repeats)


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
        urls = prepared_databases([f"{PREFIX}_db_{i}" for i in range(len(names))])
        for i, name in enumerate(order):
            url = urls[f"{PREFIX}_db_{i}"]
            results[name].append(run([part.replace("{url}", url) for part in commands[name]]))
    return results


def bench_apply(gm: Path, dm: Path, rounds: int, golang_migrate: str | None) -> dict[str, list[Run]]:
    commands = {
        "safemigrate up": safemigrate("-path", str(gm), "-database", "{url}", "up"),
        "safemigrate up --no-lint": safemigrate("-path", str(gm), "-database", "{url}", "up", "--no-lint"),
    }
    dbmate = dbmate_binary()
    if dbmate is not None:
        commands["dbmate"] = [str(dbmate), "--url", "{url}", "--migrations-dir", str(dm), "--no-dump-schema",
                              "migrate"]
    if golang_migrate:
        commands["golang-migrate"] = [golang_migrate, "-path", str(gm), "-database", "{url}", "up"]
    # The floor of any psycopg client, in the same rounds: no `up` can cost less than its import.
    commands["python -c \"import psycopg\""] = [sys.executable, "-c", "import psycopg"]
    return bench_rounds(commands, rounds)


def bench_atomic(gm: Path, script: Path, rounds: int) -> dict[str, list[Run]]:
    return bench_rounds({
        "safemigrate up --atomic": safemigrate("-path", str(gm), "-database", "{url}", "up", "--atomic"),
        "safemigrate up --atomic --no-lint": safemigrate("-path", str(gm), "-database", "{url}", "up",
                                                         "--atomic", "--no-lint"),
        "psql -1 -f": ["psql", "{url}", "-qX", "-v", "ON_ERROR_STOP=1", "-1", "-f", str(script)],
    }, rounds)


def callgrind_instructions(argv: list[str]) -> int | None:
    """Instructions executed by ``argv`` (and its children), counted by valgrind's callgrind."""
    if shutil.which("valgrind") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out.%p"
        proc = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *argv],
                              capture_output=True, text=True)
        totals = [int(m) for m in re.findall(r"Collected : (\d+)", proc.stderr)]
        return sum(totals) if proc.returncode == 0 and totals else None


def ms(value: float) -> str:
    return f"{value * 1000:.0f} ms"


def stats(runs: list[Run]) -> tuple[float, float]:
    return median([r.cpu for r in runs]), median([r.wall for r in runs])


def report(reads: dict[str, list[Run]], applies: dict[int, dict[str, list[Run]]], atomic: dict[str, list[Run]],
           counts: list[int], atomic_count: int, args: argparse.Namespace,
           instructions: dict[str, int | None], load: tuple[float, float]) -> str:
    server = psql("SHOW server_version")
    dbmate = dbmate_binary()
    dbmate_version = subprocess.run([str(dbmate), "--version"], capture_output=True, text=True).stdout.strip() \
        if dbmate else "dbmate missing"
    gm_version = ""
    if args.golang_migrate:
        gm_version = subprocess.run([args.golang_migrate, "-version"], capture_output=True,
                                    text=True).stderr.strip()
    command = (".venv/bin/python bench/engine_bench.py "
               f"--rounds {args.rounds} --repeats {args.repeats} --atomic-migrations {atomic_count}"
               + (" --golang-migrate /path/to/migrate" if args.golang_migrate else "")
               + (" --callgrind" if args.callgrind else ""))
    lines = [
        BEGIN,
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, {os.cpu_count()} CPUs, "
        f"PostgreSQL {server} on 127.0.0.1, Python {platform.python_version()}, {dbmate_version} "
        "(its native binary from the npm package, no Node.js)"
        + (f", golang-migrate {gm_version}" if gm_version else "") + ". "
        + (f"The machine was shared with other work: 1-minute load average {load[0]:.1f} before and "
           f"{load[1]:.1f} after, on {os.cpu_count()} cores; CPU time (user+sys of the child, from wait4) "
           "moves much less than wall time under that load, so the goals are judged on CPU where they can be."
           if max(load) >= 1.5 else
           f"The machine was otherwise idle: 1-minute load average {load[0]:.1f} before and {load[1]:.1f} "
           f"after, on {os.cpu_count()} cores; CPU time is user+sys of the child, from wait4."),
        "",
        f"Command: `npm install --prefix bench/.work dbmate && {command}`",
        "",
        "### Start-up and read-only commands",
        "",
        f"Each command as a whole process, {args.repeats} times, interleaved; median CPU and wall.",
        "",
        "| command | CPU | wall | vs `import psycopg` (CPU) | vs `version` (CPU) | goal |",
        "|---|---:|---:|---:|---:|---|",
    ]
    peer_cpu, peer_wall = stats(reads["import psycopg"])
    lines.append(f"| `python -c \"import psycopg\"` | {ms(peer_cpu)} | {ms(peer_wall)} | 1.00x | | |")
    if "dbmate status" in reads:
        cpu, wall = stats(reads["dbmate status"])
        lines.append(f"| `dbmate status` ({min(counts)} applied) | {ms(cpu)} | {ms(wall)} | "
                     f"{cpu / peer_cpu:.2f}x | | |")
    for count in counts:
        version_cpu, _ = stats(reads[f"version {count}"])
        for name, goal in (("version", "<= 1.5x import psycopg"), ("up", "<= 1.5x import psycopg"),
                           ("check", "<= 1.5x import psycopg"), ("status", "<= 2x version"),
                           ("plan", "<= 2x version")):
            cpu, wall = stats(reads[f"{name} {count}"])
            what = "nothing pending" if name in ("up", "plan") else "up to date"
            shown = f"check --expect {count}" if name == "check" else name
            lines.append(f"| `{shown}`, {count:,} files applied, {what} | {ms(cpu)} | {ms(wall)} | "
                         f"{cpu / peer_cpu:.2f}x | {cpu / version_cpu:.2f}x | {goal} |")
    if any(v is not None for v in instructions.values()):
        lines += ["", "Instructions executed (valgrind --tool=callgrind, one run each; counts do not "
                  "depend on the load):", "", "| command | instructions | vs `import psycopg` |", "|---|---:|---:|"]
        base = instructions.get("import psycopg")
        for name, executed in instructions.items():
            if executed is not None:
                ratio = f"{executed / base:.2f}x" if base else ""
                lines.append(f"| `{name}` | {executed / 1e6:.0f} M | {ratio} |")
    lines += [
        "",
        "### `up`: one-table migrations, one transaction each",
        "",
        f"Each tool on its own new empty database, {args.rounds} rounds in rotating order; medians.",
        "",
        "| migrations | tool | wall | CPU | CPU per migration | CPU vs dbmate | wall vs dbmate | "
        "wall vs golang-migrate |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for count, results in applies.items():
        dm_cpu, dm_wall = stats(results["dbmate"]) if "dbmate" in results else (0.0, 0.0)
        gm_wall = stats(results["golang-migrate"])[1] if "golang-migrate" in results else 0.0
        for name, runs in results.items():
            cpu, wall = stats(runs)
            lines.append(
                f"| {count:,} | `{name}` | {wall:.2f} s | {cpu:.2f} s | {cpu / count * 1000:.2f} ms | "
                f"{cpu / dm_cpu if dm_cpu else 0:.2f}x | {wall / dm_wall if dm_wall else 0:.2f}x | "
                f"{wall / gm_wall if gm_wall else 0:.2f}x |")
    at_wall = stats(atomic["psql -1 -f"])[1]
    lines += [
        "",
        f"### `up --atomic`: {atomic_count:,} migrations in one transaction",
        "",
        "| tool | wall | CPU | wall vs `psql -1 -f` | goal |",
        "|---|---:|---:|---:|---|",
    ]
    for name, runs in atomic.items():
        cpu, wall = stats(runs)
        lines.append(f"| `{name}` | {wall:.2f} s | {cpu:.2f} s | {wall / at_wall:.2f}x | "
                     f"{'' if name.startswith('psql') else '<= 1.2x'} |")
    lines += [
        "",
        "Every `up` run uses a new empty database; a round creates all of its databases first, then runs a",
        "CHECKPOINT, then the tools in a rotating order. The server's DDL time dominates the wall time and",
        "varies between runs, which is why the client's own CPU time is reported too: it includes start-up",
        "(imports, connecting) spread over the migrations. dbmate does no linting and keeps no history;",
        "`up --no-lint` is the like-for-like engine row. The databases with 1,000 and 10,000 applied",
        "migrations (`bench_applied_*`) are kept between runs; the others are dropped. The bench compiles",
        "safemigrate's bytecode first, as pip does on install (a source tree run with",
        "PYTHONDONTWRITEBYTECODE=1 would compile every safemigrate module on every start).",
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


def timed(label: str, work: Callable[[], object]) -> object:
    start = time.perf_counter()
    value = work()
    print(f"[bench] {label}: {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each up/atomic comparison")
    parser.add_argument("--repeats", type=int, default=21, help="runs of each start-up/read command")
    parser.add_argument("--apply-counts", default="100,1000", help="migration counts for the up comparison")
    parser.add_argument("--read-counts", default="1000,10000", help="applied counts for status/plan/version")
    parser.add_argument("--atomic-migrations", type=int, default=1000)
    parser.add_argument("--golang-migrate", help="path of the golang-migrate binary (optional peer)")
    parser.add_argument("--callgrind", action="store_true", help="count start-up instructions with valgrind")
    parser.add_argument("--only", choices=["reads", "apply", "atomic"], help="run one part (prints, no docs)")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    if dbmate_binary() is None:
        sys.exit("dbmate is missing: npm install --prefix bench/.work dbmate")
    # An installed package has its bytecode compiled (pip does it); a source tree run with
    # PYTHONDONTWRITEBYTECODE would otherwise compile every module on every start.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "src")], check=True,
                   stdout=subprocess.DEVNULL)
    load_before = os.getloadavg()[0]
    apply_counts = [int(c) for c in args.apply_counts.split(",")]
    read_counts = [int(c) for c in args.read_counts.split(",")]
    layouts = {c: generate(c) for c in sorted({*apply_counts, *read_counts, args.atomic_migrations})}
    reads: dict[str, list[Run]] = {}
    applies: dict[int, dict[str, list[Run]]] = {}
    atomic: dict[str, list[Run]] = {}
    instructions: dict[str, int | None] = {}
    if args.only in (None, "reads"):
        reads = timed("start-up and reads", lambda: bench_startup_and_reads(
            layouts[min(read_counts)][1], {c: layouts[c][0] for c in read_counts}, args.repeats))  # type: ignore[assignment]
        if args.callgrind:
            small = min(read_counts)
            url = f"{SERVER}/{PREFIX}_applied_{small}?sslmode=disable"
            base = safemigrate("-path", str(layouts[small][0]), "-database", url)
            for name, argv in {"import psycopg": [sys.executable, "-c", "import psycopg"],
                               f"version ({small} applied)": [*base, "version"],
                               f"up, nothing pending ({small} files)": [*base, "up"],
                               f"check --expect {small} ({small} applied)": [*base, "check", "--expect",
                                                                            str(small)],
                               f"status ({small} applied)": [*base, "status"]}.items():
                instructions[name] = callgrind_instructions(argv)
    if args.only in (None, "apply"):
        for count in apply_counts:
            gm, dm, _ = layouts[count]
            applies[count] = timed(f"up {count}", lambda: bench_apply(gm, dm, args.rounds,  # noqa: B023
                                                                      args.golang_migrate))  # type: ignore[assignment]
    if args.only in (None, "atomic"):
        gm, _, script = layouts[args.atomic_migrations]
        atomic = timed("atomic", lambda: bench_atomic(gm, script, args.rounds))  # type: ignore[assignment]
    # One database per command of the largest group (apply: up, up --no-lint, dbmate, golang-migrate,
    # import psycopg); a few more names cost nothing and leave none behind.
    for name in (f"{PREFIX}_db_{i}" for i in range(8)):
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    if args.only:
        for group in (reads, *applies.values(), atomic):
            for name, runs in group.items():
                cpu, wall = stats(runs)
                print(f"{name}: CPU {cpu * 1000:.1f} ms, wall {wall * 1000:.1f} ms (median of {len(runs)})")
        return
    section = report(reads, applies, atomic, read_counts, args.atomic_migrations, args,
                     instructions, (load_before, os.getloadavg()[0]))
    print(section)
    if args.write_docs:
        write_docs(section)


if __name__ == "__main__":
    main()
