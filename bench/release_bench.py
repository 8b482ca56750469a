"""Release benchmark (issue 12): ``safemigrate release`` against the runbook done by hand.

On one benchmark database (default ~1 GB, built once with generate_series and reused;
``--size-mb`` for a small one), side by side in one run, rounds in a rotating order:

* safemigrate: ``safemigrate release`` -- a backup verified by a full restore into a
  scratch database, 10 migrations applied, a health gate that passes at once (a tiny
  HTTP server in this process on 127.0.0.1 answering 200; ``--health-successes 1
  --health-interval 0``);
* the runbook by hand: ``pg_dump -Fc``, ``pg_restore --list``, ``migrate up`` with the
  real golang-migrate binary, ``curl`` of the health URL (urllib when curl is absent).

Each round copies the pre-release database (``CREATE DATABASE x TEMPLATE y``) once per
contender, then runs a CHECKPOINT, so both start from the same version and do the same work.
Reported: wall time per phase (backup, verification, apply, gate) and in total, the ratio
(goal: at most 1.0x), and the release's own overhead, everything but the dump, the
verification restore, the apply and the gate (goal: under 1 s), from the release's
``--format json`` report and its backup's manifest.

    .venv/bin/python bench/release_bench.py [--size-mb 1024] [--rounds 3] [--migrate PATH] [--write-docs]

Never part of the test suite; nothing here downloads anything.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MIGRATE = "/work/shared/tools/golang-migrate/migrate"
DEFAULT_DATABASE = "safemigrate_release_bench"
DEFAULT_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
BASE_VERSION = 1
BEGIN, END = "<!-- release-bench:begin -->", "<!-- release-bench:end -->"
PHASES = ("backup", "verification", "apply", "gate")

# The base schema (version 1, already applied in the benchmark database) and the 10 pending
# migrations: what a release typically carries, each safe to run on a live table (no rewrite,
# no long lock), so the apply is the same small amount of work for both tools.
BASE = ("CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL);\n"
        "CREATE TABLE accounts (id bigint PRIMARY KEY, customer_id bigint NOT NULL, balance bigint NOT NULL,\n"
        "  created_at timestamptz NOT NULL, note text NOT NULL);\n",
        "DROP TABLE accounts;\nDROP TABLE customers;\n")
MIGRATIONS: list[tuple[str, str, str]] = [
    ("customer_tags",
     "CREATE TABLE customer_tags (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
     "  customer_id bigint NOT NULL REFERENCES customers (id), tag text NOT NULL);\n"
     "CREATE INDEX customer_tags_customer_idx ON customer_tags (customer_id);\n",
     "DROP TABLE customer_tags;\n"),
    ("accounts_closed_at", "ALTER TABLE accounts ADD COLUMN closed_at timestamptz;\n",
     "ALTER TABLE accounts DROP COLUMN closed_at;\n"),
    ("customers_name_idx", "CREATE INDEX CONCURRENTLY customers_name_idx ON customers (name);\n",
     "DROP INDEX CONCURRENTLY customers_name_idx;\n"),
    ("audit_log",
     "CREATE TABLE audit_log (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
     "  at timestamptz NOT NULL DEFAULT now(), actor text NOT NULL, action text NOT NULL);\n",
     "DROP TABLE audit_log;\n"),
    ("customers_email", "ALTER TABLE customers ADD COLUMN email text;\n",
     "ALTER TABLE customers DROP COLUMN email;\n"),
    ("account_state", "CREATE TYPE account_state AS ENUM ('open', 'frozen', 'closed');\n",
     "DROP TYPE account_state;\n"),
    ("accounts_state", "ALTER TABLE accounts ADD COLUMN state account_state;\n",
     "ALTER TABLE accounts DROP COLUMN state;\n"),
    ("open_accounts", "CREATE VIEW open_accounts AS SELECT id, customer_id FROM accounts WHERE closed_at IS NULL;\n",
     "DROP VIEW open_accounts;\n"),
    ("feature_flags",
     "CREATE TABLE feature_flags (name text PRIMARY KEY, enabled boolean NOT NULL DEFAULT false);\n"
     "INSERT INTO feature_flags (name) VALUES ('new_checkout'), ('dark_mode');\n",
     "DROP TABLE feature_flags;\n"),
    ("accounts_comment", "COMMENT ON TABLE accounts IS 'one row per customer account';\n",
     "COMMENT ON TABLE accounts IS NULL;\n"),
]
BYTES_PER_ROW = 180  # an accounts row with its primary key entry, measured on PostgreSQL 15


class BenchError(Exception):
    """A precondition of the benchmark is not met; the message says what to do."""


# -- arguments ------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL, help="a database URL on the server to use")
    parser.add_argument("--database", default=DEFAULT_DATABASE,
                        help="the pre-release benchmark database (built when absent, else reused)")
    parser.add_argument("--size-mb", type=int, default=1024, help="size of the benchmark database (default 1024)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; each runs both, order rotating")
    parser.add_argument("--migrate", default=DEFAULT_MIGRATE, help="the golang-migrate binary")
    parser.add_argument("--write-docs", action="store_true", help="replace the Release section of docs/benchmarks.md")
    args = parser.parse_args(argv)
    if args.size_mb < 1:
        parser.error("--size-mb must be at least 1")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if len(args.database) > 50 or not args.database.replace("_", "").isalnum():
        parser.error("--database must be a plain name (letters, digits, _), at most 50 characters")
    return args


def check_migrate(path: str) -> str:
    """The golang-migrate binary's version; refuse clearly when it is missing (never download it)."""
    binary = Path(path)
    if not binary.is_file() or not os.access(binary, os.X_OK):
        raise BenchError(f"golang-migrate not found at {path}: this benchmark compares against the real binary "
                         "and never downloads it. Pass --migrate /path/to/migrate (v4.x, "
                         "https://github.com/golang-migrate/migrate/releases)")
    proc = subprocess.run([str(binary), "-version"], capture_output=True, text=True, timeout=30)
    return (proc.stdout + proc.stderr).strip()


def check_tools() -> dict[str, str]:
    tools = {}
    for tool in ("psql", "pg_dump", "pg_restore"):
        found = shutil.which(tool)
        if found is None:
            raise BenchError(f"{tool} not found on PATH: install the PostgreSQL client tools")
        tools[tool] = found
    return tools


# -- database -------------------------------------------------------------------------------------
def with_db(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def psql(url: str, *sql: str) -> str:
    argv = ["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d", url]
    for statement in sql:
        argv += ["-c", statement]
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout.strip()


def write_migrations(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    files = [("base", *BASE), *MIGRATIONS]
    for version, (name, up, down) in enumerate(files, start=BASE_VERSION):
        (folder / f"{version:06d}_{name}.up.sql").write_text(up)
        (folder / f"{version:06d}_{name}.down.sql").write_text(down)


def setup(admin_url: str, name: str, size_mb: int) -> None:
    """Build the pre-release database once: version 1 applied, ``accounts`` filled to ~size_mb."""
    marker = f"safemigrate release bench {size_mb} MB"
    comment = psql(admin_url, f"SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '{name}'")
    if comment == marker:
        return
    rows = size_mb * (1 << 20) // BYTES_PER_ROW
    print(f"building {name}: {rows:,} rows (~{size_mb} MB) with generate_series, once", file=sys.stderr)
    psql(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}")
    url = with_db(admin_url, name)
    psql(url, BASE[0],
         "CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)",
         f"INSERT INTO schema_migrations VALUES ({BASE_VERSION}, false)",
         "INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 100000) g",
         # md5 text: incompressible enough that no compressor is flattered (unlike blank padding)
         "INSERT INTO accounts SELECT g, 1 + g % 100000, (random() * 1e6)::bigint, "
         "timestamptz '2020-01-01' + g * interval '1 second', "
         f"md5(random()::text) || md5(random()::text) || md5(g::text) FROM generate_series(1, {rows}) g",
         "VACUUM (FREEZE, ANALYZE)")  # hint bits set now, not by whichever tool reads first
    psql(admin_url, f"COMMENT ON DATABASE {name} IS '{marker}'")


def copy_database(admin_url: str, template: str, name: str) -> str:
    psql(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)",
         f"CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY")
    return with_db(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    psql(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# -- the health endpoint --------------------------------------------------------------------------
class _Healthy(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"status":"ok"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def start_health_server() -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Healthy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/health/ready"


# -- running --------------------------------------------------------------------------------------
@dataclass
class Run:
    total: float
    phases: dict[str, float]
    overhead: float | None = None
    overhead_parts: dict[str, float] = field(default_factory=dict)
    backup_bytes: int = 0


def timed(argv: list[str], *, check: bool = True) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if check and proc.returncode != 0:
        raise BenchError(f"failed (exit {proc.returncode}): {' '.join(argv)}\n{proc.stderr[-2000:]}"
                         f"{proc.stdout[-2000:]}")
    return elapsed, proc.stdout


def safemigrate_argv() -> list[str]:
    venv = REPO / ".venv" / "bin" / "safemigrate"
    return [str(venv)] if venv.exists() else [sys.executable, "-m", "safemigrate"]


def release_command(folder: Path, url: str, store: Path, reports: Path, health: str) -> list[str]:
    return [*safemigrate_argv(), "-path", str(folder), "-database", url, "release",
            "--backup-location", str(store), "--report", str(reports), "--health-url", health,
            "--health-successes", "1", "--health-interval", "0", "--format", "json"]


def run_release(folder: Path, url: str, work: Path, health: str) -> Run:
    store, reports = work / "store", work / "releases"
    spawned = datetime.now(UTC)
    total, out = timed(release_command(folder, url, store, reports, health), check=False)
    try:
        report = json.loads(out)
    except ValueError:
        raise BenchError(f"safemigrate release printed no JSON report: {out[-2000:]}") from None
    if report.get("outcome") != "released":
        problems = [f"{s['name']}: {s['reason']}" for s in report.get("steps", []) if s["status"] == "failed"]
        raise BenchError(f"the release did not release ({report.get('outcome')}): {report.get('summary')}; "
                         + "; ".join(problems))
    manifest = read_manifest(store, report["backup_id"])
    run = release_run(total, report, manifest, spawned=spawned)
    run.backup_bytes = sum(int(f.get("size", 0)) for f in manifest.get("files", []))
    return run


def read_manifest(store: Path, backup_id: str) -> dict[str, Any]:
    path = next(store.rglob("manifest.json"), None)
    for candidate in store.rglob("manifest.json"):
        if backup_id in str(candidate):
            path = candidate
    if path is None:
        raise BenchError(f"no manifest for backup {backup_id} under {store}")
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def release_run(total: float, report: dict[str, Any], manifest: dict[str, Any], *,
                spawned: datetime | None = None) -> Run:
    """Phases from the report's step durations; the backup step splits by its manifest's durations.

    The overhead is the rest; what no step timed is split by the report's own clock: before the
    report started (interpreter, imports, configuration, connecting), between its start and its
    outcome (the lock, work between steps), and after (notify, the releases table, report files).
    """
    steps = report["steps"]

    def took(phase: str, name: str | None = None) -> float:
        return sum(s["duration_s"] for s in steps if s["phase"] == phase and (name is None or s["name"] == name))

    backup_step = took("backup", "backup verified by a restore")
    verification = float(manifest["verification"]["duration_s"])
    phases = {"backup": backup_step - verification, "verification": verification,
              "apply": took("apply"), "gate": took("gate")}
    overhead = total - sum(phases.values())
    parts: dict[str, float] = {}
    for s in steps:
        if (s["phase"] == "backup" and s["name"] == "backup verified by a restore") or s["phase"] in ("apply", "gate"):
            continue
        key = f"{s['phase']}: {s['name']}"
        parts[key] = parts.get(key, 0.0) + s["duration_s"]
    untimed = overhead - sum(parts.values())
    if spawned is not None and report.get("started_at") and report.get("finished_at"):
        started = datetime.fromisoformat(report["started_at"])
        finished = datetime.fromisoformat(report["finished_at"])
        before = (started - spawned).total_seconds()
        after = total - (finished - spawned).total_seconds()
        parts[START_UP] = before
        parts[AFTER] = after
        parts[BETWEEN] = untimed - before - after
    else:
        parts[UNTIMED] = untimed
    return Run(total, phases, overhead, parts)


START_UP = "start-up: interpreter, imports, configuration, connecting (before the report starts)"
BETWEEN = "untimed work between the steps (the lock, column snapshots, session settings)"
AFTER = "after the outcome: the releases table, the report files, the JSON output, exit"
UNTIMED = "outside the steps"


def run_manual(folder: Path, url: str, work: Path, health: str, migrate: str, *, uncompressed: bool = False) -> Run:
    """The runbook's commands one after the other; ``uncompressed`` adds ``-Z 0`` (not the runbook's)."""
    dump = work / "runbook.dump"
    parts = urlsplit(url)
    conn = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432), "-U", parts.username or "postgres"]
    name = parts.path.lstrip("/")
    phases = {
        "backup": timed(["pg_dump", *conn, "-Fc", *(["-Z", "0"] if uncompressed else []), "-d", name,
                         "-f", str(dump)])[0],
        "verification": timed(["pg_restore", "--list", str(dump)])[0],
        "apply": timed([migrate, "-path", str(folder), "-database", url, "up"])[0],
        "gate": curl(health),
    }
    return Run(sum(phases.values()), phases, backup_bytes=dump.stat().st_size)


def curl(url: str) -> float:
    if shutil.which("curl"):
        return timed(["curl", "-fsS", "-o", "/dev/null", url])[0]
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=10) as answer:
        answer.read()
    return time.perf_counter() - start


def check_version(url: str, expected: int) -> None:
    got = psql(url, "SELECT version || ' ' || dirty FROM schema_migrations")
    if got != f"{expected} false":
        raise BenchError(f"after the run the database is at {got!r}, expected {expected} false")


# -- machine load ---------------------------------------------------------------------------------
def cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [float(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    return sum(fields) - idle, sum(fields)


@dataclass
class Load:
    loadavg: list[float] = field(default_factory=list)
    busy: float = 0.0  # machine-wide CPU utilisation during the measured runs
    total: float = 0.0

    def sample(self) -> None:
        self.loadavg.append(os.getloadavg()[0])


# -- rounds ---------------------------------------------------------------------------------------
def bench(args: argparse.Namespace, work: Path, health: str) -> tuple[dict[str, list[Run]], Load]:
    folder = work / "migrations"
    write_migrations(folder)
    target = BASE_VERSION + len(MIGRATIONS)
    results: dict[str, list[Run]] = {"release": [], "manual": [], "manual_z0": []}
    load = Load()
    names = list(results)
    for round_number in range(args.rounds):
        order = names[round_number % len(names):] + names[:round_number % len(names)]
        urls = {who: copy_database(args.admin_url, args.database, f"{args.database}_{who}") for who in names}
        psql(args.admin_url, "CHECKPOINT")  # the copies' checkpoint does not land in a measured run
        for who in order:
            scratch = work / f"round-{round_number}-{who}"
            scratch.mkdir()
            load.sample()
            busy0, total0 = cpu_times()
            run = (run_release(folder, urls[who], scratch, health) if who == "release"
                   else run_manual(folder, urls[who], scratch, health, args.migrate,
                                   uncompressed=who == "manual_z0"))
            busy1, total1 = cpu_times()
            load.busy += busy1 - busy0
            load.total += total1 - total0
            load.sample()
            check_version(urls[who], target)
            results[who].append(run)
            shutil.rmtree(scratch)
            print(f"round {round_number + 1} {who}: {run.total:.2f}s "
                  + " ".join(f"{p}={run.phases[p]:.2f}" for p in PHASES)
                  + (f" overhead={run.overhead:.2f}" if run.overhead is not None else ""), file=sys.stderr)
        for who in names:
            drop_database(args.admin_url, f"{args.database}_{who}")
    return results, load


# -- report ---------------------------------------------------------------------------------------
def med(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float]) -> str:
    return f"{med(values):.2f} s" + (f" ({min(values):.2f}–{max(values):.2f})" if len(values) > 1 else "")


def render(args: argparse.Namespace, results: dict[str, list[Run]], load: Load, versions: dict[str, str],
           db_size: int) -> str:
    ours, theirs, z0 = results["release"], results["manual"], results["manual_z0"]
    ratio = med([r.total for r in ours]) / med([r.total for r in theirs])
    ratio_z0 = med([r.total for r in ours]) / med([r.total for r in z0])
    overhead = med([r.overhead or 0.0 for r in ours])
    size_flag = ("" if args.size_mb == 1024 else f" --size-mb {args.size_mb}") + (
        "" if args.database == DEFAULT_DATABASE else f" --database {args.database}") + (
        "" if args.migrate == DEFAULT_MIGRATE else f" --migrate {args.migrate}")
    lines = [
        BEGIN,
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, {os.cpu_count()} CPUs, "
        f"PostgreSQL {versions['server']} on 127.0.0.1, {versions['pg_dump']}, {versions['pg_restore']}, "
        f"golang-migrate {versions['migrate']}, {versions['curl']}, Python {platform.python_version()}. "
        f"Database `{args.database}`: {db_size / 1e9:.2f} GB on disk (`pg_database_size`). "
        f"{args.rounds} round(s), the order of the three rotating; median (min–max). Machine load during the "
        f"measured runs: 1-minute load average {min(load.loadavg):.1f} to {max(load.loadavg):.1f}, all CPUs "
        f"{100 * load.busy / max(load.total, 1):.0f}% busy (this benchmark and the other helpers' work together).",
        "",
        "```sh",
        f".venv/bin/python bench/release_bench.py --rounds {args.rounds}{size_flag} --write-docs",
        "```",
        "",
        "| phase | `safemigrate release` | runbook by hand | ratio | reference: the runbook with `pg_dump -Fc -Z 0` |",
        "|---|---|---|---|---|",
    ]
    shown = {"backup": "backup: `backup create` (pg_dump -Fc -Z0 piped through zstd, every block read back) "
                       "vs `pg_dump -Fc`",
             "verification": "verification: a full restore into a scratch database, row counts, drop, "
                             "vs `pg_restore --list`",
             "apply": "apply 10 migrations vs `migrate up`",
             "gate": "health gate (1 success, interval 0) vs `curl -fsS`"}
    for phase in PHASES:
        a, b, c = ([r.phases[phase] for r in runs] for runs in (ours, theirs, z0))
        lines.append(f"| {shown[phase]} | {spread(a)} | {spread(b)} | {med(a) / med(b):.2f}x | {spread(c)} |")
    lines.append(f"| **total, wall** | **{spread([r.total for r in ours])}** | "
                 f"**{spread([r.total for r in theirs])}** | **{ratio:.2f}x** (goal <= 1.0x) | "
                 f"{spread([r.total for r in z0])} ({ratio_z0:.2f}x) |")
    lines.append(f"| the release's own overhead (total − the four phases) | "
                 f"{spread([r.overhead or 0.0 for r in ours])} | | goal < 1 s | |")
    lines.append(f"| size of the backup | {mb(ours)} | {mb(theirs)} | | {mb(z0)} |")
    lines += ["", "Where the release's own overhead goes (median of the rounds; pre-flight checks under 1 ms left out):",
              "", "| step | median |", "|---|---|"]
    for key in ours[0].overhead_parts:
        value = med([r.overhead_parts.get(key, 0.0) for r in ours])
        if value >= 0.0005 or not key.startswith("preflight"):
            lines.append(f"| {key} | {value * 1000:.0f} ms |")
    lines += [
        "",
        f"Goals: total {ratio:.2f}x the runbook's wall time ({'met' if ratio <= 1.0 else 'NOT met'}); "
        f"overhead {overhead:.2f} s ({'met' if overhead < 1.0 else 'NOT met'}).",
        NOTES,
        END,
    ]
    return "\n".join(lines)


NOTES = """
What is measured, and why:

- The benchmark database is built once (`generate_series`, then `VACUUM (FREEZE, ANALYZE)` so that no
  contender pays for hint bits): `customers` (100,000 rows) and `accounts` (about 6 million rows with
  96 characters of md5 text each, which no compressor flatters), at version 1 in `schema_migrations`.
  Each round copies it once per contender (`CREATE DATABASE ... TEMPLATE ... STRATEGY FILE_COPY`), then
  runs a CHECKPOINT, then the contenders in a rotating order: each starts at version 1, on the same data,
  and applies the same 10 migrations (two new tables, a concurrent index on `customers`, three nullable
  columns, an enum, a view, a comment, two rows); the bench checks each ends at version 11, clean.
- `safemigrate release` is one process, timed by the bench: `safemigrate -path M -database URL release
  --backup-location S --report R --health-url http://127.0.0.1:PORT/health/ready --health-successes 1
  --health-interval 0 --format json` (the health endpoint is a tiny HTTP server in the bench answering
  200). Its phases come from its own report: backup = the step "backup verified by a restore" less the
  verification's duration recorded in the backup's manifest; apply and gate = their steps. Its own
  overhead is everything else: interpreter start, imports, configuration, connecting, the migration lock,
  every pre-flight check (lint, catalog queries, free disk, the health check before the release), the
  restore point, the releases table, the report files.
- The runbook is four processes one after the other, each timed alone and summed (no shell, no pause
  between them): `pg_dump -h 127.0.0.1 -p 5432 -U postgres -Fc -d DB -f runbook.dump`,
  `pg_restore --list runbook.dump`, `migrate -path M -database URL up` (the real golang-migrate),
  `curl -fsS -o /dev/null URL`. It is the runbook's own procedure (docs/runbook.md); the release does
  more: its backup is proven by a real restore with the row counts compared, where `pg_restore --list`
  reads only the table of contents; it also lints, checks, locks and records.
- The reference column is the same runbook with `pg_dump -Fc -Z 0` (not the runbook's command): the
  fastest dump pg_dump 15 makes here, at the price of an uncompressed file. It shows how much of the
  ratio comes from the compression (zlib level 6 in `pg_dump -Fc`, zstd level 1 in safemigrate) and what
  the full restore costs against a listing.
- The load is the machine's own, from `os.getloadavg()` and `/proc/stat` around each measured run.
"""


def mb(runs: list[Run]) -> str:
    return f"{med([float(r.backup_bytes) for r in runs]) / 1e6:,.0f} MB"


def write_docs(section: str) -> None:
    path = REPO / "docs" / "benchmarks.md"
    text = path.read_text()
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        text = head + section + tail
    else:
        text = text.rstrip() + "\n\n## Release\n\n" + section + "\n"
    path.write_text(text)


def versions_of(admin_url: str, migrate_version: str) -> dict[str, str]:
    def first_line(argv: list[str]) -> str:
        proc = subprocess.run(argv, capture_output=True, text=True)
        return (proc.stdout or proc.stderr).splitlines()[0].strip()

    return {"server": psql(admin_url, "SHOW server_version"), "pg_dump": first_line(["pg_dump", "--version"]),
            "pg_restore": first_line(["pg_restore", "--version"]), "migrate": migrate_version,
            "curl": first_line(["curl", "--version"]).split(" (")[0] if shutil.which("curl") else "urllib"}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        migrate_version = check_migrate(args.migrate)
        check_tools()
        setup(args.admin_url, args.database, args.size_mb)
        db_size = int(psql(with_db(args.admin_url, args.database), "SELECT pg_database_size(current_database())"))
        (REPO / "bench" / ".work").mkdir(parents=True, exist_ok=True)  # git-ignored
        work = Path(tempfile.mkdtemp(prefix="release-", dir=REPO / "bench" / ".work"))
        server, health = start_health_server()
        try:
            results, load = bench(args, work, health)
        finally:
            server.shutdown()
            shutil.rmtree(work, ignore_errors=True)
        section = render(args, results, load, versions_of(args.admin_url, migrate_version), db_size)
    except BenchError as exc:
        print(f"release_bench: {exc}", file=sys.stderr)
        return 2
    print(section)
    if args.write_docs:
        write_docs(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
