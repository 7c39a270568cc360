"""docs/asm.md is what asm/docgen.py makes of the directive list, the table and the limits."""

from __future__ import annotations

import re
from pathlib import Path

from pearray.asm import docgen
from pearray.asm.assembler import Assembler
from pearray.asm.directives import DIRECTIVES, NAMES, PRE

DOC = Path(__file__).resolve().parent.parent / "docs" / "asm.md"


def test_the_reference_is_up_to_date() -> None:
    assert DOC.is_file(), f"docs/asm.md is missing: run `{docgen.COMMAND}`"
    assert DOC.read_text(encoding="utf-8") == docgen.render(), \
        f"docs/asm.md is stale: run `{docgen.COMMAND}` and commit it"


def test_every_directive_is_documented_and_handled() -> None:
    text = docgen.render()
    for d in DIRECTIVES:
        assert f"| `{d.name}` |" in text
    asm = Assembler("x.s", ())
    assert set(asm.directives) | PRE == set(NAMES)  # one list: the assembler's or the
    assert not set(asm.directives) & PRE            # preprocessor's, never both


def test_the_predefined_symbols_are_the_assemblers() -> None:
    asm = Assembler("x.s", ())
    machine = {n: s.value for n, s in asm.symbols.items() if s.kind == "machine"}
    documented = dict(re.findall(r"\| `([A-Z_]+)` \| `0x[0-9a-f]+` \((\d+)\) \|", docgen.render()))
    assert {n: int(v) for n, v in documented.items()} == machine


def test_main_writes_the_file(tmp_path) -> None:
    out = tmp_path / "sub" / "asm.md"
    assert docgen.main([str(out)]) == 0
    assert out.read_text(encoding="utf-8") == docgen.render()
