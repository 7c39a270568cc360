"""Every instruction at every granularity, one at a time, against tests/ref.py.

Each example preloads registers with lui+ori, optionally sets `sat` and seeds
the LFSR, executes the instruction once, reads `sat` and `lfsr` back with `mfs`
and halts.  Operands lean hard on lane edge values (min, max, 0, -1 packed into
words), register aliasing (rd == rs, rd == rt, rs == rt) and r0 as destination.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest
import ref
from emu_helpers import ISA, SREG, enc, li, machine, program, run_one
from hypothesis import given
from hypothesis import strategies as st

from pearray.isa.spec import Insn

MASK32 = 0xFFFFFFFF

# ---------------------------------------------------------------- classes, by hand

LANE_ALU = {"add", "sub", "adds", "subs", "addus", "subus", "mul", "min", "max", "minu",
            "maxu", "abs", "relu", "splat"}
SHIFTS = {"sll", "srl", "sra", "srar"}
IMM_SHIFTS = {"slli", "srli", "srai", "srari", "srasi"}
MACS = {"mac", "macsu", "macs", "dot", "dotsu", "macl"}
PACKS = {"packs", "packsr", "unpkl", "unpkh"}
BITWISE = {"and", "or", "xor", "not"}
IMMEDIATES = {"addi", "andi", "ori", "xori", "lui"}
LOADS = {"lw", "lh", "lb", "lhu", "lbu", "lw.pi"}
STORES = {"sw", "sh", "sb", "sw.pi"}
BRANCHES = {"beq", "bne", "blt", "bge", "bltu", "bgeu"}
SPECIAL = {"mfs", "mts", "nop"}

# keys tested in test_emu_programs.py, with the test that covers each
ELSEWHERE = {
    "j": "test_jumps_and_links", "jal": "test_jumps_and_links", "jr": "test_jumps_and_links",
    "loop": "test_loop_count_and_cycles", "halt": "test_halt_retires_and_stops",
    "sync": "test_sync_barrier", "send": "test_row_relay", "recv": "test_row_relay",
    "dma": "test_dma_copies_times_and_counts", "dwait": "test_dma_copies_times_and_counts",
    "dma2d": "test_dma2d_copies_rows_times_and_counts",
}


def keys_of(mnemonics: set[str]) -> list[str]:
    """Every key (all granularities) of the given mnemonics or keys."""
    return [i.key for i in ISA.insns if i.mnemonic in mnemonics or i.key in mnemonics]


def width(insn: Insn) -> int:
    return ref.WIDTH[insn.g] if insn.g else 32


# ---------------------------------------------------------------- strategies

def edges(w: int) -> list[int]:
    """Lane values that break things: min, max, 0, -1 (the unsigned max), ±1, ±2 and the
    neighbours of min and max."""
    lo, hi = ref.smin(w), ref.smax(w)
    return [lo, hi, 0, -1, 1, lo + 1, hi - 1, 2, -2]


@cache
def words(w: int) -> st.SearchStrategy[int]:
    """32-bit words, often built from edge lanes of width w (and of the other widths)."""
    n = 32 // w
    lane = st.one_of(st.sampled_from(edges(w)), st.integers(ref.smin(w), (1 << w) - 1))
    packed = st.lists(lane, min_size=n, max_size=n).map(lambda ls: ref.join(ls, w))
    fixed = st.sampled_from([0, MASK32, 0x80808080, 0x7F7F7F7F, 0x7FFF8000, 0x80007FFF,
                             0x80000000, 0x7FFFFFFF, 0x01010101, 0x00FF00FF, 0xFF00FF00])
    return st.one_of(packed, fixed, st.integers(0, MASK32))


def reg_triple(insn: Insn) -> st.SearchStrategy[dict[str, int]]:
    """Register operands with aliasing and r0-as-destination strongly represented."""
    names = [f for f in ("rd", "rs", "rt") if f in insn.operands]

    @st.composite
    def strat(draw: st.DrawFn) -> dict[str, int]:
        pattern = draw(st.sampled_from(["free", "free", "rd=rs", "rd=rt", "rs=rt", "all",
                                        "rd=0"]))
        regs = {f: draw(st.integers(0 if pattern == "free" else 1, 15)) for f in names}
        if pattern == "rd=rs" and "rs" in regs:
            regs["rd"] = regs["rs"]
        elif pattern == "rd=rt" and "rt" in regs:
            regs["rd"] = regs["rt"]
        elif pattern == "rs=rt" and "rt" in regs:
            regs["rt"] = regs["rs"]
        elif pattern == "all":
            regs = dict.fromkeys(regs, regs[names[0]])
        elif pattern == "rd=0" and "rd" in regs:
            regs["rd"] = 0
        return regs

    return strat()


def reg_values(regs: dict[str, int], w: int) -> st.SearchStrategy[dict[int, int]]:
    """A value for every distinct nonzero register among the operands."""
    rs = sorted({v for f, v in regs.items() if f in ("rd", "rs", "rt") and v})
    return st.fixed_dictionaries({r: words(w) for r in rs})


# ---------------------------------------------------------------- the check

def check(key: str, ops: dict[str, int], regs_in: dict[int, int], sat_in: int = 0,
          lfsr_in: int | None = None, lm: bytes | None = None) -> None:
    """Run `key` on the emulator and on the reference; compare everything observable."""
    out = run_one(key, ops, regs_in, sat_in=sat_in, lfsr_in=lfsr_in, lm=lm)
    st_ = ref.State()
    st_.sat = sat_in
    if lfsr_in is not None:
        st_.lfsr = ref.lfsr_seed(lfsr_in)
    for r, v in regs_in.items():
        st_.set(r, v)
    if lm is not None:
        st_.lm[:len(lm)] = lm
    ref.execute(st_, key, ops)
    insn = ISA.by_key[key]
    ctx = f"{key} ops={ops} regs_in={ {r: hex(v) for r, v in regs_in.items()} }"
    got = {r: hex(v) for r, v in enumerate(out.regs) if r not in out.scratch}
    want = {r: hex(st_.get(r)) for r in range(16) if r not in out.scratch}
    assert got == want, f"registers differ: {ctx}"
    assert out.regs[0] == 0, ctx
    assert out.sat == st_.sat, f"sat: got {out.sat}, want {st_.sat}: {ctx}"
    assert out.lfsr == st_.lfsr, f"lfsr: got {out.lfsr:#x}, want {st_.lfsr:#x}: {ctx}"
    pe = out.result.pes[0]
    assert out.result.status == "halted", ctx
    assert pe.retired == out.preamble + 4, ctx  # + the insn, 2 mfs, halt
    lanes = 32 // width(insn)
    assert pe.macs == (lanes if insn.mnemonic in MACS else 0), ctx
    if lm is not None:
        assert bytes(out.lm[:len(st_.lm)]) == bytes(st_.lm[:len(out.lm)]), f"LM: {ctx}"
    # one cycle each (LM costs 1, macl reads its two words through two LM ports): no stalls
    assert out.result.cycles == pe.retired, ctx
    assert sum(pe.stalls.values()) == 0, ctx
    counted = (pe.loads["lm"], pe.stores["lm"], pe.load_bytes["lm"], pe.store_bytes["lm"])
    assert counted == (st_.loads, st_.stores, st_.load_bytes, st_.store_bytes), ctx
    for region in ("sm", "gm"):
        assert pe.loads[region] == pe.stores[region] == 0, ctx


# ---------------------------------------------------------------- lane arithmetic and shifts

@pytest.mark.parametrize("key", keys_of(LANE_ALU | SHIFTS))
@given(data=st.data())
def test_lane_arithmetic(key: str, data: st.DataObject) -> None:
    """add sub adds subs addus subus mul min max minu maxu abs relu splat sll srl sra srar."""
    insn = ISA.by_key[key]
    ops = data.draw(reg_triple(insn), "ops")
    if insn.mnemonic in SHIFTS and "rt" in ops and data.draw(st.booleans(), "small shift"):
        # shift amounts near 0 / W-1 / W / W+1 in every lane of rt
        w = width(insn)
        amounts = st.lists(st.sampled_from([0, 1, w - 1, w, w + 1, 2 * w - 1]),
                           min_size=32 // w, max_size=32 // w)
        values = data.draw(reg_values(ops, w), "values")
        if ops["rt"]:
            values[ops["rt"]] = ref.join(data.draw(amounts, "amounts"), w)
    else:
        values = data.draw(reg_values(ops, width(insn)), "values")
    check(key, ops, values, sat_in=data.draw(st.sampled_from([0, 0, 1]), "sat_in"))


@pytest.mark.parametrize("key", keys_of(IMM_SHIFTS))
@given(data=st.data())
def test_immediate_shifts(key: str, data: st.DataObject) -> None:
    """slli srli srai srari srasi with sh over 0..W-1 (edges first); srasi with LFSR seeds."""
    insn = ISA.by_key[key]
    w = width(insn)
    ops = data.draw(reg_triple(insn), "ops")
    ops["sh"] = data.draw(st.one_of(st.sampled_from([0, 1, w - 1]), st.integers(0, w - 1)),
                          "sh")
    values = data.draw(reg_values(ops, w), "values")
    lfsr = None
    if insn.mnemonic == "srasi":
        lfsr = data.draw(st.one_of(st.none(), st.sampled_from([0, 1, MASK32, 0x80000000]),
                                   st.integers(0, MASK32)), "lfsr")
    check(key, ops, values, sat_in=data.draw(st.sampled_from([0, 1]), "sat_in"), lfsr_in=lfsr)


def test_srasi_known_answer_from_reset() -> None:
    """Worked by hand from isa.toml's lfsr decision: from 0xACE1ACE1 the Galois steps give
    0xD650D673, 0xEB086B3A, 0x7584359D, 0xBAE21ACD (low bits 1, 0, 1, 1), so srasi.b of
    four lanes of 1 by 1 is (1 + bit) >> 1 = [1, 0, 1, 1] and leaves the LFSR at 0xBAE21ACD."""
    assert ref.lfsr_step(0xACE1ACE1) == 0xD650D673
    out = run_one("srasi.b", {"rd": 1, "rs": 2, "sh": 1}, {2: 0x01010101})
    assert out.regs[1] == 0x01010001
    assert out.lfsr == 0xBAE21ACD


def test_srasi_lfsr_sequence_from_reset() -> None:
    """srasi steps the LFSR once per lane from the reset value 0xACE1ACE1, lane 0 first,
    also when s = 0 (u is then 0)."""
    value = ref.join([5, -7, 100, -128], 8)
    check("srasi.b", {"rd": 1, "rs": 2, "sh": 3}, {2: value})
    check("srasi.w", {"rd": 1, "rs": 1, "sh": 31}, {1: 0x7FFFFFFF})
    check("srasi.h", {"rd": 3, "rs": 3, "sh": 0}, {3: 0x8000FFFF})


@pytest.mark.parametrize("key", keys_of({"srar", "srari"}))
def test_rounding_shift_examples(key: str) -> None:
    """Round half up without intermediate overflow, worked by hand: max >> 1 rounds up to
    2^(W-2), -3 >> 1 is -1 (−1.5 rounds up), -5 >> 2 is -1 (−1.25)."""
    w = ref.WIDTH[key[-1]]
    n = 32 // w
    cases = [(ref.smax(w), 1, 1 << (w - 2)), (-3, 1, -1), (-5, 2, -1), (3, 1, 2),
             (ref.smin(w), w - 1, -1), (ref.smax(w), w - 1, 1), (6, 2, 2)]
    for x, s, want in cases:
        if key.startswith("srari"):
            out = run_one(key, {"rd": 1, "rs": 2, "sh": s}, {2: ref.join([x] * n, w)})
        else:
            out = run_one(key, {"rd": 1, "rs": 2, "rt": 3},
                          {2: ref.join([x] * n, w), 3: ref.join([s] * n, w)})
        assert out.regs[1] == ref.join([want] * n, w), (key, x, s, hex(out.regs[1]))


def test_reference_known_answers() -> None:
    """The reference itself, against values worked by hand from ARCH.md."""
    assert ref.lane_op("adds", 8, 0x7F7F8080, 0x01018080) == (0x7F7F8080, True)
    assert ref.lane_op("addus", 16, 0xFFFF0001, 0x00010001) == (0xFFFF0002, True)
    assert ref.lane_op("subus", 8, 0x00000005, 0x01000003) == (0x00000002, True)
    assert ref.lane_op("abs", 8, 0x80FF0102, 0) == (0x80010102, False)
    assert ref.lane_op("sll", 8, 0x01010101, 0x09080701) == (0x02018002, False)
    assert ref.lane_op("sra", 16, 0x80000010, 0x000F0011) == (0xFFFF0008, False)
    assert ref.lane_op("srar", 8, 0x7FFDFB03, 0x01010201) == (0x40FFFF02, False)
    assert ref.lane_op("splat", 16, 0x1234ABCD, 0) == (0xABCDABCD, False)
    assert ref.mac_op("mac", 8, 10, 0x80808080, 0x80808080) == (10 + 4 * 16384, False)
    assert ref.mac_op("macsu", 8, 0, 0x000000FF, 0x000000FF) == (0xFFFFFF01, False)
    assert ref.mac_op("macs", 32, 0x7FFFFFFF, 1, 1) == (0x7FFFFFFF, True)
    assert ref.mac_op("dot", 16, 99, 0x80008000, 0x80008000) == (0x80000000, False)
    assert ref.packs(16, 0x00012345, 0xFFFF8000) == (0x80007FFF, True)
    assert ref.packs(8, 0x0080FF7F, 0xFF00007F) == (0x807F7F80, True)
    assert ref.unpk(8, 0x807F01FF, False) == 0x0001FFFF
    assert ref.unpk(8, 0x807F01FF, True) == 0xFF80007F
    assert ref.unpk(16, 0x8000FFFE, True) == 0xFFFF8000


# Nibble lanes (ARCH.md §8), worked by hand: (key, rs, rt, rd before, rd after, sat).
# Lane 0 is bits 3..0; lanes read -8..7 signed, 0..15 unsigned.
NIBBLE_CASES = [
    ("add.n", 0x00000017, 0x00000011, 0, 0x00000028, 0),   # 7 + 1 wraps to -8
    ("adds.n", 0x00000017, 0x00000011, 0, 0x00000027, 1),  # 7 + 1 saturates at 7
    ("addus.n", 0x0000001F, 0x00000011, 0, 0x0000002F, 1),  # 15 + 1 saturates at 15
    ("subs.n", 0x00000008, 0x00000001, 0, 0x00000008, 1),  # -8 - 1 saturates at -8
    ("mul.n", 0x00000023, 0x00000033, 0, 0x00000069, 0),   # 3 * 3 = 9: low 4 bits 0x9
    ("abs.n", 0x000000F8, 0, 0, 0x00000018, 0),            # abs(-8) wraps to -8; abs(-1) = 1
    ("relu.n", 0x0000007F, 0, 0, 0x00000070, 0),
    ("sll.n", 0x00000011, 0x00000051, 0, 0x00000022, 0),   # amounts 1 and 5 mod 4 = 1
    ("sra.n", 0x00000008, 0x00000003, 0, 0x0000000F, 0),   # -8 >> 3 = -1
    ("srar.n", 0x00000007, 0x00000001, 0, 0x00000004, 0),  # (7 + 1) >> 1 = 4
    ("splat.n", 0x0000000A, 0, 0, 0xAAAAAAAA, 0),
    ("mac.n", 0x88888888, 0x88888888, 10, 10 + 8 * 64, 0),  # 8 MACs of -8 * -8
    ("macsu.n", 0x0000000F, 0x0000000F, 0, 0xFFFFFFF1, 0),  # 15 (unsigned) * -1
    ("dotsu.n", 0x0000000F, 0x0000000F, 99, 0xFFFFFFF1, 0),
    ("dot.n", 0x77777777, 0x88888888, 99, 0xFFFFFE40, 0),   # 8 * (7 * -8) = -448
    ("macs.n", 0x88888888, 0x88888888, 0x7FFFFFFF, 0x7FFFFFFF, 1),
    ("packs.n", 0x807F0807, 0xF8F7FF00, 0, 0x88F08777, 1),  # §8: sat4 of rs.b0..3, rt.b0..3
    ("packs.n", 0x00F90102, 0x07FA0000, 0, 0x7A000912, 0),
    ("unpkl.n", 0x8000F321, 0, 0, 0xFF030201, 0),           # nibbles 0..3 to the .b lanes
    ("unpkh.n", 0x8000F321, 0, 0, 0xF8000000, 0),           # nibbles 4..7
]


@pytest.mark.parametrize("case", NIBBLE_CASES, ids=[c[0] for c in NIBBLE_CASES])
def test_nibble_known_answers(case: tuple[str, int, int, int, int, int]) -> None:
    """.n worked by hand from ARCH.md §8, on the emulator and on the reference."""
    key, rs, rt, rd_in, want, sat = case
    ops = {n: r for n, r in zip(("rd", "rs", "rt"), (1, 2, 3), strict=True)
           if n in ISA.by_key[key].operands}
    out = run_one(key, ops, {1: rd_in, 2: rs, 3: rt})
    assert (out.regs[1], out.sat) == (want & MASK32, sat), (key, hex(out.regs[1]))
    check(key, ops, {1: rd_in, 2: rs, 3: rt})


def test_nibble_layout_packsr_and_srasi_known_answers() -> None:
    """ARCH.md §8's layout (pack([1, 2, 3, -1, 0, 0, 0, -8], 4) == 0x8000F321); packsr.n
    rounds the bytes before narrowing; srasi.n steps the LFSR once per lane, lane 0 first."""
    assert ref.split(0x8000F321, 4) == [1, 2, 3, -1, 0, 0, 0, -8]
    assert ref.join([1, 2, 3, -1, 0, 0, 0, -8], 4) == 0x8000F321
    # rs.b0 = 16, rs.b1 = 15: (x + 8) >> 4 = 1, 1; rt.b0 = 127: 135 >> 4 = 8 saturates to 7
    out = run_one("packsr.n", {"rd": 1, "rs": 2, "rt": 3, "sh": 4}, {2: 0x00000F10, 3: 0x7F})
    assert (out.regs[1], out.sat) == (0x00070011, 1)
    assert ref.packsr(4, 0x00000F10, 0x7F, 4) == (0x00070011, True)
    # From the reset 0xACE1ACE1 the Galois steps are 0xD650D673 0xEB086B3A 0x7584359D
    # 0xBAE21ACD 0xDD510D65 0xEE8886B1 0xF764435B 0xFB9221AE (low bits 1 0 1 1 1 1 1 0):
    # eight lanes of 1 shifted by 1 round to (1 + bit) >> 1 = the bit, lane 0 first.
    out = run_one("srasi.n", {"rd": 1, "rs": 2, "sh": 1}, {2: 0x11111111})
    assert (out.regs[1], out.lfsr) == (0x01111101, 0xFB9221AE)
    check("srasi.n", {"rd": 1, "rs": 2, "sh": 3}, {2: ref.join([7, -8, 5, -3, 1, 0, -1, 6], 4)})


# ---------------------------------------------------------------- multiply-accumulate

@pytest.mark.parametrize("key", keys_of(MACS - {"macl"}))
@given(data=st.data())
def test_mac(key: str, data: st.DataObject) -> None:
    """mac macsu macs dot dotsu: sums of lane products, accumulate wrap / saturation, MACs."""
    insn = ISA.by_key[key]
    w = width(insn)
    ops = data.draw(reg_triple(insn), "ops")
    values = data.draw(reg_values(ops, w), "values")
    check(key, ops, values, sat_in=data.draw(st.sampled_from([0, 0, 1]), "sat_in"))


@pytest.mark.parametrize("key", keys_of(MACS - {"macl"}))
def test_mac_edges(key: str) -> None:
    """-2^(n-1) · -2^(n-1) in every lane, with accumulators at the int32 edges."""
    w = width(ISA.by_key[key])
    n = 32 // w
    lo, hi = ref.join([ref.smin(w)] * n, w), ref.join([ref.smax(w)] * n, w)
    for acc in (0, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1):
        for a, b in ((lo, lo), (hi, hi), (lo, hi), (MASK32, lo), (MASK32, MASK32)):
            check(key, {"rd": 1, "rs": 2, "rt": 3}, {1: acc, 2: a, 3: b})
            check(key, {"rd": 2, "rs": 2, "rt": 3}, {2: a, 3: b})


@pytest.mark.parametrize("key", keys_of({"macl"}))
@given(data=st.data())
def test_macl(key: str, data: st.DataObject) -> None:
    """macl rd, (rs)+, (rt)+: rd += dot of the LM words at rs and rt; both pointers += 4
    (macl rd, (rs), (rt)+: rt only); two LM loads in one cycle; MACs = lanes.  rd, rs, rt
    distinct (aliasing: see below)."""
    w = width(ISA.by_key[key])
    rd, rs, rt = data.draw(st.permutations(range(1, 16)), "regs")[:3]
    if data.draw(st.booleans(), "rd=r0"):
        rd = 0
    lm = data.draw(st.lists(words(w), min_size=LM_SPAN // 4, max_size=LM_SPAN // 4), "lm")
    raw = b"".join(x.to_bytes(4, "little") for x in lm)
    x_addr, y_addr = (4 * data.draw(st.integers(0, LM_SPAN // 4 - 1), n) for n in "xy")
    values = {rs: x_addr, rt: y_addr}
    if rd:
        values[rd] = data.draw(words(32), "acc")
    check(key, {"rd": rd, "rs": rs, "rt": rt}, values, lm=raw,
          sat_in=data.draw(st.sampled_from([0, 1]), "sat_in"))


@pytest.mark.parametrize("key", keys_of({"macl"}))
def test_macl_same_pointer(key: str) -> None:
    """macl rd, (rs)+, (rs)+ squares the word at rs; rs steps by 4 (both increments are
    computed from the value read at issue, as for any two-source instruction)."""
    w = width(ISA.by_key[key])
    n = 32 // w
    raw = ref.join([ref.smin(w)] * n, w).to_bytes(4, "little") + bytes(60)
    check(key, {"rd": 1, "rs": 2, "rt": 2}, {1: 5, 2: 0}, lm=raw)


@pytest.mark.parametrize("key", keys_of({"macl"}))
def test_macl_accumulator_is_pointer(key: str) -> None:
    """macl rs, (rs)+, (rt)+ : rd is written last, so rd == rs ends as old rs + dot
    (the accumulator is read at issue; the increment of rs is lost, as lw.pi's)."""
    raw = (0x01010101).to_bytes(4, "little") * 16
    check(key, {"rd": 2, "rs": 2, "rt": 3}, {2: 8, 3: 16}, lm=raw)
    check(key, {"rd": 3, "rs": 2, "rt": 3}, {2: 8, 3: 16}, lm=raw)


# ---------------------------------------------------------------- pack / unpack

@pytest.mark.parametrize("key", keys_of(PACKS))
@given(data=st.data())
def test_pack_unpack(key: str, data: st.DataObject) -> None:
    """packs (saturating narrow, sets sat), packsr (the same after a rounding shift of the
    wide lanes by sh over 0..2W-1), unpkl/unpkh (sign-extending widen)."""
    insn = ISA.by_key[key]
    ops = data.draw(reg_triple(insn), "ops")
    if insn.mnemonic == "packsr":
        top = 2 * width(insn) - 1
        ops["sh"] = data.draw(st.one_of(st.sampled_from([0, 1, top]), st.integers(0, top)),
                              "sh")
    # packs narrows from twice the width: draw words whose wide lanes are near the edges
    w = 2 * width(insn) if insn.mnemonic in ("packs", "packsr") else width(insn)
    values = data.draw(reg_values(ops, min(w, 32)), "values")
    check(key, ops, values, sat_in=data.draw(st.sampled_from([0, 0, 1]), "sat_in"))


# ---------------------------------------------------------------- bitwise and immediates

@pytest.mark.parametrize("key", keys_of(BITWISE | IMMEDIATES))
@given(data=st.data())
def test_bitwise_and_immediates(key: str, data: st.DataObject) -> None:
    """and or xor not; addi (sign-extended) andi ori xori (zero-extended); lui."""
    insn = ISA.by_key[key]
    ops = data.draw(reg_triple(insn), "ops")
    if "simm16" in insn.operands:
        ops["simm16"] = data.draw(st.one_of(st.sampled_from([-32768, 32767, -1, 0, 1]),
                                            st.integers(-32768, 32767)), "simm16")
    if "uimm16" in insn.operands:
        ops["uimm16"] = data.draw(st.one_of(st.sampled_from([0xFFFF, 0x8000, 0, 1]),
                                            st.integers(0, 0xFFFF)), "uimm16")
    if "imm20" in insn.operands:
        ops["imm20"] = data.draw(st.one_of(st.sampled_from([0xFFFFF, 0x80000, 0, 1]),
                                           st.integers(0, 0xFFFFF)), "imm20")
    check(key, ops, data.draw(reg_values(ops, 32), "values"))


# ---------------------------------------------------------------- memory (LM)

LM_SPAN = 256  # bytes of LM filled with random data and addressed


@pytest.mark.parametrize("key", keys_of(LOADS | STORES))
@given(data=st.data())
def test_load_store_lm(key: str, data: st.DataObject) -> None:
    """Loads (sign/zero extension) and stores (low bytes) to LM, offsets of either sign,
    post-increment forms (rs updated; for lw.pi rd wins when rd == rs)."""
    insn = ISA.by_key[key]
    size = {"lw": 4, "lh": 2, "lb": 1, "lhu": 2, "lbu": 1, "sw": 4, "sh": 2, "sb": 1}[
        insn.mnemonic]
    regs = data.draw(reg_triple(insn), "ops")
    if not regs["rs"]:
        regs["rs"] = data.draw(st.integers(1, 15), "rs")
    addr = size * data.draw(st.integers(0, LM_SPAN // size - 1), "slot")
    off = data.draw(st.one_of(st.sampled_from([0, -2048, 2047, 4, -4]),
                              st.integers(-2048, 2047)), "off12")
    if key.endswith(".pi"):
        base = addr
        off = off - off % 4
    else:
        base = (addr - off) & MASK32
    ops = {**regs, "off12": off}
    values = data.draw(reg_values(regs, 32), "values")
    values[regs["rs"]] = base
    lm = data.draw(st.binary(min_size=LM_SPAN, max_size=LM_SPAN), "lm")
    check(key, ops, values, lm=lm)


def test_post_increment_of_r0() -> None:
    """(r0)+imm addresses 0 and the increment is dropped: r0 still reads 0 afterwards."""
    raw = bytes(range(1, 65))
    check("lw.pi", {"rd": 1, "rs": 0, "off12": 8}, {}, lm=raw)
    check("sw.pi", {"rt": 2, "rs": 0, "off12": 8}, {2: 0xDEADBEEF}, lm=raw)
    for key in keys_of({"macl"}):
        check(key, {"rd": 1, "rs": 0, "rt": 2}, {1: 3, 2: 8}, lm=raw)
    words_ = [enc("lw.pi", rd=1, rs=0, off12=8), enc("add.w", rd=2, rs=0, rt=0), enc("halt")]
    m = machine(1, 1)
    m.load(program(words_))
    m.lm[0][:4] = [1, 2, 3, 4]
    assert m.run(100).pes[0].regs[:3] == [0, 0x04030201, 0]


# ---------------------------------------------------------------- branches

@pytest.mark.parametrize("key", keys_of(BRANCHES))
@given(a=words(32), b=words(32), same=st.booleans())
def test_branches(key: str, a: int, b: int, same: bool) -> None:
    """A taken branch skips one `addi r9, r0, 1`; not taken falls through to it."""
    if same:
        b = a
    words_ = li(1, a) + li(2, b) + [enc(key, rs=1, rt=2, boff=8),
                                    enc("addi", rd=9, rs=0, simm16=1),
                                    enc("addi", rd=10, rs=0, simm16=2), enc("halt")]
    m = machine(1, 1)
    m.load(program(words_))
    res = m.run(100)
    taken = ref.BRANCH[key](a, b)
    regs = res.pes[0].regs
    assert (regs[9], regs[10]) == ((0, 2) if taken else (1, 2)), (key, hex(a), hex(b))
    assert res.pes[0].retired == (7 if taken else 8)
    assert res.cycles == res.pes[0].retired


def test_branch_backward_and_r0() -> None:
    """A backward bne counts r1 down to 0; beq r0, r0 is always taken."""
    words_ = [enc("addi", rd=1, rs=0, simm16=5), enc("addi", rd=2, rs=2, simm16=3),
              enc("addi", rd=1, rs=1, simm16=-1), enc("bne", rs=1, rt=0, boff=-8),
              enc("beq", rs=0, rt=0, boff=8), enc("addi", rd=3, rs=0, simm16=1), enc("halt")]
    m = machine(1, 1)
    m.load(program(words_))
    res = m.run(1000)
    assert res.pes[0].regs[1:4] == [0, 15, 0]
    assert res.pes[0].retired == 1 + 5 * 3 + 1 + 1


# ---------------------------------------------------------------- special registers

@given(seed=st.one_of(st.sampled_from([0, 1, MASK32]), st.integers(0, MASK32)),
       flag=st.sampled_from([0, 1]))
def test_mts_mfs_sat_lfsr(seed: int, flag: int) -> None:
    """mts lfsr stores the value (0 becomes 1), mts sat sets the flag; mfs reads both back;
    nop changes nothing."""
    words_ = li(1, seed) + [enc("mts", srd=SREG["lfsr"], rs=1), enc("addi", rd=2, rs=0,
                                                                     simm16=flag),
                            enc("mts", srd=SREG["sat"], rs=2), enc("nop"),
                            enc("mfs", rd=3, srs=SREG["lfsr"]), enc("mfs", rd=4, srs=SREG["sat"]),
                            enc("halt")]
    m = machine(1, 1)
    m.load(program(words_))
    res = m.run(100)
    regs = res.pes[0].regs
    assert regs[3] == ref.lfsr_seed(seed)
    assert regs[4] == flag
    assert res.pes[0].retired == len(words_)


def test_mfs_reset_values() -> None:
    """At reset: sat is 0, lfsr is 0xACE1ACE1, cycle reads the issue cycle (from 0)."""
    words_ = [enc("mfs", rd=1, srs=SREG["cycle"]), enc("mfs", rd=2, srs=SREG["sat"]),
              enc("mfs", rd=3, srs=SREG["lfsr"]), enc("nop"), enc("mfs", rd=4, srs=SREG["cycle"]),
              enc("halt")]
    m = machine(1, 1)
    m.load(program(words_))
    regs = m.run(100).pes[0].regs
    assert regs[1:5] == [0, 0, ref.LFSR_RESET, 4]
    for name in ("dss", "dds"):  # the dma2d strides start at 0 and are writable
        words_ = [enc("mfs", rd=1, srs=SREG[name]), enc("addi", rd=2, rs=0, simm16=-12),
                  enc("mts", srd=SREG[name], rs=2), enc("mfs", rd=3, srs=SREG[name]),
                  enc("halt")]
        m = machine(1, 1)
        m.load(program(words_))
        regs = m.run(100).pes[0].regs
        assert (regs[1], regs[3]) == (0, 2**32 - 12), name


def test_mts_read_only_is_illegal() -> None:
    """mts to a read-only special register (row col id rows cols cycle) traps illegal."""
    for name in ("row", "col", "id", "rows", "cols", "cycle"):
        words_ = [enc("nop"), enc("mts", srd=SREG[name], rs=1), enc("halt")]
        m = machine(1, 1)
        m.load(program(words_))
        res = m.run(100)
        assert res.status == "trap", name
        assert (res.trap.cause, res.trap.pc, res.trap.line) == ("illegal", 4, 2), name


# ---------------------------------------------------------------- coverage

def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}


def test_every_instruction_is_covered() -> None:
    """The keys tested here plus those listed in ELSEWHERE are exactly the table's keys,
    and every test named in ELSEWHERE exists in test_emu_programs.py."""
    here = set(keys_of(LANE_ALU | SHIFTS | IMM_SHIFTS | MACS | PACKS | BITWISE | IMMEDIATES
                       | LOADS | STORES | BRANCHES | SPECIAL))
    every = {i.key for i in ISA.insns}
    assert not here & set(ELSEWHERE)
    assert here | set(ELSEWHERE) == every, (
        f"untested: {sorted(every - here - set(ELSEWHERE))}; "
        f"unknown: {sorted((here | set(ELSEWHERE)) - every)}")
    programs = _tests_in(Path(__file__).with_name("test_emu_programs.py"))
    missing = {k: t for k, t in ELSEWHERE.items() if t not in programs}
    assert not missing, f"tests named in ELSEWHERE do not exist: {missing}"
