"""Load and check the ISA description (`isa.toml`), then encode and decode words.

Everything downstream (assembler, disassembler, emulator decoder, docs) reads
the instruction set through this module, so it refuses a table with
overlapping encodings, uncovered bits, unknown fields or values that do not
fit, naming the instruction at fault, before anything is generated from it.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

KINDS = {"reg", "uimm", "simm", "pcrel", "enum"}
CLASSES = {"alu", "mac", "mem", "branch", "ctrl", "nbr", "sys", "dma"}
INSN_KEYS = {
    "name", "id", "g", "format", "syntax", "fixed", "cycles", "class", "lane", "body",
    "macs", "range", "doc", "stream", "hold",
}
WORD = 32  # register width: lanes divide it
G_ALL = "all"  # `g` of an entry: every granularity of the table
G_SUBWORD = "subword"  # `g` of an entry: every granularity narrower than the word
GRANULE_KEYS = {"code", "bits"}


class ISAError(ValueError):
    """The description is inconsistent; the message lists every problem found."""


@dataclass(frozen=True)
class Field:
    """A bit field of the 32-bit word, and how an operand value maps into it."""

    name: str
    hi: int
    lo: int
    kind: str
    scale: int = 1
    enum: str | None = None

    @property
    def width(self) -> int:
        return self.hi - self.lo + 1

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lo

    def value_range(self) -> tuple[int, int]:
        """The operand values (before scaling) the field can hold."""
        w = self.width
        if self.kind in ("simm", "pcrel"):
            return -(1 << (w - 1)) * self.scale, ((1 << (w - 1)) - 1) * self.scale
        return 0, (1 << w) - 1

    def insert(self, value: int) -> int:
        """The field bits for an operand value (already range-checked)."""
        return ((value // self.scale) & ((1 << self.width) - 1)) << self.lo

    def extract(self, word: int) -> int:
        """The operand value held in `word`, sign-extended and scaled as declared."""
        raw = (word >> self.lo) & ((1 << self.width) - 1)
        if self.kind in ("simm", "pcrel") and raw >> (self.width - 1):
            raw -= 1 << self.width
        return raw * self.scale


@dataclass(frozen=True)
class Granule:
    """A lane width the instructions may name: `.suffix`, field g = code, lanes of `bits`."""

    suffix: str
    code: int
    bits: int

    @property
    def lanes(self) -> int:
        return WORD // self.bits


@dataclass(frozen=True)
class Insn:
    """One encodable instruction: a mnemonic at one granularity with one syntax."""

    key: str  # unique: "add.b", "lw", "lw.pi"
    mnemonic: str  # what the programmer writes before the suffix
    g: str | None  # a suffix of [granularities] ("b", "h", ...) or None
    format: str
    syntax: str
    operands: tuple[str, ...]  # field names in syntax order
    fixed: dict[str, int]
    match: int
    mask: int
    cycles: int
    cls: str
    lane: str | None
    body: str | None
    macs: int
    ranges: dict[str, tuple[int, int]]
    doc: str
    line: int  # line of the entry in isa.toml, for messages
    width: int = WORD  # lane width in bits (the word for plain instructions)
    stream: tuple[str, ...] = ()  # registers it reads a word through, then steps by 4
    hold: tuple[str, ...] = ()  # registers it reads a word through without stepping

    @property
    def lanes(self) -> int:
        return WORD // self.width

    @property
    def spelled(self) -> str:
        """The mnemonic as written, suffix included."""
        return f"{self.mnemonic}.{self.g}" if self.g else self.mnemonic


@dataclass(frozen=True)
class Pseudo:
    name: str
    syntax: str
    expansion: tuple[str, ...]
    doc: str


@dataclass
class Isa:
    """The validated description: fields, granularities, formats, instructions, machine."""

    fields: dict[str, Field]
    granules: dict[str, Granule]  # by suffix, in table order
    enums: dict[str, dict[str, int]]
    formats: dict[str, tuple[str, ...]]
    insns: list[Insn]
    pseudos: list[Pseudo]
    machine: dict[str, int]
    decisions: dict[str, str]
    digest: str
    by_mnemonic: dict[str, list[Insn]] = field(default_factory=dict)
    by_key: dict[str, Insn] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for insn in self.insns:
            self.by_mnemonic.setdefault(insn.mnemonic, []).append(insn)
            self.by_key[insn.key] = insn

    def operand_range(self, insn: Insn, name: str) -> tuple[int, int]:
        """The values an operand may take: the field's, narrowed by the entry's `range`."""
        return insn.ranges.get(name, self.fields[name].value_range())

    def encode(self, insn: Insn, values: dict[str, int]) -> int:
        """The word for `insn` with operand values (byte offsets for pcrel fields)."""
        word = insn.match
        for name in insn.operands:
            f = self.fields[name]
            v = values[name]
            lo, hi = self.operand_range(insn, name)
            if not lo <= v <= hi or v % f.scale:
                raise ValueError(f"{insn.spelled}: {name}={v} outside [{lo}, {hi}]")
            word |= f.insert(v)
        return word

    def decode(self, word: int) -> tuple[Insn, dict[str, int]] | None:
        """The instruction and operand values of `word`, or None if it is illegal."""
        for insn in _decode_index(self).get(self.fields["op"].extract(word), ()):
            if word & insn.mask == insn.match:
                values = {n: self.fields[n].extract(word) for n in insn.operands}
                if all(self._legal(insn, n, v) for n, v in values.items()):
                    return insn, values
        return None

    def _legal(self, insn: Insn, name: str, value: int) -> bool:
        f = self.fields[name]
        if f.kind == "enum" and value not in self.enums[f.enum].values():
            return False
        lo, hi = self.operand_range(insn, name)
        return lo <= value <= hi

    def enum_name(self, fname: str, value: int) -> str:
        enum = self.enums[self.fields[fname].enum]
        return next(k for k, v in enum.items() if v == value)


@cache
def _decode_index(isa: Isa) -> dict[int, list[Insn]]:
    index: dict[int, list[Insn]] = {}
    for insn in isa.insns:
        index.setdefault(isa.fields["op"].extract(insn.match), []).append(insn)
    return index


Isa.__hash__ = object.__hash__  # type: ignore[assignment]  # identity: one table per load

_OPERAND = re.compile(r"\{(\w+)\}")


def _toml_lines(text: str) -> list[int]:
    """Line numbers of each `[[insn]]` header, to point messages at the entry."""
    return [i + 1 for i, line in enumerate(text.splitlines()) if line.strip() == "[[insn]]"]


def default_path() -> Path:
    return Path(str(resources.files(__package__).joinpath("isa.toml")))


SECTIONS = {"machine", "decisions", "fields", "granularities", "enums", "formats", "insn",
            "pseudo"}
FIELD_KEYS = {"bits", "kind", "scale", "enum"}


def parse(text: str, source: str = "isa.toml") -> Isa:
    """Validate a description and expand it into one Insn per granularity."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ISAError(f"{source}: {exc}") from None
    try:
        return _parse(raw, text, source)
    except (KeyError, TypeError, ValueError) as exc:  # a malformed value the checks missed
        if isinstance(exc, ISAError):
            raise
        raise ISAError(f"{source}: malformed description: {exc!r}") from None


def _parse(raw: dict, text: str, source: str) -> Isa:
    errors: list[str] = [f"unknown section [{k}]" for k in raw if k not in SECTIONS]

    fields: dict[str, Field] = {}
    for name, spec in raw.get("fields", {}).items():
        if set(spec) - FIELD_KEYS or "bits" not in spec:
            errors.append(f"field {name}: needs `bits`, may have {sorted(FIELD_KEYS)}")
            continue
        hi, lo = spec["bits"]
        kind = spec.get("kind", "uimm")
        if kind not in KINDS:
            errors.append(f"field {name}: unknown kind {kind!r}")
        if not 31 >= hi >= lo >= 0:
            errors.append(f"field {name}: bits [{hi}, {lo}] outside the word")
        if kind == "enum" and spec.get("enum") not in raw.get("enums", {}):
            errors.append(f"field {name}: unknown enum {spec.get('enum')!r}")
        fields[name] = Field(name, hi, lo, kind, spec.get("scale", 1), spec.get("enum"))
    enums = raw.get("enums", {})
    for ename, members in enums.items():
        width = min((f.width for f in fields.values() if f.enum == ename), default=32)
        for m, v in members.items():
            if not 0 <= v < (1 << width):
                errors.append(f"enum {ename}: {m}={v} does not fit {width} bits")

    granules = _granules(raw.get("granularities", {}), fields.get("g"), errors)

    formats: dict[str, tuple[str, ...]] = {}
    for fname, names in raw.get("formats", {}).items():
        for n in names:
            if n not in fields:
                errors.append(f"format {fname}: unknown field {n!r}")
        formats[fname] = tuple(names)
        covered = 0
        for n in names:
            if n in fields:
                if covered & fields[n].mask:
                    errors.append(f"format {fname}: field {n} overlaps another field")
                covered |= fields[n].mask
        if covered != 0xFFFFFFFF:
            errors.append(f"format {fname}: bits {~covered & 0xFFFFFFFF:#010x} not covered")

    lines = _toml_lines(text)
    insns: list[Insn] = []
    for i, entry in enumerate(raw.get("insn", [])):
        line = lines[i] if i < len(lines) else 0
        insns.extend(_expand(entry, line, fields, granules, formats, errors))

    keys: dict[str, Insn] = {}
    for insn in insns:
        if insn.key in keys:
            errors.append(f"{insn.key} (line {insn.line}): defined twice")
        keys[insn.key] = insn
    for i, a in enumerate(insns):  # Spike's overlap test
        for b in insns[i + 1:]:
            if (a.mask & b.mask & (a.match ^ b.match)) == 0:
                errors.append(
                    f"{a.key} (line {a.line}) and {b.key} (line {b.line}): encodings overlap"
                )
    op = fields.get("op")
    if op is None:
        errors.append("no `op` field: the decoder indexes instructions by it")
    for insn in insns:
        if op is not None and insn.mask & op.mask != op.mask:
            errors.append(f"{insn.key} (line {insn.line}): does not fix the op field")
    if errors:
        raise ISAError(f"{source}: " + f"\n{source}: ".join(errors))

    pseudos = [
        Pseudo(p["name"], p["syntax"], tuple(p["expansion"]), p["doc"])
        for p in raw.get("pseudo", [])
    ]
    return Isa(
        fields=fields, granules=granules, enums=enums, formats=formats, insns=insns,
        pseudos=pseudos,
        machine=dict(raw.get("machine", {})), decisions=dict(raw.get("decisions", {})),
        digest=hashlib.sha256(text.encode()).hexdigest()[:16],
    )


def _granules(raw: dict, g: Field | None, errors: list[str]) -> dict[str, Granule]:
    """The `[granularities]` rows (suffix = { code, bits }), checked: a suffix is one
    lower-case letter, codes fit field g and are distinct, widths divide the word and are
    distinct (a width names one suffix). TOML itself refuses a suffix given twice."""
    out: dict[str, Granule] = {}
    codes: dict[int, str] = {}
    widths: dict[int, str] = {}
    for suffix, spec in raw.items():
        where = f"granularity .{suffix}"
        if not re.fullmatch(r"[a-z]", suffix):
            errors.append(f"{where}: a suffix is one lower-case letter")
            continue
        if not isinstance(spec, dict) or set(spec) != GRANULE_KEYS:
            errors.append(f"{where}: needs exactly {sorted(GRANULE_KEYS)}")
            continue
        code, bits = spec["code"], spec["bits"]
        if not (isinstance(code, int) and isinstance(bits, int)):
            errors.append(f"{where}: code and bits must be integers")
            continue
        before = len(errors)
        if g is None:
            errors.append(f"{where}: no `g` field to hold its code")
        elif not 0 <= code < (1 << g.width):
            errors.append(f"{where}: code {code} does not fit field g ({g.width} bits)")
        if not 0 < bits <= WORD or WORD % bits:
            errors.append(f"{where}: {bits}-bit lanes do not divide the {WORD}-bit word")
        if code in codes:
            errors.append(f"{where}: code {code} is also .{codes[code]}'s")
        if bits in widths:
            errors.append(f"{where}: {bits}-bit lanes are also .{widths[bits]}")
        if len(errors) == before:  # a bad row makes no instructions (no follow-on errors)
            codes[code], widths[bits] = suffix, suffix
            out[suffix] = Granule(suffix, code, bits)
    return out


def _granularities(gs: object, granules: dict[str, Granule]) -> list[Granule] | None:
    """An entry's `g`: "all", "subword" (narrower than the word) or suffixes ("bh");
    None if it names a suffix the table lacks, or one twice."""
    if gs == G_ALL:
        return list(granules.values())
    if gs == G_SUBWORD:
        return [gr for gr in granules.values() if gr.bits < WORD]
    if not isinstance(gs, str) or len(set(gs)) != len(gs) or any(c not in granules for c in gs):
        return None
    return [granules[c] for c in gs]


def _expand(
    entry: dict, line: int, fields: dict[str, Field], granules: dict[str, Granule],
    formats: dict[str, tuple[str, ...]], errors: list[str],
) -> list[Insn]:
    """One Insn per granularity of an `[[insn]]` entry; problems go to `errors`."""
    name = entry.get("name", "?")
    where = f"{entry.get('id', name)} (line {line})"
    if "name" not in entry:
        errors.append(f"{where}: entry has no name")
    unknown = set(entry) - INSN_KEYS
    if unknown:
        errors.append(f"{where}: unknown keys {sorted(unknown)}")
    fmt = entry.get("format")
    if fmt not in formats:
        errors.append(f"{where}: unknown format {fmt!r}")
        return []
    fmt_fields = formats[fmt]
    syntax = entry.get("syntax", "")
    operands = tuple(_OPERAND.findall(syntax))
    fixed_in = dict(entry.get("fixed", {}))
    for n in operands:
        if n not in fmt_fields:
            errors.append(f"{where}: operand {{{n}}} is not a field of format {fmt}")
        if n in fixed_in:
            errors.append(f"{where}: field {n} is both an operand and fixed")
    for n in fixed_in:
        if n not in fmt_fields:
            errors.append(f"{where}: fixed field {n!r} is not in format {fmt}")
    if ("lane" in entry) == ("body" in entry):
        errors.append(f"{where}: give exactly one of `lane` and `body`")
    cls = entry.get("class", "alu")
    if cls not in CLASSES:
        errors.append(f"{where}: unknown class {cls!r}")
    gs = entry.get("g", "")
    chosen = _granularities(gs, granules) if gs else []
    if chosen is None:
        errors.append(f"{where}: bad granularities {gs!r} (suffixes of [granularities], "
                      f"{G_ALL!r} or {G_SUBWORD!r})")
        return []
    out = []
    for gr in chosen or [None]:
        g = gr.suffix if gr else None
        fixed = {n: 0 for n in fmt_fields if n not in operands}
        fixed.update(fixed_in)
        if "g" in fmt_fields:
            if g is not None and "g" in fixed_in:
                errors.append(f"{where}: g is fixed but the entry has granularities")
            fixed["g"] = gr.code if gr else fixed.get("g", 0)
        elif g is not None:
            errors.append(f"{where}: format {fmt} has no g field for granularities")
        match = mask = 0
        for n, v in fixed.items():
            f = fields.get(n)
            if f is None:
                continue
            if not 0 <= v < (1 << f.width):
                errors.append(f"{where}: fixed {n}={v} does not fit {f.width} bits")
                v &= (1 << f.width) - 1  # keep the mask whole: no follow-on overlap errors
            match |= v << f.lo
            mask |= f.mask
        width = gr.bits if gr else WORD
        ranges = {}
        for n, (lo, hi) in entry.get("range", {}).items():
            if n not in operands:
                errors.append(f"{where}: range for {n!r}, which is not an operand")
                continue
            hi = {"W-1": width - 1, "2W-1": 2 * width - 1}.get(hi, hi)
            if not isinstance(hi, int):
                errors.append(f"{where}: range {n}: bound {hi!r} is not an integer, "
                              "\"W-1\" or \"2W-1\"")
                continue
            flo, fhi = fields[n].value_range()
            if not flo <= lo <= hi <= fhi:
                errors.append(f"{where}: range {n}=[{lo}, {hi}] outside the field")
            ranges[n] = (lo, hi)
        stream = tuple(entry.get("stream", ()))
        hold = tuple(entry.get("hold", ()))
        for n in stream + hold:
            if n not in operands or fields[n].kind != "reg":
                errors.append(f"{where}: stream/hold {n!r} is not a register operand")
        if hold and not stream:
            errors.append(f"{where}: `hold` needs `stream` (a held word beside stepped ones)")
        macs = entry.get("macs", 0)
        macs = WORD // width if macs == "lanes" else int(macs)
        key = entry.get("id", name)
        out.append(Insn(
            key=f"{key}.{g}" if g else key, mnemonic=name, g=g, format=fmt, syntax=syntax,
            operands=operands, fixed=fixed, match=match, mask=mask,
            cycles=int(entry.get("cycles", 1)), cls=cls, lane=entry.get("lane"),
            body=entry.get("body"), macs=macs, ranges=ranges, doc=entry.get("doc", ""),
            line=line, width=width, stream=stream, hold=hold,
        ))
    return out


@cache
def load(path: str | None = None) -> Isa:
    """The project's instruction set (cached: every tool shares one validated table)."""
    p = Path(path) if path else default_path()
    return parse(p.read_text(), p.name)
