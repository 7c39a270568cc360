"""Every directive the assembler knows, said once: name, operands, stage and meaning.

The preprocessor takes the directives of stage "pre", the assembler's passes
the others; both check their handlers against this table (a test fails if one
is missing), the Pygments lexer highlights these names, error messages quote
the syntax, and docs/asm.md's directive reference is generated from it.
"""

from __future__ import annotations

from typing import NamedTuple


class Directive(NamedTuple):
    name: str
    syntax: str  # the operands, as an error's "expected:" line and the docs write them
    stage: str  # "pre": the preprocessor expands it; "asm": the assembler's passes run it
    group: str  # the heading it is documented under
    doc: str


GROUPS = ("Sections and placement", "Data", "Symbols", "Conditionals", "Macros and repetition",
          "Messages and checks")

DIRECTIVES: tuple[Directive, ...] = (
    # -- sections and placement
    Directive(".text", "", "asm", GROUPS[0],
              "Code for the current `.pe` selection (the default section)."),
    Directive(".data", "", "asm", GROUPS[0], "Data in GM, from `GM_BASE`."),
    Directive(".sdata", "", "asm", GROUPS[0], "Data in SM, from `SM_BASE`."),
    Directive(".ldata", "", "asm", GROUPS[0],
              "Data in the LM of the PEs of the current `.pe` selection, from `LM_BASE`."),
    Directive(".pe", "all | R,C | R0:R1,C0:C1", "asm", GROUPS[0],
              "Select the PEs the following code and `.ldata` go to; ranges are inclusive. "
              "A PE runs the image of the last selection that names it."),
    Directive(".org", "ADDRESS", "asm", GROUPS[0],
              "Move the location counter forward to ADDRESS, in the section's own terms "
              "(a byte address in code, an absolute address in data)."),
    Directive(".align", "BYTES[, FILL]", "asm", GROUPS[0],
              "Pad to a multiple of BYTES (a power of two): `nop`s in code, else zeros or FILL."),
    Directive(".space", "BYTES[, FILL]", "asm", GROUPS[0], "Reserve BYTES bytes (zeros or FILL)."),
    # -- data
    Directive(".word", "VALUE[, VALUE...]", "asm", GROUPS[1],
              "32-bit little-endian values (word aligned)."),
    Directive(".half", "VALUE[, VALUE...]", "asm", GROUPS[1],
              "16-bit values (half-word aligned)."),
    Directive(".byte", "VALUE | \"STRING\"[, ...]", "asm", GROUPS[1],
              "Bytes, or the bytes of strings."),
    Directive(".ascii", "\"STRING\"[, \"STRING\"...]", "asm", GROUPS[1],
              "The bytes of each string (UTF-8, with C escapes: `\\n \\t \\0 \\x41 \\101` ...), "
              "no terminator."),
    Directive(".asciz", "\"STRING\"[, \"STRING\"...]", "asm", GROUPS[1],
              "As `.ascii`, each string followed by a zero byte."),
    Directive(".string", "\"STRING\"[, \"STRING\"...]", "asm", GROUPS[1], "The same as `.asciz`."),
    # -- symbols
    Directive(".equ", "NAME, VALUE", "asm", GROUPS[2],
              "Define NAME once; VALUE may refer to labels and names defined later, except "
              "where a value is needed at once (`.org`, `.align`, `.space`, `.rept`, `.if`, "
              "`.pe`)."),
    Directive(".set", "NAME, VALUE", "asm", GROUPS[2],
              "Define or redefine NAME: each use takes the value of the last `.set` above it "
              "(a use above the first `.set` is an error). A name is either `.set` or "
              "`.equ`/label, not both."),
    # -- conditionals
    Directive(".if", "EXPR", "pre", GROUPS[3],
              "Assemble the lines up to the matching `.elseif`/`.else`/`.endif` if EXPR is not "
              "zero. EXPR must be known where the `.if` is (names and labels defined above)."),
    Directive(".ifdef", "NAME", "pre", GROUPS[3],
              "As `.if`, true if NAME is a symbol defined above (labels, `.equ`, `.set`, the "
              "machine's parameters)."),
    Directive(".ifndef", "NAME", "pre", GROUPS[3], "As `.ifdef`, true if NAME is not defined."),
    Directive(".elseif", "EXPR", "pre", GROUPS[3],
              "Inside `.if`: the next branch, taken if no branch above was and EXPR is not zero "
              "(evaluated only then)."),
    Directive(".else", "", "pre", GROUPS[3], "Inside `.if`: the branch taken if no other was."),
    Directive(".endif", "", "pre", GROUPS[3], "Ends an `.if`, `.ifdef` or `.ifndef`."),
    # -- macros and repetition
    Directive(".macro", "NAME [PARAM[=DEFAULT], ...]", "pre", GROUPS[4],
              "Define a macro up to `.endm`. In its body `\\PARAM` is an argument, `\\@` the "
              "number of macro expansions before this one (for unique labels), `\\()` "
              "nothing (to end a parameter name). Arguments are given by position or by "
              "name (`m b=1, a=2`); a parameter with a default may be left out."),
    Directive(".endm", "", "pre", GROUPS[4], "Ends a `.macro`."),
    Directive(".rept", "COUNT", "pre", GROUPS[4],
              "Repeat the lines up to the matching `.endr` COUNT times (known where the "
              "`.rept` is)."),
    Directive(".irp", "NAME[, VALUE...]", "pre", GROUPS[4],
              "Repeat the lines up to the matching `.endr` once per VALUE, with `\\NAME` "
              "replaced by it (once with `\\NAME` empty if there are no values)."),
    Directive(".endr", "", "pre", GROUPS[4], "Ends a `.rept` or `.irp`."),
    Directive(".include", "\"FILE\"", "pre", GROUPS[4],
              "Assemble FILE here: searched beside the including file, then in the `-I` "
              "directories."),
    # -- messages and checks
    Directive(".error", "\"MESSAGE\"", "asm", GROUPS[5],
              "Report an error at this line (with the macro or include it came through); the "
              "program is not assembled."),
    Directive(".warning", "\"MESSAGE\"", "asm", GROUPS[5],
              "Report a warning at this line; the program is still assembled."),
    Directive(".assert", "EXPR[, \"MESSAGE\"]", "asm", GROUPS[5],
              "An error (MESSAGE, or the expression) if EXPR is zero. Checked when every "
              "symbol is known, so EXPR may use labels defined later."),
)

BY_NAME = {d.name: d for d in DIRECTIVES}
PRE = frozenset(d.name for d in DIRECTIVES if d.stage == "pre")
ASM = frozenset(d.name for d in DIRECTIVES if d.stage == "asm")
NAMES = tuple(d.name for d in DIRECTIVES)

# Directives whose operands are data: their lines may be longer than MAX_LINE (read by a
# streaming path, at the cost of separate lines).
DATA = frozenset({".word", ".half", ".byte", ".ascii", ".asciz", ".string"})


def usage(name: str) -> str:
    """`.equ NAME, VALUE`: the directive as written, for "expected:" help lines."""
    d = BY_NAME[name]
    return f"{d.name} {d.syntax}".rstrip()
