"""Float <-> fixed point: ``value = integer * 2**-fl`` in a ``bits``-wide two's complement word.

Two roundings: ``"stochastic"`` (the paper's truncation: round up with probability equal to
the dropped fraction, so the error has zero mean and does not pile up over a layer's sums)
and ``"nearest"`` = round half up, ``floor(y + 0.5)``, which is what the hardware's ``srar``
(shift right arithmetic with rounding) computes. Out-of-range values saturate.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._checks import check_bits, check_int, real_array

ROUNDINGS = ("stochastic", "nearest")


def dtype_for(bits: int) -> type[np.signedinteger]:
    """Narrowest numpy integer holding a ``bits``-wide word (int8 / int16 / int32)."""
    b = check_bits(bits)
    return np.int8 if b <= 8 else np.int16 if b <= 16 else np.int32


def int_range(bits: int) -> tuple[int, int]:
    """Two's complement range of a ``bits``-wide word."""
    b = check_bits(bits)
    return -(1 << (b - 1)), (1 << (b - 1)) - 1


def as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    """A Generator from a Generator or a seed; None is refused so results are reproducible."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        raise ValueError(
            "stochastic rounding needs rng= (a numpy.random.Generator or an int seed) "
            "so the same seed gives the same result"
        )
    if isinstance(rng, bool) or not isinstance(rng, (int, np.integer)):
        raise ValueError(f"rng must be a numpy.random.Generator or an int seed, got {rng!r}")
    return np.random.default_rng(int(rng))


MAX_FL = 1 << 12  # |fl| beyond this is no fixed-point format, just a mistake


def check_fl(fl: object) -> int:
    f = check_int(fl, "fl")
    if abs(f) > MAX_FL:
        raise ValueError(f"fl must be within +-{MAX_FL}, got {f}")
    return f


def scaled(x: np.ndarray, fl: int) -> np.ndarray:
    """x * 2**fl in float64 (exact: a power-of-two scaling of a float32/float64/int)."""
    return np.ldexp(x.astype(np.float64, copy=False), fl)


def quantize(
    x: ArrayLike,
    bits: int,
    fl: int,
    rounding: str = "stochastic",
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """Integers ``q`` with ``q * 2**-fl ~ x``, saturated to ``bits``, narrowest int dtype.

    Stochastic rounding draws one uniform per element from ``rng`` (Generator or seed;
    required, so runs are reproducible); nearest rounds half up like the hardware.
    """
    b = check_bits(bits)
    f = check_fl(fl)
    a = real_array(x, "x", allow_empty=True)
    if rounding not in ROUNDINGS:
        raise ValueError(f"rounding must be one of {ROUNDINGS}, got {rounding!r}")
    gen = as_rng(rng) if rounding == "stochastic" else None
    lo, hi = int_range(b)
    shape = a.shape  # a 0-d array or a numpy scalar gives a 0-d array back
    y = scaled(a.reshape(-1), f)
    if gen is not None:
        r = np.floor(y)
        r += gen.random(y.shape) < (y - r)
    else:
        r = np.floor(y)
        r += (y - r) >= 0.5  # exact; floor(y + 0.5) in floats may round y + 0.5 up
    np.clip(r, lo, hi, out=r)
    return r.astype(dtype_for(b)).reshape(shape)


def dequantize(q: ArrayLike, fl: int) -> np.ndarray:
    """Fixed point back to float32: ``q * 2**-fl``."""
    f = check_fl(fl)
    a = real_array(q, "q", allow_empty=True)
    if a.dtype.kind not in "iu":
        raise ValueError(f"q must be an integer array, got dtype {a.dtype}")
    return np.ldexp(a.astype(np.float64), -f).astype(np.float32)
