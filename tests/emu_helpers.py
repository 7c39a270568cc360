"""Helpers for the emulator tests: build programs from words, run one instruction.

Programs are built from words encoded with `isa.encode` (the encoder is the
table's; the expected *results* always come from tests/ref.py).  `build` is a
tiny label resolver so that branch, loop and jump offsets need not be counted by
hand.  Tests that need text use the real assembler (`pearray.asm.assemble`) directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from pearray.asm.program import Image, Program, Selection
from pearray.emu.machine import Machine, RunResult
from pearray.isa import load as load_isa

ISA = load_isa()
SREG = {"row": 0, "col": 1, "id": 2, "rows": 3, "cols": 4, "cycle": 5, "sat": 6, "lfsr": 7,
        "dss": 8, "dds": 9}
DIR = {"n": 0, "e": 1, "s": 2, "w": 3}
PCREL = ("boff", "loff", "joff", "jloff")
# small memories keep Machine construction and load() cheap in property tests
SMALL = {"gm_size": 4096, "sm_size": 4096, "lm_size": 4096}

Item = str | tuple[str, dict[str, Any]]


def enc(key: str, **ops: int) -> int:
    """One instruction word: `enc("add.b", rd=1, rs=2, rt=3)`; pcrel operands in bytes."""
    return ISA.encode(ISA.by_key[key], ops)


def li(rd: int, value: int) -> list[int]:
    """`li rd, value` as lui + ori (always two words, so program layouts are fixed)."""
    value &= 0xFFFFFFFF
    return [enc("lui", rd=rd, imm20=value >> 12), enc("ori", rd=rd, rs=rd, uimm16=value & 0xFFF)]


def image(words: Sequence[int], pes: Selection | None = None, file: int = 0) -> Image:
    """An image of `words`; word i comes from line i+1 of file `file`."""
    arr = np.array([w & 0xFFFFFFFF for w in words], np.uint32)
    return Image(pes or Selection(), arr, [(file, i + 1) for i in range(len(arr))])


def program(words: Sequence[int] | None = None, *, images: Iterable[Image] = (),
            symbols: dict[str, int] | None = None) -> Program:
    """A Program with one image for every PE (`words`) and/or explicit images."""
    ims = ([image(words)] if words is not None else []) + list(images)
    return Program(images=ims, files=["t.s"], isa=ISA.digest, symbols=dict(symbols or {}))


def pe_sel(row: int, col: int) -> Selection:
    """The selection `.pe row,col`."""
    return Selection(row, row, col, col)


def build(items: Iterable[Item]) -> tuple[list[int], dict[str, int]]:
    """Words and labels from a list of `"label:"` strings and `(key, ops)` tuples;
    a pcrel operand may name a label (resolved to a byte offset from the instruction).
    A `("words", {"w": [...]})` item splices raw words."""
    items = list(items)
    labels: dict[str, int] = {}
    pc = 0
    for it in items:
        if isinstance(it, str):
            labels[it.rstrip(":")] = pc
        else:
            pc += 4 * (len(it[1]["w"]) if it[0] == "words" else 1)
    words: list[int] = []
    for it in items:
        if isinstance(it, str):
            continue
        key, ops = it
        if key == "words":
            words += list(ops["w"])
            continue
        ops = dict(ops)
        for f in PCREL:
            if isinstance(ops.get(f), str):
                ops[f] = labels[ops[f]] - 4 * len(words)
        words.append(enc(key, **ops))
    return words, labels


@cache
def _machine(rows: int, cols: int, params: tuple[tuple[str, int], ...]) -> Machine:
    return Machine(rows, cols, **dict(params))


def machine(rows: int = 1, cols: int = 1, **params: int) -> Machine:
    """A (cached, reused) machine with small memories unless told otherwise;
    `load` resets it, so reuse between runs is safe."""
    return _machine(rows, cols, tuple(sorted({**SMALL, **params}.items())))


def run(words: Sequence[int], rows: int = 1, cols: int = 1, max_cycles: int = 10_000,
        **params: int) -> tuple[Machine, RunResult]:
    """Load `words` on every PE of a (cached) machine and run."""
    m = machine(rows, cols, **params)
    m.load(program(words))
    return m, m.run(max_cycles)


# ---------------------------------------------------------------- one instruction

@dataclass
class Outcome:
    """What running one instruction left behind."""

    regs: list[int]
    sat: int
    lfsr: int
    result: RunResult
    preamble: int  # instructions retired before the one under test
    scratch: set[int]  # registers used to read sat and lfsr back
    lm: np.ndarray  # a copy of the PE's local memory after the run


def run_one(key: str, ops: dict[str, int], regs_in: dict[int, int], *, sat_in: int = 0,
            lfsr_in: int | None = None, lm: bytes | None = None) -> Outcome:
    """Preload registers (lui+ori), optionally seed sat/lfsr and LM, execute `key` once,
    read `sat` and `lfsr` into two registers the instruction does not use, halt."""
    used = {ops.get(f) for f in ("rd", "rs", "rt")} | set(regs_in)
    free = [r for r in range(15, 0, -1) if r not in used]
    r_sat, r_lfsr = free[0], free[1]
    pre: list[int] = []
    if sat_in:
        pre += [enc("addi", rd=r_sat, rs=0, simm16=1), enc("mts", srd=SREG["sat"], rs=r_sat)]
    if lfsr_in is not None:
        pre += li(r_lfsr, lfsr_in) + [enc("mts", srd=SREG["lfsr"], rs=r_lfsr)]
    for r, v in sorted(regs_in.items()):
        if r:
            pre += li(r, v)
    words = pre + [enc(key, **ops), enc("mfs", rd=r_sat, srs=SREG["sat"]),
                   enc("mfs", rd=r_lfsr, srs=SREG["lfsr"]), enc("halt")]
    m = machine(1, 1)
    m.load(program(words))
    if lm is not None:
        m.lm[0][:len(lm)] = np.frombuffer(lm, np.uint8)
    res = m.run(1000)
    regs = list(res.pes[0].regs)
    return Outcome(regs, regs[r_sat], regs[r_lfsr], res, len(pre), {r_sat, r_lfsr},
                   m.lm[0].copy())
