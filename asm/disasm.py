"""Words back to assembly, through the same templates the assembler parses.

An instruction is printed by filling its form's template (``templates.py``)
with the decoded values, so whatever the disassembler prints the assembler
reads back to the same word.  Branch targets are printed as labels: the
program's own names (the container's symbols, placed in their image by
META's `labels`), else ``.L<image>_<addr>``; targets outside the image as
addresses; undecodable words as ``.word``.  A whole program comes out with its
`.pe` selections, code labels, data segments (`.data`/`.sdata`/`.ldata` +
`.org` + `.word`/`.byte`) and other symbols (as `.equ`), and reassembles to
the same images, memory and symbols.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

import numpy as np

from .program import Image, Program, Segment, Selection
from .templates import Form, templates

_SECTION = {"gm": ".data", "sm": ".sdata", "lm": ".ldata"}
_VALID_NAME = re.compile(r"[A-Za-z_$][\w.$]*\Z")
_REGISTER = re.compile(r"r(?:1[0-5]|[0-9])\Z")


def _number(v: int) -> str:
    return str(v) if -256 < v < 256 else (f"{v:#x}" if v >= 0 else f"-{-v:#x}")


def format_insn(form: Form, values: dict[str, int], pc: int = 0,
                labels: dict[int, str] | None = None) -> str:
    """`add.w r1, r2, r3` for a form and its field values (pcrel values are offsets)."""
    ops = []
    for group, piece in zip(form.slots, form.pieces, strict=True):
        out, k = [], 0
        for tok in piece:
            if k < len(group) and tok == group[k].name:
                slot = group[k]
                v = values[slot.name]
                if slot.kind == "reg":
                    out.append(f"r{v}")
                elif slot.kind == "enum":
                    out.append(next(n for n, e in slot.enum if e == v))
                elif slot.kind == "pcrel":
                    target = pc + v
                    out.append(labels[target] if labels and target in labels
                               else _number(target))
                elif slot.kind == "simm":
                    out.append(str(v))
                else:
                    out.append(_number(v))
                k += 1
            else:
                out.append(tok)
        ops.append("".join(out))
    return f"{form.spelled} {', '.join(ops)}".rstrip()


@cache
def _decoder() -> dict[int, list[tuple]]:
    """Per major opcode: (mask, match, form, [(name, shift, mask, signed, scale, lo, hi,
    enum values)]) built from the forms: the table's decode, without per-call lookups."""
    t = templates()
    index: dict[int, list[tuple]] = {}
    for form in t.by_key.values():
        insn = form.insn
        fields = []
        for slot in form.flat_slots:
            f = t.isa.fields[slot.name]
            signed = f.kind in ("simm", "pcrel")
            enum = frozenset(v for _, v in slot.enum) if slot.enum else None
            fields.append((slot.name, f.lo, (1 << f.width) - 1, signed, f.width, f.scale,
                           slot.lo, slot.hi, enum))
        index.setdefault(insn.match >> 26, []).append((insn.mask, insn.match, form, fields))
    return index


def decode(word: int) -> tuple[Form, dict[str, int]] | None:
    """The form and field values of a word (as `Isa.decode`), or None if illegal."""
    for mask, match, form, fields in _decoder().get(word >> 26, ()):
        if word & mask != match:
            continue
        values = {}
        for name, shift, fmask, signed, width, scale, lo, hi, enum in fields:
            raw = (word >> shift) & fmask
            if signed and raw >> (width - 1):
                raw -= 1 << width
            v = raw * scale
            if (enum is not None and v not in enum) or not lo <= v <= hi:
                break
            values[name] = v
        else:
            return form, values
    return None


def format_word(word: int, pc: int = 0, labels: dict[int, str] | None = None) -> str:
    """One word as an instruction, or `.word 0x...` when it does not decode."""
    word = int(word) & 0xFFFFFFFF
    dec = decode(word)
    if dec is None:
        return f".word {word:#010x}"
    form, values = dec
    return format_insn(form, values, pc, labels)


def _targets(words: np.ndarray | list[int], prefix: str,
             names: dict[int, list[str]] | None = None) -> dict[int, str]:
    """Labels for the branch targets that fall inside the code: the program's own
    name for the address if it has one, else `.L<image>_<address>`."""
    labels: dict[int, str] = {a: ns[0] for a, ns in (names or {}).items()}
    n = len(words)
    for i, w in enumerate(words):
        dec = decode(int(w))
        if dec is None:
            continue
        form, values = dec
        for slot in form.flat_slots:
            if slot.kind == "pcrel":
                target = 4 * i + values[slot.name]
                if 0 <= target < 4 * n and target not in labels:
                    labels[target] = f".L{prefix}_{target:04x}"
    return labels


def _code(words: np.ndarray | list[int], prefix: str, addresses: bool,
          names: dict[int, list[str]] | None = None) -> list[str]:
    """An image's instructions, with labels: every name of `names` (address -> the
    program's labels there) and one at each other branch target."""
    names = names or {}
    labels = _targets(words, prefix, names)
    out = []
    for i, w in enumerate(words):
        pc = 4 * i
        out += [f"{name}:" for name in names.get(pc, [labels[pc]] if pc in labels else [])]
        text = format_word(int(w), pc, labels)
        out.append(f"    {text:<36} # {pc:04x}: {int(w):08x}" if addresses else f"    {text}")
    out += [f"{name}:" for name in names.get(4 * len(words), [])]  # labels at the end
    return out


def _label_names(prog: Program) -> list[dict[int, list[str]]]:
    """Per image, address -> the program's code labels there (valid names only)."""
    per: list[dict[int, list[str]]] = [{} for _ in prog.images]
    for name, k in sorted(prog.labels.items()):
        addr = prog.symbols.get(name)
        if k >= len(per) or addr is None or not _VALID_NAME.match(name) \
                or _REGISTER.match(name) or name.startswith(".L"):
            continue
        if addr % 4 == 0 and 0 <= addr <= 4 * len(prog.images[k].words):
            per[k].setdefault(addr, []).append(name)
    return per


def _data(seg: Segment) -> list[str]:
    out = [f".org {seg.addr:#x}"]
    data, addr, i = seg.data, seg.addr, 0
    while i < len(data) and (addr + i) % 4:  # leading bytes up to a word boundary
        out.append(f"    .byte {data[i]:#04x}")
        i += 1
    while len(data) - i >= 4:
        n = min((len(data) - i) // 4, 4)
        words = [int.from_bytes(data[i + 4 * k:i + 4 * k + 4], "little") for k in range(n)]
        out.append("    .word " + ", ".join(f"{w:#010x}" for w in words))
        i += 4 * n
    if i < len(data):
        out.append("    .byte " + ", ".join(f"{b:#04x}" for b in data[i:]))
    return out


def disassemble(code: Program | Iterable[int], addresses: bool = True) -> str:
    """Assembly text for a Program, or for a list of words (one image from address 0)."""
    if not isinstance(code, Program):
        words = [int(w) & 0xFFFFFFFF for w in code]
        return "\n".join(_code(words, "0", addresses)) + ("\n" if words else "")
    return disassemble_program(code, addresses)


def disassemble_program(prog: Program, addresses: bool = True) -> str:
    """The whole program: code per `.pe` selection, data segments, symbols."""
    t = templates()
    out = [f"# pearray disassembly: {len(prog.images)} code image(s), "
           f"{len(prog.segments)} data segment(s)"]
    if prog.isa and prog.isa != t.isa.digest:
        out.append(f"# note: assembled for ISA {prog.isa}, disassembled with ISA {t.isa.digest}")
    out.append(".text")
    names = _label_names(prog)
    placed = {n for per in names for ns in per.values() for n in ns}
    for k, im in enumerate(prog.images):
        out.append(f".pe {_sel(im)}")
        out += _code(im.words, str(k), addresses, names[k])
    current = None
    for seg in prog.segments:  # in program order: the assembler groups them by section
        key = (seg.region, str(seg.pes))
        if key != current:
            if seg.region == "lm":
                out.append(f".pe {seg.pes}")
            out.append(_SECTION[seg.region])
            current = key
        out += _data(seg)
    syms = [(n, v) for n, v in sorted(prog.symbols.items())
            if _VALID_NAME.match(n) and not _REGISTER.match(n) and not n.startswith(".L")
            and n not in placed]
    for name, value in syms:
        out.append(f".equ {name}, {_number(value)}")
    return "\n".join(out) + "\n"


def _sel(im: Image | Selection) -> str:
    return str(im.pes if isinstance(im, Image) else im)
