"""4-bit lanes in the kernels (ARCH.md section 8, issue 10): places and weights packed as
nibbles, every kernel at 4 bits in and/or out, widths changing from layer to layer on
the array, odd channel counts (a pixel's spare nibble), against tests/kernels_ref.py.

The reference works on plain integers; the nibble layouts are built here from shifts
and masks, never from the drivers' packing code.
"""

from __future__ import annotations

import kernels_ref as ref
import numpy as np
import pytest
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from pearray import kernels, quant
from pearray.emu.machine import Machine
from pearray.kernels.conv import ConvLayer, plan_conv
from pearray.kernels.eltwise import EltwiseLayer, plan_eltwise
from pearray.kernels.place import Place
from pearray.kernels.pool import PoolLayer, plan_pool
from pearray.kernels.standalone import pack_lanes

GM = 0x8000_0000
WIDTHS = (4, 8, 16, 32)
PAIRS = [(b, o) for b in WIDTHS for o in WIDTHS]


def lanes_by_hand(vals: list[int], bits: int) -> list[int]:
    """Words of `vals`, lane 0 lowest, zero lanes after the last (ARCH.md sections 1, 8)."""
    per = 32 // bits
    vals = list(vals) + [0] * (-len(vals) % per)
    return [sum((v & ((1 << bits) - 1)) << (bits * i) for i, v in enumerate(vals[j:j + per]))
            for j in range(0, len(vals), per)]


# ----------------------------------------------------------------------------- host packing
def test_pack_lanes_known_answer() -> None:
    """ARCH.md section 8's example: pack([1, 2, 3, -1, 0, 0, 0, -8], 4) == [0x8000F321]."""
    assert pack_lanes(np.array([1, 2, 3, -1, 0, 0, 0, -8]), 4).tolist() == [0x8000F321]
    assert pack_lanes(np.array([7, -8, 5]), 4).tolist() == [0x587]


@settings(max_examples=examples(2))
@given(st.sampled_from(WIDTHS), st.integers(1, 3), st.integers(1, 19), st.integers(0, 2**32 - 1))
def test_pack_lanes_is_quant_pack_and_by_hand(bits: int, rows: int, n: int, seed: int) -> None:
    """Every width: the kernels' weight packing equals quant.pack and a loop of shifts."""
    v = np.random.default_rng(seed).integers(*ref.lim(bits), (rows, n), endpoint=True)
    got = pack_lanes(v, bits)
    assert got.dtype == np.uint32
    for r in range(rows):
        assert got[r].tolist() == lanes_by_hand(v[r].tolist(), bits)
        np.testing.assert_array_equal(got[r], quant.pack(v[r], bits))


# ----------------------------------------------------------------------------- single kernels
@pytest.mark.parametrize("c", [1, 3, 5, 6, 9, 17])
def test_conv_odd_channels_at_4_bits(c: int) -> None:
    """An odd channel count leaves a spare nibble in every pixel: its weight is zero, so
    the field's run of whole bytes adds nothing; results equal the reference."""
    rng = np.random.default_rng(c)
    x = rng.integers(-8, 8, (2, c, 7, 6))
    w = rng.integers(-8, 8, (c + 2, c, 3, 3))
    b = rng.integers(-50, 50, c + 2)
    for out_bits in WIDTHS:
        shift = 3 if out_bits < 32 else 0
        res = kernels.conv2d(x, w, b, pad=(1, 2, 0, 1), bits=4, out_bits=out_bits,
                             out_shift=shift, rows=2, cols=3)
        np.testing.assert_array_equal(
            res.y, ref.requant(ref.conv(x, w, b, 1, (1, 2, 0, 1)), shift, out_bits))


def test_conv_spare_nibble_is_never_data() -> None:
    """Whatever a pixel's spare nibble holds (here -1 everywhere), a conv's results are
    the same: the weights there are zero."""
    rng = np.random.default_rng(3)
    x = rng.integers(-8, 8, (1, 5, 6, 6))
    w = rng.integers(-8, 8, (4, 5, 3, 3))
    layer = ConvLayer(5, 4, 3, 3, pad=1, bits=4, out_bits=32)
    px = Place(GM, 1, 6, 6, 5, 4, (1, 1, 1, 1))
    py = Place(GM + 0x1000, 1, 6, 6, 4, 32)
    plan = plan_conv(layer, px, py, 2, 2)
    m = Machine(2, 2)
    buf = kernels.pack_place(px, x)
    pt, pl = 1, 1
    for yy in range(6):
        for xx in range(6):
            off = (pt + yy) * px.rs + (pl + xx) * px.ps + px.ps - 1
            assert buf[off] >> 4 == 0  # the host writes 0 there
            buf[off] |= 0xF0
    m.write(GM, buf)
    m.write(GM + 0x2000, plan.weights(w))
    lc = plan.launch(GM + 0x2000)
    m.write(GM + 0x3000, lc.descriptor)
    kernels.run_launches(m, [lc], [GM + 0x3000])
    np.testing.assert_array_equal(kernels.read_place(m, py), ref.conv(x, w, None, 1, 1))


@pytest.mark.parametrize("groups, cg, kg", [(9, 1, 1), (6, 1, 1), (3, 3, 3), (5, 1, 2),
                                            (2, 3, 5), (4, 3, 1)])
def test_conv_groups_at_4_bits_start_on_whole_bytes(groups: int, cg: int, kg: int) -> None:
    """Groups at 4 bits: merged so that every merged group starts on a whole byte of the
    input and of the output (odd groups: all merged into one), results exact; the
    descriptor's group offsets are whole bytes."""
    rng = np.random.default_rng(groups * 10 + cg)
    c, k = groups * cg, groups * kg
    for bits, out_bits in ((4, 4), (4, 8), (8, 4), (32, 4)):
        x = rng.integers(*ref.lim(bits), (1, c, 6, 5), endpoint=True)
        w = rng.integers(*ref.lim(bits), (k, cg, 3, 3), endpoint=True)
        b = rng.integers(-40, 40, k)
        res = kernels.conv2d(x, w, b, pad=1, groups=groups, bits=bits, out_bits=out_bits,
                             out_shift=4, rows=2, cols=2, overflow="wrap")
        np.testing.assert_array_equal(
            res.y, ref.requant(ref.conv(x, w, b, 1, 1, groups), 4, out_bits))
        layer = ConvLayer(c, k, 3, 3, pad=1, groups=groups, bits=bits, out_bits=out_bits,
                          shift=4)
        plan = plan_conv(layer, Place(GM, 1, 6, 5, c, bits, 1),
                         Place(GM + 0x4000, 1, 6, 5, k, out_bits), 2, 2)
        if plan.ng > 1:
            assert plan.cf * bits % 8 == 0 and plan.kf * out_bits % 8 == 0


def test_affine_and_fc_at_4_bits() -> None:
    """A per-channel affine (depthwise 1x1) and a fully connected layer (1x1 on 1x1
    images) at 4 bits, odd sizes."""
    rng = np.random.default_rng(5)
    x = rng.integers(-8, 8, (2, 7, 3, 5))
    w = rng.integers(-8, 8, (7, 1, 1, 1))
    b = rng.integers(-20, 20, 7)
    res = kernels.conv2d(x, w, b, groups=7, bits=4, out_shift=2, relu=True, rows=2, cols=2)
    want = np.clip(ref.rshr(x * w[:, 0, 0, 0][None, :, None, None] + b[None, :, None, None],
                            2), 0, 7)
    np.testing.assert_array_equal(res.y, want)
    xf = rng.integers(-8, 8, (3, 101))
    wf = rng.integers(-8, 8, (11, 101))
    bf = rng.integers(-100, 100, 11)
    res = kernels.linear(xf, wf, bf, bits=4, out_bits=8, out_shift=3, rows=4, cols=4)
    np.testing.assert_array_equal(res.y, ref.requant(xf @ wf.T + bf, 3, 8))
    assert res.stats["macs"] == 3 * wf.size


def test_conv_passes_over_odd_channel_ranges_at_4_bits() -> None:
    """A small LM splits the reduction into input channel ranges; at 4 bits they start on
    whole bytes (even channels), the last one odd; partial sums exact."""
    rng = np.random.default_rng(6)
    c = 301
    layer = ConvLayer(c, 5, 3, 3, pad=1, bits=4, out_bits=4, shift=6)
    plan = plan_conv(layer, Place(GM, 1, 4, 5, c, 4, 1), Place(GM + 0x8000, 1, 4, 5, 5, 4),
                     2, 2, lm_size=1536)
    assert any(p.c1 - p.c0 < c for p in plan.passes)
    assert all(p.c0 % 2 == 0 for p in plan.passes)
    x = rng.integers(-8, 8, (1, c, 4, 5))
    w = rng.integers(-8, 8, (5, c, 3, 3))
    res = kernels.conv2d(x, w, pad=1, bits=4, out_shift=6, rows=2, cols=2, lm_size=1536)
    np.testing.assert_array_equal(res.y, ref.requant(ref.conv(x, w, None, 1, 1), 6, 4))


@pytest.mark.parametrize("bits, out_bits", PAIRS)
def test_pool_add_convert_every_width_pair(bits: int, out_bits: int) -> None:
    """Average pooling, add and convert from every width to every width (4 among them),
    odd channel counts, the chunk and slice planners' unit honoured (two channels a byte
    at 4 bits out)."""
    rng = np.random.default_rng(bits * 100 + out_bits)
    for c in (1, 5, 13):
        x = rng.integers(*ref.lim(bits), (2, c, 5, 6), endpoint=True)
        y = rng.integers(*ref.lim(bits), (2, c, 5, 6), endpoint=True)
        mult = [int(v) for v in rng.integers(-300, 300, 4)]
        res = kernels.avgpool2d(x, kernel=2, stride=(1, 2), pad=(1, 0, 0, 1), bits=bits,
                                out_bits=out_bits, mult=mult, shift=4, rows=2, cols=3)
        np.testing.assert_array_equal(res.y, ref.avgpool(x, 2, 2, (1, 2), (1, 0, 0, 1), mult,
                                                         4, out_bits))
        res = kernels.add(x, y, bits=bits, out_bits=out_bits, sa=2, sb=1, shift=3,
                          relu=True, rows=2, cols=3)
        np.testing.assert_array_equal(res.y, ref.eltwise(x, y, 2, 1, 3, out_bits, True))
        res = kernels.convert(x, bits=bits, out_bits=out_bits, sa=1, shift=5, clip=2,
                              rows=3, cols=1)
        np.testing.assert_array_equal(res.y, ref.eltwise(x, None, 1, 0, 5, out_bits, False,
                                                         2))
    if bits == out_bits:  # the saturating lane add
        res = kernels.add(x, y, bits=bits, rows=2, cols=2)
        np.testing.assert_array_equal(res.y, ref.eltwise(x, y, 0, 0, 0, bits))


def test_maxpool_and_global_avgpool_at_4_bits() -> None:
    rng = np.random.default_rng(7)
    x = rng.integers(-8, 8, (2, 11, 9, 7))
    res = kernels.maxpool2d(x, kernel=3, stride=2, pad=1, bits=4, rows=4, cols=4)
    np.testing.assert_array_equal(res.y, ref.maxpool(x, 3, 3, (2, 2), (1, 1, 1, 1)))
    m, s = kernels.avg_multiplier(63)
    res = kernels.global_avgpool(x, bits=4, out_bits=4, rows=2, cols=2)
    np.testing.assert_array_equal(res.y, ref.avgpool(x, 9, 7, (1, 1), (0,) * 4, m, s, 4))


@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
def test_requantize_to_4_bits(rounding: str) -> None:
    """int32 -> 4 bits (two words a turn of the loop): nearest exact, stochastic floor or
    ceil, unbiased."""
    acc = np.random.default_rng(8).integers(-(1 << 12), 1 << 12, 4097)
    res = kernels.requantize(acc, 9, bits=4, rounding=rounding, seed=5)
    if rounding == "nearest":
        np.testing.assert_array_equal(res.y, ref.requant(acc, 9, 4))
    else:
        lo, hi = ref.stochastic_bounds(acc, 9, 4)
        assert np.all((res.y == lo) | (res.y == hi))
        inside = np.abs(acc) < (7 << 9)
        err = res.y[inside] - acc[inside] / 512
        assert abs(err.mean()) < 0.05


# ----------------------------------------------------------------------------- networks
def _alloc() -> tuple[list[int], object]:
    top = [GM]

    def alloc(nbytes: int) -> int:
        a = top[0]
        top[0] += -(-max(nbytes, 4) // 64) * 64
        return a
    return top, alloc


def test_a_mixed_width_network_on_the_array() -> None:
    """8 -> 4 -> 4 -> 16 -> 4 -> 8 -> 32 bits, layer by layer, on one machine: conv
    (odd channels, padding), max pool, depthwise conv, average pool, residual add,
    convert, fully connected as 1x1; every width change is a requantisation on the
    array; the host writes the input once and reads the output once."""
    rng = np.random.default_rng(0)
    m = Machine(2, 3)
    _, alloc = _alloc()

    def place(n: int, h: int, w: int, c: int, bits: int, pad: int = 0) -> Place:
        p = Place(0, n, h, w, c, bits, (pad,) * 4)
        return p.with_addr(alloc(p.nbytes))

    x = rng.integers(-128, 128, (2, 3, 8, 8))
    w1 = rng.integers(-128, 128, (5, 3, 3, 3))
    b1 = rng.integers(-500, 500, 5)
    w2 = rng.integers(-8, 8, (5, 1, 3, 3))
    w3 = rng.integers(-8, 8, (7, 5, 1, 1))
    px, p1 = place(2, 8, 8, 3, 8, 1), place(2, 8, 8, 5, 4)
    p2, p3 = place(2, 4, 4, 5, 4, 1), place(2, 4, 4, 5, 16)
    p4, p5, p6 = place(2, 2, 2, 5, 4), place(2, 2, 2, 5, 8), place(2, 2, 2, 5, 4)
    p7 = place(2, 2, 2, 7, 32)
    c1 = plan_conv(ConvLayer(3, 5, 3, 3, pad=1, bits=8, out_bits=4, shift=11, relu=True),
                   px, p1, 2, 3)
    mp = plan_pool(PoolLayer("max", 2, 2, stride=2, bits=4), p1, p2, 2, 3)
    dw = plan_conv(ConvLayer(5, 5, 3, 3, pad=1, groups=5, bits=4, out_bits=16, shift=1),
                   p2, p3, 2, 3)
    ap = plan_pool(PoolLayer("avg", 2, 2, stride=2, bits=16, out_bits=4, mult=1, shift=4),
                   p3, p4, 2, 3)
    ad = plan_eltwise(EltwiseLayer(4, 8, sa=1, sb=0, shift=0), p4, p4, p5, 2, 3)
    cv = plan_eltwise(EltwiseLayer(8, 4, shift=1, relu=True, one=True), p5, None, p6, 2, 3)
    fc = plan_conv(ConvLayer(5, 7, 1, 1, bits=4, out_bits=32), p6, p7, 2, 3)
    image = [(alloc(4 * len(wb)), wb) for wb in (c1.weights(w1, b1), dw.weights(w2),
                                                 fc.weights(w3))]
    scratch = alloc(max(c1.scratch_bytes, dw.scratch_bytes, fc.scratch_bytes, 4))
    launches = [c1.launch(image[0][0], scratch), mp.launch(), dw.launch(image[1][0], scratch),
                ap.launch(), *ad.launches(), *cv.launches(), fc.launch(image[2][0], scratch)]
    keys = {lc.program_key[1:3] for lc in launches}
    assert {(8, 4), (4, 4), (4, 16), (16, 4), (4, 8), (8, 4), (4, 32)} <= keys
    addrs = [alloc(4 * len(lc.descriptor)) for lc in launches]
    for addr, words in image:
        m.write(addr, words)
    for addr, lc in zip(addrs, launches, strict=True):
        m.write(addr, lc.descriptor)
    before = m.host_bytes_written
    kernels.write_place(m, px, x)
    kernels.run_launches(m, launches, addrs)
    y = kernels.read_place(m, p7)
    assert m.host_bytes_written == before + px.nbytes
    assert m.host_bytes_read == p7.nbytes
    a1 = ref.requant(ref.conv(x, w1, b1, 1, 1), 11, 4, True)
    a2 = ref.maxpool(a1, 2, 2, (2, 2), (0,) * 4)
    a3 = ref.requant(ref.conv(a2, w2, None, 1, 1, 5), 1, 16)
    a4 = ref.avgpool(a3, 2, 2, (2, 2), (0,) * 4, 1, 4, 4)
    a5 = ref.eltwise(a4, a4, 1, 0, 0, 8)
    a6 = ref.eltwise(a5, None, 0, 0, 1, 4, True)
    np.testing.assert_array_equal(y, ref.conv(a6, w3, None, 1, 0))


def test_4_bit_channel_slices() -> None:
    """A Concat at 4 bits: slices start on whole bytes (even channels); two convs write
    4 and 3 channels of a 7-channel place (its spare nibble last), a conv reads the
    whole of it and a max pool a slice."""
    rng = np.random.default_rng(4)
    m = Machine(2, 2)
    x = rng.integers(-8, 8, (1, 5, 6, 6))
    wa = rng.integers(-8, 8, (4, 5, 3, 3))
    wb = rng.integers(-8, 8, (3, 5, 1, 1))
    px = Place(GM, 1, 6, 6, 5, 4, (1, 1, 1, 1))
    cat = Place(GM + 0x10000, 1, 6, 6, 7, 4, (1, 1, 1, 1))
    sa = Place(cat.addr, 1, 6, 6, 4, 4, (1, 1, 1, 1), c_total=7, c_offset=0)
    sb = Place(cat.addr, 1, 6, 6, 3, 4, (1, 1, 1, 1), c_total=7, c_offset=4)
    with pytest.raises(ValueError, match="even"):
        Place(cat.addr, 1, 6, 6, 4, 4, (1, 1, 1, 1), c_total=7, c_offset=3)
    ca = plan_conv(ConvLayer(5, 4, 3, 3, pad=1, bits=4, out_bits=4, shift=4), px, sa, 2, 2)
    cb = plan_conv(ConvLayer(5, 3, 1, 1, bits=4, out_bits=4, shift=3), px, sb, 2, 2)
    wc = rng.integers(-8, 8, (2, 7, 3, 3))
    yc = Place(GM + 0x20000, 1, 6, 6, 2, 32)
    yp = Place(GM + 0x21000, 1, 3, 3, 3, 4)
    s46 = Place(cat.addr, 1, 6, 6, 3, 4, (1, 1, 1, 1), c_total=7, c_offset=4)
    cc = plan_conv(ConvLayer(7, 2, 3, 3, pad=1, bits=4, out_bits=32), cat, yc, 2, 2)
    mp = plan_pool(PoolLayer("max", 2, 2, stride=2, bits=4), s46, yp, 2, 2)
    waddr = [GM + 0x30000, GM + 0x31000, GM + 0x32000]
    for addr, wb_ in zip(waddr, (ca.weights(wa), cb.weights(wb), cc.weights(wc)), strict=True):
        m.write(addr, wb_)
    launches = [ca.launch(waddr[0]), cb.launch(waddr[1]), cc.launch(waddr[2]), mp.launch()]
    daddrs = [GM + 0x40000 + 0x1000 * i for i in range(len(launches))]
    for addr, lc in zip(daddrs, launches, strict=True):
        m.write(addr, lc.descriptor)
    kernels.write_place(m, px, x)
    kernels.run_launches(m, launches, daddrs)
    both = np.concatenate([ref.requant(ref.conv(x, wa, None, 1, 1), 4, 4),
                           ref.requant(ref.conv(x, wb, None, 1, 0), 3, 4)], axis=1)
    np.testing.assert_array_equal(kernels.read_place(m, cat), both)
    np.testing.assert_array_equal(kernels.read_place(m, yc), ref.conv(both, wc, None, 1, 1))
    np.testing.assert_array_equal(kernels.read_place(m, yp),
                                  ref.maxpool(both[:, 4:], 2, 2, (2, 2), (0,) * 4))


@settings(max_examples=examples(2))
@given(st.sampled_from(PAIRS), st.sampled_from(WIDTHS), st.integers(1, 9), st.integers(1, 9),
       st.sampled_from((1, 3)), st.integers(0, 2**32 - 1),
       st.sampled_from(((1, 1), (2, 3), (4, 4))))
def test_width_pairs_hand_over_on_the_array(pair: tuple[int, int], last: int, c: int, k: int,
                                            ks: int, seed: int, array: tuple[int, int]) -> None:
    """Any widths a -> b -> c: a conv from a to b bits writes a place that a conv at b
    bits reads, requantising to c; then a convert back to a; every step on one machine,
    equal to the reference chain."""
    a, b = pair
    rng = np.random.default_rng(seed)
    rows, cols = array
    m = kernels.launch.cached_machine(rows, cols)
    _, alloc = _alloc()
    h = w = 5
    pad = ks // 2
    x = rng.integers(*ref.lim(a), (1, c, h, w), endpoint=True)
    w1 = rng.integers(*ref.lim(a), (k, c, ks, ks), endpoint=True)
    w2 = rng.integers(*ref.lim(b), (c, k, ks, ks), endpoint=True)
    b1 = rng.integers(-1000, 1000, k)
    acc1 = ref.conv(x, w1, b1, 1, pad)
    s1 = min(31, max(0, int(np.abs(acc1).max()).bit_length() - b + 2))
    y1 = ref.requant(acc1, s1, b)
    acc2 = ref.conv(y1, w2, None, 1, pad)
    s2 = min(31, max(0, int(np.abs(acc2).max()).bit_length() - last + 2))
    y2 = ref.requant(acc2, s2, last)
    y3 = ref.eltwise(y2, None, 0, 0, 1, a)
    p0 = Place(0, 1, h, w, c, a, pad)
    p0 = p0.with_addr(alloc(p0.nbytes))
    p1 = Place(0, 1, h, w, k, b, pad)
    p1 = p1.with_addr(alloc(p1.nbytes))
    p2 = Place(0, 1, h, w, c, last)
    p2 = p2.with_addr(alloc(p2.nbytes))
    p3 = Place(0, 1, h, w, c, a)
    p3 = p3.with_addr(alloc(p3.nbytes))
    c1 = plan_conv(ConvLayer(c, k, ks, ks, pad=pad, bits=a, out_bits=b, shift=s1), p0, p1,
                   rows, cols)
    c2 = plan_conv(ConvLayer(k, c, ks, ks, pad=pad, bits=b, out_bits=last, shift=s2), p1, p2,
                   rows, cols)
    cv = plan_eltwise(EltwiseLayer(last, a, shift=1, one=True), p2, None, p3, rows, cols)
    wa1, wa2 = alloc(4 * c1.weights(w1, b1).size), alloc(4 * c2.weights(w2).size)
    scr = alloc(max(c1.scratch_bytes, c2.scratch_bytes, 4))
    launches = [c1.launch(wa1, scr), c2.launch(wa2, scr), *cv.launches()]
    addrs = [alloc(4 * len(lc.descriptor)) for lc in launches]
    m.write(wa1, c1.weights(w1, b1))
    m.write(wa2, c2.weights(w2))
    for addr, lc in zip(addrs, launches, strict=True):
        m.write(addr, lc.descriptor)
    for p in (p1, p2, p3):  # a cached machine keeps old data: borders must be zero
        m.write(p.addr, np.zeros(p.nbytes, np.uint8))
    kernels.write_place(m, p0, x)
    kernels.run_launches(m, launches, addrs)
    np.testing.assert_array_equal(kernels.read_place(m, p1), y1)
    np.testing.assert_array_equal(kernels.read_place(m, p2), y2)
    np.testing.assert_array_equal(kernels.read_place(m, p3), y3)
