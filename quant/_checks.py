"""Input checks shared by the quantizer: bad input is a clear ValueError, never a silent result."""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import ArrayLike

from pearray.isa import load as load_isa

MIN_BITS = 4
MAX_BITS = 32
# The lane widths of the array, narrowest first: read from isa/isa.toml [granularities],
# so a width added there is a width the quantizer packs.
LANE_BITS: tuple[int, ...] = tuple(sorted(g.bits for g in load_isa().granules.values()))
# Bounds on the searches' sizes (quant/README.md, "Limits"): beyond them a call costs
# minutes or gigabytes and can give nothing better.
MAX_BINS = 1 << 14  # histogram bins: 8x the usual 2048; the KL search is O(bins * levels)
MAX_SEARCH = 64  # point positions tried either side: 2^64 apart, everything saturates or is 0


def check_bits(bits: object, allowed: tuple[int, ...] | None = None) -> int:
    """Return ``bits`` as an int, or raise: widths outside 4..32 have no meaning on the array."""
    if isinstance(bits, bool) or not isinstance(bits, numbers.Integral):
        raise ValueError(f"bits must be an integer, got {bits!r}")
    b = int(bits)
    if allowed is not None:
        if b not in allowed:
            raise ValueError(f"bits must be one of {allowed}, got {b}")
    elif not MIN_BITS <= b <= MAX_BITS:
        raise ValueError(f"bits must be in {MIN_BITS}..{MAX_BITS}, got {b}")
    return b


def check_int(value: object, what: str) -> int:
    """Integers only (a float point position would silently change the grid)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{what} must be an integer, got {value!r}")
    return int(value)


def real_array(x: ArrayLike, what: str = "x", allow_empty: bool = False) -> np.ndarray:
    """``x`` as a finite real numpy array (ints or floats), or a ValueError saying what is wrong."""
    try:
        a = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{what} is not an array: {exc}") from exc
    if a.dtype.kind not in "iuf":
        raise ValueError(f"{what} must be a real numeric array (int or float), got dtype {a.dtype}")
    if a.size == 0 and not allow_empty:
        raise ValueError(f"{what} is empty")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise ValueError(f"{what} contains NaN or inf")
    return a


def check_count(value: object, what: str, lo: int, hi: int) -> int:
    """An integer in lo..hi, or a ValueError naming the documented limit."""
    v = check_int(value, what)
    if not lo <= v <= hi:
        raise ValueError(f"{what} must be in {lo}..{hi}, got {v}")
    return v
