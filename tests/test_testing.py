"""pearray.testing: the lane helpers, the strategies, and check_instruction both passing
(references written here with numpy) and failing (a wrong reference, a missed `sat`)."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from pearray.asm import assemble
from pearray.emu.machine import Machine
from pearray.testing import (
    check_instruction,
    instructions,
    join,
    lanes,
    programs,
    register_files,
    s32,
    split,
    widths,
    words,
)

NO_SHRINK = settings(parent=settings.default, phases=[Phase.explicit, Phase.reuse,
                                                      Phase.generate])


def test_widths_come_from_the_table() -> None:
    w = widths()
    assert {k: w[k] for k in ("b", "h", "w")} == {"b": 8, "h": 16, "w": 32}
    assert all(32 % v == 0 for v in w.values())


def test_split_and_join_by_hand() -> None:
    # ARCH.md §8: pack([1, 2, 3, -1, 0, 0, 0, -8], 4) == [0x8000F321]
    assert join([1, 2, 3, -1, 0, 0, 0, -8], 4) == 0x8000F321
    assert split(0x8000F321, 4).tolist() == [1, 2, 3, -1, 0, 0, 0, -8]
    assert split(0x8000F321, 8).tolist() == [0x21, -13, 0, -128]
    assert split(0x8000F321, 16, signed=False).tolist() == [0xF321, 0x8000]
    assert join([300, -1], 16) == 0xFFFF012C  # lanes wrap
    assert s32(0xFFFFFFFF) == -1 and s32(5) == 5
    with pytest.raises(ValueError, match="3 lanes of 8 bits"):
        join([1, 2, 3], 8)


@given(data=st.data())
def test_strategies_draw_what_they_say(data: st.DataObject) -> None:
    width = data.draw(st.sampled_from(sorted(set(widths().values()) | {4})))
    ls = data.draw(lanes(width))
    assert ls.shape == (32 // width,)
    assert ls.min() >= -(1 << (width - 1)) and ls.max() < 1 << (width - 1)
    assert split(join(ls, width), width).tolist() == ls.tolist()
    u = data.draw(lanes(width, signed=False))
    assert u.min() >= 0 and u.max() < 1 << width
    w = data.draw(words(width))
    assert 0 <= w <= 0xFFFFFFFF and join(split(w, width), width) == w
    regs = data.draw(register_files())
    assert len(regs) == 16 and regs[0] == 0 and all(0 <= r <= 0xFFFFFFFF for r in regs)


@given(text=programs(["add", "mac.b", "slli.h", "addi", "lui"], max_size=6))
def test_programs_assemble_and_halt(text: str) -> None:
    lines = text.splitlines()
    assert lines[-1].split() == ["halt"]
    assert {ln.split()[0].split(".")[0] for ln in lines[:-1]} <= {"add", "mac", "slli", "addi",
                                                                  "lui"}
    m = _machine()
    m.load(assemble(text))
    result = m.run(1000)
    assert result.status == "halted"
    assert result.pes[0].retired == len(lines)


@cache
def _machine() -> Machine:
    return Machine(2, 2, lm_size=4096, sm_size=4096, gm_size=4096)


def test_instructions_are_the_register_ones() -> None:
    keys = instructions()
    assert "add.b" in keys and "mac.w" in keys and "addi" in keys
    assert not {"lw", "sw", "beq", "mfs", "mts", "send", "halt", "nop"} & set(keys)
    assert instructions(["mac"]) == [k for k in keys if k.startswith("mac.")]
    with pytest.raises(ValueError, match="no instruction"):
        instructions(["frobnicate"])


# ---------------------------------------------------------------- references, by hand

def sat8(x: np.ndarray) -> tuple[np.ndarray, bool]:
    c = np.clip(x, -128, 127)
    return c, bool((c != x).any())


def test_check_instruction_passes_on_right_references() -> None:
    check_instruction("add.b", lambda rs, rt: join(split(rs, 8) + split(rt, 8), 8))
    check_instruction("sub.h", lambda rs, rt: join(split(rs, 16) - split(rt, 16), 16))
    check_instruction("max.w", lambda rs, rt: max(s32(rs), s32(rt)))
    check_instruction("mac.b", lambda rd, rs, rt: rd + int(split(rs, 8) @ split(rt, 8)))
    check_instruction("mac.n", lambda rd, rs, rt: rd + int(split(rs, 4) @ split(rt, 4)))
    check_instruction("add.n", lambda rs, rt: join(split(rs, 4) + split(rt, 4), 4))
    check_instruction("slli.h", lambda rs, sh: join(split(rs, 16) << sh, 16))
    check_instruction("addi", lambda rs, imm: rs + imm)
    check_instruction("lui", lambda imm20: imm20 << 12)
    check_instruction("xor", lambda rs, rt: rs ^ rt)

    def adds_b(rs: int, rt: int) -> dict[str, int]:
        c, flag = sat8(split(rs, 8) + split(rt, 8))
        return {"rd": join(c, 8), "sat": flag}

    check_instruction("adds.b", adds_b)


def test_check_instruction_fails_on_a_wrong_reference() -> None:
    with pytest.raises(AssertionError, match=r"sub\.b r\d+, r\d+, r\d+ with .*got 0x"):
        check_instruction("sub.b", lambda rs, rt: join(split(rs, 8) + split(rt, 8), 8),
                          settings=NO_SHRINK)


def test_check_instruction_fails_when_sat_is_missed() -> None:
    with pytest.raises(AssertionError, match="sat 1, want 0"):
        check_instruction("adds.b", lambda rs, rt: join(sat8(split(rs, 8) + split(rt, 8))[0], 8),
                          settings=NO_SHRINK)


def test_check_instruction_catches_a_stray_write() -> None:
    # the reference claims add.w leaves rd alone: the emulator's write is reported
    with pytest.raises(AssertionError, match="got 0x"):
        check_instruction("add.w", lambda rd: rd, settings=NO_SHRINK)


def test_check_instruction_refuses_what_it_cannot_check() -> None:
    with pytest.raises(ValueError, match="class mem"):
        check_instruction("lw", lambda rs: 0)
    with pytest.raises(ValueError, match=r"no instruction 'add\.q' .*there is add\.b"):
        check_instruction("add.q", lambda rs, rt: 0)
    with pytest.raises(ValueError, match=r"takes \['rx'\]"):
        check_instruction("add.b", lambda rs, rx: 0)
