"""The container reader refuses what docs/container.md says it refuses, with a
ContainerError: never a traceback, a RecursionError, or a damaged file read as some
other program.  (The slow, exhaustive version is bench/hostile.py.)"""

from __future__ import annotations

import json
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pearray.asm import assemble
from pearray.asm.program import ContainerError, Program
from pearray.cli import main

SRC = """
        .data
a:      .word 1, 2, 3
        .text
        li r1, a
        lw r2, 0(r1)
        halt
        .pe 0,0
        nop
        halt
"""
GOOD = assemble(SRC, "p.s").to_bytes()


def sections(blob: bytes) -> list[tuple[bytes, bytes]]:
    """The sections of a well-formed container, walked by hand (not by program.py)."""
    out, pos = [], 16
    while pos < len(blob):
        (n,) = struct.unpack_from("<I", blob, pos + 4)
        out.append((blob[pos:pos + 4], blob[pos + 8:pos + 8 + n]))
        pos += 8 + n + (-n % 4)
    return out


def build(secs: list[tuple[bytes, bytes]], count: int | None = None) -> bytes:
    body = b"".join(t + struct.pack("<I", len(p)) + p + b"\0" * (-len(p) % 4) for t, p in secs)
    return GOOD[:8] + struct.pack("<II", 1, len(secs) if count is None else count) + body


SECS = sections(GOOD)
META = next(s for s in SECS if s[0] == b"META")


def with_syms(payload: bytes) -> bytes:
    return build([s if s[0] != b"SYMS" else (b"SYMS", payload) for s in SECS])


def with_meta(payload: bytes) -> bytes:
    return build([s if s[0] != b"META" else (b"META", payload) for s in SECS])


DEEP = b"[" * 100_000 + b"]" * 100_000
REFUSED = {
    "trailing garbage": GOOD + b"JUNKJUNK",
    "a trailing zero word": GOOD + b"\0\0\0\0",
    "count below the sections present": build(SECS, count=len(SECS) - 1),
    "count 0": build(SECS, count=0),
    "count above the sections present": build(SECS, count=len(SECS) + 1),
    "the last section's padding cut off": GOOD[:-2] if len(SECS[-1][1]) % 4 else GOOD[:-1],
    "padding not zero": build(SECS)[:-1] + b"\1" if len(SECS[-1][1]) % 4 else GOOD + b"\1",
    "a duplicate META": build([META, *SECS]),
    "a duplicate SYMS": build([*SECS, SECS[-1]]),
    "no SYMS": build(SECS[:-1]),
    "no META": build([s for s in SECS if s[0] != b"META"]),
    "SYMS value 1.5": with_syms(b'{"a": 1.5}'),
    "SYMS value true": with_syms(b'{"a": true}'),
    "SYMS value null": with_syms(b'{"a": null}'),
    "SYMS value Infinity": with_syms(b'{"a": Infinity}'),
    "SYMS value NaN": with_syms(b'{"a": NaN}'),
    "SYMS value [1,2]": with_syms(b'{"a": [1, 2]}'),
    "SYMS value a string": with_syms(b'{"a": "12"}'),
    "SYMS value 2**80": with_syms(b'{"a": 1208925819614629174706176}'),
    "SYMS a list": with_syms(b"[1, 2]"),
    "SYMS nested 100,000 deep": with_syms(b'{"a": ' + DEEP + b"}"),
    "SYMS a repeated key": with_syms(b'{"a": 1, "a": 2}'),
    "SYMS not UTF-8": with_syms(b'{"\xff": 1}'),
    "META nested 100,000 deep": with_meta(DEEP),
    "META files not a list": with_meta(b'{"isa": "x", "files": "abc"}'),
    "META files of numbers": with_meta(b'{"isa": "x", "files": [1]}'),
    "META an extra key": with_meta(b'{"isa": "x", "files": ["p.s"], "more": 1}'),
    "an unknown section": build([*SECS, (b"XXXX", b"abcd")]),
    "DATA region 7": build([*SECS, (b"DATA", struct.pack("<II4BI", 7, 0, *[255] * 4, 0))]),
    "SM data naming PEs": build([*SECS, (b"DATA", struct.pack("<II4BI", 1, 0x1000_0000,
                                                              0, 0, 0, 0, 0))]),
    "CODE rows reversed": build([*SECS, (b"CODE", struct.pack("<4BI", 3, 1, 0, 0, 0))]),
    "CODE 255 mixed with a row": build([*SECS, (b"CODE", struct.pack("<4BI", 255, 0, 0, 0,
                                                                      0))]),
    "a line map naming an unlisted file": build(
        [*SECS, (b"CODE", struct.pack("<4BI", *[255] * 4, 1) + struct.pack("<III", 0, 9, 1))]),
    "CODE with 2**32-1 words": build([*SECS, (b"CODE", struct.pack("<4BI", *[255] * 4,
                                                                   2**32 - 1))]),
    "a section length of 2**32-1": GOOD[:16] + b"META" + struct.pack("<I", 2**32 - 1),
    "a 15-byte header": GOOD[:15],
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_malformed_containers_are_refused(name: str) -> None:
    with pytest.raises(ContainerError):
        Program.from_bytes(REFUSED[name])


def test_the_good_container_and_non_bytes() -> None:
    assert Program.from_bytes(GOOD).to_bytes() == GOOD
    for bad in (None, "PEARRAY", 12):
        with pytest.raises(ContainerError):
            Program.from_bytes(bad)


def test_the_cli_refuses_a_deep_container(tmp_path, capsys) -> None:  # noqa: ANN001
    path = tmp_path / "deep.bin"
    path.write_bytes(REFUSED["SYMS nested 100,000 deep"])
    assert main(["run", str(path)]) == 2
    assert main(["disasm", str(path)]) == 2
    err = capsys.readouterr().err
    assert "nested deeper" in err and "Traceback" not in err


def canonical(blob: bytes) -> tuple:
    """Count, sections (JSON parsed and re-dumped), padding and tail of a blob."""
    count = struct.unpack_from("<I", blob, 12)[0]
    out, pos = [], 16
    while pos + 8 <= len(blob):
        tag = blob[pos:pos + 4]
        (n,) = struct.unpack_from("<I", blob, pos + 4)
        payload = blob[pos + 8:pos + 8 + n]
        if tag in (b"META", b"SYMS"):
            payload = json.dumps(json.loads(payload), sort_keys=True).encode()
        out.append((tag, payload, blob[pos + 8 + n:pos + 8 + n + (-n % 4)]))
        pos += 8 + n + (-n % 4)
    return count, out, blob[pos:]


@given(st.integers(0, 8 * len(GOOD) - 1))
def test_a_flipped_bit_is_refused_or_reads_back_the_same(bit: int) -> None:
    """Accepting a changed file is right only when nothing was dropped or coerced:
    writing the program back must give the same sections, values and length."""
    blob = bytearray(GOOD)
    blob[bit // 8] ^= 1 << (bit % 8)
    try:
        prog = Program.from_bytes(bytes(blob))
    except ContainerError:
        return
    assert canonical(bytes(blob)) == canonical(prog.to_bytes())


@given(st.integers(0, len(GOOD) - 1))
def test_every_truncation_is_refused(n: int) -> None:
    with pytest.raises(ContainerError):
        Program.from_bytes(GOOD[:n])
