"""The assembled program and its binary container (`.bin`, written by `pearray asm`).

A Program is what flows from the assembler to the machine: per-PE code
images, data images per memory region, the symbol table and the line map.

Container layout (all integers little-endian)::

    magic   8 bytes  b"PEARRAY\\0"
    version u32      1
    count   u32      number of sections
    section*         tag (4 ASCII bytes), length u32, payload, zero padding to 4

    META  JSON: {"isa": ISA digest, "files": [source paths]}
    CODE  r0 r1 c0 c1 (u8 each; 255 255 255 255 = every PE), n u32,
          n words u32, then n line-map entries (file index u32, line u32)
    DATA  region u32 (0 LM, 1 SM, 2 GM), address u32, r0 r1 c0 c1 (u8, the PEs
          whose LM it fills; 255s for SM/GM), n u32, n bytes (padded)
    SYMS  JSON: {name: value}  (code labels are byte addresses in their image)

Sections come in program order: a later CODE section whose selection names
a PE replaces the image that PE took from an earlier one.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field

import numpy as np

MAGIC = b"PEARRAY\0"
VERSION = 1
REGIONS = ("lm", "sm", "gm")
ALL = (255, 255, 255, 255)


class ContainerError(ValueError):
    """The bytes are not a pearray program container (or a damaged one)."""


@dataclass
class Selection:
    """PEs named by a `.pe` directive: inclusive row and column ranges, or all."""

    r0: int = 255
    r1: int = 255
    c0: int = 255
    c1: int = 255

    @property
    def all(self) -> bool:
        return (self.r0, self.r1, self.c0, self.c1) == ALL

    def covers(self, row: int, col: int) -> bool:
        return self.all or (self.r0 <= row <= self.r1 and self.c0 <= col <= self.c1)

    def __str__(self) -> str:
        if self.all:
            return "all"
        rows = f"{self.r0}" if self.r0 == self.r1 else f"{self.r0}:{self.r1}"
        cols = f"{self.c0}" if self.c0 == self.c1 else f"{self.c0}:{self.c1}"
        return f"{rows},{cols}"


@dataclass
class Image:
    """The code of one `.pe` selection, from instruction address 0."""

    pes: Selection
    words: np.ndarray  # uint32
    lines: list[tuple[int, int]]  # per word: (file index, line number)


@dataclass
class Segment:
    """Bytes to place in a memory region before the run."""

    region: str  # "lm" | "sm" | "gm"
    addr: int  # absolute address
    data: bytes
    pes: Selection = field(default_factory=Selection)  # for LM: whose


@dataclass
class Program:
    """An assembled program: what `Machine.load` takes and `pearray asm` writes."""

    images: list[Image] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    symbols: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    isa: str = ""
    listing: list[str] = field(default_factory=list)  # not serialised: regenerate
    # Not serialised either (in-memory extras from the assembler):
    symbol_sections: dict[str, str] = field(default_factory=dict)  # name -> ".data", ...
    warnings: list[str] = field(default_factory=list)  # rendered warning diagnostics

    def copy(self) -> Program:
        """An independent copy (the assembler's cache hands these out)."""
        return Program(
            images=[Image(Selection(*_sel(im.pes)), im.words.copy(), list(im.lines))
                    for im in self.images],
            segments=[Segment(s.region, s.addr, s.data, Selection(*_sel(s.pes)))
                      for s in self.segments],
            symbols=dict(self.symbols), files=list(self.files), isa=self.isa,
            listing=list(self.listing), symbol_sections=dict(self.symbol_sections),
            warnings=list(self.warnings),
        )

    def source_of(self, image: Image, pc: int) -> tuple[str, int] | None:
        """(file, line) of the instruction at byte address `pc`, if known."""
        i = pc // 4
        if 0 <= i < len(image.lines):
            f, line = image.lines[i]
            return (self.files[f] if f < len(self.files) else "?"), line
        return None

    def to_bytes(self) -> bytes:
        sections = [(b"META", json.dumps({"isa": self.isa, "files": self.files}).encode())]
        for im in self.images:
            words = np.asarray(im.words, dtype="<u4")
            lm = np.asarray(im.lines, dtype="<u4").reshape(-1, 2)
            head = struct.pack("<4BI", *_sel(im.pes), len(words))
            sections.append((b"CODE", head + words.tobytes() + lm.tobytes()))
        for seg in self.segments:
            head = struct.pack(
                "<II4BI", REGIONS.index(seg.region), seg.addr, *_sel(seg.pes), len(seg.data)
            )
            sections.append((b"DATA", head + seg.data))
        sections.append((b"SYMS", json.dumps(self.symbols, sort_keys=True).encode()))
        out = [MAGIC, struct.pack("<II", VERSION, len(sections))]
        for tag, payload in sections:
            out += [tag, struct.pack("<I", len(payload)), payload, b"\0" * (-len(payload) % 4)]
        return b"".join(out)

    @classmethod
    def from_bytes(cls, blob: bytes) -> Program:
        """Parse a container; any damage is a ContainerError, never an IndexError."""
        try:
            return _parse(blob)
        except (struct.error, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            if isinstance(exc, ContainerError):
                raise
            raise ContainerError(f"damaged program container: {exc}") from None


def _sel(s: Selection) -> tuple[int, int, int, int]:
    return (s.r0, s.r1, s.c0, s.c1)


def _parse(blob: bytes) -> Program:
    if blob[:8] != MAGIC:
        raise ContainerError("not a pearray program (bad magic)")
    version, count = struct.unpack_from("<II", blob, 8)
    if version != VERSION:
        raise ContainerError(f"container version {version}, this tool reads {VERSION}")
    prog = Program()
    pos = 16
    for _ in range(count):
        tag = blob[pos:pos + 4]
        (length,) = struct.unpack_from("<I", blob, pos + 4)
        payload = blob[pos + 8:pos + 8 + length]
        if len(payload) != length:
            raise ContainerError("truncated section")
        pos += 8 + length + (-length % 4)
        if tag == b"META":
            meta = json.loads(payload)
            prog.isa, prog.files = str(meta["isa"]), [str(f) for f in meta["files"]]
        elif tag == b"CODE":
            *sel, n = struct.unpack_from("<4BI", payload)
            if len(payload) != 8 + 12 * n:
                raise ContainerError("CODE section length does not match its word count")
            words = np.frombuffer(payload, "<u4", n, 8).astype(np.uint32)
            lm = np.frombuffer(payload, "<u4", 2 * n, 8 + 4 * n).reshape(-1, 2)
            prog.images.append(Image(Selection(*sel), words, [tuple(map(int, r)) for r in lm]))
        elif tag == b"DATA":
            region, addr, *sel, n = struct.unpack_from("<II4BI", payload)
            if region >= len(REGIONS) or len(payload) != 16 + n:
                raise ContainerError("bad DATA section")
            prog.segments.append(Segment(REGIONS[region], addr, payload[16:], Selection(*sel)))
        elif tag == b"SYMS":
            prog.symbols = {str(k): int(v) for k, v in json.loads(payload).items()}
        else:
            raise ContainerError(f"unknown section {tag!r}")
    return prog
