"""Render docs/asm.md, the assembler reference, from the tables the assembler uses.

The directive reference comes from asm/directives.py (the list the
preprocessor and the assembler dispatch on), the predefined symbols from
isa.toml's [machine], the limits from the modules' constants; a test fails
when the committed file differs.  Regenerate with
``python3 -m pearray.asm.docgen docs/asm.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pearray import files
from pearray.isa import load

from . import assembler, macros
from .directives import DIRECTIVES, GROUPS

COMMAND = "python3 -m pearray.asm.docgen docs/asm.md"
EXAMPLE = """\
.macro clamp d, s               # d = min(d, s)
    blt \\d, \\s, 1f
    mv \\d, \\s
1:
.endm
    lw r1, 0(r0)
    clamp r1, r2
.rept 2
    macl.b r3, (r4)+, (r5)+
.endr
.data
x:  .word 7
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render() -> str:
    """The whole of docs/asm.md."""
    isa = load()
    m = isa.machine
    out = [
        "# The pearray assembler: directives, listing, highlighting",
        "",
        f"> Generated from `asm/directives.py`, `isa/isa.toml` and the assembler's limits by "
        f"`{COMMAND}`; do not edit.",
        "",
        "A line is `label: ... mnemonic operands  # comment`; every part is optional.",
        "Labels are names (`loop:`) or numbers (`1:`, referred to as `1b` backward or `1f`",
        "forward). Instructions are the table's (docs/isa.md); operands are registers",
        "`r0`..`r15`, names of the table's enums (`n e s w`, `row col id ...`) and",
        "expressions. The container the assembler writes is described in docs/container.md.",
        "",
        "## Expressions",
        "",
        "Numbers are decimal, `0x` hex, `0b` binary or `0o` octal, with `_` separators;",
        "`'c'` is a character (one byte, C escapes). Names are labels, `.equ`/`.set` names",
        "and the predefined symbols below; `.` is the location counter. Operators, loosest",
        "first, as in C: `||`, `&&`, `|`, `^`, `&`, `== !=`, `< <= > >=`, `<< >>`, `+ -`,",
        "`* / %`, then unary `- ~ ! +`. Comparisons and `&& || !` give 1 or 0 (GNU as",
        "gives -1 for a true comparison); both sides of `&&` and `||` are evaluated.",
        "Arithmetic is on 64-bit signed values (an overflow is an error); `/` and `%`",
        "truncate toward zero.",
        "",
        "Strings (`\"...\"`, in `.byte`, `.ascii`, messages) are UTF-8 with the C escapes",
        "`\\a \\b \\f \\n \\r \\t \\v \\\\ \\' \\\" \\?`, octal `\\0`..`\\377` and hex",
        "`\\x0`..`\\xff`; another escape is an error.",
        "",
        "## Directives",
        "",
    ]
    for group in GROUPS:
        out += [f"### {group}", "", "| directive | operands | meaning |", "|---|---|---|"]
        for d in DIRECTIVES:
            if d.group == group:
                syntax = f"`{_cell(d.syntax)}`" if d.syntax else ""
                out.append(f"| `{d.name}` | {syntax} | {_cell(d.doc)} |")
        out.append("")
    out += [
        "The directives the preprocessor expands (`"
        + "`, `".join(d.name for d in DIRECTIVES if d.stage == "pre")
        + "`) work on lines before they are parsed; a value they need (a `.rept` count, an",
        "`.if` condition) must be known where they are.",
        "",
        "## Predefined symbols",
        "",
        "The machine's parameters from `isa.toml` `[machine]`, in upper case. They are the",
        "defaults the assembler checks sizes against; redefining one is an error. The",
        "array's size is not among them (a program runs on any array: read it with",
        "`mfs rd, rows` / `mfs rd, cols`).",
        "",
        "| symbol | value |",
        "|---|---|",
    ]
    for key, value in isa.machine.items():
        if type(value) is int and key not in assembler.NOT_PREDEFINED:
            out.append(f"| `{key.upper()}` | `{value:#x}` ({value}) |")
    out += [
        "",
        "## Limits",
        "",
        "Each is an error with the line (and macro or include) that reached it, never a",
        "hang:",
        "",
        "| limit | value |",
        "|---|---|",
        f"| characters in a line (a data line of `.byte`/`.half`/`.word`/`.ascii`/`.asciz`/"
        f"`.string` may be longer: it is read an operand at a time) | {macros.MAX_LINE:,} |",
        f"| lines after expanding macros, `.rept` and `.irp` | {macros.MAX_LINES:,} |",
        f"| repetitions of `.rept`/`.irp` bodies in all (even of empty bodies) | "
        f"{macros.MAX_EXPANSIONS:,} |",
        f"| macro calls in all (even of empty macros) | {macros.MAX_CALLS:,} |",
        f"| one `.rept` count | {macros.MAX_REPT:,} |",
        f"| macro calls and `.rept`/`.irp` bodies nested | {macros.MAX_DEPTH} |",
        f"| `.include`s nested | {macros.MAX_INCLUDE_DEPTH} |",
        "",
        "## Listing",
        "",
        "`pearray asm PROG.s --listing` (or `assemble(text, listing=True).listing`) prints a",
        "row per statement:",
        "",
        "```",
        *assembler.assemble(EXAMPLE, "example.s", listing=True).listing,
        "```",
        "",
        "for",
        "",
        "```",
        *EXAMPLE.rstrip().splitlines(),
        "```",
        "",
        "- `address`: in the section's own terms (code from 0 per `.pe` image, data",
        "  absolute); a row `# .text of .pe 0,0` marks each change of section.",
        "- `word`: the encoding, or up to 16 bytes of data (`(N bytes)` beyond).",
        "- `cyc`: the issue cost from the ISA table; for the `mem` class `+m` per memory",
        "  access (`1+m` loads and stores, `1+2m` for `macl`'s two reads): `m` is what the",
        "  region reached adds to an access, its cost less one (with the `[machine]` costs:",
        f"  LM {m['lm_cost'] - 1}, SM {m['sm_cost'] - 1}, GM {m['gm_cost'] - 1}), plus any SM "
        "bank conflict.",
        "- `where`: the file and line the statement was written on (a macro body line in",
        "  its own file).",
        "- `source`: the line as assembled (macro arguments substituted); a pseudo-",
        "  instruction shows the instructions it became with the source as a comment. A",
        "  macro call, `.rept` or `.irp` line comes where its expansion starts, and the",
        "  lines it expanded to follow, marked `>` once per level of expansion.",
        "",
        "## Highlighting",
        "",
        "`asm/lexer.py` is a Pygments lexer built, when imported, from the ISA table",
        "(mnemonics and their granularity suffixes, registers, the enums' names, the",
        "predefined symbols) and from the directive list above, so a new instruction is",
        "highlighted without an edit. Installed, it is the Pygments plugin `pearray`:",
        "",
        "```",
        "pygmentize -l pearray kernels/conv.s",
        "pygmentize -l pearray -f html -O full -o conv.html kernels/conv.s",
        "```",
        "",
        "`pearray asm --listing` and `pearray disasm` colour their output when it goes to a",
        "terminal; `--color=always|never|auto` chooses, and a non-empty `NO_COLOR` turns",
        "`auto` off.",
        "",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Write the reference to the path given (stdout without one)."""
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if not args:
        sys.stdout.write(text)
        return 0
    path = Path(args[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    files.write_atomic(path, text.encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
