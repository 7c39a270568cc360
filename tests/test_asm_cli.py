"""`pearray asm` / `pearray disasm`: exit codes, files written or not, round trips."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pearray.asm.program import Program
from pearray.cli import main

ROOT = Path(__file__).resolve().parent.parent

GOOD = """\
.equ N, 4
start:  li r1, table
        li r2, N
1:      lw r3, (r1)+4
        addi r2, r2, -1
        bne r2, r0, 1b
        halt
.pe 0,0
        nop
        halt
.data
table:  .word 1, 2, 3, 4
"""

BAD = """\
        add r1, r2, r3
        nop
        addi r1, r0, 70000
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_asm_writes_the_container(tmp_path, capsys) -> None:
    src = _write(tmp_path, "prog.s", GOOD)
    out = tmp_path / "out.bin"
    assert main(["asm", str(src), "-o", str(out)]) == 0
    prog = Program.from_bytes(out.read_bytes())
    assert [str(im.pes) for im in prog.images] == ["all", "0,0"]
    assert prog.symbols["table"] == 0x80000000
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".pearray-")]


def test_default_output_is_beside_the_input(tmp_path) -> None:
    src = _write(tmp_path, "prog.s", GOOD)
    assert main(["asm", str(src)]) == 0
    assert (tmp_path / "prog.bin").is_file()


def test_errors_exit_2_and_write_nothing(tmp_path, capsys) -> None:
    src = _write(tmp_path, "bad.s", BAD)
    out = tmp_path / "bad.bin"
    assert main(["asm", str(src), "-o", str(out)]) == 2
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.s"]
    err = capsys.readouterr().err
    assert f"{src}:1:9: error: add needs a granularity suffix" in err
    assert f"{src}:3:22: error: value 70000" in err
    assert "^~~" in err and err.rstrip().endswith("2 errors")


def test_an_error_leaves_an_older_output_alone(tmp_path) -> None:
    out = tmp_path / "x.bin"
    out.write_bytes(b"old")
    src = _write(tmp_path, "bad.s", BAD)
    assert main(["asm", str(src), "-o", str(out)]) == 2
    assert out.read_bytes() == b"old"


def test_listing_and_symbols(tmp_path, capsys) -> None:
    src = _write(tmp_path, "prog.s", GOOD)
    assert main(["asm", str(src), "-o", str(tmp_path / "o.bin"), "--listing", "--symbols"]) == 0
    out = capsys.readouterr().out
    assert "address" in out.splitlines()[0]
    assert "lui r1, 0x80000" in out and "# start:  li r1, table" in out  # pseudo expanded
    assert "ori r1, r1, 0" in out
    assert "addi r2, r0, 4" in out
    assert re.search(r"^00000000  30180000 +1 +prog\.s:2 +lui", out, re.M)  # address, word,
    # cycles, file:line, source
    assert "table  0x80000000  .data" in out


def test_without_a_program_the_bundled_example_is_listed(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["asm", "--listing"]) == 0
    assert "mac.b r5, r10, r11" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


def test_include_dirs(tmp_path) -> None:
    (tmp_path / "lib").mkdir()
    _write(tmp_path / "lib", "k.s", ".equ K, 3\n")
    src = _write(tmp_path, "p.s", '.include "k.s"\n        addi r1, r0, K\n')
    assert main(["asm", str(src), "-o", str(tmp_path / "o.bin")]) == 2
    assert main(["asm", str(src), "-I", str(tmp_path / "lib"), "-o", str(tmp_path / "o.bin")]) == 0


def test_missing_input_and_self_overwrite(tmp_path, capsys) -> None:
    assert main(["asm", str(tmp_path / "nope.s")]) == 2
    assert "cannot read" in capsys.readouterr().err
    src = _write(tmp_path, "p.bin", "nop\n")
    assert main(["asm", str(src), "-o", str(src)]) == 2
    assert src.read_text() == "nop\n"


def test_disasm_round_trip(tmp_path, capsys) -> None:
    src = _write(tmp_path, "prog.s", GOOD)
    first = tmp_path / "a.bin"
    assert main(["asm", str(src), "-o", str(first)]) == 0
    capsys.readouterr()
    assert main(["disasm", str(first)]) == 0
    text = capsys.readouterr().out
    assert ".pe 0,0" in text and ".data" in text and ".equ table, 0x80000000" in text
    again_src = _write(tmp_path, "again.s", text)
    second = tmp_path / "b.bin"
    assert main(["asm", str(again_src), "-o", str(second)]) == 0
    a, b = Program.from_bytes(first.read_bytes()), Program.from_bytes(second.read_bytes())
    assert [list(im.words) for im in a.images] == [list(im.words) for im in b.images]
    assert [(s.region, s.addr, s.data) for s in a.segments] == \
        [(s.region, s.addr, s.data) for s in b.segments]
    assert a.symbols == b.symbols


def test_disasm_rejects_what_is_not_a_container(tmp_path, capsys) -> None:
    junk = _write(tmp_path, "junk.bin", "hello")
    assert main(["disasm", str(junk)]) == 2
    assert "not a pearray program" in capsys.readouterr().err
    assert main(["disasm", str(tmp_path / "missing.bin")]) == 2
    truncated = tmp_path / "t.bin"
    src = _write(tmp_path, "p.s", GOOD)
    main(["asm", str(src), "-o", str(truncated)])
    truncated.write_bytes(truncated.read_bytes()[:40])
    assert main(["disasm", str(truncated)]) == 2


@pytest.mark.parametrize("command", ["asm", "disasm"])
def test_help(command, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert "usage: pearray " + command in capsys.readouterr().out


def test_real_process_exit_codes(tmp_path) -> None:
    env = dict(os.environ)  # the installed package: a real user's process
    bad = _write(tmp_path, "bad.s", BAD)
    run = subprocess.run([sys.executable, "-m", "pearray", "asm", str(bad)], env=env,
                         capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 2 and "error:" in run.stderr and not (tmp_path / "bad.bin").exists()
    good = _write(tmp_path, "good.s", GOOD)
    run = subprocess.run([sys.executable, "-m", "pearray", "asm", str(good)], env=env,
                         capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0 and (tmp_path / "good.bin").exists()
    run = subprocess.run([sys.executable, "-m", "pearray", "asm", "-", "--symbols"], env=env,
                         input=GOOD, capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0 and "table" in run.stdout


def test_output_dash_writes_the_container_to_stdout(tmp_path, capsysbinary) -> None:
    src = _write(tmp_path, "prog.s", GOOD)
    assert main(["asm", str(src), "-o", "-"]) == 0
    blob = capsysbinary.readouterr().out
    assert Program.from_bytes(blob).symbols["table"] == 0x80000000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prog.s"]
    assert main(["asm", str(src), "-o", "-", "--listing"]) == 2


def test_output_dash_through_the_installed_command(tmp_path) -> None:
    src = _write(tmp_path, "prog.s", GOOD)
    run = subprocess.run([sys.executable, "-m", "pearray", "asm", str(src), "-o", "-"],
                         capture_output=True, cwd=tmp_path)
    assert run.returncode == 0 and run.stdout.startswith(b"PEARRAY\0")
    (tmp_path / "p.bin").write_bytes(run.stdout)
    disasm = subprocess.run([sys.executable, "-m", "pearray", "disasm", "p.bin", "-o", "-"],
                            capture_output=True, cwd=tmp_path)
    assert disasm.returncode == 0 and b"start:" in disasm.stdout


@pytest.mark.parametrize("option, coloured", [([], False), (["--color=never"], False),
                                              (["--color=always"], True)])
def test_colour_option(tmp_path, capsys, monkeypatch, option, coloured) -> None:
    monkeypatch.setenv("NO_COLOR", "1")  # always still colours: the option wins
    src = _write(tmp_path, "prog.s", GOOD)
    assert main(["asm", str(src), "-o", str(tmp_path / "p.bin"), "--listing", *option]) == 0
    out = capsys.readouterr().out
    assert ("\x1b[" in out) == coloured and "lui r1" in re.sub(r"\x1b\[[0-9;]*m", "", out)
    assert main(["disasm", str(tmp_path / "p.bin"), *option]) == 0
    out = capsys.readouterr().out
    assert ("\x1b[" in out) == coloured and "start:" in re.sub(r"\x1b\[[0-9;]*m", "", out)
