"""Kernel launches: a program assembled once, a descriptor in GM, two argument registers.

A kernel program is assembled once per (kernel, input width, output width,
variant) and reused by every layer and call (docs/network.md section 3): the
layer's shapes, addresses and shifts reach it through a *descriptor* the host
has written to GM, whose address is in r1; r2 holds the seed word for
stochastic rounding.  Nothing per layer or per call is in the program's text.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pearray.asm import assemble
from pearray.asm.program import Program
from pearray.emu.machine import Machine, RunResult
from pearray.isa import load as load_isa

HERE = Path(__file__).resolve().parent
KERNELS = ("conv", "pool", "eltwise")
MAX_CYCLES = 2_000_000_000

# A program key: (kernel, in bits, out bits, variant flags as sorted (name, value) pairs).
ProgramKey = tuple[str, int, int, tuple[tuple[str, int], ...]]


# The lane widths the kernels have an arm for (width.inc's `.rept IN8` ...): a width of
# the ISA table not listed here is refused rather than assembled with no arm taken.
KERNEL_BITS = (4, 8, 16, 32)


def width_flags(bits: int, prefix: str = "IN", arms: tuple[int, ...] = KERNEL_BITS
                ) -> dict[str, int]:
    """The .equ flags choosing a kernel's lane-width arm: `{prefix}{W}` = 1 for `bits`, 0
    for every other lane width of the ISA table (isa.toml [granularities])."""
    widths = sorted(g.bits for g in load_isa().granules.values())
    if isinstance(bits, bool) or bits not in widths:
        raise ValueError(f"bits must be a lane width of the ISA ({', '.join(map(str, widths))})"
                         f", not {bits!r}")
    if bits not in arms:
        raise ValueError(f"the kernels have no {bits}-bit arm yet (they take "
                         f"{', '.join(map(str, arms))} bits)")
    return {f"{prefix}{b}": int(b == bits) for b in widths}


def program_key(kernel: str, in_bits: int, out_bits: int, **variant: int) -> ProgramKey:
    """The key of a kernel program: its name, widths and variant flags."""
    if kernel not in KERNELS:
        raise ValueError(f"no kernel {kernel!r}; there are {KERNELS}")
    width_flags(in_bits)
    width_flags(out_bits)
    return (kernel, int(in_bits), int(out_bits),
            tuple(sorted((k, int(v)) for k, v in variant.items())))


_programs: dict[ProgramKey, Program] = {}
_programs_lock = threading.Lock()


def program(key: ProgramKey) -> Program:
    """The assembled program of a key (assembled on first use, then shared; safe to call
    from several threads)."""
    with _programs_lock:
        prog = _programs.get(key)
    if prog is not None:
        return prog
    kernel, in_bits, out_bits, variant = key
    params = {**width_flags(in_bits, "IN"), **width_flags(out_bits, "OUT"), **dict(variant)}
    text = "".join(f".equ {k}, {v}\n" for k, v in sorted(params.items()))
    text += f'.include "{kernel}.s"\n'
    prog = assemble(text, filename=f"<{kernel} {in_bits}->{out_bits} {dict(variant)}>",
                    include_dirs=[str(HERE)])
    with _programs_lock:
        return _programs.setdefault(key, prog)


def seed_word(seed: int) -> int:
    """The user's seed hashed to a well-mixed non-zero 32-bit word (SplitMix-style): what
    a launch passes in r2 for stochastic rounding."""
    z = (int(seed) * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & (2**64 - 1)
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & (2**64 - 1)
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & (2**64 - 1)
    return ((z ^ (z >> 31)) & 0xFFFFFFFF) or 1


@dataclass
class Launch:
    """One kernel run: which program, its descriptor words (to be written to GM), and the
    seed for stochastic rounding."""

    program_key: ProgramKey
    descriptor: np.ndarray
    seed: int = 1
    name: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        self.descriptor = np.ascontiguousarray(self.descriptor, dtype=np.uint32)


def run_launches(machine: Machine, launches: Sequence[Launch], desc_addrs: Sequence[int],
                 max_cycles: int = MAX_CYCLES) -> list[RunResult]:
    """Run the launches one after the other on one machine, memory kept between them.

    The descriptors must already be in GM at `desc_addrs` (part of the parameter image).
    Each launch loads its program without clearing memory, sets r1 = the descriptor's
    address and r2 = the seed word on every PE, and runs until every PE halts.  A trap
    is a RuntimeError naming the launch."""
    if len(launches) != len(desc_addrs):
        raise ValueError(f"{len(launches)} launches but {len(desc_addrs)} descriptor addresses")
    results = []
    for k, (launch, addr) in enumerate(zip(launches, desc_addrs, strict=True)):
        machine.load(program(launch.program_key), clear=False)
        seed = seed_word(launch.seed)
        for pe in range(machine.npes):
            regs = machine.regs(pe)
            regs[1] = addr
            regs[2] = seed
        res = machine.run(max_cycles=max_cycles)
        if res.status != "halted":
            what = launch.name or "/".join(str(p) for p in launch.program_key[:3])
            detail = res.trap.describe() if res.trap else res.status
            raise RuntimeError(f"launch {k} ({what}) did not finish: {detail}")
        results.append(res)
    return results


# ----------------------------------------------------------------------------- machines
_local = threading.local()


def cached_machine(rows: int, cols: int, **params: int) -> Machine:
    """A machine of this shape and these parameters, made once per thread (a machine is
    used by one thread at a time; the standalone drivers reuse it between calls)."""
    cache: dict = getattr(_local, "machines", None)
    if cache is None:
        cache = _local.machines = {}
    key = (rows, cols, tuple(sorted(params.items())))
    m = cache.get(key)
    if m is None:
        if len(cache) >= 8:
            cache.pop(next(iter(cache)))
        m = cache[key] = Machine(rows, cols, **params)
    return m
