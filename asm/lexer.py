"""A Pygments lexer for pearray assembly, generated from isa/isa.toml when imported.

The mnemonics and their granularity suffixes, the registers, the special
register and direction names (the table's enums), the machine's predefined
symbols and the directives (asm/directives.py) are read from the same tables
the assembler uses, so a new instruction is highlighted without a change here.
Registered as the Pygments plugin `pearray` (pyproject.toml entry point), so
`pygmentize -l pearray file.s` works once the package is installed; the
assembler's listing and `pearray disasm` use it to colour a terminal.
"""

from __future__ import annotations

import os
import re
from typing import TextIO

from pygments.lexer import RegexLexer, bygroups, include
from pygments.token import (
    Comment,
    Error,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Token,
    Whitespace,
)

from pearray.isa import Isa, load

from .directives import NAMES as DIRECTIVES

_NAME = r"[A-Za-z_.$][\w.$]*"
_END = r"(?![\w.$])"
_PARAM = r"\\(?:\w+|@|\(\))"  # a macro or .irp parameter: \name, \@, \()


def _words(names: list[str]) -> str:
    """An alternation of names, longest first, matched whole."""
    return "(?:" + "|".join(re.escape(n) for n in sorted(set(names), key=lambda n: (-len(n), n))) \
        + ")"


def token_table(isa: Isa) -> dict[str, list]:
    """The lexer's states for this instruction set."""
    mnemonics = sorted({i.mnemonic for i in isa.insns} | {p.name for p in isa.pseudos})
    suffixes = sorted({i.g for i in isa.insns if i.g})
    nregs = max((1 << f.width for f in isa.fields.values() if f.kind == "reg"), default=16)
    registers = [f"r{i}" for i in range(nregs)]
    enum_names = sorted({n for members in isa.enums.values() for n in members})
    machine = sorted(k.upper() for k, v in isa.machine.items()
                     if type(v) is int and k not in ("rows", "cols"))
    suffix = "(?:\\.(?:" + "|".join(suffixes) + "))?" if suffixes else ""
    return {
        "root": [
            (r"\n", Whitespace),
            (r"[ \t\f\r\v]+", Whitespace),
            (r"#.*", Comment.Single),
            (r"(\d+)([ \t]*)(:)", bygroups(Name.Label, Whitespace, Punctuation)),
            (rf"((?:{_NAME}|{_PARAM})+)([ \t]*)(:)",  # `loop\@:` in a macro
             bygroups(Name.Label, Whitespace, Punctuation)),
            (_words(list(DIRECTIVES)) + _END, Keyword, "operands"),
            (_words(mnemonics) + suffix + _END, Keyword, "operands"),
            (_PARAM, Name.Variable.Magic, "operands"),  # `\op r1, r2` in a macro
            (rf"{_NAME}", Name.Function, "operands"),  # a macro call
        ],
        "operands": [
            (r"\n", Whitespace, "#pop"),
            (r"[ \t\f\r\v]+", Whitespace),
            (r"#.*", Comment.Single),
            include("values"),
        ],
        "values": [
            (r'"', String, "string"),
            (r"'(?:[^'\\\n]|\\.{1,3})'", String.Char),
            (_PARAM, Name.Variable.Magic),  # macro and .irp parameters
            (r"0[xX][0-9a-fA-F_]+" + _END, Number.Hex),
            (r"0[bB][01_]+" + _END, Number.Bin),
            (r"0[oO][0-7_]+" + _END, Number.Oct),
            (r"[0-9]+[bf]" + _END, Name.Label),  # local label reference
            (r"[0-9][0-9_]*" + _END, Number.Integer),
            (_words(registers) + _END, Name.Builtin),
            (_words(enum_names) + _END, Name.Constant),
            (_words(machine) + _END, Name.Builtin.Pseudo),
            (r"\.(?![\w.$])", Name.Builtin.Pseudo),  # the location counter
            (_NAME, Name),
            (r"<<|>>|==|!=|<=|>=|&&|\|\||[-+*/%&|^~!<>=]", Operator),
            (r"[(),:]", Punctuation),
        ],
        "string": [
            (r'"', String, "#pop"),
            (r"\\(?:[abfnrtv\\'\"?]|[0-7]{1,3}|x[0-9a-fA-F]{1,2})", String.Escape),
            (r"\\.", Error),
            (r'[^"\\\n]+', String),
            (r"\n", Error, "#pop"),
        ],
    }


class PearrayLexer(RegexLexer):
    """pearray assembly (the instruction set of isa/isa.toml, GNU-as-like directives)."""

    name = "pearray"
    aliases = ["pearray", "pearray-asm"]
    filenames: list[str] = []  # `*.s` belongs to GNU as; ask for this one by name
    mimetypes = ["text/x-pearray-asm"]
    tokens = token_table(load())


# ---------------------------------------------------------------------- terminal colour

_SGR = {  # token type -> ANSI select graphic rendition, first match up the hierarchy
    Comment: "2;3", Keyword: "1;34", Name.Label: "1;33", Name.Function: "34",
    Name.Builtin.Pseudo: "36", Name.Builtin: "35", Name.Constant: "36",
    Name.Variable.Magic: "32", Number: "31", String.Escape: "1;31", String: "32",
    Error: "1;41",
}


def _sgr(ttype) -> str | None:
    while ttype is not Token:
        code = _SGR.get(ttype)
        if code is not None:
            return code
        ttype = ttype.parent
    return None


_LEXER: PearrayLexer | None = None


def colour(text: str) -> str:
    """`text` (assembly) with ANSI colours."""
    global _LEXER
    _LEXER = _LEXER or PearrayLexer(ensurenl=False, stripnl=False)
    out = []
    for ttype, value in _LEXER.get_tokens(text):
        code = _sgr(ttype)
        out.append(f"\x1b[{code}m{value}\x1b[0m" if code and value.strip() else value)
    return "".join(out)


_MARK = re.compile(r"(>+ )?")


def colour_listing(rows: list[str]) -> list[str]:
    """The listing with its columns dimmed and the source column coloured."""
    if not rows:
        return rows
    start = rows[0].find("source")
    out = [f"\x1b[1m{rows[0]}\x1b[0m"]
    for row in rows[1:]:
        head, src = row[:start], row[start:]
        mark = _MARK.match(src).group()
        out.append(f"\x1b[2m{head}\x1b[0m" + (f"\x1b[2m{mark}\x1b[0m" if mark else "")
                   + colour(src[len(mark):]))
    return out


def wants_colour(choice: str, stream: TextIO) -> bool:
    """--color=always|never|auto: auto colours a terminal unless NO_COLOR is set."""
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


__all__ = ["PearrayLexer", "colour", "colour_listing", "token_table", "wants_colour"]
