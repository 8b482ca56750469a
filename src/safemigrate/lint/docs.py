"""Generate docs/lint.md from the rules' own metadata (a test keeps the committed file current).

Run ``python -m safemigrate.lint.docs docs/lint.md`` after changing a rule.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from .registry import DIALECTS, Rule, all_rules

__all__ = ["SQUAWK_RULES", "render_markdown"]

# squawk 2.66.0's rules (the names its --exclude accepts, plus its always-on syntax-error
# and unused-ignore): whether it reports them without --include, and notes on how ours differ.
SQUAWK_RULES: dict[str, tuple[bool, str]] = {
    "adding-field-with-default": (True, ""),
    "adding-foreign-key-constraint": (True, ""),
    "adding-not-nullable-field": (True, "also on a column the same file added; a CHECK (col IS NOT NULL) validated in this file or an earlier migration of the folder makes it safe on PostgreSQL 12+"),
    "adding-required-field": (True, ""),
    "adding-serial-primary-key-field": (True, ""),
    "ban-alter-domain-with-add-constraint": (True, ""),
    "ban-char-field": (True, ""),
    "ban-concurrent-index-creation-in-transaction": (True, ""),
    "ban-create-domain-with-constraint": (True, ""),
    "ban-drop-column": (True, "not in a down file on a column its up file (paired by version) added, nor on a table a plain CREATE TABLE earlier in the file made; both follow renames"),
    "ban-drop-database": (True, ""),
    "ban-drop-not-null": (True, "not on a column the same file, or (down file) its up file, added"),
    "ban-drop-table": (True, "not in a down file on a table its up file created (also IF NOT EXISTS), nor on one a plain CREATE TABLE earlier in the file made"),
    "ban-duplicate-column-assignments": (True, ""),
    "ban-truncate-cascade": (True, "we report every TRUNCATE, and say when CASCADE widens it"),
    "ban-uncommitted-transaction": (True, ""),
    "changing-column-type": (True, ""),
    "constraint-missing-not-valid": (True, ""),
    "disallowed-unique-constraint": (True, ""),
    "identifier-too-long": (True, "reported where the name is defined, not on a DROP that names it; every named object (tables, columns, indexes, constraints, triggers, sequences, policies, functions, ...); names come from the parse tree and PostgreSQL's scanner, never from comments or strings"),
    "prefer-bigint-over-int": (True, "narrowed to key columns (primary key, identity, serial), where overflow happens"),
    "prefer-bigint-over-smallint": (True, "narrowed to key columns (primary key, identity, serial), where overflow happens"),
    "prefer-identity": (True, ""),
    "prefer-repack": (False, ""),
    "prefer-robust-stmts": (True, "only where a re-run after a failure would stop: a file our runner wraps in one transaction, a statement inside the file's own BEGIN ... COMMIT with nothing after the COMMIT, and the last statement are rolled back with the failure; ALTER TABLE sub-commands that succeed when run again (ALTER COLUMN ... TYPE, SET DEFAULT, SET/DROP NOT NULL, ...) are not reported"),
    "prefer-text-field": (True, ""),
    "prefer-timestamp-tz": (True, "timestamp only: time columns are left alone (PostgreSQL's documentation discourages timetz)"),
    "renaming-column": (True, "not on a column the same file added (renamed before anyone reads it)"),
    "renaming-table": (True, ""),
    "require-concurrent-index-creation": (True, "not on a table a plain CREATE TABLE earlier in the same file made (new and empty); CREATE TABLE IF NOT EXISTS may meet one with data and does not count"),
    "require-concurrent-index-deletion": (True, ""),
    "require-concurrent-partition-detach": (True, ""),
    "require-concurrent-reindex": (True, ""),
    "require-enum-value-ordering": (True, ""),
    "require-lock-timeout": (True, "before the first statement whose lock makes reads or writes wait, as probed on a real server (DROP EXTENSION counts: it drops the extension's tables and views); squawk reports any DDL, also statements that lock no relation readers or writers use (CREATE FUNCTION, CREATE TYPE, ALTER TYPE ... ADD VALUE, COMMENT, roles, privileges, schemas, event triggers), SHARE UPDATE EXCLUSIVE locks (CREATE/DROP INDEX CONCURRENTLY, storage parameters) and tables the file creates, which make nobody wait"),
    "require-statement-timeout": (True, "information only: long, deliberate statements legitimately need no limit"),
    "require-table-schema": (False, "not covered: schema-qualifying every name is a style choice (opt-in in squawk too)"),
    "require-timeout-settings": (True, "as `require-lock-timeout`"),
    "syntax-error": (True, "always on in both; one per statement, and we keep linting the rest of the file where squawk stops at the first error"),
    "transaction-nesting": (True, ""),
    "unused-ignore": (True, "always on in both"),
}

_FAMILIES = {
    "destructive": "Destroying data or breaking running code",
    "locking": "Locks, rewrites and scans",
    "types": "Column types",
    "transactions": "Transactions",
    "runbook": "The runbook's rules",
    "downfiles": "Down files",
    "correctness": "Statements that fail or misbehave",
    "psql": "psql-only syntax",
    "meta": "Syntax errors and acknowledgements",
}

_INTRO = """\
# Linting migrations

`safemigrate lint` checks migration files for operations that lock, rewrite or
destroy, the review the runbook asks for before every migration ("review
migration SQL for dangerous operations"), made automatic.

```sh
safemigrate lint                        # the -path folder (default ./migrations)
safemigrate lint db/migrations/000042_add_plan.up.sql
safemigrate lint --format sarif > lint.sarif      # GitHub code scanning
safemigrate lint --format github                  # workflow annotations
safemigrate lint --pg-version 12 --fail-on warning
safemigrate -database "$DATABASE_URL" lint        # dialect from the URL scheme
```

A folder is read like golang-migrate reads it (its `VERSION_name.up.sql` and
`.down.sql` files, not sub-folders); files given by name are linted whatever
their name, and a migration file's other half is read from its folder for the
down-file rules. `--jobs N` sets how many processes lint (default: one per CPU,
busy or not, once there are about 200 files' worth of SQL, counting each file once
and once more per KB; one process per 100 of those below that many CPUs).

* **Exit status**: 1 when a finding is at least `--fail-on` severe (default
  `error`), 0 otherwise, 2 for usage errors (a missing path, a bad option or config).
* **Formats**: `text` (the source line with a caret under the construct, and how
  to fix it), `json`, `sarif` (SARIF 2.1.0), `github` (`::error file=...,line=...::`).
* **Dialect**: `--dialect postgres|sqlite|mysql`; by default taken from the
  `-database` URL (or `$DATABASE_URL`) scheme, else PostgreSQL.
* **PostgreSQL version**: `--pg-version N` (or `pg-version` in the config).
  Without it the linter assumes a current PostgreSQL; version-dependent rules
  (defaults before 11, `SET NOT NULL` with a validated check from 12, the
  `CONCURRENTLY` forms of REINDEX (12) and DETACH PARTITION (14)) follow it.
* **Before `plan`, `up` and `goto`** the engine lints the files about to run
  (never those already applied) with `safemigrate.lint.lint_migrations`. It
  prints one summary line, every error-level finding in full, and one line per
  other severity saying how many findings it did not show and from which rules;
  `--lint-details` prints them all (so does `safemigrate lint`), `--format json`
  carries them all in its `lint` key. Findings block only with `--strict`.
* **pre-commit**: the repository ships `.pre-commit-hooks.yaml` (hook id
  `safemigrate-lint`).

## How it reads the SQL

PostgreSQL files are parsed with PostgreSQL's own grammar (libpg_query, through
pglast), so every finding has an exact line and column. A statement that does
not parse is reported (`syntax-error`) and the rest of the file is still
linted: the file is split at its top-level semicolons by PostgreSQL's scanner
and each piece is parsed on its own. SQLite and MySQL files are split by the
same splitters the runner uses (SQLite's own tokenizer; MySQL's with
`DELIMITER` and executable comments) and read with a tokenizer that knows each
dialect's quoting and comments.

Context cuts false positives:

* **Objects created earlier in the same file** are new and unused: an index
  on, a column added to, or a constraint on a table the file created is not a
  locking problem; dropping or renaming them destroys nothing. Only a plain
  `CREATE` makes an object new: `CREATE TABLE IF NOT EXISTS`, `ADD COLUMN IF
  NOT EXISTS`, `CREATE INDEX IF NOT EXISTS` and `CREATE OR REPLACE` say it may
  already exist, with data and in use (projects such as Mattermost run their
  early migrations against databases older releases created), so they are
  linted like changes to an existing object. A column the file added is new,
  but its table is not: what scans or rewrites the table (`SET NOT NULL`, a
  type change) is still reported. A table or column the file created stays its
  own after `RENAME`, under its new name.
* **Earlier migrations of the folder**: the `CHECK (col IS NOT NULL)`
  constraints they added and validated, and the columns they set NOT NULL,
  are known to later files (when linting a folder, a single file, or the
  engine's pending files), so the PostgreSQL 12+ pattern for `SET NOT NULL`
  spread over several migrations is recognised.
* **Locks**: which lock each statement takes on which relation follows what a
  real PostgreSQL server takes (probed in `tests/lint/test_lock_probe.py`), for
  views, sequences, domains, triggers, policies and rules as well as tables.
* **Down files** that drop what their up file created (with IF NOT EXISTS
  too, and under the name the up file renamed it to) are undoing it, not
  destroying data.
* **Whether our runner wraps the file in one transaction** (it does unless the
  file holds a statement that cannot run in a transaction, its own
  BEGIN/COMMIT, or the `-- safemigrate:no-transaction` marker): `SET LOCAL`
  only lasts for its transaction, `VALIDATE` in the transaction that added the
  constraint holds the strong lock, re-running a non-atomic file meets what
  it already created.
* **The target PostgreSQL version** (above).

## Acknowledging a finding

```sql
DROP TABLE audit_log;  -- safemigrate:ignore drop-table -- archived to S3 in OPS-1234

-- safemigrate:ignore prefer-identity, prefer-bigint-key -- the ORM needs serial
CREATE TABLE legacy (id serial PRIMARY KEY);

-- safemigrate:ignore-file lock-timeout-missing -- the deploy role sets lock_timeout
```

A `safemigrate:ignore` comment after code acknowledges that statement; alone on
its line it acknowledges the next statement. `safemigrate:ignore-file` applies
to the whole file. The reason after the second `--` is for reviewers. An
acknowledgement that matches no finding is reported itself (`unused-ignore`).

Project-wide settings live in `.safemigrate.toml` (table `[lint]`) or
`pyproject.toml` (table `[tool.safemigrate.lint]`), the nearest one from the
current folder upwards (or `--config FILE`):

```toml
[tool.safemigrate.lint]
ignore = ["statement-timeout-missing"]     # never reported
fail-on = "warning"                        # error (default) or warning
pg-version = 15
[tool.safemigrate.lint.per-file-ignores]
"00000[1-9]_*" = ["prefer-identity"]       # glob on the path or the file name
```

A rule id in the config that does not exist is reported as a warning.
"""


# Measured with bench/lint_corpus.py; the review of every squawk-only finding is summarised here.
_SQUAWK_CORPUS = """## Compared with squawk on real migrations

Both linters were run on 398 PostgreSQL migration files of five open-source
projects that nobody here wrote (Ente's 248, Harbor's 39, Flipt's 17, Supabase
Postgres's 30, Mattermost's first 64 schema migrations; the repositories,
licences, commits and paths are in tests/lint/corpora.md) and their findings
matched per file and statement through the table above:

```sh
npm install --prefix bench/.work squawk-cli
.venv/bin/python bench/lint_corpus.py /work/corpora/ente /work/corpora/harbor /work/corpora/flipt \\
    /work/corpora/supabase /work/corpora/mattermost --causes --list squawk-only
```

| | findings |
| --- | --- |
| squawk's findings of rules we have too | 2,652 |
| agreed (ours in the same statement) | 1,828 |
| squawk-only, real, missed by us | **0** |
| squawk-only, reviewed: squawk's false alarms or a deliberate difference (below) | 824 |
| ours-only (reviewed: real; 0 false alarms) | 3 |
| ours, of rules squawk does not have (`missing-down-file`, `ddl-and-dml-mixed`, `update-without-where`, ...) | 165 |

Recall against squawk's real findings: 1,828 of 1,828, **100%** (89.1% before
issue 9's fixes, on the first three projects). Our false alarms: 0 among the 3
ours-only findings (a `DROP SEQUENCE` inside a block a later failure leaves
committed, and the missing lock_timeout and statement_timeout of a Mattermost
down file whose first statement squawk stops at: MySQL's `DROP INDEX ... ON`), against squawk's 824: at most a tenth (82) is the
goal. The review of our findings of rules squawk does not have found one false
alarm, fixed: `down-does-not-undo` did not follow an up file's `RENAME COLUMN`
(Ente 90). It also found two real bugs in Mattermost's down files: they drop
`groupchanels` and `theadmemberships`, not the tables their up files create.
`--causes` checks each cause below on the file itself; the lists are for a
reviewer to confirm.

The 824 deliberate differences (squawk reports them, we do not, on purpose), by cause:

* 411 `prefer-robust-stmts` where a re-run after a failure cannot stop: 393 in
  files our runner runs in one transaction, 18 `ALTER COLUMN ... TYPE` that
  succeed when run again.
* 188 `ban-drop-table`, `ban-drop-column`, `ban-drop-not-null` in down files on
  what their up file created (paired by version, as golang-migrate pairs them).
* 136 `prefer-bigint-over-int` / `-smallint` on columns that are not keys (a
  primary key, identity or serial column is where an int overflows).
* 68 `require-lock-timeout` / `require-statement-timeout` in files where no
  statement makes a reader or writer wait: 50 on statements that lock no relation
  queries use (`ALTER TYPE ... ADD VALUE`, `CREATE FUNCTION`, `CREATE TYPE`,
  `ALTER ROLE`, `ALTER DEFAULT PRIVILEGES`, `CREATE SCHEMA`, event triggers,
  function owners: probed in tests/lint/test_lock_probe.py), 16 on SHARE UPDATE
  EXCLUSIVE locks (`CREATE`/`DROP INDEX CONCURRENTLY`, autovacuum storage
  parameters), 2 on a table the file created.
* 14 `require-concurrent-index-creation` on tables a plain `CREATE TABLE` earlier
  in the file made (new and empty).
* 4 second syntax errors in one statement (we report one per statement), 2
  renames of a column the same file added, 1 `identifier-too-long` on a `DROP` of
  a long name (we report the name where the `CREATE TRIGGER` defines it).

Not measured: Coder and the Mattermost main line, part of the first comparison
in issue 9, could not be fetched (tests/lint/corpora.md says why); their misses
then (`CREATE TABLE IF NOT EXISTS` tables taken for new ones, `SET NOT NULL` on a
column the file added, locks on views, sequences and triggers) are fixed and
tested in tests/lint/test_lint_newness.py and test_lint_locks.py.
"""


def _dialect_table(rules: list[Rule]) -> str:
    lines = ["| rule | severity | " + " | ".join(d if d != "postgres" else "PostgreSQL" for d in DIALECTS) + " |",
             "| --- | --- | " + " | ".join("---" for _ in DIALECTS) + " |"]
    for found in rules:
        marks = " | ".join("yes" if found.runs_on(d) else "" for d in DIALECTS)
        lines.append(f"| [`{found.id}`](#{found.id}) | {found.severity.value} | {marks} |")
    return "\n".join(lines).replace("| sqlite |", "| SQLite |").replace("| mysql |", "| MySQL |")


def _squawk_table(rules: Mapping[str, Rule]) -> str:
    covered: dict[str, list[str]] = {}
    for found in rules.values():
        for name in found.squawk:
            covered.setdefault(name, []).append(found.id)
    lines = ["| squawk rule | on by default in squawk | our rule(s) | notes |", "| --- | --- | --- | --- |"]
    for name, (default, note) in sorted(SQUAWK_RULES.items()):
        ours = ", ".join(f"[`{r}`](#{r})" for r in sorted(covered.get(name, []))) or "none"
        lines.append(f"| `{name}` | {'yes' if default else 'no'} | {ours} | {note} |")
    return "\n".join(lines)


def _rule_section(found: Rule) -> str:
    dialects = ", ".join({"postgres": "PostgreSQL", "sqlite": "SQLite", "mysql": "MySQL"}[d]
                         for d in found.dialects)
    parts = [f"### {found.id}", "",
             f"**{found.severity.value}**, runs on {dialects}."
             + (f" squawk: {', '.join(f'`{s}`' for s in found.squawk)}." if found.squawk else ""),
             "", found.summary + ".", "",
             "**Why:** " + " ".join(found.rationale.split()), "",
             "**Instead:** " + found.alternative.strip(), ""]
    for example in found.examples:
        label = {"postgres": "PostgreSQL", "sqlite": "SQLite", "mysql": "MySQL"}[example.dialect]
        version = f", PostgreSQL {example.pg_version}" if example.pg_version else ""
        parts += [f"Flagged ({label}{version}):", "", "```sql", example.bad.rstrip(), "```"]
        if example.paired:
            parts += ["", "with the down file:" if example.bad_down is not None else "with no down file.", ""]
            if example.bad_down is not None:
                parts += ["```sql", example.bad_down.rstrip() or "-- (empty)", "```", ""]
        else:
            parts.append("")
        parts += [f"Not flagged ({label}{version}):", "", "```sql", example.good.rstrip(), "```"]
        if example.paired and example.good_down is not None:
            parts += ["", "with the down file:", "", "```sql", example.good_down.rstrip(), "```"]
        parts.append("")
    return "\n".join(parts)


def render_markdown(rules: Mapping[str, Rule] | None = None) -> str:
    rules = rules if rules is not None else all_rules()
    ordered = sorted(rules.values(), key=lambda r: (list(_FAMILIES).index(r.family)
                                                    if r.family in _FAMILIES else 99, r.id))
    out = [_INTRO, "## Which rules run for which database", "",
           "PostgreSQL files get every rule. SQLite and MySQL files get the rules that "
           "apply to them: destructive operations, NOT NULL without a default, renames, "
           "type changes (MySQL), DDL with DML, transactions, idempotency and down files. "
           "PostgreSQL-specific locking rules (CONCURRENTLY, NOT VALID, lock_timeout) and "
           "type preferences do not run on them.", "",
           _dialect_table(ordered), "",
           "## squawk's rules and ours", "",
           "The field's reference linter is squawk (PostgreSQL only). Every rule squawk "
           "2.66.0 reports by default has a counterpart here:", "",
           _squawk_table(rules), "",
           _SQUAWK_CORPUS,
           "## Rules", ""]
    family = None
    for found in ordered:
        if found.family != family:
            family = found.family
            out += [f"## {_FAMILIES.get(family, family.capitalize())}", ""]
        out.append(_rule_section(found))
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render_markdown()
    if args:
        Path(args[0]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
