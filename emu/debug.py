"""`pearray debug`: step through a program on the emulated array (ARCH.md §9).

The debugger reads commands from a terminal (with readline) or, when stdin is
not one, line by line from it, so that a session can be scripted::

    pearray debug prog.s < cmds.txt

The machine runs in lock step (`Machine(lockstep=True)`), so every PE's state
is exact wherever the run stops.  `step` advances the array one cycle at a time
until the selected PE has retired N instructions; `continue` runs until a
breakpoint or watchpoint, a trap, or every PE halted.

Exit status, at `quit` or the end of the input: 0 when every PE halted, 1 when
the run trapped or has not finished, 2 when the program does not assemble or
(commands from a script) a command was wrong.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from pearray.cli import UsageError

PROMPT = "(pearray) "
STEP_PATIENCE = 10_000  # cycles `step` waits for the selected PE to retire one instruction
HELP = """\
commands (R,C is a PE: row,col):
  step [N]             run until the selected PE has retired N instructions (default 1)
  continue             run until a breakpoint, a watchpoint, a trap or every PE halted
  break [LABEL|ADDR [R,C]]
                       stop before an instruction issues (on every PE, or on R,C only);
                       without arguments, list the breakpoints
  delete N|all         remove breakpoint or watchpoint N, or all of them
  watch ADDR|SYMBOL [R,C]
                       stop after a store to that word (by any PE, or by R,C only: an LM
                       word is then that PE's); without arguments, list the watchpoints
  reg [R,C]            the registers of the selected PE (or R,C), signed and hex
  mem SPEC             memory, as `pearray run --dump`: REGION:ADDR:COUNT[:FMT] or
                       SYMBOL:COUNT[:FMT] (lm alone is PE 0,0's; lm@R,C another's)
  pe R,C               select the PE that step and reg show
  where                every PE: pc, source line, state (running, halted, blocked on what)
  help                 this text
  quit                 leave (also end of input); exit status as `pearray run`'s
"""


class CommandError(Exception):
    """A command the debugger cannot do: printed, and the session goes on."""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "debug", help="step through a program: breakpoints, watchpoints, registers, memory",
        description="Interactive debugger for a program (.s or .bin) on the emulated array.\n"
        "Reads commands from stdin when it is not a terminal, so sessions can be scripted.\n"
        "Exit status: 0 every PE halted, 1 a trap or an unfinished run, 2 bad assembly,\n"
        "usage, or a bad command in a script.",
        epilog=HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("program", help="assembly source (.s) or assembled container (.bin)")
    p.add_argument("--rows", type=int, default=4, help="array rows, 1..16 (default 4)")
    p.add_argument("--cols", type=int, default=4, help="array columns, 1..16 (default 4)")
    p.add_argument("--load", action="append", default=[], metavar="PLACE=FILE",
                   help="place a file's bytes before the run (as `pearray run --load`)")
    p.add_argument("-I", dest="include", action="append", default=[], metavar="DIR",
                   help="add DIR to the .include search path")
    p.set_defaults(func=debug_command)


# ------------------------------------------------------------------ the session


@dataclass
class Stop:
    """A breakpoint (kind "break": before `addr` issues) or a watchpoint (kind "watch":
    after a store to the word at `addr`), on every PE or on one; numbered as in gdb."""

    number: int
    kind: str
    addr: int
    name: str  # as the user gave it
    pe: tuple[int, int] | None

    def describe(self) -> str:
        on = f"PE ({self.pe[0]},{self.pe[1]})" if self.pe else "every PE"
        if self.kind == "break":
            return f"breakpoint {self.number} at {self.name} (pc {self.addr:#x}) on {on}"
        by = f" by PE ({self.pe[0]},{self.pe[1]})" if self.pe else ""
        label = f" ({self.name})" if self.name != f"{self.addr:#x}" else ""
        return f"watchpoint {self.number} on the word at {self.addr:#x}{label}, stores{by}"


class Session:
    """One program on one machine, and the commands that look at and move it."""

    def __init__(self, machine: Any, out: TextIO) -> None:
        self.m = machine
        self.out = out
        self.sel = 0  # PE id that step and reg show
        self.status = "paused"  # of the last run call: paused, break, watch, halted, trap
        self.stops: list[Stop] = []
        self.next_stop = 1
        self.commands: dict[str, Callable[[list[str]], None]] = {
            "step": self.cmd_step, "s": self.cmd_step, "stepi": self.cmd_step,
            "continue": self.cmd_continue, "c": self.cmd_continue,
            "break": self.cmd_break, "b": self.cmd_break,
            "delete": self.cmd_delete, "watch": self.cmd_watch,
            "reg": self.cmd_reg, "regs": self.cmd_reg, "mem": self.cmd_mem, "x": self.cmd_mem,
            "pe": self.cmd_pe, "where": self.cmd_where, "help": self.cmd_help,
        }

    # ---------------------------------------------------------------- output helpers

    def say(self, text: str) -> None:
        print(text, file=self.out)

    def pe_name(self, i: int) -> str:
        r, c = divmod(i, self.m.cols)
        return f"PE ({r},{c})"

    def source_text(self, i: int, pc: int) -> str:
        """`file:line  text` of the instruction at pc on PE i, or its disassembly."""
        from pearray.asm.disasm import format_word

        src = self.m.source_line(i, pc)
        where = f"{src[0]}:{src[1]}" if src and src[1] else "no source"
        text = self.m.source_text(i, pc)
        if text is None:
            word = self.m.word_at(i, pc)
            text = format_word(word, pc) if word is not None else "(no code here)"
        return f"{where:<16} {text.strip()}"

    def location(self, i: int) -> str:
        pc = self.m.pc(i)
        if self.m.pe_state(i) in ("halted", "no code"):
            return f"{self.pe_name(i)} pc={pc:#06x}"
        return f"{self.pe_name(i)} pc={pc:#06x}  {self.source_text(i, pc)}"

    def parse_pe(self, args: list[str]) -> int:
        """`R,C` (or `R, C`, `(R,C)`) as a PE id on this array."""
        text = "".join(args).strip("()")
        try:
            r, c = (int(x, 0) for x in text.split(","))
        except ValueError:
            raise CommandError(f"expected a PE as ROW,COL, got {' '.join(args)!r}") from None
        if not (0 <= r < self.m.rows and 0 <= c < self.m.cols):
            raise CommandError(f"PE ({r},{c}) is outside the {self.m.rows}x{self.m.cols} array")
        return r * self.m.cols + c

    def ensure_running(self) -> None:
        if self.status == "halted":
            raise CommandError("every PE has halted: nothing left to run (reg, mem, where "
                               "still work; quit leaves)")
        if self.status == "trap":
            raise CommandError("the run ended in a trap: nothing left to run (reg, mem, "
                               "where still work; quit leaves)")

    # ---------------------------------------------------------------- stopping

    def report_stop(self, result: Any) -> None:
        """Say why a run call stopped (for every status but paused)."""
        self.status = result.status
        if result.status == "halted":
            self.say(f"every PE halted after {result.cycles} cycles")
        elif result.status == "trap":
            self.say(result.trap.describe())
            self.sel = result.trap.pe[0] * self.m.cols + result.trap.pe[1]
        elif result.status == "break":
            hit = result.breakpoint
            i = hit.pe[0] * self.m.cols + hit.pe[1]
            stop = next((s for s in self.stops if s.kind == "break" and s.addr == hit.pc
                         and s.pe in (None, hit.pe)), None)
            number = f"breakpoint {stop.number} ({stop.name})" if stop else "breakpoint"
            self.say(f"{number} at cycle {self.m.cycle}: {self.location(i)}")
            self.sel = i
        elif result.status == "watch":
            hit = result.watch
            stop = next((s for s in self.stops if s.kind == "watch" and s.addr == hit.addr
                         and s.pe in (None, hit.pe)), None)
            number = f"watchpoint {stop.number}" if stop else "watchpoint"
            self.say(f"{number} at cycle {self.m.cycle}: {hit}")
            self.sel = hit.pe[0] * self.m.cols + hit.pe[1]

    # ---------------------------------------------------------------- commands

    def cmd_help(self, args: list[str]) -> None:
        self.say(HELP.rstrip())

    def cmd_pe(self, args: list[str]) -> None:
        if not args:
            raise CommandError("pe needs ROW,COL (e.g. pe 1,2)")
        self.sel = self.parse_pe(args)
        self.say(f"{self.location(self.sel)}  [{self.m.pe_state(self.sel)}]")

    def cmd_where(self, args: list[str]) -> None:
        if args:
            raise CommandError("where takes no arguments")
        self.say(f"cycle {self.m.cycle}")
        for i in range(self.m.npes):
            mark = "*" if i == self.sel else " "
            self.say(f"{mark} {self.location(i)}  [{self.m.pe_state(i)}]")

    def cmd_reg(self, args: list[str]) -> None:
        from pearray.emu.cli import signed

        i = self.parse_pe(args) if args else self.sel
        regs = [int(v) for v in self.m.regs(i)]
        sp = self.m.specials(i)
        retired = self.m.result().pes[i].retired
        self.say(f"{self.location(i)}  [{self.m.pe_state(i)}]")
        for row in range(0, 16, 4):
            self.say("  " + "  ".join(f"r{k:<2} {signed(regs[k]):>11} {regs[k]:#010x}"
                                      for k in range(row, row + 4)))
        self.say(f"  sat {sp['sat']}  lfsr {sp['lfsr']:#010x}  dss {signed(sp['dss'])}  "
                 f"dds {signed(sp['dds'])}  retired {retired}  cycle {self.m.cycle}")

    def cmd_mem(self, args: list[str]) -> None:
        from pearray.emu import memspec

        if len(args) != 1:
            raise CommandError("mem needs one SPEC: REGION:ADDR:COUNT[:FMT] or "
                               "SYMBOL:COUNT[:FMT]")
        try:
            dump = memspec.parse_dump(self.m, args[0])
        except memspec.SpecError as exc:
            raise CommandError(str(exc)) from None
        self.say(memspec.render(dump, memspec.read(self.m, dump)))

    def _address(self, text: str, kind: str) -> int:
        """A number, or a label: a code label for a breakpoint, a data one for a watch."""
        try:
            return int(text, 0)
        except ValueError:
            pass
        program = self.m.program
        if program is None or text not in program.symbols:
            raise CommandError(f"{text!r} is neither an address nor a label of the program")
        code = program.symbol_sections.get(text, "").startswith(".text")
        if kind == "watch" and code:
            raise CommandError(f"{text!r} is a code label: watch a data address or label")
        if kind == "break" and program.symbol_sections.get(text) and not code:
            raise CommandError(f"{text!r} is a data label: break at a code address or label")
        return program.symbols[text]

    def _list(self, kind: str) -> None:
        shown = [s for s in self.stops if s.kind == kind]
        if not shown:
            self.say(f"no {kind}points")
        for s in shown:
            self.say("  " + s.describe())

    def _add(self, kind: str, args: list[str]) -> None:
        addr = self._address(args[0], kind)
        pe = self.parse_pe(args[1:]) if args[1:] else None
        add = self.m.add_breakpoint if kind == "break" else self.m.add_watchpoint
        try:
            addr = add(addr, pe)
        except (ValueError, TypeError) as exc:
            raise CommandError(str(exc)) from None
        rc = divmod(pe, self.m.cols) if pe is not None else None
        stop = Stop(self.next_stop, kind, addr, args[0], rc)
        self.next_stop += 1
        self.stops.append(stop)
        self.say(stop.describe())

    def cmd_break(self, args: list[str]) -> None:
        if not args:
            self._list("break")
        else:
            self._add("break", args)

    def cmd_watch(self, args: list[str]) -> None:
        if not args:
            self._list("watch")
        else:
            self._add("watch", args)

    def cmd_delete(self, args: list[str]) -> None:
        if len(args) != 1:
            raise CommandError("delete needs a breakpoint or watchpoint number, or `all`")
        if args[0] == "all":
            gone = list(self.stops)
        else:
            try:
                n = int(args[0])
            except ValueError:
                raise CommandError(f"{args[0]!r} is not a breakpoint number") from None
            gone = [s for s in self.stops if s.number == n]
            if not gone:
                raise CommandError(f"no breakpoint or watchpoint {n}")
        for s in gone:
            self.stops.remove(s)
            remove = self.m.remove_breakpoint if s.kind == "break" else self.m.remove_watchpoint
            remove(s.addr, s.pe)
            self.say(f"deleted {s.kind}point {s.number}")

    def cmd_step(self, args: list[str]) -> None:
        if len(args) > 1:
            raise CommandError("step takes one number")
        try:
            n = int(args[0], 0) if args else 1
        except ValueError:
            raise CommandError(f"step: {args[0]!r} is not a number") from None
        if n < 1:
            raise CommandError("step: N must be at least 1")
        self.ensure_running()
        sel = self.sel
        state = self.m.pe_state(sel)
        if state in ("halted", "no code"):
            what = "has halted" if state == "halted" else "has no code"
            raise CommandError(f"{self.pe_name(sel)} {what}; `pe R,C` selects another, "
                               "`continue` runs on")
        done, idle, start = 0, 0, self.m.cycle
        rc = divmod(sel, self.m.cols)
        while done < n:
            records: list[Any] = []
            result = self.m.step(1, trace=records.append)
            mine = [r for r in records if tuple(r.pe) == rc]
            for rec in mine:
                self.say(self.format_record(rec))
            done += len(mine)
            idle = 0 if mine else idle + 1
            if result.status == "break" and self.m.cycle == start:
                continue  # standing on a breakpoint when the step began: step past it
            if result.status != "paused":
                self.report_stop(result)
                return
            if self.m.pe_state(sel) in ("halted", "no code"):
                self.say(f"{self.pe_name(sel)} halted")
                return
            if idle >= STEP_PATIENCE:
                self.say(f"{self.pe_name(sel)} retired nothing in {STEP_PATIENCE} cycles "
                         f"[{self.m.pe_state(sel)}]; `continue` runs on")
                return
        self.say(f"{self.location(sel)}  [{self.m.pe_state(sel)}]")

    def format_record(self, rec: Any) -> str:
        """One retired instruction: cycle, pc, source line, and what it did: registers
        written, loads and stores, send or recv, stalls."""
        from pearray.emu.cli import signed

        i = rec.pe[0] * self.m.cols + rec.pe[1]
        did = [f"r{r}={signed(v)} ({v:#010x})" for r, v in rec.writes]
        for a in rec.mem:
            arrow = "->" if a.kind == "load" else "<-"
            did.append(f"{a.kind} {a.addr:#x} {arrow} {a.value:#x}")
        if rec.nb:
            kind, d, v = rec.nb
            did.append(f"{kind} {'to' if kind == 'send' else 'from'} {d}: {v:#x}")
        if rec.dma:
            did.append(f"dma {rec.dma.words} words {rec.dma.src:#x} -> {rec.dma.dst:#x}")
        if rec.stalls:
            did.append("stalled " + ", ".join(f"{c} {n}" for c, n in rec.stalls.items()))
        return (f"  cycle {rec.cycle:>6}  pc={rec.pc:#06x}  {self.source_text(i, rec.pc)}"
                + (f"   -> {'; '.join(did)}" if did else ""))

    def cmd_continue(self, args: list[str]) -> None:
        if args:
            raise CommandError("continue takes no arguments")
        self.ensure_running()
        try:
            result = self.m.run()  # the machine's default cycle limit
        except KeyboardInterrupt:  # the machine is paused between two cycles
            self.say(f"interrupted at cycle {self.m.cycle}")
            return
        self.report_stop(result)

    # ---------------------------------------------------------------- the loop

    def execute(self, line: str) -> bool:
        """Run one command line; False when the session should end."""
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:
            raise CommandError(f"cannot parse {line!r}: {exc}") from None
        if not words:
            return True
        name, args = words[0], words[1:]
        if name in ("quit", "q", "exit"):
            return False
        cmd = self.commands.get(name)
        if cmd is None:
            raise CommandError(f"unknown command {name!r}; `help` lists the commands")
        cmd(args)
        return True

    def exit_status(self) -> int:
        return 0 if self.status == "halted" else 1


def _lines(interactive: bool, session: Session) -> Any:
    """Command lines: from readline with a prompt, or from stdin (echoed after a prompt,
    so that a scripted session's output reads as one)."""
    if interactive:
        try:
            import readline  # noqa: F401 - line editing and history for input()

            names = sorted(session.commands) + ["quit"]
            readline.set_completer(
                lambda text, k: ([n for n in names if n.startswith(text)] + [None])[k])
            readline.parse_and_bind("tab: complete")
        except ImportError:
            pass
        last = ""
        while True:
            try:
                line = input(PROMPT)
            except EOFError:
                print()
                return
            except KeyboardInterrupt:
                print()
                continue
            if not line.strip() and last.split()[:1] in (["step"], ["s"], ["stepi"]):
                line = last  # an empty line repeats a step, as in gdb
            last = line
            yield line
    else:
        for line in sys.stdin:
            line = line.rstrip("\n")
            print(f"{PROMPT}{line}")
            yield line


def debug_command(args: argparse.Namespace) -> int:
    from pearray.emu import memspec
    from pearray.emu.cli import read_program
    from pearray.emu.machine import Machine

    program = read_program(args.program, args.include)
    try:
        machine = Machine(args.rows, args.cols, lockstep=True)
        machine.load(program)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    try:
        for spec in args.load:
            memspec.load(machine, spec)
    except memspec.SpecError as exc:
        raise UsageError(f"--load {exc}") from None
    session = Session(machine, sys.stdout)
    interactive = sys.stdin.isatty()
    session.say(f"pearray debug: {args.program} on {machine.rows}x{machine.cols} PEs, "
                "cycle 0; `help` lists the commands")
    session.say(session.location(0))
    errors = 0
    for line in _lines(interactive, session):
        try:
            if not session.execute(line):
                break
        except CommandError as exc:
            errors += 1
            sys.stdout.flush()
            print(f"error: {exc}", file=sys.stderr)
        except KeyboardInterrupt:
            if not interactive:
                raise
            session.say(f"interrupted at cycle {machine.cycle}")
        sys.stdout.flush()
    if errors and not interactive:
        return 2
    return session.exit_status()
