"""KL-divergence (entropy) calibration of a clipping threshold, after Migacz (2017).

Two variants.  ``variant="migacz"`` is the published algorithm (Migacz 2017, "8-bit
Inference with TensorRT", the slides' pseudo-code): cuts ``i = levels .. n-1``; P = the
first i bins with the outliers summed into bin i-1; Q = the first i bins (without
outliers) merged into ``levels`` groups of ``i // levels`` bins (the last group takes
the remainder), each group's count spread over its nonzero bins; KL(P || Q) with no
smoothing (infinite where P > 0 and Q = 0); T = (m + 0.5) * width for the best cut m.

``variant="pearray"`` (the default) departs from it in four named ways, each measured
in bench/bench_kl.py and listed in quant/README.md:

1. **keep-all cut**: i runs to n (keep every bin, T = max|x|), not to n-1;
2. **even split**: bin j of the i kept bins is in group ``floor(j * levels / i)``, so
   groups differ by at most one bin, instead of ``i // levels`` bins a group with the
   whole remainder in the last;
3. **smoothing**: empty bins of P and Q get ``eps`` counts so KL stays finite, and Q is
   spread over P's nonzero bins (bin i-1 holding only outliers gets its share), where
   the published form gives an infinite divergence;
4. **edge threshold**: T = ``i * width``, the upper edge of the last kept bin (never more
   than max|x|), not ``(i + 0.5) * width``.

Ties go to the smallest cut in both.  (Dropping exact zeros, ``exclude_zeros``, is a
fifth, separate choice of ``kl_threshold``.)

Vectorised (both variants): KL(P||Q) is rewritten in closed form from prefix sums.
Inside a group Q is one constant on P's nonzero bins, so sum_j P_j log Q_j is
sum_groups (group mass) * log(constant), and sum_j P_j log P_j is a prefix sum of
c log c; the zero bins contribute nothing (both smoothed to eps, or both zero). That
costs O(candidates * levels) instead of O(candidates * bins) and no Python loop over
cuts (large searches go in blocks of candidates to bound memory).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._checks import MAX_BINS, check_bits, check_int, real_array
from .histogram import AbsHistogram

EPS = 1e-4  # smoothing mass for an empty bin, in units of one count (as MXNet / ORT)
_BLOCK_ELEMS = 1 << 21  # candidates x groups per block
VARIANTS = ("pearray", "migacz")


def levels_for(bits: int, bins: int) -> int:
    """Quantized levels of |x|: 2^(bits-1) (one sign bit), at most the number of bins.

    From 12 bits on, 2^(bits-1) >= 2048 default bins: then levels == bins, the only cut left
    is "keep everything" and the KL threshold is the max |x| (at 16/32 bits clipping has
    nothing to gain anyway: the rounding step is tiny against the range).
    """
    return int(min(2 ** (bits - 1), bins))


def _xlogx(c: np.ndarray) -> np.ndarray:
    out = np.zeros_like(c)
    pos = c > 0
    out[pos] = c[pos] * np.log(c[pos])
    return out


def kl_divergences(counts: ArrayLike, levels: int, eps: float = EPS, *,
                   variant: str = "pearray") -> np.ndarray:
    """KL(P_i || Q_i) for every cut i = levels..n (n-1 for "migacz") of a histogram
    (index 0 is cut ``levels``); see the module docstring for the two variants.

    Why public: tests check it bin for bin against plain loops over cuts.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    published = variant == "migacz"
    c = real_array(counts, "counts").astype(np.float64).ravel()
    n = c.size
    if n > 2 * MAX_BINS:
        raise ValueError(f"{n} histogram bins: at most {2 * MAX_BINS} (the search costs "
                         "O(bins * levels))")
    L = check_int(levels, "levels")
    if not 1 <= L <= n:
        raise ValueError(f"levels must be in 1..{n} (number of bins), got {L}")
    if (c < 0).any():
        raise ValueError("counts must be >= 0")
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps!r}")

    C = np.concatenate([[0.0], np.cumsum(c)])  # C[m] = sum c[:m]
    NZ = np.concatenate([[0], np.cumsum(c > 0)])  # nonzero bins in c[:m]
    XL = np.concatenate([[0.0], np.cumsum(_xlogx(c))])
    total = C[-1]

    last_cut = n - 1 if published else n
    out = np.empty(max(0, last_cut - L + 1))
    k = np.arange(L + 1, dtype=np.int64)
    block = max(1, _BLOCK_ELEMS // (L + 1))
    for start in range(L, last_cut + 1, block):  # blocks of cuts, each block vectorised
        i = np.arange(start, min(last_cut, start + block - 1) + 1, dtype=np.int64)
        last = c[i - 1]
        out_i = total - C[i]  # outliers folded into bin i-1
        p_last = last + out_i
        plogp = XL[i - 1] + _xlogx(p_last)
        if published:
            out[i - L] = _published_block(C, NZ, i, k, L, out_i, last, plogp, total)
            continue
        extra_nz = ((last == 0) & (out_i > 0)).astype(np.int64)  # bin i-1 nonzero in P only

        s = (k[None, :] * i[:, None] + L - 1) // L  # group g holds bins s[g] .. s[g+1]-1
        gsum = C[s[:, 1:]] - C[s[:, :-1]]  # Q's group mass (no outliers)
        gnz = NZ[s[:, 1:]] - NZ[s[:, :-1]]
        gnz[:, -1] += extra_nz
        gmass = gsum.copy()  # P's group mass (outliers in the last group)
        gmass[:, -1] += out_i

        # log of Q on P's nonzero bins: group mass / nonzero bins, or eps where the group
        # has no mass in Q (only the last group, whose P mass is all outliers).
        logq = np.full(gsum.shape, np.log(eps))
        has = gsum > 0
        logq[has] = np.log(gsum[has] / gnz[has])
        plogq = np.where(gmass > 0, gmass * logq, 0.0).sum(axis=1)

        nz_p = NZ[i - 1] + (p_last > 0)
        nz_q = np.where(has, gnz, 0).sum(axis=1)
        sp = total + eps * (i - nz_p)
        sq = C[i] + eps * (i - nz_q)
        out[i - L] = (plogp - plogq) / sp + np.log(sq / sp)
    return out


def _published_block(C: np.ndarray, NZ: np.ndarray, i: np.ndarray, k: np.ndarray, L: int,
                     out_i: np.ndarray, last: np.ndarray, plogp: np.ndarray,
                     total: float) -> np.ndarray:
    """KL of Migacz's published variant for the cuts ``i``, in closed form: groups of
    i // L bins (the last takes the rest), Q spread over the nonzero bins of the kept
    bins, no smoothing; infinite where a bin of P has mass and Q none."""
    s = k[None, :] * (i // L)[:, None]
    s[:, -1] = i
    gsum = C[s[:, 1:]] - C[s[:, :-1]]
    gnz = NZ[s[:, 1:]] - NZ[s[:, :-1]]
    gmass = gsum.copy()
    gmass[:, -1] += out_i
    has = gsum > 0
    logq = np.zeros(gsum.shape)
    logq[has] = np.log(gsum[has] / gnz[has])
    plogq = np.where(has, gmass * logq, 0.0).sum(axis=1)
    kept = C[i]
    with np.errstate(divide="ignore"):
        kl = (plogp - plogq) / total + np.log(np.where(kept > 0, kept, 1.0) / total)
    # P > 0 where Q = 0: bin i-1 holds only outliers (Q copies the kept bins, which are
    # empty there), or nothing is kept at all.
    kl[((last == 0) & (out_i > 0)) | (kept == 0)] = np.inf
    return kl


def _as_histogram(
    x: ArrayLike | AbsHistogram | None,
    bins: int,
    hist: AbsHistogram | tuple[ArrayLike, ArrayLike] | None,
) -> AbsHistogram:
    if hist is not None:
        if x is not None:
            raise ValueError("give either x or hist, not both")
        if isinstance(hist, AbsHistogram):
            return hist
        if isinstance(hist, tuple) and len(hist) == 2:
            return AbsHistogram.from_counts(*hist)
        raise ValueError("hist must be an AbsHistogram or a (counts, edges) pair")
    if isinstance(x, AbsHistogram):
        return x
    if x is None:
        raise ValueError("kl_threshold needs a tensor x or a histogram")
    return AbsHistogram(bins).add(x)


def kl_threshold(
    x: ArrayLike | AbsHistogram | None = None,
    bits: int = 8,
    bins: int = 2048,
    *,
    hist: AbsHistogram | tuple[ArrayLike, ArrayLike] | None = None,
    exclude_zeros: bool = True,
    eps: float = EPS,
    variant: str = "pearray",
) -> float:
    """Clipping threshold T of |x| with least KL divergence (TensorRT entropy calibration).

    ``x`` is a tensor, or an ``AbsHistogram`` streamed over many batches (also ``hist=``,
    which further takes a ``(counts, edges)`` pair of a histogram of |x| starting at 0).
    ``exclude_zeros`` (default) drops exact zeros from the histogram first: they are exact
    at any point position, and ReLU's spike of them in bin 0 otherwise dominates the
    divergence and drags the threshold down (measured in bench/bench_quant.py).
    ``bins`` is at most MAX_BINS.  ``variant="migacz"`` with ``exclude_zeros=False`` is
    the published algorithm (module docstring).  All-zero data has no threshold:
    ValueError.
    """
    b = check_bits(bits)
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    h = _as_histogram(x, bins, hist)
    c = h.kl_counts(exclude_zeros)
    if c.size == 0 or not (c > 0).any():
        raise ValueError("kl_threshold: no nonzero values, the threshold is undefined")
    L = levels_for(b, c.size)
    div = kl_divergences(c, L, eps, variant=variant)
    if variant == "migacz":
        if div.size == 0 or not np.isfinite(div).any():
            return float(h.amax)  # no cut below "keep everything": nothing to clip
        return float((L + int(np.argmin(div)) + 0.5) * h.width)
    i = L + int(np.argmin(div))
    return float(min(i * h.width, h.amax))
