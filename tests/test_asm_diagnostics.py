"""The shape of diagnostics: position, excerpt, caret, help, notes, order, limits."""

from __future__ import annotations

import pytest

from pearray.asm import AsmError, assemble
from pearray.asm import diagnostics as D


def _errors(text: str, filename: str = "f.s") -> AsmError:
    with pytest.raises(AsmError) as info:
        assemble(text, filename)
    return info.value


def test_render_exactly() -> None:
    err = _errors("        nop\n        lw r1, r2\n")
    assert err.render() == (
        "f.s:2:16: error: expected 'off12(rs)', got register r2\n"
        "    2 |         lw r1, r2\n"
        "      |                ^~\n"
        "      = expected one of: lw rd, off12(rs) | lw rd, (rs)+off12\n"
        "1 error"
    )


def test_caret_keeps_tabs_aligned() -> None:
    text = "\tadd.w\tr1, r2, 99\n"
    lines = _errors(text).diagnostics[0].render().splitlines()
    assert lines[1].endswith("\tadd.w\tr1, r2, 99")
    assert lines[2] == "      | \t     \t        ^~"


def test_every_error_at_once_in_source_order() -> None:
    text = "j nowhere\nadd r1, r2, r3\n.wrod 1\nbeq r0, r0, missing\n"
    err = _errors(text)
    assert [d.where[1] for d in err.diagnostics] == [1, 2, 3, 4]
    assert str(err).endswith("4 errors")


def test_macro_argument_error_points_at_the_parameter_and_the_call() -> None:
    text = (".macro set reg, value\n"
            "        addi \\reg, r0, \\value\n"
            ".endm\n"
            "        set r1, 70000\n")
    d = _errors(text).diagnostics[0]
    assert d.where == ("f.s", 2, 24)  # the `\value` in the body
    rendered = d.render().splitlines()
    assert rendered[2].index("^") == rendered[1].index("\\value")
    assert rendered[-1] == "note: in expansion of macro 'set' at f.s:4:9"


def test_include_note(tmp_path) -> None:
    (tmp_path / "helper.s").write_text("        halt 1\n")
    main = tmp_path / "main.s"
    main.write_text('nop\n.include "helper.s"\n')
    d = _errors(main.read_text(), str(main)).diagnostics[0]
    assert d.where == (str(tmp_path / "helper.s"), 1, 14)
    assert d.render().splitlines()[-1] == f"note: included from {main}:2"


def test_duplicate_names_the_first_definition() -> None:
    rendered = _errors("a: nop\n\na: nop\n").diagnostics[0].render()
    assert "f.s:3:1: error: duplicate symbol 'a'" in rendered
    assert rendered.splitlines()[-1] == "f.s:1: note: 'a' first defined here"


def test_did_you_mean_for_symbols_and_mnemonics() -> None:
    err = _errors("counter: nop\nj countr\nhlt\n")
    assert err.diagnostics[0].help == ("did you mean 'counter'?",)
    assert "'halt'" in err.diagnostics[1].help[0]


def test_suggestions_include_macros() -> None:
    err = _errors(".macro push_all\nnop\n.endm\npush_al\n")
    assert "did you mean 'push_all'?" in err.diagnostics[0].help


def test_control_characters_do_not_break_the_excerpt() -> None:
    rendered = _errors("nop\x00\x1b[31m\n").render()
    assert "\x00" not in rendered and "\x1b" not in rendered
    assert "U+0000" in rendered


def test_long_lines_are_windowed() -> None:
    text = "addi r1, r0, " + "1 + " * 200 + "r3\n"
    rendered = _errors(text).diagnostics[0].render().splitlines()
    assert len(rendered[1]) < 200
    assert rendered[2].index("^") == rendered[1].index("r3")


def test_too_many_errors_stop(monkeypatch) -> None:
    monkeypatch.setattr(D, "MAX_ERRORS", 10)
    err = _errors("bad\n" * 50)
    assert len(err.diagnostics) == 11
    assert err.diagnostics[-1].message == "too many errors (10); stopping"


def test_repeated_lines_report_once() -> None:
    err = _errors(".rept 100\n        addi r1, r0, 99999\n.endr\n")
    assert len(err.diagnostics) == 1
