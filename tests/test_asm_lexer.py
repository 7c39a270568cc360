"""The Pygments lexer: generated from the table, clean on real sources, installed."""

from __future__ import annotations

import io
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from pygments.lexers import get_lexer_by_name
from pygments.token import Comment, Error, Keyword, Name, Number, String

from pearray.asm.directives import NAMES
from pearray.asm.lexer import PearrayLexer, colour, colour_listing, wants_colour
from pearray.isa import load

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted([*ROOT.glob("kernels/*.s"), *ROOT.glob("kernels/*.inc"),
                  *ROOT.glob("tests/asm_cases/ok_*.s"), *ROOT.glob("asm/examples/*.s")])


def _tokens(text: str) -> list:
    return [(t, v) for t, v in PearrayLexer().get_tokens(text) if v.strip()]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_error_tokens_in_real_sources(path) -> None:
    bad = [(t, v) for t, v in PearrayLexer().get_tokens(path.read_text()) if t in Error]
    assert not bad


def test_there_are_sources_to_check() -> None:
    assert len([p for p in SOURCES if p.parent.name == "kernels"]) >= 4
    assert len(SOURCES) > 30


def test_every_mnemonic_and_suffix_of_the_table_is_a_keyword() -> None:
    isa = load()
    for spelled in {i.spelled for i in isa.insns} | {p.name for p in isa.pseudos}:
        assert _tokens(f"{spelled} r1\n")[0] == (Keyword, spelled)
    assert _tokens("add.q r1\n")[0] == (Name.Function, "add.q")  # not a suffix: a macro


def test_directives_registers_enums_numbers_strings_parameters() -> None:
    for name in NAMES:
        assert _tokens(f"{name} 1\n")[0] == (Keyword, name)
    isa = load()
    for members in isa.enums.values():
        for name in members:
            assert (Name.Constant, name) in _tokens(f"mfs r1, {name}\n")
    toks = _tokens('lbl: li r15, LM_BASE + 0x1f # note\n.ascii "a\\n"\n    add.w \\d, \\a, 1b\n')
    assert toks[0] == (Name.Label, "lbl")
    assert (Name.Builtin, "r15") in toks and (Name.Builtin.Pseudo, "LM_BASE") in toks
    assert (Number.Hex, "0x1f") in toks and (Comment.Single, "# note") in toks
    assert (String.Escape, "\\n") in toks
    assert (Name.Variable.Magic, "\\d") in toks and (Name.Label, "1b") in toks


def test_a_bad_escape_is_an_error_token() -> None:
    assert (Error, "\\q") in _tokens('.ascii "a\\q"\n')


def test_the_installed_entry_point_resolves() -> None:
    found = [ep for ep in entry_points(group="pygments.lexers") if ep.name == "pearray"]
    assert found and found[0].load() is PearrayLexer
    assert type(get_lexer_by_name("pearray")) is PearrayLexer


def test_pygmentize_uses_it(tmp_path) -> None:
    src = tmp_path / "k.s"
    src.write_text("loop: addi r1, r1, -1  # count\n")
    script = Path(sys.executable).with_name("pygmentize")
    if not script.exists():
        pytest.skip("pygmentize is not installed beside this Python")
    out = subprocess.run([str(script), "-l", "pearray", "-f", "raw", str(src)],
                         capture_output=True, text=True, check=True).stdout
    assert "Token.Name.Label\t'loop'" in out and "Token.Keyword\t'addi'" in out


def test_colour_keeps_the_text() -> None:
    text = (ROOT / "kernels" / "conv.s").read_text()
    coloured = colour(text)
    assert "\x1b[" in coloured
    assert _strip(coloured) == text
    rows = ["address   word      source", "00000000  f0000000  > nop  # x"]
    assert [_strip(r) for r in colour_listing(rows)] == rows


def _strip(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_when_to_colour(monkeypatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TERM", raising=False)
    assert wants_colour("auto", _Tty()) and not wants_colour("auto", io.StringIO())
    assert wants_colour("always", io.StringIO()) and not wants_colour("never", _Tty())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not wants_colour("auto", _Tty()) and wants_colour("always", _Tty())
    monkeypatch.setenv("NO_COLOR", "")  # empty: not set (no-color.org)
    assert wants_colour("auto", _Tty())
