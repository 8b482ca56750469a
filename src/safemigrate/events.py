"""One event stream: typed events delivered to sinks, and the cancel token commands poll.

Every command of :mod:`safemigrate.commands` takes ``events=`` (a sink, or a list of them)
and ``cancel=`` (a :class:`CancelToken`). The CLI's progress and text output is one sink;
:class:`JsonLinesSink` (``--events FILE``) writes one JSON object per line for CI logs and
the release report; a test or a script can collect events with :class:`ListSink`.

Each event names the database it concerns (redacted) and carries a UTC timestamp. The engine's
events carry all that the CLI's text and progress output shows (file, statement, warning), so
that output is just another sink and ``--events FILE`` holds the same information.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

from ._record import Record
from .cancel import CancelToken
from .redact import redact_text

__all__ = [
    "BytesProgress",
    "CancelToken",
    "CheckResult",
    "Event",
    "EventSink",
    "InfoEvent",
    "JsonLinesSink",
    "ListSink",
    "RunFinished",
    "RunStarted",
    "StatementStarted",
    "StepFinished",
    "StepStarted",
    "WarningEvent",
    "fan_out",
]


_KINDS: dict[type, str] = {}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Event(Record, frozen=True):
    """The base of every event: what happened, to which database, when.

    Events are records (``_record.py``), not dataclasses: creating ten dataclasses cost every
    ``up`` that prints a step about 40 M instructions at import, more than the run's bookkeeping.
    """

    database: str
    at: str

    def __init__(self, database: str, *, at: str | None = None) -> None:
        self.__dict__.update(database=database, at=_now() if at is None else at)

    @property
    def kind(self) -> str:
        cls = type(self)
        kind = _KINDS.get(cls)
        if kind is None:  # once per class: sinks ask it of every event
            kind = _KINDS[cls] = "".join(f"_{c.lower()}" if c.isupper() else c for c in cls.__name__).lstrip("_")
        return kind

    def to_dict(self) -> dict[str, Any]:
        values = self.__dict__
        return {"event": self.kind, **{name: values[name] for name in self._fields}}


class RunStarted(Event, frozen=True):
    command: str
    migrations: int

    def __init__(self, database: str, *, command: str, migrations: int = 0, at: str | None = None) -> None:
        super().__init__(database, at=at)
        self.__dict__.update(command=command, migrations=migrations)


class StepStarted(Event, frozen=True):
    version: int
    name: str
    direction: str
    index: int  # 0-based, of ``total``
    total: int
    mode: str  # transaction | statements | atomic
    file: str | None  # the migration file's path (None: no file, only the version moves)

    def __init__(self, database: str, *, version: int, name: str, direction: str, index: int, total: int,
                 mode: str, file: str | None = None, at: str | None = None) -> None:
        super().__init__(database, at=at)
        self.__dict__.update(version=version, name=name, direction=direction, index=index, total=total, mode=mode,
                             file=file)


class StatementStarted(Event, frozen=True):
    version: int
    index: int  # 0-based, of ``total``
    total: int
    line: int
    first_line: str  # the statement's first line (at most 200 characters), passwords masked

    def __init__(self, database: str, *, version: int, index: int, total: int, line: int, first_line: str = "",
                 at: str | None = None) -> None:
        super().__init__(database, at=at)
        self.__dict__.update(version=version, index=index, total=total, line=line, first_line=first_line)


class StepFinished(Event, frozen=True):
    version: int
    name: str
    direction: str
    duration_ms: float  # as measured; to_dict() rounds it to the microsecond
    statements: int
    no_down_file: bool  # a down step over a version with no down file: nothing was undone
    file: str | None

    def __init__(self, database: str, *, version: int, name: str, direction: str, duration_ms: float,
                 statements: int, no_down_file: bool = False, file: str | None = None,
                 at: str | None = None) -> None:
        super().__init__(database, at=at)
        self.__dict__.update(version=version, name=name, direction=direction, duration_ms=duration_ms,
                             statements=statements, no_down_file=no_down_file, file=file)

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["duration_ms"] = round(self.duration_ms, 3)
        return data


class RunFinished(Event, frozen=True):
    command: str
    ok: bool
    version: int | None
    dirty: bool

    def __init__(self, database: str, *, command: str, ok: bool, version: int | None, dirty: bool = False,
                 at: str | None = None) -> None:
        super().__init__(database, at=at)
        self.__dict__.update(command=command, ok=ok, version=version, dirty=dirty)


class BytesProgress(Event, frozen=True):
    phase: str  # dump | upload | download | restore | verify
    done: int  # bytes
    total: int | None
    elapsed: float  # seconds since the phase began
    final: bool  # the phase's last report

    def __init__(self, database: str, *, phase: str, done: int, total: int | None = None, elapsed: float = 0.0,
                 final: bool = False, at: str | None = None) -> None:
        super().__init__(database, at=at)
        self.__dict__.update(phase=phase, done=done, total=total, elapsed=elapsed, final=final)

    @property
    def rate(self) -> float:
        """Bytes per second so far."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0


class CheckResult(Event, frozen=True):
    name: str
    status: str  # passed | failed | warned | skipped
    reason: str

    def __init__(self, database: str, *, name: str, status: str, reason: str = "", at: str | None = None) -> None:
        super().__init__(database, at=at)
        self.__dict__.update(name=name, status=status, reason=reason)


class _MessageEvent(Event, frozen=True):
    """An event that is one message for a person (its ``kind`` is the subclass's)."""

    message: str

    def __init__(self, database: str, *, message: str, at: str | None = None) -> None:
        super().__init__(database, at=at)
        self.__dict__.update(message=message)


class InfoEvent(_MessageEvent, frozen=True):
    """A step of the run, for a person watching ("taking a backup of the current state first"; kind ``info``)."""

    @property
    def kind(self) -> str:
        return "info"


class WarningEvent(_MessageEvent, frozen=True):
    """Something the user should know that does not stop the run (kind ``warning``)."""

    @property
    def kind(self) -> str:
        return "warning"


class EventSink(Protocol):
    """Any callable taking an event. A sink may also have ``listens_to``, the set of the event kinds
    it listens to (``"step_started"``, ...): the commands then build no other kind of run event
    for it (a backup's progress it may still be sent)."""

    def __call__(self, event: Event) -> None: ...


class ListSink:
    """Keeps every event (tests, scripts)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def kinds(self) -> list[str]:
        return [event.kind for event in self.events]


class JsonLinesSink:
    """One JSON object per line, flushed per event, with every password masked.

    A file that can no longer be written (a full disk, a closed pipe) stops the file, not the run:
    raising would stop a migration between two of its statements (a dirty database) for want of
    an event line. Nothing more is written after the first failure; :attr:`error` holds it and
    :attr:`written` counts the events written before it (the history table records every step
    either way).
    """

    def __init__(self, target: str | Path | IO[str], secrets: Iterable[str] = ()) -> None:
        self._own = isinstance(target, str | Path)
        if isinstance(target, str | Path):
            self._file: IO[str] = open(target, "a", encoding="utf-8")  # noqa: SIM115 -- closed by close()
        else:
            self._file = target
        self._secrets = tuple(secrets)
        self._lock = threading.Lock()
        self.error: OSError | None = None
        self.written = 0

    def __call__(self, event: Event) -> None:
        if self.error is not None:
            return
        line = redact_text(json.dumps(event.to_dict(), default=str), self._secrets)
        with self._lock:
            try:
                self._file.write(line + "\n")
                self._file.flush()
            except OSError as exc:
                self.error = exc
                return
            self.written += 1

    def close(self) -> None:
        if self._own:
            try:
                self._file.close()
            except OSError as exc:  # what was still buffered could not be written
                self.error = self.error or exc


def fan_out(sinks: EventSink | Sequence[EventSink] | None) -> EventSink:
    """One sink that delivers to all of ``sinks`` (None: to none)."""
    if sinks is None:
        return lambda event: None
    if callable(sinks):
        return sinks
    chosen = tuple(sinks)

    def deliver(event: Event) -> None:
        for sink in chosen:
            sink(event)

    return deliver
