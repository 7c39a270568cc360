"""`pearray run` as a user runs it: the INSTALLED command in a subprocess.

Exit codes (ARCH.md §7: 0 halted, 1 trap, 2 bad assembly or usage), the --json keys of
§7, the --trace file, and what bad files, bad options, an output onto an input, Ctrl-C
and SIGKILL leave behind; --timeline goes through the same output policy as --trace.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

PEARRAY = Path(sys.executable).parent / "pearray"
CAUSES = {"illegal", "misaligned", "out_of_range", "edge", "loop_depth", "cycle_limit",
          "deadlock"}
LOOP = "l: addi r1, r1, 1\n   j l\n"
OUTPUTS = ["--trace", "--timeline"]


def pearray(*args: object, cwd: Path | None = None, timeout: float = 60
            ) -> subprocess.CompletedProcess[str]:
    assert PEARRAY.exists(), f"the pearray command is not installed beside {sys.executable}"
    return subprocess.run([str(PEARRAY), *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, stdin=subprocess.DEVNULL)


def no_traceback(p: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in p.stderr, p.stderr


@pytest.fixture
def dot(tmp_path: Path) -> Path:
    src = tmp_path / "dot.s"
    src.write_text("""
        .data
a:      .byte 1, -2, 3, -4
b:      .byte 5, 6, -7, 8
        .text
        li r1, a
        lw r2, 0(r1)
        lw r3, 4(r1)
        mac.b r4, r2, r3
        halt
""")
    return src


def test_halted_exit_0_and_json_keys(dot: Path) -> None:
    p = pearray("run", dot, "--rows", 2, "--cols", 3, "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert {"cycles", "status", "trap", "pes", "memory"} <= set(out)
    assert out["status"] == "halted" and out["trap"] is None and out["cycles"] > 0
    assert [(pe["row"], pe["col"]) for pe in out["pes"]] == [(r, c) for r in range(2)
                                                             for c in range(3)]
    for pe in out["pes"]:
        assert {"row", "col", "regs", "retired", "macs"} <= set(pe)
        assert len(pe["regs"]) == 16 and all(0 <= v < 2**32 for v in pe["regs"])
        assert pe["regs"][4] == (1 * 5 - 2 * 6 - 3 * 7 - 4 * 8) & 0xFFFFFFFF
        assert pe["macs"] == 4 and pe["retired"] >= 5
    assert set(out["memory"]) == {"lm", "sm", "gm"}
    for region in out["memory"].values():
        assert {"loads", "stores"} <= set(region)
    assert out["memory"]["gm"]["loads"] == 2 * 6


def test_text_report(dot: Path) -> None:
    p = pearray("run", dot)
    assert p.returncode == 0 and "halted after" in p.stdout and "MACs" in p.stdout


@pytest.mark.parametrize("src, cause, line", [
    ("nop\n.word 0xFFFFFFFF\nhalt\n", "illegal", 2),
    ("li r1, 2\nlw r2, 0(r1)\nhalt\n", "misaligned", 2),
    ("li r1, 0x20000000\nlw r2, 0(r1)\nhalt\n", "out_of_range", 2),
    (LOOP, "cycle_limit", None),
])
def test_a_trap_exits_1_with_its_json(tmp_path: Path, src: str, cause: str,
                                      line: int | None) -> None:
    prog = tmp_path / "t.s"
    prog.write_text(src)
    p = pearray("run", prog, "--json", "--max-cycles", 1000)
    assert p.returncode == 1, p.stderr
    out = json.loads(p.stdout)
    assert out["status"] == "trap"
    trap = out["trap"]
    assert {"cause", "pe", "pc", "line"} <= set(trap) and trap["cause"] in CAUSES
    assert trap["cause"] == cause
    if line is not None:
        assert trap["line"] == line and trap["pe"] == [0, 0]
    text = pearray("run", prog, "--max-cycles", 1000)
    assert text.returncode == 1 and cause in text.stdout + text.stderr


def test_bad_assembly_exits_2_with_a_position(tmp_path: Path) -> None:
    prog = tmp_path / "bad.s"
    prog.write_text("halt\nadd.q r1, r2\n")
    p = pearray("run", prog)
    assert p.returncode == 2
    assert f"{prog}:2:" in p.stderr
    no_traceback(p)


@pytest.mark.parametrize("args", [
    ["--rows", "0"], ["--rows", "17"], ["--cols", "-1"], ["--cols", "x"],
    ["--max-cycles", "0"], ["--max-cycles", "-5"], ["--max-cycles", str(10**30)],
    ["--bogus"], ["--trace"],
])
def test_bad_options_exit_2(dot: Path, args: list[str]) -> None:
    p = pearray("run", dot, *args)
    assert p.returncode == 2 and p.stderr.strip()
    no_traceback(p)


def test_bad_files_exit_2(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo.s")
    (tmp_path / "damaged.bin").write_bytes(b"PEARRAY\0" + b"\1\0\0\0" + b"\xff" * 8)
    for path in (tmp_path / "missing.s", tmp_path, tmp_path / "fifo.s", "/dev/zero",
                 tmp_path / "damaged.bin"):
        p = pearray("run", path, timeout=30)
        assert p.returncode == 2, (path, p.stdout, p.stderr)
        assert p.stderr.startswith("pearray: error:") or "error" in p.stderr
        no_traceback(p)


def test_trace_file_has_one_line_per_retired_instruction(dot: Path, tmp_path: Path) -> None:
    trace = tmp_path / "trace.jsonl"
    p = pearray("run", dot, "--rows", 1, "--cols", 2, "--json", "--trace", trace)
    assert p.returncode == 0, p.stderr
    retired = sum(pe["retired"] for pe in json.loads(p.stdout)["pes"])
    lines = [json.loads(x) for x in trace.read_text().splitlines()]
    assert len(lines) == retired
    assert {"cycle", "pe", "pc", "line", "asm", "writes"} <= set(lines[0])
    mac = [r for r in lines if r["asm"].startswith("mac.b")]
    assert len(mac) == 2 and all(r["writes"] == {"r4": 2**32 - 60} for r in mac)
    assert {p.name for p in tmp_path.iterdir()} == {"dot.s", "trace.jsonl"}


@pytest.mark.parametrize("option", OUTPUTS)
def test_trace_never_replaces_an_input(dot: Path, tmp_path: Path, option: str) -> None:
    before = dot.read_bytes()
    os.symlink(dot, tmp_path / "alias")
    os.link(dot, tmp_path / "hard")
    for target in (dot, tmp_path / "alias", tmp_path / "hard", tmp_path / "." / "dot.s"):
        p = pearray("run", dot, option, target)
        assert p.returncode == 2 and "is the input" in p.stderr, p.stderr
        assert dot.read_bytes() == before and (tmp_path / "alias").is_symlink()
    assert {p.name for p in tmp_path.iterdir()} == {"dot.s", "alias", "hard"}


@pytest.mark.parametrize("option", OUTPUTS)
def test_outputs_never_replace_a_loaded_file(dot: Path, tmp_path: Path, option: str) -> None:
    """A --load file is an input too."""
    (tmp_path / "w.raw").write_bytes(b"\1\2\3\4")
    p = pearray("run", dot, "--load", "gm:0x100=w.raw", option, "w.raw", cwd=tmp_path)
    assert p.returncode == 2 and "is the input w.raw" in p.stderr, p.stderr
    assert (tmp_path / "w.raw").read_bytes() == b"\1\2\3\4"


def test_trace_and_timeline_name_two_files(dot: Path, tmp_path: Path) -> None:
    os.symlink("t.json", tmp_path / "alias.json")
    for args in (["--trace", "t.json", "--timeline", "t.json"],
                 ["--trace", "t.json", "--timeline", "alias.json"],
                 ["--timeline", "-"]):
        p = pearray("run", dot, *args, cwd=tmp_path)
        assert p.returncode == 2 and p.stdout == "", p.stderr
        assert "same file" in p.stderr or "needs a file name" in p.stderr, p.stderr
        no_traceback(p)
    assert {p.name for p in tmp_path.iterdir()} == {"dot.s", "alias.json"}


def test_load_from_a_folder_fifo_or_device_is_a_usage_error(dot: Path,
                                                            tmp_path: Path) -> None:
    """Read as every input is: refused at once, never waited on (a FIFO with no writer)
    or read without end (a device)."""
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dir").mkdir()
    sources = ["fifo", "dir"]
    try:
        os.mknod(tmp_path / "zero", 0o666 | stat.S_IFCHR, os.makedev(1, 5))  # a /dev/zero
        sources.append("zero")
    except PermissionError:
        pass
    for name in sources:
        p = pearray("run", dot, "--load", f"gm:0={name}", cwd=tmp_path, timeout=30)
        assert p.returncode == 2 and "not a regular file" in p.stderr, p.stderr
        assert p.stderr.startswith("pearray: error: --load ")
        no_traceback(p)


@pytest.mark.parametrize("option", OUTPUTS)
def test_trace_onto_a_folder_fifo_or_device_is_a_usage_error(dot: Path, tmp_path: Path,
                                                             option: str) -> None:
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dir").mkdir()
    targets = [tmp_path / "dir", tmp_path / "fifo"]
    try:  # a private twin of /dev/null: never risk the real one on a shared machine
        os.mknod(tmp_path / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        targets.append(tmp_path / "null")
    except PermissionError:
        pass
    for target in targets:
        p = pearray("run", dot, option, target, timeout=30)
        assert p.returncode == 2 and "not a regular file" in p.stderr, p.stderr
        no_traceback(p)
    assert (tmp_path / "fifo").is_fifo()
    assert all(t.is_char_device() for t in targets[2:])
    assert {p.name for p in tmp_path.iterdir()} == {"dot.s", "fifo", "dir"} | {
        t.name for t in targets[2:]}


@pytest.mark.parametrize("option, start", [("--trace", '{"cycle"'),
                                           ("--timeline", '{"traceEvents"')])
def test_trace_is_written_through_a_symlink(dot: Path, tmp_path: Path, option: str,
                                            start: str) -> None:
    (tmp_path / "real.jsonl").write_text("old\n")
    os.symlink("real.jsonl", tmp_path / "link.jsonl")
    p = pearray("run", dot, option, tmp_path / "link.jsonl")
    assert p.returncode == 0
    assert (tmp_path / "link.jsonl").is_symlink()
    assert (tmp_path / "real.jsonl").read_text().startswith(start)


@pytest.mark.parametrize("option", OUTPUTS)
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGKILL, -9),
                                       (signal.SIGTERM, -15)])
def test_an_interrupted_trace_run_leaves_nothing(tmp_path: Path, sig: int, code: int,
                                                 option: str) -> None:
    """Ctrl-C exits 130; SIGKILL and SIGTERM end the run; none leaves a trace (or
    timeline) file or a temporary behind (the file has no name until the run ends)."""
    (tmp_path / "loop.s").write_text(LOOP)
    proc = subprocess.Popen([str(PEARRAY), "run", "loop.s", option, "t.jsonl"],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(2.0)  # imports, assembly, and a good part of a trace written
    assert proc.poll() is None
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == code
    assert b"Traceback" not in err
    assert {p.name for p in tmp_path.iterdir()} == {"loop.s"}


def test_outputs_never_replace_an_included_file(tmp_path: Path) -> None:
    """An .include'd file is an input too, even one that gives no code (only .equ)."""
    (tmp_path / "inc.s").write_text(".equ X, 1\n")
    (tmp_path / "p.s").write_text('.include "inc.s"\nli r1, X\nhalt\n')
    for cmd in (["asm", "p.s", "-o", "inc.s"], ["run", "p.s", "--trace", "inc.s"]):
        p = pearray(*cmd, cwd=tmp_path)
        assert p.returncode == 2 and "is the input" in p.stderr, p.stderr
        assert (tmp_path / "inc.s").read_text() == ".equ X, 1\n"
    assert {p.name for p in tmp_path.iterdir()} == {"inc.s", "p.s"}
