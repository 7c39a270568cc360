"""What the standalone drivers (conv2d, linear, pools, add, requantize) share.

A standalone call lays its tensors out in a fresh GM plan on a cached machine,
writes them, runs its launches and reads the result back: the same places and
launches a compiled network uses, with the host in between.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pearray.emu.machine import Machine, RunResult, machine_defaults

from .launch import Launch, cached_machine, run_launches, width_flags


@dataclass
class KernelResult:
    """A kernel's output tensor and what running it cost on the array."""

    y: np.ndarray
    cycles: int
    stats: dict[str, Any]
    run: RunResult = field(repr=False)


def check_int_tensor(a: Any, name: str, ndim: int | tuple[int, ...], bits: int) -> np.ndarray:
    """An integer array of `ndim` dimensions whose values fit `bits`, as int64; else
    ValueError."""
    arr = np.asarray(a)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must be an integer array, got {arr.dtype}")
    dims = (ndim,) if isinstance(ndim, int) else ndim
    if arr.ndim not in dims:
        raise ValueError(f"{name} must have {' or '.join(map(str, dims))} dimensions, "
                         f"got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}): nothing to run")
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if arr.size and (int(arr.min()) < lo or int(arr.max()) > hi):
        raise ValueError(f"{name} has values outside the {bits}-bit range {lo}..{hi}")
    return arr.astype(np.int64)


def check_array(rows: Any, cols: Any) -> None:
    """rows and cols of an array the emulator can build (1..16 each), else ValueError."""
    for name, v in (("rows", rows), ("cols", cols)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or not 1 <= v <= 16:
            raise ValueError(f"{name} must be an integer 1..16, not {v!r}")


def check_bits(bits: Any, name: str = "bits") -> int:
    """A width the kernels take (a lane width of the ISA with an arm in width.inc)."""
    try:
        width_flags(bits)
    except ValueError as e:
        raise ValueError(f"{name}: {e}") from None
    return int(bits)


def pack_lanes(vals: np.ndarray, bits: int) -> np.ndarray:
    """Pack the last axis into uint32 words, lane 0 lowest (as quant.pack), zero lanes
    padding it to whole words; the other axes kept.  Shifts and masks, not dtype views,
    which cannot express 4-bit lanes."""
    lanes = 32 // bits
    n = vals.shape[-1]
    padded = np.zeros(vals.shape[:-1] + (-(-n // lanes) * lanes,), np.uint64)
    padded[..., :n] = np.asarray(vals, np.int64).astype(np.uint64) & np.uint64((1 << bits) - 1)
    lanes_of = padded.reshape(vals.shape[:-1] + (-1, lanes))
    shifts = (np.arange(lanes, dtype=np.uint64) * np.uint64(bits))
    return np.bitwise_or.reduce(lanes_of << shifts, axis=-1).astype(np.uint32)


def splat(value: int, bits: int) -> int:
    """A lane value repeated in every lane of a word."""
    v = int(value) & ((1 << bits) - 1)
    word = 0
    for i in range(32 // bits):
        word |= v << (i * bits)
    return word


class GmPlan:
    """Bump allocation in GM for a standalone call: 64-byte aligned blocks."""

    def __init__(self, base: int | None = None) -> None:
        self.base = machine_defaults()["gm_base"] if base is None else base
        self.top = 0
        self.writes: list[tuple[int, np.ndarray]] = []

    def alloc(self, nbytes: int) -> int:
        addr = self.base + self.top
        self.top += -(-max(nbytes, 4) // 64) * 64
        return addr

    def put(self, data: np.ndarray) -> int:
        """Allocate and remember to write these words (or bytes)."""
        arr = np.ascontiguousarray(data)
        addr = self.alloc(arr.nbytes)
        self.writes.append((addr, arr))
        return addr

    def gm_size(self) -> int:
        size = machine_defaults()["gm_size"]
        while size < self.top:
            size <<= 1
        return size


def run_plan(plan: GmPlan, rows: int, cols: int, launches: Sequence[Launch],
             desc_addrs: Sequence[int], before: Any = None, **params: int
             ) -> tuple[Machine, list[RunResult]]:
    """On a cached machine big enough for the plan: write the plan's data, call
    `before(machine)` (to write places), run the launches."""
    gm_size = max(plan.gm_size(), params.pop("gm_size", 0))
    if gm_size != machine_defaults()["gm_size"]:
        params["gm_size"] = gm_size
    machine = cached_machine(rows, cols, **params)
    for addr, data in plan.writes:
        machine.write(addr, data)
    if before is not None:
        before(machine)
    return machine, run_launches(machine, launches, desc_addrs)


def stats(results: Sequence[RunResult], useful_macs: int, lanes: int, npes: int
          ) -> dict[str, Any]:
    """Counters of one or more runs summed, with the MAC utilisation against the
    array's peak at this width."""
    cycles = sum(r.cycles for r in results)
    mem: dict[str, dict[str, int]] = {}
    for r in results:
        for reg, v in r.memory.items():
            d = mem.setdefault(reg, {k: 0 for k in v})
            for k, n in v.items():
                d[k] += n
    stalls: dict[str, int] = {}
    for r in results:
        for k, n in r.stalls.items():
            stalls[k] = stalls.get(k, 0) + n
    return {
        "cycles": cycles,
        "macs": useful_macs,
        "lane_macs": sum(r.macs for r in results),
        "retired": sum(r.retired for r in results),
        "loads": {k: v["loads"] for k, v in mem.items()},
        "stores": {k: v["stores"] for k, v in mem.items()},
        "bytes": {k: v["load_bytes"] + v["store_bytes"] for k, v in mem.items()},
        "accesses": sum(v["loads"] + v["stores"] for v in mem.values()),
        "stalls": stalls,
        "bank_conflicts": sum(r.bank_conflicts for r in results),
        "utilisation": useful_macs / max(1, cycles * lanes * npes),
    }
