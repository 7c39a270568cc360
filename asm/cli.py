"""`pearray asm` and `pearray disasm`: the assembler's command line.

`asm` and `disasm` write their output through `pearray.files` (never over an
input, a device or a folder; through a symlink; whole or not at all), so an
error never leaves a partial or new output file; diagnostics go to stderr and
the exit status is 2.  `-o -` writes to
stdout.  Listings and disassembly are coloured on a terminal (`--color`,
NO_COLOR), through the Pygments lexer in lexer.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pearray.cli import UsageError
from pearray.files import check_output, input_paths, read_input, write_atomic

from .assembler import assemble
from .diagnostics import AsmError
from .disasm import disassemble_program
from .program import ContainerError, Program

EXAMPLE = Path(__file__).resolve().parent / "examples" / "dot.s"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `asm` and `disasm` subcommands to the `pearray` parser."""
    p = sub.add_parser(
        "asm", help="assemble a program into a .bin container",
        description="Assemble PROG.s into a program container. Without -o the output is "
                    "PROG.bin beside the input. Without PROG, the bundled example "
                    f"({EXAMPLE.name}) is assembled and nothing is written unless -o is given. "
                    "Errors go to stderr (every one in the file), exit status 2, and no "
                    "output file is written.")
    p.add_argument("prog", nargs="?", metavar="PROG.s",
                   help="source file ('-' for stdin; default: the bundled example)")
    p.add_argument("-o", "--output", metavar="OUT.bin",
                   help="container to write ('-' for stdout)")
    p.add_argument("--listing", action="store_true",
                   help="print address, encoding, cycles and source of every statement")
    p.add_argument("--symbols", action="store_true", help="print the symbol table")
    p.add_argument("-I", dest="include_dirs", action="append", default=[], metavar="DIR",
                   help="also search DIR for .include files (repeatable)")
    _colour_option(p)
    p.set_defaults(func=cmd_asm)

    d = sub.add_parser(
        "disasm", help="print a .bin container as assembly",
        description="Disassemble a program container. The output (with .pe selections, "
                    "data segments and symbols) reassembles to the same words.")
    d.add_argument("file", metavar="FILE.bin", help="program container")
    d.add_argument("-o", "--output", metavar="OUT.s",
                   help="write here instead of stdout ('-': stdout)")
    d.add_argument("--no-addresses", action="store_true",
                   help="omit the address/encoding comment on each instruction")
    _colour_option(d)
    d.set_defaults(func=cmd_disasm)


def _colour_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--color", "--colour", dest="color", choices=("auto", "always", "never"),
                   default="auto",
                   help="colour the listing or disassembly: auto (the default) when stdout "
                        "is a terminal and NO_COLOR is not set")


def _coloured(args: argparse.Namespace) -> bool:
    from .lexer import wants_colour  # imports Pygments: only when printing

    return wants_colour(args.color, sys.stdout)


def _read_source(prog: str | None) -> tuple[str, str]:
    if prog is None:
        return EXAMPLE.read_text(encoding="utf-8"), str(EXAMPLE)
    if prog == "-":
        return sys.stdin.buffer.read().decode("utf-8", errors="replace"), "<stdin>"
    return read_input(prog, "source").decode("utf-8", errors="replace"), prog


def _output_path(args: argparse.Namespace) -> str | None:
    if args.output:
        return args.output
    if args.prog is None or args.prog == "-":
        return None
    return str(Path(args.prog).with_suffix(".bin"))


def symbol_table(prog: Program) -> list[str]:
    rows = sorted(prog.symbols.items(),
                  key=lambda kv: (prog.symbol_sections.get(kv[0], ""), kv[1], kv[0]))
    width = max((len(n) for n in prog.symbols), default=4)
    out = [f"{'name':<{width}}  {'value':>10}  section"]
    for name, value in rows:
        shown = f"{value & 0xFFFFFFFF:#010x}" if value >= 0 else str(value)
        out.append(f"{name:<{width}}  {shown:>10}  {prog.symbol_sections.get(name, '')}")
    return out


def cmd_asm(args: argparse.Namespace) -> int:
    out = _output_path(args)
    if out == "-" and (args.listing or args.symbols):
        raise UsageError("-o - writes the container to stdout: --listing and --symbols "
                         "cannot go there too")
    if out and out != "-":
        check_output(out, input_paths(args.prog))  # before the work, to fail fast
    text, name = _read_source(args.prog)
    try:
        prog = assemble(text, name, tuple(args.include_dirs), listing=args.listing)
    except AsmError as exc:
        print(exc.render(), file=sys.stderr)
        return 2
    for w in prog.warnings:
        print(w, file=sys.stderr)
    if out == "-":
        sys.stdout.buffer.write(prog.to_bytes())
        sys.stdout.flush()
    elif out:
        try:
            write_atomic(out, prog.to_bytes(),
                         input_paths(args.prog, *prog.files, *prog.includes))
        except OSError as exc:
            raise UsageError(f"cannot write {out}: {exc.strerror}") from None
    if args.listing:
        rows = prog.listing
        if _coloured(args):
            from .lexer import colour_listing

            rows = colour_listing(rows)
        print("\n".join(rows))
    if args.symbols:
        if args.listing:
            print()
        print("\n".join(symbol_table(prog)))
    return 0


def cmd_disasm(args: argparse.Namespace) -> int:
    blob = read_input(args.file, "container")
    try:
        prog = Program.from_bytes(blob)
    except ContainerError as exc:
        raise UsageError(f"{args.file}: {exc}") from None
    text = disassemble_program(prog, addresses=not args.no_addresses)
    if args.output and args.output != "-":
        try:
            write_atomic(args.output, text.encode(), input_paths(args.file))
        except OSError as exc:
            raise UsageError(f"cannot write {args.output}: {exc.strerror}") from None
    else:
        if _coloured(args):
            from .lexer import colour

            text = colour(text)
        sys.stdout.write(text)
    return 0
