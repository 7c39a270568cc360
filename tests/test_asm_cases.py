"""One small assembly file per feature or diagnostic, expectations written inline.

Each `tests/asm_cases/*.s` file is assembled and checked against comments on
its own lines (and on the lines of the files it includes):

    add.w r1, r2, r3      # = 0x06123000            words this line produced
    li r1, 0x12345678     # = 0x30112345, 0x28110678
    .word 7               # @0x80000000 = 0x00000007  a 32-bit word in data memory
    # sym NAME = 0x10                                  a symbol's value
    # images: all | 0,0                                the code images, in order
    lw r1, r2             # error: expected 'off12(rs)'   an error reported at this line
    bump r1               # note: in expansion of macro 'bump'
    .pe 0,0               # warning: never loaded

A file with `# error:` lines must fail with exactly those lines in error (each
message containing the text); a file without must assemble.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from pearray.asm import AsmError, assemble

CASES = Path(__file__).parent / "asm_cases"
_WORDS = re.compile(r"#\s*=\s*((?:0x[0-9a-fA-F]+\s*,?\s*)+)\s*$")
_MEM = re.compile(r"#\s*@(0x[0-9a-fA-F]+)\s*=\s*(0x[0-9a-fA-F]+)")
_SYM = re.compile(r"#\s*sym\s+(\S+)\s*=\s*(-?(?:0x[0-9a-fA-F]+|\d+))")
_IMAGES = re.compile(r"#\s*images:\s*(.*)$")
_DIAG = re.compile(r"#\s*(error|note|warning):\s*(.*?)\s*$")
_INCLUDE = re.compile(r'^\s*(?:[\w.$]+:\s*)*\.include\s+"([^"]+)"', re.M)


def _files(path: Path, seen: set[Path] | None = None) -> list[Path]:
    """The case file and every file it includes (for their annotations)."""
    seen = seen if seen is not None else set()
    if path in seen or not path.is_file():
        return []
    seen.add(path)
    out = [path]
    for name in _INCLUDE.findall(path.read_text()):
        out += _files((path.parent / name).resolve(), seen)
    return out


def _expectations(paths: list[Path]) -> dict:
    exp: dict = {"words": {}, "mem": {}, "sym": {}, "images": None, "diag": []}
    for path in paths:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            key = (str(path), n)
            if m := _WORDS.search(line):
                exp["words"][key] = [int(w, 16) for w in re.findall(r"0x[0-9a-fA-F]+", m[1])]
            for m in _MEM.finditer(line):
                exp["mem"][int(m[1], 16)] = int(m[2], 16)
            for m in _SYM.finditer(line):
                exp["sym"][m[1]] = int(m[2], 0)
            if m := _IMAGES.search(line):
                exp["images"] = [s.strip() for s in m[1].split("|")]
            for part in line.split("#")[1:]:
                if m := _DIAG.match("#" + part):
                    exp["diag"].append((m[1], key, m[2]))
    return exp


def _words_by_line(prog) -> dict:
    out: dict = {}
    for im in prog.images:
        for w, (f, n) in zip(im.words, im.lines, strict=True):
            out.setdefault((os.path.abspath(prog.files[f]), n), []).append(int(w))
    return out


def _word_at(prog, addr: int) -> int | None:
    for seg in prog.segments:
        if seg.addr <= addr and addr + 4 <= seg.addr + len(seg.data):
            return int.from_bytes(seg.data[addr - seg.addr:addr - seg.addr + 4], "little")
    return None


def _check_diag(kind: str, key: tuple[str, int], text: str, diags) -> None:
    file, line = key
    for d in diags:
        rendered = d.render().splitlines()
        if kind == "note":  # a note line naming this file:line (paths are absolute here)
            if any(text in r and f"{file}:{line}" in r for r in rendered if "note:" in r):
                return
            continue
        dfile, dline, _ = d.where
        said = "\n".join([d.message, *d.help])  # not the quoted source line
        if d.severity == kind and os.path.abspath(dfile) == file and dline == line \
                and text in said:
            return
    shown = "\n".join(d.render() for d in diags)
    raise AssertionError(f"no {kind} containing {text!r} at {file}:{line}; got:\n{shown}")


@pytest.mark.parametrize("case", sorted(CASES.glob("*.s")), ids=lambda p: p.stem)
def test_case(case: Path) -> None:
    paths = _files(case.resolve())
    exp = _expectations(paths)
    text = case.read_text()
    errors = [(k, t) for kind, k, t in exp["diag"] if kind == "error"]
    if errors:
        with pytest.raises(AsmError) as info:
            assemble(text, str(case.resolve()))
        diags = info.value.diagnostics
        got = {(os.path.abspath(d.where[0]), d.where[1]) for d in diags
               if d.severity == "error" and d.line is not None}
        want = {k for k, _ in errors}
        assert got == want, "error lines differ:\n" + info.value.render()
        for kind, key, t in exp["diag"]:
            _check_diag(kind, key, t, diags)
        return
    prog = assemble(text, str(case.resolve()))
    by_line = _words_by_line(prog)
    for key, words in exp["words"].items():
        got = by_line.get(key, [])
        assert got == words, (f"{key[0]}:{key[1]}: expected "
                              f"{[hex(w) for w in words]}, got {[hex(w) for w in got]}")
    for addr, word in exp["mem"].items():
        got = _word_at(prog, addr)
        assert got == word, f"word at {addr:#x}: expected {word:#x}, got {got}"
    for name, value in exp["sym"].items():
        assert prog.symbols.get(name) == value, f"symbol {name}: {prog.symbols.get(name)}"
    if exp["images"] is not None:
        assert [str(im.pes) for im in prog.images] == exp["images"]
    for kind, key, t in exp["diag"]:
        assert kind == "warning", f"{kind} expected but the file assembled"
        heads = [w.splitlines()[0] for w in prog.warnings]
        assert any(t in h and f"{key[0]}:{key[1]}:" in h for h in heads), prog.warnings


def test_there_are_many_cases() -> None:
    assert len(list(CASES.glob("*.s"))) >= 40
