"""The assembler's API and program layout: images, line maps, listing, cache, grammar."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pearray.asm import AsmError, assemble, disassemble
from pearray.asm import assembler as A
from pearray.asm.grammar import grammar_text, parser
from pearray.asm.templates import templates
from pearray.isa import load, parse

EXAMPLE = Path(__file__).resolve().parent.parent / "asm" / "examples" / "dot.s"


def test_line_map_points_at_source_lines() -> None:
    prog = assemble("nop\n\n  li r1, 0x12345678\nhalt\n", "p.s")
    assert prog.files == ["p.s"]
    assert prog.images[0].lines == [(0, 1), (0, 3), (0, 3), (0, 4)]
    assert prog.source_of(prog.images[0], 8) == ("p.s", 3)


def test_included_files_get_their_own_index(tmp_path) -> None:
    (tmp_path / "inc.s").write_text("halt\n")
    main = tmp_path / "m.s"
    main.write_text('nop\n.include "inc.s"\n')
    prog = assemble(main.read_text(), str(main))
    assert prog.files == [str(main), str(tmp_path / "inc.s")]
    assert prog.images[0].lines == [(0, 1), (1, 1)]


def test_images_per_selection_and_continued_counters() -> None:
    prog = assemble("nop\n.pe 1,2\nhalt\n.pe all\nsync\n.pe 1,2\nnop\n")
    assert [str(im.pes) for im in prog.images] == ["all", "1,2"]
    assert [len(im.words) for im in prog.images] == [2, 2]


def test_local_and_assembler_private_symbols_stay_out_of_the_table() -> None:
    prog = assemble("1: nop\n.Lhidden: nop\nseen: j 1b\n")
    assert prog.symbols == {"seen": 8}


def test_listing_shows_expansions_and_data() -> None:
    prog = assemble("li r1, 0x12345678\nmv r2, r1\n.data\nx: .word 5\n")
    text = "\n".join(prog.listing)
    assert "lui r1, 0x12345" in text and "ori r1, r1, 0x678" in text
    assert "addi r2, r1, 0" in text and "# mv r2, r1" in text
    assert "80000000  05 00 00 00" in text


def test_code_that_does_not_fit_instruction_memory() -> None:
    words = load().machine["imem_words"]
    with pytest.raises(AsmError) as info:
        assemble(f".rept {words + 1}\nnop\n.endr\n")
    assert "does not fit instruction memory" in info.value.render()
    assert len(info.value.diagnostics) == 1


def test_the_bundled_example_assembles() -> None:
    prog = assemble(EXAMPLE.read_text(), str(EXAMPLE))
    assert [str(im.pes) for im in prog.images] == ["all"]
    assert {"vec_a", "vec_b", "partial", "result"} <= set(prog.symbols)
    assert list(assemble(disassemble(prog)).images[0].words) == list(prog.images[0].words)


def test_reassembly_is_cached_and_returns_copies() -> None:
    text = "".join(f"addi r1, r1, {i}\n" for i in range(3000))
    t0 = time.perf_counter()
    first = assemble(text)
    cold = time.perf_counter() - t0
    first.images[0].words[0] = 0
    first.symbols["x"] = 1
    t0 = time.perf_counter()
    second = assemble(text)
    warm = time.perf_counter() - t0
    assert second.images[0].words[0] != 0 and "x" not in second.symbols
    assert warm < cold / 5


def test_cache_sees_changed_includes(tmp_path) -> None:
    inc = tmp_path / "k.s"
    inc.write_text(".equ K, 1\n")
    main = tmp_path / "m.s"
    main.write_text('.include "k.s"\naddi r1, r0, K\n')
    assert assemble(main.read_text(), str(main)).images[0].words[0] & 0xFFFF == 1
    inc.write_text(".equ K, 2\n")
    assert assemble(main.read_text(), str(main)).images[0].words[0] & 0xFFFF == 2


def test_errors_are_cached_too() -> None:
    for _ in range(2):
        with pytest.raises(AsmError):
            assemble("add r1, r2, r3\n")


def test_grammar_is_generated_from_the_table() -> None:
    """A new operand form in the table reaches the parser with no change to the assembler."""
    from pearray.isa.spec import default_path
    source = default_path().read_text()
    source += ('\n[[insn]]\nname = "ldx"\nformat = "R"\nsyntax = "{rd}, [{rs}+{rt}]"\n'
               'fixed = { op = 62, fn = 0 }\nbody = ";"\ndoc = "test"\n')
    isa = parse(source)
    t = templates(isa)
    grammar = grammar_text(t)
    assert "LSQB REG PLUS REG RSQB" in grammar
    labels, stmt = parser(t).parse("x: ldx r1, [r2+r3]")
    assert labels[0][0] == "x" and str(stmt[1]) == "ldx"
    assert "ldx" in t.forms and t.forms["ldx"][0].text == "ldx rd, [rs+rt]"


def test_run_without_cache_matches_assemble() -> None:
    text = EXAMPLE.read_text()
    result = A.run(text, "dot.s", ())
    assert list(result.program.images[0].words) == list(assemble(text, "dot.s").images[0].words)


def test_listing_has_a_file_column_and_expansions_under_their_line(tmp_path) -> None:
    (tmp_path / "lib.inc").write_text(".macro twice r\n    addi \\r, \\r, 1\n    inner \\r\n"
                                      ".endm\n.macro inner r\n    add.w \\r, \\r, \\r\n.endm\n")
    main = tmp_path / "main.s"
    main.write_text('.include "lib.inc"\n    twice r1\n.rept 2\n    nop\n.endr\n'
                    ".irp x, 3, 4\n    addi r2, r2, \\x\n.endr\n    halt\n")
    rows = assemble(main.read_text(), str(main), listing=True).listing
    assert rows[0].split() == ["address", "word", "cyc", "where", "source"]
    lines = [r for r in rows if "main.s" in r or "lib.inc" in r]
    assert [r.split("  ")[-1].strip() for r in lines] == [
        "twice r1", "> addi r1, r1, 1", "> inner r1", ">> add.w r1, r1, r1",
        ".rept 2", "> nop", "> nop", ".irp x, 3, 4", "> addi r2, r2, 3", "> addi r2, r2, 4",
        "halt"]
    assert "main.s:2" in lines[0] and "lib.inc:2" in lines[1] and "lib.inc:6" in lines[3]
    assert lines[0].startswith("00000000") and lines[4].startswith("00000008")


def test_listing_marks_the_memory_part_of_a_cost() -> None:
    prog = assemble("lw r1, 0(r2)\nsw r1, (r3)+4\nmacl.b r4, (r5)+, (r6)+\nadd.w r1, r1, r1\n"
                    "dma r1, r2, r3\n", listing=True)
    costs = [r.split()[2] for r in prog.listing[2:]]
    assert costs == ["1+m", "1+m", "1+2m", "1", "1"]


def test_listing_cost_comes_from_the_table_class() -> None:
    from pearray.asm.listing import cost

    for insn in load().insns:  # by class, whatever the mnemonic
        assert cost(insn).startswith(str(insn.cycles))
        assert cost(insn).endswith("m") == (insn.cls == "mem"), insn.key


def test_listing_is_made_when_first_asked_for() -> None:
    prog = assemble("nop\nhalt\n")
    assert not prog.has_listing
    assert prog.listing[2].split()[:3] == ["00000000", "f0000000", "1"]
    assert prog.has_listing
