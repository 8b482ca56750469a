"""A file's text with fast offset -> (line, column) lookups and byte/character conversion.

libpg_query's JSON output counts bytes; everything we report counts characters.
Most migration files are ASCII, where both are the same, so conversion is free there.
"""

from __future__ import annotations

import bisect
import re
from itertools import accumulate

__all__ = ["SourceText"]

_WORD = re.compile(r'"(?:[^"]|"")*"|`[^`]*`|\[[^\]]*\]|[\w$]+', re.UNICODE)
_NOISE = re.compile(r"(?:\s+|--[^\n]*|#[^\n]*|/\*.*?\*/)*", re.DOTALL)
_PG_NOISE = re.compile(r"(?:\s+|--[^\n]*|/\*.*?\*/)*", re.DOTALL)


class SourceText:
    def __init__(self, text: str) -> None:
        self.text = text
        self.ascii = text.isascii()
        # Computed on first use. Not functools.cached_property: on Python 3.11 it takes a lock
        # on every access, which costs more than the lookups it serves.
        self._starts: list[int] | None = None
        self._bytes: bytes | None = None

    @property
    def line_starts(self) -> list[int]:
        """Character offset of the start of each line (line 1 first)."""
        starts = self._starts
        if starts is None:
            # Summing the lengths of str.split's pieces is several times faster than a regex scan.
            starts = self._starts = [0, *accumulate(len(line) + 1 for line in self.text.split("\n")[:-1])]
        return starts

    @property
    def _encoded(self) -> bytes:
        data = self._bytes
        if data is None:
            data = self._bytes = self.text.encode("utf-8")
        return data

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset."""
        starts = self.line_starts
        line = bisect.bisect_right(starts, offset)
        return line, offset - starts[line - 1] + 1

    def offset_of(self, line: int, column: int) -> int:
        """Character offset of a 1-based (line, column)."""
        starts = self.line_starts
        return starts[max(1, min(line, len(starts))) - 1] + column - 1

    def line_text(self, line: int) -> str:
        starts = self.line_starts
        if line < 1 or line > len(starts):
            return ""
        end = starts[line] - 1 if line < len(starts) else len(self.text)
        return self.text[starts[line - 1] : end].rstrip("\r")

    def char_of_byte(self, byte_offset: int) -> int:
        if self.ascii:
            return byte_offset
        return len(self._encoded[:byte_offset].decode("utf-8", errors="ignore"))

    def byte_of_char(self, offset: int) -> int:
        if self.ascii:
            return offset
        return len(self.text[:offset].encode("utf-8"))

    def token_length(self, offset: int) -> int:
        """Length of the word or quoted name at ``offset`` (for carets); 1 when there is none."""
        match = _WORD.match(self.text, offset)
        if match is None or not match.group():
            return 1
        text = match.group()
        newline = text.find("\n")
        return newline if newline > 0 else len(text)

    def skip_noise(self, offset: int, end: int, *, hash_comments: bool = False) -> int:
        """The first offset at or after ``offset`` that is not blank or inside a comment."""
        pattern = _NOISE if hash_comments else _PG_NOISE
        match = pattern.match(self.text, offset, end)
        return match.end() if match else offset
