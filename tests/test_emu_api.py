"""The emulator's host API under hostile input (issue 13): every bad argument is a clear
ValueError or TypeError (never a cffi traceback), Ctrl-C interrupts any run within
0.2 s leaving a paused machine, the default cycle limit scales with the array, a trap
report reads its source line only from a regular file and only that line, and the
stale-core guard covers the generated C and the compiler flags."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from pearray.asm import assemble
from pearray.asm.program import Program
from pearray.emu import codegen
from pearray.emu import machine as machine_mod
from pearray.emu.machine import Machine, read_source_line

GM = 0x8000_0000
SMALL = {"gm_size": 4096, "sm_size": 4096, "lm_size": 4096}
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def m() -> Machine:
    mm = Machine(2, 2, **SMALL)
    mm.load(assemble("halt\n"))
    return mm


# ================================================================ validation

@pytest.mark.parametrize("call, exc, words", [
    (lambda m: m.read(GM, -1), ValueError, "count=-1"),
    (lambda m: m.read(GM, 2**40), ValueError, "count"),
    (lambda m: m.read(GM, 1.5), TypeError, "count"),
    (lambda m: m.read(0, 4, pe=-1), ValueError, "pe=-1"),
    (lambda m: m.read(0, 4, pe=4), ValueError, "pe=4"),
    (lambda m: m.read(0, 4, pe=(0, 2)), ValueError, "col=2"),
    (lambda m: m.read(0, 4), ValueError, "needs pe="),
    (lambda m: m.read(-4, 1), ValueError, "addr=-4"),
    (lambda m: m.read(2**32, 1), ValueError, "addr"),
    (lambda m: m.read(GM + 4090, 8), ValueError, "not inside one memory region"),
    (lambda m: m.read(GM, 1, dtype=object), TypeError, "numeric"),
    (lambda m: m.write(GM, None), TypeError, "NoneType"),
    (lambda m: m.write(GM, "abc"), TypeError, "str"),
    (lambda m: m.write(GM, [1, 2]), TypeError, "np.array"),
    (lambda m: m.write(GM, np.array(["a"])), TypeError, "numeric"),
    (lambda m: m.write(GM, np.array([object()])), TypeError, "numeric"),
    (lambda m: m.write(GM, b"x", pe=9), ValueError, "pe=9"),
    (lambda m: m.regs(-1), ValueError, "pe=-1"),
    (lambda m: m.pc(16), ValueError, "pe=16"),
    (lambda m: m.run(-1), ValueError, "max_cycles=-1"),
    (lambda m: m.run(10**30), ValueError, "max_cycles"),
    (lambda m: m.run(1.0), TypeError, "max_cycles"),
    (lambda m: m.run(True), TypeError, "max_cycles"),
    (lambda m: m.step(2**64), ValueError, "n="),
    (lambda m: m.step(-1), ValueError, "n=-1"),
    (lambda m: m.load(None), TypeError, "Program"),
    (lambda m: m.load(b"PEARRAY\0"), TypeError, "Program.from_bytes"),
    (lambda m: m.add_breakpoint(-4), ValueError, "address"),
    (lambda m: m.add_breakpoint(2**40), ValueError, "address"),
])
def test_bad_arguments_are_clear_errors(m: Machine, call, exc, words: str) -> None:  # noqa: ANN001
    with pytest.raises(exc, match=words.replace("(", r"\(").replace(".", r"\.")):
        call(m)


@pytest.mark.parametrize("kw, words", [
    ({"lm_base": 0x8000_0000}, "overlap"),
    ({"sm_base": 0x0000_0800}, "overlap"),
    ({"gm_base": 0xFFFF_F800}, "32-bit address space"),
    ({"gm_base": 0xFFFF_FFFC, "gm_size": 8}, "32-bit address space"),
    ({"lm_base": 2**32}, "lm_base"),
    ({"lm_base": 2}, "multiples of 4"),
    ({"gm_size": 6}, "multiples of 4"),
    ({"lm_cost": 2**40}, "lm_cost"),
    ({"lm_cost": 0}, "lm_cost"),
    ({"sm_banks": -1}, "sm_banks"),
    ({"imem_words": 0}, "imem_words"),
    ({"imem_words": 2**33}, "imem_words"),
    ({"lfsr_taps": 2**32}, "lfsr_taps"),
    ({"lfsr_reset": 0}, "lfsr_reset"),
    ({"dma_queue": 9}, "dma_queue"),
    ({"gm_port_words": 0}, "gm_port_words"),
    ({"gm_size": 2**31, "sm_size": 2**30}, "bytes"),
    ({"nonsense": 1}, "unknown"),
])
def test_bad_machine_parameters_are_clear_errors(kw: dict, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        Machine(1, 1, **{**SMALL, **kw})


@pytest.mark.parametrize("kw", [{"lm_cost": 1.5}, {"gm_size": "big"}, {"sm_banks": None},
                                {"rows": 2.0}, {"cols": "4"}])
def test_machine_parameters_must_be_integers(kw: dict) -> None:
    rows, cols = kw.pop("rows", 1), kw.pop("cols", 1)
    with pytest.raises(TypeError):
        Machine(rows, cols, **kw)


def test_valid_edges_still_work() -> None:
    """A missing region (size 0) may sit anywhere; a region may end at 2**32; read and
    write take (row, col) PEs and zero lengths."""
    mm = Machine(1, 2, sm_size=0, sm_base=0x8000_0000, gm_base=0xFFFF_F000, gm_size=0x1000,
                 lm_size=4096)
    mm.load(assemble("halt\n"))
    mm.write(0xFFFF_FFFC, np.array([7], np.uint32))
    assert mm.read(0xFFFF_FFFC, 1, np.uint32)[0] == 7
    mm.write(0x10, np.array([3], np.uint16), pe=(0, 1))
    assert mm.read(0x10, 1, np.uint16, pe=1)[0] == 3
    assert len(mm.read(0xFFFF_F000, 0)) == 0
    mm.write(0xFFFF_F000, np.float32(1.0))  # numpy scalars are numeric data too
    assert mm.read(0xFFFF_F000, 1, np.float32)[0] == 1.0


def test_run_zero_cycles_is_a_cycle_limit() -> None:
    mm = Machine(1, 1, **SMALL)
    mm.load(assemble("halt\n"))
    res = mm.run(0)
    assert res.status == "trap" and res.trap.cause == "cycle_limit" and res.cycles == 0


# ================================================================ the cycle limit

def test_default_cycle_limit_scales_with_the_array(monkeypatch: pytest.MonkeyPatch) -> None:
    """A budget of PE-cycles: 16x16 gets 1/16 of 4x4's cycles (at least the minimum)."""
    assert Machine(16, 16).default_max_cycles * 256 <= machine_mod.DEFAULT_PE_CYCLES
    assert Machine(4, 4).default_max_cycles == machine_mod.DEFAULT_PE_CYCLES // 16
    assert Machine(1, 1).default_max_cycles == machine_mod.DEFAULT_PE_CYCLES
    monkeypatch.setattr(machine_mod, "DEFAULT_PE_CYCLES", 16 * 3000)
    monkeypatch.setattr(machine_mod, "MIN_DEFAULT_CYCLES", 10)
    mm = Machine(4, 4, **SMALL)
    mm.load(assemble("l: j l\n"))
    res = mm.run()
    assert res.trap.cause == "cycle_limit" and res.cycles == 3000
    assert "3,000" in res.trap.detail


# ================================================================ Ctrl-C

CHILD = textwrap.dedent("""
    import sys, time
    from pearray.asm import assemble
    from pearray.emu.machine import Machine
    m = Machine({rows}, {cols})
    m.load(assemble({text!r}))
    print("ready", flush=True)
    try:
        m.run(max_cycles=10**15)
    except KeyboardInterrupt:
        t = time.perf_counter()
        c = m.cycle
        r = m.step(5)  # the machine is paused between two cycles and runs on
        assert r.status == "paused" and m.cycle == c + 5, (r.status, m.cycle, c)
        print("interrupted", c, flush=True)
        sys.exit(0)
    sys.exit(3)
""")


@pytest.mark.parametrize("rows, cols, text", [
    (16, 16, "l: j l\n"),
    (4, 4, "li r1, 0x10000000\nl: lw r2, 0(r1)\nsw r2, 4(r1)\nj l\n"),   # lock-step work
    (2, 2, "l: li r5, 0\nli r2, 1000\nloop r2, 1f\nmacl.b r3, (r4), (r5)+\n1: j l\n"),
])
def test_ctrl_c_interrupts_within_a_fifth_of_a_second(rows: int, cols: int, text: str) -> None:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    # -P: the checkout (the current folder) must not shadow the installed package
    p = subprocess.Popen([sys.executable, "-P", "-c", CHILD.format(rows=rows, cols=cols,
                                                                   text=text)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert p.stdout.readline().strip() == "ready"
        time.sleep(0.5)  # well inside the run
        t0 = time.perf_counter()
        p.send_signal(signal.SIGINT)
        line = p.stdout.readline()
        dt = time.perf_counter() - t0
        assert p.wait(10) == 0, p.stderr.read()
    finally:
        p.kill()
    assert line.startswith("interrupted"), line
    assert int(line.split()[1]) > 0
    assert dt < 0.2, f"{dt:.3f} s from SIGINT to KeyboardInterrupt"


# ================================================================ source lines in traps

def test_source_line_read_only_from_regular_files(tmp_path: Path) -> None:
    src = tmp_path / "a.s"
    src.write_text("nop\n  lw r1, 0(r2)  \nhalt\n")
    assert read_source_line(str(src), 2) == "  lw r1, 0(r2)  "
    assert read_source_line(str(src), 4) is None
    assert read_source_line(str(src), 0) is None
    assert read_source_line(str(tmp_path), 1) is None  # a directory
    assert read_source_line(str(tmp_path / "missing.s"), 1) is None
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    t = time.perf_counter()
    assert read_source_line(str(fifo), 1) is None  # no writer: would block forever
    assert read_source_line("/dev/zero", 1) is None  # would read forever
    assert time.perf_counter() - t < 1
    big = tmp_path / "big.s"
    with open(big, "wb") as fh:
        fh.write(b"x" * (3 * machine_mod.SOURCE_LINE_MAX) + b"\nsecond\n")
    assert read_source_line(str(big), 1) == "x" * machine_mod.SOURCE_LINE_MAX
    assert read_source_line(str(big), 2) == "second"


def test_trap_report_names_an_unreadable_file_without_reading_it(tmp_path: Path) -> None:
    """A container may name any file: a FIFO and /dev/zero are not opened for reading a
    line (the report still gives file and line), a regular file gives its line."""
    fifo = tmp_path / "fifo.s"
    os.mkfifo(fifo)
    real = tmp_path / "real.s"
    real.write_text("li r1, 2\nlw r2, 0(r1)\n")
    for name, text in ((str(fifo), None), ("/dev/zero", None), (str(real), "lw r2, 0(r1)")):
        prog = assemble("li r1, 2\nlw r2, 0(r1)\n")
        blob = Program.from_bytes(prog.to_bytes())
        blob.files = [name]
        mm = Machine(1, 1, **SMALL)
        mm.load(blob)
        res = mm.run(100)
        assert res.trap.cause == "misaligned"
        assert (res.trap.file, res.trap.line, res.trap.source) == (name, 2, text)


# ================================================================ the stale-core guard

def test_stale_guard_covers_generated_source_and_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    base = codegen.source_hash()
    monkeypatch.setenv("PEARRAY_CORE_OPT", "-O1")
    assert codegen.source_hash() != base  # the flags
    monkeypatch.setenv("PEARRAY_CORE_OPT", "-O3")
    assert codegen.source_hash() == base
    real = codegen.tables
    monkeypatch.setattr(codegen, "tables", lambda isa: real(isa) + "\n/* changed */")
    assert codegen.source_hash() != base  # what isa/spec.py and isa.toml generate
    monkeypatch.setattr(codegen, "source_hash", lambda isa=None: "0" * 16)
    with pytest.raises(machine_mod.CoreStale, match="stale.*flags"):
        machine_mod._load_core()
    monkeypatch.setenv("PEARRAY_CORE_OPT", "-O9")
    with pytest.raises(ValueError, match="PEARRAY_CORE_OPT"):
        codegen.cflags()


def test_built_core_matches_these_sources() -> None:
    core = machine_mod._core
    assert core.ffi.string(core.lib.pe_source_hash()).decode() == codegen.source_hash()
    assert core.ffi.string(core.lib.pe_build_flags()).decode() == " ".join(codegen.cflags())
