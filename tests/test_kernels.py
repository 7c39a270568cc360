"""conv.s (conv2d, linear, plan_conv) against the independent reference in kernels_ref.

Every result is compared bit for bit with tests/kernels_ref.py, written from the maths
(np.pad and a loop over kernel taps), never from the drivers' packing code.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import kernels_ref as ref
import numpy as np
import pytest
from conftest import examples
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pearray import kernels
from pearray.kernels.conv import ConvLayer, plan_conv
from pearray.kernels.place import Place

WIDTHS = (4, 8, 16, 32)
ARRAYS = ((1, 1), (2, 2), (4, 4), (2, 3), (3, 1))
# A kernel run costs milliseconds: afford 4x the "ci" profile's examples (never fewer
# than the loaded profile asks for, so "thorough" stays thorough).
MANY = settings(max_examples=examples(4))

# The references wrap mod 2^32 as the array does: full-range data runs with
# overflow="wrap" (tests/test_kernels_guards.py covers the default refusal).
conv2d = functools.partial(kernels.conv2d, overflow="wrap")
linear = functools.partial(kernels.linear, overflow="wrap")


# ----------------------------------------------------------------------------- strategies
MODES = ("uniform", "extremes", "min", "max", "small")


@st.composite
def tensors(draw: st.DrawFn, shape: tuple[int, ...], bits: int) -> np.ndarray:
    """Integers of the width: uniform, only the range's edges, constant min/max, or small
    (a numpy generator seeded by hypothesis: cheap, and reproduced from the drawn seed)."""
    lo, hi = ref.lim(bits)
    mode = draw(st.sampled_from(MODES))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if mode == "uniform":
        return rng.integers(lo, hi, shape, endpoint=True)
    if mode == "extremes":
        return rng.choice(np.array([lo, lo + 1, -1, 0, 1, hi - 1, hi], np.int64), shape)
    if mode == "min":
        return np.full(shape, lo, np.int64)
    if mode == "max":
        return np.full(shape, hi, np.int64)
    return rng.integers(-3, 3, shape, endpoint=True)


@st.composite
def conv_cases(draw: st.DrawFn) -> dict:
    """A conv layer: groups, shapes, strides and asymmetric pads, widths in and out,
    requantisation, array, LM size (small ones force reduction passes)."""
    bits = draw(st.sampled_from(WIDTHS))
    groups = draw(st.sampled_from((1, 1, 1, 2, 3)))
    depthwise = draw(st.booleans()) and groups == 1
    if depthwise:
        groups = draw(st.integers(1, 9))
        cg, kg = 1, draw(st.sampled_from((1, 1, 2)))
    else:
        cg, kg = draw(st.integers(1, 7)), draw(st.integers(1, 9))
    c, k = cg * groups, kg * groups
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    pad = tuple(draw(st.integers(0, 2)) for _ in range(4))
    stride = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    h = draw(st.integers(max(1, kh - pad[0] - pad[2]), 9))
    w = draw(st.integers(max(1, kw - pad[1] - pad[3]), 9))
    n = draw(st.integers(1, 2))
    shift = draw(st.none() | st.integers(0, 31))
    out_bits = 32 if shift is None else draw(st.sampled_from(WIDTHS))
    relu = draw(st.booleans())
    lo = 0 if relu else ref.lim(out_bits)[0]
    clip = draw(st.none() | st.integers(lo, ref.lim(out_bits)[1]))
    return {
        "x": draw(tensors((n, c, h, w), bits)), "w": draw(tensors((k, cg, kh, kw), bits)),
        "b": draw(st.none() | tensors((k,), 32)), "stride": stride, "pad": pad,
        "groups": groups, "bits": bits, "out_bits": out_bits, "shift": shift, "relu": relu,
        "clip": clip, "array": draw(st.sampled_from(ARRAYS)),
        "lm": draw(st.sampled_from((16384, 16384, 3072, 1536))),
    }


def run_conv(case: dict, **extra: object) -> kernels.KernelResult:
    rows, cols = case["array"]
    try:
        return conv2d(case["x"], case["w"], case["b"], stride=case["stride"],
                              pad=case["pad"], groups=case["groups"], bits=case["bits"],
                              out_bits=case["out_bits"], out_shift=case["shift"],
                              relu=case["relu"], clip=case["clip"], rows=rows, cols=cols,
                              lm_size=case["lm"], **extra)
    except ValueError as e:  # a layer too big for the small LM drawn: not a case
        assume("LM" not in str(e))
        raise


def describe(case: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in case.items() if k not in ("x", "w", "b")) + \
        f", x{case['x'].shape} w{case['w'].shape}"


# ----------------------------------------------------------------------------- conv2d
@MANY
@given(conv_cases())
def test_conv2d_exact(case: dict) -> None:
    """Any layer: the requantised (or raw int32) output equals the reference bit for bit,
    and the counters add up."""
    res = run_conv(case)
    acc = ref.conv(case["x"], case["w"], case["b"], case["stride"], case["pad"],
                   case["groups"])
    want = ref.requant(acc, case["shift"], case["out_bits"], case["relu"], case["clip"])
    assert res.y.shape == want.shape, describe(case)
    np.testing.assert_array_equal(res.y, want, err_msg=describe(case))
    n, k, ho, wo = want.shape
    _, cg, kh, kw = case["w"].shape
    s = res.stats
    assert s["macs"] == n * k * ho * wo * cg * kh * kw
    assert s["lane_macs"] >= s["macs"]
    assert s["loads"]["gm"] > 0 and s["stores"]["gm"] > 0
    assert s["cycles"] == res.cycles > 0
    assert 0 < s["utilisation"] <= 1


@MANY
@given(conv_cases(), st.integers(1, 2**31 - 1))
def test_conv2d_stochastic_bounded_and_reproducible(case: dict, seed: int) -> None:
    """Stochastic rounding gives floor or ceil of the exact quotient, the same for a seed."""
    if case["shift"] is None:
        case["shift"], case["out_bits"] = 7, case["bits"]
        case["clip"] = None
    res = run_conv(case, rounding="stochastic", seed=seed)
    acc = ref.conv(case["x"], case["w"], case["b"], case["stride"], case["pad"],
                   case["groups"])
    lo, hi = ref.stochastic_bounds(acc, case["shift"], case["out_bits"], case["relu"],
                                   case["clip"])
    y = res.y.astype(np.int64)
    assert np.all((y == lo) | (y == hi)), describe(case)
    again = run_conv(case, rounding="stochastic", seed=seed)
    np.testing.assert_array_equal(res.y, again.y)


@pytest.mark.parametrize("array", ARRAYS, ids=lambda a: f"{a[0]}x{a[1]}")
@pytest.mark.parametrize("bits", WIDTHS)
@pytest.mark.parametrize("xv, wv", [("lo", "lo"), ("lo", "hi"), ("hi", "hi"), ("lo", -1)])
def test_conv2d_width_extremes(bits: int, array: tuple[int, int], xv: object,
                               wv: object) -> None:
    """Whole tensors at the range's edges, e.g. (-2^31)*(-2^31) summed, which wraps to 0."""
    lo, hi = ref.lim(bits)
    pick = {"lo": lo, "hi": hi}
    x = np.full((1, 3, 5, 6), pick.get(xv, xv), np.int64)
    w = np.full((5, 3, 3, 2), pick.get(wv, wv), np.int64)
    b = np.array([-2**31, 2**31 - 1, 0, -1, 1], np.int64)
    acc = ref.conv(x, w, b, 1, 1)
    res = conv2d(x, w, b, pad=1, bits=bits, rows=array[0], cols=array[1])
    np.testing.assert_array_equal(res.y, acc)
    res = conv2d(x, w, b, pad=1, bits=bits, out_shift=bits - 1, rows=array[0],
                         cols=array[1])
    np.testing.assert_array_equal(res.y, ref.requant(acc, bits - 1, bits))


@pytest.mark.parametrize("bits, out_bits", [(b, o) for b in WIDTHS for o in WIDTHS if b != o])
def test_conv2d_output_width_differs(bits: int, out_bits: int) -> None:
    """The next layer's width: every in/out pair, odd channel counts, batch of 2."""
    rng = np.random.default_rng(bits * 100 + out_bits)
    x = rng.integers(*ref.lim(bits), (2, 5, 7, 6), endpoint=True)
    w = rng.integers(*ref.lim(bits), (7, 5, 3, 3), endpoint=True)
    b = rng.integers(-1000, 1000, 7)
    shift = min(31, max(0, bits + 4 - out_bits))
    res = conv2d(x, w, b, stride=(1, 2), pad=(2, 0, 1, 1), bits=bits,
                         out_bits=out_bits, out_shift=shift, relu=True, rows=2, cols=3)
    want = ref.requant(ref.conv(x, w, b, (1, 2), (2, 0, 1, 1)), shift, out_bits, True)
    np.testing.assert_array_equal(res.y, want)
    assert res.y.dtype == {4: np.int8, 8: np.int8, 16: np.int16, 32: np.int32}[out_bits]


@pytest.mark.parametrize("groups, cg, kg", [(6, 1, 1), (8, 1, 2), (4, 3, 5), (2, 8, 4)])
def test_conv2d_groups_and_depthwise(groups: int, cg: int, kg: int) -> None:
    """Depthwise (one channel a group, as a per-channel affine is) and general groups."""
    rng = np.random.default_rng(groups)
    for bits in WIDTHS:
        x = rng.integers(*ref.lim(bits), (1, groups * cg, 6, 7), endpoint=True)
        w = rng.integers(*ref.lim(bits), (groups * kg, cg, 3, 3), endpoint=True)
        b = rng.integers(-2**20, 2**20, groups * kg)
        shift = min(bits, 24)
        res = conv2d(x, w, b, pad=1, groups=groups, bits=bits, out_shift=shift,
                             rows=4, cols=4)
        np.testing.assert_array_equal(
            res.y, ref.requant(ref.conv(x, w, b, 1, 1, groups), shift, bits))
    # a per-channel affine: a depthwise 1x1 conv
    x = rng.integers(-128, 128, (1, 10, 4, 4))
    w = rng.integers(-128, 128, (10, 1, 1, 1))
    b = rng.integers(-500, 500, 10)
    res = conv2d(x, w, b, groups=10, bits=8, out_shift=6, rows=2, cols=2)
    want = np.clip(ref.rshr(x * w[:, 0, 0, 0][None, :, None, None]
                            + b[None, :, None, None], 6), -128, 127)
    np.testing.assert_array_equal(res.y, want)


def plan_for(layer: ConvLayer, h: int, w: int, rows: int, cols: int, **machine: int):
    ho, wo = layer.out_size(h, w)
    x = Place(0x8000_0000, 1, h, w, layer.c, layer.bits, layer.pad)
    y = Place(0x8080_0000, 1, ho, wo, layer.k, layer.out_bits)
    return plan_conv(layer, x, y, rows, cols, **machine)


@pytest.mark.parametrize("bits", WIDTHS)
def test_conv2d_reduction_passes_kernel_rows_and_channel_ranges(bits: int) -> None:
    """A small LM forces the reduction into passes: by kernel rows, and (one row does
    not fit) by input channel ranges; partial sums go through the scratch in int32."""
    rng = np.random.default_rng(bits)
    scale = 32 // bits  # the same bytes at every width
    for c, lm, kind in ((24 * scale, 2560, "rows"), (96 * scale, 2048, "channels")):
        layer = ConvLayer(c, 6, 3, 3, pad=(1, 1, 1, 1), bits=bits, out_bits=bits, shift=9,
                          relu=True)
        plan = plan_for(layer, 5, 6, 2, 2, lm_size=lm)
        assert len(plan.passes) > 1
        assert plan.scratch_bytes > 0
        if kind == "rows":
            assert any(p.dy1 - p.dy0 < 3 for p in plan.passes)
        else:
            assert any(p.c1 - p.c0 < c for p in plan.passes)
        x = rng.integers(*ref.lim(bits), (2, c, 5, 6), endpoint=True)
        w = rng.integers(*ref.lim(bits), (6, c, 3, 3), endpoint=True)
        b = rng.integers(-2**20, 2**20, 6)
        res = conv2d(x, w, b, pad=1, bits=bits, out_shift=9, relu=True, rows=2,
                             cols=2, lm_size=lm)
        np.testing.assert_array_equal(res.y, ref.requant(ref.conv(x, w, b, 1, 1), 9, bits,
                                                         True))


@pytest.mark.parametrize("bits", (16, 32))
def test_alexnet_conv2_conv3_split_at_wide_widths(bits: int) -> None:
    """AlexNet conv2 (96->256, 5x5, 27x27, pad 2) and conv3 (256->384, 3x3, 13x13): a
    4-channel tile's weights do not fit LM at 16 and 32 bits, so the reduction runs in
    passes (they raised ValueError before).  Output channels cut to keep this fast; the
    reduction and the planning are the real layer's."""
    rng = np.random.default_rng(bits)
    for c, k, ks, hw, pad in ((96, 256, 5, 27, 2), (256, 384, 3, 13, 1)):
        shift = min(bits, 24)
        layer = ConvLayer(c, k, ks, ks, pad=pad, bits=bits, out_bits=bits, shift=shift)
        assert len(plan_for(layer, hw, hw, 4, 4).passes) > 1
        kk = 8
        x = rng.integers(*ref.lim(bits), (1, c, hw, hw), endpoint=True)
        w = rng.integers(*ref.lim(bits), (kk, c, ks, ks), endpoint=True)
        res = conv2d(x, w, pad=pad, bits=bits, out_shift=shift, rows=4, cols=4)
        np.testing.assert_array_equal(res.y, ref.requant(ref.conv(x, w, None, 1, pad), shift,
                                                         bits))


def test_conv2d_16x16() -> None:
    """The full chip: 256 PEs, some idle; weights prefetched across tiles."""
    rng = np.random.default_rng(16)
    x = rng.integers(-128, 128, (1, 12, 9, 9))
    w = rng.integers(-128, 128, (40, 12, 3, 3))
    b = rng.integers(-1000, 1000, 40)
    res = conv2d(x, w, b, pad=1, bits=8, out_shift=9, relu=True, rows=16, cols=16)
    np.testing.assert_array_equal(res.y, ref.requant(ref.conv(x, w, b, 1, 1), 9, 8, True))


@pytest.mark.parametrize("array", [(16, 16), (2, 3), (1, 1)], ids=lambda a: f"{a[0]}x{a[1]}")
def test_conv2d_input_staged_in_sm(array: tuple[int, int]) -> None:
    """An input place that fits SM is copied there once (a share per PE, then a sync,
    PEs without work included) and every field comes from SM, not over the GM port."""
    from dataclasses import replace

    rng = np.random.default_rng(8)
    layer = ConvLayer(64, 16, 3, 3, pad=1, bits=8, out_bits=8, shift=9, relu=True)
    x = rng.integers(-128, 128, (1, 64, 6, 6))
    w = rng.integers(-128, 128, (16, 64, 3, 3))
    b = rng.integers(-1000, 1000, 16)
    plan = plan_for(layer, 6, 6, *array)
    assert plan.stage or array != (16, 16)  # the planner stages it on the big array
    staged, direct = replace(plan, stage=True), replace(plan, stage=False)
    m = kernels.launch.cached_machine(*array)
    kernels.write_place(m, plan.x, x)
    m.write(0x8040_0000, plan.weights(w, b))
    runs = {}
    for name, p in (("staged", staged), ("direct", direct)):
        lc = p.launch(0x8040_0000, 0x8050_0000)
        m.write(0x8060_0000, lc.descriptor)
        runs[name] = kernels.run_launches(m, [lc], [0x8060_0000])[0]
        np.testing.assert_array_equal(kernels.read_place(m, plan.y),
                                      ref.requant(ref.conv(x, w, b, 1, 1), 9, 8, True))
    assert runs["staged"].memory["sm"]["loads"] > 0
    assert runs["direct"].memory["sm"]["loads"] == 0
    assert runs["staged"].memory["gm"]["loads"] < runs["direct"].memory["gm"]["loads"]


@pytest.mark.parametrize("array", [(4, 4), (2, 3), (16, 16)], ids=lambda a: f"{a[0]}x{a[1]}")
def test_conv2d_work_is_balanced(array: tuple[int, int]) -> None:
    """Each PE computes the same number of (pixel, channel tile) units, give or take one
    (LeNet-5's conv2)."""
    rng = np.random.default_rng(3)
    x = rng.integers(-128, 128, (1, 6, 14, 14))
    w = rng.integers(-128, 128, (16, 6, 5, 5))
    res = conv2d(x, w, bits=8, rows=array[0], cols=array[1])
    np.testing.assert_array_equal(res.y, ref.conv(x, w, None, 1, 0))
    macs = [p.macs for p in res.run.pes]
    assert sum(macs) == 100 * 16 * 38 * 4  # pixels x channels x field words x lanes
    busy = [m for m in macs if m]
    assert max(busy) - min(busy) <= max(busy) // 2


def test_conv2d_fields_built_on_the_array() -> None:
    """The host writes the input place once (no im2col strips): GM words loaded are the
    fields the array gathers, more than the input when windows overlap."""
    rng = np.random.default_rng(9)
    x = rng.integers(-128, 128, (1, 8, 10, 10))
    w = rng.integers(-128, 128, (8, 8, 3, 3))
    res = conv2d(x, w, pad=1, bits=8, rows=2, cols=2)
    np.testing.assert_array_equal(res.y, ref.conv(x, w, None, 1, 1))
    machine = res.run  # the counters
    assert res.stats["loads"]["gm"] >= 100 * 3 * 6  # a field: 3 rows of 3 pixels x 8 bytes
    assert machine.status == "halted"


# ----------------------------------------------------------------------------- linear
@MANY
@given(st.data(), st.sampled_from(WIDTHS), st.integers(1, 200), st.integers(1, 12),
       st.integers(1, 3), st.none() | st.integers(0, 31), st.booleans(),
       st.sampled_from(ARRAYS))
def test_linear_exact(data: st.DataObject, bits: int, c: int, k: int, n: int,
                      shift: int | None, relu: bool, array: tuple[int, int]) -> None:
    """w @ x + b, raw (mod 2^32) or requantised, for one sample or a batch."""
    x = data.draw(tensors((n, c), bits))
    w = data.draw(tensors((k, c), bits))
    b = data.draw(tensors((k,), 32))
    res = linear(x if n > 1 else x[0], w, b, bits=bits, out_shift=shift, relu=relu,
                         rows=array[0], cols=array[1])
    acc = x.astype(np.int64) @ w.astype(np.int64).T + b
    want = ref.requant(acc, shift, bits, relu)
    np.testing.assert_array_equal(res.y, want if n > 1 else want[0])
    assert res.stats["macs"] == n * w.size


def test_linear_beyond_lm_runs_in_channel_passes() -> None:
    """A fully connected layer of 4000 inputs at 32 bits: 16 KB of weights a channel,
    more than LM: passes over input channel ranges."""
    rng = np.random.default_rng(4)
    x = rng.integers(-2**31, 2**31, (2, 4000))
    w = rng.integers(-2**31, 2**31, (5, 4000))
    res = linear(x, w, bits=32, rows=2, cols=2)
    np.testing.assert_array_equal(res.y, ref.wrap32(x @ w.T))


# ----------------------------------------------------------------------------- planning
def test_plan_is_the_kernels_layout() -> None:
    """The planner's LM buffers fit the machine's LM, the descriptor has its size, and
    the program is assembled once for every layer of a width pair and variant."""
    layer = ConvLayer(64, 128, 3, 3, pad=1, bits=8, out_bits=8, shift=7, relu=True)
    plan = plan_for(layer, 14, 14, 4, 4)
    assert plan.lm_layout()["end"] <= plan.params["lm_size"]
    d = plan.descriptor(0x8040_0000, 0x8050_0000)
    assert len(d) == plan.descriptor_words
    other = plan_for(ConvLayer(3, 5, 1, 1, bits=8, out_bits=8, shift=2, relu=True), 4, 4, 1, 1)
    assert other.program_key == plan.program_key
    assert kernels.program(other.program_key) is kernels.program(plan.program_key)


def test_plan_refuses_a_narrow_border() -> None:
    layer = ConvLayer(4, 4, 3, 3, pad=(1, 1, 1, 1), bits=8, out_bits=32)
    x = Place(0x8000_0000, 1, 5, 5, 4, 8, (1, 0, 1, 1))
    y = Place(0x8010_0000, 1, 5, 5, 4, 32)
    with pytest.raises(ValueError, match="border"):
        plan_conv(layer, x, y)


# ----------------------------------------------------------------------------- errors
X = np.zeros((2, 5, 5), np.int64)
W = np.zeros((3, 2, 3, 3), np.int64)


def _with(a: np.ndarray, value: int) -> np.ndarray:
    a = a.copy()
    a.flat[0] = value
    return a


BAD: dict[str, Callable[[], object]] = {
    "x above 8-bit": lambda: kernels.conv2d(_with(X, 128), W, bits=8),
    "x below 16-bit": lambda: kernels.conv2d(_with(X, -32769), W, bits=16),
    "w below 8-bit": lambda: kernels.conv2d(X, _with(W, -129), bits=8),
    "w above 16-bit": lambda: kernels.conv2d(X, _with(W, 32768), bits=16),
    "x above 32-bit": lambda: kernels.conv2d(_with(X, 2**31), W, bits=32),
    "bias above int32": lambda: kernels.conv2d(X, W, np.array([0, 2**31, 0]), bits=8),
    "channels mismatch": lambda: kernels.conv2d(np.zeros((3, 5, 5), int), W),
    "groups mismatch": lambda: kernels.conv2d(np.zeros((4, 5, 5), int), W, groups=3),
    "weights beyond LM": lambda: kernels.conv2d(np.zeros((128, 3, 3), int),
                                                np.zeros((4, 128, 3, 3), int), bits=32,
                                                lm_size=512),
    "conv bits 2": lambda: kernels.conv2d(X, W, bits=2),
    "x above 4-bit": lambda: kernels.conv2d(_with(X, 8), W, bits=4),
    "w below 4-bit": lambda: kernels.conv2d(X, _with(W, -9), bits=4),
    "clip above 4-bit": lambda: kernels.conv2d(X, W, bits=4, out_shift=2, clip=8),
    "conv bits 12": lambda: kernels.conv2d(X, W, bits=12),
    "out_bits 12": lambda: kernels.conv2d(X, W, out_shift=2, out_bits=12),
    "raw out_bits 8": lambda: kernels.conv2d(X, W, out_bits=8),
    "out_shift -1": lambda: kernels.conv2d(X, W, out_shift=-1),
    "out_shift 32": lambda: kernels.conv2d(X, W, out_shift=32),
    "clip above width": lambda: kernels.conv2d(X, W, out_shift=2, clip=128),
    "clip below 0 with relu": lambda: kernels.conv2d(X, W, out_shift=2, relu=True, clip=-1),
    "kernel > input": lambda: kernels.conv2d(np.zeros((2, 2, 5), int), W),
    "kernel > padded input": lambda: kernels.conv2d(np.zeros((2, 1, 1), int),
                                                    np.zeros((3, 2, 5, 5), int), pad=1),
    "bias too short": lambda: kernels.conv2d(X, W, np.zeros(2, int)),
    "bias 2-D": lambda: kernels.conv2d(X, W, np.zeros((3, 1), int)),
    "float x": lambda: kernels.conv2d(X.astype(np.float32), W),
    "float w": lambda: kernels.conv2d(X, W.astype(np.float64)),
    "float bias": lambda: kernels.conv2d(X, W, np.zeros(3)),
    "bool x": lambda: kernels.conv2d(X.astype(bool), W),
    "x 2-D": lambda: kernels.conv2d(X[0], W),
    "stride 0": lambda: kernels.conv2d(X, W, stride=0),
    "pad -1": lambda: kernels.conv2d(X, W, pad=-1),
    "pad 3 values": lambda: kernels.conv2d(X, W, pad=(1, 1, 1)),
    "rounding": lambda: kernels.conv2d(X, W, out_shift=2, rounding="up"),
    "overflow mode": lambda: kernels.conv2d(X, W, overflow="saturate"),
    "overflow would wrap": lambda: kernels.conv2d(np.full((2, 5, 5), -2**31), np.full(
        (3, 2, 3, 3), -2**31), bits=32),
    "linear mismatch": lambda: kernels.linear(np.zeros(5, int), np.zeros((3, 4), int),
                                              np.zeros(3, int)),
    "linear bits 64": lambda: kernels.linear(np.zeros(4, int), np.zeros((3, 4), int),
                                             np.zeros(3, int), bits=64),
    "linear x above 8-bit": lambda: kernels.linear(np.full(4, 200), np.zeros((3, 4), int),
                                                   np.zeros(3, int), bits=8),
    "linear float": lambda: kernels.linear(np.zeros(4), np.zeros((3, 4), int),
                                           np.zeros(3, int)),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_arguments_raise_valueerror(name: str) -> None:
    with pytest.raises(ValueError):
        BAD[name]()


def test_width_flags_follow_the_isa_table_and_refuse_missing_arms() -> None:
    """One flag per lane width of the ISA, 1 for the chosen one; a width of the table the
    kernels have no arm for is refused by name (never assembled with no arm taken), and so
    is a width the table lacks."""
    from pearray.isa import load
    from pearray.kernels.launch import width_flags

    widths = sorted(g.bits for g in load().granules.values())
    flags = width_flags(16, "IS")
    assert flags == {f"IS{b}": int(b == 16) for b in widths}
    assert width_flags(4, "IN") == {f"IN{b}": int(b == 4) for b in widths}
    with pytest.raises(ValueError, match="no 4-bit arm"):
        width_flags(4, arms=(8, 16, 32))
    assert width_flags(8, "PACK", arms=(8,))["PACK8"] == 1
    with pytest.raises(ValueError, match="no 16-bit arm"):
        width_flags(16, arms=(8, 32))
    with pytest.raises(ValueError, match="not 12"):
        width_flags(12)
