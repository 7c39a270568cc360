"""Lanes <-> 32-bit words, the layout of the array's memory.

A word holds ``32 // bits`` lanes of one of the array's lane widths (``LANE_BITS``, read
from isa/isa.toml: 8 lanes of 4 bits, 4 of 8, 2 of 16 or 1 of 32); lane 0 is the least
significant, each lane is two's complement, and the last word is padded with zero lanes. Built with
shifts and masks on integers, so it does not depend on the host's byte order; a word in
memory is then stored little-endian (``words.astype('<u4').tobytes()``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._checks import LANE_BITS, check_bits, check_int, real_array
from .rounding import dtype_for, int_range


def lanes_per_word(bits: int) -> int:
    return 32 // check_bits(bits, LANE_BITS)


def pack(q: ArrayLike, bits: int) -> np.ndarray:
    """Pack integers (flattened, C order) into uint32 words, ``32 // bits`` lanes a word.

    Values must fit in ``bits`` (a value that does not is a ValueError, not a wrap).
    """
    b = check_bits(bits, LANE_BITS)
    a = real_array(q, "q", allow_empty=True)
    if a.dtype.kind not in "iu":
        raise ValueError(f"q must be an integer array, got dtype {a.dtype}")
    flat = a.ravel()
    lo, hi = int_range(b)
    if flat.size and (int(flat.min()) < lo or int(flat.max()) > hi):
        raise ValueError(f"values outside the {b}-bit range {lo}..{hi}")
    per = 32 // b
    nwords = -(-flat.size // per)
    lanes = np.zeros(nwords * per, dtype=np.uint64)
    lanes[: flat.size] = flat.astype(np.int64) & ((1 << b) - 1)  # two's complement bits
    shifts = (np.arange(per, dtype=np.uint64) * np.uint64(b))[None, :]
    words = np.bitwise_or.reduce(lanes.reshape(nwords, per) << shifts, axis=1)
    return words.astype(np.uint32)


def unpack(words: ArrayLike, bits: int, n: int) -> np.ndarray:
    """The first ``n`` lanes of ``words`` as signed integers (int8 for 4 and 8 bits, int16,
    int32)."""
    b = check_bits(bits, LANE_BITS)
    count = check_int(n, "n")
    w = real_array(words, "words", allow_empty=True)
    if w.dtype.kind not in "iu":
        raise ValueError(f"words must be an integer array, got dtype {w.dtype}")
    w = w.ravel()
    if w.size and (int(w.min()) < 0 or int(w.max()) > 0xFFFFFFFF):
        raise ValueError("words must be 32-bit unsigned values")
    per = 32 // b
    if not 0 <= count <= w.size * per:
        raise ValueError(f"n must be in 0..{w.size * per} ({w.size} words of {per} lanes)")
    shifts = (np.arange(per, dtype=np.uint64) * np.uint64(b))[None, :]
    lanes = (w.astype(np.uint64)[:, None] >> shifts) & np.uint64((1 << b) - 1)
    v = lanes.ravel()[:count].astype(np.int64)
    v -= (v >> (b - 1)) << b  # sign-extend: subtract 2**b where the top bit is set
    return v.astype(dtype_for(b))
