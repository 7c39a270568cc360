"""Looking inside a run (issue 11): watchpoints and per-PE breakpoints in the core,
trace records (one per retired instruction, `sync` included, with memory, neighbour
and DMA events and stalls), the timeline, trap reports that explain, and lock step's
exact state at a trap.

Expected cycles are worked out by hand from isa.toml's [decisions] (memory_cost,
neighbours, sync, dma); each test says how.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pearray.asm import assemble
from pearray.emu.machine import STALLS, Machine, TraceRecord
from pearray.emu.timeline import Timeline

LM, SM, GM = 0x0000_0000, 0x1000_0000, 0x8000_0000
SMALL = {"gm_size": 4096, "sm_size": 4096, "lm_size": 4096}


def machine(rows: int = 1, cols: int = 1, **kw: int) -> Machine:
    return Machine(rows, cols, **{**SMALL, **kw})


def traced(m: Machine, **kw: int) -> tuple[list[TraceRecord], object]:
    recs: list[TraceRecord] = []
    res = m.run(trace=recs.append, **kw)
    return recs, res


# ================================================================ watchpoints

STORE = """
    li r1, {base}
    li r2, 0x11223344
    nop
    {store}
    li r3, 7
    halt
"""


@pytest.mark.parametrize("region, base", [("lm", LM + 0x100), ("sm", SM + 0x100),
                                          ("gm", GM + 0x100)])
@pytest.mark.parametrize("store, offset, new", [
    ("sw r2, 4(r1)", 4, 0x11223344),
    ("sh r2, 6(r1)", 4, 0x33440000 | 0xBEEF),
    ("sb r2, 5(r1)", 4, 0xDEAD44EF),
    ("sw r2, (r1)+4", 0, 0x11223344),
])
def test_watch_stops_after_the_storing_instruction(region: str, base: int, store: str,
                                                   offset: int, new: int) -> None:
    """The word at base+offset holds 0xDEADBEEF; the store issues in cycle 4 (li li(2) nop:
    lui+ori for 0x11223344 is two words, the bases one lui or addi), so the run stops at
    the end of cycle 4: cycle 5, with the store retired and `li r3` not."""
    prog = assemble(STORE.format(base=base, store=store))
    m = machine()
    m.load(prog)
    m.write(base + offset, np.array([0xDEADBEEF], np.uint32), pe=0)
    words = len(assemble(f"li r1, {base}\n").images[0].words)
    issue = words + 2 + 1
    m.add_watchpoint(base + offset + 2)  # any byte of the word names it
    res = m.run()
    assert res.status == "watch"
    w = res.watch
    assert (w.pe, w.addr, w.old, w.new) == ((0, 0), base + offset, 0xDEADBEEF, new)
    assert w.pc == 4 * issue and w.line == 5  # the text starts with a newline
    assert m.cycle == issue + 1
    assert res.pes[0].retired == issue + 1 and res.pes[0].regs[3] == 0
    again = m.run()  # runs on to the end
    assert again.status == "halted" and again.pes[0].regs[3] == 7


def test_watch_ignores_other_words_and_reads() -> None:
    prog = assemble("""
        li r1, 0x10000100
        sw r1, 0(r1)
        sw r1, 8(r1)
        lw r2, 4(r1)
        halt
    """)
    m = machine()
    m.load(prog)
    m.add_watchpoint(SM + 0x104)
    assert m.run().status == "halted"


def test_watch_by_pe_and_lm_of_every_pe() -> None:
    """PE (0,0) stores in cycle 2, PE (0,1) waits 3 nops and stores in cycle 5, to the same
    SM word and to its own LM word 0x40."""
    prog = assemble("""
        mfs r1, col
        beq r1, r0, 1f
        nop
        nop
        nop
    1:  li r2, 0x10000040
        sw r1, 0(r2)
        sw r1, 0x40(r0)
        halt
    """)
    m = machine(1, 2)
    m.load(prog)
    m.add_watchpoint(SM + 0x40, pe=(0, 1))
    res = m.run()
    assert res.status == "watch" and res.watch.pe == (0, 1)
    assert (res.watch.old, res.watch.new) == (0, 1)
    m.remove_watchpoint(SM + 0x40, pe=(0, 1))
    m.add_watchpoint(0x40)  # an LM word: every PE's
    res = m.run()
    assert res.status == "watch" and res.watch.pe == (0, 1) and res.watch.addr == 0x40
    assert m.watchpoints == [(0x40, None)]
    m.load(prog)
    res = m.run()
    assert res.status == "watch" and res.watch.pe == (0, 0)  # PE (0,0)'s LM first


@pytest.mark.parametrize("hit", [True, False])
def test_watch_sees_dma_writes(hit: bool) -> None:
    """dma2d of 3 rows of 4 bytes, written 8 bytes apart (dds = 8) from LM 0x100: the rows
    land at 0x100, 0x108, 0x110; a watch on 0x108 is hit, one on 0x104 (a gap) is not."""
    prog = assemble("""
        li r1, 8
        mts dds, r1
        li r1, 4
        mts dss, r1
        li r2, 0x100
        li r3, 0x80000000
        li r4, 0x30004
        dma2d r2, r3, r4
        dwait
        halt
    """)
    m = machine()
    m.load(prog)
    m.write(GM, np.array([5, 6, 7], np.uint32))
    m.add_watchpoint(0x108 if hit else 0x104, pe=0)
    res = m.run()
    if hit:
        assert res.status == "watch"
        assert (res.watch.pc, res.watch.old, res.watch.new) == (32, 0, 6)  # 8 words before
    else:
        assert res.status == "halted"
    assert list(m.read(0x100, 5, np.uint32, pe=0)) == [5, 0, 6, 0, 7]


def test_watch_changes_no_counter() -> None:
    prog = assemble("""
        mfs r1, id
        li r2, 0x10000000
        slli.w r5, r1, 2
        add.w r2, r2, r5            # each PE its own word
        li r3, 50
        loop r3, 1f
        sw r1, 0(r2)
        lw r4, 4(r2)
    1:  halt
    """)
    m = machine(2, 2)
    m.load(prog)
    plain = m.run()
    m.load(prog)
    m.add_watchpoint(SM)
    stops = 0
    while (res := m.run()).status == "watch":
        stops += 1
    assert stops == 50  # PE 0's 50 stores to the watched word
    assert [p.to_json() for p in res.pes] == [p.to_json() for p in plain.pes]
    assert res.cycles == plain.cycles


def test_breakpoint_on_one_pe_and_watch_together() -> None:
    prog = assemble("""
        mfs r1, id
    here:
        sw r1, 0x10(r0)
        halt
    """)
    m = machine(1, 3)
    m.load(prog)
    assert m.add_breakpoint("here", pe=(0, 2)) == 4
    m.add_watchpoint(0x10, pe=1)
    res = m.run()
    assert res.status == "break" and res.breakpoint.pe == (0, 2) and res.breakpoint.pc == 4
    assert m.breakpoints == [(4, (0, 2))]
    res = m.run()
    assert res.status == "watch" and res.watch.pe == (0, 1)
    assert m.run().status == "halted"


def test_watch_and_break_arguments_checked() -> None:
    m = machine(1, 2)
    m.load(assemble("x: halt\n.data\nv: .word 1\n"))
    assert m.add_watchpoint("v") == GM
    with pytest.raises(ValueError, match="not inside a memory region"):
        m.add_watchpoint(0x2000_0000)
    with pytest.raises(ValueError, match="no symbol"):
        m.add_watchpoint("nope")
    with pytest.raises(ValueError):
        m.add_watchpoint(GM, pe=2)
    with pytest.raises(ValueError):
        m.add_breakpoint("x", pe=(1, 0))
    with pytest.raises(TypeError):
        m.add_watchpoint(1.5)


# ================================================================ trace records

def test_trace_has_every_instruction_with_its_events() -> None:
    """PE (0,0): lw from SM (cost 2), sw to GM (cost 8), send e, sync, halt.
    PE (0,1): recv w, sync, halt.  Hand timing: (0,0) li@0 lw@1 (+1 memory) li@3
    sw@4 (+7 memory) send@12 sync@13 (waits 1 cycle for (0,1)) completes@14 halt@15;
    (0,1) recv tried from 0, the word sent in 12 arrives in 13 (13 recv stalls), sync@14
    completes at once (the last to arrive), halt@15."""
    prog = assemble("""
    .pe 0,0
        li r1, 0x10000000
        lw r2, 0(r1)
        li r3, 0x80000000
        sw r2, 4(r3)
        send e, r2
        sync
        halt
    .pe 0,1
        recv r5, w
        sync
        halt
    """)
    m = Machine(1, 2)
    m.load(prog)
    m.write(SM, np.array([0x1234], np.uint32))
    recs, res = traced(m)
    assert res.status == "halted"
    mine = [r for r in recs if r.pe == (0, 0)]
    other = [r for r in recs if r.pe == (0, 1)]
    assert [r.cycle for r in mine] == [0, 1, 3, 4, 12, 14, 15]
    assert [r.cycle for r in other] == [13, 14, 15]
    lw, sw, send, sync = mine[1], mine[3], mine[4], mine[5]
    assert [(a.kind, a.addr, a.size, a.value, a.region) for a in lw.mem] == [
        ("load", SM, 4, 0x1234, "sm")]
    assert lw.writes == [(2, 0x1234)] and lw.stalls == {"memory": 1} and lw.busy == 2
    assert [(a.kind, a.addr, a.value, a.region) for a in sw.mem] == [
        ("store", GM + 4, 0x1234, "gm")]
    assert sw.stalls == {"memory": 7} and sw.busy == 8
    assert send.nb == ("send", "e", 0x1234)
    assert sync.stalls == {"sync": 1} and sync.busy == 1
    recv = other[0]
    assert recv.nb == ("recv", "w", 0x1234) and recv.writes == [(5, 0x1234)]
    assert recv.stalls == {"recv": 13}
    assert other[1].stalls == {}
    assert len(recs) == res.retired


def test_trace_dma_issue_and_timing() -> None:
    """dma of 3 words GM -> LM issued in cycle 3: latency 8 + 1 - 2 = 7, so the engine
    works from cycle 4 to 4 + 7 + 3 = 14 (the GM port, 8 words a cycle, is not slower);
    dwait issues in 4 and waits to 14: 9 dma stalls; halt issues in 14."""
    prog = assemble("""
        li r1, 0x100
        li r2, 0x80000000
        li r3, 3
        dma r1, r2, r3
        dwait
        halt
    """)
    m = machine()
    m.load(prog)
    recs, res = traced(m)
    dma = recs[3]
    assert dma.dma is not None
    d = dma.dma
    assert (d.dst, d.src, d.rows, d.row_bytes, d.words, d.start, d.end) == (
        0x100, GM, 1, 12, 3, 4, 14)
    assert recs[4].stalls == {"dma": 9} and recs[4].busy == 10
    assert recs[5].cycle == 14 and res.cycles == 15


PROGRAMS = [
    # SM traffic with bank conflicts, GM, a loop of macl, send/recv along a row, sync
    """
        mfs r1, id
        slli.w r2, r1, 2
        li r3, 0x10000000
        add.w r3, r3, r2
        li r4, 6
        loop r4, 1f
        lw r5, 0(r3)
        addi r5, r5, 1
        sw r5, 0x40(r3)
    1:  sync
        li r6, 0x80000000
        sw r1, 0(r6)
        li r7, 5
        li r8, 0x100
        li r9, 0x200
        loop r7, 2f
        macl.b r10, (r8)+, (r9)+
    2:  mfs r11, col
        beq r11, r0, 3f
        recv r12, w
    3:  mfs r13, cols
        addi r13, r13, -1
        beq r11, r13, 4f
        send e, r1
    4:  sync
        halt
    """,
    # DMA in both directions and a dwait, beside MACs
    """
        mfs r1, id
        slli.w r1, r1, 6
        li r2, 0x80000000
        add.w r2, r2, r1
        li r3, 0x100
        li r4, 8
        dma r3, r2, r4
        li r5, 3
        loop r5, 1f
        mac.b r6, r3, r4
    1:  dwait
        dma r2, r3, r4
        halt
    """,
]


@pytest.mark.parametrize("text", PROGRAMS)
@pytest.mark.parametrize("rows, cols", [(1, 1), (2, 3), (4, 4)])
def test_trace_accounts_for_every_cycle(text: str, rows: int, cols: int) -> None:
    """Per PE: one record per retired instruction; the records' stalls sum to the PE's
    stall counters; each record's issue cycle, less the cycles it waited to issue, is
    the previous one's issue cycle plus its busy cycles (no gaps); the last ends at the
    PE's halt; and the traced run counts exactly as the untraced one."""
    prog = assemble(text)
    m = Machine(rows, cols)
    m.load(prog)
    plain = m.run()
    m.load(prog)
    recs, res = traced(m)
    assert res.status == plain.status == "halted"
    assert [p.to_json() for p in res.pes] == [p.to_json() for p in plain.pes]
    for i, p in enumerate(res.pes):
        mine = [r for r in recs if r.pe == divmod(i, cols)]
        assert len(mine) == p.retired
        for c in STALLS:
            assert sum(r.stalls.get(c, 0) for r in mine) == p.stalls[c], c
        t = 0
        for r in mine:
            waited = sum(r.stalls.get(c, 0) for c in ("send", "recv", "sync"))
            assert r.cycle - waited == t
            t = r.cycle + r.busy
        assert t == p.cycles


def test_trace_buffer_refills_and_resumes_across_drains() -> None:
    """More records than one drain holds: none lost, none repeated."""
    prog = assemble("""
        li r1, 30000
        loop r1, 1f
        addi r2, r2, 1
    1:  halt
    """)
    m = machine(1, 2)
    m.load(prog)
    recs, res = traced(m)
    assert len(recs) == res.retired == 2 * 30003
    per = [r.cycle for r in recs if r.pe == (0, 1)]
    assert per == list(range(30003))


# ================================================================ timeline

TIMELINE = """
.pe 0,0
    li r1, 0x10000000     # cycle 0
    lw r2, 0(r1)          # 1; SM costs 2: a memory stall in 2
    send e, r2            # 3
    halt                  # 4
.pe 0,1
    recv r3, w            # tried from 0; the word sent in 3 arrives in 4: recv stalls 0..3
    li r4, 0x1000         # 5
    li r5, 0x80000000     # 6
    li r6, 2              # 7
    dma r4, r5, r6        # 8: the engine works 9 .. 9 + (8+1-2) + 2 = 18
    dwait                 # 9; waits to 18: dma stalls 10..17
    halt                  # 18
"""


def test_timeline_of_a_program_timed_by_hand() -> None:
    m = Machine(1, 2)
    m.load(assemble(TIMELINE))
    tl = Timeline.for_machine(m)
    res = m.run(trace=tl)
    assert res.cycles == 19
    got = [(s.pe, s.track, s.name, s.start, s.end) for s in tl.spans]
    assert sorted(got) == sorted([
        ((0, 0), "core", "busy", 0, 2),
        ((0, 0), "core", "stall: memory", 2, 3),
        ((0, 0), "core", "busy", 3, 5),
        ((0, 1), "core", "stall: recv", 0, 4),
        ((0, 1), "core", "busy", 4, 10),
        ((0, 1), "core", "stall: dma", 10, 18),
        ((0, 1), "core", "busy", 18, 19),
        ((0, 1), "dma", "dma GM->LM", 9, 18),
    ])
    doc = json.loads(json.dumps(tl.to_chrome()))
    events = doc["traceEvents"]
    names = {(e["pid"], e.get("tid"), e["args"]["name"]) for e in events if e["ph"] == "M"
             and e["name"] in ("process_name", "thread_name")}
    assert (0, None, "PE (0,0)") in names and (1, 1, "dma") in names and (1, 0, "core") in names
    spans = [e for e in events if e["ph"] == "X"]
    assert len(spans) == 8
    assert all(isinstance(e["ts"], int) and e["dur"] > 0 for e in spans)
    dma = [e for e in spans if e["cat"] == "dma"][0]
    assert (dma["pid"], dma["tid"], dma["ts"], dma["dur"]) == (1, 1, 9, 9)


def test_timeline_detail_names_instructions() -> None:
    m = Machine(1, 2)
    m.load(assemble(TIMELINE))
    tl = Timeline.for_machine(m, detail=True)
    m.run(trace=tl)
    busy = [s for s in tl.spans if s.kind == "busy" and s.pe == (0, 0)]
    assert [s.name.split()[0] for s in busy] == ["lui", "lw", "send", "halt"]


@pytest.mark.parametrize("text", PROGRAMS)
def test_timeline_covers_every_cycle(text: str) -> None:
    m = Machine(2, 2)
    m.load(assemble(text))
    tl = Timeline.for_machine(m)
    res = m.run(trace=tl)
    totals = tl.totals()
    for i, p in enumerate(res.pes):
        per = totals[divmod(i, 2)]
        core = sum(v for k, v in per.items() if not k.startswith("dma"))
        assert core == p.cycles
        for c in STALLS:
            assert per.get(f"stall: {c}", 0) == p.stalls[c]


# ================================================================ trap reports

def run_trap(text: str, rows: int = 1, cols: int = 1, **kw: int):  # noqa: ANN201
    m = Machine(rows, cols, **{**SMALL, **kw})
    m.load(assemble(text))
    res = m.run(max_cycles=10_000)
    assert res.status == "trap"
    return res.trap


@pytest.mark.parametrize("text, cause, addr, size, words", [
    ("li r1, 0x10000002\nlw r2, 0(r1)\n", "misaligned", SM + 2, 4, "load of 4 bytes"),
    ("li r1, 0x80000001\nsh r1, 0(r1)\n", "misaligned", GM + 1, 2, "store of 2 bytes"),
    ("li r1, 0x1000\nsb r1, 0(r1)\n", "out_of_range", 0x1000, 1, "store of 1 byte"),
    ("li r1, 0x80000ffe\nlhu r2, 2(r1)\n", "out_of_range", GM + 0x1000, 2, "load of 2"),
    ("li r1, 0xffc\nmacl.b r2, (r1)+, (r1)+\nmacl.b r2, (r1)+, (r1)+\n", "out_of_range",
     0x1000, 4, "load of 4"),
])
def test_trap_memory_address(text: str, cause: str, addr: int, size: int, words: str) -> None:
    t = run_trap(text)
    assert (t.cause, t.addr, t.size) == (cause, addr, size)
    assert words in t.detail and f"{addr:#x}" in t.detail
    assert t.to_json()["addr"] == addr


@pytest.mark.parametrize("dst, src, side, cause", [
    (0x101, 0x100, "destination", "misaligned"),
    (0x100, 0x102, "source", "misaligned"),
    (0xff8, 0x100, "destination", "out_of_range"),
    (0x100, 0x20000000, "source", "out_of_range"),
])
def test_trap_dma_side(dst: int, src: int, side: str, cause: str) -> None:
    t = run_trap(f"li r1, {dst}\nli r2, {src}\nli r3, 4\ndma r1, r2, r3\n")
    assert t.cause == cause and t.addr == (dst if side == "destination" else src)
    assert f"DMA {side}" in t.detail


@pytest.mark.parametrize("insn, d", [("send n, r1", "n"), ("send w, r1", "w"),
                                     ("recv r1, s", "s"), ("recv r1, e", "e")])
def test_trap_edge_direction(insn: str, d: str) -> None:
    t = run_trap(insn + "\nhalt\n")
    assert (t.cause, t.direction, t.to_json()["direction"]) == ("edge", d, d)
    assert f" {d}: there is no PE" in t.detail


def test_trap_deadlock_lists_every_blocked_pe() -> None:
    """2x2: (0,0) waits at sync, (0,1) recv from w (PE (0,0) never sends), (1,0) sends to n
    twice (the second finds (0,0)'s register full), (1,1) halts."""
    t = run_trap("""
    .pe 0,0
        sync
    .pe 0,1
        recv r1, w
    .pe 1,0
        send n, r1
        send n, r1
    .pe 1,1
        halt
    """, 2, 2)
    assert t.cause == "deadlock"
    got = {b.pe: (b.waits, b.pc) for b in t.blocked}
    assert got == {(0, 0): ("sync", 0), (0, 1): ("recv from w", 0),
                   (1, 0): ("send to n", 4)}
    why = {b.pe: b.why for b in t.blocked}
    assert "input register w is empty" in why[(0, 1)]
    assert "PE (0,0)'s input register s is full" in why[(1, 0)]
    js = t.to_json()["blocked"]
    assert {tuple(b["pe"]) for b in js} == set(got)
    text = t.describe()
    assert "recv from w" in text and "send to n" in text and "sync" in text


def test_trap_off_the_end_and_outside_the_code() -> None:
    t = run_trap("nop\nnop\n")
    assert t.cause == "illegal" and t.pc == 8
    assert "ran off the end of the code (missing halt?)" in t.detail
    t = run_trap("nop\n.word 0\nhalt\n")
    assert t.cause == "illegal" and t.pc == 4 and "0x00000000 is not an instruction" in t.detail
    t = run_trap("li r1, 0x100\njr r1\nhalt\n")
    assert t.cause == "illegal" and "outside the code" in t.detail
    t = run_trap("li r1, 0x102\njr r1\n")
    assert t.cause == "misaligned" and t.addr == 0x102 and "jump" in t.detail


def test_trap_cycle_limit_and_json_keys() -> None:
    m = machine(1, 2)
    m.load(assemble("l: j l\n"))
    res = m.run(max_cycles=50)
    t = res.trap
    assert t.cause == "cycle_limit" and "50" in t.detail and "2 PEs" in t.detail
    assert set(t.to_json()) >= {"cause", "pe", "pc", "line", "file", "detail", "addr",
                                "direction", "blocked"}
    json.dumps(res.to_json())


def test_trap_causes_are_documented() -> None:
    """Every cause the core reports is in isa.toml's decision `trap_causes` (and so in
    docs/isa.md)."""
    from pearray.emu.machine import TRAPS
    from pearray.isa import load as load_isa

    text = load_isa().decisions["trap_causes"]
    for cause in TRAPS[1:]:
        assert f"`{cause}`" in text
    for phrase in ("missing halt", "effective address", "direction", "what it waits for"):
        assert phrase in text


# ================================================================ lock step at a trap

LONG = """
    mfs r1, id
    beq r1, r0, 1f
    li r2, 5000
    loop r2, 2f
    addi r3, r3, 1
2:  halt
1:  li r4, 300
    loop r4, 3f
    addi r5, r5, 1
3:  li r6, 0x10000002
    lw r7, 0(r6)        # PE 0 traps here
    halt
"""


@pytest.mark.parametrize("rows, cols", [(1, 2), (2, 2), (3, 3)])
def test_lockstep_state_at_a_trap_is_exact(rows: int, cols: int) -> None:
    """With lockstep=True every PE is where lock step has it at the end of the trapping
    cycle: as a run paused (step) at that cycle, PE by PE."""
    prog = assemble(LONG)
    m = Machine(rows, cols, lockstep=True, **SMALL)
    m.load(prog)
    res = m.run()
    assert res.status == "trap" and res.trap.pe == (0, 0)
    ref = Machine(rows, cols, **SMALL)
    ref.load(prog)
    ref.step(res.cycles)
    want = ref.result()
    for i in range(1, m.npes):
        assert res.pes[i].to_json() == want.pes[i].to_json()
    assert res.pes[1].retired < 5000  # the other PEs were stopped mid-loop


# ================================================================ special registers

SPECIALS = """
    mfs r1, id
    addi r1, r1, -12
    mts dss, r1         # id - 12: negative on most PEs (signed)
    li r1, 40
    mts dds, r1
    mfs r1, id
    mts sat, r1         # sat = id != 0
    li r1, 0x12345
    mts lfsr, r1
    mfs r2, row
    mfs r3, col
    mfs r4, id
    mfs r5, rows
    mfs r6, cols
    mfs r7, sat
    mfs r8, lfsr
    mfs r9, dss
    mfs r10, dds
    halt
"""


def test_specials_are_what_mfs_reads() -> None:
    """Machine.specials(pe) gives every special register of the ISA table by name, at
    power on (decision power_on) and after a program wrote them: equal to what the
    program's own `mfs` read, PE by PE."""
    m = Machine(2, 3, **SMALL)
    m.load(assemble(SPECIALS))
    names = sorted(m.isa.enums["sreg"], key=m.isa.enums["sreg"].get)
    for i in range(m.npes):
        sp = m.specials(i)
        assert list(sp) == names
        assert sp == {"row": i // 3, "col": i % 3, "id": i, "rows": 2, "cols": 3, "cycle": 0,
                      "sat": 0, "lfsr": 0xACE1ACE1, "dss": 0, "dds": 0}
    m.step(4)
    assert m.specials((1, 2))["dss"] == (5 - 12) & 0xFFFF_FFFF  # the mts has retired
    assert m.specials((1, 2))["cycle"] == m.cycle == 4
    res = m.run()
    assert res.status == "halted"
    for i in range(m.npes):
        r = [int(v) for v in m.regs(i)]
        sp = m.specials(i)
        assert [sp[k] for k in ("row", "col", "id", "rows", "cols", "sat", "lfsr", "dss",
                                "dds")] == r[2:11]
        assert sp["sat"] == (i != 0) and sp["dss"] == (i - 12) & 0xFFFF_FFFF
        assert sp["cycle"] == m.cycle
    assert m.specials((0, 1)) == m.specials(1)


# ================================================================ properties

@settings(deadline=None)
@given(st.lists(st.sampled_from(["lw r5, 0(r3)", "sw r5, 4(r3)", "addi r5, r5, 1",
                                 "sync", "lb r6, 1(r3)", "sh r5, 2(r3)", "macl.b r7, (r8)+, (r9)+",
                                 "mac.b r7, r5, r6"]), min_size=1, max_size=12),
       st.sampled_from([0x10000000, 0x80000000, 0x100]))
def test_trace_memory_events_match_a_replay(body: list[str], base: int) -> None:
    """The loads and stores a trace reports are those a replay of the trace finds: every
    load's value is the bytes the last earlier store (or the initial memory) put there."""
    text = (f"li r3, {base}\nmfs r1, id\nslli.w r1, r1, 3\nadd.w r3, r3, r1\nli r8, 0x400\n"
            "li r9, 0x800\n") + "\n".join(body) + "\nhalt\n"
    m = machine(2, 2)
    m.load(assemble(text))
    rng = np.random.default_rng(3)
    init_lm = rng.integers(0, 256, m.lm.shape, dtype=np.uint8)
    m.lm[:] = init_lm
    recs, res = traced(m)
    assert res.status == "halted"
    shadow: dict[tuple[int, int], int] = {}  # (owner, byte address) -> byte
    for r in recs:
        owner = r.pe[0] * 2 + r.pe[1]
        for a in r.mem:
            key = owner if a.region == "lm" else -1
            if a.kind == "store":
                for k in range(a.size):
                    shadow[(key, a.addr + k)] = (a.value >> (8 * k)) & 0xFF
            else:
                for k in range(a.size):
                    b = shadow.get((key, a.addr + k))
                    if b is None:
                        b = int(init_lm[owner][a.addr + k]) if a.region == "lm" else 0
                    assert (a.value >> (8 * k)) & 0xFF == b


@pytest.mark.parametrize("text", PROGRAMS)
def test_trace_in_steps_equals_one_traced_run(text: str) -> None:
    """Stepping a cycle (or a few) at a time, as a debugger does, gives the same records as
    one traced run: a wait that spans several calls is one record with all its stalls."""
    prog = assemble(text)
    m = Machine(2, 3)
    m.load(prog)
    whole, _ = traced(m)
    m.load(prog)
    parts: list[TraceRecord] = []
    k = 0
    while m.step(1 + k % 3, trace=parts.append).status == "paused":
        k += 1
    assert [r.to_json() for r in parts] == [r.to_json() for r in whole]
