"""The assembled program and its binary container (`.bin`, written by `pearray asm`).

A Program is what flows from the assembler to the machine: per-PE code
images, data images per memory region, the symbol table and the line map.

Container layout (all integers little-endian)::

    magic   8 bytes  b"PEARRAY\\0"
    version u32      1
    count   u32      number of sections
    section*         tag (4 ASCII bytes), length u32, payload, zero padding to 4

    META  JSON: {"isa": ISA digest, "files": [source paths],
                 "labels": {code label: index of its CODE section}}  (labels: optional)
    CODE  r0 r1 c0 c1 (u8 each; 255 255 255 255 = every PE), n u32,
          n words u32, then n line-map entries (file index u32, line u32)
    DATA  region u32 (0 LM, 1 SM, 2 GM), address u32, r0 r1 c0 c1 (u8, the PEs
          whose LM it fills; 255s for SM/GM), n u32, n bytes (padded)
    SYMS  JSON: {name: value}  (code labels are byte addresses in their image)

Sections come in program order: a later CODE section whose selection names
a PE replaces the image that PE took from an earlier one.  The reader is strict
(docs/container.md, "What the reader refuses"): exactly `count` sections and no
byte after them, zero padding, one META and one SYMS, JSON of the writer's shape
and depth with integer symbols; anything else is a ContainerError.
"""

from __future__ import annotations

import json
import struct
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
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


class LineMap(Sequence):
    """Per word of an image, (file index, line number): a sequence of pairs kept as two
    arrays (a tuple per word would be most of a big program's memory)."""

    __slots__ = ("files", "lines")

    def __init__(self, files: Iterable[int] = (), lines: Iterable[int] = ()) -> None:
        self.files = array("I", files)
        self.lines = array("I", lines)
        if len(self.files) != len(self.lines):
            raise ValueError("a line map needs as many file indices as lines")

    @classmethod
    def of(cls, pairs: Iterable[tuple[int, int]]) -> LineMap:
        pairs = list(pairs)
        return cls((f for f, _ in pairs), (n for _, n in pairs))

    def __len__(self) -> int:
        return len(self.lines)

    def __getitem__(self, i):  # noqa: ANN001 - an index or a slice
        if isinstance(i, slice):
            return LineMap(self.files[i], self.lines[i])
        return self.files[i], self.lines[i]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return zip(self.files, self.lines, strict=True)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LineMap):
            return self.files == other.files and self.lines == other.lines
        if isinstance(other, Sequence):
            return list(self) == [tuple(p) for p in other]
        return NotImplemented

    def __repr__(self) -> str:
        return f"LineMap({list(self)!r})"

    def copy(self) -> LineMap:
        return LineMap(self.files, self.lines)


@dataclass
class Image:
    """The code of one `.pe` selection, from instruction address 0."""

    pes: Selection
    words: np.ndarray  # uint32
    lines: LineMap  # per word: (file index, line number); a list of pairs is taken too

    def __post_init__(self) -> None:
        if not isinstance(self.lines, LineMap):
            self.lines = LineMap.of(self.lines)


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
    labels: dict[str, int] = field(default_factory=dict)  # code label -> its image's index
    # Not serialised (in-memory extras from the assembler):
    symbol_sections: dict[str, str] = field(default_factory=dict)  # name -> ".data", ...
    warnings: list[str] = field(default_factory=list)  # rendered warning diagnostics
    includes: list[str] = field(default_factory=list)  # every file .include read (outputs
    # must not overwrite them: pearray.files.check_output)
    rows: list[str] | None = field(default=None, repr=False, compare=False)  # the listing
    relist: Callable[[], list[str]] | None = field(default=None, repr=False, compare=False)

    @property
    def has_listing(self) -> bool:
        return self.rows is not None

    @property
    def listing(self) -> list[str]:
        """The assembler's listing: made on first use if the program was assembled
        without one (empty for a program read from a container)."""
        if self.rows is None:
            self.rows = self.relist() if self.relist is not None else []
        return self.rows

    @listing.setter
    def listing(self, rows: list[str]) -> None:
        self.rows = rows

    def copy(self) -> Program:
        """An independent copy (the assembler's cache hands these out)."""
        return Program(
            images=[Image(Selection(*_sel(im.pes)), im.words.copy(), im.lines.copy())
                    for im in self.images],
            segments=[Segment(s.region, s.addr, s.data, Selection(*_sel(s.pes)))
                      for s in self.segments],
            symbols=dict(self.symbols), labels=dict(self.labels), files=list(self.files),
            isa=self.isa,
            symbol_sections=dict(self.symbol_sections), warnings=list(self.warnings),
            includes=list(self.includes),
            rows=list(self.rows) if self.rows is not None else None, relist=self.relist,
        )

    def source_of(self, image: Image, pc: int) -> tuple[str, int] | None:
        """(file, line) of the instruction at byte address `pc`, if known."""
        i = pc // 4
        if 0 <= i < len(image.lines):
            f, line = image.lines[i]
            return (self.files[f] if f < len(self.files) else "?"), line
        return None

    def to_bytes(self) -> bytes:
        meta = {"isa": self.isa, "files": self.files, "labels": self.labels}
        sections = [(b"META", json.dumps(meta, sort_keys=True).encode())]
        for im in self.images:
            words = np.asarray(im.words, dtype="<u4")
            lm = np.column_stack([np.asarray(im.lines.files, dtype="<u4"),
                                  np.asarray(im.lines.lines, dtype="<u4")]).reshape(-1, 2)
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
        """Parse a container; any damage is a ContainerError, never an IndexError or a
        RecursionError, and nothing malformed is read as something else."""
        try:
            return _parse(blob)
        except ContainerError:
            raise
        except (struct.error, ValueError, KeyError, TypeError, RecursionError) as exc:
            raise ContainerError(f"damaged program container: {exc}") from None


def _sel(s: Selection) -> tuple[int, int, int, int]:
    return (s.r0, s.r1, s.c0, s.c1)


SYM_MIN, SYM_MAX = -(1 << 63), (1 << 64) - 1  # what the assembler's 64-bit expressions give
JSON_DEPTH = 2  # META {"files": [...]} is the deepest the writer makes


def _parse(blob: bytes) -> Program:
    """Read a container strictly: everything docs/container.md describes, nothing else."""
    if not isinstance(blob, bytes | bytearray | memoryview):
        raise ContainerError(f"a container is bytes, not {type(blob).__name__}")
    blob = bytes(blob)
    if blob[:8] != MAGIC:
        raise ContainerError("not a pearray program (bad magic)")
    if len(blob) < 16:
        raise ContainerError("truncated header")
    version, count = struct.unpack_from("<II", blob, 8)
    if version != VERSION:
        raise ContainerError(f"container version {version}, this tool reads {VERSION}")
    prog = Program()
    seen: dict[bytes, int] = {}
    pos = 16
    for k in range(count):
        if pos + 8 > len(blob):
            raise ContainerError(f"truncated: the header says {count} sections, "
                                 f"the file holds {k}")
        tag = blob[pos:pos + 4]
        (length,) = struct.unpack_from("<I", blob, pos + 4)
        end = pos + 8 + length
        pad = -length % 4
        if end + pad > len(blob):
            raise ContainerError(f"truncated section {_tag(tag)} (section {k})")
        if blob[end:end + pad] != b"\0" * pad:
            raise ContainerError(f"section {_tag(tag)}: padding is not zero")
        payload = blob[pos + 8:end]
        pos = end + pad
        seen[tag] = seen.get(tag, 0) + 1
        if tag in (b"META", b"SYMS") and seen[tag] > 1:
            raise ContainerError(f"more than one {_tag(tag)} section")
        if tag == b"META":
            prog.isa, prog.files, prog.labels = _meta(_json(payload, "META"))
        elif tag == b"CODE":
            if len(payload) < 8:
                raise ContainerError("CODE section shorter than its header")
            *sel, n = struct.unpack_from("<4BI", payload)
            if len(payload) != 8 + 12 * n:
                raise ContainerError("CODE section length does not match its word count")
            words = np.frombuffer(payload, "<u4", n, 8).astype(np.uint32)
            lm = np.frombuffer(payload, "<u4", 2 * n, 8 + 4 * n).reshape(-1, 2)
            prog.images.append(Image(_selection(sel, "CODE"), words,
                                     LineMap(lm[:, 0].tolist(), lm[:, 1].tolist())))
        elif tag == b"DATA":
            if len(payload) < 16:
                raise ContainerError("DATA section shorter than its header")
            region, addr, *sel, n = struct.unpack_from("<II4BI", payload)
            if region >= len(REGIONS) or len(payload) != 16 + n:
                raise ContainerError("bad DATA section (region or length)")
            pes = _selection(sel, "DATA")
            if REGIONS[region] != "lm" and not pes.all:
                raise ContainerError(f"DATA for {REGIONS[region].upper()} names PEs")
            prog.segments.append(Segment(REGIONS[region], addr, payload[16:], pes))
        elif tag == b"SYMS":
            prog.symbols = _symbols(_json(payload, "SYMS"))
        else:
            raise ContainerError(f"unknown section {_tag(tag)}")
    if pos != len(blob):
        raise ContainerError(f"{len(blob) - pos} bytes after the last of the {count} "
                             "sections the header counts")
    for tag in (b"META", b"SYMS"):
        if tag not in seen:
            raise ContainerError(f"no {_tag(tag)} section")
    for im in prog.images:
        bad = next((f for f, _ in im.lines if f >= len(prog.files)), None)
        if bad is not None:
            raise ContainerError(f"CODE line map names file {bad}; META lists "
                                 f"{len(prog.files)}")
    if any(k >= len(prog.images) or name not in prog.symbols for name, k in prog.labels.items()):
        raise ContainerError("META labels name an image or a symbol that is not there")
    return prog


def _tag(tag: bytes) -> str:
    return tag.decode("ascii", "replace") if tag.isascii() and tag.isalnum() else repr(tag)


def _json_depth(payload: bytes) -> int:
    """Deepest nesting of [ and { outside strings: checked before json.loads, which
    would recurse (a RecursionError) on 100,000 brackets."""
    depth = deepest = 0
    in_str = escaped = False
    for ch in payload:
        if in_str:
            if escaped:
                escaped = False
            elif ch == 0x5C:  # backslash
                escaped = True
            elif ch == 0x22:  # quote
                in_str = False
        elif ch == 0x22:
            in_str = True
        elif ch in (0x5B, 0x7B):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > JSON_DEPTH:
                    return deepest
        elif ch in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _no_constant(name: str) -> object:
    raise ContainerError(f"{name} is not a JSON number this container allows")


def _unique(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for k, v in pairs:
        if k in out:
            raise ContainerError(f"duplicate key {k!r}")
        out[k] = v
    return out


def _json(payload: bytes, what: str) -> object:
    if _json_depth(payload) > JSON_DEPTH:
        raise ContainerError(f"{what}: JSON nested deeper than {JSON_DEPTH} levels")
    try:
        return json.loads(payload.decode("utf-8"), parse_constant=_no_constant,
                          object_pairs_hook=_unique)
    except ContainerError as exc:
        raise ContainerError(f"{what}: {exc}") from None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise ContainerError(f"{what}: not valid JSON ({exc})") from None


def _meta(meta: object) -> tuple[str, list[str], dict[str, int]]:
    if not isinstance(meta, dict) or not {"isa", "files"} <= set(meta) \
            <= {"isa", "files", "labels"}:
        raise ContainerError('META must be {"isa": ..., "files": [...]} and optionally '
                             '"labels": {...}')
    isa, files, labels = meta["isa"], meta["files"], meta.get("labels", {})
    if not isinstance(isa, str) or not isinstance(files, list) \
            or not all(isinstance(f, str) for f in files):
        raise ContainerError("META: isa must be a string and files a list of strings")
    if not isinstance(labels, dict) or not all(type(v) is int and v >= 0
                                               for v in labels.values()):
        raise ContainerError("META: labels must map names to image indices")
    return isa, files, labels


def _symbols(syms: object) -> dict[str, int]:
    if not isinstance(syms, dict):
        raise ContainerError("SYMS must be a JSON object {name: integer}")
    for name, value in syms.items():
        if type(value) is not int or not SYM_MIN <= value <= SYM_MAX:
            raise ContainerError(f"SYMS: {name!r} = {value!r} is not a 64-bit integer")
    return syms  # type: ignore[return-value]


def _selection(sel: list[int], what: str) -> Selection:
    s = Selection(*sel)
    if s.all:
        return s
    r0, r1, c0, c1 = sel
    if not (r0 <= r1 < 255 and c0 <= c1 < 255):
        raise ContainerError(f"{what}: bad PE selection {tuple(sel)}")
    return s
