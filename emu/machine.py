"""The host API of the emulated array: build a machine, load a program, run it.

Memories are numpy arrays owned here and lent to the C core, so `machine.gm`,
`machine.sm` and `machine.lm[pe]` are zero-copy views for laying out tensors
and reading results.  The C cycle loop returns to Python only to drain a full
trace buffer and every few milliseconds of wall time (so that Ctrl-C is seen;
the machine is then paused between two cycles and can run on).

Results are read through a numpy view of the C structs: a `RunResult` holds a
copy of the counters and builds per-PE `PEStats` objects only when asked.
"""

from __future__ import annotations

import importlib
import mmap
import os
import stat
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import pearray
from pearray.asm.program import Program
from pearray.isa.spec import load as load_isa

from . import codegen

STALLS = ("memory", "bank", "send", "recv", "sync", "dma")
TRAPS = (None, "illegal", "misaligned", "out_of_range", "edge", "loop_depth", "cycle_limit",
         "deadlock")
REGION_NAMES = ("lm", "sm", "gm")
DIRECTIONS = ("n", "e", "s", "w")
RUN_STATUS = ("halted", "trap", "paused", "break", "trace_full", "watch", "slice")
TRACE_CAPACITY = 1 << 14  # records per drain of the trace buffer
# The default cycle limit is a budget of PE-cycles, so that a runaway program stops after
# a few seconds whatever the array's size (1e8 cycles took 49 s on 16x16).
DEFAULT_PE_CYCLES = 2_000_000_000
MIN_DEFAULT_CYCLES = 1_000_000
MAX_CYCLES = 2**63 - 1  # the core counts cycles in 64 bits
SLICE_NS = 20_000_000  # the C loop hands back to Python at least this often (Ctrl-C)
SOURCE_LINE_MAX = 4096  # bytes of a source line shown in a trap report
SOURCE_READ_MAX = 16 << 20  # bytes read from a source file to find that line
MEMORY_MAX = 2 << 30  # bytes of emulated memory one Machine may allocate
REBUILD = "pip install -e . (or, in a source checkout, python emu/build_core.py)"


class CoreStale(ImportError):
    """The compiled core was built from other sources or flags than these."""


def _load_core() -> Any:
    try:
        core = importlib.import_module("pearray.emu._core")
    except ImportError as exc:
        raise ImportError(f"the emulator core is not built ({exc}); run: {REBUILD}"
                          + pearray.source_tree_note()) from None
    built = core.ffi.string(core.lib.pe_source_hash()).decode()
    if all(p.is_file() for p in codegen.inputs()):
        want = codegen.source_hash()
        if built != want:
            # a core from before the flags were stamped has no pe_build_flags
            flags_fn = getattr(core.lib, "pe_build_flags", None)
            flags = core.ffi.string(flags_fn()).decode() if flags_fn else "unknown"
            raise CoreStale(
                f"the emulator core is stale (built from {built} with flags `{flags}`; the "
                f"sources and flags `{' '.join(codegen.cflags())}` give {want}); rebuild: "
                f"{REBUILD}" + pearray.source_tree_note()
            )
    return core


_core = _load_core()
ffi, lib = _core.ffi, _core.lib


def machine_defaults() -> dict[str, int]:
    """The machine parameters of the ISA description (ARCH.md §2)."""
    return dict(load_isa().machine)


def _struct_dtype(ctype: str) -> np.dtype:
    """A numpy dtype laid over the C struct `ctype` (its integer and array fields, at the
    compiler's offsets), for zero-copy views of arrays of it."""
    names, formats, offsets = [], [], []
    for name, f in ffi.typeof(ctype).fields:
        t, shape = f.type, ()
        if t.kind == "array":
            t, shape = t.item, (t.length,)
        if t.kind != "primitive":
            continue  # pointers
        names.append(name)
        formats.append((np.dtype(f"<{'i' if t.cname.startswith('int') else 'u'}"
                                 f"{ffi.sizeof(t)}"), shape))
        offsets.append(f.offset)
    return np.dtype({"names": names, "formats": formats, "offsets": offsets,
                     "itemsize": ffi.sizeof(ctype)})


PE_DTYPE = _struct_dtype("pe_t")
TRACE_DTYPE = _struct_dtype("trace_t")
EV_DTYPE = _struct_dtype("trace_ev_t")


# ---------------------------------------------------------------- what a run reports


@dataclass
class Blocked:
    """A PE that could not go on when a run deadlocked, and what it waited for."""

    pe: tuple[int, int]
    pc: int
    line: int | None
    file: str | None
    waits: str  # "recv from w", "send to e", "sync"
    why: str  # the state that keeps it waiting

    def to_json(self) -> dict[str, Any]:
        return {"pe": list(self.pe), "pc": self.pc, "line": self.line, "file": self.file,
                "waits": self.waits, "why": self.why}


@dataclass
class Trap:
    """Why a run stopped early: ARCH.md §6's cause, where, the detail that explains it
    (isa.toml decision `trap_causes`), and the PE's registers."""

    cause: str
    pe: tuple[int, int]
    pc: int
    line: int | None
    file: str | None
    regs: list[int]
    source: str | None = None  # the text of the source line, when it is at hand
    detail: str = ""  # one sentence: what went wrong
    addr: int | None = None  # memory traps: the effective address (DMA: of the side at fault)
    size: int | None = None  # loads and stores: bytes accessed
    direction: str | None = None  # edge: n, e, s or w
    blocked: list[Blocked] = field(default_factory=list)  # deadlock: every blocked PE

    def to_json(self) -> dict[str, Any]:
        return {"cause": self.cause, "pe": list(self.pe), "pc": self.pc, "line": self.line,
                "file": self.file, "detail": self.detail, "addr": self.addr, "size": self.size,
                "direction": self.direction, "blocked": [b.to_json() for b in self.blocked]}

    def describe(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else "no source line"
        lines = [f"trap: {self.cause} at PE ({self.pe[0]},{self.pe[1]}) pc={self.pc:#x} ({where})"]
        if self.source is not None:
            lines.append(f"    {self.source.rstrip()}")
        if self.detail:
            lines.append(f"  {self.detail}")
        for b in self.blocked:
            src = f" ({b.file}:{b.line})" if b.line else ""
            lines.append(f"    PE ({b.pe[0]},{b.pe[1]}) pc={b.pc:#x}{src}: waits at {b.waits}: "
                         f"{b.why}")
        regs = " ".join(f"r{i}={v:#010x}" for i, v in enumerate(self.regs))
        lines.append(f"  registers: {regs}")
        return "\n".join(lines)


@dataclass
class WatchHit:
    """The store that stopped a run at a watchpoint (status "watch")."""

    pe: tuple[int, int]  # the storing PE
    pc: int  # of the storing instruction (a store, or a DMA issue)
    addr: int  # the watched word's address
    old: int  # the word before the store
    new: int  # and after it
    line: int | None = None
    file: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"pe": list(self.pe), "pc": self.pc, "addr": self.addr, "old": self.old,
                "new": self.new, "line": self.line, "file": self.file}

    def __str__(self) -> str:
        src = f" ({self.file}:{self.line})" if self.line else ""
        return (f"PE ({self.pe[0]},{self.pe[1]}) pc={self.pc:#x}{src} wrote the word at "
                f"{self.addr:#x}: {self.old:#010x} -> {self.new:#010x}")


@dataclass
class BreakHit:
    """The PE whose breakpoint stopped a run (status "break"), before it issues `pc`."""

    pe: tuple[int, int]
    pc: int
    line: int | None = None
    file: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"pe": list(self.pe), "pc": self.pc, "line": self.line, "file": self.file}


@dataclass
class PEStats:
    row: int
    col: int
    pc: int
    halted: bool
    cycles: int  # the cycle it halted in + 1, or the run's cycles if it has not halted
    regs: list[int]
    retired: int
    macs: int
    stalls: dict[str, int]
    loads: dict[str, int]
    stores: dict[str, int]
    load_bytes: dict[str, int]
    store_bytes: dict[str, int]
    bank_conflicts: int

    def to_json(self) -> dict[str, Any]:
        return {
            "row": self.row, "col": self.col, "pc": self.pc, "halted": self.halted,
            "cycles": self.cycles,
            "regs": self.regs, "retired": self.retired, "macs": self.macs,
            "stalls": self.stalls, "bank_conflicts": self.bank_conflicts,
            "memory": {r: {"loads": self.loads[r], "stores": self.stores[r]}
                       for r in REGION_NAMES},
        }


def _pe_stats(row: np.void, cycles: int) -> PEStats:
    def per_region(a: np.ndarray) -> dict[str, int]:
        return {r: int(a[k]) for k, r in enumerate(REGION_NAMES)}

    halted = bool(row["halted"])
    return PEStats(
        row=int(row["row"]), col=int(row["col"]), pc=int(row["pc"]), halted=halted,
        cycles=int(row["halt_cycle"]) if halted else cycles,
        regs=[int(v) for v in row["r"]], retired=int(row["retired"]), macs=int(row["macs"]),
        stalls={c: int(row["stall"][k]) for k, c in enumerate(STALLS)},
        loads=per_region(row["loads"]), stores=per_region(row["stores"]),
        load_bytes=per_region(row["load_bytes"]), store_bytes=per_region(row["store_bytes"]),
        bank_conflicts=int(row["bank_conflicts"]),
    )


class PEList(Sequence[PEStats]):
    """The per-PE counters of a RunResult, built one PEStats at a time when read."""

    def __init__(self, counters: np.ndarray, cycles: int) -> None:
        self._c, self._cycles = counters, cycles
        self._built: dict[int, PEStats] = {}

    def __len__(self) -> int:
        return len(self._c)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        k = range(len(self))[i]  # IndexError and negative indices as a list's
        if k not in self._built:
            self._built[k] = _pe_stats(self._c[k], self._cycles)
        return self._built[k]

    def __iter__(self) -> Iterator[PEStats]:
        return (self[k] for k in range(len(self)))

    def __eq__(self, other: object) -> bool:
        return list(self) == list(other) if isinstance(other, Sequence) else NotImplemented


class RunResult:
    """Cycles, counters per PE and in total, and why the run stopped: the trap, the
    watchpoint or the breakpoint, if one did.  Totals come from the counters at once;
    `pes` (PEStats per PE, in id order) is built when read."""

    def __init__(self, cycles: int, status: str, trap: Trap | None,
                 pes: Sequence[PEStats] | np.ndarray,
                 memory: dict[str, dict[str, int]] | None = None, *,
                 watch: WatchHit | None = None, breakpoint: BreakHit | None = None) -> None:
        self.cycles, self.status, self.trap = cycles, status, trap
        self.watch, self.breakpoint = watch, breakpoint
        if isinstance(pes, np.ndarray):
            self._c: np.ndarray | None = pes
            self.pes: Sequence[PEStats] = PEList(pes, cycles)
        else:
            self._c, self.pes = None, list(pes)
        self._memory = memory

    def _sum(self, name: str) -> Any:
        if self._c is not None:
            return self._c[name].sum(axis=0, dtype=np.uint64)
        return None

    @property
    def memory(self) -> dict[str, dict[str, int]]:
        """Per region: loads, stores, load_bytes, store_bytes over all PEs."""
        if self._memory is None:
            keys = ("loads", "stores", "load_bytes", "store_bytes")
            if self._c is not None:
                sums = {k: self._sum(k) for k in keys}
                self._memory = {r: {k: int(sums[k][j]) for k in keys}
                                for j, r in enumerate(REGION_NAMES)}
            else:
                self._memory = {r: {k: sum(getattr(p, k)[r] for p in self.pes) for k in keys}
                                for r in REGION_NAMES}
        return self._memory

    @property
    def retired(self) -> int:
        return int(self._sum("retired")) if self._c is not None else sum(
            p.retired for p in self.pes)

    @property
    def macs(self) -> int:
        return int(self._sum("macs")) if self._c is not None else sum(p.macs for p in self.pes)

    @property
    def stalls(self) -> dict[str, int]:
        if self._c is not None:
            s = self._sum("stall")
            return {c: int(s[k]) for k, c in enumerate(STALLS)}
        return {c: sum(p.stalls[c] for p in self.pes) for c in STALLS}

    @property
    def bank_conflicts(self) -> int:
        if self._c is not None:
            return int(self._sum("bank_conflicts"))
        return sum(p.bank_conflicts for p in self.pes)

    @property
    def accesses(self) -> int:
        """Loads plus stores over every region: the paper's "memory accesses"."""
        return sum(v["loads"] + v["stores"] for v in self.memory.values())

    def to_json(self) -> dict[str, Any]:
        """The JSON object of `pearray run --json` (ARCH.md §7's keys, and more)."""
        return {
            "cycles": self.cycles, "status": self.status,
            "trap": self.trap.to_json() if self.trap else None,
            "watch": self.watch.to_json() if self.watch else None,
            "breakpoint": self.breakpoint.to_json() if self.breakpoint else None,
            "pes": [p.to_json() for p in self.pes], "memory": self.memory,
            "retired": self.retired, "macs": self.macs, "stalls": self.stalls,
            "bank_conflicts": self.bank_conflicts,
        }

    def __repr__(self) -> str:
        return (f"RunResult(cycles={self.cycles}, status={self.status!r}, trap={self.trap!r}, "
                f"retired={self.retired})")


@dataclass
class MemAccess:
    """A load or store of a traced instruction."""

    kind: str  # "load" | "store"
    addr: int
    size: int  # bytes
    value: int  # the bytes read or written, zero-extended
    region: str | None  # "lm" | "sm" | "gm"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "addr": self.addr, "size": self.size, "value": self.value,
                "region": self.region}


@dataclass
class DmaIssue:
    """A DMA transfer a traced instruction queued (decisions `dma`, `dma2d`)."""

    dst: int
    src: int
    rows: int
    row_bytes: int
    words: int  # what the engine moves: rows * ceil(row_bytes / 4)
    start: int | None  # first cycle the engine works on it (None: it moves nothing)
    end: int | None  # the cycle after its last word (and the GM port's) is done

    def to_json(self) -> dict[str, Any]:
        return {"dst": self.dst, "src": self.src, "rows": self.rows, "row_bytes": self.row_bytes,
                "words": self.words, "start": self.start, "end": self.end}


@dataclass
class TraceRecord:
    """One retired instruction (every one, `sync` included), in issue order per cycle.

    `cycle` is the cycle it issued in and `busy` the cycles until its PE may issue again
    (its cost plus the stalls it caused after issue: memory, bank, dma; for `halt`, until
    the PE is done).  `stalls` are the cycles this instruction stalled, by cause: waits
    before it could issue (send, recv, sync) and after (memory, bank, dma)."""

    cycle: int
    pe: tuple[int, int]
    pc: int
    word: int
    writes: list[tuple[int, int]]  # (register, value)
    mem: list[MemAccess] = field(default_factory=list)
    nb: tuple[str, str, int] | None = None  # ("send" | "recv", direction, value)
    dma: DmaIssue | None = None
    stalls: dict[str, int] = field(default_factory=dict)
    busy: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "cycle": self.cycle, "pe": list(self.pe), "pc": self.pc, "word": self.word,
            "writes": {f"r{r}": v for r, v in self.writes},
            "mem": [a.to_json() for a in self.mem],
            "nb": {"kind": self.nb[0], "dir": self.nb[1], "value": self.nb[2]} if self.nb
            else None,
            "dma": self.dma.to_json() if self.dma else None,
            "stalls": self.stalls, "busy": self.busy,
        }


# ---------------------------------------------------------------- argument checks


def _int(name: str, v: Any, lo: int, hi: int) -> int:
    """An integer argument in lo..hi, else a TypeError or ValueError that names it."""
    if isinstance(v, bool) or not isinstance(v, int | np.integer):
        raise TypeError(f"{name} must be an integer, not {type(v).__name__}")
    v = int(v)
    if not lo <= v <= hi:
        raise ValueError(f"{name}={v}: must be {lo}..{hi}")
    return v


# parameter -> (lowest, highest) accepted; sizes and bases are further checked together
PARAM_RANGE = {
    "imem_words": (1, 1 << 20), "lm_size": (0, 1 << 30), "sm_size": (0, 1 << 30),
    "gm_size": (0, 1 << 31), "lm_base": (0, 2**32 - 4), "sm_base": (0, 2**32 - 4),
    "gm_base": (0, 2**32 - 4), "sm_banks": (0, 1 << 16), "lm_cost": (1, 1 << 16),
    "sm_cost": (1, 1 << 16), "gm_cost": (1, 1 << 16), "lfsr_reset": (1, 2**32 - 1),
    "lfsr_taps": (0, 2**32 - 1), "dma_queue": (1, 8), "gm_port_words": (1, 1 << 16),
    "rows": (1, 16), "cols": (1, 16),
}


def check_params(rows: int, cols: int, params: dict[str, Any]) -> dict[str, int]:
    """The machine description, checked: integers in range, word-aligned bases and sizes,
    regions inside the 32-bit address space and apart, memory the host can give."""
    out = {k: _int(k, v, *PARAM_RANGE.get(k, (0, 2**32 - 1))) for k, v in params.items()}
    _int("rows", rows, *PARAM_RANGE["rows"])
    _int("cols", cols, *PARAM_RANGE["cols"])
    spans = []
    for r in REGION_NAMES:
        base, size = out[f"{r}_base"], out[f"{r}_size"]
        if base % 4 or size % 4:
            raise ValueError(f"{r}_base={base:#x}, {r}_size={size:#x}: must be multiples of 4")
        if base + size > 2**32:
            raise ValueError(f"{r.upper()} {base:#x}+{size:#x} runs past the 32-bit address "
                             "space")
        if size:
            spans.append((base, base + size, r.upper()))
    spans.sort()
    for (b0, e0, n0), (b1, _, n1) in zip(spans, spans[1:], strict=False):
        if b1 < e0:
            raise ValueError(f"{n0} ({b0:#x}..{e0:#x}) and {n1} (from {b1:#x}) overlap")
    total = out["gm_size"] + out["sm_size"] + rows * cols * out["lm_size"]
    if total > MEMORY_MAX:
        raise ValueError(f"the memories take {total:,} bytes: at most {MEMORY_MAX:,}")
    return out


def read_source_line(path: str, line: int) -> str | None:
    """Line `line` (1-based) of the file at `path`, if it is a regular file and the line lies
    within its first SOURCE_READ_MAX bytes; at most SOURCE_LINE_MAX bytes of it.  Never
    blocks on a FIFO or a device, never reads a whole large file."""
    if line < 1:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except (OSError, ValueError, TypeError):
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(fd, "rb", closefd=False) as fh:
            seen = 0
            for k in range(1, line + 1):
                raw = fh.readline(SOURCE_LINE_MAX)
                seen += len(raw)
                if not raw or seen > SOURCE_READ_MAX:
                    return None
                while not raw.endswith(b"\n") and len(raw) >= SOURCE_LINE_MAX:
                    rest = fh.readline(SOURCE_LINE_MAX)  # skip the rest of a long line
                    seen += len(rest)
                    if not rest or rest.endswith(b"\n") or seen > SOURCE_READ_MAX:
                        break
                if k == line:
                    return raw[:SOURCE_LINE_MAX].decode("utf-8", errors="replace").rstrip("\r\n")
    except OSError:
        return None
    finally:
        os.close(fd)
    return None


# ---------------------------------------------------------------- the machine


class _Zeroed:
    """n bytes of emulated memory in a private anonymous mapping: clearing a large one
    hands its pages back to the kernel (they read as zeros again), so it costs what
    the run touched, not the region's size."""

    BIG = 256 << 10  # smaller regions are cleared with a plain fill

    def __init__(self, n: int) -> None:
        self.map: mmap.mmap | None = None
        if n >= self.BIG and hasattr(mmap, "MAP_ANONYMOUS") and hasattr(mmap, "MADV_DONTNEED"):
            self.map = mmap.mmap(-1, n, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
            self.array = np.frombuffer(self.map, np.uint8, count=n)
        else:
            self.array = np.zeros(n, np.uint8)

    def clear(self) -> None:
        if self.map is not None:
            self.map.madvise(mmap.MADV_DONTNEED)
        else:
            self.array.fill(0)



class Machine:
    """rows × cols PEs with their memories; the parameters default to isa.toml's [machine].

    `lockstep=True` never lets a PE run ahead of the array's cycle: at a trap every PE's
    state is exactly that at the end of the trapping cycle (decision `traps`), at some
    speed.  Breakpoints, watchpoints and tracing run in lock step too."""

    def __init__(self, rows: int = 4, cols: int = 4, *, lockstep: bool = False,
                 **config: int) -> None:
        params = machine_defaults()
        unknown = set(config) - set(params)
        if unknown:
            raise ValueError(f"unknown machine parameters: {sorted(unknown)}")
        params.update(config)
        for k in ("rows", "cols"):
            v = rows if k == "rows" else cols
            if isinstance(v, bool) or not isinstance(v, int | np.integer):
                raise TypeError(f"{k} must be an integer, not {type(v).__name__}")
        if not (1 <= rows <= 16 and 1 <= cols <= 16):
            raise ValueError(f"array of {rows}x{cols} PEs: rows and cols must be 1..16")
        params = check_params(int(rows), int(cols), params)
        self.rows, self.cols, self.params = int(rows), int(cols), params
        self.npes = self.rows * self.cols
        self.lockstep = bool(lockstep)
        self.isa = load_isa()
        self._maps = [_Zeroed(params["gm_size"]), _Zeroed(params["sm_size"]),
                      _Zeroed(self.npes * params["lm_size"])]
        self.gm, self.sm = self._maps[0].array, self._maps[1].array
        self.lm = self._maps[2].array.reshape(self.npes, params["lm_size"])
        self._m = ffi.new("machine_t *")
        self._pes = ffi.new("pe_t[]", self.npes)
        self._pe_view = np.frombuffer(ffi.buffer(self._pes), PE_DTYPE)
        self._banks = ffi.new("uint64_t[]", max(1, params["sm_banks"]))
        self._bank_count = ffi.new("uint32_t[]", max(1, params["sm_banks"]))
        self._bp = np.zeros(params["imem_words"], np.uint8)
        self._trace = ffi.new("trace_t[]", TRACE_CAPACITY)
        self._trace_ev = ffi.new("trace_ev_t[]", TRACE_CAPACITY * 4)
        self._trace_mark = ffi.new("uint64_t[]", self.npes * lib.STALL_CAUSES)
        self._keep: list[Any] = []
        self._decoded: OrderedDict[bytes, tuple[Any, Any, int]] = OrderedDict()
        m = self._m
        m.rows, m.cols, m.npes = self.rows, self.cols, self.npes
        m.imem_words = params["imem_words"]
        m.lm_size, m.sm_size, m.gm_size = params["lm_size"], params["sm_size"], params["gm_size"]
        m.lm_base, m.sm_base, m.gm_base = params["lm_base"], params["sm_base"], params["gm_base"]
        m.sm_banks = params["sm_banks"]
        m.lockstep = int(self.lockstep)
        m.cost = [params["lm_cost"], params["sm_cost"], params["gm_cost"]]
        m.lfsr_taps = params["lfsr_taps"]
        m.dma_queue, m.gm_port_words = params["dma_queue"], params["gm_port_words"]
        m.pes = self._pes
        m.slice_ns = SLICE_NS
        m.trace_mark = self._trace_mark
        # cffi buffers must outlive the C pointers taken from them
        self._bufs = [ffi.from_buffer(a) for a in (self.sm, self.gm, *self.lm)]
        m.sm, m.gm = self._bufs[0], self._bufs[1]
        m.bank_stamp, m.bank_count = self._banks, self._bank_count
        for i in range(self.npes):
            self._pes[i].lm = self._bufs[2 + i]
        self.program: Program | None = None
        self._image_of = np.full(self.npes, -1, np.int64)
        self._breaks: dict[tuple[int, int], None] = {}  # (pc, pe or -1), in the order added
        self._watches: dict[tuple[int, int], None] = {}  # (word address, pe or -1)
        self._break_arrays: tuple[Any, ...] = ()
        self._watch_arrays: tuple[Any, ...] = ()
        # what the host moved through write() and read(), in bytes, since construction
        self.host_bytes_written = 0
        self.host_bytes_read = 0
        self.reset()

    @property
    def default_max_cycles(self) -> int:
        """The cycle limit of run() when none is given: DEFAULT_PE_CYCLES PE-cycles (a few
        seconds of a runaway loop at any array size), at least MIN_DEFAULT_CYCLES."""
        return max(MIN_DEFAULT_CYCLES, DEFAULT_PE_CYCLES // self.npes)

    # ------------------------------------------------------------ state

    def reset(self) -> None:
        """Registers, PCs, counters and the cycle to their power-on values (memory,
        code, breakpoints and watchpoints kept)."""
        lib.pe_reset(self._m, self.params["lfsr_reset"])
        lib.pe_trace_mark(self._m)
        self._marks_valid = True  # a traced run from here counts every stall

    def load(self, program: Program, *, clear: bool = True) -> None:
        """Place a program: code images per PE, data segments; then reset.  With
        clear=False the memories keep their contents (a kernel launched on data an
        earlier kernel left in GM): only the code and the program's own data change.
        Images decoded before (for this machine) are not decoded again."""
        if not isinstance(program, Program):
            hint = (" (Program.from_bytes reads a container)"
                    if isinstance(program, bytes | bytearray | memoryview) else "")
            raise TypeError(f"load() takes a Program, not {type(program).__name__}{hint}")
        if program.isa and program.isa != self.isa.digest:
            raise ValueError(
                f"program assembled for ISA {program.isa}, this emulator runs {self.isa.digest}:"
                " reassemble it"
            )
        chosen = np.full(self.npes, -1, np.int64)
        ids = np.arange(self.npes)
        prow, pcol = ids // self.cols, ids % self.cols
        for k, image in enumerate(program.images):
            sel = image.pes
            if not sel.all and (sel.r1 >= self.rows or sel.c1 >= self.cols):
                raise ValueError(
                    f"code for PEs {sel} does not fit a {self.rows}x{self.cols} array"
                )
            if len(image.words) > self.params["imem_words"]:
                raise ValueError(
                    f"code for PEs {sel}: {len(image.words)} words exceed the instruction "
                    f"memory of {self.params['imem_words']}"
                )
            if sel.all:
                chosen[:] = k
            else:
                chosen[(prow >= sel.r0) & (prow <= sel.r1) & (pcol >= sel.c0)
                       & (pcol <= sel.c1)] = k
        for seg in program.segments:  # check all before changing anything
            for view, base, name in self._targets(seg.region, seg.pes):
                off = seg.addr - base
                if off < 0 or off + len(seg.data) > len(view):
                    raise ValueError(
                        f"data at {seg.addr:#x} (+{len(seg.data)} bytes) outside {name}"
                    )
        if clear:
            for z in self._maps:
                z.clear()
        used = [int(k) for k in np.unique(chosen) if k >= 0]
        images = [self._decode(program.images[k].words) for k in used]
        which = np.searchsorted(np.array(used, np.int64), chosen).astype(np.int32)
        which[chosen < 0] = -1
        self._keep = images
        lib.pe_set_images(self._m, ffi.cast("int32_t *", ffi.from_buffer(which)),
                          ffi.new("uint32_t *[]", [c for c, _, _ in images] or [ffi.NULL]),
                          ffi.new("dec_t *[]", [d for _, d, _ in images] or [ffi.NULL]),
                          ffi.new("uint32_t[]", [n for _, _, n in images] or [0]))
        for seg in program.segments:
            data = np.frombuffer(seg.data, np.uint8)
            for view, base, _ in self._targets(seg.region, seg.pes):
                view[seg.addr - base:seg.addr - base + len(data)] = data
        self.program = program
        self._image_of = chosen  # per PE: the index of its image, -1 for none
        self.reset()

    def _decode(self, words: np.ndarray) -> tuple[Any, Any, int]:
        """The image's words and their decoding, from the cache when decoded before."""
        raw = np.ascontiguousarray(words, dtype="<u4").tobytes()
        hit = self._decoded.get(raw)
        if hit is not None:
            self._decoded.move_to_end(raw)
            return hit
        n = len(raw) // 4
        code = ffi.new("uint32_t[]", max(n, 1))
        ffi.memmove(code, raw, len(raw))
        dec = ffi.new("dec_t[]", max(n, 1))
        lib.pe_decode_image(code, dec, n)
        self._decoded[raw] = (code, dec, n)
        while len(self._decoded) > 32:
            self._decoded.popitem(last=False)
        return code, dec, n

    def _targets(self, region: str, sel: Any) -> list[tuple[np.ndarray, int, str]]:
        p = self.params
        if region == "gm":
            return [(self.gm, p["gm_base"], "GM")]
        if region == "sm":
            return [(self.sm, p["sm_base"], "SM")]
        return [(self.lm[i], p["lm_base"], f"the LM of PE {divmod(i, self.cols)}")
                for i in range(self.npes) if sel.covers(*divmod(i, self.cols))]

    # ------------------------------------------------------------ host access

    def pe_index(self, pe: int | tuple[int, int]) -> int:
        """A PE id from an id or a (row, col) pair, checked against this array."""
        if isinstance(pe, tuple) and len(pe) == 2:
            r = _int("row", pe[0], 0, self.rows - 1)
            c = _int("col", pe[1], 0, self.cols - 1)
            return r * self.cols + c
        return _int("pe", pe, 0, self.npes - 1)

    def region_of(self, addr: int) -> str | None:
        """"lm", "sm" or "gm": the region holding byte address `addr`, or None."""
        p = self.params
        for r in REGION_NAMES:
            if 0 <= addr - p[f"{r}_base"] < p[f"{r}_size"]:
                return r
        return None

    def _view(self, addr: int, nbytes: int, pe: int | tuple[int, int] | None) -> np.ndarray:
        addr = _int("addr", addr, 0, 2**32 - 1)
        p = self.params
        for r, mem in (("gm", self.gm), ("sm", self.sm), ("lm", None)):
            base, size = p[f"{r}_base"], p[f"{r}_size"]
            if base <= addr and addr + nbytes <= base + size and (size or nbytes == 0):
                if mem is None:
                    if pe is None:
                        raise ValueError("an LM address needs pe=")
                    mem = self.lm[self.pe_index(pe)]
                elif pe is not None:
                    self.pe_index(pe)  # still a PE of this array
                return mem[addr - base:addr - base + nbytes]
        raise ValueError(f"{addr:#x}..{addr + nbytes:#x} is not inside one memory region")

    def write(self, addr: int, data: np.ndarray | bytes | bytearray | memoryview,
              pe: int | tuple[int, int] | None = None) -> None:
        """Copy bytes or a numeric array (its raw little-endian bytes) to an absolute
        address.  Counted as host traffic (`host_bytes_written`)."""
        if isinstance(data, bytes | bytearray | memoryview):
            raw = np.frombuffer(bytes(data), np.uint8)
        elif isinstance(data, np.ndarray | np.generic):
            arr = np.asarray(data)
            if arr.dtype.kind not in "biuf":
                raise TypeError(f"write() takes numeric arrays, not dtype {arr.dtype}")
            raw = np.ascontiguousarray(arr.astype(arr.dtype.newbyteorder("<"),
                                                  copy=False)).view(np.uint8).reshape(-1)
        else:
            raise TypeError(f"write() takes bytes or a numpy array, not {type(data).__name__}"
                            " (give lists as np.array(values, dtype))")
        self._view(addr, len(raw), pe)[:] = raw
        self.host_bytes_written += len(raw)

    def read(self, addr: int, count: int, dtype: Any = np.uint8,
             pe: int | tuple[int, int] | None = None) -> np.ndarray:
        """A zero-copy view of `count` items of `dtype` at an absolute address (a copy when
        the address is not aligned to the item).  Counted as host traffic
        (`host_bytes_read`); the `gm`/`sm`/`lm` array views are not."""
        dt = np.dtype(dtype)
        if dt.kind not in "biuf" or dt.itemsize == 0:
            raise TypeError(f"read() gives numeric arrays, not dtype {dt}")
        count = _int("count", count, 0, 2**32)
        view = self._view(addr, count * dt.itemsize, pe)
        self.host_bytes_read += count * dt.itemsize
        if addr % dt.itemsize:
            return view.copy().view(dt)
        return view.view(dt)

    def regs(self, pe: int | tuple[int, int]) -> np.ndarray:
        """PE `pe`'s 16 registers as a zero-copy uint32 view (write to set them)."""
        return np.frombuffer(ffi.buffer(self._pes[self.pe_index(pe)].r), np.uint32)

    def pc(self, pe: int | tuple[int, int]) -> int:
        return int(self._pes[self.pe_index(pe)].pc)

    def specials(self, pe: int | tuple[int, int]) -> dict[str, int]:
        """PE `pe`'s special registers by their ISA names (isa.toml enum `sreg`), as `mfs`
        would read them now (uint32; `cycle` is the machine's cycle): a debugger's view of
        sat, lfsr and the dma2d strides without reaching into the core's structs."""
        p, m = self._pes[self.pe_index(pe)], self._m
        fields = {"row": p.row, "col": p.col, "id": p.id, "rows": m.rows, "cols": m.cols,
                  "cycle": m.cycle, "sat": p.sat, "lfsr": p.lfsr, "dss": p.dma_ss,
                  "dds": p.dma_ds}
        names = sorted(self.isa.enums["sreg"].items(), key=lambda kv: kv[1])
        return {name: int(fields[name]) & 0xFFFF_FFFF for name, _ in names}

    @property
    def cycle(self) -> int:
        return int(self._m.cycle)

    @property
    def _images(self) -> list[int | None]:
        """Per PE, the index of its image in the program (None: no code); kept for callers
        of the list this used to be (use source_line and word_at)."""
        return [int(k) if k >= 0 else None for k in self._image_of]

    def word_at(self, pe: int | tuple[int, int], pc: int) -> int | None:
        """The instruction word at byte address `pc` of PE `pe`'s image, if it has one."""
        p = self._pes[self.pe_index(pe)]
        if pc % 4 or not 0 <= pc // 4 < p.ncode:
            return None
        return int(p.code[pc // 4])

    def pe_state(self, pe: int | tuple[int, int]) -> str:
        """What PE `pe` does in the current cycle: "halted", "no code", "waits at sync",
        "blocked: recv from w (its input register is empty)", "blocked: send to e (...)",
        "busy until cycle N", or "ready"."""
        i = self.pe_index(pe)
        p = self._pes[i]
        if p.halted:
            return "halted" if p.ncode else "no code"
        if p.at_sync:
            return "waits at sync"
        if p.busy_until > self._m.cycle:
            return f"busy until cycle {int(p.busy_until)}"
        w = self._waiting(i)
        return f"blocked: {w[0]} ({w[1]})" if w else "ready"

    def _waiting(self, i: int) -> tuple[str, str] | None:
        """(what PE i waits at, why it cannot go on) if it is blocked, else None."""
        p = self._pes[i]
        if p.halted:
            return None
        if p.at_sync:
            late = [f"({k // self.cols},{k % self.cols})" for k in range(self.npes)
                    if not self._pes[k].halted and not self._pes[k].at_sync]
            why = (f"PE {late[0]} and {len(late) - 1} more have not reached it" if len(late) > 1
                   else f"PE {late[0]} has not reached it" if late
                   else "every running PE is there")
            return "sync", why
        if p.wait == lib.WAIT_NONE:
            return None
        d = int(p.wait_dir)
        name = DIRECTIONS[d]
        r = int(p.row) + (d == 2) - (d == 0)
        c = int(p.col) + (d == 1) - (d == 3)
        other = self._pes[r * self.cols + c]
        if p.wait == lib.WAIT_RECV:
            if p.in_full[d]:
                return f"recv from {name}", "its input register was filled this cycle"
            state = "has halted" if other.halted else (
                "waits at sync" if other.at_sync else f"is at pc={int(other.pc):#x}")
            return (f"recv from {name}",
                    f"its input register {name} is empty; PE ({r},{c}) {state}")
        if p.wait == lib.WAIT_SEND:
            side = DIRECTIONS[d ^ 2]
            state = "has halted" if other.halted else (
                "waits at sync" if other.at_sync else f"is at pc={int(other.pc):#x}")
            return (f"send to {name}",
                    f"PE ({r},{c})'s input register {side} is full; PE ({r},{c}) {state}")
        return None

    # ------------------------------------------------------------ breakpoints, watchpoints

    def add_breakpoint(self, where: int | str, pe: int | tuple[int, int] | None = None) -> int:
        """Stop before a PE issues the instruction at this byte address or label (any PE,
        or only `pe`); returns the address.  The run then has status "break" and
        RunResult.breakpoint says which PE; running on goes past it."""
        pc = self._resolve(where)
        self._breaks[(pc, -1 if pe is None else self.pe_index(pe))] = None
        self._sync_breaks()
        return pc

    def remove_breakpoint(self, where: int | str, pe: int | tuple[int, int] | None = None
                          ) -> None:
        pc = self._resolve(where)
        self._breaks.pop((pc, -1 if pe is None else self.pe_index(pe)), None)
        self._sync_breaks()

    @property
    def breakpoints(self) -> list[tuple[int, tuple[int, int] | None]]:
        """(pc, PE or None for any) of every breakpoint, in the order added."""
        return [(pc, None if k < 0 else divmod(k, self.cols)) for pc, k in self._breaks]

    def _sync_breaks(self) -> None:
        m = self._m
        self._bp[:] = 0
        if not self._breaks:
            m.breakpoints, m.nbreak = ffi.NULL, 0
            m.break_pc = m.break_pe = ffi.NULL
            self._break_arrays = ()
            return
        pcs = np.array([pc for pc, _ in self._breaks], np.uint32)
        pes = np.array([k for _, k in self._breaks], np.int32)
        self._bp[pcs // 4] = 1
        self._break_arrays = (pcs, pes, ffi.from_buffer(pcs), ffi.from_buffer(pes))
        m.break_pc = ffi.cast("uint32_t *", self._break_arrays[2])
        m.break_pe = ffi.cast("int32_t *", self._break_arrays[3])
        m.nbreak = len(pcs)
        m.breakpoints = ffi.from_buffer(self._bp)

    def add_watchpoint(self, addr: int | str, pe: int | tuple[int, int] | None = None) -> int:
        """Stop the run after an instruction stores to the word holding byte address
        `addr` (a symbol names one too): a store of any size, or a DMA transfer writing
        any byte of it, by any PE or only by `pe` (an LM address is then that PE's LM;
        with pe=None, every PE's LM at that address).  The run ends at the end of the
        storing cycle with status "watch"; RunResult.watch has the PE, PC, address, and
        the word before and after.  Returns the word's address."""
        if isinstance(addr, str):
            if not self.program or addr not in self.program.symbols:
                raise ValueError(f"no symbol {addr!r} in the loaded program")
            addr = self.program.symbols[addr]
        addr = _int("addr", addr, 0, 2**32 - 1)
        word = addr & ~3
        if self.region_of(word) is None:
            raise ValueError(f"{addr:#x} is not inside a memory region")
        self._watches[(word, -1 if pe is None else self.pe_index(pe))] = None
        self._sync_watches()
        return word

    def remove_watchpoint(self, addr: int | str, pe: int | tuple[int, int] | None = None
                          ) -> None:
        if isinstance(addr, str):
            if not self.program or addr not in self.program.symbols:
                raise ValueError(f"no symbol {addr!r} in the loaded program")
            addr = self.program.symbols[addr]
        addr = _int("addr", addr, 0, 2**32 - 1)
        self._watches.pop((addr & ~3, -1 if pe is None else self.pe_index(pe)), None)
        self._sync_watches()

    @property
    def watchpoints(self) -> list[tuple[int, tuple[int, int] | None]]:
        """(word address, PE or None for any) of every watchpoint, in the order added."""
        return [(a, None if k < 0 else divmod(k, self.cols)) for a, k in self._watches]

    def _sync_watches(self) -> None:
        m = self._m
        if not self._watches:
            m.nwatch, m.watch_addr, m.watch_pe = 0, ffi.NULL, ffi.NULL
            self._watch_arrays = ()
            return
        addrs = np.array([a for a, _ in self._watches], np.uint32)
        pes = np.array([k for _, k in self._watches], np.int32)
        self._watch_arrays = (addrs, pes, ffi.from_buffer(addrs), ffi.from_buffer(pes))
        m.watch_addr = ffi.cast("uint32_t *", self._watch_arrays[2])
        m.watch_pe = ffi.cast("int32_t *", self._watch_arrays[3])
        m.nwatch = len(addrs)

    def _resolve(self, where: int | str) -> int:
        if isinstance(where, str):
            if not self.program or where not in self.program.symbols:
                raise ValueError(f"no label {where!r} in the loaded program")
            where = self.program.symbols[where]
        where = _int("address", where, 0, 2**32 - 1)
        if where % 4 or not 0 <= where < 4 * self.params["imem_words"]:
            raise ValueError(f"{where:#x} is not an instruction address")
        return where

    # ------------------------------------------------------------ running

    def run(self, max_cycles: int | None = None,
            trace: Callable[[TraceRecord], None] | None = None) -> RunResult:
        """Run until every PE halts, a trap, a breakpoint or a watchpoint.  `max_cycles`
        bounds the run's total cycles (reaching it traps `cycle_limit`); None is
        `default_max_cycles`.  `trace` is called with a TraceRecord per retired
        instruction (the run is then in lock step).  Ctrl-C raises KeyboardInterrupt
        within a few ms with the machine paused between two cycles: run() goes on."""
        limit = self.default_max_cycles if max_cycles is None else _int(
            "max_cycles", max_cycles, 0, MAX_CYCLES)
        return self._go(stop=MAX_CYCLES, limit=limit, trace=trace)

    def step(self, n: int = 1, trace: Callable[[TraceRecord], None] | None = None) -> RunResult:
        """Advance `n` cycles (status "paused" if the program is not done).  Every PE is
        then exactly where lock step would have it."""
        n = _int("n", n, 0, MAX_CYCLES - self.cycle)
        return self._go(stop=self.cycle + n, limit=MAX_CYCLES, trace=trace)

    def _go(self, stop: int, limit: int, trace: Callable[[TraceRecord], None] | None
            ) -> RunResult:
        m = self._m
        m.trap_cause = 0
        m.watch_hit = 0
        if trace is not None:
            m.trace, m.trace_cap = self._trace, TRACE_CAPACITY
            m.trace_ev, m.trace_ev_cap = self._trace_ev, TRACE_CAPACITY * 4
            if not self._marks_valid:  # stalls of untraced cycles are not a record's
                lib.pe_trace_mark(m)
        self._marks_valid = trace is not None
        try:
            while True:
                m.trace_n = m.trace_ev_n = 0
                rc = lib.pe_run(m, stop, limit)
                if trace is not None:
                    self._drain(trace)
                if RUN_STATUS[rc] not in ("trace_full", "slice"):
                    break
        finally:
            m.trace_cap = m.trace_ev_cap = 0
            m.trace, m.trace_ev = ffi.NULL, ffi.NULL
        return self.result(RUN_STATUS[rc])

    def _drain(self, trace: Callable[[TraceRecord], None]) -> None:
        n, nev = int(self._m.trace_n), int(self._m.trace_ev_n)
        if not n:
            return
        recs = np.frombuffer(ffi.buffer(self._trace, n * TRACE_DTYPE.itemsize), TRACE_DTYPE)
        evs = np.frombuffer(ffi.buffer(self._trace_ev, max(nev, 1) * EV_DTYPE.itemsize),
                            EV_DTYPE)[:nev]
        ev_kind, ev_arg = evs["kind"].tolist(), evs["arg"].tolist()
        ev_a, ev_b = evs["a"].tolist(), evs["b"].tolist()
        for cyc, pc, word, busy, ev, pe, nev_k in zip(
                recs["cycle"].tolist(), recs["pc"].tolist(), recs["word"].tolist(),
                recs["busy"].tolist(), recs["ev"].tolist(), recs["pe"].tolist(),
                recs["nev"].tolist(), strict=True):
            rec = TraceRecord(cyc, divmod(pe, self.cols), pc, word, [], busy=busy)
            for j in range(ev, ev + nev_k):
                self._event(rec, ev_kind[j], ev_arg[j], ev_a[j], ev_b[j])
            trace(rec)

    def _event(self, rec: TraceRecord, kind: int, arg: int, a: int, b: int) -> None:
        if kind == lib.EV_WRITE:
            rec.writes.append((arg, b))
        elif kind in (lib.EV_LOAD, lib.EV_STORE):
            rec.mem.append(MemAccess("load" if kind == lib.EV_LOAD else "store", a, arg, b,
                                     self.region_of(a)))
        elif kind in (lib.EV_SEND, lib.EV_RECV):
            rec.nb = ("send" if kind == lib.EV_SEND else "recv", DIRECTIONS[arg], b)
        elif kind == lib.EV_DMA:
            rec.dma = DmaIssue(a, b, 0, 0, 0, None, None)
        elif kind == lib.EV_DMA_SIZE and rec.dma:
            rec.dma.rows, rec.dma.row_bytes = a, b
            rec.dma.words = a * ((b + 3) // 4)
        elif kind == lib.EV_DMA_TIME and rec.dma:
            rec.dma.start, rec.dma.end = rec.cycle + a, rec.cycle + b
        elif kind == lib.EV_STALL:
            rec.stalls[STALLS[arg]] = a | b << 32

    def result(self, status: str = "paused") -> RunResult:
        """The counters now, as a RunResult (per-PE detail is built when read)."""
        m = self._m
        cycles = int(m.cycle)
        trap = watch = brk = None
        if status == "trap":
            trap = self._trap()
        elif status == "watch":
            pe = int(m.watch_hit_pe)
            src = self.source_line(pe, int(m.watch_hit_pc))
            watch = WatchHit(divmod(pe, self.cols), int(m.watch_hit_pc), int(m.watch_hit_addr),
                             int(m.watch_old), int(m.watch_new),
                             src[1] if src else None, src[0] if src else None)
        elif status == "break":
            pe = int(m.break_hit_pe)
            src = self.source_line(pe, int(m.break_hit_pc))
            brk = BreakHit(divmod(pe, self.cols), int(m.break_hit_pc),
                           src[1] if src else None, src[0] if src else None)
        return RunResult(cycles, status, trap, self._pe_view.copy(), watch=watch,
                         breakpoint=brk)

    def source_line(self, pe: int | tuple[int, int], pc: int) -> tuple[str, int] | None:
        """(file, line) of the instruction at `pc` on PE `pe`, from the program's line map."""
        k = int(self._image_of[self.pe_index(pe)])
        if self.program is None or k < 0:
            return None
        return self.program.source_of(self.program.images[k], pc)

    def source_text(self, pe: int | tuple[int, int], pc: int) -> str | None:
        """The text of that source line, read from the file if it is a regular file
        (bounded: a line, not the file)."""
        src = self.source_line(pe, pc)
        return read_source_line(src[0], src[1]) if src and src[1] else None

    def _trap(self) -> Trap:
        m = self._m
        cause, pe, pc = TRAPS[m.trap_cause], int(m.trap_pe), int(m.trap_pc)
        src = self.source_line(pe, pc)
        file, line = src if src else (None, None)
        trap = Trap(cause, divmod(pe, self.cols), pc, line, file,
                    [int(v) for v in self._pes[pe].r], self.source_text(pe, pc))
        why, value = int(m.trap_why), int(m.trap_value)
        p = self.params
        regions = ", ".join(f"{r.upper()} {p[f'{r}_base']:#x}..{p[f'{r}_base'] + p[f'{r}_size']:#x}"
                            for r in REGION_NAMES if p[f"{r}_size"])
        if why == lib.WHY_ACCESS:
            size = int(m.trap_size)
            what = ("store" if m.trap_store else "load") + f" of {size} byte{'s' * (size > 1)}"
            trap.addr, trap.size = value, size
            if cause == "misaligned":
                trap.detail = f"{what} at {value:#x}: not a multiple of {size}"
            else:
                trap.detail = (f"{what} at {value:#x}: outside every memory region "
                               f"({regions or 'none'})")
        elif why in (lib.WHY_DMA_DST, lib.WHY_DMA_SRC):
            side = "destination" if why == lib.WHY_DMA_DST else "source"
            trap.addr = value
            trap.detail = (f"DMA {side} {value:#x}: not word aligned" if cause == "misaligned"
                           else f"DMA {side} from {value:#x}: its rows do not lie in one memory "
                           f"region ({regions or 'none'})")
        elif why == lib.WHY_DMA_SIZE:
            trap.detail = f"DMA of {value} words: more than the address space holds"
        elif why == lib.WHY_EDGE:
            trap.direction = DIRECTIONS[value]
            word = self.word_at(pe, pc)
            insn = self.isa.decode(word) if word is not None else None
            verb = insn[0].mnemonic if insn else "send/recv"
            trap.detail = (f"{verb} {'to' if verb == 'send' else 'from'} "
                           f"{DIRECTIONS[value]}: there is no PE on that side of "
                           f"PE ({pe // self.cols},{pe % self.cols}) in a "
                           f"{self.rows}x{self.cols} array")
        elif why == lib.WHY_CODE_END:
            n = int(self._pes[pe].ncode)
            trap.detail = (f"ran off the end of the code (missing halt?): pc={value:#x} is "
                           f"past the last of the image's {n} instructions")
        elif why == lib.WHY_CODE_OUTSIDE:
            n = int(self._pes[pe].ncode)
            trap.detail = (f"pc={value:#x} is outside the code (the image has {n} instructions,"
                           f" the instruction memory {p['imem_words']})")
        elif why == lib.WHY_JUMP:
            trap.addr = value
            trap.detail = f"jump to {value:#x}: not a multiple of 4"
        elif why == lib.WHY_WORD:
            trap.detail = f"the word {value:#010x} is not an instruction"
        elif why == lib.WHY_SREG:
            trap.detail = f"no special register {value} that this instruction can use"
        elif why == lib.WHY_LIMIT:
            trap.detail = (f"the cycle limit ({value:,}) was reached with "
                           f"{sum(not self._pes[k].halted for k in range(self.npes))} PEs "
                           "still running")
        elif cause == "loop_depth":
            trap.detail = "a third nested `loop` (two levels at most)"
        elif cause == "deadlock":
            for k in range(self.npes):
                w = self._waiting(k)
                if w is not None:
                    s = self.source_line(k, self.pc(k))
                    trap.blocked.append(Blocked(divmod(k, self.cols), self.pc(k),
                                                s[1] if s else None, s[0] if s else None,
                                                w[0], w[1]))
            trap.detail = (f"no running PE can go on: {len(trap.blocked)} blocked "
                           "(each below, with what it waits for)")
        return trap
