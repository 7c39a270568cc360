"""Whole programs on the emulator: random straight-line code against the reference
interpreter, memory regions and their counters, neighbours, sync, loops, bank
conflicts, every trap cause, robustness against random words, and the host API.

Expected cycle counts are worked out by hand from ARCH.md §5 and isa.toml's
[decisions] (memory_cost, bank_conflicts, neighbours, sync, loop, traps); each
test says how.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import ref
from conftest import examples
from emu_helpers import (
    DIR,
    ISA,
    SREG,
    Item,
    build,
    enc,
    image,
    li,
    machine,
    pe_sel,
    program,
    run,
)
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pearray.asm import assemble
from pearray.asm.program import Image, Program, Segment, Selection
from pearray.emu.machine import Machine, RunResult

MASK32 = 0xFFFFFFFF
LM, SM, GM = 0x0000_0000, 0x1000_0000, 0x8000_0000
COST = {"lm": 1, "sm": 2, "gm": 8}
BASE = {"lm": LM, "sm": SM, "gm": GM}


def per_pe(code: dict[tuple[int, int], list[Item]], files: list[str] | None = None
           ) -> Program:
    """A Program with one image per PE, each built from labels and (key, ops) items."""
    ims = [image(build(items)[0], pe_sel(r, c)) for (r, c), items in code.items()]
    return Program(images=ims, files=files or ["t.s"], isa=ISA.digest)


def go(prog: Program, rows: int = 1, cols: int = 1, max_cycles: int = 10_000,
       **params: int) -> tuple[Machine, RunResult]:
    m = machine(rows, cols, **params)
    m.load(prog)
    return m, m.run(max_cycles)


def I(key: str, **ops: int | str) -> tuple[str, dict[str, int | str]]:  # noqa: E743
    """One instruction item for `build`."""
    return (key, ops)


def W(words: list[int]) -> tuple[str, dict[str, list[int]]]:
    """Raw words spliced into a `build` list."""
    return ("words", {"w": words})


HALT = I("halt")
NOP = I("nop")


# ================================================================ (a) straight-line programs

ALU_KEYS = [i.key for i in ISA.insns if i.mnemonic in {
    "add", "sub", "adds", "subs", "addus", "subus", "mul", "min", "max", "minu", "maxu",
    "abs", "relu", "splat", "sll", "srl", "sra", "srar", "slli", "srli", "srai", "srari",
    "srasi", "mac", "macsu", "macs", "dot", "dotsu", "packs", "unpkl", "unpkh", "and", "or",
    "xor", "not", "addi", "andi", "ori", "xori", "lui"}]
REGS = st.integers(1, 8) | st.just(0)


@st.composite
def alu_insn(draw: st.DrawFn) -> tuple[str, dict[str, int]]:
    """A random ALU/MAC/pack/shift/immediate instruction over r0..r8."""
    key = draw(st.sampled_from(ALU_KEYS))
    insn = ISA.by_key[key]
    ops: dict[str, int] = {}
    for f in insn.operands:
        if f in ("rd", "rs", "rt"):
            ops[f] = draw(REGS)
        else:
            lo, hi = ISA.operand_range(insn, f)
            ops[f] = draw(st.one_of(st.sampled_from([lo, hi, 0]), st.integers(lo, hi)))
    return key, ops


EDGE_WORDS = st.sampled_from([0, MASK32, 0x80808080, 0x7F7F7F7F, 0x7FFF8000, 0x80000000,
                              0x7FFFFFFF, 1])


@given(init=st.lists(EDGE_WORDS | st.integers(0, MASK32), min_size=8, max_size=8),
       body=st.lists(alu_insn(), min_size=5, max_size=40),
       seed=st.none() | st.integers(0, MASK32))
@settings(max_examples=examples(5 / 2))
def test_straight_line_matches_reference(init: list[int], body: list[tuple[str, dict[str, int]]],
                                         seed: int | None) -> None:
    """Random straight-line code: final registers, sat and lfsr equal the reference's;
    retired, MACs and cycles (one per instruction) as counted by hand."""
    words: list[int] = []
    st_ = ref.State()
    for r, v in enumerate(init, start=1):
        words += li(r, v)
        st_.set(r, v)
    if seed is not None:
        words += li(9, seed) + [enc("mts", srd=SREG["lfsr"], rs=9)]
        st_.lfsr = ref.lfsr_seed(seed)
        st_.set(9, seed)
    words += [enc(k, **ops) for k, ops in body]
    ref.run_straight(body, st_)
    words += [enc("mfs", rd=14, srs=SREG["sat"]), enc("mfs", rd=15, srs=SREG["lfsr"]),
              enc("halt")]
    m, res = run(words, max_cycles=1000)
    assert res.status == "halted"
    regs = res.pes[0].regs
    listing = "\n".join(f"  {k} {ops}" for k, ops in body)
    assert [hex(x) for x in regs[:14]] == [hex(st_.get(r)) for r in range(14)], listing
    assert (regs[14], regs[15]) == (st_.sat, st_.lfsr), listing
    assert res.pes[0].retired == len(words)
    assert res.cycles == len(words)
    want_macs = sum(32 // ref.WIDTH[k[-1]] for k, _ in body
                    if k.split(".")[0] in {"mac", "macsu", "macs", "dot", "dotsu"})
    assert res.pes[0].macs == want_macs


def test_sat_is_sticky_across_instructions() -> None:
    """sat set by adds.b stays set through later non-saturating instructions; mts clears it."""
    words = li(1, 0x7F7F7F7F) + [
        enc("mfs", rd=5, srs=SREG["sat"]),
        enc("adds.b", rd=2, rs=1, rt=1),
        enc("add.b", rd=3, rs=1, rt=1),
        enc("mfs", rd=6, srs=SREG["sat"]),
        enc("mts", srd=SREG["sat"], rs=0),
        enc("mfs", rd=7, srs=SREG["sat"]),
        enc("halt")]
    regs = run(words)[1].pes[0].regs
    assert regs[2] == 0x7F7F7F7F and regs[3] == 0xFEFEFEFE
    assert regs[5:8] == [0, 1, 0]


# ================================================================ (b) memory regions

ACCESSES = [  # (key, size, is_store)
    ("sw", 4, True), ("sh", 2, True), ("sb", 1, True), ("sw.pi", 4, True),
    ("lw", 4, False), ("lh", 2, False), ("lb", 1, False), ("lhu", 2, False),
    ("lbu", 1, False), ("lw.pi", 4, False),
]


def memory_program(base: int) -> tuple[list[int], list[tuple[str, dict[str, int]]]]:
    """Stores of every size then loads of every size/sign around base+64, both
    post-increment forms; r1 is the base pointer, r2 the post-increment pointer."""
    body = [
        ("sw", {"rt": 3, "rs": 1, "off12": 0}),
        ("sh", {"rt": 4, "rs": 1, "off12": 6}),
        ("sb", {"rt": 5, "rs": 1, "off12": -1}),
        ("sw.pi", {"rt": 3, "rs": 2, "off12": 4}),
        ("sw.pi", {"rt": 4, "rs": 2, "off12": -12}),
        ("lw", {"rd": 6, "rs": 1, "off12": 0}),
        ("lh", {"rd": 7, "rs": 1, "off12": 6}),
        ("lhu", {"rd": 8, "rs": 1, "off12": 6}),
        ("lb", {"rd": 9, "rs": 1, "off12": -1}),
        ("lbu", {"rd": 10, "rs": 1, "off12": -1}),
        ("lw.pi", {"rd": 11, "rs": 2, "off12": 8}),
        ("lw.pi", {"rd": 12, "rs": 2, "off12": 0}),
        ("lh", {"rd": 13, "rs": 1, "off12": 34}),
        ("lb", {"rd": 14, "rs": 1, "off12": 35}),
    ]
    init = {1: base + 64, 2: base + 96, 3: 0x89ABCDEF, 4: 0x00018765, 5: 0xFFFFFF80}
    words = [w for r, v in init.items() for w in li(r, v)]
    return words + [enc(k, **ops) for k, ops in body] + [enc("halt")], body


@pytest.mark.parametrize("region", ["lm", "sm", "gm"])
def test_memory_every_size_and_region(region: str) -> None:
    """Values (sign/zero extension, little-endian), memory contents, post-increment
    pointers, per-region counters and costs: a region access costs COST cycles in
    total, the cycles beyond the first counted as `memory` stalls."""
    base = BASE[region]
    words, body = memory_program(base)
    m = machine(1, 1)
    m.load(program(words))
    rng = np.random.default_rng(7)
    noise = rng.integers(0, 256, 256, dtype=np.uint8)
    m.write(base, noise, pe=0)  # host write helper, into the chosen region
    res = m.run(1000)
    assert res.status == "halted", res.trap and res.trap.describe()
    # the reference runs the same accesses on a bytearray at offset 0
    st_ = ref.State(lm=bytearray(noise.tobytes()) + bytearray(4096))
    for r, v in {1: 64, 2: 96, 3: 0x89ABCDEF, 4: 0x00018765, 5: 0xFFFFFF80}.items():
        st_.set(r, v)
    ref.run_straight(body, st_)
    regs = res.pes[0].regs
    assert regs[1] - base == st_.get(1) and regs[2] - base == st_.get(2)
    assert [hex(x) for x in regs[3:15]] == [hex(st_.get(r)) for r in range(3, 15)]
    mem = m.read(base, 256, np.uint8, pe=0)
    assert bytes(mem) == bytes(st_.lm[:256])
    pe = res.pes[0]
    loads = sum(1 for k, _ in body if not k.startswith("s"))
    stores = len(body) - loads
    assert pe.loads == {r: loads if r == region else 0 for r in COST}
    assert pe.stores == {r: stores if r == region else 0 for r in COST}
    assert pe.load_bytes[region] == st_.load_bytes and pe.store_bytes[region] == st_.store_bytes
    assert res.memory[region] == {"loads": loads, "stores": stores,
                                  "load_bytes": st_.load_bytes, "store_bytes": st_.store_bytes}
    n_other = len(words) - len(body)
    assert pe.stalls["memory"] == len(body) * (COST[region] - 1)
    assert res.cycles == n_other + len(body) * COST[region]
    assert pe.stalls["bank"] == 0 and pe.bank_conflicts == 0


@pytest.mark.parametrize("key,size,is_store", ACCESSES)
@pytest.mark.parametrize("region", ["lm", "sm", "gm"])
def test_single_access_counters(region: str, key: str, size: int, is_store: bool) -> None:
    """One access of each kind in each region: counts 1, bytes = size, COST cycles."""
    op = {"rt": 3, "rs": 1} if is_store else {"rd": 3, "rs": 1}
    words = li(1, BASE[region] + 8) + [enc(key, **op, off12=0), enc("halt")]
    res = run(words)[1]
    pe = res.pes[0]
    kind, nbytes = (pe.stores, pe.store_bytes) if is_store else (pe.loads, pe.load_bytes)
    assert kind[region] == 1 and nbytes[region] == size
    assert sum(pe.loads.values()) + sum(pe.stores.values()) == 1
    assert res.cycles == 3 + COST[region]
    assert res.accesses == 1


def test_memory_costs_are_parameters() -> None:
    """Costs come from the machine description: GM cost 3 makes a GM load 3 cycles."""
    words = li(1, GM) + [enc("lw", rd=2, rs=1, off12=0), enc("halt")]
    res = run(words, gm_cost=3)[1]
    assert res.cycles == 3 + 3 and res.pes[0].stalls["memory"] == 2


def test_cycle_reads_issue_cycle_after_stalls() -> None:
    """`mfs cycle` after a GM load issued in cycle 2 reads 2 + 8."""
    words = li(1, GM) + [enc("lw", rd=2, rs=1, off12=0), enc("mfs", rd=3, srs=SREG["cycle"]),
                         enc("halt")]
    assert run(words)[1].pes[0].regs[3] == 10


def test_data_segments_are_placed() -> None:
    """Program data segments land in GM, SM and the LM of the selected PEs only."""
    words = li(1, GM) + li(2, SM) + [
        enc("lw", rd=3, rs=1, off12=16), enc("lw", rd=4, rs=2, off12=0),
        enc("lw", rd=5, rs=0, off12=4), enc("halt")]
    prog = program(words)
    prog.segments = [
        Segment("gm", GM + 16, (0x11223344).to_bytes(4, "little")),
        Segment("sm", SM, (0x55667788).to_bytes(4, "little")),
        Segment("lm", 4, (0x99AABBCC).to_bytes(4, "little"), pe_sel(0, 1)),
    ]
    m = machine(1, 2)
    m.load(prog)
    res = m.run(1000)
    assert [p.regs[3:6] for p in res.pes] == [[0x11223344, 0x55667788, 0],
                                             [0x11223344, 0x55667788, 0x99AABBCC]]


# ================================================================ (c) neighbours

@pytest.mark.parametrize("rows,cols", [(1, 4), (4, 1), (2, 3)])
def test_row_relay(rows: int, cols: int) -> None:
    """A value relayed along a line of PEs (east along a row, south down a column), each
    adding 1.  PE k>0 receives the word sent at t in cycle t+1, so with recv at its
    start it stalls 3k cycles: PE0 sends in cycle 2 (after li), PE k receives in 3k,
    adds in 3k+1, sends in 3k+2."""
    line = [(0, c) for c in range(cols)] if rows == 1 or cols > 1 else [
        (r, 0) for r in range(rows)]
    d_out, d_in = ("e", "w") if line[-1][1] > 0 else ("s", "n")
    code: dict[tuple[int, int], list[Item]] = {
        line[0]: [W(li(1, 7)), I("send", dird=DIR[d_out], rs=1), HALT]}
    for k, rc in enumerate(line[1:], start=1):
        last = k == len(line) - 1
        code[rc] = [I("recv", rd=1, dirs=DIR[d_in]), I("addi", rd=1, rs=1, simm16=1)]
        code[rc] += [] if last else [I("send", dird=DIR[d_out], rs=1)]
        code[rc] += [HALT]
    m, res = go(per_pe(code), rows, cols)
    assert res.status == "halted"
    n = len(line)
    for k, (r, c) in enumerate(line):
        pe = res.pes[r * cols + c]
        assert pe.regs[1] == 7 + k
        assert pe.stalls["recv"] == 3 * k, (k, pe.stalls)
        assert pe.stalls["send"] == 0
    assert res.cycles == 3 * (n - 1) + 3  # last PE: recv, addi, halt
    idle = [p for p in res.pes if (p.row, p.col) not in line]
    assert all(p.halted and p.retired == 0 for p in idle)


@pytest.mark.parametrize("delay", [0, 1, 5])
@pytest.mark.parametrize("direction", ["e", "w"])
def test_handoff_timing(delay: int, direction: str) -> None:
    """The sender issues `send` in cycle delay+1; the receiver's `recv` (its first
    instruction) completes in cycle delay+2 and its `mfs cycle` reads delay+3; the
    recv stalls delay+2 cycles.  Same in both directions (PE id order does not matter)."""
    src, dst = ((0, 0), (0, 1)) if direction == "e" else ((0, 1), (0, 0))
    back = {"e": "w", "w": "e"}[direction]
    code = {
        src: [I("addi", rd=1, rs=0, simm16=42)] + [NOP] * delay
        + [I("send", dird=DIR[direction], rs=1), HALT],
        dst: [I("recv", rd=1, dirs=DIR[back]), I("mfs", rd=2, srs=SREG["cycle"]), HALT],
    }
    m, res = go(per_pe(code), 1, 2)
    recv_pe = res.pes[dst[1]]
    assert recv_pe.regs[1] == 42
    assert recv_pe.regs[2] == delay + 3
    assert recv_pe.stalls["recv"] == delay + 2
    assert res.cycles == delay + 5


def ring_positions(rows: int, cols: int) -> list[tuple[int, int]]:
    """The perimeter of a rows x cols array, clockwise from (0, 0)."""
    top = [(0, c) for c in range(cols)]
    right = [(r, cols - 1) for r in range(1, rows)]
    bottom = [(rows - 1, c) for c in range(cols - 2, -1, -1)]
    left = [(r, 0) for r in range(rows - 2, 0, -1)]
    return top + right + bottom + left


def direction(a: tuple[int, int], b: tuple[int, int]) -> str:
    return {(0, 1): "e", (0, -1): "w", (1, 0): "s", (-1, 0): "n"}[(b[0] - a[0], b[1] - a[1])]


@pytest.mark.parametrize("rows,cols", [(2, 2), (2, 4), (3, 3)])
def test_ring(rows: int, cols: int) -> None:
    """A token goes once round the perimeter, each PE adding its ring position.
    Hop timing: PE p>0 receives in R_p = 3p, adds, sends in 3p+2; PE0 (li, send in
    cycle 2) receives back in 3n and halts in 3n+1."""
    ring = ring_positions(rows, cols)
    n = len(ring)
    code: dict[tuple[int, int], list[Item]] = {}
    for p, rc in enumerate(ring):
        nxt, prv = ring[(p + 1) % n], ring[p - 1]
        out, inn = DIR[direction(rc, nxt)], DIR[direction(rc, prv)]
        if p == 0:
            code[rc] = [W(li(1, 1000)), I("send", dird=out, rs=1), I("recv", rd=1, dirs=inn),
                        HALT]
        else:
            code[rc] = [I("recv", rd=1, dirs=inn), I("addi", rd=1, rs=1, simm16=p),
                        I("send", dird=out, rs=1), HALT]
    m, res = go(per_pe(code), rows, cols)
    assert res.status == "halted"
    got = {(p.row, p.col): p.regs[1] for p in res.pes}
    for p, rc in enumerate(ring):
        if p:
            assert got[rc] == 1000 + p * (p + 1) // 2
            assert res.pes[rc[0] * cols + rc[1]].stalls["recv"] == 3 * p
    assert got[(0, 0)] == 1000 + (n - 1) * n // 2
    assert res.pes[0].stalls["recv"] == 3 * n - 3
    assert res.cycles == 3 * n + 2


def send_twice(sender_first: bool, delay: int) -> RunResult:
    """Two back-to-back sends from one PE; the receiver idles `delay` cycles, then
    receives twice."""
    src, dst = ((0, 0), (0, 1)) if sender_first else ((0, 1), (0, 0))
    d = "e" if sender_first else "w"
    back = {"e": "w", "w": "e"}[d]
    code = {
        src: [I("addi", rd=1, rs=0, simm16=1), I("addi", rd=2, rs=0, simm16=2),
              I("send", dird=DIR[d], rs=1), I("send", dird=DIR[d], rs=2), HALT],
        dst: [NOP] * delay + [I("recv", rd=1, dirs=DIR[back]), I("recv", rd=2, dirs=DIR[back]),
                              I("mfs", rd=3, srs=SREG["cycle"]), HALT],
    }
    return go(per_pe(code), 1, 2)[1]


@pytest.mark.parametrize("delay", [4, 9])
def test_send_blocks_while_full(delay: int) -> None:
    """The first send (cycle 2) fills the one-word register; the second blocks (cause
    `send`) until the receiver, idle for `delay` cycles, empties it in cycle `delay`.
    Whether the sender may refill in that same cycle is not specified, so the send stall
    is delay-3 (then recv #2 does not stall) or delay-2 (then it stalls 1); either way the
    outcome does not depend on which PE has the lower id."""
    outcomes = []
    for sender_first in (True, False):
        res = send_twice(sender_first, delay)
        src, dst = (0, 1) if sender_first else (1, 0)
        s, r = res.pes[src], res.pes[dst]
        assert (r.regs[1], r.regs[2]) == (1, 2)
        stall = s.stalls["send"]
        assert (stall, r.stalls["recv"]) in ((delay - 3, 0), (delay - 2, 1)), (s.stalls,
                                                                              r.stalls)
        assert r.regs[3] == delay + 2 + r.stalls["recv"]
        outcomes.append((stall, r.stalls["recv"], r.regs[3], res.cycles))
    assert outcomes[0] == outcomes[1]


def test_full_duplex_exchange() -> None:
    """Two PEs send to each other in cycle 0 and receive in cycle 1: no stalls, no deadlock."""
    code = {(0, 0): [I("addi", rd=1, rs=0, simm16=10), I("send", dird=DIR["e"], rs=1),
                     I("recv", rd=2, dirs=DIR["e"]), HALT],
            (0, 1): [I("addi", rd=1, rs=0, simm16=20), I("send", dird=DIR["w"], rs=1),
                     I("recv", rd=2, dirs=DIR["w"]), HALT]}
    res = go(per_pe(code), 1, 2)[1]
    assert [p.regs[2] for p in res.pes] == [20, 10]
    assert res.stalls["recv"] == 0 and res.stalls["send"] == 0
    assert res.cycles == 4


def test_send_to_halted_neighbour() -> None:
    """One word fits the halted neighbour's input register; a second send blocks for ever,
    which is a deadlock at the sender's second send."""
    one = {(0, 0): [I("send", dird=DIR["e"], rs=0), HALT], (0, 1): [HALT]}
    assert go(per_pe(one), 1, 2)[1].status == "halted"
    two = {(0, 0): [I("send", dird=DIR["e"], rs=0), I("send", dird=DIR["e"], rs=0), HALT],
           (0, 1): [HALT]}
    res = go(per_pe(two), 1, 2)[1]
    assert (res.trap.cause, res.trap.pe, res.trap.pc) == ("deadlock", (0, 0), 4)


# ================================================================ (d) sync

@pytest.mark.parametrize("work", [[0, 3, 7, 2], [5, 5, 5, 5], [9, 0, 0, 1]])
def test_sync_barrier(work: list[int]) -> None:
    """PE k does work[k] nops, then `sync`, then `mfs r1, cycle`.  Every PE leaves the
    barrier in the cycle the last arrives (M = max work): all read cycle M+1; PE k's
    sync stall is M - work[k]; the run takes M + 3 cycles."""
    code = {(0, k): [NOP] * n + [I("sync"), I("mfs", rd=1, srs=SREG["cycle"]), HALT]
            for k, n in enumerate(work)}
    m, res = go(per_pe(code), 1, 4)
    big = max(work)
    assert [p.regs[1] for p in res.pes] == [big + 1] * 4
    assert [p.stalls["sync"] for p in res.pes] == [big - n for n in work]
    assert res.cycles == big + 3
    assert [p.retired for p in res.pes] == [n + 3 for n in work]


def test_sync_ignores_halted_pes() -> None:
    """A PE with no code and a PE that halted early do not take part in the barrier."""
    code = {(0, 0): [NOP, NOP, I("sync"), I("mfs", rd=1, srs=SREG["cycle"]), HALT],
            (0, 1): [HALT],
            (0, 2): [NOP, NOP, NOP, NOP, I("sync"), I("mfs", rd=1, srs=SREG["cycle"]), HALT]}
    m, res = go(per_pe(code), 1, 4)
    assert res.status == "halted"
    assert [p.regs[1] for p in res.pes] == [5, 0, 5, 0]
    assert [p.stalls["sync"] for p in res.pes] == [2, 0, 0, 0]
    assert res.pes[3].halted and res.pes[3].retired == 0


def test_sync_alone_and_with_a_halting_pe() -> None:
    """A lone PE passes sync at once; a barrier waiting only on a PE that then halts
    completes (the halted PE no longer takes part) instead of deadlocking."""
    res = go(per_pe({(0, 0): [I("sync"), HALT]}), 1, 2)[1]
    assert res.status == "halted" and res.cycles == 2 and res.stalls["sync"] == 0
    code = {(0, 0): [I("sync"), I("mfs", rd=1, srs=SREG["cycle"]), HALT],
            (0, 1): [NOP, NOP, NOP, HALT]}
    res = go(per_pe(code), 1, 2)[1]
    assert res.status == "halted"
    # PE1 halts in cycle 3; the barrier completes in cycle 3 or 4 (not specified which)
    assert res.pes[0].regs[1] in (4, 5)
    assert res.pes[0].stalls["sync"] == res.pes[0].regs[1] - 1


def test_sm_shared_lm_private() -> None:
    """A word PE 0 stores to SM before a sync is what PE 1 loads after it; the same LM
    address is private to each PE."""
    code = {(0, 0): [W(li(1, SM + 32)), I("addi", rd=2, rs=0, simm16=77),
                     I("sw", rt=2, rs=1, off12=0), I("sw", rt=2, rs=0, off12=0), I("sync"),
                     HALT],
            (0, 1): [W(li(1, SM + 32)), I("sync"), I("lw", rd=3, rs=1, off12=0),
                     I("lw", rd=4, rs=0, off12=0), HALT]}
    m, res = go(per_pe(code), 1, 2)
    assert res.pes[1].regs[3:5] == [77, 0]
    assert int(m.read(0, 1, np.uint32, pe=0)[0]) == 77


def test_repeated_sync_spmd() -> None:
    """SPMD: every PE loops 3 times over (id nops-worth of work; sync); they end together."""
    items: list[Item] = [
        I("mfs", rd=1, srs=SREG["id"]), I("addi", rd=2, rs=0, simm16=3),
        "outer:", I("addi", rd=3, rs=1, simm16=0),
        "spin:", I("beq", rs=3, rt=0, boff="done"), I("addi", rd=3, rs=3, simm16=-1),
        I("j", joff="spin"),
        "done:", I("sync"), I("addi", rd=2, rs=2, simm16=-1), I("bne", rs=2, rt=0, boff="outer"),
        I("mfs", rd=4, srs=SREG["cycle"]), HALT]
    m, res = go(program(build(items)[0]), 2, 2)
    assert res.status == "halted"
    assert len({p.regs[4] for p in res.pes}) == 1
    # per round PE k spends 1 + 3k + 1 cycles before sync; the slowest (k=3) sets the pace
    assert [p.stalls["sync"] for p in res.pes] == [3 * 3 * (3 - k) for k in range(4)]


# ================================================================ (e) loops

@pytest.mark.parametrize("count", [0, 1, 2, 5, 17])
def test_loop_count_and_cycles(count: int) -> None:
    """`loop r1, end` over a 2-instruction body: the body runs `count` times (0 skips);
    cycles = 1 (addi) + 1 (loop) + 2*count + 1 (halt); the counter register is kept."""
    items: list[Item] = [I("addi", rd=1, rs=0, simm16=count), I("loop", rs=1, loff="end"),
                         I("addi", rd=2, rs=2, simm16=1), I("addi", rd=3, rs=3, simm16=2),
                         "end:", I("addi", rd=4, rs=0, simm16=9), HALT]
    res = go(program(build(items)[0]))[1]
    regs = res.pes[0].regs
    assert regs[1:5] == [count, count, 2 * count, 9]
    assert res.cycles == 4 + 2 * count
    assert res.pes[0].retired == 4 + 2 * count


@pytest.mark.parametrize("n1,n2", [(3, 4), (1, 1), (2, 0), (0, 5), (4, 1)])
def test_loop_nested_two_levels(n1: int, n2: int) -> None:
    """Outer body: addi, inner loop (2-insn body), addi.  Cycles:
    2 (setup) + 1 (outer loop) + n1 * (1 + 1 + 2*n2 + 1) + 1 (halt)."""
    items: list[Item] = [
        I("addi", rd=1, rs=0, simm16=n1), I("addi", rd=2, rs=0, simm16=n2),
        I("loop", rs=1, loff="oend"),
        I("addi", rd=3, rs=3, simm16=1),
        I("loop", rs=2, loff="iend"),
        I("addi", rd=4, rs=4, simm16=1), I("addi", rd=5, rs=5, simm16=1),
        "iend:", I("addi", rd=6, rs=6, simm16=1),
        "oend:", HALT]
    res = go(program(build(items)[0]))[1]
    regs = res.pes[0].regs
    assert regs[3:7] == [n1, n1 * n2, n1 * n2, n1]
    assert res.cycles == 2 + 1 + n1 * (3 + 2 * n2) + 1


def test_loop_body_with_memory_cost() -> None:
    """A GM load in a loop body costs 8 cycles each time round:
    cycles = 2 (li) + 1 (addi) + 1 (loop) + count * (8 + 1) + 1 (halt)."""
    count = 5
    items: list[Item] = [W(li(2, GM)), I("addi", rd=1, rs=0, simm16=count),
                         I("loop", rs=1, loff="end"), I("lw", rd=3, rs=2, off12=0),
                         I("addi", rd=4, rs=4, simm16=1), "end:", HALT]
    res = go(program(build(items)[0]))[1]
    assert res.pes[0].regs[4] == count
    assert res.cycles == 2 + 1 + 1 + count * 9 + 1
    assert res.pes[0].stalls["memory"] == count * 7 and res.pes[0].loads["gm"] == count


def test_loops_in_sequence_do_not_accumulate_depth() -> None:
    """Three loops one after another, then a two-level nest: no loop_depth trap."""
    items: list[Item] = [I("addi", rd=1, rs=0, simm16=2)]
    for k in range(3):
        items += [I("loop", rs=1, loff=f"e{k}"), I("addi", rd=2, rs=2, simm16=1), f"e{k}:"]
    items += [I("loop", rs=1, loff="o"), I("loop", rs=1, loff="i"),
              I("addi", rd=3, rs=3, simm16=1), "i:", NOP, "o:", HALT]
    res = go(program(build(items)[0]))[1]
    assert res.status == "halted"
    assert res.pes[0].regs[2:4] == [6, 4]


def test_branch_out_of_loop_keeps_it() -> None:
    """A jump out of a loop body does not pop the loop (DSP hardware loops), so two more
    nested loops after it make a third level: loop_depth at the second of them."""
    items: list[Item] = [I("addi", rd=1, rs=0, simm16=2),
                         I("loop", rs=1, loff="e1"), I("j", joff="out"), NOP, "e1:", NOP,
                         "out:", I("loop", rs=1, loff="a"), I("loop", rs=1, loff="b"), NOP,
                         "b:", NOP, "a:", HALT]
    res = go(program(build(items)[0]))[1]
    assert (res.trap.cause, res.trap.pc) == ("loop_depth", 24)


def test_loop_three_levels_traps() -> None:
    """A third nested `loop` traps loop_depth at its own pc."""
    items: list[Item] = [I("addi", rd=1, rs=0, simm16=2),
                         I("loop", rs=1, loff="a"), I("loop", rs=1, loff="b"),
                         I("loop", rs=1, loff="c"), NOP, "c:", NOP, "b:", NOP, "a:", HALT]
    res = go(program(build(items)[0]))[1]
    assert res.status == "trap"
    assert (res.trap.cause, res.trap.pe, res.trap.pc, res.trap.line) == (
        "loop_depth", (0, 0), 12, 4)
    assert res.trap.regs[1] == 2


def test_loop_zero_count_third_level_does_not_push() -> None:
    """A count of 0 jumps to the end without pushing: a zero-count third level is fine."""
    items: list[Item] = [I("addi", rd=1, rs=0, simm16=2),
                         I("loop", rs=1, loff="a"), I("loop", rs=1, loff="b"),
                         I("loop", rs=0, loff="c"), I("addi", rd=5, rs=5, simm16=1), "c:",
                         I("addi", rd=6, rs=6, simm16=1), "b:", NOP, "a:", HALT]
    res = go(program(build(items)[0]))[1]
    assert res.status == "halted"
    assert res.pes[0].regs[5:7] == [0, 4]


# ================================================================ (f) bank conflicts

def bank_program(stride: int, store: bool) -> list[int]:
    """Every PE accesses SM at SM + id*stride in the same cycle (cycle 5)."""
    access = (enc("sw", rt=0, rs=2, off12=0) if store else enc("lw", rd=1, rs=2, off12=0))
    return [enc("mfs", rd=3, srs=SREG["id"]),
            enc("lui", rd=2, imm20=SM >> 12),
            enc("addi", rd=4, rs=0, simm16=stride),
            enc("mul.w", rd=3, rs=3, rt=4),
            enc("add.w", rd=2, rs=2, rt=3),
            access, enc("halt")]


@pytest.mark.parametrize("store", [False, True])
@pytest.mark.parametrize("stride", [64, 0, 16 * 4 * 7])
def test_bank_conflicts_same_bank(stride: int, store: bool) -> None:
    """4 PEs hit one bank ((addr >> 2) % 16 equal) in cycle 5: PE k waits k more cycles
    (cause `bank`) on top of the SM cost of 2, so PE k halts in cycle 5 + 2 + k and the
    run takes 5 + 2 + 3 + 1 cycles."""
    m, res = run(bank_program(stride, store), 2, 2)
    assert res.status == "halted"
    assert [p.stalls["bank"] for p in res.pes] == [0, 1, 2, 3]
    assert [p.stalls["memory"] for p in res.pes] == [1, 1, 1, 1]
    assert [p.bank_conflicts > 0 for p in res.pes] == [False, True, True, True]
    assert res.cycles == 5 + 2 + 3 + 1


@pytest.mark.parametrize("stride", [4, 8, 4 * 17])
def test_bank_conflicts_different_banks(stride: int) -> None:
    """Different banks in the same cycle: no bank stalls, every PE takes the SM cost."""
    m, res = run(bank_program(stride, False), 2, 2)
    assert [p.stalls["bank"] for p in res.pes] == [0, 0, 0, 0]
    assert res.bank_conflicts == 0
    assert res.cycles == 5 + 2 + 1


def test_bank_conflicts_counted_per_bank() -> None:
    """PEs 1 and 3 share bank 0, PEs 0 and 2 share bank 1: the second in id order of each
    bank waits one cycle."""
    addr = {0: SM + 4, 1: SM, 2: SM + 64 + 4, 3: SM + 128}
    code = {divmod(k, 2): [W(li(2, a)), I("lw", rd=1, rs=2, off12=0), HALT]
            for k, a in addr.items()}
    res = go(per_pe(code), 2, 2)[1]
    assert [p.stalls["bank"] for p in res.pes] == [0, 0, 1, 1]
    assert res.cycles == 2 + 2 + 1 + 1


def test_bank_count_is_a_parameter() -> None:
    """With 4 banks, addresses 16 bytes apart share a bank."""
    m, res = run(bank_program(16, False), 2, 2, sm_banks=4)
    assert [p.stalls["bank"] for p in res.pes] == [0, 1, 2, 3]
    m, res = run(bank_program(16, False), 2, 2)
    assert [p.stalls["bank"] for p in res.pes] == [0, 0, 0, 0]


def test_gm_and_lm_have_no_banks() -> None:
    """Simultaneous GM loads of one word: no bank stalls (banks are an SM feature)."""
    words = [enc("lui", rd=2, imm20=GM >> 12), enc("lw", rd=1, rs=2, off12=0),
             enc("lw", rd=1, rs=0, off12=0), enc("halt")]
    m, res = run(words, 2, 2)
    assert res.stalls["bank"] == 0
    assert res.cycles == 1 + 8 + 1 + 1


# ================================================================ (g) traps

def trap_of(words: list[int], rows: int = 1, cols: int = 1, max_cycles: int = 1000,
            **params: int) -> RunResult:
    res = run(words, rows, cols, max_cycles, **params)[1]
    assert res.status == "trap", f"no trap: {res.status}"
    return res


@pytest.mark.parametrize("word", [0x00000000, 0xFC000000, 0x02000000 | (3 << 26),
                                  enc("add.b", rd=1, rs=2, rt=3) | 0xFFF])
def test_trap_illegal(word: int) -> None:
    """The zero word, an unused major opcode, a width packs lacks (packs.w) and an unknown
    function code."""
    res = trap_of([enc("nop"), enc("addi", rd=1, rs=0, simm16=5), word, enc("halt")])
    t = res.trap
    assert (t.cause, t.pe, t.pc, t.line, t.file) == ("illegal", (0, 0), 8, 3, "t.s")
    assert t.regs[1] == 5
    assert res.pes[0].retired == 2


def test_trap_cycle_count() -> None:
    """A trap in cycle 2 stops the run at the end of cycle 2: 3 cycles have elapsed
    (as a halt in cycle 2 makes a 3-cycle run)."""
    assert run([enc("nop"), enc("nop"), enc("halt")])[1].cycles == 3
    assert trap_of([enc("nop"), enc("nop"), 0]).cycles == 3


def test_trap_illegal_out_of_range_operand() -> None:
    """slli.b with a shift of 8 (the table's range is 0..W-1) does not decode."""
    word = ISA.by_key["slli.b"].match | (1 << 20) | (2 << 16) | 8
    assert ISA.decode(word) is None
    res = trap_of([word, enc("halt")])
    assert (res.trap.cause, res.trap.pc) == ("illegal", 0)


def test_trap_running_off_the_code() -> None:
    """Falling off the end of the image runs into zeroed instruction memory: illegal."""
    res = trap_of([enc("nop"), enc("nop")])
    assert (res.trap.cause, res.trap.pc, res.trap.line) == ("illegal", 8, None)


@given(word=st.integers(0, MASK32))
@settings(max_examples=examples(5 / 3))
def test_trap_illegal_random_words(word: int) -> None:
    """Any word the table does not decode traps illegal at its own pc (every example is
    such a word: the others are discarded, so the test cannot pass without running)."""
    assume(ISA.decode(word) is None)
    res = trap_of([enc("nop"), word, enc("halt")])
    assert (res.trap.cause, res.trap.pc, res.trap.line) == ("illegal", 4, 2)


@pytest.mark.parametrize("key,addr", [("lw", 1), ("lw", 2), ("lh", 3), ("lhu", 1),
                                      ("sw", 6), ("sh", 5), ("lw", SM + 2), ("sw", GM + 1),
                                      ("lw.pi", 2), ("sw.pi", 3)])
def test_trap_misaligned_access(key: str, addr: int) -> None:
    """Word and half accesses must be naturally aligned."""
    ops = {"rt": 0} if key.startswith("s") else {"rd": 3}
    res = trap_of(li(1, addr) + [enc(key, rs=1, off12=0, **ops), enc("halt")])
    assert (res.trap.cause, res.trap.pc, res.trap.line) == ("misaligned", 8, 3)
    assert sum(res.pes[0].loads.values()) + sum(res.pes[0].stores.values()) == 0


def test_trap_misaligned_jr() -> None:
    """jr to an address that is not a multiple of 4 traps misaligned at the jr (the
    faulting instruction; the target is not an instruction)."""
    res = trap_of([enc("addi", rd=1, rs=0, simm16=14), enc("jr", rs=1), enc("nop"), enc("nop"),
                   enc("halt")])
    assert (res.trap.cause, res.trap.pe, res.trap.pc, res.trap.line) == (
        "misaligned", (0, 0), 4, 2)


@pytest.mark.parametrize("key,addr", [("lw", 0x4000_0000), ("lb", 4096), ("sw", SM + 4096),
                                      ("lw", GM + 4096), ("lbu", 0xFFFF_FFFF),
                                      ("sb", 0x2000_0000), ("lh", GM - 2)])
def test_trap_out_of_range(key: str, addr: int) -> None:
    """Accesses outside LM/SM/GM (sizes 4 KiB here) or to no region at all."""
    ops = {"rt": 0} if key.startswith("s") else {"rd": 3}
    res = trap_of(li(1, addr) + [enc(key, rs=1, off12=0, **ops), enc("halt")])
    assert (res.trap.cause, res.trap.pc, res.trap.line) == ("out_of_range", 8, 3)


@pytest.mark.parametrize("rc,d,key", [((0, 0), "n", "send"), ((0, 1), "n", "recv"),
                                      ((1, 0), "w", "send"), ((1, 1), "s", "recv"),
                                      ((0, 1), "e", "send")])
def test_trap_edge(rc: tuple[int, int], d: str, key: str) -> None:
    """Sending to or receiving from off the array edge (2x2) traps at that PE."""
    op = I("send", dird=DIR[d], rs=0) if key == "send" else I("recv", rd=1, dirs=DIR[d])
    res = go(per_pe({rc: [NOP, op, HALT]}), 2, 2)[1]
    assert res.status == "trap"
    assert (res.trap.cause, res.trap.pe, res.trap.pc, res.trap.line) == ("edge", rc, 4, 2)


def test_trap_cycle_limit() -> None:
    """An endless loop stops at max_cycles with cause cycle_limit."""
    res = trap_of([enc("nop"), enc("j", joff=0)], max_cycles=50)
    assert res.trap.cause == "cycle_limit" and res.trap.pe == (0, 0)
    assert res.trap.pc == 4
    assert res.cycles == 50


def test_trap_deadlock_recv_without_sender() -> None:
    """PE1 waits on recv from PE0, which halts: deadlock reported at PE1's recv."""
    code = {(0, 0): [NOP, HALT], (0, 1): [NOP, I("recv", rd=1, dirs=DIR["w"]), HALT]}
    res = go(per_pe(code), 1, 2)[1]
    assert res.status == "trap"
    assert (res.trap.cause, res.trap.pe, res.trap.pc, res.trap.line) == (
        "deadlock", (0, 1), 4, 2)


def test_trap_deadlock_sync_and_recv() -> None:
    """PEs 0 and 1 at sync while PE 2 waits on a recv nobody serves: deadlock, reported
    at the lowest-id blocked PE (PE 0, at its sync)."""
    code = {(0, 0): [I("sync"), HALT], (0, 1): [NOP, I("sync"), HALT],
            (0, 2): [NOP, NOP, I("recv", rd=1, dirs=DIR["w"]), HALT]}
    res = go(per_pe(code), 1, 3)[1]
    assert (res.trap.cause, res.trap.pe, res.trap.pc, res.trap.line) == (
        "deadlock", (0, 0), 0, 1)


def test_trap_deadlock_mutual_recv() -> None:
    """Two PEs each waiting to receive from the other."""
    code = {(0, 0): [I("recv", rd=1, dirs=DIR["e"]), HALT],
            (0, 1): [I("recv", rd=1, dirs=DIR["w"]), HALT]}
    res = go(per_pe(code), 1, 2)[1]
    assert (res.trap.cause, res.trap.pe, res.trap.pc) == ("deadlock", (0, 0), 0)


def test_trap_stops_at_end_of_cycle() -> None:
    """PE1 traps in cycle 2; PE0 (lower id) and PE2 still finish that cycle, nothing after
    (exactly so in lock-step; running ahead, others may go further: isa.toml `traps`)."""
    count = [I("addi", rd=1, rs=1, simm16=1)] * 6 + [HALT]
    code = {(0, 0): count, (0, 1): [NOP, NOP, W([0]), HALT], (0, 2): count}
    res = go(per_pe(code), 1, 3, lockstep=True)[1]
    assert (res.trap.cause, res.trap.pe, res.trap.pc) == ("illegal", (0, 1), 8)
    assert [p.regs[1] for p in res.pes] == [3, 0, 3]
    assert [p.retired for p in res.pes] == [3, 2, 3]
    # SPMD: every PE retires its nop before all trap in cycle 1
    res = trap_of([enc("nop"), 0], 2, 2)
    assert [p.retired for p in res.pes] == [1, 1, 1, 1]


def test_trap_lower_id_reported_first() -> None:
    """SPMD: every PE hits the same illegal word in the same cycle; PE (0,0) is reported."""
    res = trap_of([enc("nop"), 0], 2, 2)
    assert (res.trap.pe, res.trap.pc) == ((0, 0), 4)


def test_trap_line_and_file_from_line_map() -> None:
    """trap.line / trap.file come from the image's line map (file index, line)."""
    words = [enc("nop"), enc("nop"), 0, enc("halt")]
    ims = [Image(Selection(), np.array(words, np.uint32), [(0, 3), (1, 10), (1, 42), (0, 9)])]
    m = machine(1, 1)
    m.load(Program(images=ims, files=["a.s", "b.s"], isa=ISA.digest))
    res = m.run(100)
    assert (res.trap.file, res.trap.line, res.trap.pc) == ("b.s", 42, 8)
    assert res.to_json()["trap"]["line"] == 42


# ================================================================ (h) robustness

@st.composite
def any_word(draw: st.DrawFn) -> int:
    """A random word, or a random valid encoding (to get past the first instruction)."""
    if draw(st.booleans()):
        return draw(st.integers(0, MASK32))
    insn = draw(st.sampled_from(ISA.insns))
    ops = {}
    for f in insn.operands:
        lo, hi = ISA.operand_range(insn, f)
        scale = ISA.fields[f].scale
        if ISA.fields[f].kind == "enum":
            ops[f] = draw(st.sampled_from(sorted(ISA.enums[ISA.fields[f].enum].values())))
        else:
            ops[f] = draw(st.integers(lo // scale, hi // scale)) * scale
    return ISA.encode(insn, ops)


@given(words=st.lists(any_word(), min_size=1, max_size=30))
@settings(max_examples=examples(5))
def test_random_words_never_crash(words: list[int]) -> None:
    """Arbitrary code on a 2x2 array: the run ends halted or in a trap, never a crash."""
    m = machine(2, 2)
    m.load(program(words))
    res = m.run(200)
    assert res.status in ("halted", "trap")
    if res.status == "trap":
        assert res.trap.cause in ("illegal", "misaligned", "out_of_range", "edge",
                                  "loop_depth", "cycle_limit", "deadlock")
    assert res.cycles <= 200


# ================================================================ (i) host interface

def test_halt_retires_and_stops() -> None:
    """halt retires (counted, 1 cycle) and nothing after it runs; a PE with no image is
    halted from the start."""
    code = {(0, 0): [I("addi", rd=1, rs=0, simm16=1), HALT, I("addi", rd=1, rs=0, simm16=2)]}
    res = go(per_pe(code), 1, 2)[1]
    assert res.status == "halted"
    assert res.pes[0].regs[1] == 1 and res.pes[0].retired == 2 and res.pes[0].halted
    assert res.pes[1].halted and res.pes[1].retired == 0
    assert res.cycles == 2


def test_jumps_and_links() -> None:
    """j skips forward; jal links pc+4 and jr returns through the link (a call)."""
    items: list[Item] = [
        I("j", joff="main"),
        "func:", I("addi", rd=2, rs=2, simm16=10), I("jr", rs=15),
        "main:", I("jal", rd=15, jloff="func"), I("jal", rd=15, jloff="func"),
        I("jal", rd=0, jloff="after"), I("addi", rd=3, rs=0, simm16=1),
        "after:", HALT]
    words, labels = build(items)
    res = go(program(words))[1]
    regs = res.pes[0].regs
    assert regs[2] == 20 and regs[3] == 0 and regs[0] == 0
    assert regs[15] == labels["main"] + 8
    assert res.pes[0].retired == 1 + 2 * 3 + 1 + 1


def test_special_registers_per_pe() -> None:
    """mfs row col id rows cols on every PE of a 2x3 array."""
    words = [enc("mfs", rd=1 + k, srs=v) for k, v in enumerate(
        [SREG["row"], SREG["col"], SREG["id"], SREG["rows"], SREG["cols"]])] + [enc("halt")]
    res = run(words, 2, 3)[1]
    for i, p in enumerate(res.pes):
        assert p.regs[1:6] == [i // 3, i % 3, i, 2, 3]
        assert (p.row, p.col) == divmod(i, 3)


def test_last_selection_wins() -> None:
    """A PE takes the image of the last selection that names it."""
    ims = [image([enc("addi", rd=1, rs=0, simm16=1), enc("halt")]),
           image([enc("addi", rd=1, rs=0, simm16=2), enc("halt")], Selection(0, 0, 1, 1))]
    m = machine(1, 3)
    m.load(Program(images=ims, files=["t.s"], isa=ISA.digest))
    assert [p.regs[1] for p in m.run(100).pes] == [1, 2, 1]


def counting_program() -> list[int]:
    return [enc("addi", rd=1, rs=1, simm16=1) for _ in range(6)] + [enc("halt")]


def test_step() -> None:
    """step(n) advances n cycles and pauses; a later run finishes as one run would."""
    m = machine(1, 1)
    m.load(program(counting_program()))
    r1 = m.step(3)
    assert r1.status == "paused" and r1.cycles == 3 and m.cycle == 3
    assert m.pc(0) == 12 and r1.pes[0].retired == 3 and int(m.regs(0)[1]) == 3
    r2 = m.step(1)
    assert r2.cycles == 4 and int(m.regs(0)[1]) == 4
    r3 = m.run()
    assert r3.status == "halted" and r3.cycles == 7 and r3.pes[0].retired == 7
    assert r3.pes[0].regs[1] == 6


def test_breakpoint_on_pc_and_label() -> None:
    """A breakpoint stops before the instruction issues; running on continues past it."""
    m = machine(1, 1)
    m.load(program(counting_program(), symbols={"here": 16}))
    assert m.add_breakpoint(8) == 8
    assert m.add_breakpoint("here") == 16
    r = m.run()
    assert r.status == "break" and m.pc(0) == 8 and int(m.regs(0)[1]) == 2
    assert r.pes[0].retired == 2 and r.cycles == 2
    r = m.run()
    assert r.status == "break" and m.pc(0) == 16 and int(m.regs(0)[1]) == 4
    r = m.run()
    assert r.status == "halted" and r.pes[0].regs[1] == 6 and r.cycles == 7
    m.remove_breakpoint("here")
    m.remove_breakpoint(8)
    with pytest.raises(ValueError):
        m.add_breakpoint("nowhere")
    m.load(program(counting_program()))
    assert m.run().status == "halted"


def test_regs_view_is_zero_copy() -> None:
    """Writing the regs() view before running changes what the program sees."""
    m = machine(1, 1)
    m.load(program([enc("addi", rd=6, rs=5, simm16=1), enc("halt")]))
    view = m.regs(0)
    view[5] = 1234
    res = m.run()
    assert res.pes[0].regs[6] == 1235
    assert int(view[6]) == 1235  # the same view sees the result
    assert view.dtype == np.uint32 and view.shape == (16,)


def test_memory_views_are_zero_copy() -> None:
    """gm/sm/lm views written after load() are what the program reads; its stores show
    up in a view taken with read() before the run."""
    words = li(1, GM) + li(2, SM) + [
        enc("lw", rd=3, rs=1, off12=0), enc("lw", rd=4, rs=2, off12=0),
        enc("lw", rd=5, rs=0, off12=8), enc("add.w", rd=6, rs=3, rt=4),
        enc("add.w", rd=6, rs=6, rt=5), enc("mfs", rd=7, srs=SREG["id"]),
        enc("slli.w", rd=7, rs=7, sh=2), enc("add.w", rd=8, rs=1, rt=7),
        enc("sw", rt=6, rs=8, off12=4), enc("halt")]
    m = machine(1, 2)
    m.load(program(words))
    m.gm.view(np.uint32)[0] = 100
    m.sm[0:4] = np.frombuffer((20).to_bytes(4, "little"), np.uint8)
    m.lm[1].view(np.uint32)[2] = 3
    gm_view = m.read(GM + 4, 2, np.uint32)
    res = m.run()
    assert [p.regs[6] for p in res.pes] == [120, 123]
    assert gm_view.tolist() == [120, 123]  # read() returned a view: it sees the stores
    assert np.shares_memory(gm_view, m.gm)


def test_machine_parameters_checked() -> None:
    """Unknown parameters, arrays beyond 16x16, free memory accesses, a DMA queue outside
    1..8 and a GM port of no width are refused; code for PEs outside the array is a
    load error."""
    with pytest.raises(ValueError):
        Machine(1, 1, no_such_param=1)
    with pytest.raises(ValueError):
        Machine(17, 1)
    for bad in ({"lm_cost": 0}, {"gm_cost": -1}, {"dma_queue": 0}, {"dma_queue": 9},
                {"gm_port_words": 0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            Machine(1, 1, **bad)
    m = machine(1, 2)
    with pytest.raises(ValueError):
        m.load(Program(images=[image([enc("halt")], pe_sel(0, 2))], files=["t.s"],
                       isa=ISA.digest))


def test_read_write_helpers() -> None:
    """write() copies raw little-endian bytes; read() views them as any dtype; LM needs pe=;
    ranges straddling regions are refused."""
    m = machine(1, 2)
    m.load(program([enc("halt")]))
    m.write(GM + 8, np.array([-2, 300], np.int16))
    assert m.read(GM + 8, 2, np.int16).tolist() == [-2, 300]
    assert m.read(GM + 8, 4, np.uint8).tolist() == [0xFE, 0xFF, 0x2C, 0x01]
    m.write(SM + 4, b"\x01\x02")
    assert m.read(SM + 4, 1, np.uint16).tolist() == [0x0201]
    m.write(16, np.array([7], np.uint32), pe=1)
    assert m.read(16, 1, np.uint32, pe=1).tolist() == [7]
    assert m.read(16, 1, np.uint32, pe=0).tolist() == [0]
    assert int(m.lm[1][16]) == 7
    with pytest.raises(ValueError):
        m.read(16, 1, np.uint32)
    with pytest.raises(ValueError):
        m.read(GM + 4096 - 2, 1, np.uint32)


# ================================================================ (j) assembled programs

ASSEMBLE = assemble  # the real assembler: a broken one fails these tests, never skips them


def test_asm_dot_example_against_numpy() -> None:
    """asm/examples/dot.s on the 4x4 array: the result in GM equals numpy's dot of the two
    vectors it lays out; 256 MACs in all (16 per PE); GM/SM accesses counted by hand:
    per PE 8 GM loads and 1 SM store, PE 0 then 16 SM loads and 1 GM store."""
    import pearray.asm

    path = Path(pearray.asm.__file__).parent / "examples" / "dot.s"
    prog = ASSEMBLE(path.read_text(), str(path))
    m = machine(4, 4)
    m.load(prog)
    sym = prog.symbols
    a = m.read(sym["vec_a"], sym["N"], np.int8).astype(np.int64)
    b = m.read(sym["vec_b"], sym["N"], np.int8).astype(np.int64)
    res = m.run(100_000)
    assert res.status == "halted", res.trap and res.trap.describe()
    assert int(m.read(sym["result"], 1, np.int32)[0]) == int(np.dot(a, b))
    assert [p.macs for p in res.pes] == [16] * 16
    assert res.memory["gm"]["loads"] == 16 * 8 and res.memory["gm"]["stores"] == 1
    assert res.memory["sm"]["stores"] == 16 and res.memory["sm"]["loads"] == 16


def test_asm_breakpoint_on_label_and_trap_line() -> None:
    """A breakpoint on an assembler label; a trap reports the source line of the faulting
    instruction (comments and blank lines counted) and the file name."""
    text = "\n".join([
        "# counting, then a misaligned load",  # 1
        "        addi r1, r0, 1",               # 2
        "",                                     # 3
        "here:   addi r1, r1, 1   # stop here",  # 4
        "        li r2, 0x80000002",            # 5 (two words)
        "        lw r3, 0(r2)",                 # 6
        "        halt",                         # 7
    ])
    m = machine(1, 1)
    m.load(ASSEMBLE(text, "prog.s"))
    assert m.add_breakpoint("here") == 4
    r = m.run()
    assert r.status == "break" and m.pc(0) == 4 and int(m.regs(0)[1]) == 1
    m.remove_breakpoint("here")
    r = m.run()
    assert r.status == "trap"
    assert (r.trap.cause, r.trap.pc, r.trap.line, r.trap.file) == ("misaligned", 16, 6,
                                                                  "prog.s")
    assert r.trap.regs[1:3] == [2, 0x80000002]


def test_asm_pipeline_with_loops() -> None:
    """A 1x4 pipeline in assembly with `.pe` selections: PE 0 sends 1..K east, PEs 1 and 2
    add their column and pass on, PE 3 sums.  Every stage is a zero-overhead loop."""
    k = 9
    text = f"""
        .pe 0,0
        li r9, {k}
        li r1, 0
        loop r9, 1f
        addi r1, r1, 1
        send e, r1
1:      halt
        .pe 0,1:2
        li r9, {k}
        mfs r2, col
        loop r9, 2f
        recv r1, w
        add.w r1, r1, r2
        send e, r1
2:      halt
        .pe 0,3
        li r9, {k}
        li r5, 0
        loop r9, 3f
        recv r1, w
        add.w r5, r5, r1
3:      halt
    """
    m = machine(1, 4)
    m.load(ASSEMBLE(text, "pipe.s"))
    res = m.run(10_000)
    assert res.status == "halted", res.trap and res.trap.describe()
    assert res.pes[3].regs[5] == k * (k + 1) // 2 + 3 * k
    # (li of a small constant is one addi) setup + loop + body * k + halt
    assert [p.retired for p in res.pes] == [3 + 2 * k + 1, 3 + 3 * k + 1, 3 + 3 * k + 1,
                                           3 + 2 * k + 1]


# ================================================================ DMA (isa.toml decision `dma`)

def dma_end(issue: int, src: str, dst: str, n: int) -> int:
    """When a lone transfer issued in cycle `issue` ends, read off the decision by hand:
    it starts the next cycle, waits the two costs less 2, then moves a word a cycle."""
    return issue + 1 + COST[src] + COST[dst] - 2 + n


def dma_words(dst: int, src: int, n: int) -> list[int]:
    """li r1, dst; li r2, src; li r3, n; dma r1, r2, r3 (7 words: dma issues in cycle 6)."""
    return li(1, dst) + li(2, src) + li(3, n) + [enc("dma", rd=1, rs=2, rt=3)]


@settings(max_examples=examples(1 / 2), deadline=None)
@given(src=st.sampled_from(["lm", "sm", "gm"]), dst=st.sampled_from(["lm", "sm", "gm"]),
       n=st.integers(1, 64), so=st.integers(0, 64), do=st.integers(0, 64))
def test_dma_copies_times_and_counts(src: str, dst: str, n: int, so: int, do: int) -> None:
    """dma moves n words between any two regions (runs may overlap within LM, as
    memmove); dwait holds the next instruction until the transfer's end; the words
    are counted as loads of the source region and stores of the destination."""
    s_addr, d_addr = BASE[src] + 4 * so, BASE[dst] + 4 * do
    m = machine(1, 1)
    m.load(program(dma_words(d_addr, s_addr, n) + [enc("dwait"), enc("halt")]))
    data = np.random.default_rng(n * 131 + so).integers(0, 2**32, 200, dtype=np.uint32)
    m.write(BASE[src], data, pe=0)
    before = m.read(BASE[src], 200, np.uint32, pe=0).copy()
    res = m.run(1000)
    assert res.status == "halted", res.trap and res.trap.describe()
    np.testing.assert_array_equal(m.read(d_addr, n, np.uint32, pe=0), before[so:so + n])
    end = dma_end(6, src, dst, n)
    assert res.cycles == end + 1  # dwait (cycle 7) lets halt issue in cycle `end`
    pe = res.pes[0]
    assert pe.stalls["dma"] == end - 8
    assert pe.loads == {r: n if r == src else 0 for r in COST}
    assert pe.stores == {r: n if r == dst else 0 for r in COST}
    assert pe.load_bytes[src] == 4 * n and pe.store_bytes[dst] == 4 * n


def test_dma_runs_beside_the_pe_and_queues() -> None:
    """Work between dma and dwait overlaps the transfer; a second transfer starts when
    the first ends (one engine); a zero count moves nothing; dwait with nothing
    pending costs its 1 cycle."""
    n = 40
    words = (dma_words(SM, LM, n)                       # dma issues in cycle 6
             + [enc("addi", rd=5, rs=5, simm16=1)] * 10  # cycles 7..16, beside it
             + li(4, SM + 4 * n) + [enc("dma", rd=4, rs=2, rt=3)]  # issues in cycle 19
             + [enc("dma", rd=4, rs=2, rt=0)]           # nothing moves (cycle 20)
             + [enc("dwait"), enc("dwait"), enc("halt")])
    res = run(words, dma_queue=4)[1]
    first = dma_end(6, "lm", "sm", n)
    assert first == 48
    second = first + COST["lm"] + COST["sm"] - 2 + n  # the engine is free at 48: starts then
    assert res.pes[0].regs[5] == 10
    assert res.cycles == second + 1 + 1  # dwait (21) ends at `second`, dwait 1, halt 1
    assert res.pes[0].stalls["dma"] == second - 22
    assert res.pes[0].stores["sm"] == 2 * n


def test_dma_queue_full_stalls_the_issue() -> None:
    """With a queue of one, a dma issued while one is pending waits for it to end."""
    words = dma_words(SM, LM, 20) + [enc("dma", rd=1, rs=2, rt=3), enc("halt")]
    res = run(words, dma_queue=1)[1]
    first = dma_end(6, "lm", "sm", 20)  # 28
    # the second issues in cycle 7 and waits to `first`; it starts the cycle after and
    # ends 1 + 20 cycles later; halt (cycle 29) waits for it
    second = first + 1 + COST["lm"] + COST["sm"] - 2 + 20
    assert res.cycles == second
    assert res.pes[0].stalls["dma"] == (first - 7) + (second - (first + 2))


@pytest.mark.parametrize("port", [1, 2, 8])
def test_dma_gm_port_is_shared(port: int) -> None:
    """Four PEs each move 16 GM words to their LM at once: the port serves `port` words a
    cycle to all of them in PE id order, so PE k's transfer ends when the port has moved
    (k+1)*16 words, or when its own engine has (a word a cycle), whichever is later."""
    n = 16
    words = dma_words(LM, GM, n) + [enc("dwait"), enc("halt")]
    m, res = run(words, 2, 2, gm_port_words=port)
    lat = COST["gm"] + COST["lm"] - 2
    ends = [max(7 + n, -(-(7 * port + (k + 1) * n) // port)) + lat for k in range(4)]
    assert res.cycles == ends[-1] + 1
    assert [p.stalls["dma"] for p in res.pes] == [e - 8 for e in ends]


def test_dma_pe_loads_do_not_use_the_port() -> None:
    """A GM load beside a transfer costs the usual GM cost: the `mfs cycle` after it
    issues 8 cycles after it, though the port (1 word a cycle) is busy for 100."""
    words = dma_words(LM, GM, 100) + [enc("lw", rd=6, rs=2, off12=0),
                                      enc("mfs", rd=8, srs=SREG["cycle"]), enc("halt")]
    res = run(words, gm_port_words=1)[1]
    assert res.pes[0].regs[8] == 7 + COST["gm"]
    assert res.cycles == dma_end(6, "gm", "lm", 100)  # halt waits for the transfer


@pytest.mark.parametrize("dst,src,n,cause", [
    (SM + 2, LM, 4, "misaligned"), (SM, LM + 1, 4, "misaligned"),
    (SM + 4096 - 8, LM, 3, "out_of_range"),     # runs past the end of SM
    (LM, GM + 4096 - 4, 2, "out_of_range"),     # past the end of GM
    (0x2000_0000, LM, 1, "out_of_range"),       # no region there
])
def test_dma_traps(dst: int, src: int, n: int, cause: str) -> None:
    """A run misaligned, outside a region or crossing its end traps at the dma."""
    res = run(dma_words(dst, src, n) + [enc("halt")])[1]
    assert res.status == "trap" and res.trap.cause == cause and res.trap.pc == 24


def test_dma_assembles_and_disassembles() -> None:
    """The assembler's syntax: dma rd, rs, rt and dwait, through text."""
    prog = assemble("li r1, 0x10000000\nli r3, 2\nsw r3, 0(r0)\ndma r1, r0, r3\ndwait\n"
               "lw r4, 0(r1)\nhalt\n")
    m = machine(1, 1)
    m.load(prog)
    res = m.run(100)
    assert res.status == "halted" and res.pes[0].regs[4] == 2


def test_dma_halt_waits_for_the_engine() -> None:
    """A PE that halts with a transfer in flight is done when the transfer ends: the
    run's cycles include it, the wait counted as a `dma` stall."""
    res = run(dma_words(SM, GM, 50) + [enc("halt")])[1]
    end = dma_end(6, "gm", "sm", 50)
    assert res.cycles == end
    assert res.pes[0].cycles == end and res.pes[0].stalls["dma"] == end - 8


# ================================================================ dma2d (decision `dma2d`)

def dma2d_words(dst: int, src: int, rows: int, nbytes: int, ss: int, ds: int) -> list[int]:
    """Set the strides (mts dss/dds), then dma2d r1, r2, r3 with r3 = rows << 16 | bytes."""
    return (li(4, ss & MASK32) + [enc("mts", srd=SREG["dss"], rs=4)]
            + li(5, ds & MASK32) + [enc("mts", srd=SREG["dds"], rs=5)]
            + li(1, dst) + li(2, src) + li(3, rows << 16 | nbytes)
            + [enc("dma2d", rd=1, rs=2, rt=3)])


@settings(max_examples=examples(2 / 3), deadline=None)
@given(src=st.sampled_from(["lm", "sm", "gm"]), dst=st.sampled_from(["lm", "sm", "gm"]),
       rows=st.integers(1, 6), nbytes=st.integers(1, 23), ss=st.integers(-40, 40),
       ds=st.integers(-40, 40), so=st.integers(0, 7), do=st.integers(0, 7))
def test_dma2d_copies_rows_times_and_counts(src: str, dst: str, rows: int, nbytes: int,
                                            ss: int, ds: int, so: int, do: int) -> None:
    """dma2d copies `rows` rows of `bytes` bytes at any byte alignment, row i from
    src + i*dss to dst + i*dds (strides of any sign, rows copied in order); it costs one
    transfer of rows*ceil(bytes/4) words, counted as loads of the source region and stores
    of the destination, the bytes as bytes."""
    # start far enough in that negative strides stay inside the region
    s_addr, d_addr = BASE[src] + 256 + so, BASE[dst] + 256 + do
    words = dma2d_words(d_addr, s_addr, rows, nbytes, ss, ds)
    issue = len(words) - 1
    m = machine(1, 1)
    m.load(program(words + [enc("dwait"), enc("halt")]))
    data = np.random.default_rng(rows * 977 + nbytes).integers(0, 256, 512, dtype=np.uint8)
    m.write(BASE[src], data, pe=0)
    # the expected memory, copying row by row in numpy
    want = {r: m.read(BASE[r], 512, np.uint8, pe=0).copy() for r in BASE}
    for i in range(rows):
        a, b = 256 + so + i * ss, 256 + do + i * ds
        want[dst][b:b + nbytes] = want[src][a:a + nbytes].copy()
    res = m.run(1000)
    assert res.status == "halted", res.trap and res.trap.describe()
    for r in BASE:
        np.testing.assert_array_equal(m.read(BASE[r], 512, np.uint8, pe=0), want[r], r)
    n = rows * -(-nbytes // 4)
    end = dma_end(issue, src, dst, n)
    assert res.cycles == end + 1
    pe = res.pes[0]
    assert pe.stalls["dma"] == end - (issue + 2)
    assert pe.loads == {r: n if r == src else 0 for r in COST}
    assert pe.stores == {r: n if r == dst else 0 for r in COST}
    assert pe.load_bytes[src] == rows * nbytes and pe.store_bytes[dst] == rows * nbytes


@pytest.mark.parametrize("rows,nbytes", [(0, 12), (5, 0)])
def test_dma2d_empty_moves_nothing(rows: int, nbytes: int) -> None:
    """No rows or no bytes: nothing moves, nothing is counted, no wait."""
    words = dma2d_words(SM, LM, rows, nbytes, 4, 4)
    m, res = run(words + [enc("dwait"), enc("halt")])
    assert res.status == "halted" and res.cycles == len(words) + 2
    assert res.pes[0].stores["sm"] == res.pes[0].loads["lm"] == 0


@pytest.mark.parametrize("dst,src,rows,nbytes,ss,ds", [
    (SM, LM + 4096 - 10, 1, 11, 0, 0),          # one byte past the end of LM (SMALL: 4 KiB)
    (SM, LM + 100, 3, 4, -60, 0),               # the third row lies below address 0
    (SM, LM, 2, 8, 0x20000000, 0),              # the second row in no region
    (GM + 4096 - 16, LM, 3, 8, 0, 8),           # rows run past the end of GM
    (SM + 4096 - 4, LM, 1, 8, 0, 0),            # a row crossing the end of SM
])
def test_dma2d_traps(dst: int, src: int, rows: int, nbytes: int, ss: int, ds: int) -> None:
    """Any row outside its region traps out_of_range at the dma2d; byte alignment never
    traps."""
    words = dma2d_words(dst, src, rows, nbytes, ss, ds)
    res = run(words + [enc("halt")])[1]
    assert res.status == "trap" and res.trap.cause == "out_of_range"
    assert res.trap.pc == 4 * (len(words) - 1)


def test_load_without_clearing_keeps_memory_and_counts_host_traffic() -> None:
    """load(clear=False) keeps what an earlier kernel left in GM/SM/LM (a network's
    kernels run one after another on one machine); write() and read() count the host's
    bytes, the array views do not."""
    m = machine(1, 1)
    m.load(program([enc("halt")]))
    w0, r0 = m.host_bytes_written, m.host_bytes_read
    m.write(GM + 8, np.arange(4, dtype=np.uint32))
    m.write(LM + 4, b"\x07\x00\x00\x00", pe=0)
    m.gm[100] = 9  # a view: not counted
    m.load(program(li(1, GM + 8) + [enc("lw", rd=2, rs=1, off12=4), enc("halt")]), clear=False)
    res = m.run(100)
    assert res.pes[0].regs[2] == 1 and m.gm[100] == 9 and m.lm[0][4] == 7
    assert m.read(GM + 8, 4, np.uint32).tolist() == [0, 1, 2, 3]
    assert (m.host_bytes_written - w0, m.host_bytes_read - r0) == (20, 16)
    m.load(program([enc("halt")]))  # the default clears
    assert not m.gm.any() and not m.lm.any()
