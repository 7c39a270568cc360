"""Hostile sizes: expansion bombs, very long lines, very long data lines (issue 13).

Each reproducer must end in a clear error (or the right program) quickly and in
bounded memory; the timings themselves are in bench/bench_asm_limits.py.
"""

from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pearray.asm import AsmError, assembler, macros
from pearray.asm.assembler import run


def _error(text: str) -> str:
    result = run(text, "big.s", ())
    assert result.program is None
    errors = [d for d in result.diagnostics if d.severity == "error"]
    assert errors
    return errors[0].render()


def _peak(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_nested_rept_of_nothing_is_capped() -> None:
    # about 10**12 empty repetitions: capped by repetitions, not by lines produced
    msg = _error(".rept 999999\n.rept 999999\n.endr\n.endr\nnop\n")
    assert "too many repetitions" in msg and "big.s:2:1" in msg


def test_macro_bomb_of_nothing_is_capped() -> None:
    # 31 macros each calling the next twice, an empty leaf: 2**31 calls
    text = ".macro m0\n.endm\n" + "".join(
        f".macro m{i}\n    m{i - 1}\n    m{i - 1}\n.endm\n" for i in range(1, 32)) + "m31\n"
    msg = _error(text)
    assert f"too many macro calls: more than {macros.MAX_CALLS:,}" in msg
    assert "note: in expansion of macro 'm30'" in msg


def test_repetitions_that_produce_lines_are_capped_by_lines(monkeypatch) -> None:
    monkeypatch.setattr(macros, "MAX_LINES", 5000)
    msg = _error(".rept 100\n.rept 100\nnop\n.endr\n.endr\n")
    assert "program too large: more than 5,000 lines" in msg


def test_a_long_line_is_an_error_in_bounded_memory() -> None:
    text = "nop " + "x" * 40_000_000 + "\n"
    msgs = []
    peak = _peak(lambda: msgs.append(_error(text)))
    assert "line too long (40,000,004 characters; at most 1,048,576" in msgs[0]
    assert peak < 4 * len(text), f"{peak / 1e6:.0f} MB for a {len(text) / 1e6:.0f} MB line"


def test_a_long_macro_call_line_is_an_error() -> None:
    msg = _error(".macro m a\n.endm\nm " + "1" * (macros.MAX_LINE + 1) + "\n")
    assert "line too long" in msg and "big.s:3:1" in msg


def test_a_long_data_line_gives_the_same_bytes_as_separate_lines() -> None:
    values = [(i * 7919) % 256 - 128 for i in range(100_000)]
    one = ".data\n.byte " + ", ".join(map(str, values)) + "\n"
    many = ".data\n" + "".join(f".byte {v}\n" for v in values)
    a = run(one, "one.s", ()).program
    b = run(many, "many.s", ()).program
    assert a.segments[0].data == b.segments[0].data == bytes(v & 255 for v in values)
    peak_one = _peak(lambda: run(one, "one.s", ()))
    peak_many = _peak(lambda: run(many, "many.s", ()))
    assert peak_one <= peak_many, (peak_one, peak_many)


def test_a_long_data_line_reports_at_the_right_column() -> None:
    head = ".data\n.word " + "1, " * 2000
    msg = _error(head + "70000000000, 2\n")
    col = len(head) - len(".data\n") + 1
    assert f"big.s:2:{col}: error: value 70000000000 does not fit .word" in msg
    msg = _error(head + "nowhere + 1\n")
    assert f"big.s:2:{col}: error: undefined symbol 'nowhere'" in msg
    msg = _error(head + "1 +\n")
    assert f"big.s:2:{col + 3}: error: unexpected end of line" in msg


def test_a_long_data_line_inside_a_macro_maps_back_to_the_body() -> None:
    body = ", ".join(["\\v"] * 600)
    text = f".macro fill v\n.data\n.byte {body}\n.endm\nfill 300\n"
    msg = _error(text)
    assert "big.s:3:7: error: value 300 does not fit .byte" in msg
    assert "note: in expansion of macro 'fill' at big.s:5:1" in msg


def test_a_long_data_line_takes_labels_strings_and_forward_symbols() -> None:
    one_of_each = ["(end - start) & 255", '"ab,c"', "'x'", "0x10", "-0b1", "1_000 & 0xff"]
    items = ", ".join(one_of_each * 200)
    prog = run(f".data\nstart: .byte {items}\nend:\n", "s.s", ()).program
    n = 200 * (1 + 4 + 1 + 1 + 1 + 1)
    one = bytes([n & 255]) + b"ab,c" + b"x" + bytes([0x10, 0xFF, 1000 & 0xFF])
    assert prog.segments[0].data == one * 200
    assert prog.symbols["end"] - prog.symbols["start"] == n


_OPERANDS = st.sampled_from([
    "0", "1", "-1", "255", "256", "-129", "0x7f", "0XfF", "0b101", "0o17", "007", "1_0",
    "- 5", "--5", "'a'", "'\\n'", "'\\q'", '"hi"', '"a,b"', '"\\x41"', '"\\q"', "x", "x + 1",
    "later", "1b", "(2)", "2 * (3", "", " ", "r1", "1 2", "0x", "99999999999999999999999",
    ".", "1 << 70", "3 # comment",
])


@given(st.lists(_OPERANDS, min_size=1, max_size=12), st.sampled_from([".byte", ".half",
                                                                         ".word", ".ascii"]))
def test_streaming_a_data_line_agrees_with_parsing_it(ops, head) -> None:
    text = f".data\n.equ x, 3\n1: {head} {', '.join(ops)}\nlater:\n"
    normal = run(text, "d.s", ())
    with pytest.MonkeyPatch.context() as m:
        m.setattr(assembler, "LONG_LINE", 0)  # every data line streamed
        streamed = run(text, "d.s", ())
    assert (normal.program is None) == (streamed.program is None), (
        [d.render() for d in normal.diagnostics], [d.render() for d in streamed.diagnostics])
    if normal.program is not None:
        assert [s.data for s in normal.program.segments] == \
            [s.data for s in streamed.program.segments]
    else:
        first = next(d for d in normal.diagnostics if d.severity == "error").where
        assert first in {d.where for d in streamed.diagnostics}


def test_errors_do_not_escape_as_anything_else() -> None:
    with pytest.raises(AsmError):
        assembler.assemble(".data\n.byte " + ", ".join(["1"] * 1000) + ", )\n")
