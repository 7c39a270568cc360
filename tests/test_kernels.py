"""The assembly kernels (conv.s, maxpool.s, requant.s) against an independent numpy model.

Every kernel result is compared bit for bit with a reference written here from the
maths alone (np.pad + a loop over kernel taps, matmul, reshape/max, floor division),
not from the drivers' packing code: a layout bug in the driver and the same bug in a
reference that reused it would otherwise cancel out.  Accumulators are compared
modulo 2^32 because the kernels accumulate in int32 with wrap-around.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pearray import kernels

WIDTHS = (8, 16, 32)
ARRAYS = ((1, 1), (2, 2), (4, 4), (2, 3), (3, 1))
# A kernel run costs milliseconds: afford 4x the "ci" profile's examples (never fewer
# than the loaded profile asks for, so "thorough" stays thorough).
MANY = settings(max_examples=max(240, settings.default.max_examples))


# ----------------------------------------------------------------------------- reference
def lim(bits: int) -> tuple[int, int]:
    """Signed range of a `bits`-wide lane."""
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def wrap32(a: np.ndarray) -> np.ndarray:
    """Low 32 bits as int32: what an int32 accumulator with wrap-around holds.

    int64 arithmetic in numpy itself wraps modulo 2^64, a multiple of 2^32, so the
    low 32 bits of an int64 reference are exact even where int64 overflowed.
    """
    return (np.asarray(a, np.int64) & 0xFFFFFFFF).astype(np.uint32).view(np.int32)


def ref_conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: int,
               pad: int) -> np.ndarray:
    """Integer correlation in int64, one kernel tap at a time."""
    x = np.asarray(x, np.int64)
    w = np.asarray(w, np.int64)
    k, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    ho = (xp.shape[1] - kh) // stride + 1
    wo = (xp.shape[2] - kw) // stride + 1
    y = np.zeros((k, ho, wo), np.int64)
    if b is not None:
        y += np.asarray(b, np.int64)[:, None, None]
    for dy in range(kh):
        for dx in range(kw):
            ys = slice(dy, dy + stride * (ho - 1) + 1, stride)
            xs = slice(dx, dx + stride * (wo - 1) + 1, stride)
            y += np.einsum("kc,chw->khw", w[:, :, dy, dx], xp[:, ys, xs])
    return y


def relu_clip(q: np.ndarray, bits: int, relu: bool) -> np.ndarray:
    """ReLU (if asked) then saturation to the output width."""
    if relu:
        q = np.maximum(q, 0)
    return np.clip(q, *lim(bits))


def ref_requant(acc: np.ndarray, shift: int, bits: int, relu: bool) -> np.ndarray:
    """floor((acc + 2^(s-1)) / 2^s) of the int32 accumulator, ReLU, clip to the width."""
    a = wrap32(acc).astype(np.int64)
    q = a if shift == 0 else np.floor_divide(a + (1 << (shift - 1)), 1 << shift)
    return relu_clip(q, bits, relu)


def stochastic_bounds(acc: np.ndarray, shift: int, bits: int, relu: bool
                      ) -> tuple[np.ndarray, np.ndarray]:
    """The two results stochastic rounding may give: floor and ceil of acc / 2^s."""
    a = wrap32(acc).astype(np.int64)
    lo = np.floor_divide(a, 1 << shift)
    hi = -np.floor_divide(-a, 1 << shift)
    return relu_clip(lo, bits, relu), relu_clip(hi, bits, relu)


def ref_maxpool(x: np.ndarray) -> np.ndarray:
    """2x2/2 max pooling, odd last row/column dropped."""
    c, h, w = x.shape
    ho, wo = h // 2, w // 2
    return x[:, :2 * ho, :2 * wo].reshape(c, ho, 2, wo, 2).max(axis=(2, 4))


# ----------------------------------------------------------------------------- strategies
MODES = ("uniform", "extremes", "min", "max", "small")


@st.composite
def tensors(draw: st.DrawFn, shape: tuple[int, ...], bits: int) -> np.ndarray:
    """Integers of the width: uniform, only the range's edges, constant min/max, or small.

    Values come from a numpy generator seeded by hypothesis (cheap for hundreds of
    elements, and a failure is still reproduced from the drawn seed); the modes make
    sure the width's extremes show up in whole tensors, not as rare single elements.
    """
    lo, hi = lim(bits)
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
    """A conv layer: shapes, stride, pad, width, array, data (bias optional)."""
    bits = draw(st.sampled_from(WIDTHS))
    c = draw(st.integers(1, 8))
    k = draw(st.integers(1, 9))
    kh = draw(st.integers(1, 5))
    kw = draw(st.integers(1, 5))
    pad = draw(st.integers(0, 2))
    stride = draw(st.integers(1, 3))
    h = draw(st.integers(max(1, kh - 2 * pad), 10))
    w = draw(st.integers(max(1, kw - 2 * pad), 10))
    b = draw(st.none() | tensors((k,), 32))
    return {
        "x": draw(tensors((c, h, w), bits)), "w": draw(tensors((k, c, kh, kw), bits)), "b": b,
        "stride": stride, "pad": pad, "bits": bits, "array": draw(st.sampled_from(ARRAYS)),
    }


def run_conv(case: dict, **kw: object) -> kernels.KernelResult:
    rows, cols = case["array"]
    return kernels.conv2d(case["x"], case["w"], case["b"], stride=case["stride"],
                          pad=case["pad"], bits=case["bits"], rows=rows, cols=cols, **kw)


def describe(case: dict) -> str:
    """Shape summary for failure messages (hypothesis prints the tensors anyway)."""
    return (f"x{case['x'].shape} w{case['w'].shape} bias={case['b'] is not None} "
            f"stride={case['stride']} pad={case['pad']} bits={case['bits']} "
            f"array={case['array']}")


# ----------------------------------------------------------------------------- conv2d
@MANY
@given(conv_cases(), st.booleans())
def test_conv2d_accumulator_exact(case: dict, relu: bool) -> None:
    """Raw int32 accumulators equal integer correlation mod 2^32 (ReLU'd if asked);
    the counters add up."""
    res = run_conv(case, relu=relu)
    ref = ref_conv2d(case["x"], case["w"], case["b"], case["stride"], case["pad"])
    assert res.y.dtype == np.int32
    assert res.y.shape == ref.shape, describe(case)
    np.testing.assert_array_equal(res.y, relu_clip(wrap32(ref), 32, relu),
                                  err_msg=f"{describe(case)} relu={relu}")

    k, c, kh, kw = case["w"].shape
    _, ho, wo = ref.shape
    st_ = res.stats
    assert st_["macs"] == k * ho * wo * c * kh * kw
    assert st_["lane_macs"] >= st_["macs"]
    assert st_["loads"]["gm"] > 0 and st_["stores"]["gm"] > 0
    assert st_["cycles"] == res.cycles > 0
    assert 0 < st_["utilisation"] <= 1


@MANY
@given(conv_cases(), st.integers(0, 31), st.booleans())
def test_conv2d_requantised_exact(case: dict, shift: int, relu: bool) -> None:
    """Fused requantisation: round half up, ReLU, saturation to the input width."""
    res = run_conv(case, out_shift=shift, relu=relu)
    acc = ref_conv2d(case["x"], case["w"], case["b"], case["stride"], case["pad"])
    np.testing.assert_array_equal(res.y, ref_requant(acc, shift, case["bits"], relu),
                                  err_msg=f"{describe(case)} shift={shift} relu={relu}")


@MANY
@given(conv_cases(), st.integers(1, 31), st.booleans(), st.integers(1, 2**31 - 1))
def test_conv2d_stochastic_bounded_and_reproducible(case: dict, shift: int, relu: bool,
                                                    seed: int) -> None:
    """Stochastic rounding gives floor or ceil of the exact quotient, the same for a seed."""
    res = run_conv(case, out_shift=shift, relu=relu, rounding="stochastic", seed=seed)
    acc = ref_conv2d(case["x"], case["w"], case["b"], case["stride"], case["pad"])
    lo, hi = stochastic_bounds(acc, shift, case["bits"], relu)
    y = res.y.astype(np.int64)
    assert np.all((y == lo) | (y == hi)), describe(case)
    again = run_conv(case, out_shift=shift, relu=relu, rounding="stochastic", seed=seed)
    np.testing.assert_array_equal(res.y, again.y)


@pytest.mark.parametrize("array", ARRAYS, ids=lambda a: f"{a[0]}x{a[1]}")
@pytest.mark.parametrize("bits", WIDTHS)
@pytest.mark.parametrize("xv, wv", [("lo", "lo"), ("lo", "hi"), ("hi", "hi"), ("lo", -1)])
def test_conv2d_width_extremes(bits: int, array: tuple[int, int], xv: object,
                               wv: object) -> None:
    """Whole tensors at the range's edges, e.g. (-2^31)*(-2^31) summed, which wraps to 0."""
    lo, hi = lim(bits)
    pick = {"lo": lo, "hi": hi}
    x = np.full((3, 5, 6), pick.get(xv, xv), np.int64)
    w = np.full((5, 3, 3, 2), pick.get(wv, wv), np.int64)
    b = np.array([lo, hi, 0, -1, 1], np.int64) if bits == 32 else None
    res = kernels.conv2d(x, w, b, pad=1, bits=bits, rows=array[0], cols=array[1])
    np.testing.assert_array_equal(res.y, wrap32(ref_conv2d(x, w, b, 1, 1)))
    res = kernels.conv2d(x, w, b, pad=1, bits=bits, out_shift=bits - 1, relu=False,
                         rows=array[0], cols=array[1])
    np.testing.assert_array_equal(res.y, ref_requant(ref_conv2d(x, w, b, 1, 1), bits - 1,
                                                     bits, False))


def test_conv2d_16x16_smoke() -> None:
    """The full chip: more PEs than tasks, most of them idle."""
    rng = np.random.default_rng(16)
    x = rng.integers(-128, 128, (4, 8, 8))
    w = rng.integers(-128, 128, (8, 4, 3, 3))
    b = rng.integers(-1000, 1000, 8)
    res = kernels.conv2d(x, w, b, pad=1, bits=8, rows=16, cols=16)
    ref = ref_conv2d(x, w, b, 1, 1)
    np.testing.assert_array_equal(res.y, wrap32(ref))
    res = kernels.conv2d(x, w, b, pad=1, bits=8, out_shift=9, relu=True, rows=16, cols=16)
    np.testing.assert_array_equal(res.y, ref_requant(ref, 9, 8, True))
    pooled = kernels.maxpool2d(res.y, bits=8, rows=16, cols=16)
    np.testing.assert_array_equal(pooled.y, ref_maxpool(res.y))
    req = kernels.requantize(ref, 7, bits=16, rows=16, cols=16)
    np.testing.assert_array_equal(req.y, ref_requant(ref, 7, 16, False))


def test_conv2d_without_sm_staging_and_with_gm_shared_once() -> None:
    """Two mappings of conv.s: the blob (weights and strips) copied to SM once, each GM
    word read once; and, for a blob larger than SM, every PE's DMA reading GM itself."""
    rng = np.random.default_rng(7)
    # 10 strip rows x 30 columns x 60 words: 18000 words, more than SM's 16384
    x = rng.integers(-2**31, 2**31, (20, 12, 30), dtype=np.int64)
    w = rng.integers(-2**31, 2**31, (3, 20, 3, 1), dtype=np.int64)
    res = kernels.conv2d(x, w, bits=32, rows=16, cols=16)
    np.testing.assert_array_equal(res.y, wrap32(ref_conv2d(x, w, None, 1, 0)))
    assert res.stats["loads"]["sm"] == res.stats["stores"]["sm"] == 0
    assert res.stats["loads"]["gm"] > 10 * 30 * 60  # strip rows are read by several PEs
    # shared: every strip and weight word is read from GM exactly once, into SM
    x = rng.integers(-128, 128, (6, 9, 9))
    w = rng.integers(-128, 128, (8, 6, 3, 3))
    res = kernels.conv2d(x, w, bits=8)
    np.testing.assert_array_equal(res.y, ref_conv2d(x, w, None, 1, 0))
    strip_words = 7 * 9 * 5  # HO x WP x ceil(3*6 / 4)
    weight_words = 8 * 3 * 5 + 8  # 4*KB channels x KW*DW, and the biases
    out_words = 7 * 7 * 8  # int32 out: HO x WO x 4*KB
    assert res.stats["loads"]["gm"] == strip_words + weight_words
    assert res.stats["stores"]["sm"] == strip_words + weight_words
    assert res.stats["stores"]["gm"] == out_words


@pytest.mark.parametrize("stride", [1, 2])
def test_conv2d_rows_wider_than_lm_run_in_tiles(stride: int) -> None:
    """A 32-bit row of 16 channels x 3 rows x 66 columns (two strips: 25 KiB) does not
    fit the 16 KiB LM twice: the kernel computes it in tiles of fewer pixels."""
    from pearray.kernels.conv import tile_width

    rng = np.random.default_rng(11)
    x = rng.integers(-2**31, 2**31, (16, 6, 64), dtype=np.int64)
    w = rng.integers(-2**31, 2**31, (5, 16, 3, 3), dtype=np.int64)
    wo = (64 + 2 - 3) // stride + 1
    tw = tile_width(16384, 3 * 48, wo, 4, stride, 3, 48)
    assert 0 < tw < wo
    res = kernels.conv2d(x, w, stride=stride, pad=1, bits=32, rows=2, cols=3)
    np.testing.assert_array_equal(res.y, wrap32(ref_conv2d(x, w, None, stride, 1)))


@pytest.mark.parametrize("array", [(4, 4), (2, 3), (16, 16)], ids=lambda a: f"{a[0]}x{a[1]}")
def test_conv2d_work_is_balanced(array: tuple[int, int]) -> None:
    """Each PE computes the same number of (pixel, 4-channel) units, give or take one:
    LeNet-5's conv2 (400 units) on 16 PEs gives every PE exactly 25."""
    rng = np.random.default_rng(3)
    x = rng.integers(-128, 128, (6, 14, 14))
    w = rng.integers(-128, 128, (16, 6, 5, 5))
    res = kernels.conv2d(x, w, bits=8, rows=array[0], cols=array[1])
    np.testing.assert_array_equal(res.y, ref_conv2d(x, w, None, 1, 0))
    unit = 4 * 5 * 8 * 4  # 4 channels x R words x 4 lanes
    macs = [p.macs for p in res.run.pes]
    assert sum(macs) == 400 * unit
    pes = array[0] * array[1]
    assert sorted(set(macs)) == sorted({400 // pes * unit, -(-400 // pes) * unit})


# ----------------------------------------------------------------------------- linear
@st.composite
def linear_cases(draw: st.DrawFn) -> dict:
    bits = draw(st.sampled_from(WIDTHS))
    c = draw(st.integers(1, 64))
    k = draw(st.integers(1, 12))
    return {"x": draw(tensors((c,), bits)), "w": draw(tensors((k, c), bits)),
            "b": draw(tensors((k,), 32)), "bits": bits, "array": draw(st.sampled_from(ARRAYS))}


@MANY
@given(linear_cases(), st.none() | st.integers(0, 31), st.booleans())
def test_linear_exact(case: dict, shift: int | None, relu: bool) -> None:
    """w @ x + b, raw (mod 2^32, ReLU'd if asked) or requantised."""
    rows, cols = case["array"]
    res = kernels.linear(case["x"], case["w"], case["b"], bits=case["bits"], out_shift=shift,
                         relu=relu, rows=rows, cols=cols)
    acc = case["w"] @ case["x"] + case["b"]
    want = (relu_clip(wrap32(acc), 32, relu) if shift is None
            else ref_requant(acc, shift, case["bits"], relu))
    assert res.y.shape == (case["w"].shape[0],)
    np.testing.assert_array_equal(res.y, want)
    assert res.stats["macs"] == case["w"].size


# ----------------------------------------------------------------------------- maxpool
@MANY
@given(st.data(), st.sampled_from(WIDTHS), st.sampled_from(ARRAYS), st.integers(1, 9),
       st.integers(2, 10), st.integers(2, 10))
def test_maxpool2d_exact(data: st.DataObject, bits: int, array: tuple[int, int], c: int,
                         h: int, w: int) -> None:
    """2x2/2 max per lane, odd edges dropped, at every width."""
    x = data.draw(tensors((c, h, w), bits))
    res = kernels.maxpool2d(x, bits=bits, rows=array[0], cols=array[1])
    np.testing.assert_array_equal(res.y, ref_maxpool(x))
    assert res.stats["loads"]["gm"] > 0


@pytest.mark.parametrize("array", [(1, 1), (4, 4), (2, 3)], ids=lambda a: f"{a[0]}x{a[1]}")
def test_maxpool2d_wide_rows_in_tiles_read_gm_once(array: tuple[int, int]) -> None:
    """64 channels at 32 bits: a row of 16 output pixels needs tiles (LM holds 7); the
    result is exact and every input word is read from GM once, every output word
    written once."""
    rng = np.random.default_rng(2)
    x = rng.integers(-2**31, 2**31, (64, 6, 32), dtype=np.int64)
    res = kernels.maxpool2d(x, bits=32, rows=array[0], cols=array[1])
    np.testing.assert_array_equal(res.y, ref_maxpool(x))
    assert res.stats["loads"]["gm"] == x.size
    assert res.stats["stores"]["gm"] == x.size // 4


# ----------------------------------------------------------------------------- requantize
@MANY
@given(st.data(), st.sampled_from(WIDTHS), st.sampled_from(ARRAYS), st.integers(0, 31),
       st.booleans(), st.lists(st.integers(1, 5), min_size=1, max_size=3))
def test_requantize_nearest_exact(data: st.DataObject, bits: int, array: tuple[int, int],
                                  shift: int, relu: bool, shape: list[int]) -> None:
    """Any int32 accumulator, extremes included, any shape, round half up."""
    acc = data.draw(tensors(tuple(shape), 32))
    res = kernels.requantize(acc, shift, bits=bits, relu=relu, rows=array[0], cols=array[1])
    assert res.y.shape == acc.shape
    np.testing.assert_array_equal(res.y, ref_requant(acc, shift, bits, relu))


@MANY
@given(st.data(), st.sampled_from(WIDTHS), st.sampled_from(ARRAYS), st.integers(0, 31),
       st.booleans(), st.integers(1, 60), st.integers(1, 2**31 - 1))
def test_requantize_stochastic_bounded(data: st.DataObject, bits: int, array: tuple[int, int],
                                       shift: int, relu: bool, n: int, seed: int) -> None:
    """Each value becomes floor or ceil of acc / 2^s (then ReLU, saturation)."""
    acc = data.draw(tensors((n,), 32))
    res = kernels.requantize(acc, shift, bits=bits, relu=relu, rounding="stochastic",
                             seed=seed, rows=array[0], cols=array[1])
    lo, hi = stochastic_bounds(acc, shift, bits, relu)
    y = res.y.astype(np.int64)
    assert np.all((y == lo) | (y == hi))


def big_acc(n: int = 4096) -> np.ndarray:
    return np.random.default_rng(7).integers(-(1 << 20), 1 << 20, n)


@pytest.mark.parametrize("array", [(1, 1), (4, 4), (2, 3)], ids=lambda a: f"{a[0]}x{a[1]}")
def test_requantize_stochastic_seeds(array: tuple[int, int]) -> None:
    """Same seed, same result; another seed, another result."""
    acc = big_acc()

    def run(seed: int) -> np.ndarray:
        return kernels.requantize(acc, 8, bits=32, rounding="stochastic", seed=seed,
                                  rows=array[0], cols=array[1]).y

    a, b = run(1), run(1)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, run(2))


@pytest.mark.parametrize("shift", [1, 4, 8, 12])
def test_requantize_stochastic_unbiased(shift: int) -> None:
    """Stochastic rounding's point: the mean error is ~0 where flooring's is -1/2.

    16384 values, 1024 per PE of a 4x4 array: enough to dilute the start-up bias of
    the PEs' LFSRs (see the xfail test below) well under the tolerance.
    """
    acc = big_acc(16384)
    exact = acc / (1 << shift)
    y = kernels.requantize(acc, shift, bits=32, rounding="stochastic", seed=3).y
    err = y.astype(np.float64) - exact
    assert np.all(np.abs(err) < 1)
    # error in (-1, 1) with variance <= 1/4: 16384 values put the mean's sd below 0.004
    assert abs(err.mean()) < 0.04, err.mean()
    # a constant fraction (.75, or .5 at shift 1) must round up that often on average
    frac = np.full(16384, (5 << shift) + max(1, (3 << shift) >> 2))
    y = kernels.requantize(frac, shift, bits=32, rounding="stochastic", seed=5).y
    assert abs(y.mean() - frac[0] / (1 << shift)) < 0.04


def test_requantize_stochastic_unbiased_small_tensor() -> None:
    """A layer-sized tensor (16 values per PE) must be unbiased too, not only big ones."""
    acc = big_acc(256)
    err = [kernels.requantize(acc, 8, bits=32, rounding="stochastic", seed=seed).y
           - acc / 256 for seed in (1, 2, 3)]
    assert abs(np.mean(err)) < 0.15, np.mean(err)


def test_requantize_stochastic_conv_seeds_differ() -> None:
    """The conv epilogue's LFSR follows its seed too."""
    rng = np.random.default_rng(11)
    x = rng.integers(-128, 128, (4, 8, 8))
    w = rng.integers(-128, 128, (8, 4, 3, 3))

    def run(seed: int) -> np.ndarray:
        return kernels.conv2d(x, w, pad=1, out_shift=8, rounding="stochastic", seed=seed).y

    assert not np.array_equal(run(1), run(2))


# ----------------------------------------------------------------------------- counters
LAYERS = {
    "c4k8_3x3_8x8": ((4, 8, 8), (8, 4, 3, 3), 1),
    "c1k8_3x3_8x8": ((1, 8, 8), (8, 1, 3, 3), 1),
    "c6k16_5x5_14x14": ((6, 14, 14), (16, 6, 5, 5), 0),
}


@pytest.mark.parametrize("shift", [None, 6])
@pytest.mark.parametrize("array", [(4, 4), (2, 3)], ids=lambda a: f"{a[0]}x{a[1]}")
@pytest.mark.parametrize("layer", list(LAYERS))
def test_narrower_width_fewer_gm_accesses(layer: str, array: tuple[int, int],
                                          shift: int | None) -> None:
    """Same layer: 8-bit moves fewer GM words than 16-bit, which moves fewer than 32-bit."""
    xs, ws, pad = LAYERS[layer]
    rng = np.random.default_rng(5)
    gm = {}
    for bits in WIDTHS:
        x = rng.integers(-100, 100, xs)
        w = rng.integers(-100, 100, ws)
        res = kernels.conv2d(x, w, pad=pad, bits=bits, out_shift=shift,
                             rows=array[0], cols=array[1])
        s = res.stats
        gm[bits] = s["loads"]["gm"] + s["stores"]["gm"]
        assert s["macs"] == ws[0] * ws[1] * ws[2] * ws[3] * res.y.shape[1] * res.y.shape[2]
    assert gm[8] < gm[16] < gm[32], gm


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
    "weights beyond LM": lambda: kernels.conv2d(np.zeros((128, 3, 3), int),
                                                np.zeros((4, 128, 3, 3), int), bits=32),
    "conv bits 4": lambda: kernels.conv2d(X, W, bits=4),
    "conv bits 12": lambda: kernels.conv2d(X, W, bits=12),
    "out_shift -1": lambda: kernels.conv2d(X, W, out_shift=-1),
    "out_shift 32": lambda: kernels.conv2d(X, W, out_shift=32),
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
    "rounding": lambda: kernels.conv2d(X, W, out_shift=2, rounding="up"),
    "linear mismatch": lambda: kernels.linear(np.zeros(5, int), np.zeros((3, 4), int),
                                              np.zeros(3, int)),
    "linear bits 4": lambda: kernels.linear(np.zeros(4, int), np.zeros((3, 4), int),
                                            np.zeros(3, int), bits=4),
    "linear x above 8-bit": lambda: kernels.linear(np.full(4, 200), np.zeros((3, 4), int),
                                                   np.zeros(3, int), bits=8),
    "linear float": lambda: kernels.linear(np.zeros(4), np.zeros((3, 4), int),
                                           np.zeros(3, int)),
    "maxpool bits 12": lambda: kernels.maxpool2d(X, bits=12),
    "maxpool above 8-bit": lambda: kernels.maxpool2d(_with(X, 128), bits=8),
    "maxpool float": lambda: kernels.maxpool2d(X.astype(np.float64)),
    "maxpool too small": lambda: kernels.maxpool2d(np.zeros((2, 1, 4), int)),
    "requant bits 4": lambda: kernels.requantize(np.zeros(4, int), 2, bits=4),
    "requant shift -1": lambda: kernels.requantize(np.zeros(4, int), -1),
    "requant shift 32": lambda: kernels.requantize(np.zeros(4, int), 32),
    "requant above int32": lambda: kernels.requantize(np.array([2**31]), 2),
    "requant below int32": lambda: kernels.requantize(np.array([-(2**31) - 1]), 2),
    "requant float": lambda: kernels.requantize(np.zeros(4), 2),
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
    from pearray.kernels.runner import width_flags

    widths = sorted(g.bits for g in load().granules.values())
    flags = width_flags(16, "IS")
    assert flags == {f"IS{b}": int(b == 16) for b in widths}
    assert width_flags(8, "PACK", arms=(8,))["PACK8"] == 1
    with pytest.raises(ValueError, match="no 16-bit arm"):
        width_flags(16, arms=(8, 32))
    with pytest.raises(ValueError, match="not 12"):
        width_flags(12)
