"""The assembler: text -> preprocess -> parse/match (cached) -> two passes -> Program.

Pass 1 walks the expanded lines once: it defines labels at the location
counter of the current section, runs directives (which must know their sizes
now), places every instruction whose word is already known (most of them: the
match cache encodes constant lines once), and leaves a fixup for the rest
(operands that use symbols, branch targets).  Pass 2 evaluates the fixups with
every symbol known and patches the words in place.  Errors from any stage
go to one Diagnostics list; the run keeps going and reports them all.

`li` takes one instruction when its value is known in pass 1 (a constant or
`.equ` names defined above it, none of them label-valued) and fits 16 bits
signed (`addi`) or has its low 12 bits zero (`lui`), else two (`lui`+`ori`).
"""

from __future__ import annotations

import gc
import hashlib
import os
import re
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from pearray.isa import Insn

from . import directives as D
from . import expr as E
from .diagnostics import AsmError, Diagnostics, TooManyErrors, did_you_mean
from .disasm import decode, format_word
from .expr import EvalError, Expr
from .grammar import Operand, Stmt, parse_uncached
from .listing import listing
from .macros import MAX_LINE, Preprocessor, TooLarge
from .match import Matched, Problem, analyse_line, check_range, encode
from .match import _cache as match_cache
from .program import Program, Selection
from .sections import Section
from .source import Line
from .templates import S_EXPR, S_RANGE, S_REG, S_STRING, Form, Slot, templates

MAX_PE = 16  # rows and columns of the largest array (ARCH.md §1)
_REGNAME = re.compile(r"r(?:1[0-5]|[0-9])\Z")
_LABEL_PREFIX = re.compile(r"\s*((?:(?:[A-Za-z_.$][\w.$]*|\d+)\s*:\s*)+)")
_HEAD = re.compile(r"[ \t]*(?:(?:[A-Za-z_.$][\w.$]*|\d+)[ \t]*:[ \t]*)*([A-Za-z_.$][\w.$]*)")
LONG_LINE = 1024  # longer data lines take the streaming path (_stream_operands)
# One operand of a data line: up to a comma or comment outside quotes.
_PIECE = re.compile(r"""(?:[^,#"']+|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|["'].*)*""")
# One data operand that is a plain number (the streaming path's fast case).
_SIMPLE = re.compile(r"[ \t]*(-?)[ \t]*(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|[0-9][0-9_]*)"
                     r"[ \t]*(?=[,#]|\Z)")
# The machine's parameters are predefined as upper-case symbols, except the array's
# size: a program runs on any, and reads it with `mfs rd, rows`.
NOT_PREDEFINED = ("rows", "cols")


class Reported(Exception):
    """The error behind this has been reported already (stop quietly)."""


class _Circular(EvalError):
    """A `.equ` needed its own value; carries the names it went through."""

    def __init__(self, symbol: Symbol, col: int, end: int) -> None:
        super().__init__(f"'{symbol.name}' is defined in terms of itself", col, end)
        self.symbol = symbol
        self.chain: list[str] = []


@dataclass(slots=True)
class Symbol:
    """A label or `.equ` name."""

    name: str
    value: int | None
    kind: str  # "code" | "data" | "equ" | "set" | "machine"
    section: Section | None
    line: Line
    expr: int | Expr | None = None  # `.equ` definition still to evaluate
    seq: int = 0
    pc: int = 0
    pure: bool = False  # an `.equ` known in pass 1 that no label went into
    state: str = "done"  # done | pending | busy | failed
    span: tuple[int, int] = (0, 0)  # of the `.equ` value, for messages


class _Env(E.Env):
    """Symbol values for evaluation; `final` in pass 2, `pure` for `li` sizing."""

    def __init__(self, asm: Assembler, final: bool, seq: int = 0, pc: int = 0,
                 pure: bool = False) -> None:
        self.asm = asm
        self.final = final
        self.seq = seq
        self.pc = pc
        self.pure = pure

    def symbol(self, name: str, col: int, end: int) -> int:
        s = self.asm.symbols.get(name)
        if s is None:
            raise self.asm.undefined(name, col, end, self.final)
        if s.kind == "set":
            s = self.asm.set_version(name, self.seq, col, end)
        if self.pure and not (s.kind in ("equ", "set", "machine") and s.pure):
            raise EvalError("not pure", col, end)
        if s.value is None:
            self.asm.resolve(s, self.final, col, end)
        return s.value

    def local(self, number: int, forward: bool, col: int, end: int) -> int:
        if self.pure:
            raise EvalError("not pure", col, end)
        v = self.asm.local_def(number, forward, self.seq)
        if v is None:
            ref = f"{number}{'f' if forward else 'b'}"
            where = "after" if forward else "before"
            if forward and not self.final:
                raise EvalError(f"'{ref}' must be known here (it is defined later)", col, end)
            raise EvalError(f"no local label '{number}:' {where} this line (for '{ref}')",
                            col, end)
        return v[1]

    def dot(self, col: int, end: int) -> int:
        if self.pure:
            raise EvalError("not pure", col, end)
        return self.pc


@dataclass(slots=True)
class Fixup:
    """Something pass 2 must finish: an instruction, an `li`, or a data value."""

    kind: str  # "insn" | "li" | "data"
    buf: bytearray
    off: int
    line: Line
    seq: int
    pc: int
    section: Section
    matched: Matched | None = None
    size: int = 4
    value: int | Expr | None = None
    span: tuple[int, int] = (0, 0)
    directive: str = ""  # for "assert": the message


class Record(NamedTuple):
    """One statement for the listing: where it went and what it was."""

    section: Section
    addr: int
    size: int
    line: Line
    form: Form | None = None  # an instruction (None: directive or label)
    pseudo: bool = False
    header: str = ""
    buf: bytearray | None = None  # where its bytes are (patched in place by pass 2)
    off: int = 0


@dataclass
class Result:
    program: Program | None
    diagnostics: list = field(default_factory=list)
    includes: list[tuple[str, str]] = field(default_factory=list)


class _Discard(list):
    """Records when no listing is wanted: appending keeps nothing."""

    def append(self, item: object) -> None:
        pass


class Assembler:
    """One run over one source file (not reusable)."""

    def __init__(self, filename: str, include_dirs: tuple[str, ...], listing: bool = False
                 ) -> None:
        self.t = templates()
        self.isa = self.t.isa
        m = self.isa.machine
        self.limits = {
            "text": (0, m.get("imem_words", 16384) * 4),
            "lm": (m.get("lm_base", 0), m.get("lm_size", 16384)),
            "sm": (m.get("sm_base", 0x10000000), m.get("sm_size", 65536)),
            "gm": (m.get("gm_base", 0x80000000), m.get("gm_size", 1 << 24)),
        }
        self.filename = filename
        self.diags = Diagnostics()
        self.pre = Preprocessor(self.diags, include_dirs, self._pre_value, self._is_defined)
        self.symbols: dict[str, Symbol] = {}
        self.sets: dict[str, tuple[list[int], list[Symbol]]] = {}  # .set name -> versions
        self._predefine(m)
        # numeric label -> (statement numbers, (statement, address, section)) in order
        self.locals: dict[int, tuple[list[int], list[tuple[int, int, Section]]]] = {}
        self.sections: dict[tuple, Section] = {}
        self.sel = Selection()
        self.kind = "text"
        self.cur = self._section("text", self.sel)
        self.fixups: list[Fixup] = []
        # The listing's rows, kept only when a listing is wanted: they hold every line.
        self.records: list[Record] = [] if listing else _Discard()
        self.files: dict[str, int] = {}
        self.seq = 0
        self.line: Line | None = None
        self._equ_depth = 0
        nop = self.t.forms.get("nop")
        self.nop = nop[0].insn.match if nop else 0
        self.directives = {
            ".text": self._d_section, ".data": self._d_section, ".sdata": self._d_section,
            ".ldata": self._d_section, ".pe": self._d_pe, ".org": self._d_org,
            ".align": self._d_align, ".space": self._d_space, ".word": self._d_data,
            ".half": self._d_data, ".byte": self._d_data, ".ascii": self._d_data,
            ".asciz": self._d_data, ".string": self._d_data, ".equ": self._d_equ,
            ".set": self._d_set, ".error": self._d_message, ".warning": self._d_message,
            ".assert": self._d_assert,
        }
        assert set(self.directives) == D.ASM, "directives.py and the handlers disagree"

    def _predefine(self, machine: dict) -> None:
        """The machine's parameters as symbols: LM_BASE, LM_SIZE, SM_BASE, ..."""
        for key, value in machine.items():
            if key in NOT_PREDEFINED or type(value) is not int:
                continue
            name = key.upper()
            self.symbols[name] = Symbol(name, value, "machine", None, None, pure=True)

    # ------------------------------------------------------------------ sections
    def _section(self, kind: str, sel: Selection | None) -> Section:
        key = (kind, (sel.r0, sel.r1, sel.c0, sel.c1) if kind in ("text", "lm") else None)
        sec = self.sections.get(key)
        if sec is None:
            base, size = self.limits[kind]
            sec = self.sections[key] = Section(kind, sel if kind in ("text", "lm") else None,
                                               base, size)
        return sec

    def _room(self, sec: Section, n: int, line: Line, span: tuple[int, int] | None = None) \
            -> bool:
        """Whether n more bytes fit the section's memory; reports once if not."""
        if sec.pc + n <= sec.limit:
            return True
        if not sec.overflowed:
            sec.overflowed = True
            if sec.kind == "text":
                what = f"instruction memory ({(sec.limit - sec.base) // 4} words, [machine] " \
                       "imem_words)"
            else:
                what = f"the region ({sec.base:#x}..{sec.limit - 1:#x})"
            col, end = span or self._head_span(line)
            self.diags.error(f"{sec.name} does not fit {what}", line, col, end)
        return False

    def _file(self, name: str) -> int:
        i = self.files.get(name)
        if i is None:
            i = self.files[name] = len(self.files)
        return i

    # ------------------------------------------------------------------ symbols
    def local_def(self, number: int, forward: bool, seq: int) -> tuple | None:
        """(statement, address, section) of the `number:` label `1f`/`1b` means at seq."""
        seqs, defs = self.locals.get(number, ((), ()))
        i = bisect_right(seqs, seq)  # definitions are in statement order
        if forward:
            return defs[i] if i < len(defs) else None
        return defs[i - 1] if i else None

    def undefined(self, name: str, col: int, end: int, final: bool) -> EvalError:
        if _REGNAME.match(name):
            return EvalError(f"register {name} cannot be used in an expression", col, end)
        if not final:
            return EvalError(f"'{name}' must be defined above this line (its value is "
                             "needed in the first pass)", col, end)
        help_: tuple[str, ...] = did_you_mean(name, self.symbols)
        for ename, members in self.isa.enums.items():
            if name in members:
                help_ += (f"'{name}' is a {ename} operand name, not a value",)
        if name.lower() in NOT_PREDEFINED:
            help_ += (f"the array's {name.lower()} are chosen when the program runs: read "
                      f"them with `mfs rd, {name.lower()}`",)
        return EvalError(f"undefined symbol '{name}'", col, end, help_)

    def resolve(self, s: Symbol, final: bool, col: int, end: int) -> None:
        """Evaluate a `.equ` that was not known when defined (forward references)."""
        if s.state == "failed":
            raise Reported
        if s.state == "busy":
            raise _Circular(s, col, end)
        if self._equ_depth > 100:
            raise EvalError(".equ definitions nested too deeply", col, end)
        s.state = "busy"
        self._equ_depth += 1
        try:
            s.value = E.evaluate(s.expr, _Env(self, final, s.seq, s.pc))
            s.state = "done"
        except EvalError as exc:
            s.state = "pending"
            circular = isinstance(exc, _Circular)
            if circular and exc.symbol is not s:
                exc.chain.append(s.name)
            if not final:
                raise
            s.state = "failed"
            if circular and exc.symbol is not s:
                raise  # reported where the cycle started
            message, col, end = exc.message, exc.col, exc.end
            if circular:
                cycle = " -> ".join([s.name, *reversed(exc.chain), s.name])
                message = f"circular .equ definition: {cycle}"
                col, end = s.span
            seq, self.diags.seq = self.diags.seq, s.seq
            self.diags.error(message, s.line, col, end, exc.help)
            self.diags.seq = seq
            raise Reported from None
        except Reported:
            s.state = "failed"
            raise
        finally:
            self._equ_depth -= 1

    def _define(self, name: str, col: int, end: int, line: Line) -> bool:
        if _REGNAME.match(name):
            self.diags.error(f"'{name}' is a register name and cannot be a symbol", line, col, end)
            return False
        old = self.symbols.get(name)
        if old is not None:
            if old.kind == "machine":
                key = name.lower()
                self.diags.error(
                    f"'{name}' is predefined: the machine's {key} ({old.value:#x}, "
                    "isa.toml [machine])", line, col, end,
                    ("the machine's parameters cannot be redefined; choose another name",))
                return False
            help_ = ("a name defined with .set can only be changed with .set",) \
                if old.kind == "set" else ()
            self.diags.error(f"duplicate symbol '{name}'", line, col, end, help_,
                             related=[(old.line, f"'{name}' first defined here")])
            return False
        return True

    def set_version(self, name: str, seq: int, col: int, end: int) -> Symbol:
        """The `.set` of `name` in force at statement `seq`: the last one above it."""
        seqs, versions = self.sets[name]
        i = bisect_left(seqs, seq)
        if i == 0:
            if seq == seqs[0]:
                raise EvalError(f"'{name}' has no value yet: this is its first .set", col, end)
            first = versions[0].line.origin
            raise EvalError(f"'{name}' is used above its first .set (line {first.line})",
                            col, end)
        return versions[i - 1]

    def _is_defined(self, name: str) -> bool:
        return name in self.symbols

    def _label(self, name: str | int, col: int, end: int, line: Line) -> None:
        sec = self.cur
        if isinstance(name, int):
            if name < 0:
                self.diags.error("local label numbers must be below 10 digits", line, col, end)
                return
            seqs, defs = self.locals.setdefault(name, ([], []))
            seqs.append(self.seq)
            defs.append((self.seq, sec.pc, sec))
            return
        if self._define(name, col, end, line):
            kind = "code" if sec.kind == "text" else "data"
            self.symbols[name] = Symbol(name, sec.pc, kind, sec, line, seq=self.seq)

    # ------------------------------------------------------------------ evaluation
    def _now(self, v: int | Expr, line: Line, seq: int | None = None) -> int | None:
        """A value that must be known in pass 1 (sizes, `.org`, `.pe`); reports if not."""
        try:
            return E.evaluate(v, _Env(self, False, self.seq if seq is None else seq,
                                      self.cur.pc))
        except EvalError as exc:
            self.diags.error(exc.message, line, exc.col, exc.end, exc.help)
        except Reported:
            pass
        return None

    def _pure(self, v: int | Expr) -> int | None:
        """The value if it is known now without any label, else None (no report)."""
        if type(v) is int:
            return v
        try:
            return E.evaluate(v, _Env(self, False, self.seq, self.cur.pc, pure=True))
        except (EvalError, Reported):
            return None

    def _pre_value(self, line: Line) -> int | None:
        """The one expression of a `.rept`, `.if` or `.elseif` line, for the preprocessor
        (it asks between statements: `.set`s up to the last statement are in force)."""
        stmt, _ = analyse_line(line.text)
        if stmt.error:
            msg, col, end, help_ = stmt.error
            self.diags.error(msg, line, col, end, help_)
            return None
        if len(stmt.operands) != 1 or stmt.operands[0].shape != S_EXPR:
            col, end = (stmt.operands[1].col, stmt.operands[-1].end) \
                if len(stmt.operands) > 1 else (stmt.col, stmt.end)
            what = "count" if stmt.head == ".rept" else "expression"
            self.diags.error(f"{stmt.head} takes one {what}", line, col, end,
                             (f"expected: {D.usage(stmt.head)}",))
            return None
        return self._now(stmt.operands[0].values[0], line, self.seq + 1)

    # ------------------------------------------------------------------ pass 1
    def pass1(self, text: str) -> None:
        records = self.records
        record = records.append
        diags = self.diags
        cache = match_cache
        files = self.files
        for line in self.pre.run(text, self.filename):
            seq = self.seq = self.seq + 1
            diags.seq = seq
            self.line = line
            text = line.text
            if len(text) > LONG_LINE and self._long_line(line):
                continue
            hit = cache.get(text)
            stmt, res = hit if hit is not None else analyse_line(text)
            if stmt.error is not None:
                self._salvage_labels(line)
                self.diags.error(res.message, line, res.col, res.end, res.help)
                continue
            if stmt.labels:
                for name, col, end in stmt.labels:
                    self._label(name, col, end, line)
            if stmt.head is None:
                if stmt.labels:
                    record(Record(self.cur, self.cur.pc, 0, line))
                continue
            if type(res) is Matched:
                sec = self.cur
                pc = sec.pc
                if res.word is not None and sec.kind == "text" and not pc & 3 \
                        and pc + 4 <= sec.limit:  # the common case, inline
                    buf, off = sec.emit(res.word.to_bytes(4, "little"))
                    origin = line.origin
                    fi = files.get(origin.file)
                    if fi is None:
                        fi = self._file(origin.file)
                    lines = sec.lines
                    if pc >> 2 == len(lines):  # the common case: the next word
                        lines.append(origin.line)
                        sec.files.append(fi)
                    else:
                        sec.note(pc >> 2, fi, origin.line)
                    if sec.first is None:
                        sec.first = line
                    record(Record(sec, pc, 4, line, res.form, False, "", buf, off))
                else:
                    self._instruction(res, line)
            elif res is None:
                self._directive(stmt, line)
            else:
                self._problem(res, line)

    def _long_line(self, line: Line) -> bool:
        """Data lines of any length take the streaming path; other lines longer than
        MAX_LINE are refused (the parser would hold every token).  True if handled."""
        text = line.text
        m = _HEAD.match(text[:4096])
        head = m.group(1) if m else None
        if head in D.DATA:
            if text[:m.start(1)].strip():  # its labels
                stmt, _ = analyse_line(text[:m.start(1)])
                for name, col, end in stmt.labels:
                    self._label(name, col, end, line)
            start, sec = self.cur.pc, self.cur
            self._data(head, m.start(1), m.end(1), self._stream_operands(line, head, m.end(1)),
                       line)
            if sec is self.cur:
                self.records.append(Record(sec, start, max(sec.pc - start, 0), line))
            return True
        if len(text) > MAX_LINE:
            col, end = (m.start(1), m.end(1)) if m else (0, 1)
            self.diags.error(f"line too long ({len(text):,} characters; at most {MAX_LINE:,} "
                             f"except for data directives: {', '.join(sorted(D.DATA))})",
                             line, col, end)
            return True
        return False

    def _stream_operands(self, line: Line, head: str, pos: int) -> Iterator:
        """The operands of a long data line, a window at a time: a window of plain
        numbers in range becomes its bytes at once; otherwise each operand comes as
        (Operand, line), numbers read directly, anything else parsed alone as
        `HEAD operand` (a line of its own whose columns map back into this one)."""
        text = line.text
        n = len(text)
        size = self._SIZES[head]
        lo, hi = -(1 << (8 * size - 1)), (1 << (8 * size)) - 1
        numbers = head not in (".ascii", ".asciz", ".string")
        simple = _SIMPLE.match
        number = E.number
        first = True
        slow_until = pos  # after a window that was not all plain numbers
        while True:
            if numbers and pos >= slow_until:
                end = text.find(",", min(pos + _WINDOW, n))
                end = n if end < 0 else end
                data = _plain_window(text, pos, end, size, lo, hi)
                if data is not None:
                    yield data
                    first = False
                    pos = end
                    if pos >= n:
                        return
                    pos += 1
                    continue
                slow_until = end
            m = simple(text, pos)
            if m is not None:
                v = number(m.group(2), m.start(2))
                if m.group(1):
                    v = -v if type(v) is int else E.unary("-", v, m.start(1), m.end(1))
                end = m.end(2)
                yield Operand(S_EXPR, (v,), m.start(1) if m.group(1) else m.start(2), end), line
                pos = m.end()
            else:
                j = _PIECE.match(text, pos).end()
                piece = text[pos:j]
                if piece.strip():
                    got = self._parse_operand(line, head, pos, piece)
                    if got is not None:
                        yield got
                elif j < n and text[j] == ",":  # as the parser says it
                    self.diags.error("unexpected ','", line, j, j + 1,
                                     (f"expected: {D.usage(head)}",))
                elif not first:
                    self.diags.error("unexpected end of line", line, pos, pos + 1,
                                     (f"expected: {D.usage(head)}",))
                pos = j
            first = False
            if pos >= n or text[pos] == "#":
                return
            pos += 1  # the comma

    def _parse_operand(self, line: Line, head: str, pos: int, piece: str) -> tuple | None:
        """One operand of a long data line, parsed as the line `HEAD piece`; None if it
        did not parse (reported)."""
        prefix = head + " " if pos > len(head) else head
        p = len(prefix)
        sub = Line(prefix + piece, line.origin, (((0, p, pos - p, p),),) + line.maps)
        stmt = parse_uncached(sub.text.rstrip())
        if stmt.error is not None:
            msg, col, end, help_ = stmt.error
            self.diags.error(msg, sub, col, end, help_)
            return None
        if len(stmt.operands) != 1:
            self.diags.error("expected one value", sub, p, max(len(sub.text), p + 1),
                             (f"expected: {D.usage(head)}",))
            return None
        return stmt.operands[0], sub

    def _salvage_labels(self, line: Line) -> None:
        """Define the labels of a line that did not parse, so uses don't cascade."""
        m = _LABEL_PREFIX.match(line.text)
        if not m:
            return
        for lm in re.finditer(r"([A-Za-z_.$][\w.$]*|\d+)\s*:", m.group(1)):
            name = lm.group(1)
            if name.isdigit():
                if len(name) < 10:
                    self._label(int(name), lm.start(1), lm.end(1), line)
            elif name not in self.symbols and not _REGNAME.match(name):
                self._label(name, lm.start(1), lm.end(1), line)

    def _problem(self, p: Problem, line: Line) -> None:
        help_ = p.help
        if p.message.startswith("unknown instruction") and self.pre.macros:
            head = line.text[p.col:p.end]
            help_ = did_you_mean(head, list(self.t.forms) + list(self.pre.macros))
        self.diags.error(p.message, line, p.col, p.end, help_)
        if self.kind == "text" and self.cur.pc % 4 == 0:
            self.cur.pc += 4  # keep later addresses where they would have been

    def _instruction(self, m: Matched, line: Line) -> None:
        sec = self.cur
        if sec.kind != "text":
            self.diags.error(f"instruction in a data section ({sec.name}); code goes in .text",
                             line, *self._head_span(line))
            return
        pc = sec.pc
        if pc % 4:
            self.diags.error(f"instruction at unaligned address {pc:#x}; add `.align 4`",
                             line, *self._head_span(line))
            return
        form = m.form
        loc = (self._file(line.origin.file), line.origin.line)
        if sec.first is None:
            sec.first = line
        if m.word is not None:
            if not self._room(sec, 4, line):
                return
            buf, off = sec.emit(m.word.to_bytes(4, "little"))
            sec.note(pc >> 2, *loc)
            self.records.append(Record(sec, pc, 4, line, form, False, "", buf, off))
            return
        if m.expansion:  # a fixed pseudo expansion (mv)
            words = b"".join(x.word.to_bytes(4, "little") for x in m.expansion)
            if not self._room(sec, len(words), line):
                return
            sec.emit(words)
            for k in range(len(m.expansion)):
                sec.note((pc >> 2) + k, *loc)
            self.records.append(Record(sec, pc, len(words), line, form, pseudo=True))
            return
        if form.insn is None:  # li
            self._li(m, line, sec, pc, loc)
            return
        if not self._room(sec, 4, line):
            return
        buf, off = sec.emit(b"\0\0\0\0")
        sec.note(pc >> 2, *loc)
        self.fixups.append(Fixup("insn", buf, off, line, self.seq, pc, sec, m))
        self.records.append(Record(sec, pc, 4, line, form, False, "", buf, off))

    def _li(self, m: Matched, line: Line, sec: Section, pc: int, loc: tuple[int, int]) -> None:
        rd, value = m.values
        v = self._pure(value)
        if v is not None:
            msg = check_range(m.form.flat_slots[1], v)
            if msg:
                self.diags.error(msg, line, *m.spans[1])
                return
            words = li_words(rd, v, short=True)
            data = b"".join(w.to_bytes(4, "little") for w in words)
            if not self._room(sec, len(data), line):
                return
            sec.emit(data)
        else:
            if not self._room(sec, 8, line):
                return
            buf, off = sec.emit(bytes(8))
            self.fixups.append(Fixup("li", buf, off, line, self.seq, pc, sec, m, size=8))
            words = [0, 0]
        for k in range(len(words)):
            sec.note((pc >> 2) + k, *loc)
        self.records.append(Record(sec, pc, 4 * len(words), line, m.form, pseudo=True))

    @staticmethod
    def _head_span(line: Line) -> tuple[int, int]:
        m = re.match(r"\s*(?:(?:[\w.$]+)\s*:\s*)*([\w.$]+)", line.text)
        return (m.start(1), m.end(1)) if m else (0, len(line.text))

    # ------------------------------------------------------------------ directives
    def _directive(self, stmt: Stmt, line: Line) -> None:
        handler = self.directives.get(stmt.head)
        if handler is None:
            if stmt.head in D.PRE:
                return  # consumed by the preprocessor (reported there if misplaced)
            self.diags.error(f"unknown directive '{stmt.head}'", line, stmt.col, stmt.end,
                             did_you_mean(stmt.head, D.NAMES))
            return
        start, sec = self.cur.pc, self.cur
        handler(stmt, line)
        if sec is self.cur:
            self.records.append(Record(sec, start, max(sec.pc - start, 0), line))
        else:
            self.records.append(Record(self.cur, self.cur.pc, 0, line, header=self.cur.name))

    def _args(self, stmt: Stmt, line: Line, lo: int, hi: int, usage: str,
              regs_ok: bool = False) -> bool:
        n = len(stmt.operands)
        if lo <= n <= hi:
            for op in stmt.operands if not regs_ok else ():
                if op.shape == S_REG:
                    self.diags.error(f"{stmt.head} takes no register operands", line, op.col,
                                     op.end, (f"expected: {usage}",))
                    return False
            return True
        want = str(lo) if lo == hi else f"{lo} to {hi}" if hi < 99 else f"at least {lo}"
        col, end = (stmt.operands[hi].col, stmt.operands[-1].end) if n > hi else \
            (stmt.col, stmt.end)
        last = lo if hi >= 99 else hi
        self.diags.error(f"{stmt.head} takes {want} operand{'s' if last != 1 else ''}, got {n}",
                         line, col, end, (f"expected: {usage}",))
        return False

    def _expr_operand(self, stmt: Stmt, i: int, line: Line, usage: str):
        op = stmt.operands[i]
        if op.shape != S_EXPR:
            self.diags.error(f"expected an expression, got '{line.text[op.col:op.end]}'", line,
                             op.col, op.end, (f"expected: {usage}",))
            return None
        return op.values[0]

    def _d_section(self, stmt: Stmt, line: Line) -> None:
        if not self._args(stmt, line, 0, 0, stmt.head):
            return
        self.kind = {".text": "text", ".data": "gm", ".sdata": "sm", ".ldata": "lm"}[stmt.head]
        self.cur = self._section(self.kind, self.sel)

    def _d_pe(self, stmt: Stmt, line: Line) -> None:
        usage = ".pe all | .pe R,C | .pe R0:R1,C0:C1"
        ops = stmt.operands
        if len(ops) == 1 and ops[0].shape == S_EXPR and isinstance(ops[0].values[0], Expr) \
                and ops[0].values[0].bare_name() == "all":
            sel = Selection()
        elif len(ops) == 2 and all(op.shape in (S_EXPR, S_RANGE) for op in ops):
            bounds = []
            for op in ops:
                vals = [self._now(v, line) for v in op.values]
                if None in vals:
                    return
                lo, hi = vals[0], vals[-1]
                if not 0 <= lo <= hi < MAX_PE:
                    self.diags.error(
                        f"PE range {lo}:{hi} is not within 0..{MAX_PE - 1} (low to high)",
                        line, op.col, op.end, (f"expected: {usage}",))
                    return
                bounds.append((lo, hi))
            (r0, r1), (c0, c1) = bounds
            sel = Selection(r0, r1, c0, c1)
        else:
            col, end = (ops[0].col, ops[-1].end) if ops else (stmt.col, stmt.end)
            self.diags.error("bad PE selection", line, col, end, (f"expected: {usage}",))
            return
        self.sel = sel
        if self.kind in ("text", "lm"):
            self.cur = self._section(self.kind, sel)

    def _d_org(self, stmt: Stmt, line: Line) -> None:
        usage = ".org ADDRESS"
        if not self._args(stmt, line, 1, 1, usage):
            return
        v = self._expr_operand(stmt, 0, line, usage)
        addr = None if v is None else self._now(v, line)
        if addr is None:
            return
        sec = self.cur
        op = stmt.operands[0]
        if not sec.base <= addr <= sec.limit:
            self.diags.error(f".org {addr:#x} is outside {sec.name} "
                             f"({sec.base:#x}..{sec.limit - 1:#x})", line, op.col, op.end)
            return
        if addr < sec.pc:
            self.diags.error(f".org {addr:#x} would move backwards (already at {sec.pc:#x})",
                             line, op.col, op.end)
            return
        sec.pc = addr

    def _fill(self, stmt: Stmt, line: Line, usage: str) -> int | None:
        if len(stmt.operands) < 2:
            return 0
        v = self._expr_operand(stmt, 1, line, usage)
        fill = None if v is None else self._now(v, line)
        if fill is not None and not -128 <= fill <= 255:
            op = stmt.operands[1]
            self.diags.error(f"fill byte {fill} out of range (-128..255)", line, op.col, op.end)
            return None
        return fill

    def _pad(self, n: int, fill: int, line: Line, nops: bool, span: tuple[int, int]) -> None:
        sec = self.cur
        if n <= 0 or not self._room(sec, n, line, span):
            return
        pc = sec.pc
        if nops and sec.kind == "text" and pc % 4 == 0 and n % 4 == 0:
            sec.emit(self.nop.to_bytes(4, "little") * (n // 4))
        else:
            sec.emit(bytes([fill & 0xFF]) * n)
        if sec.kind == "text":
            loc = (self._file(line.origin.file), line.origin.line)
            for w in range(pc >> 2, (pc + n + 3) >> 2):
                sec.note(w, *loc)

    def _count_and_fill(self, stmt: Stmt, line: Line, usage: str) -> tuple[int, int] | None:
        """The `BYTES[, FILL]` operands of .align and .space, known now, or None (reported)."""
        if not self._args(stmt, line, 1, 2, usage):
            return None
        v = self._expr_operand(stmt, 0, line, usage)
        n = None if v is None else self._now(v, line)
        fill = self._fill(stmt, line, usage)
        if n is None or fill is None:
            return None
        return n, fill

    def _d_align(self, stmt: Stmt, line: Line) -> None:
        usage = ".align BYTES[, FILL]  (BYTES a power of two)"
        got = self._count_and_fill(stmt, line, usage)
        if got is None:
            return
        n, fill = got
        if n <= 0 or n & (n - 1) or n > 1 << 16:
            op = stmt.operands[0]
            self.diags.error(f".align {n}: the alignment must be a power of two up to 65536",
                             line, op.col, op.end, (f"expected: {usage}",))
            return
        op = stmt.operands[0]
        self._pad(-self.cur.pc % n, fill, line, len(stmt.operands) == 1, (op.col, op.end))

    def _d_space(self, stmt: Stmt, line: Line) -> None:
        got = self._count_and_fill(stmt, line, ".space BYTES[, FILL]")
        if got is None:
            return
        n, fill = got
        if n < 0:
            op = stmt.operands[0]
            self.diags.error(f".space {n}: the size cannot be negative", line, op.col, op.end)
            return
        op = stmt.operands[0]
        self._pad(n, fill, line, False, (op.col, op.end))

    _SIZES = {".word": 4, ".half": 2, ".byte": 1, ".ascii": 1, ".asciz": 1, ".string": 1}

    def _d_data(self, stmt: Stmt, line: Line) -> None:
        if not self._args(stmt, line, 1, 1 << 30, D.usage(stmt.head)):
            return
        self._data(stmt.head, stmt.col, stmt.end, ((op, line) for op in stmt.operands), line)

    def _data(self, head: str, col: int, end: int, operands: Iterable, line: Line) -> None:
        """`.word`/`.half`/`.byte` values and `.ascii`/`.asciz`/`.string` strings.  Each
        operand comes with the line its columns are in (a long line's are parsed alone), or
        is the bytes of a run of plain values already checked."""
        size = self._SIZES[head]
        strings = head in (".ascii", ".asciz", ".string")
        nul = b"\0" if head in (".asciz", ".string") else b""
        usage = f"expected: {D.usage(head)}"
        sec = self.cur
        if sec.pc % size:
            self.diags.error(f"misaligned {head} at {sec.pc:#x}; add `.align {size}`",
                             line, col, end)
            return
        lo, hi = -(1 << (8 * size - 1)), (1 << (8 * size)) - 1
        loc = (self._file(line.origin.file), line.origin.line)
        start = sec.pc
        count = 0
        for item in operands:
            count += 1
            if type(item) is bytes:  # a window of plain values, checked (long lines)
                if not self._room(sec, len(item), line):
                    return
                sec.emit(item)
                continue
            op, oline = item
            shape = op.shape
            if shape == S_STRING and size == 1:
                data = op.values[0]
                if type(data) is not bytes:
                    self.diags.error(data.ops[0][1], oline, op.col, op.end)
                    continue
                data += nul
                if self._room(sec, len(data), oline, (op.col, op.end)):
                    sec.emit(data)
                continue
            if shape != S_EXPR or strings:
                what = "a string" if strings else "a value"
                self.diags.error(f"expected {what}, got '{oline.text[op.col:op.end]}'", oline,
                                 op.col, op.end, (usage,))
                continue
            if not self._room(sec, size, oline, (op.col, op.end)):
                return
            v = op.values[0]
            if type(v) is int:
                if not lo <= v <= hi:
                    self.diags.error(f"value {v} does not fit {head} ({lo}..{hi})", oline,
                                     op.col, op.end)
                    v = 0
                sec.emit((v & hi).to_bytes(size, "little"))
            else:
                pc = sec.pc
                buf, off = sec.emit(bytes(size))
                self.fixups.append(Fixup("data", buf, off, oline, self.seq, pc, sec, size=size,
                                         value=v, span=(op.col, op.end), directive=head))
        if not count:
            self.diags.error(f"{head} takes at least 1 operand, got 0", line, col, end, (usage,))
        if sec.kind == "text":
            for w in range(start >> 2, (sec.pc + 3) >> 2):
                sec.note(w, *loc)

    def _d_equ(self, stmt: Stmt, line: Line) -> None:
        usage = ".equ NAME, VALUE"
        if not self._args(stmt, line, 2, 2, usage, regs_ok=True):
            return
        op = stmt.operands[0]
        target = op.values[0] if op.shape == S_EXPR else None
        name = target.bare_name() if isinstance(target, Expr) else None
        if name is None:
            self.diags.error(f"expected a name, got '{line.text[op.col:op.end]}'", line, op.col,
                             op.end, (f"expected: {usage}",))
            return
        value = self._expr_operand(stmt, 1, line, usage)
        if value is None or not self._define(name, op.col, op.end, line):
            return
        s = Symbol(name, None, "equ", None, line, value, self.seq, self.cur.pc, state="pending",
                   span=(stmt.operands[1].col, stmt.operands[1].end))
        self.symbols[name] = s
        v = self._pure(value)
        if v is not None:
            s.value, s.pure, s.state = v, True, "done"
            return
        try:
            s.value = E.evaluate(value, _Env(self, False, self.seq, self.cur.pc))
            s.state = "done"
        except (EvalError, Reported):
            s.value, s.state = None, "pending"

    def _d_set(self, stmt: Stmt, line: Line) -> None:
        usage = D.usage(".set")
        if not self._args(stmt, line, 2, 2, usage, regs_ok=True):
            return
        op = stmt.operands[0]
        target = op.values[0] if op.shape == S_EXPR else None
        name = target.bare_name() if isinstance(target, Expr) else None
        if name is None:
            self.diags.error(f"expected a name, got '{line.text[op.col:op.end]}'", line, op.col,
                             op.end, (f"expected: {usage}",))
            return
        value = self._expr_operand(stmt, 1, line, usage)
        if value is None:
            return
        old = self.symbols.get(name)
        if (old is None or old.kind != "set") and not self._define(name, op.col, op.end, line):
            return
        s = Symbol(name, None, "set", None, line, value, self.seq, self.cur.pc, state="pending",
                   span=(stmt.operands[1].col, stmt.operands[1].end))
        seqs, versions = self.sets.setdefault(name, ([], []))
        seqs.append(self.seq)
        versions.append(s)
        self.symbols[name] = s  # the last one: what the symbol table shows
        v = self._pure(value)
        if v is not None:
            s.value, s.pure, s.state = v, True, "done"
            return
        try:
            s.value = E.evaluate(value, _Env(self, False, self.seq, self.cur.pc))
            s.state = "done"
        except (EvalError, Reported):
            s.value, s.state = None, "pending"

    def _string_operand(self, stmt: Stmt, i: int, line: Line, usage: str) -> str | None:
        op = stmt.operands[i]
        if op.shape != S_STRING:
            self.diags.error(f"expected a string, got '{line.text[op.col:op.end]}'", line,
                             op.col, op.end, (f"expected: {usage}",))
            return None
        data = op.values[0]
        if type(data) is not bytes:
            self.diags.error(data.ops[0][1], line, op.col, op.end)
            return None
        return data.decode("utf-8", errors="replace")

    def _d_message(self, stmt: Stmt, line: Line) -> None:
        usage = D.usage(stmt.head)
        if not self._args(stmt, line, 1, 1, usage):
            return
        message = self._string_operand(stmt, 0, line, usage)
        if message is None:
            return
        if stmt.head == ".error":
            self.diags.error(message, line, stmt.col, stmt.end)
        else:
            self.diags.warning(message, line, stmt.col, stmt.end)

    def _d_assert(self, stmt: Stmt, line: Line) -> None:
        """Checked in pass 2, when every symbol is known."""
        usage = D.usage(".assert")
        if not self._args(stmt, line, 1, 2, usage):
            return
        value = self._expr_operand(stmt, 0, line, usage)
        message = self._string_operand(stmt, 1, line, usage) if len(stmt.operands) > 1 else ""
        if value is None or message is None:
            return
        op = stmt.operands[0]
        if not message:
            message = line.text[op.col:op.end]
        self.fixups.append(Fixup("assert", bytearray(), 0, line, self.seq, self.cur.pc, self.cur,
                                 value=value, span=(op.col, op.end), directive=message))

    # ------------------------------------------------------------------ pass 2
    def pass2(self) -> None:
        # Latest first: a chain of forward references then resolves one step at a time.
        pending = [s for s in self.symbols.values() if s.kind != "set"]
        pending += [v for _, versions in self.sets.values() for v in versions]
        pending.sort(key=lambda s: s.seq)
        for s in reversed(pending):
            if s.state == "pending":
                self.diags.seq = s.seq
                try:
                    self.resolve(s, True, 0, 0)
                except (EvalError, Reported):
                    pass
        for fx in self.fixups:
            self.diags.seq = fx.seq
            try:
                if fx.kind == "insn":
                    word = self._encode(fx)
                elif fx.kind == "assert":
                    word = None
                    if not E.evaluate(fx.value, _Env(self, True, fx.seq, fx.pc)):
                        self.diags.error(f"assertion failed: {fx.directive}", fx.line, *fx.span)
                elif fx.kind == "li":
                    word = None
                    rd, value = fx.matched.values
                    v = E.evaluate(value, _Env(self, True, fx.seq, fx.pc))
                    msg = check_range(fx.matched.form.flat_slots[1], v)
                    if msg:
                        raise EvalError(msg, *fx.matched.spans[1])
                    hi, lo = li_words(rd, v, short=False)
                    fx.buf[fx.off:fx.off + 8] = hi.to_bytes(4, "little") + lo.to_bytes(4, "little")
                else:
                    word = None
                    v = E.evaluate(fx.value, _Env(self, True, fx.seq, fx.pc))
                    bits = 8 * fx.size
                    if not -(1 << (bits - 1)) <= v < 1 << bits:
                        raise EvalError(f"value {v} does not fit {fx.directive} "
                                        f"({-(1 << (bits - 1))}..{(1 << bits) - 1})", *fx.span)
                    fx.buf[fx.off:fx.off + fx.size] = (v & ((1 << bits) - 1)).to_bytes(
                        fx.size, "little")
                if word is not None:
                    fx.buf[fx.off:fx.off + 4] = word.to_bytes(4, "little")
            except EvalError as exc:
                self.diags.error(exc.message, fx.line, exc.col, exc.end, exc.help)
            except Reported:
                pass

    def _encode(self, fx: Fixup) -> int:
        m = fx.matched
        env = _Env(self, True, fx.seq, fx.pc)
        values = []
        for slot, v, span in zip(m.form.flat_slots, m.values, m.spans, strict=True):
            if slot.kind == "pcrel":
                self._check_target(v, fx)
                v = E.evaluate(v, env) - fx.pc
            elif type(v) is not int:
                v = E.evaluate(v, env)
            msg = check_range(slot, v)
            if msg:
                raise EvalError(msg, *span, self._range_help(slot, m.form))
            values.append(v)
        return encode(m.form, tuple(values))

    @staticmethod
    def _range_help(slot: Slot, form: Form) -> tuple[str, ...]:
        if slot.kind == "pcrel":
            return ("for a longer jump, branch around a `j` (26-bit offset)",)
        return (f"expected: {form.text}",)

    def _check_target(self, v: int | Expr, fx: Fixup) -> None:
        """A branch target must be code of the same `.pe` image."""
        if type(v) is int:
            return
        for op in v.ops:
            if op[0] == E.SYM:
                name, col, end = op[1], op[2], op[3]
                s = self.symbols.get(name)
                section = s.section if s is not None and s.kind != "equ" else None
            elif op[0] == E.LOCAL:
                name, col, end = f"{op[1]}{'f' if op[2] else 'b'}", op[3], op[4]
                d = self.local_def(op[1], op[2], fx.seq)
                section = d[2] if d else None
            else:
                continue
            if section is None or section is fx.section:
                continue
            if section.kind != "text":
                raise EvalError(f"'{name}' is a data address ({section.name}), "
                                "not a code label", col, end)
            raise EvalError(f"'{name}' is in the {section.name}, not in the "
                            f"{fx.section.name} that this branch is in", col, end)

    # ------------------------------------------------------------------ result
    def program(self) -> Program:
        prog = Program(isa=self.isa.digest, files=list(self.files) or [self.filename])
        # Images in the order code was first placed in them (ARCH: the last selection
        # naming a PE wins, so this order is the program's meaning).
        text = sorted((s for s in self.sections.values() if s.kind == "text"),
                      key=lambda s: s.order)
        images = []
        for sec in text:
            im = sec.image()
            if im is not None:
                images.append((sec, im))
        for i, (sec, im) in enumerate(images):
            for _, lim in images[i + 1:]:
                if _covers(lim.pes, im.pes):
                    first = sec.first
                    self.diags.warning(
                        f"the code for .pe {im.pes} is never loaded: the later .pe {lim.pes} "
                        "replaces it on every PE it names", first, 0, 0,
                        ("put the `.pe all` code first: a PE takes the image of the last "
                         "selection that names it",), file=self.filename)
                    break
        prog.images = [im for _, im in images]
        for sec in self.sections.values():
            if sec.kind != "text":
                prog.segments += sec.segments()
        index = {id(sec): k for k, (sec, _) in enumerate(images)}
        for name, s in self.symbols.items():
            if s.value is not None and not name.startswith(".L") and s.kind != "machine":
                prog.symbols[name] = s.value
                if s.kind == "code" and id(s.section) in index:
                    prog.labels[name] = index[id(s.section)]
                prog.symbol_sections[name] = s.section.name if s.section else f".{s.kind}"
        if not isinstance(self.records, _Discard):
            prog.listing = listing(self.records, self._disasm_words)
        prog.warnings = [d.render() for d in self.diags.items if d.severity == "warning"]
        return prog

    def _disasm_words(self, rec: Record) -> list[tuple[int, str, Insn | None]]:
        """(word, text, instruction) of each word a pseudo-instruction became."""
        data = rec.section.read(rec.addr, rec.size)
        out = []
        for k in range(0, len(data) - 3, 4):
            w = int.from_bytes(data[k:k + 4], "little")
            dec = decode(w)
            out.append((w, format_word(w, rec.addr + k), dec[0].insn if dec else None))
        return out


_WINDOW = 1 << 13  # characters of a long data line taken at once
_PLAIN_WINDOW = re.compile(r"[-0-9xXa-fA-F \t,]*\Z")


def _plain_window(text: str, start: int, end: int, size: int, lo: int, hi: int) -> bytes | None:
    """The bytes of text[start:end] if it is only comma-separated numbers, each in lo..hi
    (what the per-operand path would give); None for anything else, errors included."""
    window = text[start:end]
    if not _PLAIN_WINDOW.match(window):
        return None
    try:
        if window.strip("-0123456789 \t,"):  # hex or binary digits: prefixes to read
            values = [int(p, 0) if "x" in p or "X" in p or "b" in p else int(p)
                      for p in window.split(",")]
        else:
            values = [int(p) for p in window.split(",")]
    except ValueError:
        return None
    if not values or min(values) < lo or max(values) > hi:
        return None
    mask = hi
    if size == 1:
        return bytes([v & mask for v in values])
    return b"".join([(v & mask).to_bytes(size, "little") for v in values])


def _covers(outer: Selection, inner: Selection) -> bool:
    if outer.all:
        return True
    if inner.all:
        return False
    return outer.r0 <= inner.r0 and inner.r1 <= outer.r1 and outer.c0 <= inner.c0 \
        and inner.c1 <= outer.c1


def li_words(rd: int, value: int, short: bool) -> list[int]:
    """The words of `li rd, value`: one when `short` allows and the value permits."""
    t = templates()
    v32 = value & 0xFFFFFFFF
    hi20, lo12 = v32 >> 12, v32 & 0xFFF
    lui, ori, addi = t.forms["lui"][0], t.forms["ori"][0], t.forms["addi"][0]
    if short and -32768 <= value <= 32767:
        return [encode(addi, (rd, 0, value))]
    if short and lo12 == 0:
        return [encode(lui, (rd, hi20))]
    return [encode(lui, (rd, hi20)), encode(ori, (rd, rd, lo12))]


# ---------------------------------------------------------------------- entry point

_CACHE: OrderedDict[str, tuple[Result, list[tuple[str, str]]]] = OrderedDict()
_CACHE_SIZE = 16


def _key(text: str, filename: str, include_dirs: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    for part in (templates().isa.digest, os.getcwd(), filename, "\0".join(include_dirs), text):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0\1")
    return h.hexdigest()


def _includes_unchanged(includes: list[tuple[str, str]]) -> bool:
    for path, digest in includes:
        try:
            with open(path, "rb") as f:
                if hashlib.sha256(f.read()).hexdigest() != digest:
                    return False
        except OSError:
            return False
    return True


def run(text: str, filename: str, include_dirs: tuple[str, ...], listing: bool = False
        ) -> Result:
    """Assemble without the cache: a Program, or the diagnostics that stopped it."""
    asm = Assembler(filename, include_dirs, listing)
    collecting = gc.isenabled()
    gc.disable()  # a run allocates much and frees little: the collector would rescan it all
    try:
        asm.pass1(text)
        asm.pass2()  # also after errors: report every one in the file at once
    except (TooManyErrors, TooLarge):
        pass
    except RecursionError:
        asm.diags.error("input nested too deeply to assemble", asm.line, 0, 0, file=filename)
    except Exception as exc:  # noqa: BLE001 - a bug must still not become a traceback
        asm.diags.error(f"internal error in the assembler ({type(exc).__name__}: {exc}); "
                        "please report it with this input", asm.line, 0, 0, file=filename)
    finally:
        if collecting:
            gc.enable()
    includes = asm.pre.includes
    if asm.diags.errors:
        return Result(None, asm.diags.sorted(), includes)
    program = asm.program()
    return Result(program, asm.diags.sorted(), includes)


def assemble(text: str, filename: str = "<input>", include_dirs: tuple[str, ...] | list = (),
             listing: bool = False) -> Program:
    """Assemble source text into a Program; AsmError lists every problem found.

    Results are cached in-process by the text, file name, include directories
    and the contents of every included file, so re-assembling an unchanged
    program costs a hash and a copy.  The listing (`Program.listing`) is made
    now with `listing=True`, else when first asked for (by assembling again:
    keeping every line for it would triple the assembler's memory).
    """
    include_dirs = tuple(str(d) for d in include_dirs)
    if text.startswith("\ufeff"):  # a UTF-8 byte order mark is not source
        text = text[1:]
    key = _key(text, filename, include_dirs)
    hit = _CACHE.get(key)
    if hit is not None and _includes_unchanged(hit[1]) and not (
            listing and hit[0].program is not None and not hit[0].program.has_listing):
        _CACHE.move_to_end(key)
        result = hit[0]
    else:
        result = run(text, filename, include_dirs, listing)
        _CACHE[key] = (result, result.includes)
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    if result.program is None:
        raise AsmError(result.diagnostics)
    prog = result.program.copy()
    prog.includes = [path for path, _ in result.includes]
    if not prog.has_listing:
        prog.relist = lambda: assemble(text, filename, include_dirs, listing=True).listing
    return prog
