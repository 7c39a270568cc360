"""Assemble a kernel with its parameters, run it on a (cached) machine, collect counters.

Kernels are generic assembly; a layer's shape and addresses reach them as
`.equ` lines in front of the source, so each distinct layer assembles once
(cached) and every call after that only lays out data and runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from pearray.asm import assemble
from pearray.asm.program import Program
from pearray.emu.machine import Machine, RunResult
from pearray.isa import load as load_isa

HERE = Path(__file__).resolve().parent
GM_BASE = 0x8000_0000


@dataclass
class KernelResult:
    """A kernel's output tensor and what running it cost on the array."""

    y: np.ndarray
    cycles: int
    stats: dict[str, Any]
    run: RunResult = field(repr=False)


def seed_word(seed: int) -> int:
    """The user's seed hashed to a well-mixed non-zero 32-bit LFSR seed (SplitMix-style)."""
    z = (int(seed) * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & (2**64 - 1)
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & (2**64 - 1)
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & (2**64 - 1)
    return ((z ^ (z >> 31)) & 0xFFFFFFFF) or 1


# The lane widths the kernels have an arm for (width.inc's `.rept IS8` ...): a width of
# the ISA table not listed here is refused rather than assembled with no arm taken.
KERNEL_BITS = (8, 16, 32)


def width_flags(bits: int, prefix: str = "IS", arms: tuple[int, ...] = KERNEL_BITS
                ) -> dict[str, int]:
    """The .equ flags choosing a kernel's lane-width arm: `{prefix}{W}` = 1 for `bits`, 0
    for every other lane width of the ISA table (isa.toml [granularities])."""
    widths = sorted(g.bits for g in load_isa().granules.values())
    if bits not in widths:
        raise ValueError(f"bits must be a lane width of the ISA ({', '.join(map(str, widths))})"
                         f", not {bits}")
    if bits not in arms:
        raise ValueError(f"the kernels have no {bits}-bit arm yet (they take "
                         f"{', '.join(map(str, arms))} bits)")
    return {f"{prefix}{b}": int(b == bits) for b in widths}


@lru_cache(maxsize=512)
def _program(name: str, params: tuple[tuple[str, int], ...]) -> Program:
    text = "".join(f".equ {k}, {v}\n" for k, v in params) + f'.include "{name}"\n'
    return assemble(text, filename=f"<{name} parameters>", include_dirs=[str(HERE)])


def kernel(name: str, params: dict[str, int]) -> Program:
    """The assembled kernel `name` (a file in kernels/) with these .equ parameters."""
    return _program(name, tuple(sorted(params.items())))


@lru_cache(maxsize=16)
def _machine(rows: int, cols: int, gm_size: int) -> Machine:
    return Machine(rows, cols, gm_size=gm_size)


class GmLayout:
    """Places tensors one after the other in GM, 64-byte aligned."""

    def __init__(self) -> None:
        self.blocks: list[tuple[int, np.ndarray]] = []
        self.top = 0

    def put(self, words: np.ndarray) -> int:
        addr = GM_BASE + self.top
        self.blocks.append((addr, np.ascontiguousarray(words, dtype="<u4")))
        self.top += (4 * len(words) + 63) // 64 * 64
        return addr

    def reserve(self, nwords: int) -> int:
        return self.put(np.zeros(nwords, np.uint32))


def run_kernel(name: str, params: dict[str, int], gm: GmLayout, rows: int, cols: int,
               lm_args: np.ndarray | None = None) -> tuple[Machine, RunResult]:
    """Load the kernel, write its tensors to GM and, given `lm_args` (one row of words
    per PE), each PE's launch record to the start of its LM; run it.  A trap is a
    RuntimeError."""
    size = 1 << 20
    while size < gm.top:
        size <<= 1
    machine = _machine(rows, cols, size)
    machine.load(kernel(name, params))
    for addr, words in gm.blocks:
        machine.write(addr, words)
    if lm_args is not None:
        base = machine.params["lm_base"]
        for pe, record in enumerate(np.asarray(lm_args, "<u4")):
            machine.write(base, record, pe=pe)
    result = machine.run(max_cycles=50_000_000)
    if result.status != "halted":
        detail = result.trap.describe() if result.trap else result.status
        raise RuntimeError(f"kernel {name} did not finish: {detail}")
    return machine, result


def launch_records(units: int, pes: int, rows_: int, wo: int, blob: int, blob_words: int,
                   sm_base: int, yaddr: int, ow: int) -> np.ndarray:
    """Per-PE launch records (P, 8) words of conv.s, maxpool.s and requant.s: each PE's
    range of the (block, pixel) units, blocks of rows_ x wo pixels in (kb, oy, ox) order,
    sizes differing by at most one, as (units, kb, oy, ox); its share (GM source, SM
    destination, words) of a blob's copy to SM; and where its first result goes
    (results are `ow` words a unit, in unit order)."""
    p = np.arange(pes)
    base, rem = divmod(units, pes)
    start = p * base + np.minimum(p, rem)
    count = base + (p < rem)
    npix = rows_ * wo
    block, pix = np.divmod(start, npix)
    chunk = -(-blob_words // pes)
    off = np.minimum(p * chunk, blob_words)
    share = np.minimum(chunk, blob_words - off)
    rec = np.zeros((pes, 8), np.int64)
    rec[:, 0], rec[:, 1], rec[:, 2], rec[:, 3] = count, block, pix // wo, pix % wo
    rec[:, 4], rec[:, 5], rec[:, 6] = blob + 4 * off, sm_base + 4 * off, share
    rec[:, 7] = yaddr + 4 * ow * start
    rec[count == 0, 1:4] = 0
    return rec.astype(np.uint32)


def stats(result: RunResult, useful_macs: int, lanes: int, npes: int) -> dict[str, Any]:
    """Counters of a run, with the MAC utilisation against the array's peak at this width."""
    return {
        "cycles": result.cycles,
        "macs": useful_macs,
        "lane_macs": result.macs,
        "retired": result.retired,
        "loads": {r: v["loads"] for r, v in result.memory.items()},
        "stores": {r: v["stores"] for r, v in result.memory.items()},
        "bytes": {r: v["load_bytes"] + v["store_bytes"] for r, v in result.memory.items()},
        "accesses": result.accesses,
        "stalls": result.stalls,
        "bank_conflicts": result.bank_conflicts,
        "utilisation": useful_macs / max(1, result.cycles * lanes * npes),
    }
