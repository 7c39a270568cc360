"""KL-divergence (entropy) calibration of a clipping threshold, after Migacz (2017).

For every candidate cut ``i`` (number of histogram bins kept, ``levels <= i <= n``):

* reference P: the first ``i`` bins, the counts beyond them (outliers) folded into bin i-1;
* candidate Q: the first ``i`` bins (without outliers) merged into ``levels`` groups, bin j
  in group ``floor(j * levels / i)``, each group's count spread evenly over the bins of the
  group where P is nonzero (empty bins of P stay empty in Q);
* empty bins of P and Q get ``eps`` counts (smoothing, so KL stays finite), both are
  normalised and KL(P || Q) is taken;
* the threshold is the upper edge of the last kept bin of the least-divergence cut, i.e.
  ``i * width`` (ties: the smallest cut), never more than the max |x|.

Vectorised: KL(P||Q) is rewritten in closed form from prefix sums. Inside a group Q is one
constant on P's nonzero bins, so sum_j P_j log Q_j is sum_groups (group mass) * log(constant),
and sum_j P_j log P_j is a prefix sum of c log c; the zero bins contribute nothing (both
smoothed to eps). That costs O(candidates * levels) instead of O(candidates * bins) and no
Python loop over cuts (large searches go in blocks of candidates to bound memory).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._checks import check_bits, check_int, real_array
from .histogram import AbsHistogram

EPS = 1e-4  # smoothing mass for an empty bin, in units of one count (as MXNet / ORT)
_BLOCK_ELEMS = 1 << 21  # candidates x groups per block


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


def kl_divergences(counts: ArrayLike, levels: int, eps: float = EPS) -> np.ndarray:
    """KL(P_i || Q_i) for every cut i = levels..n of a histogram (index 0 is cut ``levels``).

    Why public: tests check it bin for bin against a plain loop over cuts.
    """
    c = real_array(counts, "counts").astype(np.float64).ravel()
    n = c.size
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

    out = np.empty(n - L + 1)
    k = np.arange(L + 1, dtype=np.int64)
    block = max(1, _BLOCK_ELEMS // (L + 1))
    for start in range(L, n + 1, block):  # blocks of cuts, each block vectorised
        i = np.arange(start, min(n, start + block - 1) + 1, dtype=np.int64)
        last = c[i - 1]
        out_i = total - C[i]  # outliers folded into bin i-1
        p_last = last + out_i
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

        plogp = XL[i - 1] + _xlogx(p_last)
        nz_p = NZ[i - 1] + (p_last > 0)
        nz_q = np.where(has, gnz, 0).sum(axis=1)
        sp = total + eps * (i - nz_p)
        sq = C[i] + eps * (i - nz_q)
        out[i - L] = (plogp - plogq) / sp + np.log(sq / sp)
    return out


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
) -> float:
    """Clipping threshold T of |x| with least KL divergence (TensorRT entropy calibration).

    ``x`` is a tensor, or an ``AbsHistogram`` streamed over many batches (also ``hist=``,
    which further takes a ``(counts, edges)`` pair of a histogram of |x| starting at 0).
    ``exclude_zeros`` (default) drops exact zeros from the histogram first: they are exact
    at any point position, and ReLU's spike of them in bin 0 otherwise dominates the
    divergence and drags the threshold down (measured in bench/bench_quant.py).
    All-zero data has no threshold: ValueError.
    """
    b = check_bits(bits)
    h = _as_histogram(x, bins, hist)
    c = h.kl_counts(exclude_zeros)
    if c.size == 0 or not (c > 0).any():
        raise ValueError("kl_threshold: no nonzero values, the threshold is undefined")
    L = levels_for(b, c.size)
    div = kl_divergences(c, L, eps)
    i = L + int(np.argmin(div))
    return float(min(i * h.width, h.amax))
