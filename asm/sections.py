"""Location counters and the bytes placed in each section.

A section is one place bytes go: the code of one `.pe` selection (`.text`,
addresses from 0 in that PE's instruction memory), the GM (`.data`) or SM
(`.sdata`) region, or the LM (`.ldata`) of one selection.  Each keeps its own
location counter, so switching back to a section continues where it left
off.  Bytes are kept as chunks (a `.org` forward starts a new one), so a gap
costs nothing and a data section becomes one Segment per chunk.
"""

from __future__ import annotations

from array import array

import numpy as np

from .program import Image, LineMap, Segment, Selection

KIND_NAMES = {"text": ".text", "gm": ".data", "sm": ".sdata", "lm": ".ldata"}


class Section:
    """Bytes and the location counter of one section."""

    __slots__ = ("kind", "sel", "base", "limit", "pc", "chunks", "buf", "buf_end", "lines",
                 "overflowed", "order", "first", "files")
    _placed = 0  # sections in the order they first received bytes

    def __init__(self, kind: str, sel: Selection | None, base: int, size: int) -> None:
        self.kind = kind
        self.sel = sel
        self.base = base
        self.limit = base + size
        self.pc = base
        self.chunks: list[tuple[int, bytearray]] = []
        self.buf: bytearray | None = None
        self.buf_end = -1
        # text: per word from address 0, the (file index, line) it came from (0, 0: none)
        self.files = array("I")
        self.lines = array("I")
        self.overflowed = False
        self.order = 0  # when it first received bytes (images come in this order)
        self.first = None  # the first line that placed code here (for messages)

    @property
    def name(self) -> str:
        if self.kind in ("text", "lm"):
            return f"{KIND_NAMES[self.kind]} of .pe {self.sel}"
        return KIND_NAMES[self.kind]

    def emit(self, data: bytes) -> tuple[bytearray, int]:
        """Append at the location counter; returns (buffer, offset) for later patching."""
        if self.pc != self.buf_end:
            if not self.chunks:
                Section._placed += 1
                self.order = Section._placed
            self.buf = bytearray()
            self.chunks.append((self.pc, self.buf))
        buf = self.buf
        off = len(buf)
        buf += data
        self.pc += len(data)
        self.buf_end = self.pc
        return buf, off

    def note(self, w: int, file: int, line: int) -> None:
        """Word w of a code section came from this file index and line."""
        lines = self.lines
        if w >= len(lines):
            zeros = array("I", bytes(4 * (w + 1 - len(lines))))
            self.files.extend(zeros)
            lines.extend(zeros)
        self.files[w] = file
        lines[w] = line

    def read(self, addr: int, n: int) -> bytes:
        """Bytes previously emitted at addr (for the listing)."""
        for start, buf in self.chunks:
            if start <= addr < start + len(buf):
                return bytes(buf[addr - start:addr - start + n])
        return b""

    def image(self) -> Image | None:
        """The code image of a text section (None if nothing was placed)."""
        if not any(buf for _, buf in self.chunks):
            return None
        end = max(start + len(buf) for start, buf in self.chunks)
        blob = bytearray(end + (-end % 4))
        for start, buf in self.chunks:
            blob[start:start + len(buf)] = buf
        words = np.frombuffer(bytes(blob), dtype="<u4").astype(np.uint32)
        n = len(words)
        files, lines = self.files[:n], self.lines[:n]
        if len(lines) < n:
            pad = array("I", bytes(4 * (n - len(lines))))
            files.extend(pad)
            lines.extend(pad)
        return Image(self.sel or Selection(), words, LineMap(files, lines))

    def segments(self) -> list[Segment]:
        """One Segment per chunk of a data section."""
        return [Segment(self.kind, start, bytes(buf), self.sel or Selection())
                for start, buf in self.chunks if buf]
