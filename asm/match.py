"""Match a parsed instruction line against the table's forms (no context needed).

Resolving the mnemonic and its suffix, choosing the form whose operand
shapes fit, turning registers and enum names into numbers and range-checking
constant immediates depend only on the line's text, so the result is cached
with it: an unchanged line (a `.rept` body, a macro expanded twice) is matched
once.  What depends on context (symbols, the PC) is left as expressions for
the assembler's second pass.

Every failure is a :class:`Problem` that says what was expected: the forms
the mnemonic accepts, the kind of operand, the range, a close spelling.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from .diagnostics import did_you_mean
from .expr import Expr
from .grammar import Operand, Stmt, parse_line
from .templates import S_EXPR, S_REG, S_STRING, Form, Slot, Templates, templates


class Problem(NamedTuple):
    """An error in a line, with the span of text to blame."""

    message: str
    col: int
    end: int
    help: tuple[str, ...] = ()


class Matched(NamedTuple):
    """An instruction line matched to a form.

    `values` has one entry per field slot of the form, in the order written: an
    int when known now, an Expr when it needs symbols or the PC.  `word` is the
    finished encoding when nothing is left to evaluate.
    """

    form: Form
    values: tuple
    spans: tuple[tuple[int, int], ...]
    word: int | None
    expansion: tuple[Matched, ...] = ()  # fixed pseudo expansions (mv)


def encode(form: Form, values: tuple) -> int:
    """The word for a form whose slot values are all known and in range."""
    word = form.insn.match
    for (shift, mask, scale), v in zip(form.plan, values, strict=True):
        word |= ((v if scale == 1 else v // scale) & mask) << shift
    return word


def check_range(slot: Slot, v: int) -> str | None:
    """None if `v` fits the slot, else the message saying why not."""
    if slot.lo <= v <= slot.hi and v % slot.scale == 0:
        return None
    shown = f"{v} ({v & 0xFFFFFFFF:#x})" if abs(v) >= 4096 and v < 1 << 32 else str(v)
    if slot.kind == "pcrel":
        if v % slot.scale:
            return f"branch offset {v} is not a multiple of {slot.scale}"
        return (f"branch target out of range: offset {v} bytes, {slot.name} reaches "
                f"{slot.lo}..{slot.hi}")
    if v % slot.scale:
        return f"value {shown} for {slot.name} is not a multiple of {slot.scale}"
    return f"value {shown} out of range for {slot.name} ({slot.lo}..{slot.hi})"


def forms_help(forms: list[Form]) -> str:
    texts = list(dict.fromkeys(f.text for f in forms))
    return ("expected one of: " if len(texts) > 1 else "expected: ") + " | ".join(texts)


def resolve(t: Templates, head: str, col: int, end: int,
            extra_names: tuple[str, ...] = ()) -> list[Form] | Problem:
    """The forms of a mnemonic as written (`add.w`), or why there are none."""
    forms = t.forms.get(head)
    if forms is not None:
        return forms
    base, dot, suffix = head.partition(".")
    gs = t.suffixes.get(base)
    if gs is not None:
        spelled = [f"{base}.{g}" if g else base for g in gs]
        if not dot or not suffix:
            return Problem(f"{base} needs a granularity suffix: {', '.join(spelled)}", col, end,
                           (forms_help([f for s in spelled for f in t.forms[s]]),))
        if gs == ("",):
            return Problem(f"{base} takes no granularity suffix", col, end,
                           (f"did you mean '{base}'?",))
        return Problem(f"{base} has no .{suffix} form; it takes {', '.join(spelled)}", col, end,
                       did_you_mean(head, spelled))
    pool = list(t.forms) + list(extra_names)
    return Problem(f"unknown instruction '{head}'", col, end, did_you_mean(head, pool))


def _describe(op: Operand, text: str) -> str:
    shown = text[op.col:op.end]
    if op.shape == S_REG:
        return f"register {shown}"
    if op.shape == S_STRING:
        return "a string"
    return f"'{shown}'"


def _piece_text(form: Form, i: int) -> str:
    return "".join(form.pieces[i])


def _expected(form: Form, i: int) -> str:
    group = form.slots[i]
    if len(form.pieces[i]) == 1 and len(group) == 1:
        return group[0].describe()
    return f"'{_piece_text(form, i)}'"


def _values(form: Form, stmt: Stmt, text: str) -> Matched | Problem:
    """Fill the form's slots from the operands: registers, enums, constant immediates.
    The spans of the values are kept only when something is left for pass 2."""
    values: list = []
    append = values.append
    deferred = False
    for op, group in zip(stmt.operands, form.slots, strict=True):
        for slot, v in zip(group, op[1], strict=True):
            kind = slot.kind
            if kind == "reg":
                append(v)
            elif kind == "enum":
                name = v.bare_name() if type(v) is Expr else None
                names = [n for n, _ in slot.enum]
                if name not in names:
                    got = f"'{text[op.col:op.end]}'"
                    help_ = did_you_mean(name, names) if name else ()
                    span = (op.col, op.end) if len(group) == 1 else _value_span(v, op)
                    return Problem(f"expected {slot.describe()}, got {got}", *span, help_)
                append(dict(slot.enum)[name])
            elif type(v) is not int or kind == "pcrel":
                append(v)
                deferred = True
            elif slot.lo <= v <= slot.hi and (slot.scale == 1 or v % slot.scale == 0):
                append(v)
            else:
                span = (op.col, op.end) if len(group) == 1 else _value_span(v, op)
                return Problem(check_range(slot, v), *span, (forms_help([form]),))
    if not deferred and form.insn is not None:
        return Matched(form, tuple(values), (), encode(form, values))
    spans = tuple((op.col, op.end) if len(group) == 1 else _value_span(v, op)
                  for op, group in zip(stmt.operands, form.slots, strict=True)
                  for v in op.values)
    return Matched(form, tuple(values), spans, None)


def _value_span(v, op: Operand) -> tuple[int, int]:
    if isinstance(v, Expr):
        return v.col, v.end
    return op.col, op.end


def match(t: Templates, stmt: Stmt, text: str, forms: list[Form]) -> Matched | Problem:
    """Choose the form whose operand shapes fit and fill it in."""
    shapes = tuple([op[0] for op in stmt.operands])
    for form in forms:
        if form.shapes == shapes:
            return _values(form, stmt, text)
    n = len(shapes)
    help_ = (forms_help(forms),)
    counts = sorted({len(f.shapes) for f in forms})
    if n not in counts:
        want = " or ".join(map(str, counts))
        plural = "s" if counts[-1] != 1 else ""
        if n > counts[-1]:
            extra = stmt.operands[counts[-1]]
            col, end = extra.col, stmt.operands[-1].end
        else:
            col = end = (stmt.operands[-1].end if stmt.operands else stmt.end)
            end += 1
        return Problem(f"{stmt.head} takes {want} operand{plural}, got {n}", col, end, help_)
    # Same count: blame the first operand that fits none of the forms.
    best, best_i = None, -1
    for form in forms:
        if len(form.shapes) != n:
            continue
        i = next((k for k in range(n) if form.shapes[k] != shapes[k]), n)
        if i > best_i:
            best, best_i = form, i
    op = stmt.operands[best_i]
    exp = _expected(best, best_i)
    got = _describe(op, text)
    if op.shape == S_EXPR and best.slots[best_i] and best.slots[best_i][0].kind == "reg":
        return Problem(f"expected {exp}, got '{text[op.col:op.end]}'", op.col, op.end, help_)
    return Problem(f"expected {exp}, got {got}", op.col, op.end, help_)


def _expand_fixed(t: Templates, form: Form, stmt: Stmt, text: str,
                  m: Matched) -> Matched | Problem:
    """A pseudo with one fixed expansion (`mv` -> `addi {rd}, {rs}, 0`): the real line."""
    pseudo = next(p for p in t.isa.pseudos if p.name == form.spelled)
    written = {group[0].name: text[op.col:op.end]
               for group, op in zip(form.slots, stmt.operands, strict=True) if len(group) == 1}
    template = pseudo.expansion[0].split("#")[0].strip()
    expansion = re.sub(r"\{(\w+)\}", lambda m: written.get(m.group(1), m.group(0)), template)
    real = analyse(expansion)
    if not isinstance(real, Matched):
        return Problem(f"cannot expand {form.spelled}: {expansion}", stmt.col, stmt.end)
    return m._replace(expansion=(real,))


# Recent lines (a `.rept` body, a macro expanded with the same arguments): bounded, as a
# program of distinct lines would otherwise keep every parse.
_cache: dict[str, tuple[Stmt, Matched | Problem | None]] = {}
CACHE_LIMIT = 8192
_HEAD = re.compile(r"\s*(?:[\w.$]+\s*:\s*)*([\w.$]+)")


def analyse_line(text: str) -> tuple[Stmt, Matched | Problem | None]:
    """Parse a line and, for an instruction, match it (cached by the line's text).

    Returns the statement and: None for labels-only lines and directives, a
    Matched instruction, or the Problem with the line.
    """
    hit = _cache.get(text)
    if hit is not None:
        return hit
    stmt = parse_line(text)
    result: Matched | Problem | None
    if stmt.error is not None:
        msg, col, end, help_ = stmt.error
        m = _HEAD.match(text)
        forms = templates().forms.get(m.group(1)) if m else None
        if forms:
            help_ = help_ + (forms_help(forms),)
        result = Problem(msg, col, end, help_)
    elif stmt.head is None or stmt.head.startswith("."):
        result = None
    else:
        result = analyse_stmt(stmt, text)
    if len(_cache) >= CACHE_LIMIT:
        _cache.clear()
    out = _cache[text] = (stmt, result)
    return out


def analyse_stmt(stmt: Stmt, text: str) -> Matched | Problem:
    t = templates()
    forms = resolve(t, stmt.head, stmt.col, stmt.end)
    if isinstance(forms, Problem):
        return forms
    m = match(t, stmt, text, forms)
    if isinstance(m, Matched) and m.form.insn is None and m.form.spelled != "li":
        return _expand_fixed(t, m.form, stmt, text, m)
    return m


def analyse(text: str) -> Matched | Problem | None:
    return analyse_line(text)[1]
