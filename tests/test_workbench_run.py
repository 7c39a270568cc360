"""`pearray run` as a person at a shell uses it: the installed command in a subprocess.

Exit codes, JSON keys, files written, `--dump` in every format (the expected
values come from numpy reading the same bytes), `--load`, `--trace -` and
`--lockstep` (a program whose trap cycle is worked out by hand).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from workbench_helpers import SENDRECV, pearray

from pearray.cli import main

BYTES = bytes([0xFF, 0x7F, 0x80, 0x01, 0x00, 0x80, 0xFE, 0xFF,
               0x10, 0x32, 0x54, 0x76, 0x98, 0xBA, 0xDC, 0xFE])

DATA = f"""\
        .data
d:      .byte {", ".join(hex(b) for b in BYTES)}
out:    .word 0
        .sdata
s:      .word 0x11111111, 0x22222222
        .text
        mfs r1, id
        addi r2, r1, 3
        mul.w r2, r2, r2        # (id + 3)^2
        sw r2, 0(r0)            # LM word 0 of each PE
        addi r6, r0, -7
        halt
"""


@pytest.fixture
def prog(tmp_path: Path) -> Path:
    p = tmp_path / "prog.s"
    p.write_text(DATA)
    return p


FMTS = {"i8": "<i1", "u8": "<u1", "i16": "<i2", "u16": "<u2", "i32": "<i4", "u32": "<u4",
        "x32": "<u4"}


def test_dump_every_format_in_json(prog: Path) -> None:
    specs = [f"d:{16 // np.dtype(dt).itemsize}:{fmt}" for fmt, dt in FMTS.items()]
    run = pearray("run", prog, "--rows", "1", "--cols", "1", "--json",
                  *[a for s in specs for a in ("--dump", s)], cwd=prog.parent)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert list(out["dumps"]) == specs
    for spec, (fmt, dt) in zip(specs, FMTS.items(), strict=True):
        assert out["dumps"][spec] == np.frombuffer(BYTES, dt).tolist(), fmt


def test_dump_default_format_offsets_and_regions(prog: Path) -> None:
    run = pearray("run", prog, "--rows", "2", "--cols", "3", "--json",
                  "--dump", "d:4", "--dump", "gm:0:4", "--dump", "gm:0x80000000:4",
                  "--dump", "sm:0x10000000:2:x32", "--dump", "s:2:u32",
                  "--dump", "lm:0:1", "--dump", "lm@1,2:0:1", "--dump", "lm@0,1:0x0:1",
                  cwd=prog.parent)
    assert run.returncode == 0, run.stderr
    d = json.loads(run.stdout)["dumps"]
    i32 = np.frombuffer(BYTES, "<i4").tolist()
    assert d["d:4"] == d["gm:0:4"] == d["gm:0x80000000:4"] == i32
    assert d["sm:0x10000000:2:x32"] == d["s:2:u32"] == [0x11111111, 0x22222222]
    assert d["lm:0:1"] == [9]  # PE (0,0): (0 + 3)^2
    assert d["lm@1,2:0:1"] == [(5 + 3) ** 2]  # id 5 on a 2x3 array
    assert d["lm@0,1:0x0:1"] == [16]


def test_dump_in_the_human_summary(prog: Path) -> None:
    run = pearray("run", prog, "--rows", "1", "--cols", "1", "--dump", "d:4:x32",
                  "--dump", "d:16:i8", cwd=prog.parent)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    head = lines.index("d:4:x32: 4 x x32 at 0x80000000 in GM")
    words = np.frombuffer(BYTES, "<u4")
    assert lines[head + 1].split() == ["0x80000000:", *(f"{w:#010x}" for w in words)]
    head = lines.index("d:16:i8: 16 x i8 at 0x80000000 in GM")
    assert lines[head + 1].split()[1:] == [str(v) for v in np.frombuffer(BYTES, "<i1")]


def test_registers_signed_and_hex_in_the_summary(prog: Path) -> None:
    run = pearray("run", prog, "--rows", "1", "--cols", "2", cwd=prog.parent)
    assert run.returncode == 0, run.stderr
    pe1 = next(line for line in run.stdout.splitlines() if line.startswith("  PE (0,1)"))
    assert "halted" in pe1
    assert "r1=1 (0x00000001)" in pe1 and "r2=16 (0x00000010)" in pe1
    assert "r6=-7 (0xfffffff9)" in pe1
    assert "r3=" not in pe1  # zero registers left out


@pytest.mark.parametrize(("spec", "message"), [
    ("nosuch:4", "'nosuch' is neither a region"),
    ("gm:0:4:f64", "format 'f64' is not one of i8 u8 i16 u16 i32 u32 x32"),
    ("gm:zz:4", "address 'zz' is not a number"),
    ("gm:0:-1", "count '-1' is negative"),
    ("gm:0:0", "count is 0"),
    ("gm:4", "expected REGION:ADDR:COUNT[:FMT] or SYMBOL:COUNT[:FMT]"),
    ("lm@4,0:0:1", "PE (4,0) is outside the 4x4 array"),
    ("lm@1:0:1", "a PE is written @ROW,COL"),
    ("sm@0,0:0:1", "only lm takes @ROW,COL"),
    ("gm:0x90000000:1", "neither inside GM"),
    ("gm:0xfffffc:2", "runs past the end of GM"),
    ("d@1,1:1", "drop the @ROW,COL"),
])
def test_bad_dump_specs_exit_2_with_a_clear_message(prog: Path, spec: str, message: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    # in process (the same code as the command; the installed command: the test below)
    assert main(["run", str(prog), "--dump", spec]) == 2
    out, err = capsys.readouterr()
    assert err.startswith(f"pearray: error: --dump '{spec}': ")
    assert message in err and out == ""


def test_bad_specs_through_the_installed_command(prog: Path) -> None:
    for option, spec, message in (("--dump", "gm:0:4:f64", "format 'f64' is not one of"),
                                  ("--load", "gm:0=missing.bin",
                                   "cannot read file missing.bin")):
        run = pearray("run", prog, option, spec, cwd=prog.parent)
        assert run.returncode == 2
        assert run.stderr.startswith(f"pearray: error: {option} ") and message in run.stderr
        assert "Traceback" not in run.stderr and run.stdout == ""


SUM = """\
        .data
vec:    .space 16
        .text
        li r1, vec
        lw r2, 0(r1)
        lw r3, 4(r1)
        add.w r4, r2, r3
        lw r2, 8(r1)
        add.w r4, r4, r2
        lw r2, 12(r1)
        add.w r4, r4, r2
        lw r5, 0x20(r0)         # LM word 8
        halt
"""


def test_load_npy_and_raw_files(tmp_path: Path) -> None:
    src = tmp_path / "sum.s"
    src.write_text(SUM)
    np.save(tmp_path / "v.npy", np.array([5, -2, 1000, 7], ">i4"))  # big-endian on disk
    (tmp_path / "w.raw").write_bytes(bytes([0x78, 0x56, 0x34, 0x12]))
    run = pearray("run", src, "--rows", "1", "--cols", "1", "--json",
                  "--load", "vec=v.npy", "--load", "lm:0x20=w.raw", "--dump", "vec:4",
                  cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["dumps"]["vec:4"] == [5, -2, 1000, 7]  # little-endian in the machine
    assert out["pes"][0]["regs"][4] == 5 - 2 + 1000 + 7
    assert out["pes"][0]["regs"][5] == 0x12345678
    run = pearray("run", src, "--rows", "2", "--cols", "2", "--json",
                  "--load", "gm:0x80000004=w.raw", "--load", "lm@1,1:32=w.raw", cwd=tmp_path)
    pes = json.loads(run.stdout)["pes"]
    assert pes[0]["regs"][4] == 0x12345678 and pes[0]["regs"][5] == 0
    assert pes[3]["regs"][5] == 0x12345678


def test_load_a_2d_array_in_c_order(tmp_path: Path) -> None:
    src = tmp_path / "sum.s"
    src.write_text(SUM)
    a = np.arange(8, dtype=np.int16).reshape(2, 4)
    np.save(tmp_path / "a.npy", np.asfortranarray(a))
    run = pearray("run", src, "--json", "--load", "gm:0=a.npy", "--dump", "gm:0:8:i16",
                  cwd=tmp_path)
    assert json.loads(run.stdout)["dumps"]["gm:0:8:i16"] == list(range(8))


@pytest.mark.parametrize(("spec", "message"), [
    ("gm:0=missing.bin", "cannot read file missing.bin: No such file"),
    ("gm:0=.", "file . is a directory, not a regular file"),
    ("gm:0=obj.npy", "not a numeric .npy array"),
    ("gm:0=bad.npy", "not a numeric .npy array"),
    ("gm:0xfffffe=w.raw", "4 bytes from 0x80fffffe run past the end of GM"),
    ("gm:0", "expected REGION:ADDR=FILE or SYMBOL=FILE"),
    ("lm=w.raw", "lm needs an address"),
    ("text=w.raw", "'text' is neither a region"),
])
def test_bad_loads_exit_2_with_a_clear_message(tmp_path: Path, spec: str, message: str,
                                               capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    src = tmp_path / "sum.s"
    src.write_text(SUM)
    (tmp_path / "w.raw").write_bytes(b"\1\2\3\4")
    np.save(tmp_path / "obj.npy", np.array([{}], object), allow_pickle=True)
    (tmp_path / "bad.npy").write_bytes(b"\x93NUMPY garbage")
    assert main(["run", str(src), "--load", spec]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("pearray: error: --load ") and message in err and out == ""


def test_trace_to_a_file_and_to_stdout(prog: Path) -> None:
    trace = prog.parent / "t.jsonl"
    run = pearray("run", prog, "--rows", "1", "--cols", "1", "--trace", trace, cwd=prog.parent)
    assert run.returncode == 0, run.stderr
    lines = [json.loads(x) for x in trace.read_text().splitlines()]
    assert [r["asm"].split()[0] for r in lines] == ["mfs", "addi", "mul.w", "sw", "addi", "halt"]
    run = pearray("run", prog, "--rows", "1", "--cols", "1", "--trace", "-", "--json",
                  cwd=prog.parent)
    assert run.returncode == 0, run.stderr
    out = [json.loads(x) for x in run.stdout.splitlines()]
    assert out[:-1] == lines  # the trace, then the result: every line is JSON
    assert out[-1]["status"] == "halted"
    assert sorted(p.name for p in prog.parent.iterdir()) == ["prog.s", "t.jsonl"]


def test_trace_to_stdout_read_in_part(tmp_path: Path) -> None:
    """`pearray run --trace - | head -1`: the reader leaves early; the command ends
    quietly (exit 0, as on any broken pipe) and writes no timeline of a cut-short run."""
    import subprocess

    from workbench_helpers import PEARRAY

    (tmp_path / "loop.s").write_text("        li r2, 200000\n        loop r2, 1f\n"
                                     "        addi r1, r1, 1\n1:      halt\n")
    proc = subprocess.Popen([str(PEARRAY), "run", "loop.s", "--rows", "1", "--cols", "1",
                             "--trace", "-", "--timeline", "tl.json"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    first = json.loads(proc.stdout.readline())
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 0, err
    assert (first["pe"], first["pc"], first["line"]) == ([0, 0], 0, 1) and err == b""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loop.s"]


def test_exit_codes_and_trap_json(tmp_path: Path) -> None:
    bad = tmp_path / "bad.s"
    bad.write_text("        addi r1, r0, 99999\n")
    run = pearray("run", bad, "--json", cwd=tmp_path)
    assert run.returncode == 2 and "bad.s:1:" in run.stderr and run.stdout == ""
    run = pearray("run", tmp_path / "nope.s", cwd=tmp_path)
    assert run.returncode == 2 and "cannot read" in run.stderr


LOCKSTEP = """\
        mfs r2, col             # cycle 0
        bne r2, r0, bad         # cycle 1
spin:   addi r1, r1, 1          # PE (0,0): cycles 2, 4, 6, ...
        j spin                  # cycles 3, 5, 7, ...
bad:    lui r3, 0x40000         # PE (0,1): cycle 2, r3 = 0x40000000 (no memory there)
        addi r5, r0, 10         # cycle 3
        loop r5, 1f             # cycle 4
        nop                     # cycles 5..14
1:      lw r4, 0(r3)            # cycle 15: out_of_range
        halt
"""


def test_lockstep_stops_every_pe_exactly_at_the_trap(tmp_path: Path) -> None:
    src = tmp_path / "lock.s"
    src.write_text(LOCKSTEP)
    run = pearray("run", src, "--rows", "1", "--cols", "2", "--json", "--lockstep", cwd=tmp_path)
    assert run.returncode == 1
    out = json.loads(run.stdout)
    assert out["trap"]["cause"] == "out_of_range" and out["trap"]["pe"] == [0, 1]
    assert out["trap"]["pc"] == 8 * 4 and out["trap"]["line"] == 9
    assert out["cycles"] == 16
    spinner = out["pes"][0]
    assert spinner["regs"][1] == 7  # addi in cycles 2, 4, ..., 14
    assert spinner["pc"] == 8  # the j of cycle 15 went back to spin
    free = json.loads(pearray("run", src, "--rows", "1", "--cols", "2", "--json",
                              cwd=tmp_path).stdout)
    assert free["trap"] == out["trap"]
    assert free["pes"][0]["regs"][1] > 7  # without --lockstep PE (0,0) ran ahead


def test_trace_records_memory_neighbours_sync_and_stalls(tmp_path: Path) -> None:
    src = tmp_path / "sr.s"
    src.write_text(SENDRECV)
    run = pearray("run", "sr.s", "--rows", "1", "--cols", "2", "--trace", "t.jsonl", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    recs = [json.loads(x) for x in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert {"cycle", "pe", "pc", "file", "line", "asm", "word", "writes", "mem", "nb", "dma",
            "stalls", "busy"} <= set(recs[0])
    by = {(r["pe"][1], r["asm"].split()[0]): r for r in recs}
    send, recv = by[(0, "send")], by[(1, "recv")]
    assert (send["cycle"], send["nb"]) == (25, {"kind": "send", "dir": "e", "value": 42})
    assert (recv["cycle"], recv["nb"]["value"], recv["stalls"]) == (26, 42, {"recv": 24})
    sw = by[(1, "sw")]
    assert sw["cycle"] == 29 and sw["busy"] == 8 and sw["stalls"] == {"memory": 7}
    assert sw["mem"] == [{"kind": "store", "addr": 0x80000004, "size": 4, "value": 42,
                          "region": "gm"}]
    assert (sw["file"], sw["line"]) == ("sr.s", 15)
    syncs = [r for r in recs if r["asm"] == "sync"]
    assert [(r["pe"], r["cycle"], r["stalls"]) for r in syncs] == [
        ([0, 0], 38, {"sync": 12}), ([0, 1], 38, {})]
    for pe in ([0, 0], [0, 1]):  # every cycle of each PE is in its records
        assert sum(r["busy"] + r["stalls"].get("recv", 0) + r["stalls"].get("sync", 0)
                   for r in recs if r["pe"] == pe) == 40


def test_timeline_of_a_program_timed_by_hand(tmp_path: Path) -> None:
    src = tmp_path / "sr.s"
    src.write_text(SENDRECV)
    run = pearray("run", src, "--rows", "1", "--cols", "2", "--timeline", "tl.json", "--json",
                  cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    tl = json.loads((tmp_path / "tl.json").read_text())
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in tl["traceEvents"]
             if e["name"] == "thread_name"}
    assert names[(0, 0)] == "core" and names[(1, 1)] == "dma"
    spans = [(e["pid"], e["name"], e["ts"], e["ts"] + e["dur"]) for e in tl["traceEvents"]
             if e["ph"] == "X"]
    assert spans == [
        (0, "busy", 0, 26), (0, "stall: sync", 26, 38), (0, "busy", 38, 40),
        (1, "busy", 0, 2), (1, "stall: recv", 2, 26), (1, "busy", 26, 30),
        (1, "stall: memory", 30, 37), (1, "busy", 37, 40),
    ]
    assert json.loads(run.stdout)["cycles"] == 40


def test_timeline_and_trace_on_a_trap_and_bad_paths(tmp_path: Path) -> None:
    src = tmp_path / "sr.s"
    src.write_text(SENDRECV)
    run = pearray("run", src, "--rows", "1", "--cols", "3", "--timeline", "tl.json",
                  "--trace", "t.jsonl", cwd=tmp_path)
    # PE (0,2) waits for a word from (0,1), which sends none: a deadlock in cycle 38
    assert run.returncode == 1 and "trap: deadlock" in run.stdout
    assert json.loads((tmp_path / "tl.json").read_text())["otherData"]["cycles"] == 38
    assert len((tmp_path / "t.jsonl").read_text().splitlines()) == 35  # every retired one
    for bad, message in ((tmp_path, "is a directory"), (tmp_path / "no" / "tl.json",
                                                        "no folder")):
        run = pearray("run", src, "--timeline", bad, cwd=tmp_path)
        assert run.returncode == 2 and message in run.stderr
