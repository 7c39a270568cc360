"""`pearray isa`: print, write or check the generated ISA reference (docs/isa.md).

`--check` is what CI and the tests run: it fails, naming the command that
fixes it, when the committed reference no longer matches the table.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from pearray import files

from .docgen import render, render_insn
from .spec import load


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `isa` subcommand to the `pearray` parser."""
    p = sub.add_parser(
        "isa",
        help="the generated ISA reference",
        description="Print the ISA reference generated from isa/isa.toml.",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--write", metavar="PATH", help="write the reference to PATH")
    mode.add_argument("--check", metavar="PATH",
                      help="exit 1 if PATH differs from the generated reference")
    mode.add_argument("--insn", metavar="NAME",
                      help="print only one mnemonic (add, add.b, lw.pi, ...)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Exit 0 on success, 1 when `--check` finds a stale file."""
    isa = load()
    if args.insn:
        text = render_insn(isa, args.insn)
        if text is None:
            from pearray.cli import UsageError  # the top-level CLI turns it into exit 2

            names = list(dict.fromkeys([*isa.by_mnemonic, *isa.by_key]))
            close = difflib.get_close_matches(args.insn, names, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise UsageError(f"no instruction {args.insn!r}{hint}")
        sys.stdout.write(text)
        return 0
    text = render(isa)
    if args.write:
        write_atomic(Path(args.write), text)
        return 0
    if args.check:
        path = Path(args.check)
        try:
            current = path.read_text(encoding="utf-8")
        except OSError:
            current = None
        if current != text:
            state = "missing" if current is None else "stale"
            print(f"{path} is {state}; regenerate it with `pearray isa --write {path}`",
                  file=sys.stderr)
            return 1
        return 0
    sys.stdout.write(text)
    return 0


def write_atomic(path: Path, text: str) -> None:
    """The reference, written whole or not at all (its folder made if need be)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    files.write_atomic(path, text.encode("utf-8"))
