"""`pearray run`: assemble (or read) a program, run it on the emulated array, report.

Exit status (ARCH.md §7): 0 when every PE halted, 1 on a trap, 2 on bad
assembly or usage.  `--json` prints one object, also on a trap.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, TextIO

from pearray.asm.program import ContainerError, Program
from pearray.cli import UsageError
from pearray.files import AtomicOutput, input_paths, read_input


def register(sub: Any) -> None:
    p = sub.add_parser(
        "run", help="run a program (.s or .bin) on the emulated array",
        description="Assemble PROG.s (or read PROG.bin) and run it on a rows x cols array. "
        "Exit status: 0 all PEs halted, 1 trap, 2 bad assembly or usage.",
    )
    p.add_argument("program", help="assembly source (.s) or assembled container (.bin)")
    p.add_argument("--rows", type=int, default=4, help="array rows, 1..16 (default 4)")
    p.add_argument("--cols", type=int, default=4, help="array columns, 1..16 (default 4)")
    p.add_argument("--max-cycles", type=int, default=None, metavar="N",
                   help="trap with cycle_limit after N cycles (default: 2,000,000,000 "
                   "PE-cycles shared by the array's PEs, at least 1,000,000 cycles)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--trace", metavar="FILE",
                   help="write one JSON line per retired instruction to FILE ('-': stdout, "
                   "before the summary)")
    p.add_argument("--timeline", metavar="FILE",
                   help="write a Chrome trace-event JSON of the run to FILE (open it in "
                   "ui.perfetto.dev or chrome://tracing): per PE, busy and stall spans by "
                   "cause, and DMA transfers")
    p.add_argument("--dump", action="append", default=[], metavar="SPEC",
                   help="print memory after the run (repeatable): REGION:ADDR:COUNT[:FMT] or "
                   "SYMBOL:COUNT[:FMT]; REGION lm (PE 0,0), lm@R,C, sm or gm; ADDR absolute or "
                   "an offset into the region; FMT i8 u8 i16 u16 i32 u32 x32 (default i32)")
    p.add_argument("--load", action="append", default=[], metavar="PLACE=FILE",
                   help="place a file's bytes before the run (repeatable): REGION:ADDR=FILE or "
                   "SYMBOL=FILE; a .npy file gives its array's raw little-endian bytes")
    p.add_argument("--lockstep", action="store_true",
                   help="never let a PE run ahead of the array: every PE's state is exact at a "
                   "trap (slower)")
    p.add_argument("-I", dest="include", action="append", default=[], metavar="DIR",
                   help="add DIR to the .include search path")
    p.set_defaults(func=run_command)


def read_program(path: str, include: list[str]) -> Program:
    """A Program from assembly text or a container; bad input is a UsageError."""
    from pearray.asm import AsmError, assemble

    blob = read_input(path, "program")
    if blob.startswith(b"PEARRAY\0") or path.endswith(".bin"):
        try:
            return Program.from_bytes(blob)
        except ContainerError as exc:
            raise UsageError(f"{path}: {exc}") from None
    try:
        return assemble(blob.decode("utf-8", errors="replace"), filename=path,
                        include_dirs=include)
    except AsmError as exc:
        print(str(exc), file=sys.stderr)
        raise SystemExit(2) from None


class TraceWriter:
    """Writes trace records as JSON lines: to stdout for "-", else to an unnamed file
    (pearray.files) that gets its name only when the run ends, so an interrupted or
    killed run leaves no file."""

    def __init__(self, path: str, machine: Any, inputs: list[str]) -> None:
        from pearray.asm.disasm import format_word

        self.machine, self.dis = machine, format_word
        self.out: AtomicOutput | None = None
        if path == "-":  # stdout: written as it comes, before the summary
            self.fh: TextIO = sys.stdout
        else:
            self.out = open_output(path, "--trace", inputs, binary=False)
            self.fh = self.out.file

    def __call__(self, rec: Any) -> None:
        src = self.machine.source_line(rec.pe, rec.pc)
        self.fh.write(json.dumps({
            "cycle": rec.cycle, "pe": list(rec.pe), "pc": rec.pc,
            "file": src[0] if src else None, "line": src[1] if src else None,
            "asm": self.dis(rec.word, rec.pc),
        } | {k: v for k, v in rec.to_json().items() if k not in ("cycle", "pe", "pc")}
        ) + "\n")

    def close(self, keep: bool) -> None:
        if self.out is None:
            self.fh.flush()
            return
        if keep:
            self.out.commit()
        else:
            self.out.discard()


def run_command(args: argparse.Namespace) -> int:
    from pearray.emu import memspec
    from pearray.emu.machine import Machine

    if args.max_cycles is not None and not 0 < args.max_cycles < 2**63:
        raise UsageError("--max-cycles must be 1 .. 2^63-1")
    program = read_program(args.program, args.include)
    try:
        machine = Machine(args.rows, args.cols, lockstep=args.lockstep)
        machine.load(program)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    option = "--load"
    try:
        for spec in args.load:
            memspec.load(machine, spec)
        option = "--dump"
        dumps = [memspec.parse_dump(machine, spec) for spec in args.dump]
    except memspec.SpecError as exc:
        raise UsageError(f"{option} {exc}") from None
    inputs = input_paths(args.program, *program.files, *program.includes,
                         *(memspec.load_path(spec) for spec in args.load))
    if args.trace and args.timeline and args.trace != "-" and \
            os.path.realpath(args.trace) == os.path.realpath(args.timeline):
        raise UsageError(f"--trace and --timeline are the same file {args.trace}")
    timeline = tl_out = None
    if args.timeline:
        from pearray.emu.timeline import Timeline

        if args.timeline == "-":
            raise UsageError("--timeline needs a file name ('-' is not one: stdout has the "
                             "summary)")
        tl_out = open_output(args.timeline, "--timeline", inputs, binary=True)
        timeline = Timeline.for_machine(machine)
    writer = None
    try:
        if args.trace:
            writer = TraceWriter(args.trace, machine, inputs)
    except BaseException:
        if tl_out is not None:
            tl_out.discard()
        raise
    hooks = [h for h in (writer, timeline) if h is not None]
    trace = hooks[0] if len(hooks) == 1 else (
        (lambda rec: [h(rec) for h in hooks]) if hooks else None)
    failed = args.trace  # the file an OSError is about
    try:
        result = machine.run(args.max_cycles, trace=trace)
        if writer:
            writer.close(keep=True)
        if tl_out is not None and timeline is not None:
            failed = args.timeline
            tl_out.write((json.dumps(timeline.to_chrome(), separators=(",", ":"))
                          + "\n").encode())
            tl_out.commit()
    except BrokenPipeError:  # `--trace - | head`: the reader has had enough (exit 0)
        raise
    except OSError as exc:  # an output could not be written (a full disk, ...)
        raise UsageError(f"cannot write {failed}: {exc.strerror}") from None
    finally:  # an error or Ctrl-C: no output file at all (a no-op once committed)
        if writer:
            writer.close(keep=False)
        if tl_out is not None:
            tl_out.discard()
    values = {d.text: memspec.read(machine, d) for d in dumps}
    if args.json:
        print(json.dumps({**result.to_json(), "dumps": values}))
    else:
        print(summary(result, machine))
        for d in dumps:
            print(memspec.render(d, values[d.text]))
    return 0 if result.status == "halted" else 1


def open_output(path: str, option: str, inputs: list[str], *, binary: bool) -> AtomicOutput:
    """An output file under pearray.files' policy (never an input, a device, FIFO or
    folder; no file at all until committed), opened before the run so that a bad path
    costs no run; an unwritable place is a UsageError."""
    try:
        return AtomicOutput(path, inputs, binary=binary, what=option)
    except FileNotFoundError:
        folder = os.path.dirname(os.path.abspath(path))
        raise UsageError(f"cannot write {option} {path}: no folder {folder}") from None
    except OSError as exc:
        raise UsageError(f"cannot write {option} {path}: {exc.strerror}") from None


def summary(result: Any, machine: Any) -> str:
    """The human report: outcome, totals, stalls, memory traffic, the trap if any, and
    every PE's registers (signed and hex; zero registers left out)."""
    lines = [
        f"{result.status} after {result.cycles} cycles on {machine.rows}x{machine.cols} PEs",
        f"retired {result.retired} instructions, {result.macs} MACs",
        "stalls: " + ", ".join(f"{k} {v}" for k, v in result.stalls.items())
        + f"; bank conflicts {result.bank_conflicts}",
        "memory: " + ", ".join(
            f"{r} {v['loads']} loads/{v['stores']} stores" for r, v in result.memory.items()),
    ]
    if result.trap:
        lines.append(result.trap.describe())
    lines.append("registers (signed, hex; zero registers omitted):")
    for p in result.pes:
        state = "halted" if p.halted else "running"
        lines.append(f"  PE ({p.row},{p.col}) {state} pc={p.pc:#x}: {format_regs(p.regs)}")
    return "\n".join(lines)


def signed(v: int) -> int:
    """A register's value read as int32."""
    return v - (1 << 32) if v & 0x80000000 else v


def format_regs(regs: list[int], zeros: bool = False) -> str:
    """`r1=-2 (0xfffffffe) r4=5 (0x00000005)`; zero registers only when asked for."""
    shown = [f"r{i}={signed(v)} ({v:#010x})" for i, v in enumerate(regs) if v or zeros]
    return " ".join(shown) or "all zero"
