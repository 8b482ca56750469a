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
        [--list squawk-only|ours-only|agreed|all] [--rule RULE] [--json]

Only PostgreSQL folders make sense (squawk reads PostgreSQL only).
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
    skipped: list[str] = field(default_factory=list)  # files squawk reads and we do not (names)


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


def run_ours(folder: Path) -> list[Found]:
    proc = subprocess.run([str(SAFEMIGRATE), "lint", "--format", "json", str(folder)],
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
        ours = run_ours(folder)
        part = compare(ours, run_squawk(files), mapping)
        total.files += len(files)
        total.agreed += part.agreed
        total.squawk_only += part.squawk_only
        total.ours_only += part.ours_only
        total.ours_unmapped += part.ours_unmapped
        total.squawk_unmapped += part.squawk_unmapped
        total.skipped += [str(f) for f in files if not _is_migration(f)]
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
    if result.skipped:
        lines.append(f"\n{len(result.skipped)} .sql files are not golang-migrate migration names (we skip them)")
    return "\n".join(lines)


# -- why squawk reports what we do not ----------------------------------------------------

_DELIBERATE = "deliberate"
_MISSED = "missed"


def classify(result: Comparison) -> list[tuple[str, str, Found]]:
    """(deliberate|missed, cause, finding) for each squawk-only finding.

    A first sort for the reviewer, by the same causes docs/lint.md lists: files our runner
    makes atomic, down files undoing their up file, non-key integers, tables the file itself
    creates (new and empty) against tables of CREATE TABLE IF NOT EXISTS (which may hold
    data), columns the file added to an old table, and statements locking other objects.
    """
    sys.path.insert(0, str(REPO / "src"))
    from safemigrate.lint.engine import Linter, SourceFile

    linter = Linter("postgres")
    contexts: dict[str, Any] = {}
    out: list[tuple[str, str, Found]] = []
    for found in result.squawk_only:
        if found.path not in contexts:
            text = Path(found.path).read_text("utf-8")
            contexts[found.path] = (linter.analyze(SourceFile(found.path, text)).ctx, text)
        ctx, text = contexts[found.path]
        stmt = next((s for s in ctx.statements if s.line <= found.line <= s.end_line), None)
        out.append((*_cause(found, ctx, stmt, text), found))
    return out


def _cause(found: Found, ctx: Any, stmt: Any, text: str) -> tuple[str, str]:
    rule = found.rule
    down = found.path.endswith(".down.sql")
    if rule == "prefer-robust-stmts":
        if ctx.wrapped:
            return _DELIBERATE, "prefer-robust-stmts in a file our runner runs in one transaction"
        if stmt is not None and stmt.kind == "AlterTableStmt":
            return _DELIBERATE, "prefer-robust-stmts on an ALTER TABLE that succeeds when run again"
        return _MISSED, "prefer-robust-stmts in a file that is not atomic"
    if rule.startswith("prefer-bigint"):
        return _DELIBERATE, "prefer-bigint on a column that is not a key"
    if down and rule in ("ban-drop-table", "ban-drop-column", "ban-drop-not-null", "renaming-column",
                         "renaming-table"):
        return _DELIBERATE, "a down file undoing what its up file created"
    if rule == "syntax-error":
        return _DELIBERATE, "a second syntax error in one statement"
    if stmt is None:
        return _MISSED, f"{rule}: no statement of ours at that line"
    table = _table_of(stmt)
    if table and re.search(rf"(?is)create\s+table\s+if\s+not\s+exists\s+(?:\w+\.)?\"?{re.escape(table)}\b", text):
        return _MISSED, f"{rule} on a table of CREATE TABLE IF NOT EXISTS (issue 9 item 2)"
    if table and re.search(rf"(?is)create\s+table\s+(?:\w+\.)?\"?{re.escape(table)}\b", text):
        return _DELIBERATE, f"{rule} on a table the file creates"
    if rule in ("adding-not-nullable-field", "changing-column-type", "adding-foreign-key-constraint",
                "constraint-missing-not-valid") and re.search(r"(?i)add\s+column", text):
        return _MISSED, f"{rule} on a column the file added to an old table (issue 9 item 3)"
    if rule in ("require-lock-timeout", "require-statement-timeout", "require-timeout-settings"):
        return _MISSED, f"{rule} on {stmt.kind} (issue 9 item 4: locks other than tables)"
    if rule == "identifier-too-long" and stmt.kind == "DropStmt":
        return _DELIBERATE, "identifier-too-long on a DROP (reported where the name is defined)"
    if rule == "renaming-column" and stmt.kind == "RenameStmt":
        return _DELIBERATE, "renaming a column the file added"
    return _MISSED, f"{rule} on {stmt.kind}"


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
    lines = ["", "squawk-only by cause (a first sort: review the lists):",
             f"  deliberate or squawk's false alarm: {deliberate}",
             f"  real, missed by us: {missed}",
             f"  recall against squawk's real findings: {agreed / (agreed + missed):.1%}"
             if agreed + missed else "  recall: no findings"]
    for (kind, cause), n in sorted(counts.items(), key=lambda item: (item[0][0], -item[1])):
        lines.append(f"  {kind:10} {n:5}  {cause}")
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
