"""The CLI's own help: commands grouped by task, one-line summaries, and an example for each.

Kept in one table, not spread over the command modules, so ``safemigrate --help`` reads as a
map of the runbook and a new command shows up as missing here (tests/test_cli_help.py).
Only ``--help`` reads this module; ``safemigrate version``'s fast path never imports it.
"""

from __future__ import annotations

from collections.abc import Iterable

import click

__all__ = ["EXAMPLES", "GROUPS", "SUMMARIES", "add_examples", "grouped_rows"]

# (title, commands): the order of the runbook. A command path may name a subcommand.
GROUPS: list[tuple[str, list[str]]] = [
    ("Get started", ["demo"]),
    ("Migrate", ["up", "down", "goto", "create", "drop"]),
    ("Inspect", ["version", "status", "plan", "history", "check", "config"]),
    ("Review", ["lint"]),
    ("Back up", ["backup"]),
    ("Release", ["preflight", "release"]),
    ("Recover", ["recover", "force", "backup restore"]),
]

SUMMARIES: dict[str, str] = {
    "demo": "the runbook end to end on a throwaway database, narrated",
    "up": "apply all or N pending migrations, one transaction each",
    "down": "roll back N migrations (or -all, after asking)",
    "goto": "move up or down to version V",
    "create": "a new up/down pair of migration files",
    "drop": "drop every table in the schema (asks first)",
    "version": "print the current version: 4, or 4 (dirty)",
    "status": "every file: applied, pending, edited, skipped, missing",
    "plan": "what up/down/goto would run, SQL included, changing nothing",
    "history": "every step safemigrate ran: who, when, outcome, error",
    "check": "exit 0 only when the database is at the expected version",
    "config": "every resolved setting and where it came from",
    "lint": "find migrations that lock, rewrite or destroy, and the safe form",
    "backup": "create, list, verify (a real restore), restore, prune, import",
    "preflight": "every check a release makes first, changing nothing",
    "release": "backup, apply, health gate, automatic rollback, report",
    "recover": "diagnose a dirty database and finish or undo the migration",
    "force": "set version V, clean, running nothing (after a repair by hand)",
    "backup restore": "restore a backup into a new database, or over this one",
    # Subcommands: shown in docs/commands (and the groups' own --help lists click's short help).
    "backup create": "back up the database; --verify proves the backup by a real restore",
    "backup list": "the complete backups of this database, with their verification",
    "backup show": "one backup's manifest (ID or latest)",
    "backup verify": "prove a backup restorable: restore it into a scratch database and compare",
    "backup prune": "delete the backups the retention policy (the last day, 7 daily, 4 weekly, 12 monthly) does not keep",
    "backup pin": "keep a backup whatever the retention policy says (--unpin to undo)",
    "backup keep": "the same as backup pin",
    "backup import": "an existing pg_dump file (custom format or plain SQL, gzip included) as a backup",
    "config show": "every resolved setting and where it came from (file, environment, flag, default)",
}

EXAMPLES: dict[str, list[str]] = {
    "demo": ["safemigrate demo", "safemigrate demo --dir /tmp/demo --sqlite"],
    "up": ["safemigrate -path migrations up", "safemigrate up 1 --dry-run"],
    "down": ["safemigrate down 1", "safemigrate down -all --yes"],
    "goto": ["safemigrate goto 3"],
    "force": ["safemigrate version            # 4 (dirty)",
              "safemigrate recover            # what migration 4 left, and the repairs that are safe",
              "safemigrate force 3            # after undoing migration 4 by hand"],
    "version": ["safemigrate -path migrations version"],
    "drop": ["safemigrate drop -f"],
    "create": ["safemigrate create -ext sql -dir migrations -seq -digits 6 add_last_seen"],
    "status": ["safemigrate status", "safemigrate status --exit-code     # 1 if anything is pending or wrong"],
    "plan": ["safemigrate plan", "safemigrate plan down 1"],
    "lint": ["safemigrate lint", "safemigrate lint --format sarif > lint.sarif"],
    "backup": ["safemigrate backup create --verify", "safemigrate backup list"],
    "backup create": ["safemigrate backup create --verify", "safemigrate backup create --to s3://bucket/chat"],
    "backup list": ["safemigrate backup list --to s3://bucket/chat"],
    "backup show": ["safemigrate backup show latest"],
    "backup verify": ["safemigrate backup verify latest", "safemigrate backup verify latest --quick"],
    "backup restore": ["safemigrate backup restore latest --target chat_restored"],
    "backup prune": ["safemigrate backup prune --dry-run", "safemigrate backup prune --keep-daily 7"],
    "backup pin": ["safemigrate backup pin 20250101T020000Z-chat-1a2b3c"],
    "backup keep": ["safemigrate backup keep 20250101T020000Z-chat-1a2b3c"],
    "backup import": ["safemigrate backup import chat-2025-01-01.dump",
                      "safemigrate backup import chat.sql.gz --to s3://bucket/chat"],
    "config": ["safemigrate config show --env production"],
    "config show": ["safemigrate config show --env production --format json"],
    "check": ["safemigrate check --expect 4", "safemigrate check --expect-at-least 4"],
    "history": ["safemigrate history --limit 20", "safemigrate history --migration 4"],
    "preflight": ["safemigrate preflight --env production"],
    "release": ["safemigrate release --env production --health-url https://chat.example.com/health/ready"],
    "recover": ["safemigrate recover                             # the diagnosis; changes nothing",
                "safemigrate recover --apply --choose finish"],
}


def add_examples(path: str, command: click.Command) -> None:
    """Give ``command`` (and a group's subcommands) its example, once, as the help's epilog."""
    if command.epilog is None and path in EXAMPLES:
        # "\b" keeps click from re-wrapping the lines.
        command.epilog = "\b\nExamples:\n" + "\n".join(f"  $ {line}" for line in EXAMPLES[path])
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            add_examples(f"{path} {name}", sub)


def grouped_rows(names: Iterable[str], summary_of: dict[str, str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """(section, [(command, summary)]) for the names that exist; the rest under "Other"."""
    known = set(names)
    sections: list[tuple[str, list[tuple[str, str]]]] = []
    placed: set[str] = set()
    for title, paths in GROUPS:
        rows = [(path, summary_of.get(path) or SUMMARIES.get(path, "")) for path in paths
                if path.split()[0] in known]
        placed.update(path.split()[0] for path in paths)
        if rows:
            sections.append((title, rows))
    others = [(name, summary_of.get(name, "")) for name in sorted(known - placed)]
    if others:
        sections.append(("Other", others))
    return sections
