"""Render the ISA reference (docs/isa.md) from the validated description.

The reference is generated, never written by hand, so that it cannot drift
from the table the assembler, disassembler and emulator are built from; a
test regenerates it and compares with the committed copy. Output depends
only on the table (no dates, no paths), so regenerating is idempotent.
"""

from __future__ import annotations

from .spec import WORD, Field, Insn, Isa

COMMAND = "pearray isa --write docs/isa.md"

# Where each mnemonic is presented, following the headings of ARCH.md §3. This is
# layout, not encoding: a mnemonic missing here still appears, under "Other".
SECTIONS: tuple[tuple[str, str], ...] = (
    ("Lane arithmetic", "add sub adds subs addus subus mul min max minu maxu abs relu"),
    ("Shifts", "sll srl sra srar slli srli srai srari srasi"),
    ("Multiply-accumulate", "mac macsu macs dot dotsu macl"),
    ("Pack, unpack and splat", "packs packsr unpkl unpkh splat"),
    ("Bitwise and immediates", "and or xor not addi andi ori xori lui"),
    ("Memory", "lw lh lb lhu lbu sw sh sb"),
    ("Control", "beq bne blt bge bltu bgeu j jal jr loop nop halt"),
    ("Neighbours, barrier and special registers", "send recv sync mfs mts"),
)
OTHER = "Other"

# The vocabulary of `lane` expressions: every name a lane expression may use.
LANE_TERMS: dict[str, str] = {
    "a": "the lane of `rs`, sign-extended (int64)",
    "b": "the matching lane of `rt`, sign-extended; in immediate forms, the immediate",
    "ua": "the lane of `rs`, zero-extended",
    "ub": "the matching lane of `rt`, zero-extended",
    "W": "the lane width in bits (see [Granularities](#granularities))",
    "sats": "`sats(x)` clamps x to the signed lane range and sets `sat` if it had to",
    "satu": "`satu(x)` clamps x to the unsigned lane range and sets `sat` if it had to",
    "asr": "`asr(x, s)` arithmetic shift right",
    "rshr": "`rshr(x, s)` rounding shift right, round half up: (x + 2^(s-1)) >> s "
    "computed without intermediate overflow; x when s = 0",
    "srnd": "`srnd(x, s)` stochastic rounding shift right: the LFSR steps once (per lane, "
    "lane 0 first) and (x + u) >> s with u the low s bits of its new value",
    "lane0": "`lane0(a)` lane 0 of `rs` (the same value in every lane)",
}

# The vocabulary of `body` statements (the macros of emu/core.h).
BODY_TERMS: dict[str, str] = {
    "RD": "value of `rd` (uint32)",
    "RS": "value of `rs` (uint32; r0 reads 0)",
    "RT": "value of `rt` (uint32)",
    "IMM": "the immediate operand as a signed value (pc-relative ones as a byte offset)",
    "PC": "byte address of this instruction",
    "WRD": "`WRD(v)` writes `rd` (dropped for r0)",
    "WRS": "`WRS(v)` writes `rs` (post-increment)",
    "WRT": "`WRT(v)` writes `rt` (post-increment)",
    "DOTV": "`DOTV(x, y, S)` as `DOT` over the words x and y instead of rs and rt",
    "S32": "`S32(v)` reinterprets as int32",
    "DOT": "`DOT(S|U, S)` int64 sum over the lanes of the lane products of `rs` and `rt`; "
    "`U` reads the lanes of `rs` unsigned",
    "S": "signed lanes (argument of `DOT`)",
    "U": "unsigned lanes (argument of `DOT`)",
    "SAT32": "`SAT32(x)` clamps to int32 and sets `sat` if it had to",
    "PACKS": "`PACKS(x, y)` narrows with saturation: the lanes of x and y, 2W bits wide, "
    "clamped to W bits, those of x in the low half of the result; sets `sat`",
    "PACKSR": "`PACKSR(x, y, s)` as `PACKS`, each source lane first shifted right by s with "
    "round half up (decision `packsr`)",
    "UNPK": "`UNPK(x, k)` sign-extends half k of x into lanes twice as wide",
    "LOAD": "`LOAD(addr, size, signed)` reads memory (traps when misaligned or outside a "
    "region); costs the region's cycles",
    "STORE": "`STORE(addr, size, v)` writes the low `size` bytes of v",
    "JUMP": "`JUMP(addr)` sets the next PC",
    "LOOP": "`LOOP(count, end)` enters a zero-overhead loop (see the `loop` decision)",
    "HALT": "stops this PE",
    "SYNC": "waits at the barrier",
    "DMA": "DMA(dst, src, n) queues a copy of n words on this PE's DMA engine (decision `dma`)",
    "DMA2D": "DMA2D(dst, src, shape) queues shape >> 16 rows of shape & 0xFFFF bytes, rows "
    "`dss`/`dds` bytes apart (decision `dma2d`)",
    "DWAIT": "holds the next instruction until this PE's DMA transfers have ended",
    "MFS": "`MFS(n)` reads special register n",
    "MTS": "`MTS(n, v)` writes special register n (illegal unless `sat` or `lfsr`)",
    "SEND": "`SEND(dir, v)` hands v to the neighbour (blocks while it is full)",
    "RECV": "`RECV(dir)` takes the word in an input register (blocks while it is empty)",
    "FIELD_": "`FIELD_x` raw value of enum field x",
    "uint32_t": "C type",
    "if": "C keyword",
}

KIND_TEXT = {
    "reg": "register r0-r15",
    "uimm": "unsigned immediate",
    "simm": "signed immediate",
    "pcrel": "pc-relative label",
    "enum": "name",
}


def render(isa: Isa) -> str:
    """The whole reference as Markdown."""
    out = [
        "# pearray instruction set reference",
        "",
        f"> Generated from `isa/isa.toml` (digest `{isa.digest}`) by `{COMMAND}`; do not edit.",
        "> Change the table and regenerate; `tests/test_isa.py` fails while this file is stale.",
        "",
        "## Contents",
        "",
        "- [Machine parameters](#machine-parameters)",
        "- [Architecture decisions](#architecture-decisions)",
        "- [Notation](#notation)",
        "- [Fields](#fields)",
        "- [Granularities](#granularities)",
        "- [Formats](#formats)",
        "- [Opcode map](#opcode-map)",
    ]
    sections = _sections(isa)
    out += [f"- [{title}](#{_anchor(title)})" for title in sections]
    out += [
        "- [Pseudo-instructions](#pseudo-instructions)",
        "- [Encoding index](#encoding-index)",
        "",
    ]
    out += _machine(isa) + _decisions(isa) + _notation(isa) + _fields(isa)
    out += _granularities(isa) + _formats(isa)
    out += _opcode_map(isa)
    for title, mnemonics in sections.items():
        out += [f"## {title}", ""]
        for m in mnemonics:
            out += _mnemonic(isa, m)
    out += _pseudos(isa) + _index(isa)
    return "\n".join(out).rstrip("\n") + "\n"


def render_insn(isa: Isa, name: str) -> str | None:
    """One mnemonic's entry (`add`, `add.b` or `lw.pi` all name one); None if unknown."""
    if name not in isa.by_mnemonic:
        insn = isa.by_key.get(name)
        if insn is None:
            return None
        name = insn.mnemonic
    return "\n".join(_mnemonic(isa, name)).rstrip("\n") + "\n"


# ------------------------------------------------------------------ front matter


def _machine(isa: Isa) -> list[str]:
    out = ["## Machine parameters", "", "Defaults of the machine description "
           "(`[machine]`); sizes in bytes, costs in cycles.", "",
           "| parameter | value |", "|---|---|"]
    for name, value in isa.machine.items():
        out.append(f"| `{name}` | {_param(name, value)} |")
    return out + [""]


def _param(name: str, value: int) -> str:
    if name.endswith("_base") or name.startswith("lfsr"):
        return f"`{value:#010x}`"
    if name.endswith("_size") and value % 1024 == 0:
        kib = value // 1024
        return f"{value} ({kib // 1024} MiB)" if kib % 1024 == 0 else f"{value} ({kib} KiB)"
    return str(value)


def _decisions(isa: Isa) -> list[str]:
    out = ["## Architecture decisions", "",
           "Where ARCH.md is silent the table decides (`[decisions]`):", ""]
    for name, text in isa.decisions.items():
        out += [f"**{name}.** {text}", ""]
    return out


def _notation(isa: Isa) -> list[str]:
    lanes = ", ".join(f"`.{g.suffix}` {g.lanes} of {g.bits}" for g in isa.granules.values())
    every = ",".join(isa.granules)
    out = [
        "## Notation",
        "",
        "`rd` is the destination register, `rs` and `rt` the sources (r0 reads 0, writes to "
        f"it are dropped). A lane instruction names its granularity, lanes of W bits: {lanes}"
        "; lane 0 is the least significant. In the syntax lines "
        f"`add.{{{every}}}` lists the granularities an instruction exists at.",
        "",
        "**Lane semantics** (`lane`) is one C expression computed for every lane; the "
        "result is truncated to the lane width (wrapping) unless a helper saturates it.",
        "",
    ]
    out += [f"- `{k}`: {v}" for k, v in LANE_TERMS.items()]
    out += [
        "",
        "**Whole-word semantics** (`body`) is a C statement over these macros:",
        "",
    ]
    out += [f"- `{k}`: {v}" for k, v in BODY_TERMS.items() if k not in ("uint32_t", "if")]
    out += [
        "",
        "**Encoding tables** give one row per encoding, bits 31..0 left to right: fixed "
        "fields in binary (hex when wider than 8 bits), operand fields by name; `match` is "
        "the word with every operand 0.",
        "",
    ]
    return out


def _fields(isa: Isa) -> list[str]:
    out = ["## Fields", "", "| field | bits | width | kind | values |", "|---|---|---|---|---|"]
    for f in isa.fields.values():
        out.append(f"| `{f.name}` | {_bits(f)} | {f.width} | {f.kind} | {_values(isa, f)} |")
    return out + [""]


def _granularities(isa: Isa) -> list[str]:
    g = isa.fields.get("g")
    where = f"field `g` (bits {_bits(g)})" if g else "field `g`"
    out = ["## Granularities", "",
           f"The lane width a lane instruction names by its suffix, held in {where} "
           "(`[granularities]`); a code not listed here is illegal.", "",
           "| suffix | g | lane bits W | lanes | signed | unsigned |", "|---|---|---|---|---|---|"]
    for gr in isa.granules.values():
        lo, hi = -(1 << (gr.bits - 1)), (1 << (gr.bits - 1)) - 1
        out.append(f"| `.{gr.suffix}` | {gr.code} | {gr.bits} | {gr.lanes} | {lo}..{hi} | "
                   f"0..{(1 << gr.bits) - 1} |")
    return out + ["", f"Lane l of a {WORD}-bit word is bits l*W+W-1 .. l*W.", ""]


def _values(isa: Isa, f: Field) -> str:
    if f.kind == "reg":
        return "r0-r15"
    if f.kind == "enum":
        return f"`{f.enum}`: " + ", ".join(f"{k}={v}" for k, v in isa.enums[f.enum].items())
    lo, hi = f.value_range()
    text = f"{lo}..{hi}"
    return text + (f", multiple of {f.scale} (stored / {f.scale})" if f.scale != 1 else "")


def _formats(isa: Isa) -> list[str]:
    out = ["## Formats", "",
           "Every bit of the word belongs to exactly one field of the format; an "
           "instruction fixes the fields that are not its operands.", ""]
    users: dict[str, list[str]] = {}
    for insn in isa.insns:
        names = users.setdefault(insn.format, [])
        if insn.mnemonic not in names:
            names.append(insn.mnemonic)
    for name, fnames in isa.formats.items():
        out += [f"### Format {name}", "", "```text"]
        out += _diagram([isa.fields[n] for n in fnames if n in isa.fields])
        out += ["```", ""]
        used = ", ".join(f"`{m}`" for m in users.get(name, [])) or "(none)"
        out += [f"Used by: {used}.", ""]
    return out


def _diagram(fields: list[Field]) -> list[str]:
    """An ASCII bit diagram: bit numbers above boxes holding field names."""
    fields = sorted(fields, key=lambda f: -f.hi)
    widths = [
        max(len(f.name) + 2, len(str(f.hi)) + len(str(f.lo)) + 3, 2 * f.width - 1)
        for f in fields
    ]
    cells = list(zip(fields, widths, strict=True))
    bits = "".join(
        " " + (str(f.hi).center(w) if f.hi == f.lo else
               str(f.hi).ljust(w - len(str(f.lo))) + str(f.lo))
        for f, w in cells
    )
    border = "+" + "+".join("-" * w for w in widths) + "+"
    names = "|" + "|".join(f.name.center(w) for f, w in cells) + "|"
    return [bits.rstrip(), border, names, border]


def _opcode_map(isa: Isa) -> list[str]:
    op = isa.fields.get("op")
    if op is None:
        return []
    out = ["## Opcode map", "", f"Major opcode (`op`, bits {_bits(op)}) to instructions.", "",
           "| op | bits | format | instructions |", "|---|---|---|---|"]
    groups: dict[int, list[Insn]] = {}
    for insn in isa.insns:
        groups.setdefault(insn.fixed.get("op", 0), []).append(insn)
    width = op.width
    for op in sorted(groups):
        insns = groups[op]
        fmts = ", ".join(dict.fromkeys(i.format for i in insns))
        names = ", ".join(dict.fromkeys(f"`{_base(i)}`" for i in insns))
        out.append(f"| {op} | `{op:0{width}b}` | {fmts} | {names} |")
    return out + [""]


# ------------------------------------------------------------------ instructions


def _sections(isa: Isa) -> dict[str, list[str]]:
    """Section title -> mnemonics in table order; unplaced mnemonics go under OTHER."""
    place = {m: title for title, names in SECTIONS for m in names.split()}
    out: dict[str, list[str]] = {title: [] for title, _ in SECTIONS}
    for m in isa.by_mnemonic:
        out.setdefault(place.get(m, OTHER), []).append(m)
    return {title: ms for title, ms in out.items() if ms}


def _mnemonic(isa: Isa, mnemonic: str) -> list[str]:
    """One mnemonic: each of its entries (syntaxes) with every granularity."""
    entries: dict[str, list[Insn]] = {}
    for insn in isa.by_mnemonic[mnemonic]:
        entries.setdefault(_base(insn), []).append(insn)
    out = [f"### {mnemonic}", ""]
    for insns in entries.values():
        out += _entry(isa, insns)
    return out


def _entry(isa: Isa, insns: list[Insn]) -> list[str]:
    first = insns[0]
    gs = [i.g for i in insns if i.g]
    spelled = first.mnemonic
    if len(gs) == 1:
        spelled += f".{gs[0]}"
    elif gs:
        spelled += ".{" + ",".join(gs) + "}"
    out = [f"`{_spell(spelled, first.syntax)}`", "", first.doc, ""]
    out += _encoding_table(isa, insns)
    if first.lane is not None:
        out.append(f"- Semantics, per lane: `{first.lane}`")
    else:
        out.append(f"- Semantics: `{first.body}`")
    for name in first.operands:
        text = _operand(isa, insns, name)
        if text:
            out.append(f"- `{name}`: {text}")
    out.append(f"- Cycles: {_cycles(isa, insns)}")
    return out + [""]


def _encoding_table(isa: Isa, insns: list[Insn]) -> list[str]:
    fields = sorted((isa.fields[n] for n in isa.formats[insns[0].format]), key=lambda f: -f.hi)
    head = "| | " + " | ".join(f"{f.name} {_bits(f)}" for f in fields) + " | match |"
    out = [head, "|---" * (len(fields) + 2) + "|"]
    for insn in insns:
        cells = [
            f.name if f.name in insn.operands else _fixed(insn.fixed.get(f.name, 0), f.width)
            for f in fields
        ]
        out.append(f"| `{insn.key}` | " + " | ".join(cells) + f" | `{insn.match:#010x}` |")
    return out + [""]


def _fixed(value: int, width: int) -> str:
    if width <= 8:
        return f"`{value:0{width}b}`"
    return f"`{value:#0{(width + 3) // 4 + 2}x}`"


def _operand(isa: Isa, insns: list[Insn], name: str) -> str:
    """What an operand may be, when more than 'a register'; per granularity if it varies."""
    f = isa.fields[name]
    if f.kind == "reg":
        return ""
    if f.kind == "enum":
        return "one of " + " ".join(f"`{k}`" for k in isa.enums[f.enum])
    ranges = []
    for insn in insns:
        lo, hi = isa.operand_range(insn, name)
        ranges.append((insn.g, f"{lo}..{hi}"))
    if len({r for _, r in ranges}) == 1:
        text = ranges[0][1]
    else:
        text = ", ".join(f"{r} (.{g})" for g, r in ranges)
    if f.kind == "pcrel":
        return (f"label; byte offset from this instruction, a multiple of {f.scale}, "
                f"in {text}")
    return f"{KIND_TEXT[f.kind]}, {text}"


def _cycles(isa: Isa, insns: list[Insn]) -> str:
    first = insns[0]
    text = str(first.cycles)
    m = isa.machine
    costs = f"LM {m['lm_cost']}, SM {m['sm_cost']}, GM {m['gm_cost']}"
    reads = len(first.stream) + len(first.hold)
    if first.cls == "mem" and reads > 1:
        lm, sm, gm = (first.cycles + reads * (m[f"{r}_cost"] - 1) for r in ("lm", "sm", "gm"))
        text = (f"{first.cycles} plus, for each of its {reads} word reads, that region's cost "
                f"less 1 ({costs}): {lm} with all in LM, {sm} in SM, {gm} in GM; plus SM "
                "bank-conflict waits (decision `macl`)")
    elif first.cls == "mem":
        text = ("the region's cost in total" if first.cycles == 1
                else f"{first.cycles - 1} plus the region's cost")
        text += f" ({costs}; decision `memory_cost`), plus SM bank-conflict waits"
    elif first.cls == "nbr":
        text += " plus handshake waits"
    elif first.cls == "dma":
        text += " plus waits for the PE's DMA engine (decision `dma`)"
    if first.cls == "mac":
        macs = " / ".join(f"{i.macs} (.{i.g})" if i.g else str(i.macs) for i in insns)
        text += f"; MACs: {macs}"
    return text


# ------------------------------------------------------------------ back matter


def _pseudos(isa: Isa) -> list[str]:
    out = ["## Pseudo-instructions", "",
           "Expanded by the assembler into real instructions; the listing shows the "
           "expansion.", ""]
    for p in isa.pseudos:
        out += [f"### {p.name}", "", f"`{_spell(p.name, p.syntax)}`", "", p.doc, "",
                "Expands to:", ""]
        out += [f"- `{_plain(e)}`" for e in p.expansion]
        out.append("")
    return out


def _index(isa: Isa) -> list[str]:
    out = ["## Encoding index", "",
           "A word is instruction `key` when `word & mask == match` (and its operands are "
           "legal); no two rows overlap.", "",
           "| key | syntax | format | match | mask | cycles | class |",
           "|---|---|---|---|---|---|---|"]
    for i in isa.insns:
        out.append(f"| `{i.key}` | `{_spell(i.spelled, i.syntax)}` | {i.format} | "
                   f"`{i.match:#010x}` | `{i.mask:#010x}` | {i.cycles} | {i.cls} |")
    return out + [""]


# ------------------------------------------------------------------ helpers


def _base(insn: Insn) -> str:
    """The entry's id: the key without its granularity suffix (`add`, `lw.pi`)."""
    return insn.key[: -len(insn.g) - 1] if insn.g else insn.key


def _plain(template: str) -> str:
    """A syntax template as the programmer reads it: `{rd}, {rs}` -> `rd, rs`."""
    return template.replace("{", "").replace("}", "")


def _spell(mnemonic: str, syntax: str) -> str:
    return f"{mnemonic} {_plain(syntax)}".rstrip()


def _bits(f: Field) -> str:
    return str(f.hi) if f.hi == f.lo else f"{f.hi}..{f.lo}"


def _anchor(title: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    keep = "".join(c for c in title.lower() if c.isalnum() or c in " -")
    return keep.replace(" ", "-")
