"""The kernels' drivers refuse what they cannot do, say when an accumulator may wrap,
and give the same results from many threads as one by one (issue 13)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import kernels_ref as ref
import numpy as np
import pytest

from pearray import kernels

X = np.zeros((2, 5, 5), np.int64)
W = np.zeros((3, 2, 3, 3), np.int64)


def bound_by_hand(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> int:
    """The layer's worst |accumulator| in Python integers, one channel at a time."""
    xmax = max((abs(int(v)) for v in np.ravel(x)), default=0)
    return max(xmax * sum(abs(int(v)) for v in np.ravel(w[k]))
               + (abs(int(b[k])) if b is not None else 0) for k in range(w.shape[0]))


EMPTY: dict[str, tuple[Callable[[], object], str]] = {
    "conv rows=0": (lambda: kernels.conv2d(X, W, rows=0), "rows"),
    "conv cols=-2": (lambda: kernels.conv2d(X, W, cols=-2), "cols"),
    "conv rows=17": (lambda: kernels.conv2d(X, W, rows=17), "rows"),
    "conv rows=2.5": (lambda: kernels.conv2d(X, W, rows=2.5), "rows"),
    "conv rows=True": (lambda: kernels.conv2d(X, W, rows=True), "rows"),
    "conv batch 0": (lambda: kernels.conv2d(np.zeros((0, 2, 5, 5), int), W), "empty"),
    "conv K=0": (lambda: kernels.conv2d(X, np.zeros((0, 2, 3, 3), int)), "empty"),
    "conv C=0": (lambda: kernels.conv2d(np.zeros((0, 5, 5), int), np.zeros((3, 0, 3, 3), int)),
                 "empty"),
    "conv 0x0 kernel": (lambda: kernels.conv2d(X, np.zeros((3, 2, 0, 0), int)), "empty"),
    "conv 3x0 kernel": (lambda: kernels.conv2d(X, np.zeros((3, 2, 3, 0), int)), "empty"),
    "conv overflow mode": (lambda: kernels.conv2d(X, W, overflow="saturate"), "overflow must"),
    "linear batch 0": (lambda: kernels.linear(np.zeros((0, 4), int), np.zeros((3, 4), int)),
                       "empty"),
    "linear K=0": (lambda: kernels.linear(np.zeros(4, int), np.zeros((0, 4), int)), "empty"),
    "linear C=0": (lambda: kernels.linear(np.zeros(0, int), np.zeros((3, 0), int)), "empty"),
    "linear rows=0": (lambda: kernels.linear(np.zeros(4, int), np.zeros((3, 4), int), rows=0),
                      "rows"),
    "maxpool cols=0": (lambda: kernels.maxpool2d(X, cols=0), "cols"),
    "maxpool batch 0": (lambda: kernels.maxpool2d(np.zeros((0, 2, 4, 4), int)), "empty"),
    "maxpool C=0": (lambda: kernels.maxpool2d(np.zeros((0, 4, 4), int)), "empty"),
    "requant rows=0": (lambda: kernels.requantize(np.zeros(4, int), 2, rows=0), "rows"),
    "requant cols=-2": (lambda: kernels.requantize(np.zeros(4, int), 2, cols=-2), "cols"),
    "requant empty": (lambda: kernels.requantize(np.zeros(0, int), 2), "empty"),
}


@pytest.mark.parametrize("name", list(EMPTY))
def test_empty_layers_and_arrays_are_clear_valueerrors(name: str) -> None:
    """Degenerate shapes and arrays are refused up front with a message that names the
    problem, not by a ZeroDivisionError or a zero-sized kernel run deep inside."""
    fn, message = EMPTY[name]
    with pytest.raises(ValueError, match=message):
        fn()


def test_a_layer_that_can_overflow_int32_is_refused_by_default() -> None:
    """16-bit full-range data: 4 channels x 3x3 taps of 32767 * 32768 can reach 1.2e10,
    far beyond int32; the default refuses, naming the bound, and 'wrap' runs and says so."""
    rng = np.random.default_rng(0)
    x = rng.choice([-32768, 32767], (4, 4, 4))
    w = rng.choice([-32768, 32767], (2, 4, 3, 3))
    bound = bound_by_hand(x, w, None)
    assert bound > 2**31 - 1
    with pytest.raises(ValueError, match=f"reach \\|{bound}\\|.*overflow='wrap'"):
        kernels.conv2d(x, w, bits=16)
    with pytest.raises(ValueError, match="can overflow"):
        kernels.linear(x.ravel()[:36], w.reshape(2, -1)[:, :36], bits=16)
    res = kernels.conv2d(x, w, bits=16, overflow="wrap")
    exact = ref.conv(x[None], w, None, 1, 0)[0]  # wraps mod 2^32, as the array does
    unwrapped = sum(np.einsum("kc,chw->khw", w[:, :, dy, dx], x[:, dy:dy + 2, dx:dx + 2])
                    for dy in range(3) for dx in range(3))
    assert res.stats["may_wrap"] is True and res.stats["acc_bound"] == bound
    assert not np.array_equal(exact, unwrapped)  # it did wrap: the flag was needed
    np.testing.assert_array_equal(res.y, exact)


@pytest.mark.parametrize("bias, raises", [(0, False), (1, True), (-1, True)])
def test_the_overflow_bound_is_exact_at_int32_max(bias: int, raises: bool) -> None:
    """x = 1 and w = 2^31 - 1 reach int32's maximum exactly: allowed; one more through
    the bias (of either sign) may not fit, and is refused."""
    x = np.ones((1, 1, 1), np.int64)
    w = np.full((1, 1, 1, 1), 2**31 - 1, np.int64)
    b = np.array([bias])
    if raises:
        with pytest.raises(ValueError, match="can overflow"):
            kernels.conv2d(x, w, b, bits=32)
    else:
        res = kernels.conv2d(x, w, b, bits=32)
        assert res.y.item() == 2**31 - 1 and res.stats["may_wrap"] is False


def test_drivers_from_many_threads_equal_serial_results() -> None:
    """Each thread runs on machines of its own: 8 threads calling conv2d, maxpool2d and
    requantize at once give exactly the results of the same calls made one by one (and
    of the numpy reference) -- a shared machine once mixed up 27 of 80 of them."""
    rng = np.random.default_rng(21)
    jobs = []
    for i in range(24):
        c, k, h = 1 + i % 3, 1 + i % 5, 5 + i % 4
        x = rng.integers(-128, 128, (c, h, h))
        w = rng.integers(-128, 128, (k, c, 3, 3))
        jobs.append(("conv", x, w, rng.integers(-1000, 1000, k)))
        jobs.append(("pool", x, None, None))
        jobs.append(("requant", rng.integers(-2**20, 2**20, 5 + i), None, None))

    def call(job: tuple) -> np.ndarray:
        kind, x, w, b = job
        if kind == "conv":
            return kernels.conv2d(x, w, b).y
        if kind == "pool":
            return kernels.maxpool2d(x).y
        return kernels.requantize(x, 4, bits=16).y

    serial = [call(j) for j in jobs]
    threaded: list[np.ndarray | None] = [None] * len(jobs)
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(t, len(jobs), 8):
                threaded[i] = call(jobs[i])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for job, s, t in zip(jobs, serial, threaded, strict=True):
        np.testing.assert_array_equal(t, s)
        kind, x, w, b = job
        if kind == "conv":
            np.testing.assert_array_equal(s, ref.conv(x[None], w, b, 1, 0)[0])
        elif kind == "pool":
            np.testing.assert_array_equal(s, ref.maxpool(x[None], 2, 2, (2, 2), (0, 0, 0, 0))[0])
        else:
            np.testing.assert_array_equal(s, ref.requant(x, 4, 16))


def test_results_do_not_alias_the_machine() -> None:
    """A result is the caller's: the next call on the same cached machine does not change
    it (a single-channel 32-bit output once came back as a view of GM)."""
    x = np.arange(25, dtype=np.int64).reshape(1, 5, 5)
    w = np.ones((1, 1, 3, 3), np.int64)
    first = kernels.conv2d(x, w).y
    kept = first.copy()
    kernels.conv2d(-x, w)
    np.testing.assert_array_equal(first, kept)
