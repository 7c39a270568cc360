"""Round trips: encode/decode, the documented syntax, disassembly, the container.

For every instruction in the table, random operand values in range must
encode and decode to themselves; the instruction written in its documented
syntax (filled in here, independently of the disassembler) must assemble to
the same word; and the disassembler's text must assemble back to that word.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pearray.asm import assemble, disassemble
from pearray.asm.disasm import decode
from pearray.asm.program import Image, Program, Segment, Selection
from pearray.isa import load

ISA = load()
SETTINGS = settings(deadline=None, max_examples=examples(1 / 3),
                    suppress_health_check=[HealthCheck.too_slow])


def _values(insn) -> st.SearchStrategy[dict[str, int]]:
    parts = {}
    for name in insn.operands:
        f = ISA.fields[name]
        if f.kind == "enum":
            parts[name] = st.sampled_from(sorted(ISA.enums[f.enum].values()))
        else:
            lo, hi = ISA.operand_range(insn, name)
            parts[name] = st.integers(-(-lo // f.scale), hi // f.scale).map(
                lambda v, s=f.scale: v * s)
    return st.fixed_dictionaries(parts)


def _write(insn, values: dict[str, int]) -> str:
    """The instruction in the table's syntax, filled in by hand (pc 0: targets = offsets)."""
    def field(m: re.Match) -> str:
        name = m.group(1)
        f = ISA.fields[name]
        v = values[name]
        if f.kind == "reg":
            return f"r{v}"
        if f.kind == "enum":
            return ISA.enum_name(name, v)
        return str(v)
    operands = re.sub(r"{(\w+)}", field, insn.syntax)
    return f"{insn.spelled} {operands}"


def _extremes(insn) -> list[dict[str, int]]:
    lows, highs = {}, {}
    for name in insn.operands:
        f = ISA.fields[name]
        if f.kind == "enum":
            vals = sorted(ISA.enums[f.enum].values())
            lows[name], highs[name] = vals[0], vals[-1]
        else:
            lo, hi = ISA.operand_range(insn, name)
            lows[name], highs[name] = -(-lo // f.scale) * f.scale, hi // f.scale * f.scale
    return [lows, highs]


@pytest.mark.parametrize("insn", ISA.insns, ids=lambda i: i.key)
def test_every_instruction_at_its_extremes(insn) -> None:
    for values in _extremes(insn):
        word = ISA.encode(insn, values)
        assert ISA.decode(word) == (insn, values)
        assert list(assemble(_write(insn, values)).images[0].words) == [word]
        assert list(assemble(disassemble([word])).images[0].words) == [word]


@pytest.mark.parametrize("insn", ISA.insns, ids=lambda i: i.key)
@SETTINGS
@given(data=st.data())
def test_every_instruction_random_operands(insn, data) -> None:
    values = data.draw(_values(insn))
    word = ISA.encode(insn, values)
    assert ISA.decode(word) == (insn, values)
    assert list(assemble(_write(insn, values)).images[0].words) == [word]
    assert list(assemble(disassemble([word])).images[0].words) == [word]


@settings(SETTINGS, max_examples=examples(50))
@given(st.integers(0, 0xFFFFFFFF))
def test_disassembler_decode_agrees_with_the_table(word) -> None:
    ours = decode(word)
    theirs = ISA.decode(word)
    assert (ours is None) == (theirs is None)
    if ours is not None:
        assert ours[0].insn is theirs[0] and ours[1] == theirs[1]


@pytest.mark.parametrize("insn", ISA.insns, ids=lambda i: i.key)
def test_disassembler_decodes_every_instruction(insn) -> None:
    for values in _extremes(insn):
        form, got = decode(ISA.encode(insn, values))
        assert form.insn is insn and got == values


@st.composite
def _word_lists(draw) -> list[int]:
    """Programs of valid instructions (branches often landing inside) and raw words."""
    n = draw(st.integers(1, 40))
    words = []
    for i in range(n):
        if draw(st.integers(0, 9)) == 0:
            words.append(draw(st.integers(0, 0xFFFFFFFF)))  # maybe illegal: a .word
            continue
        insn = draw(st.sampled_from(ISA.insns))
        values = draw(_values(insn))
        for name in insn.operands:
            f = ISA.fields[name]
            if f.kind == "pcrel" and draw(st.booleans()):
                values[name] = 4 * draw(st.integers(0, n - 1)) - 4 * i  # a target inside
        words.append(ISA.encode(insn, values))
    return words


@settings(SETTINGS, max_examples=examples(5 / 2))
@given(_word_lists())
def test_disassembly_of_a_program_reassembles(words) -> None:
    text = disassemble(words)
    assert list(assemble(text).images[0].words) == words


_selections = st.one_of(
    st.just(Selection()),
    st.tuples(st.integers(0, 15), st.integers(0, 15), st.integers(0, 15), st.integers(0, 15))
    .map(lambda t: Selection(min(t[0], t[1]), max(t[0], t[1]), min(t[2], t[3]),
                             max(t[2], t[3]))),
)


@st.composite
def _programs(draw) -> Program:
    """Any program the container can hold (docs/container.md): line maps name listed
    files, SM/GM data names no PEs, symbols are 64-bit integers."""
    files = draw(st.lists(st.text(max_size=10), min_size=1, max_size=3))
    images = []
    for _ in range(draw(st.integers(0, 3))):
        words = draw(st.lists(st.integers(0, 0xFFFFFFFF), max_size=20))
        lines = [(draw(st.integers(0, len(files) - 1)), draw(st.integers(0, 10**6)))
                 for _ in words]
        images.append(Image(draw(_selections), np.array(words, dtype=np.uint32), lines))
    segments = []
    for _ in range(draw(st.integers(0, 3))):
        region = draw(st.sampled_from(["lm", "sm", "gm"]))
        segments.append(Segment(region, draw(st.integers(0, 2**32 - 1)),
                                draw(st.binary(max_size=40)),
                                draw(_selections) if region == "lm" else Selection()))
    symbols = draw(st.dictionaries(st.text(min_size=1, max_size=8),
                                   st.integers(-2**63, 2**64 - 1), max_size=5))
    labels = {name: draw(st.integers(0, len(images) - 1)) for name in symbols
              if images and draw(st.booleans())}
    return Program(images, segments, symbols, files, draw(st.text(max_size=16)), labels)


@SETTINGS
@given(_programs())
def test_container_round_trip(prog) -> None:
    back = Program.from_bytes(prog.to_bytes())
    assert back.files == prog.files and back.isa == prog.isa and back.symbols == prog.symbols
    assert back.labels == prog.labels
    assert len(back.images) == len(prog.images)
    for a, b in zip(back.images, prog.images, strict=True):
        assert str(a.pes) == str(b.pes) and list(a.words) == list(b.words)
        assert a.lines == b.lines
    assert [(s.region, s.addr, s.data, str(s.pes)) for s in back.segments] == \
        [(s.region, s.addr, s.data, str(s.pes)) for s in prog.segments]


PROGRAM = """
.equ N, 8
.pe all
start:  li r1, table
        li r2, N
1:      lw r3, (r1)+4
        add.w r4, r4, r3
        addi r2, r2, -1
        bne r2, r0, 1b
        jal r15, sub
        halt
sub:    mfs r5, id
        send e, r5
        jr r15
.pe 0:1, 2:3
        recv r6, w
        loop r6, 2f
        nop
2:      halt
.data
table:  .word 1, 2, 3, 4, 5, 6, 7, 8
        .byte 9, 10, 11
.sdata
        .half 1, 2
.pe 3,3
.ldata
        .org 0x100
        .word 0xdeadbeef
"""


def test_assembled_program_survives_the_container() -> None:
    prog = assemble(PROGRAM)
    back = Program.from_bytes(prog.to_bytes())
    assert [list(im.words) for im in back.images] == [list(im.words) for im in prog.images]
    assert back.symbols == prog.symbols
    assert [(s.region, s.addr, s.data) for s in back.segments] == \
        [(s.region, s.addr, s.data) for s in prog.segments]


def test_whole_program_disassembly_reassembles() -> None:
    prog = assemble(PROGRAM)
    again = assemble(disassemble(prog))
    assert [str(im.pes) for im in again.images] == [str(im.pes) for im in prog.images]
    assert [list(im.words) for im in again.images] == [list(im.words) for im in prog.images]
    assert [(s.region, s.addr, s.data, str(s.pes)) for s in again.segments] == \
        [(s.region, s.addr, s.data, str(s.pes)) for s in prog.segments]
    assert again.symbols == prog.symbols


def test_disassembly_names_code_labels_and_targets() -> None:
    prog = assemble(PROGRAM)
    assert prog.labels == {"start": 0, "sub": 0}
    text = disassemble(prog)
    assert "start:\n    lui r1, 0x80000" in text
    assert "jal r15, sub " in text and "sub:\n    mfs r5, id" in text
    assert "bne r2, r0, .L0_000c" in text  # a local label: no name in the container
    assert ".equ start" not in text and ".equ sub" not in text and ".equ N, 8" in text
    again = assemble(text)
    assert again.symbols == prog.symbols and again.labels == prog.labels
    back = Program.from_bytes(prog.to_bytes())
    assert disassemble(back) == text  # the names come through the container


def test_a_container_whose_labels_do_not_match_is_refused() -> None:
    import json

    from pearray.asm.program import ContainerError

    prog = assemble(PROGRAM)
    for labels in ({"start": 5}, {"nosuch": 0}, {"start": -1}, {"start": "0"}, [1]):
        blob = bytearray(prog.to_bytes())
        meta = json.dumps({"isa": prog.isa, "files": prog.files, "labels": labels}).encode()
        start = blob.index(b"META") + 8
        old = int.from_bytes(blob[start - 4:start], "little")
        fixed = meta + b" " * (old - len(meta)) if len(meta) <= old else None
        if fixed is None:
            continue
        blob[start:start + old] = fixed
        with pytest.raises(ContainerError):
            Program.from_bytes(bytes(blob))
