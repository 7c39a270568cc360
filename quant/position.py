"""Point position (fractional length ``fl``) of a fixed-length word: the paper's "best point".

1. A threshold T of |x|: the KL threshold (``"kl"``), or the max |x| (``"max"``).
2. The position it implies: the largest ``fl`` whose largest code still holds T,
   ``T * 2**fl <= 2**(bits-1) - 1``. That is ``bits - 1 - ceil(log2 T)``, one less when T
   is within one step of a power of two (T = 2**k exactly would need code 2**(bits-1)).
3. The search: the neighbouring positions ``fl0 - search .. fl0`` (coarser, so T still
   fits: a coarser grid keeps more of the clipped tail at the cost of resolution) are
   scored by the mean squared quantization error of the whole tensor, saturation
   included, and the least wins (ties: the one nearest ``fl0``). ``allow_clip=True`` also
   tries ``fl0 + 1 .. fl0 + search``, which clip T itself.
   ``"mse"`` skips the threshold: it scores the position that holds the max |x| and the
   ``mse_span`` (default 6) finer ones, and takes the least error.

The error of a tensor is exact (every element quantized). The error of a histogram (the
streaming calibrator keeps no data) integrates the rounding error over each bin as if the
values were spread evenly in it, in closed form; the extra negative code of two's
complement is ignored there (|x| has no sign). With ``rounding="stochastic"`` the error is
the expected one, ``f (1 - f) step**2`` for a dropped fraction f.

All-zero data: any position is exact; ``point_position`` returns 0 (documented choice).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from ._checks import MAX_SEARCH, check_bits, check_count, real_array
from .histogram import AbsHistogram
from .kl import kl_threshold
from .rounding import ROUNDINGS, check_fl, int_range

METHODS = ("kl", "max", "mse")
_CHUNK = 1 << 22  # candidates x elements per block of the exact error
MSE_SPAN = 6  # "mse": finer positions tried past the max's (clipping the max by up to 64x)


def fl_from_threshold(threshold: float, bits: int) -> int:
    """Largest ``fl`` with ``threshold * 2**fl <= 2**(bits-1) - 1``: T never overflows."""
    b = check_bits(bits)
    t = float(threshold)
    if not (math.isfinite(t) and t > 0):
        raise ValueError(f"threshold must be finite and > 0, got {threshold!r}")
    m, e = math.frexp(t)  # t = m * 2**e, 0.5 <= m < 1, exact
    ceil_log2 = e if m > 0.5 else e - 1
    fl = b - 1 - ceil_log2
    if math.ldexp(t, fl) > (1 << (b - 1)) - 1:  # within a step of 2**ceil_log2
        fl -= 1
    return fl


def max_value(bits: int, fl: int) -> float:
    """Largest representable value at (bits, fl)."""
    return math.ldexp(int_range(bits)[1], -fl)


def _tensor_errors(a: np.ndarray, bits: int, fls: np.ndarray, rounding: str) -> np.ndarray:
    """MSE of quantizing ``a`` at each ``fl`` (exact; expected if stochastic), in units of
    4**e where 2**e is the scale of max|a|: the data are scaled by 2**-e first (exact), so
    neither 1e300 nor subnormals overflow or underflow the squares."""
    lo, hi = int_range(bits)
    e = _exponent(float(np.max(np.abs(a))))
    flat = np.ldexp(a.ravel().astype(np.float64), -e)
    mse = np.zeros(fls.size)
    chunk = max(1, _CHUNK // fls.size)
    f_col = fls[:, None] + e
    for s in range(0, flat.size, chunk):  # blocks of elements; candidates are vectorised
        xs = flat[s : s + chunk][None, :]
        y = np.ldexp(xs, f_col)  # x * 2**fl, exact (no 2**fl on its own: it may overflow)
        c = np.clip(y, lo, hi)
        r = np.floor(c)
        if rounding == "nearest":
            r += (c - r) >= 0.5
            e2 = (xs - np.ldexp(r, -f_col)) ** 2
        else:  # expected: f (1 - f) step**2 inside, saturation error outside (f = 0 there)
            f = c - r
            # step**2 = 2**(-2 fl) on its own overflows for coarse fl: scale the product
            e2 = np.ldexp(f * (1.0 - f), -2 * f_col) + (xs - np.ldexp(c, -f_col)) ** 2
        mse += (e2 / flat.size).sum(axis=1)  # means, not sums: a sum may overflow
    return mse


def _exponent(v: float) -> int:
    return math.frexp(v)[1] if v > 0 else 0


def _cum_error(u: np.ndarray, step: np.ndarray, top: np.ndarray, rounding: str) -> np.ndarray:
    """Integral over [0, u] of the squared error of quantizing t (steps ``step``, max ``top``)."""
    v = np.minimum(u, top)
    if rounding == "nearest":
        r = v / step + 0.5
        k = np.floor(r)
        f = r - k
        inside = step**3 * (k / 12.0 + ((f - 0.5) ** 3 + 0.125) / 3.0 - 1.0 / 24.0)
    else:
        r = v / step
        k = np.floor(r)
        f = r - k
        inside = step**3 * (k / 6.0 + f**2 / 2.0 - f**3 / 3.0)
    return inside + np.maximum(u - top, 0.0) ** 3 / 3.0


def _histogram_errors(h: AbsHistogram, bits: int, fls: np.ndarray, rounding: str) -> np.ndarray:
    """MSE at each ``fl`` from a histogram of |x| (values even in each bin), in units of 4**e
    for the 2**e scale of the histogram's top (scaled like ``_tensor_errors``)."""
    c = h.counts.copy()
    c[0] -= h.zeros  # exact zeros cost nothing at any position
    e = _exponent(h.top)
    edges = np.ldexp(h.edges, -e)
    step = np.ldexp(1.0, -(fls + e))[:, None]
    top = int_range(bits)[1] * step
    phi = _cum_error(edges[None, :], step, top, rounding)
    per_bin = np.diff(phi, axis=1) / math.ldexp(h.width, -e)  # MSE inside each bin
    return (per_bin * c[None, :]).sum(axis=1) / h.total


def _order(fl0: int, lower: int, upper: int) -> np.ndarray:
    """fl0, then its neighbours alternating outwards: argmin then breaks ties toward fl0."""
    out = [fl0]
    for d in range(1, max(fl0 - lower, upper - fl0) + 1):
        out += [f for f in (fl0 - d, fl0 + d) if lower <= f <= upper]
    return np.array(out, dtype=np.int64)


def threshold_of(
    x: ArrayLike | AbsHistogram,
    bits: int = 8,
    method: str = "kl",
    *,
    bins: int = 2048,
    exclude_zeros: bool = True,
) -> float:
    """The threshold T of |x| that ``point_position`` starts from ("kl" or "max")."""
    if method not in ("kl", "max"):
        raise ValueError(f"threshold method must be 'kl' or 'max', got {method!r}")
    h = x if isinstance(x, AbsHistogram) else None
    amax = h.amax if h is not None else float(np.max(np.abs(real_array(x))))
    if method == "max":
        check_bits(bits)
        return amax
    if amax == 0.0:
        raise ValueError("threshold: no nonzero values, the threshold is undefined")
    return kl_threshold(x, bits, bins, exclude_zeros=exclude_zeros)


threshold = threshold_of  # public name; point_position's keyword of the same name shadows it


def point_position(
    x: ArrayLike | AbsHistogram,
    bits: int,
    method: str = "kl",
    *,
    search: int = 1,
    allow_clip: bool = False,
    rounding: str = "stochastic",
    bins: int = 2048,
    exclude_zeros: bool = True,
    mse_span: int = MSE_SPAN,
    threshold: float | None = None,
) -> int:
    """Best fractional length ``fl`` (value = integer * 2**-fl) for a tensor or a histogram.

    See the module docstring for the search; ``search=0`` returns the threshold's position.
    ``threshold=T`` replaces the method's threshold (e.g. to search around another
    calibrator's T with the same rule).
    """
    b = check_bits(bits)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if rounding not in ROUNDINGS:
        raise ValueError(f"rounding must be one of {ROUNDINGS}, got {rounding!r}")
    n_search = check_count(search, "search", 0, MAX_SEARCH)
    if isinstance(x, AbsHistogram):
        h: AbsHistogram | None = x
        a = None
        amax = x.amax
    else:
        h = None
        a = real_array(x)
        amax = float(np.max(np.abs(a)))
    if amax == 0.0:
        return 0

    if method == "mse":
        if threshold is not None:
            raise ValueError("method 'mse' takes no threshold")
        fl0 = fl_from_threshold(amax, b)
        span = check_count(mse_span, "mse_span", 0, MAX_SEARCH)
        cands = np.arange(fl0, fl0 + span + 1, dtype=np.int64)
    else:
        if threshold is not None:
            t = float(threshold)
        else:
            t = threshold_of(
                h if h is not None else a, b, method, bins=bins, exclude_zeros=exclude_zeros
            )
        fl0 = fl_from_threshold(t, b)
        cands = _order(fl0, fl0 - n_search, fl0 + (n_search if allow_clip else 0))
    if cands.size == 1:
        return int(cands[0])
    if h is not None:
        err = _histogram_errors(h, b, cands, rounding)
    else:
        err = _tensor_errors(a, b, cands, rounding)
    return int(cands[int(np.argmin(err))])


def quantization_mse(x: ArrayLike, bits: int, fl: int, rounding: str = "nearest") -> float:
    """Mean squared error of quantizing x at (bits, fl); expected value if stochastic."""
    b = check_bits(bits)
    a = real_array(x)
    if rounding not in ROUNDINGS:
        raise ValueError(f"rounding must be one of {ROUNDINGS}, got {rounding!r}")
    err = _tensor_errors(a, b, np.array([check_fl(fl)]), rounding)[0]
    try:  # the error is computed scaled by 4**-e (exact): scale it back
        return math.ldexp(float(err), 2 * _exponent(float(np.max(np.abs(a)))))
    except OverflowError:
        raise ValueError(
            f"quantization_mse: the mean squared error is about 2^"
            f"{math.frexp(float(err))[1] + 2 * _exponent(float(np.max(np.abs(a))))}, beyond "
            "float64's range (~2^1024)") from None
