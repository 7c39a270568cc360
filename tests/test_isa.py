"""The ISA table, its loader's checks, and the generated reference.

The table is the single source of truth, so these tests hold it to ARCH.md
(a hand-written list, not one derived from the table), hold the loader to
rejecting every kind of broken table with a message naming the culprit, and
hold docs/isa.md to being exactly what the generator makes of the table.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pearray.cli import main
from pearray.isa import ISAError, load, parse
from pearray.isa.docgen import BODY_TERMS, LANE_TERMS, render
from pearray.isa.spec import default_path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "isa.md"
REGEN = "python3 -m pearray isa --write docs/isa.md"


# ------------------------------------------------------------------ (a) generated doc


def test_committed_reference_is_current() -> None:
    assert DOC.is_file(), f"docs/isa.md is missing: run `{REGEN}`"
    assert DOC.read_text(encoding="utf-8") == render(load()), (
        f"docs/isa.md is stale: run `{REGEN}` and commit it"
    )


def test_render_is_deterministic_and_says_where_it_came_from() -> None:
    isa = load()
    text = render(isa)
    assert text == render(isa)
    head = "\n".join(text.splitlines()[:5])
    assert "isa/isa.toml" in head and isa.digest in head and "do not edit" in head
    assert "pearray isa --write docs/isa.md" in head


def test_reference_covers_every_encoding_and_pseudo() -> None:
    isa = load()
    text = render(isa)
    for insn in isa.insns:
        assert f"| `{insn.key}` |" in text, insn.key
        assert f"`{insn.match:#010x}` | `{insn.mask:#010x}`" in text, insn.key
    for mnemonic in isa.by_mnemonic:
        assert f"\n### {mnemonic}\n" in text, mnemonic
    for p in isa.pseudos:
        assert f"\n### {p.name}\n" in text, p.name
    for name in isa.decisions:
        assert f"**{name}.**" in text, name


def test_every_semantic_name_is_explained() -> None:
    """The notation section must explain each name a `lane` or `body` uses."""
    for insn in load().insns:
        for name in re.findall(r"[A-Za-z_]\w*", insn.lane or ""):
            assert name in LANE_TERMS, f"{insn.key}: explain `{name}` in docgen.LANE_TERMS"
        for name in re.findall(r"[A-Za-z_]\w*", insn.body or ""):
            if name.endswith("_") and name.islower():
                continue  # a local temporary such as v_
            if name.startswith("FIELD_"):
                name = "FIELD_"
            assert name in BODY_TERMS, f"{insn.key}: explain `{name}` in docgen.BODY_TERMS"


# ------------------------------------------------------------------ (b) loader checks

FIELDS = """
[fields]
op = { bits = [31, 26] }
g = { bits = [25, 24] }
rd = { bits = [23, 20], kind = "reg" }
rs = { bits = [19, 16], kind = "reg" }
fn = { bits = [15, 0] }
"""
GRANULARITIES = """
[granularities]
b = { code = 0, bits = 8 }
h = { code = 1, bits = 16 }
w = { code = 2, bits = 32 }
"""
FORMATS = """
[formats]
R = ["op", "g", "rd", "rs", "fn"]
"""


def insn(name: str = "foo", op: int = 1, extra: str = "", *, fixed: str = "",
         syntax: str = "{rd}, {rs}", sem: str = 'body = "WRD(RS);"', fmt: str = "R") -> str:
    """One `[[insn]]` entry; the defaults make a valid one."""
    fixed = fixed or f"op = {op}"
    return (f'\n[[insn]]\nname = "{name}"\nformat = "{fmt}"\nsyntax = "{syntax}"\n'
            f"fixed = {{ {fixed} }}\n{sem}\n{extra}")


def table(*entries: str, fields: str = FIELDS, formats: str = FORMATS,
          granularities: str = GRANULARITIES) -> str:
    return fields + granularities + formats + "".join(entries)


def errors_of(text: str) -> list[str]:
    """The problems ISAError lists, one per line."""
    with pytest.raises(ISAError) as exc:
        parse(text)
    return str(exc.value).splitlines()


def line_of(text: str, n: int) -> int:
    """The line of the n-th `[[insn]]` (0-based), as the loader reports it."""
    return [i + 1 for i, s in enumerate(text.splitlines()) if s == "[[insn]]"][n]


def test_minimal_table_parses() -> None:
    isa = parse(table(insn("foo"), insn("bar", 2, 'g = "bh"\n', sem='lane = "a"')))
    assert [i.key for i in isa.insns] == ["foo", "bar.b", "bar.h"]
    foo = isa.by_key["foo"]
    assert foo.match == 1 << 26 and foo.mask == 0xFF00FFFF
    assert isa.by_key["bar.h"].match == (2 << 26) | (1 << 24)


def test_overlap_names_both_instructions() -> None:
    text = table(insn("foo"), insn("bar"))
    (msg,) = errors_of(text)
    assert f"foo (line {line_of(text, 0)})" in msg
    assert f"bar (line {line_of(text, 1)})" in msg
    assert "overlap" in msg


def test_overlap_of_an_operand_field_with_a_fixed_one() -> None:
    """An instruction whose operand spans another's fixed field covers its words."""
    wide = insn("wide", syntax="{rd}, {rs}, {fn}")
    narrow = insn("narrow", fixed="op = 1, fn = 5")
    (msg,) = errors_of(table(wide, narrow))
    assert "wide" in msg and "narrow" in msg and "overlap" in msg


def test_overlap_in_the_real_table() -> None:
    text = default_path().read_text()
    bad = text.replace("fixed = { op = 1, fn = 1 }", "fixed = { op = 1, fn = 0 }", 1)
    assert bad != text
    msgs = errors_of(bad)
    assert len(msgs) == len(load().granules)  # one per granularity
    assert any("add.b" in m and "sub.b" in m and "overlap" in m for m in msgs)
    bad = text.replace("rt = 0, fn = 2 }", "rt = 0, fn = 1 }", 1)  # sync onto halt
    assert bad != text
    assert any("halt" in m and "sync" in m for m in errors_of(bad))


def test_uncovered_bits_in_a_format() -> None:
    formats = '\n[formats]\nR = ["op", "g", "rd", "rs", "fn"]\nH = ["op", "rd", "fn"]\n'
    (msg,) = errors_of(table(insn(), formats=formats))
    assert "format H" in msg and "0x030f0000" in msg and "not covered" in msg


def test_overlapping_fields_in_a_format() -> None:
    fields = FIELDS + "lo = { bits = [3, 0] }\n"
    formats = '\n[formats]\nR = ["op", "g", "rd", "rs", "fn", "lo"]\n'
    (msg,) = errors_of(table(insn(), fields=fields, formats=formats))
    assert "format R" in msg and "lo overlaps" in msg


def test_unknown_field_in_a_format() -> None:
    formats = '\n[formats]\nR = ["op", "g", "rd", "rs", "fn", "nosuch"]\n'
    msgs = errors_of(table(insn(), formats=formats))
    assert any("format R" in m and "unknown field 'nosuch'" in m for m in msgs)


def test_unknown_field_in_fixed() -> None:
    text = table(insn(fixed="op = 1, nosuch = 3"))
    (msg,) = errors_of(text)
    assert f"foo (line {line_of(text, 0)})" in msg and "fixed field 'nosuch'" in msg


def test_fixed_field_of_another_format() -> None:
    text = default_path().read_text()
    bad = text.replace("fixed = { op = 1, fn = 6 }", "fixed = { op = 1, fn = 6, sh = 1 }", 1)
    assert bad != text
    assert any(re.search(r"mul \(line \d+\): fixed field 'sh' is not in format R$", m)
               for m in errors_of(bad))


def test_operand_not_in_format() -> None:
    (msg,) = errors_of(table(insn(syntax="{rd}, {rt}")))
    assert "foo" in msg and "operand {rt} is not a field of format R" in msg
    text = default_path().read_text()
    bad = text.replace('syntax = "{rd}, {rs}, {simm16}"', 'syntax = "{rd}, {rs}, {rt}"', 1)
    assert bad != text
    assert any("addi" in m and "{rt}" in m for m in errors_of(bad))


def test_operand_also_fixed() -> None:
    (msg,) = errors_of(table(insn(fixed="op = 1, rd = 2")))
    assert "foo" in msg and "rd is both an operand and fixed" in msg


@pytest.mark.parametrize("value", [64, -1])
def test_fixed_value_too_wide(value: int) -> None:
    (msg,) = errors_of(table(insn(op=value)))
    assert "foo" in msg and f"fixed op={value} does not fit 6 bits" in msg


def test_fixed_value_too_wide_in_the_real_table() -> None:
    text = default_path().read_text()
    bad = text.replace("fixed = { op = 12 }", "fixed = { op = 99 }", 1)
    assert bad != text
    assert any("lui" in m and "op=99" in m for m in errors_of(bad))


def test_unknown_keys() -> None:
    (msg,) = errors_of(table(insn(extra="cycels = 2\n")))
    assert "foo" in msg and "unknown keys ['cycels']" in msg


@pytest.mark.parametrize("sem", ['lane = "a"\nbody = "WRD(RS);"', ""])
def test_exactly_one_of_lane_and_body(sem: str) -> None:
    (msg,) = errors_of(table(insn(sem=sem)))
    assert "foo" in msg and "exactly one of `lane` and `body`" in msg


@pytest.mark.parametrize("g", ["bx", "bb", "q", "every"])
def test_bad_granularity(g: str) -> None:
    (msg,) = errors_of(table(insn(extra=f'g = "{g}"\n')))
    assert "foo" in msg and f"bad granularities '{g}'" in msg


def test_granularity_keywords_expand_from_the_table() -> None:
    """g = "all" is every row of [granularities] in table order, "subword" those narrower
    than the word; a row added to the table reaches both."""
    entries = (insn("foo", 1, 'g = "all"\n', sem='lane = "a"'),
               insn("bar", 2, 'g = "subword"\n', sem='lane = "a"'))
    isa = parse(table(*entries))
    assert [i.key for i in isa.insns] == ["foo.b", "foo.h", "foo.w", "bar.b", "bar.h"]
    assert [(i.width, i.lanes, i.macs) for i in isa.insns[:3]] == [(8, 4, 0), (16, 2, 0),
                                                                     (32, 1, 0)]
    isa = parse(table(*entries, granularities=GRANULARITIES + "q = { code = 3, bits = 2 }\n"))
    assert [i.key for i in isa.insns] == ["foo.b", "foo.h", "foo.w", "foo.q", "bar.b",
                                          "bar.h", "bar.q"]
    q = isa.by_key["foo.q"]
    assert (q.width, q.lanes, q.match >> 24 & 3) == (2, 16, 3)


@pytest.mark.parametrize(("row", "expected"), [
    ("q = { code = 4, bits = 4 }", "granularity .q: code 4 does not fit field g (2 bits)"),
    ("q = { code = 1, bits = 4 }", "granularity .q: code 1 is also .h's"),
    ("q = { code = 3, bits = 12 }", "granularity .q: 12-bit lanes do not divide the 32-bit"),
    ("q = { code = 3, bits = 64 }", "granularity .q: 64-bit lanes do not divide the 32-bit"),
    ("q = { code = 3, bits = 0 }", "granularity .q: 0-bit lanes do not divide the 32-bit"),
    ("q = { code = 3, bits = 16 }", "granularity .q: 16-bit lanes are also .h"),
    ("q = { code = 3 }", "granularity .q: needs exactly ['bits', 'code']"),
    ("q = { code = 3, bits = 4, lanes = 8 }", "granularity .q: needs exactly"),
    ('q = { code = 3, bits = "4" }', "granularity .q: code and bits must be integers"),
    ("qq = { code = 3, bits = 4 }", "granularity .qq: a suffix is one lower-case letter"),
    ("Q = { code = 3, bits = 4 }", "granularity .Q: a suffix is one lower-case letter"),
    ("h = { code = 3, bits = 4 }", "isa.toml: "),  # a suffix twice: TOML refuses the file
])
def test_bad_granularity_rows(row: str, expected: str) -> None:
    msgs = errors_of(table(insn(extra='g = "all"\n'), granularities=GRANULARITIES + row + "\n"))
    assert any(expected in m for m in msgs), msgs


def test_granularities_need_a_g_field() -> None:
    fields = FIELDS.replace("g = { bits = [25, 24] }", "z = { bits = [25, 24] }")
    formats = FORMATS.replace('"g"', '"z"')
    msgs = errors_of(table(insn(), fields=fields, formats=formats))
    assert any("granularity .b: no `g` field to hold its code" in m for m in msgs), msgs


def test_granularity_needs_a_g_field() -> None:
    fields = FIELDS + "big = { bits = [25, 0] }\n"
    formats = FORMATS + 'J = ["op", "big"]\n'
    (msg,) = errors_of(table(insn(extra='g = "b"\n', fmt="J", syntax=""), fields=fields,
                             formats=formats))
    assert "foo" in msg and "format J has no g field" in msg


def test_duplicate_key() -> None:
    text = table(insn("foo", 1), insn("foo", 2))
    (msg,) = errors_of(text)
    assert f"foo (line {line_of(text, 1)}): defined twice" in msg
    real = default_path().read_text()
    extra = insn("add", extra='g = "w"\n', fixed="op = 5, fn = 0", syntax="{rd}, {rs}, {rt}",
                 sem='lane = "a + b"')
    assert any("add.w" in m and "defined twice" in m for m in errors_of(real + extra))


def test_unknown_kind() -> None:
    fields = FIELDS.replace('fn = { bits = [15, 0] }', 'fn = { bits = [15, 0], kind = "imm" }')
    (msg,) = errors_of(table(insn(), fields=fields))
    assert "field fn: unknown kind 'imm'" in msg


@pytest.mark.parametrize(("change", "expected"), [
    (("fn = { bits = [15, 0] }", "fn = { bits = [32, 0] }"), "field fn: bits [32, 0] outside"),
    (("fn = { bits = [15, 0] }", 'fn = { bits = [15, 0], kind = "enum", enum = "e" }'),
     "field fn: unknown enum 'e'"),
])
def test_bad_field(change: tuple[str, str], expected: str) -> None:
    msgs = errors_of(table(insn(), fields=FIELDS.replace(*change)))
    assert any(expected in m for m in msgs), msgs


def test_enum_value_too_wide() -> None:
    fields = FIELDS.replace('rd = { bits = [23, 20], kind = "reg" }',
                            'rd = { bits = [23, 20], kind = "enum", enum = "d" }')
    fields += "\n[enums]\nd = { n = 0, far = 16 }\n"
    msgs = errors_of(table(insn(), fields=fields))
    assert any("enum d: far=16 does not fit 4 bits" in m for m in msgs), msgs


def test_range_checks() -> None:
    (msg,) = errors_of(table(insn(extra="range = { fn = [0, 3] }\n")))
    assert "foo" in msg and "range for 'fn', which is not an operand" in msg
    msgs = errors_of(table(insn(syntax="{rd}, {rs}, {fn}", extra="range = { fn = [0, 70000] }\n")))
    assert any("foo" in m and "range fn=[0, 70000] outside the field" in m for m in msgs)


def test_unknown_format_and_class() -> None:
    msgs = errors_of(table(insn("foo", fmt="Q"), insn("bar", 2, 'class = "fpu"\n')))
    assert any("foo" in m and "unknown format 'Q'" in m for m in msgs)
    assert any("bar" in m and "unknown class 'fpu'" in m for m in msgs)


def test_every_problem_is_reported_at_once() -> None:
    fields = FIELDS.replace('fn = { bits = [15, 0] }', 'fn = { bits = [15, 0], kind = "imm" }')
    formats = FORMATS + 'H = ["op", "rd", "fn"]\n'
    text = table(
        insn("a1"), insn("a2"),  # overlap
        insn("b", 3, "cycels = 1\n"),  # unknown key
        insn("c", 4, 'g = "z"\n'),  # bad granularity
        insn("d", fixed="op = 7, fn = 70000"),  # too wide
        insn("e", 5, sem=""),  # neither lane nor body
        insn("f", 6, syntax="{rd}, {rt}"),  # operand not in format
        fields=fields, formats=formats,
    )
    msgs = errors_of(text)
    expected = ["unknown kind", "format H", "a1 (line", "b (line", "c (line", "d (line",
                "e (line", "f (line"]
    for want in expected:
        assert any(want in m for m in msgs), (want, msgs)
    assert len(msgs) == 8, msgs
    assert all(m.startswith("isa.toml: ") for m in msgs)


def test_toml_syntax_error_is_an_isa_error() -> None:
    with pytest.raises(ISAError, match="isa.toml"):
        parse("[fields\n")


# ------------------------------------------------------------------ (c) ARCH.md §3 coverage

BHW = "bhwn"  # ARCH.md §3's .b .h .w, and §8: "every lane instruction of §3 takes .n"
# Written by hand from ARCH.md §3 and §8, deliberately not derived from the table.
ARCH_INSNS: dict[str, str] = {
    **dict.fromkeys("add sub adds subs addus subus mul min max minu maxu abs relu".split(), BHW),
    **dict.fromkeys("sll srl sra slli srli srai srar srari srasi".split(), BHW),
    "mac": BHW, "macsu": "bn", "dot": BHW, "macs": BHW, "dotsu": "n", "macl": "n",
    "packs": "hbn", "unpkl": "bhn", "unpkh": "bhn", "splat": BHW,
    **dict.fromkeys("and or xor not andi ori xori addi lui".split(), ""),
    **dict.fromkeys("lw lh lb lhu lbu sw sh sb".split(), ""),
    **dict.fromkeys("send recv sync".split(), ""),
    **dict.fromkeys("beq bne blt bge bltu bgeu j jal jr loop nop halt".split(), ""),
    **dict.fromkeys("mfs mts".split(), ""),
}
ARCH_SYNTAX = {  # operand order as ARCH.md writes it
    "add.b": "rd, rs, rt", "relu.w": "rd, rs", "slli.h": "rd, rs, _", "lw": "rd, _(rs)",
    "sw": "rt, _(rs)", "lw.pi": "rd, (rs)+_", "sw.pi": "rt, (rs)+_", "beq": "rs, rt, _",
    "jal": "rd, _", "jr": "rs", "loop": "rs, _", "send": "_, rs", "recv": "rd, _",
    "mfs": "rd, _", "mts": "_, rs", "nop": "", "unpkh.b": "rd, rs", "mac.b": "rd, rs, rt",
    "packs.n": "rd, rs, rt", "unpkl.n": "rd, rs", "mac.n": "rd, rs, rt",
}


@pytest.mark.parametrize("mnemonic", sorted(ARCH_INSNS))
def test_arch_instruction_is_in_the_table(mnemonic: str) -> None:
    isa = load()
    for g in ARCH_INSNS[mnemonic] or [None]:
        key = f"{mnemonic}.{g}" if g else mnemonic
        assert key in isa.by_key, f"ARCH.md §3 names {key}; isa.toml lacks it"
        assert isa.by_key[key].mnemonic == mnemonic


def test_post_increment_forms() -> None:
    isa = load()
    keys = {i.key for i in isa.by_mnemonic["lw"]} | {i.key for i in isa.by_mnemonic["sw"]}
    assert {"lw", "lw.pi", "sw", "sw.pi"} <= keys


@pytest.mark.parametrize("key", sorted(ARCH_SYNTAX))
def test_operand_order_follows_arch(key: str) -> None:
    insn = load().by_key[key]
    shape = re.sub(r"\{(\w+)\}", lambda m: m[1] if m[1] in ("rd", "rs", "rt") else "_",
                   insn.syntax)
    assert shape == ARCH_SYNTAX[key]


def test_mac_counts() -> None:
    isa = load()
    for key, macs in {"mac.b": 4, "mac.h": 2, "mac.w": 1, "macsu.b": 4, "dot.h": 2,
                      "macs.w": 1, "add.b": 0, "lw": 0, "mac.n": 8, "macsu.n": 8, "macs.n": 8,
                      "dot.n": 8, "dotsu.n": 8, "macl.n": 8, "maclh.n": 8}.items():
        assert isa.by_key[key].macs == macs, key


def test_nibble_shift_ranges() -> None:
    """ARCH.md §8: immediate shifts of 4-bit lanes take 0..3; packsr.n shifts its byte
    lanes, 0..7 (decision `packsr`: 0..2W-1)."""
    isa = load()
    for key in ("slli.n", "srli.n", "srai.n", "srari.n", "srasi.n"):
        assert isa.operand_range(isa.by_key[key], "sh") == (0, 3), key
    assert isa.operand_range(isa.by_key["packsr.n"], "sh") == (0, 7)
    assert isa.decode(isa.by_key["slli.n"].match | 4) is None


def test_pseudos() -> None:
    isa = load()
    assert {"li", "mv"} <= {p.name for p in isa.pseudos}
    for p in isa.pseudos:
        for line in p.expansion:
            for part in line.split("#")[0].split(";"):
                head = part.split()[0]
                assert head in isa.by_mnemonic, f"pseudo {p.name} expands to unknown {head}"


# ------------------------------------------------------------------ (d) encodings


def test_encodings_distinct_and_disjoint() -> None:
    isa = load()
    assert len({(i.match, i.mask) for i in isa.insns}) == len(isa.insns)
    assert len({i.key for i in isa.insns}) == len(isa.insns)
    for n, a in enumerate(isa.insns):
        for b in isa.insns[n + 1:]:
            assert a.mask & b.mask & (a.match ^ b.match), f"{a.key} and {b.key} overlap"


def test_fixed_bits_and_operands_fill_the_word() -> None:
    isa = load()
    for insn in isa.insns:
        operands = 0
        for name in insn.operands:
            assert not operands & isa.fields[name].mask, insn.key
            operands |= isa.fields[name].mask
        assert insn.mask & operands == 0, insn.key
        assert insn.mask | operands == 0xFFFFFFFF, insn.key
        assert insn.match & ~insn.mask == 0, insn.key


def test_decode_match_gives_the_instruction() -> None:
    isa = load()
    for insn in isa.insns:
        decoded = isa.decode(insn.match)
        assert decoded is not None, f"{insn.key}: {insn.match:#010x} does not decode"
        got, values = decoded
        assert got is insn, f"{insn.match:#010x} decodes as {got.key}, not {insn.key}"
        assert values == dict.fromkeys(insn.operands, 0)
        assert isa.encode(insn, values) == insn.match


def test_operand_extremes_round_trip() -> None:
    isa = load()
    for insn in isa.insns:
        for pick in (0, 1):
            values = {}
            for name in insn.operands:
                f = isa.fields[name]
                if f.kind == "enum":
                    members = sorted(isa.enums[f.enum].values())
                    values[name] = members[-pick]
                else:
                    values[name] = isa.operand_range(insn, name)[pick]
            word = isa.encode(insn, values)
            assert isa.decode(word) == (insn, values), (insn.key, values)


def test_out_of_range_operands_are_rejected() -> None:
    isa = load()
    with pytest.raises(ValueError, match="slli.b"):
        isa.encode(isa.by_key["slli.b"], {"rd": 1, "rs": 2, "sh": 8})
    with pytest.raises(ValueError, match="beq"):
        isa.encode(isa.by_key["beq"], {"rs": 1, "rt": 2, "boff": 6})  # not a multiple of 4
    assert isa.decode(isa.by_key["slli.b"].match | 8) is None  # shift 8 on bytes: illegal


def test_illegal_words() -> None:
    isa = load()
    assert isa.decode(0) is None  # zeroed memory traps
    unused = set(range(4)) - {g.code for g in isa.granules.values()}
    for code in unused:  # a g code the table does not list
        assert isa.decode(isa.by_key["add.b"].match | (code << 24)) is None, code
    assert isa.decode(isa.by_key["packs.b"].match | (2 << 24)) is None  # no packs.w
    assert isa.decode(isa.by_key["send"].match | (4 << 20)) is None  # no fifth direction
    assert isa.decode(isa.by_key["nop"].match | 1 << 12) is None  # nonzero rt in nop


# Written by hand from ARCH.md §1, §8 and isa.toml's g field: suffix -> (code, lane bits).
ARCH_GRANULES = {"b": (0, 8), "h": (1, 16), "w": (2, 32), "n": (3, 4)}


def test_granularity_codes() -> None:
    isa = load()
    assert {s: (g.code, g.bits) for s, g in isa.granules.items()} == ARCH_GRANULES
    for insn in isa.insns:
        if insn.g:
            code, bits = ARCH_GRANULES[insn.g]
            assert (insn.match >> 24) & 3 == code, insn.key
            assert (insn.width, insn.lanes) == (bits, 32 // bits), insn.key


# ------------------------------------------------------------------ (e) CLI


def test_cli_prints_the_reference(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["isa"]) == 0
    assert capsys.readouterr().out == render(load())


def test_cli_insn_filter(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["isa", "--insn", "lw.pi"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("### lw\n") and "`lw rd, (rs)+off12`" in out and "### sub" not in out
    assert main(["isa", "--insn", "addd"]) == 2
    assert "add" in capsys.readouterr().err


def test_cli_write_and_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "docs" / "isa.md"
    assert main(["isa", "--check", str(path)]) == 1  # missing
    assert main(["isa", "--write", str(path)]) == 0
    assert path.read_text(encoding="utf-8") == render(load())
    assert [p.name for p in path.parent.iterdir()] == ["isa.md"]  # no temp file left
    assert main(["isa", "--check", str(path)]) == 0
    capsys.readouterr()
    path.write_text(render(load()).replace("Pseudo", "pseudo", 1), encoding="utf-8")
    assert main(["isa", "--check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "stale" in err and f"pearray isa --write {path}" in err and len(err.splitlines()) == 1


def test_cli_check_committed_copy() -> None:
    assert main(["isa", "--check", str(DOC)]) == 0, f"docs/isa.md is stale: run `{REGEN}`"
