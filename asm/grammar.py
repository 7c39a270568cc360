"""The line grammar, generated from the table's operand shapes, and the line parser.

One Lark LALR grammar describes a line: labels, a head word (mnemonic with
optional `.g` suffix, or directive), and comma-separated operands.  The
operand alternatives are not written by hand: one is generated per distinct
operand shape of the ISA table's syntax templates (see ``templates.py``), so a
new addressing form in ``isa.toml`` needs no change here.  Expressions are C
precedence, folded to ints as they are parsed.

A parsed line is a :class:`Stmt`; ``match.analyse_line`` caches parsed and
matched lines by their text (after macro substitution), so `.rept` bodies and
lines repeated nearby are parsed once.
"""

from __future__ import annotations

import re
from functools import cache
from typing import NamedTuple

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from . import expr as E
from .templates import EXPR, REG, Templates, templates

# Literal characters of templates and expressions: terminal name per character.
LITERALS = {
    "(": "LPAR", ")": "RPAR", "+": "PLUS", "-": "MINUS", ":": "COLON", "*": "STAR",
    "/": "SLASH", "%": "PERCENT", "&": "AMP", "|": "BAR", "^": "CARET", "~": "TILDE",
    "[": "LSQB", "]": "RSQB", "!": "BANG", "@": "AT", "=": "EQUAL",
}

_CORE = r"""
start: label* statement?
label: NAME ":"      -> label
     | NUMBER ":"    -> local_label
statement: NAME operands?
operands: operand (COMMA operand)*

?expr: lor
?lor: land | lor OROR land -> binop
?land: bor | land ANDAND bor -> binop
?bor: bxor | bor BAR bxor -> binop
?bxor: band | bxor CARET band -> binop
?band: eq | band AMP eq -> binop
?eq: rel | eq EQEQ rel -> binop | eq NE rel -> binop
?rel: shift | rel LT shift -> binop | rel GT shift -> binop | rel LE shift -> binop
     | rel GE shift -> binop
?shift: sum | shift SHL sum -> binop | shift SHR sum -> binop
?sum: prod | sum PLUS prod -> binop | sum MINUS prod -> binop
?prod: unary | prod STAR unary -> binop | prod SLASH unary -> binop | prod PERCENT unary -> binop
?unary: atom | MINUS unary -> unop | TILDE unary -> unop | PLUS unary -> unop
       | BANG unary -> unop
?atom: NUMBER | CHAR | NAME | LOCALREF | DOT   // tokens, turned into values by their user
     | LPAR expr RPAR -> paren

COMMA: ","
SHL: "<<"
SHR: ">>"
OROR: "||"
ANDAND: "&&"
EQEQ: "=="
NE: "!="
LE: "<="
GE: ">="
LT: "<"
GT: ">"
DOT.2: /\.(?![\w.$])/
REG.2: /r(?:1[0-5]|[0-9])(?![\w.$])/
LOCALREF.3: /[0-9]+[bf](?![\w.$])/
NUMBER: /0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|[0-9][0-9_]*/
NAME: /[A-Za-z_.$][\w.$]*/
STRING: /"(?:[^"\\\n]|\\.)*"/
CHAR: /'(?:[^'\\\n]|\\.{1,3})'/
COMMENT: /#[^\n]*/
WS: /[ \t\f\r\v]+/
%ignore WS
%ignore COMMENT
"""

# Friendly names of terminals, for "expected ..." messages.
_TERMINAL_WORDS = {
    "REG": "a register", "NAME": "a name", "NUMBER": "a number", "STRING": "a string",
    "CHAR": "a character", "LOCALREF": "a local label reference", "DOT": "'.'",
    "COMMA": "','", "SHL": "'<<'", "SHR": "'>>'", "$END": "end of line",
}


class Operand(NamedTuple):
    """One comma-separated operand: its shape, its values in order, its span."""

    shape: int
    values: tuple  # int for a register, int | Expr for an expression, bytes for a string
    col: int
    end: int


class Stmt(NamedTuple):
    """A parsed line.  `error` is (message, col, end, help) when it did not parse."""

    labels: tuple[tuple[str | int, int, int], ...]  # (name, or number for `1:`, col, end)
    head: str | None
    col: int  # span of the head word
    end: int
    operands: tuple[Operand, ...]
    error: tuple[str, int, int, tuple[str, ...]] | None = None


def grammar_text(t: Templates) -> str:
    """The Lark grammar: the fixed line structure plus one rule per operand shape."""
    alts = []
    lits = dict(LITERALS)
    for i, shape in enumerate(t.shapes):
        parts = []
        for el in shape:
            if el == REG:
                parts.append("REG")
            elif el == EXPR:
                parts.append("expr")
            elif el == "S":
                parts.append("STRING")
            else:
                if el not in lits:
                    lits[el] = f"LIT{len(lits)}"
                parts.append(lits[el])
        alts.append(f"{' '.join(parts)} -> op_{i}")
    used = set(re.findall(r"\b[A-Z][A-Z0-9]*\b", _CORE + "\n".join(alts)))
    terms = "\n".join(f'{name}: "{ch}"' for ch, name in lits.items() if name in used)
    operand = "operand: " + "\n       | ".join(alts)
    header = (
        "// Generated from isa/isa.toml by asm/grammar.py: the operand alternatives\n"
        "// are one per operand shape of the syntax templates.\n"
    )
    return header + _CORE + "\n" + operand + "\n" + terms + "\n"


def _tok_col(tok: Token) -> int:
    return tok.start_pos or 0


_STMT = object()  # marks the statement among a line's labels


class _Build(Transformer):
    """Callbacks run by the LALR parser as it reduces (no tree is built)."""

    def start(self, c):
        if c and c[-1][0] is _STMT:
            return tuple(c[:-1]), c[-1]
        return tuple(c), None

    def label(self, c):
        t = c[0]
        return (str(t), _tok_col(t), t.end_pos)

    def local_label(self, c):
        t = c[0]
        digits = str(t).replace("_", "")
        value = int(digits) if digits.isdigit() and len(digits) < 10 else -1
        return (value, _tok_col(t), t.end_pos)

    def statement(self, c):
        head = c[0]
        ops, commas = c[1] if len(c) > 1 else ((), ())
        return (_STMT, head, ops, commas)

    def operands(self, c):
        return tuple(c[0::2]), tuple(t.start_pos for t in c[1::2])

    def binop(self, c):
        a, op, b = c
        if type(a) is Token:
            a = _atom(a)
        if type(b) is Token:
            b = _atom(b)
        return E.binary(str(op), a, b, op.start_pos, op.end_pos)

    def unop(self, c):
        op, a = c
        return E.unary(str(op), _atom(a) if type(a) is Token else a, op.start_pos, op.end_pos)

    def paren(self, c):
        return c[1]


def _atom(tok: Token) -> int | E.Expr:
    """The value of an expression token (atoms reach their user as tokens: fewer calls)."""
    kind = tok.type
    if kind == "NUMBER" or kind == "CHAR":
        return E.number(str(tok), tok.start_pos)
    if kind == "NAME":
        return E.symbol(str(tok), tok.start_pos)
    if kind == "LOCALREF":
        return E.local_ref(str(tok), tok.start_pos)
    return E.location(tok.start_pos)  # DOT


def _shape_callback(index: int, shape: tuple[str, ...]):
    """The callback of one operand shape: its values, from the children at the positions
    of its registers, expressions and strings (the others are its literal characters)."""
    if shape == (REG,):
        return lambda c: (index, (int(c[0][1:]),))
    if shape == (EXPR,):
        return lambda c: (index, (_atom(c[0]) if type(c[0]) is Token else c[0],))
    plan = [(k, el) for k, el in enumerate(shape) if el in (REG, EXPR, "S")]

    def build(children):
        values = []
        for k, el in plan:
            ch = children[k]
            if el == REG:
                values.append(int(ch[1:]))
            elif el == EXPR:
                values.append(_atom(ch) if type(ch) is Token else ch)
            else:
                values.append(_unquote(ch))
        return (index, tuple(values))
    return build


def _unquote(tok: Token) -> bytes | E.Expr:
    """A string's bytes (C escapes decoded), or an error expression naming the bad escape."""
    data = E.unescape(str(tok)[1:-1])
    if isinstance(data, str):
        return E.error(f"{data} in the string", tok.start_pos, tok.end_pos)
    return data


@cache
def parser(t: Templates | None = None) -> Lark:
    """The LALR parser for lines, with the transformer applied as it parses."""
    t = t or templates()
    build = _Build()
    for i, shape in enumerate(t.shapes):
        setattr(build, f"op_{i}", _shape_callback(i, shape))
    return Lark(grammar_text(t), parser="lalr", transformer=build, maybe_placeholders=False)


@cache
def bare_parser(t: Templates | None = None) -> Lark:
    """The same grammar building a plain tree (what the benchmark compares against)."""
    return Lark(grammar_text(t or templates()), parser="lalr")


def code_end(text: str) -> int:
    """Where the code of a line ends: its `#` comment, skipping quoted text."""
    i = text.find("#")
    if i < 0:
        return len(text)
    if '"' not in text[:i] and "'" not in text[:i]:
        return i
    quote = ""
    for k, ch in enumerate(text):
        if quote:
            if ch == "\\":
                continue
            if ch == quote and text[k - 1] != "\\":
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            return k
    return len(text)


def _strip_comment(text: str) -> str:
    return text[:code_end(text)].rstrip()


def _describe_expected(expected: set[str] | frozenset[str], lark: Lark) -> str:
    patterns = {t.name: t.pattern for t in lark.terminals}
    words = []
    for name in sorted(expected):
        if name in _TERMINAL_WORDS:
            words.append(_TERMINAL_WORDS[name])
        elif name in patterns and patterns[name].type == "str":
            words.append(f"'{patterns[name].value}'")
        else:
            words.append(name.lower())
    words = sorted(set(words))
    if len(words) > 8:
        words = words[:8] + ["..."]
    return "expected " + (words[0] if len(words) == 1 else "one of: " + ", ".join(words))


def _show_char(ch: str) -> str:
    return f"'{ch}'" if ch.isprintable() and ch != "\ufffd" else f"character U+{ord(ch):04X}"


def _parse_error(exc: UnexpectedInput, text: str, lark: Lark) -> tuple:
    if isinstance(exc, UnexpectedCharacters):
        col = exc.pos_in_stream
        ch = text[col] if col < len(text) else ""
        return (f"unexpected {_show_char(ch)}", col, col + 1,
                (_describe_expected(exc.allowed, lark),) if exc.allowed else ())
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        if tok.type == "$END":
            col = len(text)
            return ("unexpected end of line", col, col + 1,
                    (_describe_expected(exc.expected, lark),))
        col = tok.start_pos or 0
        what = _TERMINAL_WORDS.get(tok.type)
        shown = f"register '{tok}'" if tok.type == "REG" else f"'{tok}'"
        msg = f"unexpected {shown}" if what != "a name" else f"unexpected name '{tok}'"
        return (msg, col, max(tok.end_pos or col + 1, col + 1),
                (_describe_expected(exc.expected, lark),))
    if isinstance(exc, UnexpectedEOF):
        return ("unexpected end of line", len(text), len(text) + 1, ())
    return ("syntax error", 0, 1, ())


_lark: Lark | None = None


def _first_parser() -> Lark:
    global _lark
    _lark = parser()
    return _lark

EMPTY = Stmt((), None, 0, 0, ())


def parse_line(text: str) -> Stmt:
    """Parse one line (the cache is match.analyse_line's, of parsed and matched lines)."""
    return parse_uncached(_strip_comment(text) if "#" in text else text.rstrip())


def parse_uncached(key: str) -> Stmt:
    """Parse one line without its comment, bypassing the cache."""
    if not key or key.isspace():
        return EMPTY
    lark = _lark or _first_parser()
    try:
        labels, stmt = lark.parse(key)
    except UnexpectedInput as exc:
        return Stmt((), None, 0, 0, (), _parse_error(exc, key, lark))
    if stmt is None:
        return Stmt(labels, None, 0, 0, ())
    _, head, ops, commas = stmt
    new = tuple.__new__
    operands = []
    start = head.end_pos
    ends = (*commas, len(key))
    for (shape, values), end in zip(ops, ends, strict=False):  # span: between commas, trimmed
        s = start
        while key[s] in " \t\f\r\v":  # the parser saw an operand here: s stays < end
            s += 1
        e = end
        while key[e - 1] in " \t\f\r\v":
            e -= 1
        operands.append(new(Operand, (shape, values, s, e if e > s else s + 1)))
        start = end + 1
    return new(Stmt, (labels, str(head), head.start_pos, head.end_pos, tuple(operands), None))
