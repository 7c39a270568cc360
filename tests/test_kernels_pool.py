"""pool.s and eltwise.s (pooling, add, convert, requantize) against kernels_ref."""

from __future__ import annotations

from collections.abc import Callable

import kernels_ref as ref
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pearray import kernels

WIDTHS = (4, 8, 16, 32)
ARRAYS = ((1, 1), (2, 2), (4, 4), (2, 3))
MANY = settings(max_examples=2 * settings.default.max_examples)


def values(rng: np.random.Generator, shape: tuple[int, ...], bits: int, mode: int
           ) -> np.ndarray:
    lo, hi = ref.lim(bits)
    if mode == 0:
        return rng.integers(lo, hi, shape, endpoint=True)
    if mode == 1:
        return rng.choice(np.array([lo, lo + 1, -1, 0, 1, hi - 1, hi], np.int64), shape)
    return rng.integers(-3, 3, shape, endpoint=True)


@st.composite
def pool_cases(draw: st.DrawFn) -> dict:
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    pad = (draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1)),
           draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1)))
    h = draw(st.integers(max(1, kh - pad[0] - pad[2]), 9))
    w = draw(st.integers(max(1, kw - pad[1] - pad[3]), 9))
    bits = draw(st.sampled_from(WIDTHS))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = values(rng, (draw(st.integers(1, 2)), draw(st.integers(1, 11)), h, w), bits,
               draw(st.integers(0, 2)))
    return {"x": x, "kh": kh, "kw": kw, "pad": pad, "bits": bits,
            "stride": (draw(st.integers(1, 3)), draw(st.integers(1, 3))),
            "array": draw(st.sampled_from(ARRAYS)),
            "lm": draw(st.sampled_from((16384, 16384, 1024)))}


def fits(call: Callable[[], kernels.KernelResult]) -> kernels.KernelResult:
    try:
        return call()
    except ValueError as e:  # a window too big for the small LM drawn: not a case
        assume("LM" not in str(e))
        raise


@MANY
@given(pool_cases())
def test_maxpool_exact(case: dict) -> None:
    """Any window, stride and asymmetric padding; padding never counts."""
    rows, cols = case["array"]
    res = fits(lambda: kernels.maxpool2d(
        case["x"], kernel=(case["kh"], case["kw"]), stride=case["stride"], pad=case["pad"],
        bits=case["bits"], rows=rows, cols=cols, lm_size=case["lm"]))
    want = ref.maxpool(case["x"], case["kh"], case["kw"], case["stride"], case["pad"])
    np.testing.assert_array_equal(res.y, want)
    assert res.stats["loads"]["gm"] > 0


@MANY
@given(pool_cases(), st.sampled_from(WIDTHS), st.integers(0, 14), st.booleans(),
       st.integers(0, 2**32 - 1))
def test_avgpool_exact(case: dict, out_bits: int, shift: int, by_count: bool,
                       seed: int) -> None:
    """rshr(sum * m, s), saturated to any output width; m one multiplier or one per
    count of valid positions (count_include_pad=0 with padding)."""
    rows, cols = case["array"]
    rng = np.random.default_rng(seed)
    n = case["kh"] * case["kw"]
    mult = [int(v) for v in rng.integers(-400, 400, n)] if by_count else int(
        rng.integers(-400, 400))
    res = fits(lambda: kernels.avgpool2d(
        case["x"], kernel=(case["kh"], case["kw"]), stride=case["stride"], pad=case["pad"],
        bits=case["bits"], out_bits=out_bits, mult=mult, shift=shift, rows=rows, cols=cols,
        lm_size=case["lm"]))
    want = ref.avgpool(case["x"], case["kh"], case["kw"], case["stride"], case["pad"], mult,
                       shift, out_bits)
    np.testing.assert_array_equal(res.y, want)


@pytest.mark.parametrize("count_include_pad", [False, True])
def test_avgpool_default_divisor_is_onnx(count_include_pad: bool) -> None:
    """Without m and s, the reciprocal of ONNX's divisor: within rounding of the mean."""
    x = np.random.default_rng(1).integers(-100, 100, (1, 5, 6, 6))
    res = kernels.avgpool2d(x, kernel=3, stride=1, pad=1, bits=16,
                            count_include_pad=count_include_pad)
    xp = np.pad(x.astype(float), ((0, 0), (0, 0), (1, 1), (1, 1)))
    ones = np.pad(np.ones_like(x, float), ((0, 0), (0, 0), (1, 1), (1, 1)))
    s = sum(xp[:, :, dy:dy + 6, dx:dx + 6] for dy in range(3) for dx in range(3))
    cnt = 9 if count_include_pad else sum(ones[:, :, dy:dy + 6, dx:dx + 6]
                                          for dy in range(3) for dx in range(3))
    assert np.abs(res.y - s / cnt).max() <= 1


@pytest.mark.parametrize("bits", WIDTHS)
def test_global_avgpool_many_channels(bits: int) -> None:
    """ResNet's head: 7x7 of many channels, chunked over PEs; and a 2x3 array."""
    rng = np.random.default_rng(bits)
    x = rng.integers(*ref.lim(bits), (2, 300, 7, 7), endpoint=True)
    m, s = kernels.avg_multiplier(49)
    out_bits = bits if bits <= 8 else 16
    res = kernels.global_avgpool(x, bits=bits, out_bits=out_bits, rows=2, cols=3)
    want = ref.avgpool(x, 7, 7, (1, 1), (0, 0, 0, 0), m, s, out_bits)
    np.testing.assert_array_equal(res.y, want)
    assert res.y.shape == (2, 300, 1, 1)


def test_maxpool_16x16_and_default_2x2() -> None:
    """The old call maxpool2d(x, bits=...): 2x2 stride 2, odd edges dropped; 16x16 PEs."""
    x = np.random.default_rng(5).integers(-128, 128, (9, 11, 13))
    res = kernels.maxpool2d(x, bits=8, rows=16, cols=16)
    np.testing.assert_array_equal(res.y, ref.maxpool(x[None], 2, 2, (2, 2), (0,) * 4)[0])


@pytest.mark.parametrize("bits, out_bits", [(4, 4), (8, 4), (8, 8), (16, 32), (32, 16)])
def test_avgpool_multiplier_zero(bits: int, out_bits: int) -> None:
    """A multiplier of 0 gives 0 (the descriptor's 0 means "by count": it goes in a table,
    one entry a count, instead of reading a table that is not there)."""
    x = np.random.default_rng(bits).integers(*ref.lim(bits), (2, 5, 4, 5), endpoint=True)
    res = kernels.avgpool2d(x, kernel=2, stride=2, pad=(1, 0, 0, 1), bits=bits,
                            out_bits=out_bits, mult=0, shift=3, rows=2, cols=2)
    np.testing.assert_array_equal(res.y, np.zeros_like(res.y))
    np.testing.assert_array_equal(res.y, ref.avgpool(x, 2, 2, (2, 2), (1, 0, 0, 1), 0, 3,
                                                     out_bits))


# ----------------------------------------------------------------------------- add / convert
@st.composite
def eltwise_cases(draw: st.DrawFn) -> dict:
    bits = draw(st.sampled_from(WIDTHS))
    fast = draw(st.booleans())
    out_bits = bits if fast else draw(st.sampled_from(WIDTHS))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 19)), draw(st.integers(1, 5)),
             draw(st.integers(1, 9)))
    mode = draw(st.integers(0, 2))
    relu = draw(st.booleans())
    lo = 0 if relu else ref.lim(out_bits)[0]
    return {"a": values(rng, shape, bits, mode), "b": values(rng, shape, bits, mode),
            "bits": bits, "out_bits": out_bits,
            "sa": 0 if fast else draw(st.integers(0, 9)),
            "sb": 0 if fast else draw(st.integers(0, 9)),
            "shift": 0 if fast else draw(st.integers(0, 20)), "relu": relu,
            "clip": draw(st.none() | st.integers(lo, ref.lim(out_bits)[1])),
            "array": draw(st.sampled_from(ARRAYS)),
            "lm": draw(st.sampled_from((16384, 16384, 700)))}


@MANY
@given(eltwise_cases())
def test_add_exact(case: dict) -> None:
    """clamp(rshr((a << sa) + (b << sb), s)), the sum wrapping like int32; with every
    shift 0 and one width, the saturating lane add gives the same."""
    rows, cols = case["array"]
    res = fits(lambda: kernels.add(
        case["a"], case["b"], bits=case["bits"], out_bits=case["out_bits"], sa=case["sa"],
        sb=case["sb"], shift=case["shift"], relu=case["relu"], clip=case["clip"], rows=rows,
        cols=cols, lm_size=case["lm"]))
    want = ref.eltwise(case["a"], case["b"], case["sa"], case["sb"], case["shift"],
                       case["out_bits"], case["relu"], case["clip"])
    np.testing.assert_array_equal(res.y, want)


@MANY
@given(eltwise_cases())
def test_convert_exact(case: dict) -> None:
    """One input: a width and/or fl change."""
    rows, cols = case["array"]
    res = fits(lambda: kernels.convert(
        case["a"], bits=case["bits"], out_bits=case["out_bits"], sa=case["sa"],
        shift=case["shift"], relu=case["relu"], clip=case["clip"], rows=rows, cols=cols,
        lm_size=case["lm"]))
    want = ref.eltwise(case["a"], None, case["sa"], 0, case["shift"], case["out_bits"],
                       case["relu"], case["clip"])
    np.testing.assert_array_equal(res.y, want)


def test_add_many_channels_in_slices() -> None:
    """A pixel of 3000 int32 channels does not fit LM twice: channel slices, one launch
    each."""
    rng = np.random.default_rng(2)
    a = rng.integers(-2**31, 2**31, (1, 3000, 2, 2))
    b = rng.integers(-2**31, 2**31, (1, 3000, 2, 2))
    res = kernels.add(a, b, bits=32, out_bits=16, sb=1, shift=17, rows=2, cols=2)
    np.testing.assert_array_equal(res.y, ref.eltwise(a, b, 0, 1, 17, 16))


# ----------------------------------------------------------------------------- requantize
@MANY
@given(st.data(), st.sampled_from(WIDTHS), st.sampled_from(ARRAYS), st.integers(0, 31),
       st.booleans(), st.lists(st.integers(1, 5), min_size=1, max_size=3))
def test_requantize_nearest_exact(data: st.DataObject, bits: int, array: tuple[int, int],
                                  shift: int, relu: bool, shape: list[int]) -> None:
    """Any int32 accumulator, extremes included, any shape, round half up."""
    seed = data.draw(st.integers(0, 2**32 - 1))
    acc = values(np.random.default_rng(seed), tuple(shape), 32, data.draw(st.integers(0, 2)))
    res = kernels.requantize(acc, shift, bits=bits, relu=relu, rows=array[0], cols=array[1])
    assert res.y.shape == acc.shape
    np.testing.assert_array_equal(res.y, ref.requant(acc, shift, bits, relu))


@pytest.mark.parametrize("array", [(1, 1), (4, 4), (2, 3)], ids=lambda a: f"{a[0]}x{a[1]}")
def test_requantize_stochastic_bounded_and_seeded(array: tuple[int, int]) -> None:
    """floor or ceil; the same for a seed, another for another seed."""
    acc = np.random.default_rng(7).integers(-(1 << 20), 1 << 20, 4096)

    def run(seed: int) -> np.ndarray:
        return kernels.requantize(acc, 8, bits=16, rounding="stochastic", seed=seed,
                                  rows=array[0], cols=array[1]).y

    lo, hi = ref.stochastic_bounds(acc, 8, 16)
    a = run(1)
    assert np.all((a == lo) | (a == hi))
    np.testing.assert_array_equal(a, run(1))
    assert not np.array_equal(a, run(2))


@pytest.mark.parametrize("shift", [1, 4, 8, 12])
def test_requantize_stochastic_unbiased(shift: int) -> None:
    """Stochastic rounding's point: the mean error is ~0 where flooring's is -1/2.
    16384 values: the mean's sd is below 0.004."""
    acc = np.random.default_rng(7).integers(-(1 << 20), 1 << 20, 16384)
    y = kernels.requantize(acc, shift, bits=32, rounding="stochastic", seed=3).y
    err = y.astype(np.float64) - acc / (1 << shift)
    assert np.all(np.abs(err) < 1)
    assert abs(err.mean()) < 0.04, err.mean()


def test_conv_stochastic_seeds_differ() -> None:
    """The conv epilogue's LFSR follows its seed too."""
    rng = np.random.default_rng(11)
    x = rng.integers(-128, 128, (4, 8, 8))
    w = rng.integers(-128, 128, (8, 4, 3, 3))

    def run(seed: int) -> np.ndarray:
        return kernels.conv2d(x, w, pad=1, out_shift=8, rounding="stochastic", seed=seed).y

    assert not np.array_equal(run(1), run(2))


# ----------------------------------------------------------------------------- errors
X = np.zeros((2, 5, 5), np.int64)
BAD: dict[str, Callable[[], object]] = {
    "maxpool bits 12": lambda: kernels.maxpool2d(X, bits=12),
    "maxpool above 8-bit": lambda: kernels.maxpool2d(X + 128, bits=8),
    "maxpool float": lambda: kernels.maxpool2d(X.astype(np.float64)),
    "maxpool too small": lambda: kernels.maxpool2d(np.zeros((2, 1, 4), int)),
    "maxpool pad >= window": lambda: kernels.maxpool2d(X, kernel=2, pad=2),
    "avgpool mult without shift": lambda: kernels.avgpool2d(X, mult=3),
    "avgpool wrong table": lambda: kernels.avgpool2d(X, kernel=2, mult=[1, 2], shift=1),
    "avgpool shift 32": lambda: kernels.avgpool2d(X, mult=1, shift=32),
    "add shapes": lambda: kernels.add(X, X[:1]),
    "add above 8-bit": lambda: kernels.add(X + 200, X, bits=8),
    "add sa 32": lambda: kernels.add(X, X, sa=32),
    "convert out_bits 2": lambda: kernels.convert(X, out_bits=2),
    "add above 4-bit": lambda: kernels.add(X + 8, X, bits=4),
    "maxpool below 4-bit": lambda: kernels.maxpool2d(X - 9, bits=4),
    "add rounding": lambda: kernels.add(X, X, rounding="up"),
    "requant bits 12": lambda: kernels.requantize(np.zeros(4, int), 2, bits=12),
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
