"""Running the rules over files: split, walk the statements in order, then acknowledge.

One :class:`Linter` holds the rules for one dialect. For each file it builds
the statements (PostgreSQL through libpg_query's parse tree, SQLite and MySQL
through their splitters and a tokenizer), computes whether our runner wraps
the file in one transaction, runs statement rules in file order with a
:class:`FileContext` that knows what came before, then the file rules, then
applies ``safemigrate:ignore`` comments and the config's ignore lists.
Up and down files of one version are paired so down-file rules can compare them.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Callable, Sequence
from typing import Any

from .._gc import cyclic_gc_paused
from .._record import Record
from ..sql.script import NO_TRANSACTION_MARKER, has_no_transaction_marker
from .config import LintConfig
from .context import FileContext, Hit, NotNullChecks, ObjectSet, Partner, Stmt
from .history import EarlierLookup, not_null_histories
from .model import Finding, Location
from .pgnodes import alter_cmds
from .pgparse import parse_postgres
from .registry import Check, Rule, all_rules
from .source import SourceText
from .suppress import Ignore, parse_ignores

__all__ = ["Linter", "SourceFile", "lint_sources"]

_STATEMENT_TEXT_LIMIT = 2000


class SourceFile(Record, hidden=("pair_key",), uncompared=("pair_key",)):
    """A file to lint. ``version``/``direction`` are set for golang-migrate file names."""

    path: str
    text: str
    version: int | None
    direction: str | None  # "up" or "down"
    pair_key: tuple[str, int] | None

    def __init__(self, path: str, text: str, version: int | None = None, direction: str | None = None) -> None:
        self.path = path
        self.text = text
        self.version = version
        self.direction = direction
        # The folder and version that pair an up file with its down file (None: not a migration).
        unpaired = self.version is None or self.direction is None
        self.pair_key = None if unpaired else (os.path.dirname(self.path), self.version or 0)


class _Raw(Record):
    rule: Rule
    hit: Hit
    stmt: Stmt | None

    def __init__(self, rule: Rule, hit: Hit, stmt: Stmt | None) -> None:
        self.rule = rule
        self.hit = hit
        self.stmt = stmt


class Analysis(Record):
    ctx: FileContext
    raws: list[_Raw]

    def __init__(self, ctx: FileContext, raws: list[_Raw] | None = None) -> None:
        self.ctx = ctx
        self.raws = [] if raws is None else raws


class Linter:
    def __init__(self, dialect: str, *, pg_version: int | None = None,
                 config: LintConfig | None = None) -> None:
        self.dialect = dialect
        self.pg_version = pg_version
        self.config = config or LintConfig()
        self.rules = all_rules()
        self._help = {rule_id: found.help_text() for rule_id, found in self.rules.items()}
        active = [r for r in self.rules.values()
                  if r.runs_on(dialect) and r.id not in self.config.ignore]
        self._by_node: dict[str, list[Rule]] = {}
        self._every_statement: list[Rule] = []
        self._file_rules: list[Rule] = []
        self._engine_rules = {r.id for r in active if r.scope == "engine"}
        for found in active:
            if found.scope == "file":
                self._file_rules.append(found)
            elif found.scope == "statement":
                if found.nodes and dialect == "postgres":
                    for node in found.nodes:
                        self._by_node.setdefault(node, []).append(found)
                else:
                    self._every_statement.append(found)
        # Each node type's rules, then the rules that look at every statement.
        for specific in self._by_node.values():
            specific.extend(self._every_statement)
        # The check functions themselves, looked up once rather than per statement.
        self._checks_by_node = {node: [(r, r.checks[dialect]) for r in rules]
                                for node, rules in self._by_node.items()}
        self._checks_any = [(r, r.checks[dialect]) for r in self._every_statement]
        # ALTER TABLE's rules for each set of sub-commands met so far (see _alter_checks).
        self._checks_by_subtypes: dict[frozenset[str], list[tuple[Rule, Check]]] = {}

    # -- one file --------------------------------------------------------------
    def analyze(self, file: SourceFile, partner: Partner | None = None,
                history: NotNullChecks | None = None) -> Analysis:
        source = SourceText(file.text)
        statements, problems, wrapped, reason = self._split(source)
        ctx = FileContext(path=file.path, source=source, dialect=self.dialect,
                          pg_version=self.pg_version, direction=file.direction,
                          statements=statements, wrapped=wrapped,
                          statement_mode_reason=reason, partner=partner, history=history)
        ctx.syntax_problems = len(problems)
        analysis = Analysis(ctx)
        raws = analysis.raws
        by_node, every = self._checks_by_node, self._checks_any
        for stmt in statements:
            ctx.begin_statement(stmt)
            kind = stmt.kind
            if kind == "AlterTableStmt" and by_node:  # by_node: PostgreSQL's parse tree
                checks = self._alter_checks(stmt)
            else:
                checks = by_node.get(kind, every)
            for found, check in checks:
                for hit in check(stmt, ctx):
                    raws.append(_Raw(found, hit, stmt))
            ctx.advance(stmt)
        ctx.index = len(statements)
        for found in self._file_rules:
            for hit in found.checks[self.dialect](ctx):
                raws.append(_Raw(found, hit, _statement_at(statements, hit.offset)))
        # SQLite/MySQL splitters report problems too (an unterminated string); always show them.
        if problems and "syntax-error" not in self.config.ignore:
            syntax = self.rules["syntax-error"]
            for message, offset in problems:
                text = message if message.startswith("syntax error") else f"syntax error: {message}"
                raws.append(_Raw(syntax, Hit(text, offset), None))
        return analysis

    def _alter_checks(self, stmt: Stmt) -> list[tuple[Rule, Check]]:
        """The checks of the rules that look at this ALTER TABLE's sub-commands.

        Most ALTER TABLE rules are about one kind of sub-command (DROP COLUMN, ADD CONSTRAINT):
        those that name theirs in ``subtypes`` are left out for an ALTER TABLE without one,
        instead of each being called to find nothing (an ALTER TABLE met 26 rules before).
        """
        subtypes = frozenset([cmd.get("subtype", "AT_AddColumn") for cmd in alter_cmds(stmt.node)])
        checks = self._checks_by_subtypes.get(subtypes)
        if checks is None:
            every = self._checks_by_node.get("AlterTableStmt", self._checks_any)
            checks = [(found, check) for found, check in every
                      if not found.subtypes or not found.subtypes.isdisjoint(subtypes)]
            self._checks_by_subtypes[subtypes] = checks
        return checks

    def _split(self, source: SourceText) -> tuple[list[Stmt], list[tuple[str, int]], bool, str | None]:
        # A substring test first: the marker's regex costs more than the parse of a small file.
        marker = NO_TRANSACTION_MARKER in source.text and has_no_transaction_marker(source.text)
        if self.dialect == "postgres":
            parsed = parse_postgres(source)  # with each statement's facts
            statements = parsed.statements
            problems = [(p.message, p.offset) for p in parsed.problems]
        else:
            statements, problems = self._split_text(source)
        reason = _statement_mode_reason(statements, marker)
        wrapped = reason is None
        if self.dialect == "mysql" and any(s.facts.category == "ddl" for s in statements):
            # MySQL commits before and after every DDL statement: no file with DDL is atomic.
            wrapped = False
            reason = reason or "MySQL commits implicitly around every DDL statement"
        return statements, problems, wrapped, reason

    def _split_text(self, source: SourceText) -> tuple[list[Stmt], list[tuple[str, int]]]:
        from ..sql import split_sql
        from .textsql import text_facts, tokenize

        script = split_sql(source.text, self.dialect)
        problems: list[tuple[str, int]] = []
        raw_statements = list(script.statements)
        if script.problem is not None:
            where = source.offset_of(script.problem.line, script.problem.column)
            problems.append((script.problem.message, where))
            if not script.parsed:
                raw_statements = self._before_problem(source.text, where)
        statements: list[Stmt] = []
        for raw in raw_statements:
            start, end = raw.start, raw.start + len(raw.text)
            tokens = tokenize(source.text, start, end, self.dialect)
            stmt = Stmt(index=len(statements), start=start, end=end, line=raw.line,
                        column=raw.column, end_line=raw.end_line, kind=raw.kind, text=raw.text,
                        tokens=tokens, transactional=raw.transactional,
                        transaction_control=raw.transaction_control)
            stmt.facts = text_facts(tokens)
            statements.append(stmt)
        return statements, problems

    def _before_problem(self, text: str, offset: int) -> list[Any]:
        """The complete statements before an unterminated string or comment.

        The splitter gives up on such a file (it becomes one statement); everything
        after the problem is inside the string, but what comes before it can be linted.
        """
        from ..sql import split_sql

        head = split_sql(text[:offset], self.dialect)
        kept = list(head.statements)
        if kept:
            last = kept[-1]
            tail = text[last.start + len(last.text) : offset].lstrip()
            if not tail.startswith(";"):
                kept.pop()  # the statement the problem is in
        return kept if head.parsed else []

    # -- findings --------------------------------------------------------------
    def findings(self, analysis: Analysis) -> list[Finding]:
        """Turn an analysis into findings, minus what the file and the config acknowledge."""
        ctx = analysis.ctx
        disabled = self.config.ignored_for(ctx.path)
        ignores = parse_ignores(ctx.source)
        out: list[Finding] = []
        for raw in analysis.raws:
            if raw.rule.id in disabled:
                continue
            finding = self._finding(ctx, raw)
            first = raw.stmt.line if raw.stmt else finding.line
            last = raw.stmt.end_line if raw.stmt else finding.line
            acknowledged = False
            for ignore in ignores:
                if raw.rule.id not in ignore.rule_ids:
                    continue
                target = ignore.target_line
                if target is None or first <= target <= last or target == finding.line:
                    ignore.used.add(raw.rule.id)
                    acknowledged = True
            if not acknowledged:
                out.append(finding)
        if "unused-ignore" in self._engine_rules and "unused-ignore" not in disabled:
            out.extend(self._unused(ctx, ignores, disabled))
        return out

    def _unused(self, ctx: FileContext, ignores: Sequence[Ignore],
                disabled: frozenset[str]) -> list[Finding]:
        unused_rule = self.rules["unused-ignore"]
        out: list[Finding] = []
        for ignore in ignores:
            if not ignore.rule_ids:
                hit = Hit("safemigrate:ignore names no rule id",
                          ctx.source.offset_of(ignore.line, ignore.column))
                out.append(self._finding(ctx, _Raw(unused_rule, hit, None)))
                continue
            for rule_id in ignore.rule_ids:
                if rule_id in ignore.used or rule_id in disabled:
                    continue
                if rule_id not in self.rules:
                    message = f"safemigrate:ignore names an unknown rule {rule_id!r}"
                elif not self.rules[rule_id].runs_on(self.dialect):
                    message = f"safemigrate:ignore {rule_id}: that rule does not run on {self.dialect} files"
                elif ignore.whole_file:
                    message = f"safemigrate:ignore-file {rule_id} matches no finding in this file"
                else:
                    message = f"safemigrate:ignore {rule_id} matches no finding on the statement it annotates"
                hit = Hit(message, ctx.source.offset_of(ignore.line, ignore.column))
                out.append(self._finding(ctx, _Raw(unused_rule, hit, None)))
        return out

    def _finding(self, ctx: FileContext, raw: _Raw) -> Finding:
        source = ctx.source
        stmt = raw.stmt
        hit = raw.hit
        offset = hit.offset if hit.offset is not None else (stmt.start if stmt else 0)
        line, column = source.position(offset)
        line_text = source.line_text(line)
        length = hit.length or source.token_length(offset)
        end_column = max(column + 1, min(column + length, len(line_text) + 1))
        related = tuple(Location(path, rel_line, 1, message=msg) for path, rel_line, msg in hit.related)
        return Finding(
            rule_id=raw.rule.id,
            severity=raw.rule.severity,
            message=hit.message or raw.rule.summary,
            path=ctx.path,
            line=line,
            column=column,
            end_line=line,
            end_column=end_column,
            statement_line=stmt.line if stmt else None,
            statement_text=stmt.text[:_STATEMENT_TEXT_LIMIT] if stmt else None,
            source_line=line_text,
            help=self._help[raw.rule.id],
            related=related,
        )


def _statement_at(statements: Sequence[Stmt], offset: int | None) -> Stmt | None:
    if offset is None or not statements:
        return None
    starts = [s.start for s in statements]
    i = bisect.bisect_right(starts, offset) - 1
    if i >= 0 and statements[i].start <= offset <= statements[i].end:
        return statements[i]
    return None


def _statement_mode_reason(statements: Sequence[Stmt], marker: bool) -> str | None:
    """Why our runner will not wrap the file in one transaction (None: it will)."""
    if marker:
        return f"the file contains the -- {NO_TRANSACTION_MARKER} marker"
    for stmt in statements:
        if stmt.transaction_control:
            return f"the file manages its own transactions (line {stmt.line})"
    for stmt in statements:
        if not stmt.transactional:
            return f"line {stmt.line} cannot run inside a transaction"
    return None


# -- several files ----------------------------------------------------------------

PartnerLookup = Callable[[SourceFile], "SourceFile | None"]
Histories = dict[str, NotNullChecks]


def lint_sources(files: Sequence[SourceFile], linter: Linter,
                 find_partner: PartnerLookup | None = None, *, jobs: int | None = 1,
                 find_earlier: EarlierLookup | None = None) -> list[Finding]:
    """Lint ``files``; up and down files of one version are paired for the down-file rules.

    ``find_partner`` returns the other file of a version when it is not among
    ``files`` (None when it does not exist); without it, unpaired files are not
    checked for a missing down file. ``jobs`` is the number of processes (None:
    one per CPU for large inputs); findings are the same whatever it is. ``find_earlier``
    returns the earlier up files of a file's folder that are not among ``files``, for
    what they left behind (see :mod:`.history`).
    """
    # Linting makes no reference cycles (parse trees, statements, findings: a test checks it), but
    # their allocation triggers collections that scan every live object, the findings so far
    # included: 27% of the CPU time at 10,000 files. Reference counting frees them as usual.
    with cyclic_gc_paused():
        histories = not_null_histories(files, find_earlier) if linter.dialect == "postgres" else {}
        workers = _workers(_work(files), jobs)
        if workers > 1:
            from .pool import lint_forked

            def lint_groups(groups: Sequence[Sequence[SourceFile]]) -> list[Finding]:
                return _lint_serial([f for group in groups for f in group], linter, find_partner, histories)

            findings = lint_forked(_groups(files), lint_groups, workers, _work)
            findings.sort(key=Finding.sort_key)
            return findings
        return _lint_serial(files, linter, find_partner, histories)


def _lint_serial(files: Sequence[SourceFile], linter: Linter,
                 find_partner: PartnerLookup | None, histories: Histories) -> list[Finding]:
    by_key: dict[tuple[tuple[str, int], str], SourceFile] = {}
    for file in files:
        key = file.pair_key
        if key is not None and file.direction is not None:
            by_key[(key, file.direction)] = file
    created: dict[tuple[str, int], tuple[str, ObjectSet]] = {}
    findings: list[Finding] = []
    ups = [f for f in files if f.direction == "up"]
    others = [f for f in files if f.direction != "up"]
    for file in [*ups, *others]:
        partner = _partner(file, by_key, created, linter, find_partner)
        analysis = linter.analyze(file, partner, histories.get(file.path))
        key = file.pair_key
        if file.direction == "up" and key is not None:
            created[key] = (file.path, analysis.ctx.created)
        findings.extend(linter.findings(analysis))
    findings.sort(key=Finding.sort_key)
    return findings


# Below this much work (in files of about 1 KB: see _work), a second process costs more than it
# saves; each worker gets at least half of it.
_PARALLEL_THRESHOLD = 200
_BYTES_PER_FILE = 1000


def _work(files: Sequence[SourceFile]) -> int:
    """How much linting ``files`` is, counted in average files: one per file, one more per KB.

    A file costs its parse and its rules whatever its size, and then about in proportion
    to its text (Harbor's 39 files hold as much SQL as 100 small ones).
    """
    return len(files) + sum(len(f.text) for f in files) // _BYTES_PER_FILE


def _usable_cpus() -> int:
    """CPUs this process may run on, busy or not.

    An earlier version counted only idle CPUs (by the load average), so on a busy
    machine it linted in one process. But the scheduler shares a busy CPU among
    runnable processes, not among programs: a second worker gets a second share, as
    squawk's threads do, so it pays off as long as each worker has enough files to
    outweigh its fork (about a millisecond).
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _workers(work: int, jobs: int | None) -> int:
    if jobs is not None:
        wanted = jobs
    elif work < _PARALLEL_THRESHOLD:
        wanted = 1
    else:
        wanted = min(_usable_cpus(), max(1, work // (_PARALLEL_THRESHOLD // 2)))
    return max(1, wanted) if hasattr(os, "fork") else 1


def _groups(files: Sequence[SourceFile]) -> list[list[SourceFile]]:
    """``files`` in groups that are linted together: a version's up and down files (a down
    file's rules read what its up file created); any other file alone."""
    groups: dict[object, list[SourceFile]] = {}
    for index, file in enumerate(files):
        groups.setdefault(file.pair_key or index, []).append(file)
    return list(groups.values())


def _partner(file: SourceFile, by_key: dict[tuple[tuple[str, int], str], SourceFile],
             created: dict[tuple[str, int], tuple[str, ObjectSet]], linter: Linter,
             find_partner: PartnerLookup | None) -> Partner | None:
    key = file.pair_key
    if key is None:
        return None
    other_direction = "down" if file.direction == "up" else "up"
    other = by_key.get((key, other_direction))
    if other is None and find_partner is not None:
        other = find_partner(file)
    elif other is None:
        return None
    if other is None:
        return Partner(None)
    if file.direction == "up":
        return Partner(other.path, empty=not other.text or other.text.isspace())  # strip() copies it
    if key in created:
        path, objects = created[key]
        return Partner(path, objects)
    # The up file is not being linted: read what it creates without reporting on it.
    analysis = linter.analyze(other, None)
    return Partner(other.path, analysis.ctx.created)
