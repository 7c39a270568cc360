"""The emulator's shortcuts change nothing observable: run-ahead, loops iterated in
place and the checked-once stream path (isa.toml `stream`) against lock-step."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from pearray.asm import assemble
from pearray.emu.machine import Machine
from pearray.isa import load

MACL_GS = [i.g for i in load().by_mnemonic["macl"] if i.key.startswith("macl.")]

# Every PE: a loop of one macl over two pointers, then a few ALU instructions.
PROGRAM = """
    mfs r1, id
    li r11, {a}
    li r12, {b}
    slli.w r13, r1, 2
    add.w r11, r11, r13         # PEs start at different words
    li r2, {count}
    li r7, 5
    loop r2, 1f
    macl.{g} {rd}, (r11){step}, (r12)+
1:  addi r8, r7, 1
    mfs r9, cycle
    halt
"""


def run_both(text: str, rows: int = 2, cols: int = 2, **params: int):
    prog = assemble(text)
    out = []
    for lockstep in (True, False):
        m = Machine(rows, cols, lockstep=lockstep, **params)
        m.load(prog)
        rng = np.random.default_rng(1)
        for pe in range(m.npes):
            m.lm[pe][:] = rng.integers(0, 256, m.lm.shape[1], dtype=np.uint8)
        m.sm[:4096] = rng.integers(0, 256, 4096, dtype=np.uint8)
        res = m.run(max_cycles=200_000)
        out.append((res, m.lm.copy()))
    return out


def same(a, b) -> None:  # noqa: ANN001
    (ra, lma), (rb, lmb) = a, b
    assert ra.status == rb.status
    assert ra.cycles == rb.cycles
    if ra.trap:
        assert (ra.trap.cause, ra.trap.pe, ra.trap.pc) == (rb.trap.cause, rb.trap.pe, rb.trap.pc)
        k = ra.trap.pe[0] * 2 + ra.trap.pe[1]
        assert ra.pes[k].regs == rb.pes[k].regs  # the trapping PE is exact
        return
    for pa, pb in zip(ra.pes, rb.pes, strict=True):
        assert pa.to_json() == pb.to_json()
    assert ra.memory == rb.memory
    assert np.array_equal(lma, lmb)


@settings(deadline=None, max_examples=examples(2 / 3))
@given(count=st.integers(0, 9000), g=st.sampled_from(MACL_GS), lm_cost=st.sampled_from([1, 2, 3]),
       rd=st.sampled_from(["r3", "r11"]), step=st.sampled_from(["+", ""]))
def test_macl_loops_in_lm_match_lockstep(count: int, g: str, lm_cost: int, rd: str,
                                         step: str) -> None:
    """Long loops (past the run-ahead horizon), LM costs above 1, rd aliasing a pointer,
    both macl forms (stepping rs, or holding it: decision `macl_hold`)."""
    text = PROGRAM.format(a=0, b=0x2000, count=count, g=g, rd=rd, step=step)
    same(*run_both(text, lm_cost=lm_cost))


@pytest.mark.parametrize("a, b", [
    (0x3000, 0x0),          # runs off the end of LM: out_of_range at the exact iteration
    (0x0, 0x10000000),      # one pointer in SM: deferred to the array's cycle each time
    (0x2, 0x0),             # misaligned: traps on the first iteration
])
def test_macl_loops_leaving_lm_match_lockstep(a: int, b: int) -> None:
    for step in ("+", ""):
        text = PROGRAM.format(a=a, b=b, count=1200, g="b", rd="r3", step=step)
        same(*run_both(text))


# Every PE: the conv kernels' inner loop, four macl holding the input word (one per
# output channel), the last stepping it; then a 2-D DMA gathering rows.
HOLD_PROGRAM = """
    li r11, {a}
    li r12, 0x1000
    li r2, {count}
    loop r2, 1f
    macl.{g} r7, (r11), (r12)+
    macl.{g} r8, (r11), (r12)+
    macl.{g} r9, (r11), (r12)+
    macl.{g} r10, (r11)+, (r12)+
1:  li r4, 12
    mts dss, r4
    li r4, -8
    mts dds, r4
    li r4, 0x50006
    li r5, {dst}
    dma2d r5, r11, r4
    dwait
    mfs r9, cycle
    halt
"""


@settings(deadline=None, max_examples=examples(5 / 12))
@given(count=st.integers(0, 900), g=st.sampled_from(MACL_GS),
       a=st.sampled_from([0, 0x0FF0, 0x10000000]), dst=st.sampled_from([0x800, 0x10000800]))
def test_held_macl_and_dma2d_match_lockstep(count: int, g: str, a: int, dst: int) -> None:
    """A four-macl loop body (held input word) and dma2d time, count and trap the same
    with run-ahead, in LM, running off its end, and in SM."""
    same(*run_both(HOLD_PROGRAM.format(a=a, count=count, g=g, dst=dst)))


# Every PE: a shared GM -> SM transfer, a local LM -> LM one, MACs beside them, then
# the GM port, queue and dwait decide when the results land and when the PE halts.
DMA_PROGRAM = """
    mfs r1, id
    slli.w r13, r1, 8
    li r11, 0x80000000
    add.w r11, r11, r13         # each PE its own GM run
    li r12, 0x10000000
    add.w r12, r12, r13         # and its own SM run
    li r2, {n}
    dma r12, r11, r2            # shared: deferred to the array's cycle
    li r4, 0x1000
    li r5, 0x800
    dma r4, r5, r2              # local: may run ahead
    li r6, {count}
    loop r6, 1f
    macl.b r3, (r5)+, (r4)+
1:  dwait
    lw r7, 0(r12)
    mfs r9, cycle
    halt
"""


@settings(deadline=None, max_examples=examples(5 / 12))
@given(n=st.integers(0, 64), count=st.integers(0, 5000), port=st.sampled_from([1, 2, 8]),
       queue=st.sampled_from([1, 4]))
def test_dma_matches_lockstep(n: int, count: int, port: int, queue: int) -> None:
    """DMA transfers, deferred or local, time and count the same with run-ahead."""
    text = DMA_PROGRAM.format(n=n, count=count)
    same(*run_both(text, gm_port_words=port, dma_queue=queue))


# ================================================================ random programs
#
# SPMD programs drawn from snippets that exercise every path the fast core changes:
# loop bodies of one to six macl (streaming and held, pointers in LM, SM, GM or running
# off LM's end, registers aliasing so that the bulk path must refuse), loops of one
# instruction, SM traffic with bank conflicts, GM, neighbour exchanges, sync, dma and
# dma2d.  Each runs in lock step, with run-ahead, and with run-ahead paused at random
# cycles (step): every counter, register and memory byte must agree, and at a trap the
# trapping PE's state.

SM_, GM_ = 0x1000_0000, 0x8000_0000
R = st.integers(1, 12)  # r13..r15 are the snippets' scratch


@st.composite
def macl_block(draw: st.DrawFn) -> str:
    k = draw(st.integers(1, 6))
    g = draw(st.sampled_from("bhw"))
    a, b = draw(st.sampled_from([(11, 12), (1, 2), (3, 3), (4, 5)]))
    where = draw(st.sampled_from(["lm", "lm", "lm", "lm_end", "sm", "gm"]))
    base = {"lm": 0x200, "lm_end": 0xF00, "sm": SM_ + 0x100, "gm": GM_ + 0x100}[where]
    lines = [f"li r{a}, {base}", f"li r{b}, {base + 0x40 if a != b else base}",
             f"li r13, {draw(st.integers(0, 120))}", "loop r13, 1f"]
    for j in range(k):
        rd = draw(st.sampled_from([6, 7, 8, 9, 10] + ([a] if draw(st.booleans()) and
                                                      draw(st.booleans()) else [])))
        held = draw(st.booleans()) if j < k - 1 else draw(st.sampled_from([False, True]))
        lines.append(f"macl.{g} r{rd}, (r{a}){'' if held else '+'}, (r{b})+")
    lines.append("1:")
    if draw(st.booleans()):  # an outer loop around it all
        lines = ["li r14, 3", "loop r14, 2f"] + lines + ["addi r6, r6, 1", "2:"]
    return "\n".join(lines)


@st.composite
def single_loop(draw: st.DrawFn) -> str:
    body = draw(st.sampled_from(["addi r5, r5, 3", "mac.b r6, r1, r2", "lw r7, (r11)+4",
                                 "sw r5, (r11)+4", "add.h r8, r8, r5"]))
    return f"li r11, 0x600\nli r13, {draw(st.integers(0, 300))}\nloop r13, 1f\n{body}\n1:"


@st.composite
def shared_access(draw: st.DrawFn) -> str:
    region = draw(st.sampled_from([SM_, GM_]))
    private = draw(st.booleans())
    off = draw(st.integers(0, 63)) * 4
    op = draw(st.sampled_from(["lw r{r}, {o}(r14)", "sw r{r}, {o}(r14)", "lh r{r}, {o}(r14)",
                               "sb r{r}, {o}(r14)", "lbu r{r}, {o}(r14)"]))
    lines = [f"li r14, {region + off}"]
    if private:
        lines += ["mfs r15, id", "slli.w r15, r15, 8", "add.w r14, r14, r15"]
    lines.append(op.format(r=draw(R), o=draw(st.integers(0, 3)) * 4))
    return "\n".join(lines)


@st.composite
def alu(draw: st.DrawFn) -> str:
    op = draw(st.sampled_from(["add.b", "sub.h", "mul.h", "adds.b", "max.w", "xor", "mac.h"]))
    return f"{op} r{draw(R)}, r{draw(R)}, r{draw(R)}\naddi r{draw(R)}, r{draw(R)}, " \
           f"{draw(st.integers(-99, 99))}"


EXCHANGE = """
mfs r15, col
andi r15, r15, 1
mfs r14, cols
addi r14, r14, -1
mfs r13, col
bne r15, r0, 1f
beq r13, r14, 2f
send e, r{a}
recv r{b}, e
j 2f
1:
send w, r{a}
recv r{b}, w
2:
"""


@st.composite
def exchange(draw: st.DrawFn) -> str:
    return EXCHANGE.format(a=draw(R), b=draw(R))


@st.composite
def dma(draw: st.DrawFn) -> str:
    src = draw(st.sampled_from([0x300, SM_ + 0x200, GM_ + 0x200]))
    dst = draw(st.sampled_from([0x800, SM_ + 0x600, GM_ + 0x600]))
    lines = ["mfs r15, id", "slli.w r15, r15, 7", f"li r13, {dst}", "add.w r13, r13, r15",
             f"li r14, {src}"]
    if draw(st.booleans()):
        lines += [f"li r15, {draw(st.integers(0, 20))}", "dma r13, r14, r15"]
    else:
        rows, nbytes = draw(st.integers(0, 5)), draw(st.integers(0, 13))
        lines += [f"li r15, {draw(st.integers(-8, 16))}", "mts dss, r15",
                  f"li r15, {draw(st.integers(0, 16))}", "mts dds, r15",
                  f"li r15, {rows << 16 | nbytes}", "dma2d r13, r14, r15"]
    if draw(st.booleans()):
        lines.append("dwait")
    return "\n".join(lines)


SNIPPETS = st.one_of(macl_block(), macl_block(), single_loop(), shared_access(), alu(),
                     exchange(), dma(), st.just("sync"))


def run_modes(text: str, rows: int, cols: int, pauses: list[int],  # noqa: ANN201
              **costs: int):
    prog = assemble(text)
    out = []
    for mode in ("lockstep", "ahead", "paused"):
        m = Machine(rows, cols, lockstep=mode == "lockstep",
                    **{"gm_size": 4096, "sm_size": 4096, "lm_size": 4096, **costs})
        m.load(prog)
        rng = np.random.default_rng(7)
        m.lm[:] = rng.integers(0, 256, m.lm.shape, dtype=np.uint8)
        m.sm[:] = rng.integers(0, 256, m.sm.shape, dtype=np.uint8)
        m.gm[:] = rng.integers(0, 256, m.gm.shape, dtype=np.uint8)
        if mode == "paused":
            for p in pauses:
                res = m.step(p)
                if res.status != "paused":
                    break
            else:
                res = m.run(max_cycles=100_000)
        else:
            res = m.run(max_cycles=100_000)
        out.append((res, m.lm.copy(), m.sm.copy(), m.gm.copy()))
    return out


def agree(a, b, cols: int) -> None:  # noqa: ANN001
    (ra, lma, sma, gma), (rb, lmb, smb, gmb) = a, b
    assert (ra.status, ra.cycles) == (rb.status, rb.cycles)
    if ra.trap:
        assert (ra.trap.cause, ra.trap.pe, ra.trap.pc, ra.trap.detail) == (
            rb.trap.cause, rb.trap.pe, rb.trap.pc, rb.trap.detail)
        k = ra.trap.pe[0] * cols + ra.trap.pe[1]
        assert ra.pes[k].regs == rb.pes[k].regs
        return
    for pa, pb in zip(ra.pes, rb.pes, strict=True):
        assert pa.to_json() == pb.to_json()
        assert (pa.load_bytes, pa.store_bytes) == (pb.load_bytes, pb.store_bytes)
    assert ra.memory == rb.memory
    assert np.array_equal(lma, lmb) and np.array_equal(sma, smb) and np.array_equal(gma, gmb)


@settings(deadline=None)
@given(snippets=st.lists(SNIPPETS, min_size=1, max_size=7),
       shape=st.sampled_from([(1, 1), (1, 2), (2, 2), (2, 3)]),
       pauses=st.lists(st.integers(1, 400), max_size=4),
       costs=st.fixed_dictionaries({"lm_cost": st.sampled_from([1, 1, 2, 3]),
                                    "sm_cost": st.sampled_from([1, 2, 5]),
                                    "sm_banks": st.sampled_from([16, 5, 0]),
                                    "gm_port_words": st.sampled_from([8, 1])}))
def test_random_programs_match_lockstep(snippets: list[str], shape: tuple[int, int],
                                        pauses: list[int], costs: dict[str, int]) -> None:
    text = "\n".join(["mfs r1, id", "addi r2, r1, 5"] + snippets + ["halt"])
    lock, ahead, paused = run_modes(text, *shape, pauses, **costs)
    agree(lock, ahead, shape[1])
    agree(lock, paused, shape[1])


def test_bulk_macl_paths_are_taken_and_exact() -> None:
    """The shapes repeat_block takes (four held macl, the conv body; one streaming macl)
    over a long loop, against lock step: every counter and register."""
    body = """
        li r11, 0x0
        li r12, 0x800
        li r2, 120
        loop r2, 1f
        macl.{g} r7, (r11), (r12)+
        macl.{g} r8, (r11), (r12)+
        macl.{g} r9, (r11), (r12)+
        macl.{g} r10, (r11)+, (r12)+
    1:  li r11, 0x0
        li r12, 0x400
        li r3, 500
        loop r3, 2f
        macl.{g} r4, (r11)+, (r12)+
    2:  halt
    """
    for g in "bhw":
        lock, ahead, paused = run_modes(body.format(g=g), 2, 2, [37, 1000])
        agree(lock, ahead, 2)
        agree(lock, paused, 2)
        assert lock[0].status == "halted"
        assert lock[0].pes[0].macs == (4 * 120 + 500) * {"b": 4, "h": 2, "w": 1}[g]
