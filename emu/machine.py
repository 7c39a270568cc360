"""The host API of the emulated array: build a machine, load a program, run it.

Memories are numpy arrays owned here and lent to the C core, so `machine.gm`,
`machine.sm` and `machine.lm[pe]` are zero-copy views for laying out tensors
and reading results.  The cycle loop never calls back into Python except to
drain a full trace buffer.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pearray.asm.program import Program
from pearray.isa.spec import load as load_isa

from . import codegen

STALLS = ("memory", "bank", "send", "recv", "sync", "dma")
TRAPS = (None, "illegal", "misaligned", "out_of_range", "edge", "loop_depth", "cycle_limit",
         "deadlock")
REGION_NAMES = ("lm", "sm", "gm")
RUN_STATUS = ("halted", "trap", "paused", "break", "trace_full")
TRACE_CAPACITY = 1 << 16
DEFAULT_MAX_CYCLES = 100_000_000
REBUILD = "pip install -e . (or, in a source checkout, python emu/build_core.py)"


class CoreStale(ImportError):
    """The compiled core was built from other sources than these."""


def _load_core() -> Any:
    try:
        core = importlib.import_module("pearray.emu._core")
    except ImportError as exc:
        raise ImportError(f"the emulator core is not built ({exc}); run: {REBUILD}") from None
    built = core.ffi.string(core.lib.pe_source_hash()).decode()
    if all(p.is_file() for p in codegen.inputs()) and built != codegen.source_hash():
        raise CoreStale(
            f"the emulator core is stale (built from {built}, sources are "
            f"{codegen.source_hash()}); rebuild: {REBUILD}"
        )
    return core


_core = _load_core()
ffi, lib = _core.ffi, _core.lib


def machine_defaults() -> dict[str, int]:
    """The machine parameters of the ISA description (ARCH.md §2)."""
    return dict(load_isa().machine)


@dataclass
class Trap:
    """Why a run stopped early: ARCH.md §6's cause, where, and the PE's registers."""

    cause: str
    pe: tuple[int, int]
    pc: int
    line: int | None
    file: str | None
    regs: list[int]
    source: str | None = None  # the text of the source line, when it is at hand

    def to_json(self) -> dict[str, Any]:
        return {"cause": self.cause, "pe": list(self.pe), "pc": self.pc, "line": self.line,
                "file": self.file}

    def describe(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else "no source line"
        lines = [f"trap: {self.cause} at PE ({self.pe[0]},{self.pe[1]}) pc={self.pc:#x} ({where})"]
        if self.source is not None:
            lines.append(f"    {self.source.rstrip()}")
        regs = " ".join(f"r{i}={v:#010x}" for i, v in enumerate(self.regs))
        lines.append(f"  registers: {regs}")
        return "\n".join(lines)


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


@dataclass
class RunResult:
    """Cycles, counters per PE and in total, and the trap if the run ended in one."""

    cycles: int
    status: str
    trap: Trap | None
    pes: list[PEStats]
    memory: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def retired(self) -> int:
        return sum(p.retired for p in self.pes)

    @property
    def macs(self) -> int:
        return sum(p.macs for p in self.pes)

    @property
    def stalls(self) -> dict[str, int]:
        return {c: sum(p.stalls[c] for p in self.pes) for c in STALLS}

    @property
    def bank_conflicts(self) -> int:
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
            "pes": [p.to_json() for p in self.pes], "memory": self.memory,
            "retired": self.retired, "macs": self.macs, "stalls": self.stalls,
            "bank_conflicts": self.bank_conflicts,
        }


@dataclass
class TraceRecord:
    cycle: int
    pe: tuple[int, int]
    pc: int
    word: int
    writes: list[tuple[int, int]]  # (register, value)


class Machine:
    """rows × cols PEs with their memories; the parameters default to isa.toml's [machine]."""

    def __init__(self, rows: int = 4, cols: int = 4, *, lockstep: bool = False,
                 **config: int) -> None:
        params = machine_defaults()
        unknown = set(config) - set(params)
        if unknown:
            raise ValueError(f"unknown machine parameters: {sorted(unknown)}")
        params.update(config)
        if not (1 <= rows <= 16 and 1 <= cols <= 16):
            raise ValueError(f"array of {rows}x{cols} PEs: rows and cols must be 1..16")
        for k in ("lm_size", "sm_size", "gm_size"):
            if params[k] < 0 or params[k] % 4:
                raise ValueError(f"{k}={params[k]}: must be a non-negative multiple of 4")
        for k in ("lm_cost", "sm_cost", "gm_cost"):
            if params[k] < 1:
                raise ValueError(f"{k}={params[k]}: an access takes at least 1 cycle")
        if not 1 <= params["dma_queue"] <= lib.DMA_QUEUE_MAX:
            raise ValueError(f"dma_queue={params['dma_queue']}: must be 1..{lib.DMA_QUEUE_MAX}")
        if params["gm_port_words"] < 1:
            raise ValueError(f"gm_port_words={params['gm_port_words']}: must be at least 1")
        self.rows, self.cols, self.params = rows, cols, params
        self.npes = rows * cols
        self.isa = load_isa()
        self.gm = np.zeros(params["gm_size"], np.uint8)
        self.sm = np.zeros(params["sm_size"], np.uint8)
        self.lm = np.zeros((self.npes, params["lm_size"]), np.uint8)
        self._m = ffi.new("machine_t *")
        self._pes = ffi.new("pe_t[]", self.npes)
        self._banks = ffi.new("uint64_t[]", max(1, params["sm_banks"]))
        self._bank_count = ffi.new("uint32_t[]", max(1, params["sm_banks"]))
        self._bp = np.zeros(params["imem_words"], np.uint8)
        self._trace = ffi.new("trace_t[]", TRACE_CAPACITY)
        self._keep: list[Any] = []
        m = self._m
        m.rows, m.cols, m.npes = rows, cols, self.npes
        m.imem_words = params["imem_words"]
        m.lm_size, m.sm_size, m.gm_size = params["lm_size"], params["sm_size"], params["gm_size"]
        m.lm_base, m.sm_base, m.gm_base = params["lm_base"], params["sm_base"], params["gm_base"]
        m.sm_banks = params["sm_banks"]
        m.lockstep = int(lockstep)  # exact cross-PE state at a trap, at some speed
        m.cost = [params["lm_cost"], params["sm_cost"], params["gm_cost"]]
        m.lfsr_taps = params["lfsr_taps"]
        m.dma_queue, m.gm_port_words = params["dma_queue"], params["gm_port_words"]
        m.pes = self._pes
        # cffi buffers must outlive the C pointers taken from them
        self._bufs = [ffi.from_buffer(a) for a in (self.sm, self.gm, *self.lm)]
        m.sm, m.gm = self._bufs[0], self._bufs[1]
        m.bank_stamp, m.bank_count = self._banks, self._bank_count
        self.program: Program | None = None
        self._images: list[int | None] = [None] * self.npes
        self._breaks: set[int] = set()
        # what the host moved through write() and read(), in bytes, since construction
        self.host_bytes_written = 0
        self.host_bytes_read = 0
        self.reset()

    # ------------------------------------------------------------ state

    def reset(self) -> None:
        """Registers, PCs, counters and the cycle to their power-on values (memory kept)."""
        m = self._m
        m.cycle = 0
        m.trap_cause = m.trap_pe = m.trap_pc = 0
        m.trace_n = m.trace_cap = 0
        m.skip_break = 0
        m.gm_port_free = 0
        ffi.memmove(self._banks, b"\0" * ffi.sizeof(self._banks), ffi.sizeof(self._banks))
        for i in range(self.npes):
            pe = self._pes[i]
            code, dec, n = pe.code, pe.dec, pe.ncode
            ffi.memmove(ffi.addressof(pe), b"\0" * ffi.sizeof("pe_t"), ffi.sizeof("pe_t"))
            pe.code, pe.dec, pe.ncode = code, dec, n
            pe.row, pe.col, pe.id = divmod(i, self.cols) + (i,)
            pe.lm = self._bufs[2 + i]
            pe.lfsr = self.params["lfsr_reset"]
            pe.halted = int(n == 0)

    def load(self, program: Program, *, clear: bool = True) -> None:
        """Place a program: code images per PE, data segments; then reset.  With
        clear=False the memories keep their contents (a kernel launched on data an
        earlier kernel left in GM): only the code and the program's own data change."""
        if program.isa and program.isa != self.isa.digest:
            raise ValueError(
                f"program assembled for ISA {program.isa}, this emulator runs {self.isa.digest}:"
                " reassemble it"
            )
        chosen: list[int | None] = [None] * self.npes
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
            for i in range(self.npes):
                if sel.covers(*divmod(i, self.cols)):
                    chosen[i] = k
        if clear:
            self.gm[:] = 0
            self.sm[:] = 0
            self.lm[:] = 0
        self._keep = []
        decoded: dict[int, tuple[Any, Any, int]] = {}
        for i, k in enumerate(chosen):
            pe = self._pes[i]
            if k is None:
                pe.code, pe.dec, pe.ncode = ffi.NULL, ffi.NULL, 0
                continue
            if k not in decoded:
                words = np.ascontiguousarray(program.images[k].words, dtype=np.uint32)
                n = len(words)
                code = ffi.new("uint32_t[]", max(n, 1))
                ffi.memmove(code, words.tobytes(), 4 * n)
                dec = ffi.new("dec_t[]", max(n, 1))
                lib.pe_load_code(self._m, i, code, dec, n)
                self._keep += [code, dec]
                decoded[k] = (code, dec, n)
            pe.code, pe.dec, pe.ncode = decoded[k]
        for seg in program.segments:
            for view, base, name in self._targets(seg.region, seg.pes):
                off = seg.addr - base
                if off < 0 or off + len(seg.data) > len(view):
                    raise ValueError(
                        f"data at {seg.addr:#x} (+{len(seg.data)} bytes) outside {name}"
                    )
                view[off:off + len(seg.data)] = np.frombuffer(seg.data, np.uint8)
        self.program = program
        self._images = chosen
        self.reset()

    def _targets(self, region: str, sel: Any) -> Iterable[tuple[np.ndarray, int, str]]:
        p = self.params
        if region == "gm":
            yield self.gm, p["gm_base"], "GM"
        elif region == "sm":
            yield self.sm, p["sm_base"], "SM"
        else:
            for i in range(self.npes):
                if sel.covers(*divmod(i, self.cols)):
                    yield self.lm[i], p["lm_base"], f"the LM of PE {divmod(i, self.cols)}"

    # ------------------------------------------------------------ host access

    def _view(self, addr: int, nbytes: int, pe: int | None) -> np.ndarray:
        p = self.params
        for base, size, mem in ((p["gm_base"], p["gm_size"], self.gm),
                                (p["sm_base"], p["sm_size"], self.sm),
                                (p["lm_base"], p["lm_size"], None)):
            if base <= addr and addr + nbytes <= base + size:
                if mem is None:
                    if pe is None:
                        raise ValueError("an LM address needs pe=")
                    mem = self.lm[pe]
                return mem[addr - base:addr - base + nbytes]
        raise ValueError(f"{addr:#x}..{addr + nbytes:#x} is not inside one memory region")

    def write(self, addr: int, data: np.ndarray | bytes, pe: int | None = None) -> None:
        """Copy bytes or an array (its raw little-endian bytes) to an absolute address.
        Counted as host traffic (`host_bytes_written`)."""
        raw = np.frombuffer(bytes(data) if isinstance(data, bytes | bytearray) else
                            np.ascontiguousarray(data).tobytes(), np.uint8)
        self._view(addr, len(raw), pe)[:] = raw
        self.host_bytes_written += len(raw)

    def read(self, addr: int, count: int, dtype: Any = np.uint8, pe: int | None = None
             ) -> np.ndarray:
        """A zero-copy view of `count` items of `dtype` at an absolute address.  Counted as
        host traffic (`host_bytes_read`); the `gm`/`sm`/`lm` array views are not."""
        dt = np.dtype(dtype)
        view = self._view(addr, count * dt.itemsize, pe)
        self.host_bytes_read += count * dt.itemsize
        if addr % dt.itemsize:
            return view.copy().view(dt)
        return view.view(dt)

    def regs(self, pe: int) -> np.ndarray:
        """PE `pe`'s 16 registers as a zero-copy uint32 view (write to set them)."""
        return np.frombuffer(ffi.buffer(self._pes[pe].r), np.uint32)

    def pc(self, pe: int) -> int:
        return int(self._pes[pe].pc)

    @property
    def cycle(self) -> int:
        return int(self._m.cycle)

    # ------------------------------------------------------------ breakpoints

    def add_breakpoint(self, where: int | str) -> int:
        """Stop before any PE issues the instruction at this byte address or label."""
        pc = self._resolve(where)
        self._breaks.add(pc)
        self._bp[pc // 4] = 1
        self._m.breakpoints = ffi.from_buffer(self._bp)
        return pc

    def remove_breakpoint(self, where: int | str) -> None:
        pc = self._resolve(where)
        self._breaks.discard(pc)
        self._bp[pc // 4] = 0
        if not self._breaks:
            self._m.breakpoints = ffi.NULL

    def _resolve(self, where: int | str) -> int:
        if isinstance(where, str):
            if not self.program or where not in self.program.symbols:
                raise ValueError(f"no label {where!r} in the loaded program")
            where = self.program.symbols[where]
        if where % 4 or not 0 <= where < 4 * self.params["imem_words"]:
            raise ValueError(f"{where:#x} is not an instruction address")
        return where

    # ------------------------------------------------------------ running

    def run(self, max_cycles: int | None = None,
            trace: Callable[[TraceRecord], None] | None = None) -> RunResult:
        """Run until every PE halts, a trap or a breakpoint; `max_cycles` bounds the total."""
        limit = DEFAULT_MAX_CYCLES if max_cycles is None else max_cycles
        return self._go(stop=2**63, limit=limit, trace=trace)

    def step(self, n: int = 1, trace: Callable[[TraceRecord], None] | None = None) -> RunResult:
        """Advance `n` cycles (status "paused" if the program is not done)."""
        return self._go(stop=self.cycle + n, limit=DEFAULT_MAX_CYCLES, trace=trace)

    def _go(self, stop: int, limit: int, trace: Callable[[TraceRecord], None] | None
            ) -> RunResult:
        m = self._m
        m.trap_cause = 0
        if trace is not None:
            m.trace, m.trace_cap = self._trace, TRACE_CAPACITY
        while True:
            m.trace_n = 0
            rc = lib.pe_run(m, stop, limit)
            if trace is not None:
                self._drain(trace)
            if RUN_STATUS[rc] != "trace_full":
                break
        m.trace_cap = 0
        m.trace = ffi.NULL
        return self.result(RUN_STATUS[rc])

    def _drain(self, trace: Callable[[TraceRecord], None]) -> None:
        for k in range(self._m.trace_n):
            t = self._trace[k]
            trace(TraceRecord(int(t.cycle), divmod(int(t.pe), self.cols), int(t.pc),
                              int(t.word), [(int(t.reg[j]), int(t.val[j])) for j in range(t.nw)]))

    def result(self, status: str = "paused") -> RunResult:
        """The counters now, as a RunResult."""
        m = self._m
        pes = [self._pe_stats(i) for i in range(self.npes)]
        memory = {r: {k: sum(getattr(p, k)[r] for p in pes)
                      for k in ("loads", "stores", "load_bytes", "store_bytes")}
                  for r in REGION_NAMES}
        trap = None
        if status == "trap":
            trap = self._trap(TRAPS[m.trap_cause], int(m.trap_pe), int(m.trap_pc))
        return RunResult(int(m.cycle), status, trap, pes, memory)

    def _pe_stats(self, i: int) -> PEStats:
        pe = self._pes[i]

        def per_region(arr: Any) -> dict[str, int]:
            return {r: int(arr[k]) for k, r in enumerate(REGION_NAMES)}

        return PEStats(
            row=int(pe.row), col=int(pe.col), pc=int(pe.pc), halted=bool(pe.halted),
            cycles=int(pe.halt_cycle) if pe.halted else int(self._m.cycle),
            regs=[int(v) for v in pe.r], retired=int(pe.retired), macs=int(pe.macs),
            stalls={c: int(pe.stall[k]) for k, c in enumerate(STALLS)},
            loads=per_region(pe.loads), stores=per_region(pe.stores),
            load_bytes=per_region(pe.load_bytes), store_bytes=per_region(pe.store_bytes),
            bank_conflicts=int(pe.bank_conflicts),
        )

    def source_line(self, pe: int, pc: int) -> tuple[str, int] | None:
        """(file, line) of the instruction at `pc` on PE `pe`, from the program's line map."""
        k = self._images[pe]
        if self.program is None or k is None:
            return None
        return self.program.source_of(self.program.images[k], pc)

    def _trap(self, cause: str, pe: int, pc: int) -> Trap:
        src = self.source_line(pe, pc)
        file, line = src if src else (None, None)
        text = None
        if file and line:
            try:
                with open(file, encoding="utf-8", errors="replace") as fh:
                    text = fh.read().splitlines()[line - 1]
            except (OSError, IndexError):
                text = None
        return Trap(cause, divmod(pe, self.cols), pc, line, file,
                    [int(v) for v in self._pes[pe].r], text)
