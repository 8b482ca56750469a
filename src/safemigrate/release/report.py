"""The release report: every step with its outcome, reason and duration, as data, JSON and Markdown.

Printed as it goes (the CLI renders each :class:`StepRecord` when it is added),
written at the end to ``<dir>/<release id>.json`` and ``.md`` with mode 0600, and
stored in ``safemigrate_releases``. Nothing in it may hold a password: every text
goes through the redactor before it is stored.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..redact import redact_text

__all__ = ["EXIT_CODES", "Outcome", "ReleaseReport", "StepRecord", "StepStatus", "secrets_of"]


class StepStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    WARNED = "warned"
    SKIPPED = "skipped"


class Outcome(StrEnum):
    RELEASED = "released"  # applied and healthy
    NOTHING_TO_DO = "nothing_to_do"  # no pending migration; pre-flight and the gate still ran
    REFUSED = "refused"  # stopped before changing anything (pre-flight)
    ROLLED_BACK = "rolled_back"  # failed, and brought back to a clean, healthy state
    HELD = "held"  # stopped for a human: inconclusive gate, data at risk, rollback not allowed
    ROLLBACK_FAILED = "rollback_failed"  # the rollback itself failed: the report says the state
    INTERRUPTED = "interrupted"


EXIT_CODES: dict[Outcome, int] = {
    Outcome.RELEASED: 0, Outcome.NOTHING_TO_DO: 0, Outcome.REFUSED: 1, Outcome.ROLLED_BACK: 1,
    Outcome.HELD: 3, Outcome.ROLLBACK_FAILED: 4, Outcome.INTERRUPTED: 130,
}

_MARKS = {StepStatus.PASSED: "✔", StepStatus.FAILED: "✘", StepStatus.WARNED: "!", StepStatus.SKIPPED: "-"}


@dataclass
class StepRecord:
    phase: str  # preflight | notify | hook | backup | apply | gate | rollback | restore | report
    name: str
    status: StepStatus
    reason: str = ""
    duration: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        took = f" ({self.duration:.1f}s)" if self.duration >= 0.05 else ""
        reason = f": {self.reason}" if self.reason else ""
        return f"{_MARKS[self.status]} {self.phase}: {self.name}{reason}{took}"

    def to_dict(self) -> dict[str, Any]:
        return {"phase": self.phase, "name": self.name, "status": self.status.value, "reason": self.reason,
                "duration_s": round(self.duration, 3), "details": self.details}


@dataclass
class ReleaseReport:
    id: str
    env: str | None
    database: str  # redacted
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    outcome: Outcome | None = None
    from_version: int | None = None
    to_version: int | None = None
    version_after: int | None = None
    dirty_after: bool = False
    backup_id: str | None = None
    steps: list[StepRecord] = field(default_factory=list)
    next_command: str | None = None
    summary: str = ""
    secrets: tuple[str, ...] = field(default=(), repr=False)
    on_step: Callable[[StepRecord], None] | None = field(default=None, repr=False)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.outcome] if self.outcome is not None else 1

    def add(self, record: StepRecord) -> StepRecord:
        record.reason = redact_text(record.reason, self.secrets)
        self.steps.append(record)
        if self.on_step is not None:
            self.on_step(record)
        return record

    def finish(self, outcome: Outcome, summary: str, *, next_command: str | None = None) -> None:
        self.outcome = outcome
        self.summary = redact_text(summary, self.secrets)
        self.next_command = next_command
        self.finished_at = datetime.now(UTC)

    def to_dict(self) -> dict[str, Any]:
        data = {
            "ok": self.exit_code == 0, "command": "release", "id": self.id, "env": self.env,
            "database": self.database, "outcome": self.outcome.value if self.outcome else None,
            "exit_code": self.exit_code, "summary": self.summary, "next": self.next_command,
            "from_version": self.from_version, "to_version": self.to_version,
            "version_after": self.version_after, "dirty_after": self.dirty_after, "backup_id": self.backup_id,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "steps": [step.to_dict() for step in self.steps],
        }
        # One pass over the whole document: hook output, errors and details included.
        return json.loads(redact_text(json.dumps(data, default=str), self.secrets))  # type: ignore[no-any-return]

    def to_markdown(self) -> str:
        data = self.to_dict()
        lines = [
            f"# Release {self.id}: {data['outcome']}",
            "",
            f"- environment: {self.env or '(none)'}",
            f"- database: {self.database}",
            f"- versions: {_v(self.from_version)} → {_v(self.to_version)} planned; "
            f"{_v(self.version_after)}{' (dirty)' if self.dirty_after else ''} after",
            f"- backup: {self.backup_id or 'none'}",
            f"- started {data['started_at']}, finished {data['finished_at']}",
            f"- exit status: {self.exit_code}",
            "",
            f"**{data['summary']}**",
        ]
        if data["next"]:
            lines += ["", f"Next: `{data['next']}`"]
        lines += ["", "| phase | step | result | reason | seconds |", "|---|---|---|---|---|"]
        for step in data["steps"]:
            reason = str(step["reason"]).replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {step['phase']} | {step['name']} | {step['status']} | {reason} | "
                         f"{step['duration_s']:.1f} |")
        outputs = [(s["name"], s["details"].get("output")) for s in data["steps"] if s["details"].get("output")]
        for name, output in outputs:
            lines += ["", f"### Output of {name}", "", "```", str(output).rstrip(), "```"]
        return "\n".join(lines) + "\n"

    def write(self, folder: Path) -> list[Path]:
        """``<folder>/<id>.json`` and ``.md``, readable by the owner only."""
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        written = []
        for suffix, text in ((".json", json.dumps(self.to_dict(), indent=2) + "\n"), (".md", self.to_markdown())):
            path = folder / f"{self.id}{suffix}"
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.chmod(path, 0o600)
            written.append(path)
        return written


def _v(version: int | None) -> str:
    return "none" if version is None else str(version)


def secrets_of(urls: Iterable[str | None]) -> tuple[str, ...]:
    """The passwords in ``urls``, for redacting texts that quote them verbatim."""
    from ..redact import url_secrets

    found: set[str] = set()
    for url in urls:
        if url:
            found |= url_secrets(url)
    return tuple(found)
