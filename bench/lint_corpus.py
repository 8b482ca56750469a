"""Compare our linter with squawk, finding by finding, on folders of real migrations (issue 9).

Runs ``safemigrate lint --format json`` and squawk (``--reporter json``) on the
same ``.sql`` files of each folder given, maps squawk's rules to ours (the
``squawk=`` names of our rules, the table in docs/lint.md), and matches
findings per file: a squawk finding is *agreed* when one of our findings of a
mapped rule lies in the same statement (or on the same line); the rest are
*squawk-only* (a miss of ours, or a false alarm of squawk's: review them) and
our unmatched findings of mapped rules are *ours-only*. Rules with no squawk
counterpart are counted apart.

Nothing is downloaded when it runs: point it at folders you extracted (see
tests/lint/corpora.md for the repositories, commits and paths used). squawk
comes from npm, into the git-ignored bench/.work:

    npm install --prefix bench/.work squawk-cli
    .venv/bin/python bench/lint_corpus.py /work/corpora/ente /work/corpora/harbor /work/corpora/flipt \\
        /work/corpora/supabase /work/corpora/mattermost --causes \\
        [--list squawk-only|ours-only|agreed|all] [--rule RULE] [--json]

``--causes`` sorts the squawk-only findings into deliberate differences (each
cause checked on the file: the runner wraps it, the up file created what the down
file drops, the column is no key, ...) and misses of ours. Files not named like
golang-migrate's (Supabase's dbmate files) are linted by name. Only PostgreSQL
folders make sense (squawk reads PostgreSQL only).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "bench" / ".work"
SAFEMIGRATE = REPO / ".venv" / "bin" / "safemigrate"


@dataclass(frozen=True)
class Found:
    path: str
    rule: str
    line: int
    first: int  # first and last line of the statement that holds it
    last: int
    message: str

    def show(self) -> str:
        return f"{self.path}:{self.line}: {self.rule}: {self.message[:110]}"


@dataclass
class Comparison:
    agreed: list[tuple[Found, Found]] = field(default_factory=list)  # (squawk's, ours)
    squawk_only: list[Found] = field(default_factory=list)
    ours_only: list[Found] = field(default_factory=list)
    ours_unmapped: list[Found] = field(default_factory=list)  # rules squawk has no counterpart for
    squawk_unmapped: list[Found] = field(default_factory=list)
    files: int = 0
    named: int = 0  # files not named like golang-migrate's, linted by name


def squawk_binary() -> Path:
    found = sorted((WORK / "node_modules" / "@squawk-cli").glob("*/bin/squawk"))
    if not found:
        raise SystemExit("squawk is not installed: npm install --prefix bench/.work squawk-cli")
    return found[0]


def rule_mapping() -> dict[str, set[str]]:
    """squawk rule -> our rules that cover it (from each rule's ``squawk=`` names)."""
    sys.path.insert(0, str(REPO / "src"))
    from safemigrate.lint import all_rules

    mapping: dict[str, set[str]] = defaultdict(set)
    for rule_id, rule in all_rules().items():
        for name in rule.squawk:
            mapping[name].add(rule_id)
    return mapping


def run_ours(folder: Path, files: list[Path]) -> list[Found]:
    """Our findings on the folder; files not named like golang-migrate's (dbmate's, Supabase's
    VERSION_name.sql) are given by name, as a folder read skips them."""
    others = [str(f) for f in files if not _is_migration(f)]
    paths = others if len(others) == len(files) else [str(folder), *others]
    proc = subprocess.run([str(SAFEMIGRATE), "lint", "--format", "json", *paths],
                          capture_output=True, text=True, check=False)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"safemigrate lint {folder} exited {proc.returncode}: {proc.stderr[-400:]}")
    out: list[Found] = []
    for item in json.loads(proc.stdout)["findings"]:
        first = item.get("statement_line") or item["line"]
        last = first + (item.get("statement") or "").count("\n")
        out.append(Found(str(Path(item["path"]).resolve()), item["rule_id"], item["line"], first,
                         max(last, item["line"]), item["message"]))
    return out


def run_squawk(files: list[Path]) -> list[Found]:
    if not files:
        return []
    proc = subprocess.run([str(squawk_binary()), "--reporter", "json", *map(str, files)],
                          capture_output=True, text=True, check=False)
    data: list[dict[str, Any]] = json.loads(proc.stdout or "[]")
    # squawk's JSON counts lines from 0.
    return [Found(str(Path(item["file"]).resolve()), item["rule_name"], item["line"] + 1, item["line"] + 1,
                  (item.get("line_end") or item["line"]) + 1, item["message"]) for item in data]


# squawk reports some constructs under a second rule that ours reports under one: a UNIQUE or
# PRIMARY KEY added to a table is also "constraint-missing-not-valid" to squawk (it cannot be
# NOT VALID; ours says to build the index first).
_ALSO = {"constraint-missing-not-valid": {"add-unique-without-index", "add-primary-key-without-index"}}
# squawk rules about one column: matched line by line, never just by statement (a CREATE TABLE
# has many columns, and squawk's finding on one must not be taken for ours on another).
_COLUMN_RULES = {"prefer-bigint-over-int", "prefer-bigint-over-smallint", "prefer-text-field",
                 "prefer-timestamp-tz", "ban-char-field", "prefer-identity", "adding-required-field",
                 "adding-field-with-default", "adding-serial-primary-key-field", "identifier-too-long"}
# Rules both tools report once per file, each at the statement it judges first: matched by file.
_PER_FILE = {"syntax-error", "require-lock-timeout", "require-statement-timeout", "require-timeout-settings"}


def compare(ours: list[Found], theirs: list[Found], mapping: dict[str, set[str]]) -> Comparison:
    """Match each squawk finding to one of ours of a mapped rule in the same statement.

    One finding of ours can answer one finding of each squawk rule (squawk may report one
    construct under two rules); syntax errors and the once-per-file timeout rules match by
    file, as the tools pick different statements for them.
    """
    result = Comparison()
    mapped_ours = {r for rules in mapping.values() for r in rules}
    pool: dict[str, list[Found]] = defaultdict(list)
    for found in ours:
        if found.rule in mapped_ours:
            pool[found.path].append(found)
        else:
            result.ours_unmapped.append(found)
    used: set[tuple[int, str]] = set()
    matched: set[int] = set()
    for found in sorted(theirs, key=lambda f: (f.path, f.line)):
        targets = mapping.get(found.rule)
        if not targets:
            result.squawk_unmapped.append(found)
            continue
        targets = targets | _ALSO.get(found.rule, set())

        def fits(o: Found, exact: bool, squawk: Found = found, wanted: set[str] = targets) -> bool:
            if (id(o), squawk.rule) in used or o.rule not in wanted:
                return False
            if squawk.rule in _PER_FILE or o.line == squawk.line:
                return True
            # Otherwise the same statement (the tools point at different words of it).
            return not exact and o.first <= squawk.line <= o.last and squawk.rule not in _COLUMN_RULES

        candidates = pool[found.path]
        match = next((o for o in candidates if fits(o, True)), None) or next(
            (o for o in candidates if fits(o, False)), None)
        if match is None:
            result.squawk_only.append(found)
        else:
            used.add((id(match), found.rule))
            matched.add(id(match))
            result.agreed.append((found, match))
    result.ours_only = [o for group in pool.values() for o in group if id(o) not in matched]
    return result


def compare_folders(folders: list[Path]) -> Comparison:
    mapping = rule_mapping()
    total = Comparison()
    for folder in folders:
        files = sorted(p.resolve() for p in folder.glob("*.sql"))
        ours = run_ours(folder, files)
        part = compare(ours, run_squawk(files), mapping)
        total.files += len(files)
        total.agreed += part.agreed
        total.squawk_only += part.squawk_only
        total.ours_only += part.ours_only
        total.ours_unmapped += part.ours_unmapped
        total.squawk_unmapped += part.squawk_unmapped
        total.named += sum(1 for f in files if not _is_migration(f))
    return total


def _is_migration(path: Path) -> bool:
    """golang-migrate's file names: VERSION_title.up.sql / .down.sql."""
    return re.fullmatch(r"\d+_.*\.(up|down)\.sql", path.name) is not None


def summary(result: Comparison) -> str:
    agreed, theirs, ours = len(result.agreed), len(result.squawk_only), len(result.ours_only)
    recall = agreed / (agreed + theirs) if agreed + theirs else 1.0
    lines = [f"{result.files} files; findings of rules both tools have:",
             f"  agreed       {agreed}",
             f"  squawk-only  {theirs}",
             f"  ours-only    {ours}",
             f"  recall vs squawk (agreed / all squawk's): {recall:.1%}",
             f"  squawk findings of rules we have no counterpart for: {len(result.squawk_unmapped)}",
             f"  our findings of rules squawk does not have: {len(result.ours_unmapped)}",
             "", "per squawk rule (agreed / squawk-only):"]
    by_rule: dict[str, Counter[str]] = defaultdict(Counter)
    for found, _ in result.agreed:
        by_rule[found.rule]["agreed"] += 1
    for found in result.squawk_only:
        by_rule[found.rule]["squawk-only"] += 1
    for rule, counts in sorted(by_rule.items()):
        lines.append(f"  {rule:45} {counts['agreed']:5} / {counts['squawk-only']}")
    lines.append("")
    lines.append("ours-only per rule:")
    for rule, n in Counter(f.rule for f in result.ours_only).most_common():
        lines.append(f"  {rule:45} {n:5}")
    if result.named:
        lines.append(f"\n{result.named} .sql files are not named like golang-migrate's: linted by name")
    return "\n".join(lines)


# -- why squawk reports what we do not ----------------------------------------------------

_DELIBERATE = "deliberate"
_MISSED = "missed"
_TIMEOUTS = {"require-lock-timeout", "require-statement-timeout", "require-timeout-settings"}
_DESTRUCTIVE = {"ban-drop-table", "ban-drop-column", "ban-drop-not-null", "renaming-column", "renaming-table"}
# ALTER TABLE sub-commands that succeed when run again (a re-run after a failure does not stop there).
_RERUNNABLE = {"AT_AlterColumnType", "AT_ColumnDefault", "AT_SetNotNull", "AT_DropNotNull",
               "AT_SetStatistics", "AT_SetOptions", "AT_ResetOptions", "AT_SetRelOptions",
               "AT_ResetRelOptions", "AT_ChangeOwner", "AT_EnableRowSecurity", "AT_DisableRowSecurity",
               "AT_ForceRowSecurity", "AT_NoForceRowSecurity", "AT_ReplicaIdentity", "AT_SetStorage",
               "AT_ValidateConstraint", "AT_EnableTrig", "AT_DisableTrig", "AT_SetLogged", "AT_SetUnLogged"}
_SERIAL = {"serial", "serial4", "serial8", "bigserial", "smallserial", "serial2"}


@dataclass
class _File:
    """A file's analysis, kept for the squawk-only findings in it."""

    ctx: Any
    text: str
    partner: Any = None  # for a down file: the analysis context of its up file


def classify(result: Comparison) -> list[tuple[str, str, Found]]:
    """(deliberate|missed, cause, finding) for each squawk-only finding.

    Each cause is checked on the file itself, not guessed from the rule: files our
    runner makes atomic or statements a re-run passes, down files undoing what their
    up file created, columns that are not keys, objects a plain CREATE earlier in the
    file made (new and empty), statements that lock nothing readers or writers wait
    for. Whatever no cause explains is a miss of ours.
    """
    sys.path.insert(0, str(REPO / "src"))
    from safemigrate.lint.engine import Linter, SourceFile

    linter = Linter("postgres")
    files: dict[str, _File] = {}

    def load(path: str) -> _File:
        if path not in files:
            text = Path(path).read_text("utf-8")
            files[path] = _File(linter.analyze(SourceFile(path, text)).ctx, text)
            up = _up_file(Path(path))
            if up is not None:
                files[path].partner = linter.analyze(SourceFile(str(up), up.read_text("utf-8"))).ctx
        return files[path]

    out: list[tuple[str, str, Found]] = []
    for found in result.squawk_only:
        file = load(found.path)
        stmt = next((s for s in file.ctx.statements if s.line <= found.line <= s.end_line), None)
        out.append((*_cause(found, file, stmt), found))
    return out


def _up_file(down: Path) -> Path | None:
    """A down file's up file: the same version (golang-migrate pairs by version, not title)."""
    if not down.name.endswith(".down.sql"):
        return None
    version = down.name.split("_", 1)[0]
    return next(iter(sorted(down.parent.glob(f"{version}_*.up.sql"))), None)


def _cause(found: Found, file: _File, stmt: Any) -> tuple[str, str]:
    rule, ctx = found.rule, file.ctx
    if rule == "syntax-error":
        problems = sum(1 for s in ctx.statements if s.kind == "syntax-error") or ctx.syntax_problems
        return ((_DELIBERATE, "a second syntax error in a statement we report as one") if problems
                else (_MISSED, "syntax-error"))
    if rule in _TIMEOUTS:
        return _timeout_cause(found, file, stmt)
    if stmt is None:
        return _MISSED, f"{rule}: no statement of ours at that line"
    if rule == "prefer-robust-stmts":
        return _robust_cause(stmt, ctx)
    if rule.startswith("prefer-bigint"):
        if _is_key_column(stmt, found.line, ctx):
            return _MISSED, f"{rule} on a key column"
        return _DELIBERATE, "prefer-bigint on a column that is not a key (primary key, identity, serial)"
    if rule in _DESTRUCTIVE and file.partner is not None and _undoes(stmt, file.partner):
        return _DELIBERATE, f"{rule} in a down file, on what its up file created"
    if rule in ("renaming-column", "ban-drop-not-null") and _own_new_column(stmt, ctx):
        return _DELIBERATE, f"{rule} on a column the same file added"
    if rule == "identifier-too-long" and stmt.kind == "DropStmt":
        return _DELIBERATE, "identifier-too-long on a DROP (reported where the name is defined)"
    table = _table_of(stmt)
    if table and _made_before(ctx.new.tables.get(table), stmt):
        return _DELIBERATE, f"{rule} on a table a plain CREATE TABLE earlier in the file made"
    return _MISSED, f"{rule} on {stmt.kind}"


def _made_before(line: int | None, stmt: Any) -> bool:
    return line is not None and line <= stmt.line


def _timeout_cause(found: Found, file: _File, stmt: Any) -> tuple[str, str]:
    """Ours reports once per file: squawk-only means no statement of the file makes anyone wait."""
    from safemigrate.lint.rules._helpers import statement_locks_of

    ctx = file.ctx
    for other in ctx.statements:
        for lock in statement_locks_of(other):
            if lock.blocks and not _lock_on_new(lock, other, ctx):
                return _MISSED, f"{found.rule}: {other.kind} at line {other.line} locks {lock.describe()}"
    timeouts = "require-*-timeout"  # squawk's two (or three) timeout rules, one cause
    locks = statement_locks_of(stmt) if stmt is not None else ()
    if any(lock.blocks for lock in locks):
        return _DELIBERATE, f"{timeouts} on an object a plain CREATE earlier in the file made"
    if locks:
        return _DELIBERATE, (f"{timeouts} on a SHARE UPDATE EXCLUSIVE lock (CONCURRENTLY, storage "
                             "parameters): no read or write waits")
    return _DELIBERATE, (f"{timeouts} on a statement that locks no relation readers or writers use "
                         "(ALTER TYPE ... ADD VALUE, CREATE FUNCTION, CREATE TYPE, roles, privileges, "
                         "schemas, event triggers)")


def _lock_on_new(lock: Any, stmt: Any, ctx: Any) -> bool:
    new = ctx.new
    if lock.kind == "table":
        return _made_before(new.tables.get(lock.relation), stmt)
    if lock.kind in ("view", "sequence"):
        return _made_before(new.others.get((lock.kind, lock.relation)), stmt)
    if lock.kind in ("index", "index-table"):
        entry = new.indexes.get(lock.relation)
        return entry is not None and (lock.kind == "index" or _made_before(new.tables.get(entry[0]), stmt))
    return False  # "others": relations the text does not name, reviewed by hand


def _robust_cause(stmt: Any, ctx: Any) -> tuple[str, str]:
    from safemigrate.lint.pgnodes import alter_cmds
    from safemigrate.lint.rules.runbook import _left_applied_by_a_later_failure

    if ctx.wrapped:
        return _DELIBERATE, "prefer-robust-stmts in a file our runner runs in one transaction"
    if stmt.kind == "AlterTableStmt" and all(
            c.get("subtype", "AT_AddColumn") in _RERUNNABLE for c in alter_cmds(stmt.node)):
        return _DELIBERATE, "prefer-robust-stmts on an ALTER TABLE that succeeds when run again"
    ctx.index = stmt.index
    ctx.tx_open = _inside_own_block(stmt, ctx)
    if not _left_applied_by_a_later_failure(stmt, ctx):
        return _DELIBERATE, "prefer-robust-stmts on a statement a failure rolls back (own block, last change)"
    return _MISSED, f"prefer-robust-stmts on {stmt.kind} in a file that is not atomic"


def _inside_own_block(stmt: Any, ctx: Any) -> bool:
    open_ = False
    for other in ctx.statements[: stmt.index]:
        if other.facts.tx == "begin":
            open_ = True
        elif other.facts.tx in ("commit", "rollback"):
            open_ = False
    return open_


def _is_key_column(stmt: Any, line: int, ctx: Any) -> bool:
    """Whether the integer column squawk points at is a primary key, identity or serial column."""
    from safemigrate.lint.pgnodes import column_constraints, type_name, unwrap
    from safemigrate.lint.rules._helpers import column_defs

    keys: set[str] = set()
    for element in stmt.node.get("tableElts") or ():
        kind, fields = unwrap(element)
        if kind == "Constraint" and fields.get("contype") == "CONSTR_PRIMARY":
            keys.update(unwrap(k)[1].get("sval", "") for k in fields.get("keys") or ())
    for _table, coldef, _new in column_defs(stmt):
        offset = ctx.char_offset(stmt, coldef)
        if offset is None or ctx.source.text.count("\n", 0, offset) + 1 != line:
            continue
        kinds = {c.get("contype") for c in column_constraints(coldef)}
        if kinds & {"CONSTR_PRIMARY", "CONSTR_IDENTITY"} or coldef.get("colname") in keys:
            return True
        if type_name(coldef.get("typeName")) in _SERIAL:
            return True
    return False


def _undoes(stmt: Any, up: Any) -> bool:
    """Whether a down file's statement drops or renames what its up file created."""
    from safemigrate.lint.pgnodes import alter_cmds, drop_object_names, relname

    created = up.created
    if stmt.kind == "DropStmt":
        return all(name in created.tables or ("view", name) in created.others
                   for name in drop_object_names(stmt.node))
    table = relname(stmt.node.get("relation"))
    if table in created.tables:
        return True
    if stmt.kind == "AlterTableStmt":
        return all((table, c.get("name", "")) in created.columns for c in alter_cmds(stmt.node)
                   if c.get("subtype") in ("AT_DropColumn", "AT_DropNotNull"))
    if stmt.kind == "RenameStmt":
        return (table, stmt.node.get("subname", "")) in created.columns
    return False


def _own_new_column(stmt: Any, ctx: Any) -> bool:
    from safemigrate.lint.pgnodes import alter_cmds, relname

    table = relname(stmt.node.get("relation"))
    if stmt.kind == "RenameStmt":
        names = [stmt.node.get("newname", "")]  # the file's columns follow their renames
    else:
        names = [c.get("name", "") for c in alter_cmds(stmt.node) if c.get("subtype") == "AT_DropNotNull"]
    return bool(names) and all(_made_before(ctx.new.columns.get((table, n)), stmt) for n in names)


def _table_of(stmt: Any) -> str:
    node = stmt.node
    relation = node.get("relation") or {}
    return str(relation.get("relname", "")).lower() if isinstance(relation, dict) else ""


def causes(result: Comparison) -> str:
    sorted_out = classify(result)
    counts = Counter((kind, cause) for kind, cause, _ in sorted_out)
    agreed = len(result.agreed)
    missed = sum(n for (kind, _), n in counts.items() if kind == _MISSED)
    deliberate = sum(n for (kind, _), n in counts.items() if kind == _DELIBERATE)
    lines = ["", "squawk-only by cause (each checked on the file; review the lists):",
             f"  deliberate or squawk's false alarm: {deliberate}",
             f"  real, missed by us: {missed}",
             f"  recall against squawk's real findings: {agreed / (agreed + missed):.1%}"
             if agreed + missed else "  recall: no findings"]
    for (kind, cause), n in sorted(counts.items(), key=lambda item: (item[0][0], -item[1])):
        lines.append(f"  {kind:10} {n:5}  {cause}")
    lines.append(f"ours-only: {len(result.ours_only)} (review them: --list ours-only); a tenth of "
                 f"squawk's false alarms and deliberate differences: {deliberate / 10:.0f}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--list", choices=["squawk-only", "ours-only", "agreed", "all"])
    parser.add_argument("--rule", help="only list findings of this rule (squawk's or ours)")
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")
    parser.add_argument("--causes", action="store_true",
                        help="sort the squawk-only findings by cause (deliberate or missed)")
    args = parser.parse_args()
    for folder in args.folders:
        if not folder.is_dir():
            raise SystemExit(f"{folder} is not a folder")
    result = compare_folders(args.folders)
    if args.json:
        print(json.dumps({"files": result.files, "agreed": len(result.agreed),
                          "squawk_only": len(result.squawk_only), "ours_only": len(result.ours_only)}))
    else:
        print(summary(result))
    if args.causes:
        print(causes(result))
    wanted = args.list
    def keep(found: Found) -> bool:
        return args.rule is None or found.rule == args.rule
    if wanted in ("squawk-only", "all"):
        print("\nsquawk-only:")
        print("\n".join(f"  {f.show()}" for f in result.squawk_only if keep(f)))
    if wanted in ("ours-only", "all"):
        print("\nours-only:")
        print("\n".join(f"  {f.show()}" for f in result.ours_only if keep(f)))
    if wanted in ("agreed", "all"):
        print("\nagreed:")
        print("\n".join(f"  {s.show()}  <->  {o.rule}" for s, o in result.agreed if keep(s) or keep(o)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
