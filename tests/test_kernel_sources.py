"""The kernel sources' own checks: `.assert` preconditions and `.if` width arms.

The launches (kernels/launch.py) choose the flags; the sources check what they
rely on, so a wrong key is an assembly error that names the broken
precondition instead of a program with no arm taken.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pearray.asm import AsmError, assemble, disassemble
from pearray.kernels.launch import width_flags

KERNELS = Path(__file__).resolve().parent.parent / "kernels"
VARIANTS = {"conv": {"STOCH": 0, "RELU": 1, "CLIP": 0},
            "eltwise": {"ONE": 0, "STOCH": 0, "RELU": 0, "CLIP": 0}, "pool": {"AVG": 0}}


def _assemble(kernel: str, flags: dict[str, int]):
    text = "".join(f".equ {k}, {v}\n" for k, v in sorted(flags.items()))
    return assemble(text + f'.include "{kernel}.s"\n', f"<{kernel}>", [str(KERNELS)])


@pytest.mark.parametrize("kernel", sorted(VARIANTS))
def test_a_key_without_a_width_arm_is_refused_by_name(kernel) -> None:
    flags = {**width_flags(8, "IN"), **width_flags(8, "OUT"), **VARIANTS[kernel]}
    _assemble(kernel, flags)
    with pytest.raises(AsmError) as info:
        _assemble(kernel, {**flags, "IN8": 0})
    assert "assertion failed: width.inc: exactly one of IN4, IN8, IN16, IN32 must be 1" in \
        info.value.render()
    with pytest.raises(AsmError) as info:
        _assemble(kernel, {**flags, "OUT16": 1})
    assert "exactly one of OUT4, OUT8, OUT16, OUT32 must be 1" in info.value.render()


@pytest.mark.parametrize("kernel", sorted(VARIANTS))
def test_the_lm_map_starts_at_lm_base_and_fits(kernel) -> None:
    text = (KERNELS / f"{kernel}.s").read_text()
    assert re.search(r"^\.equ HDR, LM_BASE\b", text, re.M)
    assert f'.assert LMFREE <= LM_BASE + LM_SIZE, "{kernel}.s:' in text
    assert not re.search(r"^\s*\.rept\s+[^\d\s]", text, re.M)  # flags take .if, not .rept


@pytest.mark.parametrize("bits, g", [(4, "n"), (8, "b"), (16, "h"), (32, "w")])
def test_the_input_width_takes_one_arm(bits, g) -> None:
    flags = {**width_flags(bits, "IN"), **width_flags(8, "OUT"), **VARIANTS["conv"]}
    text = disassemble(_assemble("conv", flags))
    suffixes = set(re.findall(r"\bmacl\.(\w)\b", text))
    assert suffixes == {g}
