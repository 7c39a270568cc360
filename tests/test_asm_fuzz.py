"""No input, however malformed, escapes as anything but AsmError.

Random text, random bytes, and a token soup drawn from the assembler's own
vocabulary (to get past the parser into macros, directives and pass 2).
Whatever assembles must also disassemble and reassemble to the same words.
"""

from __future__ import annotations

import pytest
from conftest import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pearray.asm import AsmError, assemble, disassemble, macros
from pearray.asm.templates import templates

FUZZ = settings(deadline=None, max_examples=examples(5),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

_T = templates()
_VOCAB = (
    sorted(_T.forms) + [m for m in _T.suffixes]
    + [f"r{i}" for i in range(17)] + ["n", "e", "s", "w", "row", "lfsr", "all"]
    + [".text", ".data", ".sdata", ".ldata", ".pe", ".org", ".align", ".space", ".word",
       ".half", ".byte", ".equ", ".macro", ".endm", ".rept", ".endr", ".include", ".foo"]
    + [",", ",", ",", "(", ")", "+", "-", "*", "/", "%", "<<", ">>", "&", "|", "^", "~",
       ":", ".", "#", '"', "'", "\\", "\\x", "\\@", "=", ";", "$"]
    + ["0", "1", "4", "-1", "0x10", "0b101", "'a'", "99999999999999999999999", "1b", "1f",
       "65536", "8192", "3:", "1:", "1" * 5000, "1" * 5000 + "b"]
    + ["x", "x:", "loop", "loop:", "N", "m", '"nofile.s"', "\n", "\n", "\n", "\n", " ", "\t"]
)


@pytest.fixture(autouse=True)
def _small_limits(monkeypatch):
    monkeypatch.setattr(macros, "MAX_LINES", 20_000)  # keep `.rept` bombs quick


def _check(text: str) -> None:
    try:
        prog = assemble(text, "fuzz.s")
    except AsmError as exc:
        assert exc.diagnostics
        for d in exc.diagnostics:
            assert not d.message.startswith("internal error"), d.render()
            d.render()
            if d.line is not None:
                assert d.where[1] >= 1 and d.where[2] >= 1
        return
    for im in prog.images:  # what assembles, round-trips
        assert list(assemble(disassemble(list(im.words))).images[0].words) == list(im.words) \
            if len(im.words) else True


@FUZZ
@given(st.text(max_size=300))
def test_random_text(text) -> None:
    _check(text)


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes(blob) -> None:
    _check(blob.decode("latin-1"))
    _check(blob.decode("utf-8", errors="replace"))


@FUZZ
@given(st.lists(st.sampled_from(_VOCAB), max_size=60))
def test_token_soup(tokens) -> None:
    _check(" ".join(tokens))


@FUZZ
@given(st.lists(st.sampled_from(_VOCAB), max_size=60))
def test_token_soup_without_spaces(tokens) -> None:
    _check("".join(tokens))


@pytest.mark.parametrize("text", [
    "addi r1, r0, " + "(" * 5000 + "1" + ")" * 5000,
    ".equ x, 1\naddi r1, r0, " + "-" * 5000 + "x",
    ".equ x, 1\naddi r1, r0, " + "+".join(["x"] * 5000),
    "addi r1, r0, " + "9" * 5000,
    ".macro m\nm\nm\n.endm\nm\n",
    ".rept 1000\n.rept 1000\n.rept 1000\nnop\n.endr\n.endr\n.endr\n",
    "\n".join(f".equ e{i}, e{i + 1} + 1" for i in range(2000)) + "\n.equ e2000, 0\n",
    ".equ a, b\n.equ b, c\n.equ c, a\nli r1, a\n",
    ".space 0xffffffff\n",
    ".data\n.org 0xffffffff\n.word 1\n",
    ".pe 255,255\nnop\n",
    "\x00" * 1000,
    "j " + "1" * 5000 + "b",
    "1" * 5000 + ": nop",
    "lw r1, " + "7" * 5000 + "(r2)",
    ".byte '\\777'",
    "\ufeffnop\n",
])
def test_pathological_inputs(text) -> None:
    _check(text)


def test_recursive_includes_through_two_files(tmp_path) -> None:
    (tmp_path / "a.s").write_text('.include "b.s"\n')
    (tmp_path / "b.s").write_text('.include "a.s"\n')
    with pytest.raises(AsmError) as info:
        assemble((tmp_path / "a.s").read_text(), str(tmp_path / "a.s"))
    assert "recursive .include" in info.value.render()
