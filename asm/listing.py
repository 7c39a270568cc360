"""The listing: address, encoding, cycles, line and source of every statement.

Pseudo-instructions are shown as the real instructions they became (each on
its own row, the source on the first), data as its bytes, and a row marks
every switch of section.
"""

from __future__ import annotations

from collections.abc import Callable

from .grammar import code_end

HEADER = f"{'address':<8}  {'word':<11}  {'cyc':>3}  {'line':>5}  source"


def _row(addr: str, enc: str, cyc: str, line: str, text: str) -> str:
    return f"{addr:<8}  {enc:<11}  {cyc:>3}  {line:>5}  {text}".rstrip()


def listing(records: list, disasm: Callable) -> list[str]:
    """Listing rows for the assembler's records (see assembler.Record).

    `disasm(record)` gives (word, text, cycles) for each word a
    pseudo-instruction became, after pass 2 patched them.
    """
    out = [HEADER]
    append = out.append
    section = None
    from_bytes = int.from_bytes
    for rec in records:
        sec, addr, size, line, form, pseudo, header, buf, off = rec
        if sec is not section and (size or header or form):
            section = sec
            append(f"{'':<8}  {'':<11}  {'':>3}  {'':>5}  # {section.name}")
        if buf is not None and not pseudo:  # an instruction: the common row
            append(f"{addr:08x}  {from_bytes(buf[off:off + 4], 'little'):08x}     "
                   f"{form.insn.cycles:>3}  {line.origin.line:>5}  {line.text.strip()}")
            continue
        text = line.text.strip()
        lineno = str(line.origin.line)
        if rec.form is not None:
            rows = disasm(rec)
            source = line.text[:code_end(line.text)].strip()
            for k, (word, real, cycles) in enumerate(rows):
                src = text if not rec.pseudo else (f"{real:<28} # {source}" if k == 0 else real)
                out.append(_row(f"{rec.addr + 4 * k:08x}", f"{word:08x}", str(cycles),
                                lineno if k == 0 else "", src))
            continue
        if rec.size == 0:
            out.append(_row(f"{rec.addr:08x}", "", "", lineno, text))
            continue
        data = rec.section.read(rec.addr, min(rec.size, 16))
        if rec.size > 16:
            enc = f"({rec.size} bytes)"
            out.append(_row(f"{rec.addr:08x}", enc, "", lineno, text))
            continue
        for k in range(0, len(data), 4):
            chunk = " ".join(f"{b:02x}" for b in data[k:k + 4])
            out.append(_row(f"{rec.addr + k:08x}", chunk, "", lineno if k == 0 else "",
                            text if k == 0 else ""))
    return out
