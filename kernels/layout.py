"""Host-side layouts of tensors for the kernels: numpy only, no loops over elements.

Lanes fill a word from the least significant end (ARCH.md §1), the same
layout `pearray.quant.pack` produces, which is what these build on.
"""

from __future__ import annotations

import numpy as np

from pearray import quant


def check_int_tensor(a: np.ndarray, name: str, ndim: int, bits: int) -> np.ndarray:
    """An integer array of `ndim` dimensions whose values fit `bits`, else ValueError."""
    arr = np.asarray(a)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must be an integer array, got {arr.dtype}")
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {arr.shape}")
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if arr.size and (int(arr.min()) < lo or int(arr.max()) > hi):
        raise ValueError(f"{name} has values outside the {bits}-bit range {lo}..{hi}")
    return arr.astype(np.int64)


def pack_rows(a: np.ndarray, bits: int) -> np.ndarray:
    """Pack the last axis of `a` into words (zero lanes pad it), keeping the other axes."""
    lanes = 32 // bits
    n = a.shape[-1]
    padded = np.zeros(a.shape[:-1] + (-(-n // lanes) * lanes,), np.int64)
    padded[..., :n] = a
    return quant.pack(padded, bits).reshape(a.shape[:-1] + (-1,))


def unpack_rows(words: np.ndarray, bits: int, n: int) -> np.ndarray:
    """Inverse of pack_rows: the first `n` lanes of each row of words."""
    lanes = 32 // bits
    flat = quant.unpack(words.ravel(), bits, words.size * lanes)
    return flat.reshape(words.shape[:-1] + (words.shape[-1] * lanes,))[..., :n]


def strips(xp: np.ndarray, kh: int, stride: int, ho: int, bits: int) -> np.ndarray:
    """(N*HO, WP, DW) words: for image n, output row oy and input column xc, the values
    xp[n, c, oy*stride + dy, xc] in (dy, c) order, packed.  Images follow each other
    as more output rows, so a batch is one kernel run."""
    n, c, _, wp = xp.shape
    rows = (np.arange(ho)[:, None] * stride + np.arange(kh)[None, :])  # (HO, KH)
    cols = xp[:, :, rows, :]  # (N, C, HO, KH, WP)
    return pack_rows(cols.transpose(0, 2, 4, 3, 1).reshape(n * ho, wp, kh * c), bits)


def weight_rows(w: np.ndarray, kp: int, bits: int) -> np.ndarray:
    """(KP, KW, DW) words: for channel k and column dx, w[k, c, dy, dx] in (dy, c) order."""
    k, c, kh, kw = w.shape
    wt = np.zeros((kp, kw, kh * c), np.int64)
    wt[:k] = w.transpose(0, 3, 2, 1).reshape(k, kw, kh * c)
    return pack_rows(wt, bits)
