"""The docs say what the emulator does: load/store and macl costs, the GM port of the
DMA engines (the worked example of decision `dma`), inclusive `.pe` ranges, the
power-on state, and docs/api.md's example (run, its output compared)."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pearray.asm import assemble
from pearray.emu.machine import Machine
from pearray.isa import load as load_isa

ROOT = Path(__file__).resolve().parent.parent
ISA = load_isa()
DOC = (ROOT / "docs" / "isa.md").read_text()


def entry(pattern: str) -> str:
    """The text of one instruction's entry in docs/isa.md, found by a regex of its heading
    line (`lw rd, ...`; `macl.{...} rd, (rs)+, (rt)+`)."""
    k = re.search(f"^`{pattern}", DOC, re.M).start()
    return DOC[k:DOC.index("\n\n`", k + 1)]


def cycles_between(body: str) -> list[int]:
    """Cycles each marked instruction took: `body` marks the instructions to time with
    `#>`; each is bracketed by `mfs cycle` reads into r9..r15 (neighbours share one), so
    the body uses r1..r8 only."""
    free = iter(range(9, 16))
    lines: list[str] = []
    pairs: list[tuple[int, int]] = []
    after = None
    for line in body.strip().splitlines():
        if "#>" not in line:
            lines.append(line)
            after = None
            continue
        before = after if after is not None else next(free)
        if after is None:
            lines.append(f"        mfs r{before}, cycle")
        after = next(free)
        lines += [line.split("#>")[0], f"        mfs r{after}, cycle"]
        pairs.append((before, after))
    m = Machine(1, 1)
    m.load(assemble("\n".join(lines) + "\n        halt\n"))
    res = m.run(10_000)
    assert res.status == "halted"
    r = res.pes[0].regs
    return [r[b] - r[a] - 1 for a, b in pairs]  # less the mfs itself


def test_loads_and_stores_cost_the_region_in_total() -> None:
    p = ISA.machine
    got = cycles_between("""
        li r1, 0x10000000
        li r2, 0x80000000
        lw r3, 0(r0)                #>
        lw r3, 0(r1)                #>
        lw r3, 0(r2)                #>
        sw r3, 4(r2)                #>
        sb r3, 4(r1)                #>
    """)
    assert got == [p["lm_cost"], p["sm_cost"], p["gm_cost"], p["gm_cost"], p["sm_cost"]]
    assert "the region's cost in total (LM 1, SM 2, GM 8" in entry("lw ")
    assert "plus memory cost" not in DOC


def test_macl_costs_as_documented() -> None:
    got = cycles_between("""
        li r1, 0x10000000           # SM, bank 0
        li r2, 0x10000104           # SM, bank 1
        li r3, 0x10000040           # SM, bank 0 again
        li r4, 0x80000000
        li r5, 0x80000100
        addi r6, r0, 0x100
        addi r7, r0, 0x200
        macl.b r8, (r6)+, (r7)+     #>
        macl.b r8, (r1)+, (r2)+     #>
        macl.b r8, (r4)+, (r5)+     #>
        macl.b r8, (r6)+, (r4)+     #>
        li r1, 0x10000000
        macl.b r8, (r1)+, (r3)+     #>
    """)
    got += cycles_between("""
        li r4, 0x80000000
        li r5, 0x80000100
        macl.b r8, (r4), (r5)+      #>
    """)
    assert got == [1, 3, 15, 8, 4, 15]
    text = entry(r"macl\.\{[a-z,]+\} rd, \(rs\)\+, \(rt\)\+`")
    assert "1 with all in LM, 3 in SM, 15 in GM" in text
    assert "both words in SM take 3 cycles, both in GM 15, one in LM and one in GM 8" in (
        ISA.decisions["macl"])


def test_dma_gm_port_worked_example() -> None:
    """Decision `dma`: every PE of the 4x4 array issues 64 GM words to its LM in cycle t:
    PEs 0..7 end in t+72, PE k >= 8 in t+8+8(k+1), PE 15 in t+136."""
    text = ISA.decisions["dma"]
    assert "PEs 0..7 end in t+72" in text and "PE 15 in t+136" in text
    prog = assemble("""
        li r1, 0x80000000       # cycle 0 (one lui)
        addi r2, r0, 0x100      # 1
        addi r3, r0, 64         # 2
        dma r2, r1, r3          # t = 3 on every PE
        halt                    # the PE is done when its engine is
    """)
    m = Machine(4, 4)
    m.load(prog)
    res = m.run()
    t = 3
    want = [t + max(72, 8 + 8 * (k + 1)) for k in range(16)]
    assert [p.cycles for p in res.pes] == want
    assert res.cycles == t + 136
    assert res.memory["gm"]["loads"] == 16 * 64


def test_pe_ranges_are_inclusive() -> None:
    assert "Ranges are inclusive: `.pe 0:1,1:3`" in ISA.decisions["pe_images"]
    m = Machine(4, 4)
    m.load(assemble(".pe 0:1,1:3\n        mfs r1, id\n        halt\n"))
    res = m.run()
    ran = {(p.row, p.col) for p in res.pes if p.retired}
    assert ran == {(r, c) for r in (0, 1) for c in (1, 2, 3)}
    assert all(p.halted for p in res.pes)


def test_power_on_state() -> None:
    assert "decision `power_on`" in (ROOT / "docs" / "api.md").read_text()
    assert "registers r0-r15 are 0, pc 0, `sat` 0, `lfsr` = `lfsr_reset`" in (
        ISA.decisions["power_on"])
    prog = assemble("""
        .data
d:      .word 0x12345678
        .text
.pe 0,0
        mfs r1, cycle           # the first instruction (pc 0) issues in cycle 0
        mfs r2, sat
        mfs r3, lfsr
        mfs r4, dss
        mfs r5, dds
        li r6, 0x80000004
        lw r7, 0(r6)            # GM beside the data: 0
        lw r8, 0x10(r0)         # LM: 0
        addi r9, r0, 1
        sw r9, 0x10(r0)         # leaves a 1 in LM and in GM for the next load
        sw r9, 0(r6)
        halt
    """)
    m = Machine(1, 2)
    for clear in (True, False):
        if clear:
            m.gm[:8] = 0xEE  # garbage that load(clear=True) removes
        m.load(prog, clear=clear)
        res = m.run()
        r = res.pes[0].regs
        assert r[1:6] == [0, 0, ISA.machine["lfsr_reset"], 0, 0]
        assert r[10:] == [0] * 6
        assert m.read(0x80000000, 1, np.uint32)[0] == 0x12345678
        assert (r[7], r[8]) == ((0, 0) if clear else (1, 1))
        other = res.pes[1]  # no code: halted from the start
        assert other.halted and other.retired == 0 and other.regs == [0] * 16


def test_api_example_prints_what_the_page_says() -> None:
    text = (ROOT / "docs" / "api.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S)[1]
    shown = re.search(r"prints\n\n```text\n(.*?)```", text, re.S)[1]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "docs/api.md", "exec"), {})
    assert out.getvalue() == shown


@pytest.mark.parametrize("name", ["power_on", "macl", "dma", "pe_images", "memory_cost"])
def test_decisions_are_rendered(name: str) -> None:
    assert f"**{name}.** {ISA.decisions[name]}" in DOC


def test_a_checkout_that_shadows_the_install_says_so(tmp_path: Path) -> None:
    """Run from the root of a checkout whose core is not built, `python -c` imports the
    checkout's pearray, not the installed one: the import error says so and what to do."""
    tree = tmp_path / "tree"
    ignore = shutil.ignore_patterns("__pycache__", "_core*.so", "build", "*.egg-info")
    for name in ("isa", "asm", "emu", "pearray"):
        shutil.copytree(ROOT / name, tree / name, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", tree)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    def py(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=120)

    note = py("-c", "import pearray; print(pearray.source_tree_note())", cwd=tree).stdout
    assert f"imported from the source tree {tree}, ahead of the installed package" in note
    assert "python -P" in note
    assert py("-c", "import pearray; print(pearray.source_tree_note())",
              cwd=tmp_path).stdout.strip() == ""
    # -P keeps the current folder off sys.path: the installed package is imported
    assert py("-P", "-c", "import pearray.emu.machine", cwd=tree).returncode == 0
    done = py("-c", "import pearray.emu.machine", cwd=tree)
    if done.returncode:  # (an editable install lends its core to the tree instead)
        assert "note: pearray was imported from the source tree" in done.stderr
