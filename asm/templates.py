"""Operand templates from the ISA table, compiled once into shapes and forms.

A syntax template such as ``{rd}, {off12}({rs})`` is split at commas into
operand pieces; each piece becomes a *shape*: a sequence of ``R`` (a register
field), ``E`` (an expression: immediate, branch target or enum name) and
literal characters.  The grammar (``grammar.py``) gets one alternative per
distinct shape, so the parser knows ``off12(rs)`` and ``(rs)+off12`` without
anything written per instruction; a *form* (one accepted spelling of a
mnemonic) is the list of its operand shapes plus, per operand, the fields the
values go to.  Both directions use the same forms: the disassembler prints
an instruction by filling its template back in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, cached_property

from pearray.isa import Insn, Isa, load

REG, EXPR = "R", "E"
_PIECE = re.compile(r"\{(\w+)\}|(\S)")

# Shapes every grammar has: a register, an expression, a string, a range (`.pe 0:1, ...`).
SHAPE_REG = (REG,)
SHAPE_EXPR = (EXPR,)
SHAPE_STRING = ("S",)
SHAPE_RANGE = (EXPR, ":", EXPR)
BASE_SHAPES = (SHAPE_REG, SHAPE_EXPR, SHAPE_STRING, SHAPE_RANGE)
S_REG, S_EXPR, S_STRING, S_RANGE = range(4)  # their shape ids, in every grammar


@dataclass(frozen=True)
class Slot:
    """An operand field inside a form: where its value goes and what it may be."""

    name: str
    kind: str  # reg | uimm | simm | pcrel | enum | imm (pseudo operand, e.g. imm32)
    lo: int
    hi: int
    scale: int = 1
    enum: tuple[tuple[str, int], ...] = ()
    enum_name: str = ""

    def describe(self) -> str:
        """What the programmer must write here, for "expected ..." messages."""
        if self.kind == "reg":
            return "a register (r0..r15)"
        if self.kind == "enum":
            what = {"dir": "a direction", "sreg": "a special register"}.get(
                self.enum_name, f"a {self.enum_name} name")
            return f"{what} ({', '.join(n for n, _ in self.enum)})"
        if self.kind == "pcrel":
            return "a code label or address"
        return "an immediate expression"


@dataclass(frozen=True)
class Form:
    """One accepted spelling of a mnemonic: operand shapes and the fields they fill."""

    spelled: str  # "add.w", "lw", "li"
    insn: Insn | None  # None for a pseudo-instruction
    shapes: tuple[int, ...]  # shape id per operand
    slots: tuple[tuple[Slot, ...], ...]  # per operand, its fields in the order written
    pieces: tuple[tuple[str, ...], ...]  # per operand, the template piece tokens
    plan: tuple[tuple[int, int, int], ...] = ()  # per slot: (shift, mask, scale) to encode

    @property
    def text(self) -> str:
        """The form as documentation writes it: `lw rd, off12(rs)`."""
        ops = ", ".join("".join(p) for p in self.pieces)
        return f"{self.spelled} {ops}".rstrip()

    @cached_property
    def flat_slots(self) -> tuple[Slot, ...]:
        return tuple(s for group in self.slots for s in group)


@dataclass(eq=False)  # hashed by identity: the parser is cached per table
class Templates:
    """Every shape and form of the table, and lookups by spelled mnemonic."""

    isa: Isa
    shapes: list[tuple[str, ...]]
    forms: dict[str, list[Form]]  # spelled mnemonic -> forms
    by_key: dict[str, Form]  # insn key -> its form (for the disassembler)
    suffixes: dict[str, tuple[str, ...]]  # mnemonic -> granularities ("" for none)


def _pieces(syntax: str) -> list[list[tuple[str, str]]]:
    """Split a template into operands, each a list of ("field", name) / ("lit", char)."""
    if not syntax.strip():
        return []
    out = []
    for part in syntax.split(","):
        toks = []
        for m in _PIECE.finditer(part):
            toks.append(("field", m.group(1)) if m.group(1) else ("lit", m.group(2)))
        out.append(toks)
    return out


def _slot(isa: Isa, insn: Insn | None, name: str) -> Slot:
    f = isa.fields.get(name)
    if f is None:  # a pseudo's own operand (imm32): any 32-bit value
        if name.startswith("r"):
            return Slot(name, "reg", 0, 15)
        return Slot(name, "imm", -(1 << 31), (1 << 32) - 1)
    lo, hi = isa.operand_range(insn, name) if insn else f.value_range()
    enum = tuple(isa.enums[f.enum].items()) if f.kind == "enum" else ()
    return Slot(name, f.kind, lo, hi, f.scale, enum, f.enum or "")


def _form(isa: Isa, spelled: str, insn: Insn | None, syntax: str,
          shape_ids: dict[tuple[str, ...], int], shapes: list[tuple[str, ...]]) -> Form:
    ids, slots, pieces = [], [], []
    for toks in _pieces(syntax):
        shape, group, piece = [], [], []
        for kind, val in toks:
            if kind == "lit":
                shape.append(val)
                piece.append(val)
                continue
            s = _slot(isa, insn, val)
            group.append(s)
            shape.append(REG if s.kind == "reg" else EXPR)
            piece.append(val)
        key = tuple(shape)
        if key not in shape_ids:
            shape_ids[key] = len(shapes)
            shapes.append(key)
        ids.append(shape_ids[key])
        slots.append(tuple(group))
        pieces.append(tuple(piece))
    plan = tuple((isa.fields[sl.name].lo, (1 << isa.fields[sl.name].width) - 1, sl.scale)
                 for group in slots for sl in group) if insn else ()
    return Form(spelled, insn, tuple(ids), tuple(slots), tuple(pieces), plan)


@cache
def templates(isa: Isa | None = None) -> Templates:
    """The compiled templates of the table (cached per table)."""
    isa = isa or load()
    shapes = list(BASE_SHAPES)
    shape_ids = {s: i for i, s in enumerate(shapes)}
    forms: dict[str, list[Form]] = {}
    by_key: dict[str, Form] = {}
    suffixes: dict[str, tuple[str, ...]] = {}
    for insn in isa.insns:
        form = _form(isa, insn.spelled, insn, insn.syntax, shape_ids, shapes)
        forms.setdefault(insn.spelled, []).append(form)
        by_key[insn.key] = form
        gs = suffixes.setdefault(insn.mnemonic, ())
        if (insn.g or "") not in gs:
            suffixes[insn.mnemonic] = gs + (insn.g or "",)
    for p in isa.pseudos:
        forms.setdefault(p.name, []).append(_form(isa, p.name, None, p.syntax, shape_ids, shapes))
        suffixes.setdefault(p.name, ("",))
    return Templates(isa, shapes, forms, by_key, suffixes)
