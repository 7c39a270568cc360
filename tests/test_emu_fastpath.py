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
