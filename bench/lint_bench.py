"""Lint benchmark (issue 4): 1,000 realistic migration files in one invocation, against squawk.

Generates 500 versions (an up and a down file each; tables with foreign keys
and checks, added columns, concurrent indexes in no-transaction files, batched
backfills, PL/pgSQL triggers, enum changes) into bench/.work/lint-migrations,
then times, several rounds each, in the same run:

* ``safemigrate lint DIR`` (the installed console script, text output), and
* squawk's native binary on the same 1,000 files (``squawk DIR/*.sql``).

With ``--folder DIR`` (repeatable; folders of real migrations, see
tests/lint/corpora.md; nothing is downloaded) it also times both tools on each
folder and on all of them in one invocation, in the same interleaved rounds.

With ``--versions N`` (repeatable) the generated folder holds N versions (2N
files); ``--versions 500 --versions 5000`` times 1,000 and 10,000 files. With
``--busy N``, N processes spin on the CPUs for the whole measurement (a busy machine).

Wall time is the median over the rounds; peak memory is each process's maximum
resident set size (from ``wait4``), median over the rounds. Goals (issue 11):
safemigrate's median wall time at most 1.5x squawk's on 1,000 generated files and
on the real folders together, at most 1x on 10,000, on an idle and a busy machine.

Usage (squawk from npm, into the git-ignored bench/.work):

    npm install --prefix bench/.work squawk-cli
    .venv/bin/python bench/lint_bench.py [--rounds 7] [--versions 500 ...] [--folder DIR ...] [--busy 2] [--write-docs]

Results are printed as Markdown; ``--write-docs`` replaces only this run's block
(idle, or busy with ``--busy``) of the ``## Lint`` section of docs/benchmarks.md. Never a timed test: the suite does not run this.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "bench" / ".work"
FILES = WORK / "lint-migrations"
SAFEMIGRATE = REPO / ".venv" / "bin" / "safemigrate"
SQUAWK_PACKAGE = WORK / "node_modules" / "squawk-cli" / "package.json"
DOCS = REPO / "docs" / "benchmarks.md"
BEGIN, END = "<!-- lint-bench:begin -->", "<!-- lint-bench:end -->"
BUSY_BEGIN, BUSY_END = "<!-- lint-bench-busy:begin -->", "<!-- lint-bench-busy:end -->"

_COLUMN_TYPES = ["text", "bigint", "integer", "numeric(12,2)", "timestamptz", "timestamp", "boolean",
                 "jsonb", "uuid", "varchar(120)", "date"]
_WORDS = ["account", "invoice", "order", "payment", "session", "event", "message", "product", "review",
          "shipment", "coupon", "address", "device", "team", "project", "comment", "webhook", "audit"]


# -- generating a realistic migrations folder --------------------------------------


def _create_table(rng: random.Random, table: str, parent: str | None) -> tuple[str, str]:
    columns = ["    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY"]
    if parent:
        columns.append(f"    {parent}_id bigint NOT NULL REFERENCES {parent} (id) ON DELETE CASCADE")
    for i in range(rng.randint(3, 9)):
        ctype = rng.choice(_COLUMN_TYPES)
        column = f"    {rng.choice(_WORDS)}_{i} {ctype}"
        if rng.random() < 0.4:
            column += " NOT NULL"
            column += {"text": " DEFAULT ''", "boolean": " DEFAULT false", "jsonb": " DEFAULT '{}'::jsonb",
                       "timestamptz": " DEFAULT now()"}.get(ctype, " DEFAULT 0" if "int" in ctype or "numeric" in ctype else "")
        columns.append(column)
    columns.append("    created_at timestamptz NOT NULL DEFAULT now()")
    columns.append(f"    CONSTRAINT {table}_created_check CHECK (created_at > '2000-01-01')")
    up = (f"-- {table}: created by the {rng.choice(_WORDS)} service\n"
          f"CREATE TABLE IF NOT EXISTS {table} (\n" + ",\n".join(columns) + "\n);\n"
          f"CREATE INDEX IF NOT EXISTS idx_{table}_created ON {table} (created_at);\n")
    if parent:
        up += f"CREATE INDEX IF NOT EXISTS idx_{table}_{parent} ON {table} ({parent}_id);\n"
    up += f"COMMENT ON TABLE {table} IS 'Rows of {table.replace('_', ' ')}';\n"
    return up, f"DROP TABLE IF EXISTS {table};\n"


def _add_columns(rng: random.Random, table: str, n: int) -> tuple[str, str]:
    adds, drops = [], []
    for i in range(rng.randint(1, 3)):
        column = f"{rng.choice(_WORDS)}_{n}_{i}"
        ctype = rng.choice(_COLUMN_TYPES)
        default = rng.choice(["", "", " DEFAULT 0" if "int" in ctype else "", " DEFAULT now()" if ctype == "timestamptz" else ""])
        adds.append(f"ALTER TABLE {table} ADD COLUMN {column} {ctype}{default};")
        drops.append(f"ALTER TABLE {table} DROP COLUMN IF EXISTS {column};")
    up = "SET lock_timeout = '2s';\n" if rng.random() < 0.5 else ""
    return up + "\n".join(adds) + "\n", "\n".join(reversed(drops)) + "\n"


def _concurrent_index(table: str, n: int) -> tuple[str, str]:
    return (f"-- safemigrate:no-transaction\n"
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_{table}_{n} ON {table} (created_at, id);\n",
            f"-- safemigrate:no-transaction\nDROP INDEX CONCURRENTLY IF EXISTS idx_{table}_{n};\n")


def _backfill(table: str, n: int) -> tuple[str, str]:
    up = (f"UPDATE {table}\n   SET created_at = now()\n"
          f" WHERE created_at IS NULL\n   AND id BETWEEN {n * 10000} AND {n * 10000 + 9999};\n")
    return up, "-- a backfill cannot be undone; rows keep their values\nSELECT 1;\n"


def _trigger(table: str, n: int) -> tuple[str, str]:
    up = f"""CREATE OR REPLACE FUNCTION touch_{table}_{n}() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.created_at := coalesce(NEW.created_at, now());
    IF NEW.id IS NULL THEN
        RAISE EXCEPTION 'id missing; got %', NEW;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER trg_{table}_{n} BEFORE INSERT ON {table}
    FOR EACH ROW EXECUTE FUNCTION touch_{table}_{n}();
"""
    down = f"DROP TRIGGER IF EXISTS trg_{table}_{n} ON {table};\nDROP FUNCTION IF EXISTS touch_{table}_{n}();\n"
    return up, down


def _enum(n: int) -> tuple[str, str]:
    return (f"CREATE TYPE status_{n} AS ENUM ('new', 'active', 'archived');\n"
            f"ALTER TYPE status_{n} ADD VALUE IF NOT EXISTS 'deleted' AFTER 'archived';\n",
            f"DROP TYPE IF EXISTS status_{n};\n")


def generate(folder: Path, versions: int, seed: int = 4) -> int:
    """Write ``versions`` migrations (an up and a down file each); returns the number of files."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.sql"):
        old.unlink()
    tables: list[str] = []
    for n in range(1, versions + 1):
        kind = rng.choices(["table", "columns", "index", "backfill", "trigger", "enum"],
                           weights=[30, 25, 15, 10, 12, 8])[0]
        if kind == "table" or not tables:
            table = f"{rng.choice(_WORDS)}s_{n}"
            up, down = _create_table(rng, table, rng.choice(tables) if tables and rng.random() < 0.6 else None)
            tables.append(table)
        elif kind == "columns":
            up, down = _add_columns(rng, rng.choice(tables), n)
        elif kind == "index":
            up, down = _concurrent_index(rng.choice(tables), n)
        elif kind == "backfill":
            up, down = _backfill(rng.choice(tables), n)
        elif kind == "trigger":
            up, down = _trigger(rng.choice(tables), n)
        else:
            up, down = _enum(n)
        name = f"{n:06d}_{kind}_{n}"
        (folder / f"{name}.up.sql").write_text(up)
        (folder / f"{name}.down.sql").write_text(down)
    return versions * 2


# -- measuring ----------------------------------------------------------------------


@dataclass
class Sample:
    wall: float
    cpu: float  # user + sys of the process and its children (squawk uses threads, we may fork)
    peak_mib: float


def measure(argv: list[str]) -> Sample:
    """Run ``argv`` to completion; its wall time and its own peak RSS (wait4 reports it per child)."""
    start = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        proc = subprocess.Popen(argv, stdout=sink, stderr=sink)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):  # 1: findings
        raise SystemExit(f"{argv[0]} exited {proc.returncode}")
    cpu = usage.ru_utime + usage.ru_stime
    return Sample(wall, cpu, usage.ru_maxrss / 1024)  # ru_maxrss is in KiB on Linux


def squawk_binary() -> Path:
    if not SQUAWK_PACKAGE.exists():
        subprocess.run(["npm", "install", "--prefix", str(WORK), "squawk-cli"], check=True)
    found = sorted((WORK / "node_modules" / "@squawk-cli").glob("*/bin/squawk"))
    if not found:
        raise SystemExit("squawk-cli installed no native binary for this platform")
    return found[0]


def squawk_version(binary: Path) -> str:
    return subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=True).stdout.strip()


@dataclass
class Stats:
    median_s: float
    min_s: float
    max_s: float
    cpu_s: float
    peak_mib: float

    @classmethod
    def of(cls, runs: list[Sample]) -> Stats:
        walls = [s.wall for s in runs]
        return cls(statistics.median(walls), min(walls), max(walls),
                   statistics.median(s.cpu for s in runs), statistics.median(s.peak_mib for s in runs))


@dataclass
class Case:
    """One workload, timed with both tools."""

    label: str  # how the docs name it
    files: int
    size: int
    ours_argv: list[str]
    squawk_argv: list[str]
    ours: Stats | None = None
    squawk: Stats | None = None


@dataclass
class Result:
    rounds: int
    squawk_version: str
    cases: list[Case]
    load: tuple[float, float]  # 1-minute load average before and after
    busy: int = 0  # spinning processes started for the measurement


@contextmanager
def _spinners(count: int) -> Iterator[None]:
    """``count`` processes that keep a CPU busy each (``while 1: pass``) for the duration."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(count)]
    try:
        if spinners:
            time.sleep(1)  # let the scheduler see them
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


# The goals of issue 11: at most this many times squawk's median wall time.
_GOALS = {"generated 1,000 files": 1.5, "real folders together": 1.5, "generated 10,000 files": 1.0}


def _goal_of(case: Case) -> tuple[str, float] | None:
    name = f"generated {case.files:,} files" if case.label == "generated" else case.label
    return (name, _GOALS[name]) if name in _GOALS else None


def compile_bytecode() -> None:
    """Write the package's bytecode, as installing a wheel does (PYTHONDONTWRITEBYTECODE would
    otherwise make every timed run compile the sources again)."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "src" / "safemigrate")], check=True)


def _sql_files(folders: list[Path]) -> list[Path]:
    return sorted(p for folder in folders for p in folder.glob("*.sql"))


def _case(label: str, folders: list[Path], squawk: Path) -> Case:
    files = _sql_files(folders)
    return Case(label, len(files), sum(p.stat().st_size for p in files),
                [str(SAFEMIGRATE), "lint", *map(str, folders)], [str(squawk), *map(str, files)])


def _generated_folder(versions: int) -> Path:
    return FILES if versions == 500 else WORK / f"lint-migrations-{versions * 2}"


def bench(rounds: int, versions: list[int], folders: list[Path]) -> Result:
    compile_bytecode()
    squawk = squawk_binary()
    cases = []
    for count in versions:
        folder = _generated_folder(count)
        generate(folder, count)
        cases.append(_case("generated", [folder], squawk))
    cases += [_case(folder.name, [folder], squawk) for folder in folders]
    if len(folders) > 1:
        cases.append(_case("real folders together", folders, squawk))
    samples: dict[tuple[int, str], list[Sample]] = {}
    load_before = os.getloadavg()[0]
    for case in cases:  # warm the page cache and the interpreter's bytecode
        measure(case.ours_argv)
        measure(case.squawk_argv)
    for _ in range(rounds):
        for index, case in enumerate(cases):  # interleave so drift hits both alike
            samples.setdefault((index, "ours"), []).append(measure(case.ours_argv))
            samples.setdefault((index, "squawk"), []).append(measure(case.squawk_argv))
    for index, case in enumerate(cases):
        case.ours = Stats.of(samples[(index, "ours")])
        case.squawk = Stats.of(samples[(index, "squawk")])
    return Result(rounds=rounds, squawk_version=squawk_version(squawk), cases=cases,
                  load=(load_before, os.getloadavg()[0]))


def _markers(busy: int) -> tuple[str, str]:
    return (BEGIN, END) if not busy else (BUSY_BEGIN, BUSY_END)


def markdown(result: Result, folders: list[Path], versions: list[int]) -> str:
    cpu = platform.processor() or platform.machine()
    folder_args = "".join(f" --folder {f}" for f in folders)
    version_args = "".join(f" --versions {v}" for v in versions) if versions != [500] else ""
    busy_args = f" --busy {result.busy}" if result.busy else ""
    begin, end = _markers(result.busy)
    machine = (f"with {result.busy} other processes spinning on the CPUs (`while 1: pass`) for the whole "
               "measurement, a busy machine" if result.busy else "with no spinners of the benchmark's own")
    lines = [
        begin,
        "Linting the same files with safemigrate and with squawk, in one invocation each: "
        "the generated folders (an up and a down file per version: tables with foreign keys and "
        "checks, added columns, concurrent indexes, batched backfills, PL/pgSQL triggers, enums)"
        + (" and folders of real migrations (tests/lint/corpora.md), each alone and all together"
           if folders else "") + f", {machine}. "
        f"Median of {result.rounds} interleaved rounds after a warm-up, on {os.cpu_count()} cores "
        f"({cpu}), Python {platform.python_version()}; the machine's 1-minute load average was "
        f"{result.load[0]:.1f} before and {result.load[1]:.1f} after"
        + (" (the spinners included)." if result.busy else
           " (the machine was shared with other work while measuring)." if max(result.load) >= 1 else ".")
        + " CPU is user+sys of the process and its children (squawk runs threads; safemigrate "
        "forks workers that take the files as they go, for about 200 files of SQL or more). Peak "
        "memory is the largest process's maximum resident set. Squawk is given the folders' .sql files; "
        "safemigrate the folders (it skips files not named like golang-migrate migrations: Supabase's).",
        "",
        "```sh",
        "npm install --prefix bench/.work squawk-cli",
        f".venv/bin/python bench/lint_bench.py --rounds {result.rounds}{version_args}{folder_args}"
        f"{busy_args} --write-docs",
        "```",
        "",
        "| files | tool | median wall | min / max wall | median CPU | peak RSS (median) | wall vs squawk |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for case in result.cases:
        ours, peer = case.ours, case.squawk
        assert ours is not None and peer is not None
        what = f"{case.label} ({case.files:,} files, {case.size:,} bytes)"
        lines.append(f"| {what} | `safemigrate lint` | {ours.median_s:.3f} s | {ours.min_s:.3f} / "
                     f"{ours.max_s:.3f} s | {ours.cpu_s:.3f} s | {ours.peak_mib:.0f} MiB | "
                     f"**{ours.median_s / peer.median_s:.2f}x** |")
        lines.append(f"| {what} | squawk {result.squawk_version.removeprefix('squawk ')} (native) | "
                     f"{peer.median_s:.3f} s | {peer.min_s:.3f} / {peer.max_s:.3f} s | "
                     f"{peer.cpu_s:.3f} s | {peer.peak_mib:.0f} MiB | |")
    verdicts = []
    for case in result.cases:
        goal = _goal_of(case)
        if goal is not None and case.ours and case.squawk:
            ratio = case.ours.median_s / case.squawk.median_s
            verdicts.append(f"{goal[0]} {ratio:.2f}x (goal {goal[1]:g}x: "
                            f"{'met' if ratio <= goal[1] else 'not met'})")
    lines += ["", "Goals (issue 11): " + ("; ".join(verdicts) or "none of the goal cases was measured") + ".",
              end, ""]
    return "\n".join(lines)


def write_docs(section: str, busy: int) -> None:
    """Replace this run's block of the ``## Lint`` section (idle or busy), leaving everything else."""
    begin, end = _markers(busy)
    text = DOCS.read_text("utf-8") if DOCS.exists() else "# Benchmarks\n\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = head + section.rstrip("\n") + tail
    elif busy and END in text:  # the busy block goes after the idle one
        head, tail = text.split(END, 1)
        text = head + END + "\n\n" + section.rstrip("\n") + tail
    else:
        text = text.rstrip("\n") + "\n\n## Lint\n\n" + section
    DOCS.write_text(text, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--versions", type=int, action="append", default=[],
                        help="generated versions (two files each); repeatable (default 500)")
    parser.add_argument("--busy", type=int, default=0, metavar="N",
                        help="keep N other processes spinning on the CPUs while measuring (a busy machine)")
    parser.add_argument("--folder", action="append", type=Path, default=[],
                        help="a folder of real migrations to time as well (repeatable)")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    if not SAFEMIGRATE.exists():
        raise SystemExit(f"{SAFEMIGRATE} is missing: install the project into .venv first")
    for folder in args.folder:
        if not folder.is_dir() or not any(folder.glob("*.sql")):
            raise SystemExit(f"--folder {folder}: not a folder of .sql files")
    versions = args.versions or [500]
    with _spinners(args.busy):
        result = bench(args.rounds, versions, args.folder)
    result.busy = args.busy
    section = markdown(result, args.folder, versions)
    sys.stdout.write(section)
    if args.write_docs:
        write_docs(section, args.busy)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
