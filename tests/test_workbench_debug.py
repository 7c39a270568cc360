"""`pearray debug` driven by a script on stdin, through the installed command.

The program's timing is worked out by hand in its comments, so the cycles
the session reports are checked against arithmetic, not against a run.
"""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

from workbench_helpers import PEARRAY, SENDRECV

PROG = SENDRECV


def debug(tmp_path: Path, script: str, *args: str, prog: str = PROG
          ) -> subprocess.CompletedProcess[str]:
    src = tmp_path / "dbg.s"
    src.write_text(prog)
    return subprocess.run([str(PEARRAY), "debug", "dbg.s", "--rows", "1", "--cols", "2", *args],
                          cwd=tmp_path, input=script, capture_output=True, text=True,
                          timeout=120)


def after(out: str, command: str) -> list[str]:
    """The lines a command printed: from its echo to the next prompt."""
    lines = out.splitlines()
    k = lines.index(f"(pearray) {command}")
    rest = lines[k + 1:]
    end = next((j for j, line in enumerate(rest) if line.startswith("(pearray) ")), len(rest))
    return rest[:end]


def test_a_scripted_session(tmp_path: Path) -> None:
    script = """\
# comments and blank lines are skipped

step 3
where
pe 0,1
step
watch 0x80000004
break work 0,1
break left
break
watch
continue
where
continue
reg
mem buf:2
mem lm@0,1:0:2:x32
delete 3
continue
where
quit
"""
    run = debug(tmp_path, script)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stderr == ""
    out = run.stdout
    assert out.splitlines()[0] == ("pearray debug: dbg.s on 1x2 PEs, cycle 0; "
                                   "`help` lists the commands")
    steps = after(out, "step 3")
    assert steps[0].split()[:4] == ["cycle", "0", "pc=0x0000", "dbg.s:4"]
    assert steps[0].endswith("-> r1=0 (0x00000000)")
    assert steps[1].split()[:4] == ["cycle", "1", "pc=0x0004", "dbg.s:5"]
    assert steps[2].split()[:4] == ["cycle", "2", "pc=0x0008", "dbg.s:6"]
    assert steps[3].startswith("PE (0,0) pc=0x000c  dbg.s:7") and steps[3].endswith("[ready]")
    where = after(out, "where")
    assert where[0] == "cycle 3"
    assert where[1].startswith("* PE (0,0) pc=0x000c")
    assert where[2].startswith("  PE (0,1) pc=0x0024  dbg.s:13")
    assert where[2].endswith("[blocked: recv from w (its input register w is empty; "
                             "PE (0,0) is at pc=0xc)]")
    # stepping (0,1) waits for the word sent in cycle 25: blocked in cycles 2..25, the
    # first of them inside `step 3`, all in the step's record
    stepped = after(out, "step")
    assert stepped[0].split()[:3] == ["cycle", "26", "pc=0x0024"]
    assert stepped[0].endswith("-> r3=42 (0x0000002a); recv from w: 0x2a; stalled recv 24")
    assert after(out, "watch 0x80000004") == [
        "watchpoint 1 on the word at 0x80000004, stores"]
    assert after(out, "break work 0,1") == ["breakpoint 2 at work (pc 0x34) on PE (0,1)"]
    assert after(out, "break") == ["  breakpoint 2 at work (pc 0x34) on PE (0,1)",
                                   "  breakpoint 3 at left (pc 0x8) on every PE"]
    # li r4, buf is two words (cycles 27, 28); sw issues in 29: the run stops at its end
    lines = out.splitlines()
    conts = [k for k, line in enumerate(lines) if line == "(pearray) continue"]
    assert lines[conts[0] + 1] == (
        "watchpoint 1 at cycle 30: PE (0,1) pc=0x30 (dbg.s:15) wrote the word at "
        "0x80000004: 0x00000000 -> 0x0000002a")
    where = lines[conts[0] + 3:conts[0] + 6]
    assert where[0] == "cycle 30"
    assert where[1].endswith("[waits at sync]")
    assert where[2].startswith("* PE (0,1) pc=0x0034") and where[2].endswith(
        "[busy until cycle 37]")  # the GM store's 8 cycles
    assert lines[conts[1] + 1].startswith("breakpoint 2 (work) at cycle 37: PE (0,1) "
                                          "pc=0x0034  dbg.s:16")
    regs = after(out, "reg")
    assert regs[0].endswith("[ready]")
    assert regs[1].split()[9:12] == ["r3", "42", "0x0000002a"]
    assert regs[2].split()[:3] == ["r4", "-2147483648", "0x80000000"]
    # mfs, bne, recv, lui, ori, sw have retired; the special registers are as at power on
    assert regs[-1] == "  sat 0  lfsr 0xace1ace1  dss 0  dds 0  retired 6  cycle 37"
    assert after(out, "mem buf:2")[1].split() == ["0x80000000:", "0", "42"]
    assert after(out, "mem lm@0,1:0:2:x32")[1].split() == ["0x00000000:", "0x00000000",
                                                            "0x00000000"]
    assert after(out, "delete 3") == ["deleted breakpoint 3"]
    assert lines[conts[2] + 1] == "every PE halted after 40 cycles"
    assert lines[conts[2] + 3:conts[2] + 6] == [
        "cycle 40", "  PE (0,0) pc=0x0024  [halted]", "* PE (0,1) pc=0x0040  [halted]"]


def test_bad_commands_are_errors_not_tracebacks(tmp_path: Path) -> None:
    script = """\
bogus
step x
step 0
step 1 2
pe 5,5
pe one
reg 9,0
mem nosuch:1
mem
break nowhere
break 0x3
break buf
watch work
watch 0x3000 9,9
delete 7
continue
continue
"""
    run = debug(tmp_path, script)
    errors = run.stderr.splitlines()
    assert errors == [
        "error: unknown command 'bogus'; `help` lists the commands",
        "error: step: 'x' is not a number",
        "error: step: N must be at least 1",
        "error: step takes one number",
        "error: PE (5,5) is outside the 1x2 array",
        "error: expected a PE as ROW,COL, got 'one'",
        "error: PE (9,0) is outside the 1x2 array",
        "error: 'nosuch:1': 'nosuch' is neither a region (lm, lm@R,C, sm, gm) nor a symbol "
        "of the program; the program's symbols: buf, left, right, work",
        "error: mem needs one SPEC: REGION:ADDR:COUNT[:FMT] or SYMBOL:COUNT[:FMT]",
        "error: 'nowhere' is neither an address nor a label of the program",
        "error: 0x3 is not an instruction address",
        "error: 'buf' is a data label: break at a code address or label",
        "error: 'work' is a code label: watch a data address or label",
        "error: PE (9,9) is outside the 1x2 array",
        "error: no breakpoint or watchpoint 7",
        "error: every PE has halted: nothing left to run (reg, mem, where still work; "
        "quit leaves)",
    ]
    assert "Traceback" not in run.stdout + run.stderr
    assert run.returncode == 2  # a script with a wrong command fails


TRAP = """\
        mfs r1, col
        bne r1, r0, 1f
        lui r2, 0x40000          # no memory at 0x40000000
        lw r3, 0(r2)
1:      recv r4, w
        halt
"""

DEADLOCK = """\
.pe 0,0
        recv r1, e
        halt
.pe 0,1
        recv r1, w
        halt
"""


def test_a_trap_ends_the_run_with_status_1(tmp_path: Path) -> None:
    run = debug(tmp_path, "continue\nwhere\nreg\nstep\n", prog=TRAP)
    assert run.returncode == 2  # the step after the trap is an error
    out = run.stdout
    trap = after(out, "continue")
    assert trap[0] == "trap: out_of_range at PE (0,0) pc=0xc (dbg.s:4)"
    where = after(out, "where")
    assert where[2].endswith("[blocked: recv from w (its input register w is empty; "
                             "PE (0,0) is at pc=0xc)]")
    assert after(out, "reg")[0].startswith("PE (0,0) pc=0x000c  dbg.s:4")  # the trapping PE
    assert run.stderr == ("error: the run ended in a trap: nothing left to run (reg, mem, "
                          "where still work; quit leaves)\n")
    assert debug(tmp_path, "continue\n", prog=TRAP).returncode == 1


def test_deadlock_shows_what_each_pe_waits_for(tmp_path: Path) -> None:
    run = debug(tmp_path, "pe 0,2\nstep\ncontinue\nwhere\n", "--cols", "3", prog=DEADLOCK)
    assert run.returncode == 2  # the step on a PE without code was wrong
    assert run.stderr == ("error: PE (0,2) has no code; `pe R,C` selects another, `continue` "
                          "runs on\n")
    assert after(run.stdout, "continue")[0].startswith("trap: deadlock at PE (0,0)")
    where = after(run.stdout, "where")
    assert where[1].endswith("[blocked: recv from e (its input register e is empty; "
                             "PE (0,1) is at pc=0x0)]")
    assert where[2].endswith("[blocked: recv from w (its input register w is empty; "
                             "PE (0,0) is at pc=0x0)]")
    assert where[3] == "  PE (0,2) pc=0x0000  [no code]"


def test_unfinished_session_and_help(tmp_path: Path) -> None:
    run = debug(tmp_path, "help\nstep\n")
    assert run.returncode == 1  # not every PE has halted
    assert any(line.startswith("  watch ADDR|SYMBOL [R,C]") for line in after(run.stdout, "help"))
    assert debug(tmp_path, "continue\n").returncode == 0
    assert debug(tmp_path, "", "--rows", "0").returncode == 2


def test_step_waits_with_patience(tmp_path: Path) -> None:
    # PE (0,1) blocks forever on a recv while (0,0) spins: step gives up and says why
    prog = "        mfs r1, col\n        bne r1, r0, 1f\n2:      j 2b\n1:      recv r2, w\n"
    run = debug(tmp_path, "pe 0,1\nstep 3\n", prog=prog)
    lines = after(run.stdout, "step 3")
    assert lines[-1] == ("PE (0,1) retired nothing in 10000 cycles [blocked: recv from w "
                         "(its input register w is empty; PE (0,0) is at pc=0x8)]; "
                         "`continue` runs on")


# Waits of every kind, timed by hand (decisions neighbours and sync): a word sent in
# cycle t can be received in t+1, and a register emptied in t can be sent into in t+1.
WAITS = """\
        mfs r1, col             # cycle 0
        bne r1, r0, right       # 1
left:   addi r2, r0, 7          # (0,0) 2
        send e, r2              # 3: into (0,1)'s input register w
        send e, r2              # blocked 4..14 (w full until the recv of 14); sends in 15
        sync                    # waits 16..23; the barrier completes in 24
        halt                    # 25
right:  addi r5, r0, 10         # (0,1) 2
        loop r5, 1f             # 3
        nop                     # 4..13
1:      recv r3, w              # 14: the first word
        recv r4, w              # blocked in 15 (the word sent in 15); takes it in 16
        addi r5, r0, 5          # 17
        loop r5, 2f             # 18
        nop                     # 19..23
2:      sync                    # 24: the last to arrive, no wait
        halt                    # 25
"""


def test_stepping_a_wait_shows_it(tmp_path: Path) -> None:
    """One `step` over a send, recv or sync that waits (many cycles, each a traced call
    of its own, some made while another PE was selected) prints the instruction's record
    with the whole wait."""
    script = "step 5\npe 0,1\nstep\npe 0,0\nstep\nquit\n"
    run = debug(tmp_path, script, prog=WAITS)
    assert run.returncode == 1, run.stderr  # quit before the end
    lines = after(run.stdout, "step 5")
    assert [line.split()[1] for line in lines[:5]] == ["0", "1", "2", "3", "15"]
    assert lines[3].endswith("-> send to e: 0x7")  # no wait
    assert lines[4].endswith("-> send to e: 0x7; stalled send 11")
    out = run.stdout.splitlines()
    steps = [k + 1 for k, line in enumerate(out) if line == "(pearray) step"]
    # (0,1) took the first word in 14 and waits for the second since 15
    assert out[steps[0]].split()[:2] == ["cycle", "16"]
    assert out[steps[0]].endswith("-> r4=7 (0x00000007); recv from w: 0x7; stalled recv 1")
    assert out[steps[1]].split()[:2] == ["cycle", "24"]
    assert out[steps[1]].endswith("completes in 24   -> stalled sync 8")


def test_machine_steps_of_one_cycle_keep_a_wait_in_one_record() -> None:
    """The same waits through Machine.step(1, trace=...) alone: the record of each waiting
    instruction carries every stall cycle, whichever call it retired in."""
    from pearray.asm import assemble
    from pearray.emu.machine import Machine

    m = Machine(1, 2)
    m.load(assemble(WAITS))
    recs = []
    while m.step(1, trace=recs.append).status == "paused":
        pass
    assert m.cycle == 26
    waited = [(r.pe, r.cycle, r.stalls) for r in recs if r.stalls]
    assert waited == [((0, 0), 15, {"send": 11}), ((0, 1), 16, {"recv": 1}),
                      ((0, 0), 24, {"sync": 8})]


def test_a_terminal_gets_a_prompt(tmp_path: Path) -> None:
    src = tmp_path / "dbg.s"
    src.write_text(PROG)
    primary, secondary = pty.openpty()
    proc = subprocess.Popen([str(PEARRAY), "debug", "dbg.s", "--cols", "2", "--rows", "1"],
                            cwd=tmp_path, stdin=secondary, stdout=secondary, stderr=secondary)
    os.close(secondary)
    os.write(primary, b"step\n\nquit\n")
    chunks = []
    while True:
        try:
            data = os.read(primary, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait(timeout=60) == 1
    os.close(primary)
    text = b"".join(chunks).decode()
    assert text.count("(pearray) ") >= 3
    assert "cycle      0  pc=0x0000" in text
    assert "cycle      1  pc=0x0004" in text  # the empty line repeated the step


def test_load_before_the_session(tmp_path: Path) -> None:
    (tmp_path / "w.raw").write_bytes(bytes([1, 0, 0, 0, 2, 0, 0, 0]))
    run = debug(tmp_path, "mem buf:2\n", "--load", "buf=w.raw")
    assert after(run.stdout, "mem buf:2")[1].split() == ["0x80000000:", "1", "2"]
    run = debug(tmp_path, "", "--load", "buf=nope.raw")
    assert run.returncode == 2 and "--load cannot read file nope.raw" in run.stderr


def test_step_shows_loads_stores_and_sends(tmp_path: Path) -> None:
    run = debug(tmp_path, "pe 0,1\nstep 6\n")
    out = after(run.stdout, "step 6")  # mfs, bne, recv, lui, ori, sw
    assert out[5].split()[:3] == ["cycle", "29", "pc=0x0030"]
    assert out[5].endswith("-> store 0x80000004 <- 0x2a; stalled memory 7")
    sends = after(debug(tmp_path, "step 26\n").stdout, "step 26")  # 20 nops in a loop
    assert sends[-2].split()[:3] == ["cycle", "25", "pc=0x0018"]
    assert sends[-2].endswith("-> send to e: 0x2a")


def test_include_dirs(tmp_path: Path) -> None:
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "defs.inc").write_text(".equ ANSWER, 42\n")
    prog = '.include "defs.inc"\n        addi r1, r0, ANSWER\n        halt\n'
    assert debug(tmp_path, "continue\n", prog=prog).returncode == 2  # not found
    run = debug(tmp_path, "continue\nreg\n", "-I", "inc", prog=prog)
    assert run.returncode == 0, run.stderr
    assert after(run.stdout, "reg")[1].split()[3:6] == ["r1", "42", "0x0000002a"]


def test_debug_uses_only_the_public_machine_api() -> None:
    """emu/debug.py and emu/memspec.py read the machine through its public methods
    (regs, specials, pe_state, word_at, source_line, ...), never its private fields,
    which change with the core."""
    import ast

    root = Path(__file__).resolve().parents[1] / "emu"
    for name in ("debug.py", "memspec.py"):
        tree = ast.parse((root / name).read_text())
        private = [(node.lineno, node.attr) for node in ast.walk(tree)
                   if isinstance(node, ast.Attribute) and node.attr.startswith("_")
                   and not node.attr.startswith("__")
                   and not (isinstance(node.value, ast.Name) and node.value.id in ("self",
                                                                                  "cls"))]
        assert private == [], f"{name}: {private}"
