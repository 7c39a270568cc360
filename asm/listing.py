"""The listing: address, encoding, cycles, file:line and source of every statement.

Pseudo-instructions are shown as the real instructions they became (each on
its own row, the source on the first), data as its bytes, and a row marks
every switch of section.  A macro call, `.rept` or `.irp` line is shown where
its expansion starts, with the lines it expanded to beneath it, marked `>`
once per level of expansion.  The cycle column is the instruction's issue
cost from the ISA table; for the memory class it adds `m` per memory access
(`1+m`, `1+2m` for a two-read `macl`): the cycles each access takes beyond the
first, which depend on the region reached (region cost - 1: 0 in LM, 1 in SM,
7 in GM with the default costs) and on SM bank conflicts.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from pearray.isa import Insn

from .grammar import code_end
from .source import Line

COLUMNS = ("address", "word", "cyc", "where", "source")


def cost(insn: Insn) -> str:
    """The listing's cycle column: the issue cost, and `+m` per memory access."""
    if insn.cls != "mem":
        return str(insn.cycles)
    n = len(insn.stream) or 1
    return f"{insn.cycles}+{'' if n == 1 else n}m"


def _where(line: Line) -> str:
    o = line.origin
    return f"{os.path.basename(o.file)}:{o.line}"


def _chain(line: Line) -> list[Line]:
    """The macro calls and `.rept`/`.irp` lines that produced `line`, outermost first."""
    out = []
    origin = line.origin
    while origin.parent is not None:
        if origin.how != "include":
            out.append(origin.parent)
        origin = origin.parent.origin
    out.reverse()
    return out


def listing(records: list, disasm: Callable) -> list[str]:
    """Listing rows for the assembler's records (see assembler.Record).

    `disasm(record)` gives (word, text, insn) for each word a pseudo-instruction
    became, after pass 2 patched them.
    """
    rows: list[tuple[str, str, str, str, str]] = []
    append = rows.append
    section = None
    shown: list[Line] = []  # the expansion headers above the current row
    from_bytes = int.from_bytes
    for rec in records:
        sec, addr, size, line, form, pseudo, header, buf, off = rec
        if sec is not section and (size or header or form):
            section = sec
            append(("", "", "", "", f"# {section.name}"))
        chain = _chain(line) if line.origin.parent is not None else []
        if chain or shown:
            k = 0
            while k < len(chain) and k < len(shown) and chain[k] is shown[k]:
                k += 1
            for depth in range(k, len(chain)):
                head = chain[depth]
                text = head.text[:code_end(head.text)].strip()
                append((f"{addr:08x}", "", "", _where(head), ">" * depth + " " * bool(depth)
                        + text))
            shown = chain
        mark = ">" * len(chain) + " " if chain else ""
        where = _where(line)
        text = mark + line.text.strip()
        if buf is not None and not pseudo:  # an instruction: the common row
            append((f"{addr:08x}", f"{from_bytes(buf[off:off + 4], 'little'):08x}",
                    cost(form.insn), where, text))
            continue
        if form is not None:
            source = line.text[:code_end(line.text)].strip()
            for k, (word, real, insn) in enumerate(disasm(rec)):
                src = text if not pseudo else (
                    f"{mark}{real:<28} # {source}" if k == 0 else mark + real)
                append((f"{addr + 4 * k:08x}", f"{word:08x}", cost(insn) if insn else "",
                        where if k == 0 else "", src))
            continue
        if size == 0:
            append((f"{addr:08x}", "", "", where, text))
            continue
        data = sec.read(addr, min(size, 16))
        if size > 16:
            append((f"{addr:08x}", f"({size} bytes)", "", where, text))
            continue
        for k in range(0, len(data), 4):
            chunk = " ".join(f"{b:02x}" for b in data[k:k + 4])
            append((f"{addr + k:08x}", chunk, "", where if k == 0 else "",
                    text if k == 0 else ""))
    return format_rows(rows)


def format_rows(rows: list[tuple[str, str, str, str, str]]) -> list[str]:
    """The rows as aligned text under a header (the `where` column as wide as needed)."""
    wide = max([len(r[3]) for r in rows] + [len("where")])
    enc = max([len(r[1]) for r in rows] + [8])
    out = [f"{'address':<8}  {'word':<{enc}}  {'cyc':<4}  {'where':<{wide}}  source"]
    for a, w, c, where, text in rows:
        out.append(f"{a:<8}  {w:<{enc}}  {c:<4}  {where:<{wide}}  {text}".rstrip())
    return out
