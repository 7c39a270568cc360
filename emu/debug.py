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
CHUNK = 1 << 16  # cycles per run call of `continue`: Ctrl-C is seen between chunks
STEP_PATIENCE = 10_000  # cycles `step` waits for the selected PE to retire one instruction
HELP = """\
commands (R,C is a PE: row,col):
  step [N]             run until the selected PE has retired N instructions (default 1)
  continue             run until a breakpoint, a watchpoint, a trap or every PE halted
  break [LABEL|ADDR [R,C]]
                       stop before an instruction issues (on every PE, or on R,C only);
                       without arguments, list the breakpoints
  delete N|all         remove breakpoint N (as listed by `break`) or all of them
  watch ADDR [R,C]     stop after a store to the word at ADDR (an LM address needs R,C,
                       else PE 0,0's); without arguments, list the watchpoints
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


# ------------------------------------------------------------------ what a PE is doing


def _pe_t(machine: Any, i: int) -> Any:
    """The C core's record of PE i (fields the Machine API does not expose yet)."""
    return machine._pes[i]


def code_word(machine: Any, i: int, pc: int) -> int | None:
    """The instruction word at `pc` in PE i's image, if there is one."""
    k = machine._images[i]
    if machine.program is None or k is None:
        return None
    words = machine.program.images[k].words
    return int(words[pc // 4]) if 0 <= pc // 4 < len(words) and pc % 4 == 0 else None


def pe_state(machine: Any, i: int) -> str:
    """`halted`, `no code`, `at sync`, `blocked: recv from w (input empty)`, `busy until
    cycle N`, or `ready`: what PE i does in the current cycle."""
    from pearray.isa import load as load_isa

    pe = _pe_t(machine, i)
    if pe.halted:
        return "halted" if pe.ncode else "halted (no code)"
    if pe.at_sync:
        return "blocked: waiting at sync"
    now = machine.cycle
    if pe.busy_until > now:
        return f"busy until cycle {int(pe.busy_until)}"
    word = code_word(machine, i, int(pe.pc))
    decoded = load_isa().decode(word) if word is not None else None
    if decoded:
        insn, ops = decoded
        names = {0: "n", 1: "e", 2: "s", 3: "w"}
        if insn.mnemonic == "recv":
            d = ops["dirs"]
            if not pe.in_full[d] or pe.in_time[d] == now:
                return f"blocked: recv from {names[d]} (input empty)"
        elif insn.mnemonic == "send":
            d = ops["dird"]
            r = int(pe.row) + (d == 2) - (d == 0)
            c = int(pe.col) + (d == 1) - (d == 3)
            if 0 <= r < machine.rows and 0 <= c < machine.cols:
                to = _pe_t(machine, r * machine.cols + c)
                if to.in_full[d ^ 2] or to.in_time[d ^ 2] == now:
                    return f"blocked: send to {names[d]} (PE ({r},{c})'s input full)"
    return "ready"


# ------------------------------------------------------------------ the session


@dataclass
class Breakpoint:
    number: int
    pc: int
    name: str  # as the user gave it
    pe: tuple[int, int] | None


class Session:
    """One program on one machine, and the commands that look at and move it."""

    def __init__(self, machine: Any, out: TextIO) -> None:
        self.m = machine
        self.out = out
        self.sel = 0  # PE id that step and reg show
        self.status = "paused"  # of the last run call: paused, break, halted, trap, ...
        self.trap_text: str | None = None
        self.breaks: list[Breakpoint] = []
        self.next_break = 1
        self.watches: list[tuple[int, tuple[int, int] | None]] = []
        self.sources: dict[str, list[str] | None] = {}
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
        text = None
        where = "no source"
        if src and src[1]:
            file, line = src
            where = f"{file}:{line}"
            if file not in self.sources:
                try:
                    with open(file, encoding="utf-8", errors="replace") as fh:
                        self.sources[file] = fh.read().splitlines()
                except OSError:
                    self.sources[file] = None
            lines = self.sources[file]
            if lines and 0 < line <= len(lines):
                text = lines[line - 1].strip()
        if text is None:
            word = code_word(self.m, i, pc)
            text = format_word(word, pc) if word is not None else "(no code here)"
        return f"{where:<16} {text}"

    def location(self, i: int) -> str:
        pc = self.m.pc(i)
        if _pe_t(self.m, i).halted:
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

    def finished(self) -> bool:
        return self.status in ("halted", "trap")

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
            self.trap_text = result.trap.describe()
            self.say(self.trap_text)
            self.sel = result.trap.pe[0] * self.m.cols + result.trap.pe[1]
        elif result.status == "break":
            hit = self.at_breakpoint()
            for i in hit:
                bp = self.break_for(i)
                self.say(f"breakpoint {bp.number} ({bp.name}) at cycle {self.m.cycle}: "
                         f"{self.location(i)}")
            if hit:
                self.sel = hit[0]
        elif result.status == "watch":
            self.say(f"watchpoint at cycle {self.m.cycle}: {self.describe_watch(result)}")

    def break_for(self, i: int) -> Breakpoint | None:
        """The breakpoint PE i stands at (one for it or for every PE), if any."""
        pc, rc = self.m.pc(i), divmod(i, self.m.cols)
        for bp in self.breaks:
            if bp.pc == pc and bp.pe in (None, rc):
                return bp
        return None

    def at_breakpoint(self) -> list[int]:
        """PEs about to issue the instruction of one of their breakpoints (as the core
        checks: not halted, not at a sync, not busy)."""
        out = []
        for i in range(self.m.npes):
            pe = _pe_t(self.m, i)
            if (self.break_for(i) and not pe.halted and not pe.at_sync
                    and pe.busy_until <= self.m.cycle):
                out.append(i)
        return out

    def describe_watch(self, result: Any) -> str:
        hit = getattr(result, "watch", None)
        return str(hit) if hit is not None else "a watched word was written"

    # ---------------------------------------------------------------- commands

    def cmd_help(self, args: list[str]) -> None:
        self.say(HELP.rstrip())

    def cmd_pe(self, args: list[str]) -> None:
        if not args:
            raise CommandError("pe needs ROW,COL (e.g. pe 1,2)")
        self.sel = self.parse_pe(args)
        self.say(f"{self.location(self.sel)}  [{pe_state(self.m, self.sel)}]")

    def cmd_where(self, args: list[str]) -> None:
        if args:
            raise CommandError("where takes no arguments")
        self.say(f"cycle {self.m.cycle}")
        for i in range(self.m.npes):
            mark = "*" if i == self.sel else " "
            self.say(f"{mark} {self.location(i)}  [{pe_state(self.m, i)}]")

    def cmd_reg(self, args: list[str]) -> None:
        from pearray.emu.cli import signed

        i = self.parse_pe(args) if args else self.sel
        regs = [int(v) for v in self.m.regs(i)]
        pe = _pe_t(self.m, i)
        self.say(f"{self.location(i)}  [{pe_state(self.m, i)}]")
        for row in range(0, 16, 4):
            self.say("  " + "  ".join(f"r{k:<2} {signed(regs[k]):>11} {regs[k]:#010x}"
                                      for k in range(row, row + 4)))
        self.say(f"  sat {int(pe.sat)}  lfsr {int(pe.lfsr):#010x}  retired {int(pe.retired)}  "
                 f"cycle {self.m.cycle}")

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

    def _address(self, text: str) -> tuple[int, str]:
        try:
            return int(text, 0), text
        except ValueError:
            pass
        program = self.m.program
        if program is None or text not in program.symbols:
            raise CommandError(f"{text!r} is neither an address nor a label of the program")
        return program.symbols[text], text

    def cmd_break(self, args: list[str]) -> None:
        if not args:
            if not self.breaks:
                self.say("no breakpoints")
            for bp in self.breaks:
                on = f"PE ({bp.pe[0]},{bp.pe[1]})" if bp.pe else "every PE"
                self.say(f"  {bp.number}: {bp.name} (pc {bp.pc:#x}) on {on}")
            return
        where, name = self._address(args[0])
        pe = divmod(self.parse_pe(args[1:]), self.m.cols) if args[1:] else None
        try:
            pc = self.m.add_breakpoint(where)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        bp = Breakpoint(self.next_break, pc, name, pe)
        self.next_break += 1
        self.breaks.append(bp)
        on = f"PE ({pe[0]},{pe[1]})" if pe else "every PE"
        self.say(f"breakpoint {bp.number} at {name} (pc {pc:#x}) on {on}")

    def cmd_delete(self, args: list[str]) -> None:
        if len(args) != 1:
            raise CommandError("delete needs a breakpoint number (see `break`) or `all`")
        if args[0] == "all":
            gone = list(self.breaks)
        else:
            try:
                n = int(args[0])
            except ValueError:
                raise CommandError(f"{args[0]!r} is not a breakpoint number") from None
            gone = [bp for bp in self.breaks if bp.number == n]
            if not gone:
                raise CommandError(f"no breakpoint {n}")
        for bp in gone:
            self.breaks.remove(bp)
            if not any(b.pc == bp.pc for b in self.breaks):
                self.m.remove_breakpoint(bp.pc)
            self.say(f"deleted breakpoint {bp.number}")

    def cmd_watch(self, args: list[str]) -> None:
        if not hasattr(self.m, "add_watchpoint"):
            raise CommandError("this emulator core has no watchpoints")
        if not args:
            if not self.watches:
                self.say("no watchpoints")
            for addr, pe in self.watches:
                self.say(f"  {addr:#x}" + (f" on PE ({pe[0]},{pe[1]})" if pe else ""))
            return
        addr, name = self._address(args[0])
        pe = self.parse_pe(args[1:]) if args[1:] else None
        try:
            self.m.add_watchpoint(addr, pe=pe)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        rc = divmod(pe, self.m.cols) if pe is not None else None
        self.watches.append((addr, rc))
        self.say(f"watchpoint on the word at {addr:#x}" + (f" ({name})" if name != args[0]
                                                            else ""))

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
        if _pe_t(self.m, sel).halted:
            raise CommandError(f"{self.pe_name(sel)} has halted; `pe R,C` selects another, "
                               "`continue` runs on")
        done, idle, moved = 0, 0, False
        rc = divmod(sel, self.m.cols)
        while done < n:
            records: list[Any] = []
            result = self.m.step(1, trace=records.append)
            mine = [r for r in records if tuple(r.pe) == rc]
            moved = moved or bool(records)
            for rec in mine:
                self.say(self.format_record(rec))
            done += len(mine)
            idle = 0 if mine else idle + 1
            if result.status == "break" and (not moved or not self.at_breakpoint()):
                continue  # standing on it when the step began, or another PE's breakpoint
            if result.status != "paused":
                self.report_stop(result)
                return
            if result.pes[sel].halted:
                self.say(f"{self.pe_name(sel)} halted")
                return
            if idle >= STEP_PATIENCE:
                self.say(f"{self.pe_name(sel)} retired nothing in {STEP_PATIENCE} cycles "
                         f"[{pe_state(self.m, sel)}]; `continue` runs on")
                return
        self.say(f"{self.location(sel)}  [{pe_state(self.m, sel)}]")

    def format_record(self, rec: Any) -> str:
        """One retired instruction: cycle, pc, source or disassembly, what it wrote."""
        from pearray.emu.cli import signed

        i = rec.pe[0] * self.m.cols + rec.pe[1]
        writes = " ".join(f"r{r}={signed(v)} ({v:#010x})" for r, v in rec.writes)
        return (f"  cycle {rec.cycle:>6}  pc={rec.pc:#06x}  {self.source_text(i, rec.pc)}"
                + (f"   -> {writes}" if writes else ""))

    def cmd_continue(self, args: list[str]) -> None:
        if args:
            raise CommandError("continue takes no arguments")
        self.ensure_running()
        try:
            while True:
                result = self.m.step(CHUNK)
                if result.status == "paused":
                    continue
                if result.status == "break":
                    hit = self.at_breakpoint()
                    if not hit:  # a breakpoint of another PE: run on
                        continue
                self.report_stop(result)
                return
        except KeyboardInterrupt:
            self.say(f"interrupted at cycle {self.m.cycle}")

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
