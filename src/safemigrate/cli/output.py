"""The one renderer: text for people, JSON for machines.

Results go to stdout; progress, warnings and errors to stderr. In JSON mode
stdout carries exactly one JSON document per command. Every string passes
through redaction before it is written.
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any, Literal, TextIO

from .._record import Record
from ..redact import redact_text

__all__ = ["Format", "Output", "quiet_if_reader_gone"]

Format = Literal["text", "json"]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _write_whole(stream: TextIO, text: str) -> None:
    """Write all of ``text``, or raise.

    Unbuffered (PYTHONUNBUFFERED, set in many container images, or ``python -u``), a text stream
    writes straight to its descriptor and CPython's text layer ignores a short write: when a pipe's
    reader goes away (or a signal arrives) in the middle of a large result, the rest is dropped
    and the command would end 0 with half a status table or JSON document. Then the bytes are
    written here, on until all are written (a failure raises, as a buffered stream's does).
    """
    raw = getattr(stream, "buffer", None)
    if not isinstance(raw, io.RawIOBase):  # buffered (the default): its buffer already writes on
        stream.write(text)
        return
    stream.flush()
    data = memoryview(text.encode(stream.encoding, stream.errors or "strict"))
    while data:
        written = raw.write(data)
        if written is None:  # a non-blocking descriptor that is full: wait until it takes more
            import select

            select.select([], [raw], [])
            continue
        data = data[written:]


def quiet_if_reader_gone(stream: object) -> bool:
    """Whether the reader of ``stream`` (a pipe or socket) has gone; if so, its descriptor is
    pointed at /dev/null, so that what is still buffered (and the exit's own flush) goes nowhere
    instead of failing again."""
    import select

    try:
        fd = stream.fileno()  # type: ignore[attr-defined]
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        if not any(events & (select.POLLERR | select.POLLHUP) for _fd, events in poller.poll(0)):
            return False
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)
        finally:
            os.close(devnull)
    except (AttributeError, OSError, ValueError):
        return False
    return True


class Output(Record):
    format: Format
    stdout: TextIO
    stderr: TextIO
    secrets: set[str]
    verbose: bool

    def __init__(self, format: Format = "text", stdout: TextIO | None = None, stderr: TextIO | None = None,
                 secrets: set[str] | None = None, verbose: bool = False) -> None:
        self.format = format
        self.stdout = sys.stdout if stdout is None else stdout
        self.stderr = sys.stderr if stderr is None else stderr
        self.secrets = set() if secrets is None else secrets
        self.verbose = verbose

    @property
    def json(self) -> bool:
        return self.format == "json"

    def scrub(self, text: str) -> str:
        return redact_text(text, self.secrets)

    def color(self) -> bool:
        """Colour only on a terminal and never when NO_COLOR is set (https://no-color.org)."""
        return (
            not os.environ.get("NO_COLOR")
            and self.stderr.isatty()
            and os.environ.get("TERM") != "dumb"
        )

    # -- results ---------------------------------------------------------------
    def result(self, data: dict[str, Any], text: str | Callable[[], str] | None = None) -> None:
        """Write a command's result: ``data`` as JSON, or ``text`` for people."""
        if self.json:
            doc = json.dumps(_jsonable(data), indent=2, sort_keys=False)
            _write_whole(self.stdout, self.scrub(doc) + "\n")
        elif text is not None:
            rendered = text() if callable(text) else text
            if rendered:
                _write_whole(self.stdout, self.scrub(rendered).rstrip("\n") + "\n")
        self.stdout.flush()

    def lines(self, lines: Iterable[str]) -> None:
        """Stream text lines to stdout (text mode only)."""
        if self.json:
            return
        for line in lines:
            self.stdout.write(self.scrub(line) + "\n")
        self.stdout.flush()

    # -- side channel ----------------------------------------------------------
    def _say(self, text: str) -> None:
        """Write to stderr, the side channel. A failure there never stops a command (a migration
        would stop between two statements for want of a log line): the text is dropped, and a
        stderr whose reader has gone is pointed at /dev/null for the rest of the command."""
        try:
            self.stderr.write(text)
            self.stderr.flush()
        except OSError:
            quiet_if_reader_gone(self.stderr)

    def info(self, message: str) -> None:
        if not self.json:
            self._say(self.scrub(message) + "\n")

    def progress(self, message: str) -> None:
        """A progress line; shown in text mode on stderr so stdout stays clean for results."""
        if not self.json:
            self._say(self.scrub(message) + "\n")

    def warn(self, message: str) -> None:
        prefix = "\x1b[33mwarning:\x1b[0m " if self.color() else "warning: "
        self._say(prefix + self.scrub(message) + "\n")

    def error(self, message: str, hint: str | None = None, extra: Iterable[str] = ()) -> None:
        prefix = "\x1b[31merror:\x1b[0m " if self.color() else "error: "
        lines = [prefix + self.scrub(message), *map(self.scrub, extra)]
        if hint:
            lines.append("next: " + self.scrub(hint))
        self._say("\n".join(lines) + "\n")
