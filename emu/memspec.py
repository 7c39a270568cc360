"""Places in the machine's memories as the command line names them (ARCH.md §9).

`pearray run --dump SPEC`, `--load PLACE=FILE` and the debugger's `mem SPEC`
share this grammar::

    SPEC   = PLACE ":" COUNT [":" FMT]
    PLACE  = REGION ":" ADDR | SYMBOL ["@" R "," C]
    REGION = "lm" ["@" R "," C] | "sm" | "gm"        (lm alone is PE 0,0's)
    FMT    = i8 | u8 | i16 | u16 | i32 | u32 | x32    (default i32)

ADDR is an absolute address (`gm:0x80000010`) or an offset into the region
(`gm:16`); a SYMBOL is a label of the program (its absolute address).  Every
mistake is a `SpecError` whose message names the spec and what is wrong.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

FORMATS = {"i8": "<i1", "u8": "<u1", "i16": "<i2", "u16": "<u2", "i32": "<i4", "u32": "<u4",
           "x32": "<u4"}
REGIONS = ("lm", "sm", "gm")
_PE = re.compile(r"^(?P<name>[^@]+)@(?P<r>\d+),(?P<c>\d+)$")


class SpecError(ValueError):
    """A dump or load spec that does not name a place in this machine."""


@dataclass(frozen=True)
class Place:
    """A byte address in one region (of one PE, for LM)."""

    region: str  # "lm" | "sm" | "gm"
    addr: int  # absolute
    pe: tuple[int, int] | None  # (row, col) for LM

    def describe(self) -> str:
        where = f"LM of PE ({self.pe[0]},{self.pe[1]})" if self.pe else self.region.upper()
        return f"{self.addr:#x} in {where}"


@dataclass(frozen=True)
class Dump:
    """`SPEC`: COUNT items of FMT from a place."""

    text: str
    place: Place
    count: int
    fmt: str


def _int(text: str, what: str, spec: str) -> int:
    try:
        value = int(text.replace("_", ""), 0)
    except ValueError:
        raise SpecError(f"{spec!r}: {what} {text!r} is not a number") from None
    if value < 0:
        raise SpecError(f"{spec!r}: {what} {text!r} is negative")
    return value


def _region_bounds(machine: Any, region: str) -> tuple[int, int]:
    p = machine.params
    return p[f"{region}_base"], p[f"{region}_size"]


def _pe(machine: Any, name: str, spec: str) -> tuple[str, tuple[int, int] | None]:
    """Split `name@R,C`, checking R,C against the array."""
    m = _PE.match(name)
    if not m:
        if "@" in name:
            raise SpecError(f"{spec!r}: {name!r}: a PE is written @ROW,COL (e.g. lm@1,2)")
        return name, None
    r, c = int(m["r"]), int(m["c"])
    if r >= machine.rows or c >= machine.cols:
        raise SpecError(f"{spec!r}: PE ({r},{c}) is outside the {machine.rows}x{machine.cols} "
                        "array")
    return m["name"], (r, c)


def region_of(machine: Any, addr: int) -> str | None:
    """The region holding absolute address `addr`, if any."""
    for region in REGIONS:
        base, size = _region_bounds(machine, region)
        if base <= addr < base + size:
            return region
    return None


def parse_place(machine: Any, text: str, spec: str | None = None) -> Place:
    """`REGION:ADDR` or `SYMBOL[@R,C]` as a Place."""
    spec = spec or text
    head, sep, rest = text.partition(":")
    name, pe = _pe(machine, head, spec)
    if name in REGIONS and sep:
        if pe and name != "lm":
            raise SpecError(f"{spec!r}: only lm takes @ROW,COL ({name} is shared)")
        base, size = _region_bounds(machine, name)
        addr = _int(rest, "address", spec)
        if not base <= addr < base + size:
            if addr >= size:
                raise SpecError(f"{spec!r}: address {addr:#x} is neither inside "
                                f"{name.upper()} ({base:#x}..{base + size - 1:#x}) nor an "
                                f"offset into it (0..{size - 1:#x})")
            addr += base
        if name == "lm":
            pe = pe or (0, 0)
        return Place(name, addr, pe)
    if sep:
        raise SpecError(f"{spec!r}: {name!r} is not a region (lm, lm@R,C, sm, gm)")
    if name in REGIONS:
        raise SpecError(f"{spec!r}: {name} needs an address: {name}:ADDR")
    program = getattr(machine, "program", None)
    symbols = program.symbols if program else {}
    if name not in symbols:
        hint = f"; the program's symbols: {', '.join(sorted(symbols))}" if symbols else ""
        raise SpecError(f"{spec!r}: {name!r} is neither a region (lm, lm@R,C, sm, gm) nor a "
                        f"symbol of the program{hint}")
    if program.symbol_sections.get(name, "").startswith(".text"):
        raise SpecError(f"{spec!r}: {name!r} is a code label, not data")
    addr = symbols[name]
    region = region_of(machine, addr)
    if region is None:
        raise SpecError(f"{spec!r}: symbol {name} = {addr:#x} is not inside a memory region")
    if region == "lm":
        pe = pe or (0, 0)
    elif pe:
        raise SpecError(f"{spec!r}: {name} is in {region.upper()}, which every PE shares: "
                        "drop the @ROW,COL")
    return Place(region, addr, pe)


def parse_dump(machine: Any, spec: str) -> Dump:
    """`PLACE:COUNT[:FMT]` as a Dump, checked against the machine's memories."""
    parts = spec.split(":")
    fields = 3 if parts[0].split("@")[0] in REGIONS else 2  # with COUNT, before FMT
    fmt = "i32"
    if len(parts) == fields + 1:
        fmt = parts.pop()
        if fmt not in FORMATS:
            raise SpecError(f"{spec!r}: format {fmt!r} is not one of {' '.join(FORMATS)}")
    if len(parts) != fields:
        raise SpecError(f"{spec!r}: expected REGION:ADDR:COUNT[:FMT] or SYMBOL:COUNT[:FMT]")
    count = _int(parts[-1], "count", spec)
    if count == 0:
        raise SpecError(f"{spec!r}: count is 0")
    place = parse_place(machine, ":".join(parts[:-1]), spec)
    size = np.dtype(FORMATS[fmt]).itemsize
    base, region_size = _region_bounds(machine, place.region)
    if place.addr + count * size > base + region_size:
        raise SpecError(f"{spec!r}: {count} x {fmt} from {place.addr:#x} runs past the end of "
                        f"{place.region.upper()} ({base + region_size:#x})")
    return Dump(spec, place, count, fmt)


def _bytes(machine: Any, place: Place, nbytes: int) -> np.ndarray:
    """The machine's bytes at a place (a zero-copy view; not counted as host traffic)."""
    base, _ = _region_bounds(machine, place.region)
    if place.region == "lm":
        mem = machine.lm[place.pe[0] * machine.cols + place.pe[1]]
    else:
        mem = machine.sm if place.region == "sm" else machine.gm
    off = place.addr - base
    return mem[off:off + nbytes]


def read(machine: Any, dump: Dump) -> list[int]:
    """The values a dump names, as Python ints (x32 as unsigned)."""
    dt = np.dtype(FORMATS[dump.fmt])
    raw = _bytes(machine, dump.place, dump.count * dt.itemsize)
    return [int(v) for v in raw.copy().view(dt)]


def render(dump: Dump, values: list[int]) -> str:
    """A dump for people: a header, then rows of values, each row led by its address."""
    size = np.dtype(FORMATS[dump.fmt]).itemsize
    per_row = 16 if size == 1 else 8
    cells = [f"{v:#010x}" if dump.fmt == "x32" else str(v) for v in values]
    width = max(len(c) for c in cells)
    lines = [f"{dump.text}: {dump.count} x {dump.fmt} at {dump.place.describe()}"]
    for i in range(0, len(cells), per_row):
        row = " ".join(c.rjust(width) for c in cells[i:i + per_row])
        lines.append(f"  {dump.place.addr + i * size:#010x}: {row}")
    return "\n".join(lines)


def file_bytes(path: str) -> bytes:
    """What `--load` places from a file: a .npy array's raw little-endian bytes (C order),
    any other file's bytes as they are.  Read as every command reads an input
    (pearray.files.read_input): a FIFO, device or folder is refused, not waited on."""
    from pearray.files import OutputError, read_input

    try:
        blob = read_input(path, "file")
    except OutputError as exc:
        raise SpecError(str(exc)) from None
    if not path.endswith(".npy"):
        return blob
    try:
        arr = np.load(io.BytesIO(blob), allow_pickle=False)
    except (ValueError, EOFError, OSError) as exc:
        raise SpecError(f"{path}: not a numeric .npy array ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise SpecError(f"{path}: .npy of dtype {arr.dtype}: only bool, int, uint and "
                        "float arrays can be loaded")
    return np.ascontiguousarray(arr, arr.dtype.newbyteorder("<")).tobytes()


def load_path(spec: str) -> str:
    """The file a `PLACE=FILE` spec reads (an input the run's outputs must not replace)."""
    return spec.partition("=")[2]


def load(machine: Any, spec: str) -> tuple[Place, int]:
    """`PLACE=FILE`: copy the file's bytes into the machine; returns where and how many."""
    place_text, sep, path = spec.partition("=")
    if not sep or not path or not place_text:
        raise SpecError(f"{spec!r}: expected REGION:ADDR=FILE or SYMBOL=FILE")
    place = parse_place(machine, place_text, spec)
    data = file_bytes(path)
    base, size = _region_bounds(machine, place.region)
    if place.addr + len(data) > base + size:
        raise SpecError(f"{spec!r}: {len(data)} bytes from {place.addr:#x} run past the end "
                        f"of {place.region.upper()} ({base + size:#x})")
    _bytes(machine, place, len(data))[:] = np.frombuffer(data, np.uint8)
    return place, len(data)
