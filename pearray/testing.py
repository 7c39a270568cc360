"""Property-test the array's instructions with hypothesis: strategies and a one-call check.

For people who add or change an instruction: check it against a reference you
write yourself in numpy, on operands hypothesis draws (lane edge values, register
aliasing, r0 as the destination)::

    import numpy as np
    from pearray.testing import check_instruction, join, split

    def test_add_b():
        check_instruction("add.b", lambda rs, rt: join(split(rs, 8) + split(rt, 8), 8))

    def test_mac_h():  # rd is read too: name it as a parameter
        check_instruction("mac.h", lambda rd, rs, rt: rd + int(split(rs, 16) @ split(rt, 16)))

The reference's parameters are named after the instruction's operands (`rd`, `rs`,
`rt` as 32-bit unsigned words; immediates such as `sh` or `simm16` as the values
written in the assembly; `imm` for whichever immediate the instruction has), and it
returns the new `rd` (any int, taken mod 2^32) or a dict with `rd` and/or `sat`.
Lane widths come from the ISA table (`widths()`), so new widths need no change here.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import Any

import numpy as np

try:
    import hypothesis
    from hypothesis import given
    from hypothesis import strategies as st
except ImportError:  # a runtime install without the test extra
    raise ImportError("pearray.testing needs hypothesis: pip install 'pearray[test]'") from None

from pearray.isa.spec import Insn, Isa
from pearray.isa.spec import load as load_isa

MASK32 = 0xFFFFFFFF
CHECKABLE = ("alu", "mac")  # register in, register out: what check_instruction runs
SPECIAL = ("mfs", "mts", "nop")  # alu class, but special registers or nothing to check


def isa() -> Isa:
    """The ISA table the installed emulator was built from."""
    return load_isa()


def widths() -> dict[str, int]:
    """Lane width in bits per granularity suffix, from the table (`{"b": 8, ...}`)."""
    return {i.g: i.width for i in isa().insns if i.g}


# ------------------------------------------------------------------ lanes


def split(word: int, width: int, signed: bool = True) -> np.ndarray:
    """The lanes of a 32-bit word, lane 0 (the least significant bits) first, as int64."""
    n, mask = 32 // width, (1 << width) - 1
    lanes = np.array([(int(word) >> (k * width)) & mask for k in range(n)], np.int64)
    if signed:
        lanes = np.where(lanes >> (width - 1), lanes - (1 << width), lanes)
    return lanes


def join(lanes: Iterable[int] | np.ndarray, width: int) -> int:
    """A word from lanes (any ints: each is wrapped to `width` bits), lane 0 lowest."""
    values = [int(v) for v in np.asarray(lanes).ravel()]
    if len(values) * width != 32:
        raise ValueError(f"{len(values)} lanes of {width} bits do not make a 32-bit word")
    mask = (1 << width) - 1
    return sum((v & mask) << (k * width) for k, v in enumerate(values))


def s32(word: int) -> int:
    """A register value read as a signed 32-bit int."""
    word &= MASK32
    return word - (1 << 32) if word >> 31 else word


# ------------------------------------------------------------------ strategies


def lane_values(width: int, signed: bool = True) -> st.SearchStrategy[int]:
    """Values of one lane, often the ones that break things (min, max, 0, ±1, ±2)."""
    lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
    edges = sorted({v for v in (lo, hi, 0, 1, 2, -1, -2, lo + 1, hi - 1) if lo <= v <= hi})
    return st.one_of(st.sampled_from(edges), st.integers(lo, hi))


def lanes(width: int, signed: bool = True) -> st.SearchStrategy[np.ndarray]:
    """The 32 // width lanes of a word as an int64 array (pass to `join`)."""
    n = 32 // width
    return st.lists(lane_values(width, signed), min_size=n, max_size=n).map(
        lambda ls: np.array(ls, np.int64))


@cache
def words(width: int | None = None) -> st.SearchStrategy[int]:
    """32-bit words (0..2^32-1): lanes of edge values of `width` (of every width the table
    has when None), well-known bit patterns, and anything."""
    sizes = [width] if width else sorted(set(widths().values()))
    packed = [lanes(w).map(lambda ls, w=w: join(ls, w)) for w in sizes]
    fixed = st.sampled_from([0, MASK32, 0x80000000, 0x7FFFFFFF, 0x80808080, 0x7F7F7F7F,
                             0x80008000, 0x7FFF7FFF, 0x01010101, 0x00FF00FF, 0x88888888])
    return st.one_of(*packed, fixed, st.integers(0, MASK32))


def register_files(width: int | None = None) -> st.SearchStrategy[list[int]]:
    """16 register values with r0 = 0 (write them with `machine.regs(pe)[:] = ...`)."""
    return st.lists(words(width), min_size=15, max_size=15).map(lambda rs: [0, *rs])


def _checkable(insn: Insn) -> bool:
    return (insn.cls in CHECKABLE and insn.mnemonic not in SPECIAL
            and all(isa().fields[n].kind in ("reg", "uimm", "simm") for n in insn.operands))


def _operands(insn: Insn, regs: st.SearchStrategy[int] | None = None
              ) -> st.SearchStrategy[dict[str, int]]:
    """Operand values for one instruction: registers 0..15, immediates over their range,
    edges (the ends, 0, 1) often."""
    table = isa()
    out: dict[str, st.SearchStrategy[int]] = {}
    for name in insn.operands:
        f = table.fields[name]
        if f.kind == "reg":
            out[name] = regs if regs is not None else st.integers(0, 15)
        else:
            lo, hi = table.operand_range(insn, name)
            edges = sorted({v for v in (lo, hi, 0, 1) if lo <= v <= hi})
            out[name] = st.one_of(st.sampled_from(edges), st.integers(lo, hi))
    return st.fixed_dictionaries(out)


def _text(insn: Insn, ops: dict[str, int]) -> str:
    """The instruction as assembly text, from its syntax template."""
    text = insn.syntax
    for name, v in ops.items():
        kind = isa().fields[name].kind
        text = text.replace("{" + name + "}", f"r{v}" if kind == "reg" else str(v))
    return f"{insn.spelled} {text}".rstrip()


def instructions(keys: Iterable[str] | None = None) -> list[str]:
    """Keys of the register-to-register instructions (classes alu and mac, no special
    registers) that `programs` and `check_instruction` take; `keys` may name mnemonics."""
    table = isa()
    if keys is None:
        return [i.key for i in table.insns if _checkable(i)]
    wanted = set(keys)
    chosen = [i.key for i in table.insns if i.key in wanted or i.mnemonic in wanted]
    unknown = wanted - {k for k in chosen} - {table.by_key[k].mnemonic for k in chosen}
    if unknown:
        raise ValueError(f"no instruction {sorted(unknown)} in the ISA table")
    return chosen


def programs(keys: Iterable[str] | None = None, min_size: int = 1, max_size: int = 12
             ) -> st.SearchStrategy[str]:
    """Straight-line assembly of register instructions (`keys`, default: every one
    `instructions()` lists) with drawn operands, ending in `halt`: it assembles and runs
    to the halt on every PE."""
    keys = instructions(keys)
    bad = [k for k in keys if not _checkable(isa().by_key[k])]
    if bad:
        raise ValueError(f"programs() draws register instructions only, not {bad}")
    table = isa()
    line = st.sampled_from(keys).flatmap(
        lambda k: _operands(table.by_key[k]).map(lambda ops, k=k: _text(table.by_key[k], ops)))
    return st.lists(line, min_size=min_size, max_size=max_size).map(
        lambda ls: "".join(f"        {x}\n" for x in ls) + "        halt\n")


# ------------------------------------------------------------------ one instruction


@cache
def _machine() -> Any:
    from pearray.emu.machine import Machine

    return Machine(1, 1, lm_size=4096, sm_size=4096, gm_size=4096)


def _li(rd: int, value: int) -> list[int]:
    """`li rd, value` as lui + ori: two words whatever the value."""
    table = isa()
    value &= MASK32
    return [table.encode(table.by_key["lui"], {"rd": rd, "imm20": value >> 12}),
            table.encode(table.by_key["ori"], {"rd": rd, "rs": rd, "uimm16": value & 0xFFF})]


def execute(key: str, ops: dict[str, int], regs: Sequence[int]) -> tuple[list[int], int]:
    """Run one instruction on a 1x1 machine from a register file; the registers after it
    and the `sat` flag.  Registers are set with lui/ori, `sat` read back with `mfs` into a
    register the instruction does not name (its value before and after is not checked)."""
    from pearray.asm.program import Image, Program, Selection

    table = isa()
    insn = table.by_key[key]
    named = {ops[n] for n in insn.operands if table.fields[n].kind == "reg"}
    spare = max(r for r in range(1, 16) if r not in named)
    words = [w for r in range(1, 16) for w in _li(r, regs[r])]
    words += [table.encode(insn, ops),
              table.encode(table.by_key["mfs"], {"rd": spare, "srs": table.enums["sreg"]["sat"]}),
              table.encode(table.by_key["halt"], {})]
    image = Image(Selection(), np.array(words, np.uint32), [(0, 0)] * len(words))
    m = _machine()
    m.load(Program(images=[image], files=["<check_instruction>"], isa=table.digest))
    result = m.run(10_000)
    if result.status != "halted":
        raise AssertionError(f"{_text(insn, ops)}: the run ended {result.status}"
                             + (f": {result.trap.describe()}" if result.trap else ""))
    out = [int(v) for v in m.regs(0)]
    sat = out[spare]
    out[spare] = regs[spare]
    return out, sat


def check_instruction(key: str, reference: Callable[..., Any], *,
                      registers: st.SearchStrategy[int] | None = None,
                      values: st.SearchStrategy[int] | None = None,
                      settings: hypothesis.settings | None = None) -> None:
    """Check instruction `key` (e.g. "add.b") against `reference` on drawn operands.

    Runs hypothesis (the active settings profile, or `settings`; no deadline) over
    register numbers (aliasing and r0 included unless `registers` says otherwise),
    register values (`values`, default `words(width)`) and immediates; each example runs
    the instruction on the emulator
    and compares every register and `sat` with what the reference says: `rd` is what it
    returns, every other register keeps its value, `sat` stays 0 unless it returns
    {"sat": 1}.  A mismatch fails with the operands and the values in hex."""
    table = isa()
    if key not in table.by_key:
        close = [k for k in table.by_key if k.split(".")[0] == key.split(".")[0]]
        raise ValueError(f"no instruction {key!r} in the ISA table"
                         + (f" (there is {', '.join(close)})" if close else ""))
    insn = table.by_key[key]
    if not _checkable(insn):
        raise ValueError(f"check_instruction runs register instructions (class alu or mac, "
                         f"no special registers); {key} is class {insn.cls}")
    params = list(inspect.signature(reference).parameters)
    imms = [n for n in insn.operands if table.fields[n].kind != "reg"]
    known = set(insn.operands) | ({"imm"} if len(imms) == 1 else set())
    unknown = [p for p in params if p not in known]
    if unknown:
        raise ValueError(f"the reference for {key} takes {unknown}, which {key} does not "
                         f"have; it may take {sorted(known)}")
    reg_values = values if values is not None else words(insn.width if insn.g else None)

    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        ops = data.draw(_operands(insn, registers), "operands")
        regs = [0] + [data.draw(reg_values, f"r{r}") for r in range(1, 16)]
        regs_named = {n: ops[n] for n in insn.operands if table.fields[n].kind == "reg"}
        args = {n: regs[v] if n in regs_named else ops[n] for n, v in ops.items()}
        if imms:
            args["imm"] = ops[imms[0]]
        want = reference(**{p: args[p] for p in params})
        if not isinstance(want, dict):
            want = {"rd": want}
        got, sat = execute(key, ops, regs)
        expect = list(regs)
        for name, v in want.items():
            if name == "sat":
                continue
            if name not in regs_named:
                raise ValueError(f"the reference returned {name!r}: {key} writes registers "
                                 f"{sorted(regs_named)}")
            if regs_named[name]:
                expect[regs_named[name]] = int(v) & MASK32
        where = f"{_text(insn, ops)} with " + ", ".join(
            f"r{r}={regs[r]:#010x}" for r in sorted(set(regs_named.values())))
        diff = [f"r{r}: got {got[r]:#010x}, want {expect[r]:#010x}"
                for r in range(16) if got[r] != expect[r]]
        assert not diff, f"{where}: " + "; ".join(diff)
        want_sat = int(bool(want.get("sat", 0)))
        assert sat == want_sat, f"{where}: sat {sat}, want {want_sat}"

    _machine()  # built before the first example, whose time would include it
    # no deadline: the first examples also load the ISA and the assembler's tables
    hypothesis.settings(settings or hypothesis.settings.default, deadline=None)(check)()
