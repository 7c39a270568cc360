"""The emulator's code generator: each instruction's C is specialised to the lane width
of its row of [granularities], and a width the lane helpers cannot take is an error at
generation, never a core that silently computes something else."""

from __future__ import annotations

import re

import pytest

from pearray.emu import codegen
from pearray.isa import load, parse
from pearray.isa.spec import default_path


def test_each_function_is_specialised_to_its_width() -> None:
    isa = load()
    text = codegen.functions(isa)
    for insn in isa.insns:
        m = re.search(rf"OP_FN\(x_{codegen.c_name(insn)}\) {{\n    const int W = (\d+);", text)
        assert m, insn.key
        assert int(m[1]) == (isa.granules[insn.g].bits if insn.g else 32), insn.key
        if insn.lane is not None:
            imm = int(insn.format in ("SH", "I", "IU"))
            assert f"LANE_LOOP(W, {imm}, {insn.lane});" in text, insn.key


def test_narrowing_at_the_word_width_is_refused_at_generation() -> None:
    """packs at every width would need 64-bit source lanes for .w: the generator says so."""
    text = default_path().read_text()
    bad = text.replace('name = "packs"\ng = "subword"', 'name = "packs"\ng = "all"', 1)
    assert bad != text
    isa = parse(bad)  # the table itself is consistent: no overlap, codes fit
    with pytest.raises(ValueError, match=r"packs\.w: narrowing or widening at 32 bits"):
        codegen.generate(isa)


def test_a_width_outside_the_table_is_refused() -> None:
    isa = load()
    insn = isa.by_key["add.b"]
    stray = type(insn)(**{**insn.__dict__, "g": "q", "key": "add.q"})
    with pytest.raises(ValueError, match=r"add\.q: \.q is not a 8-bit row"):
        codegen.lane_width(isa, stray)
