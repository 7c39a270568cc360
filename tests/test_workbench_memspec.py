"""emu/memspec.py, in process: dumps read what numpy reads from the same bytes, at any
place and format; loads place a file's bytes; any text is a Dump or a SpecError."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pearray.asm import assemble
from pearray.emu import memspec
from pearray.emu.machine import Machine

SIZE = 4096


@cache
def machine() -> Machine:
    m = Machine(2, 3, lm_size=SIZE, sm_size=SIZE, gm_size=SIZE)
    m.load(assemble(".ldata\nw: .word 7\n.data\ng: .word 1, 2\n.text\nstart: halt\n"))
    return m


REGIONS = {"gm": lambda m: m.gm, "sm": lambda m: m.sm, "lm@1,2": lambda m: m.lm[5],
           "lm": lambda m: m.lm[0]}


@given(region=st.sampled_from(sorted(REGIONS)), fmt=st.sampled_from(sorted(memspec.FORMATS)),
       data=st.data(), absolute=st.booleans())
def test_dump_reads_what_numpy_reads(region: str, fmt: str, data: st.DataObject,
                                     absolute: bool) -> None:
    m = machine()
    dt = np.dtype(memspec.FORMATS[fmt])
    count = data.draw(st.integers(1, 64), "count")
    off = data.draw(st.integers(0, SIZE - count * dt.itemsize), "offset")
    raw = data.draw(st.binary(min_size=count * dt.itemsize, max_size=count * dt.itemsize))
    mem = REGIONS[region](m)
    mem[off:off + len(raw)] = np.frombuffer(raw, np.uint8)
    base = m.params[f"{region[:2]}_base"]
    addr = base + off if absolute else off
    dump = memspec.parse_dump(m, f"{region}:{addr:#x}:{count}:{fmt}")
    assert memspec.read(m, dump) == np.frombuffer(raw, dt).tolist()
    text = memspec.render(dump, memspec.read(m, dump))
    assert len(text.splitlines()) == 1 + -(-count // (16 if dt.itemsize == 1 else 8))


def test_symbols_and_their_pes() -> None:
    m = machine()
    m.load(m.program)  # fresh data
    assert memspec.read(m, memspec.parse_dump(m, "g:2")) == [1, 2]
    assert memspec.read(m, memspec.parse_dump(m, "w@1,1:1")) == [7]  # every PE's LM has it
    with pytest.raises(memspec.SpecError, match="'start' is a code label"):
        memspec.parse_dump(m, "start:1")


@given(st.text(max_size=40))
def test_any_text_is_a_dump_or_a_clear_error(text: str) -> None:
    try:
        dump = memspec.parse_dump(machine(), text)
    except memspec.SpecError as exc:
        assert str(exc).startswith(repr(text))
    else:
        assert dump.count >= 1 and dump.fmt in memspec.FORMATS


@given(st.text(max_size=40))
def test_any_load_text_is_a_place_or_a_clear_error(text: str) -> None:
    try:
        memspec.parse_place(machine(), text)
    except memspec.SpecError as exc:
        assert str(exc).startswith(repr(text))


def test_load_places_npy_bytes_little_endian(tmp_path: Path) -> None:
    m = machine()
    a = np.array([[1, -2], [300, -40000]], ">i4")
    np.save(tmp_path / "a.npy", a)
    place, n = memspec.load(m, f"sm:8={tmp_path / 'a.npy'}")
    assert (place.region, place.addr, n) == ("sm", m.params["sm_base"] + 8, 16)
    assert m.sm[8:24].view("<i4").tolist() == [1, -2, 300, -40000]
    np.save(tmp_path / "b.npy", np.array([True, False, True]))
    memspec.load(m, f"lm@0,1:0={tmp_path / 'b.npy'}")
    assert m.lm[1][:3].tolist() == [1, 0, 1]
