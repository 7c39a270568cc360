"""Streaming histogram of |x| whose range grows across batches without losing counts.

Calibration sees a network's activations one batch at a time, so the histogram cannot be
made once over the whole data. The range is fixed from the first batch's max; when a later
batch goes beyond it the histogram grows:

* bins of the same width are appended while the count stays within ``2 * bins``;
* beyond that, adjacent pairs of bins are merged (width doubled) until it fits, then bins
  are appended. Merging pairs is exact (every old edge is a new edge's multiple), so the
  result equals the histogram built in one go on the final grid, and the number of bins
  always stays between ``bins`` and ``2 * bins``: the resolution never drops below ``bins``
  bins over [0, max].

Exact zeros are counted apart as well as in bin 0, so the KL search can keep or drop the
spike that ReLU leaves there (see ``kl.kl_threshold``).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from ._checks import MAX_BINS, check_count, real_array

_TINY = float(np.nextafter(0.0, 1.0))


def _bin_index(a: np.ndarray, width: float, n: int) -> np.ndarray:
    # Bin k holds (k*w, (k+1)*w] (bin 0 also holds 0): the max of the first batch sits inside
    # the last bin, not on an open edge, so it stays put when the range grows. A division
    # (not a product with 1/w) so the index on width 2w is exactly floor(index on w / 2):
    # merging pairs then equals binning afresh.
    idx = np.ceil(a / width).astype(np.int64) - 1
    np.clip(idx, 0, n - 1, out=idx)
    return idx


class AbsHistogram:
    """Histogram of |x| on [0, n * width], n in [bins, 2 * bins], mergeable across batches."""

    def __init__(self, bins: int = 2048) -> None:
        self.bins = check_count(bins, "bins", 2, MAX_BINS)
        self.counts: np.ndarray = np.zeros(0, dtype=np.float64)
        self.width: float = 0.0  # 0 until a nonzero value was seen
        self.zeros: float = 0.0  # number of exact zeros (also counted in counts[0])
        self.total: float = 0.0
        self.amax: float = 0.0

    @classmethod
    def from_counts(cls, counts: ArrayLike, edges: ArrayLike, zeros: float = 0.0) -> AbsHistogram:
        """Wrap a precomputed histogram of |x| (``np.histogram`` style: n counts, n+1 edges).

        The edges must start at 0 and be uniform; ``zeros`` says how many of counts[0] are
        exact zeros (only needed to drop them from the KL search).
        """
        c = real_array(counts, "counts").astype(np.float64).ravel()
        e = real_array(edges, "edges").astype(np.float64).ravel()
        if e.size != c.size + 1:
            raise ValueError(f"need len(edges) == len(counts) + 1, got {e.size} and {c.size}")
        if (c < 0).any():
            raise ValueError("counts must be >= 0")
        if c.size > 2 * MAX_BINS:
            raise ValueError(f"{c.size} bins: at most {2 * MAX_BINS} (the KL search costs "
                             "O(bins * levels))")
        if e[0] != 0.0:
            raise ValueError("a histogram of |x| must start at 0")
        w = (e[-1] - e[0]) / c.size
        if not w > 0 or not np.allclose(np.diff(e), w, rtol=1e-6, atol=0.0):
            raise ValueError("edges must be increasing and uniform")
        if not 0 <= zeros <= c[0]:
            raise ValueError("zeros must be within 0..counts[0]")
        h = cls(max(2, min(c.size, MAX_BINS)))
        h.counts = c.copy()
        h.width = float(w)
        h.zeros = float(zeros)
        h.total = float(c.sum())
        nz = np.flatnonzero(c)
        # Without the data the max is only known to the bin: take the top edge of the last
        # nonempty bin (a threshold never needs to go beyond it).
        h.amax = float(e[nz[-1] + 1]) if nz.size and (nz[-1] > 0 or c[0] > zeros) else 0.0
        return h

    @property
    def edges(self) -> np.ndarray:
        return np.arange(self.counts.size + 1, dtype=np.float64) * self.width

    @property
    def top(self) -> float:
        return self.counts.size * self.width

    def copy(self) -> AbsHistogram:
        h = AbsHistogram(self.bins)
        h.counts, h.width, h.zeros = self.counts.copy(), self.width, self.zeros
        h.total, h.amax = self.total, self.amax
        return h

    def _merge(self, k: int) -> None:
        """Merge groups of 2**k adjacent bins (exact: the new edges are old edges)."""
        c = self.counts
        if k >= 62 or (1 << k) >= c.size:
            self.counts = np.array([c.sum()])
        else:
            g = 1 << k
            c = np.concatenate([c, np.zeros(-c.size % g)])
            self.counts = c.reshape(-1, g).sum(axis=1)
        self.width = math.ldexp(self.width, k)

    def _grow(self, m: float) -> None:
        """Make the range cover ``m`` (> top): merge bins if needed, then append bins."""
        limit = 2 * self.bins
        if m / self.width > limit:  # may be inf for extreme ratios: logs do not overflow
            k = math.ceil(math.log2(m) - math.log2(self.width) - math.log2(limit))
            self._merge(max(1, k))
            while m / self.width > limit:  # rounding of the logs
                self._merge(1)
        need = math.ceil(m / self.width)
        if need > self.counts.size:
            self.counts = np.concatenate([self.counts, np.zeros(need - self.counts.size)])

    def add(self, x: ArrayLike) -> AbsHistogram:
        """Count the values of one batch (any shape, finite, real)."""
        a = np.abs(real_array(x, "batch").astype(np.float64, copy=False)).ravel()
        m = float(a.max())
        nzero = float(np.count_nonzero(a == 0))
        if self.width == 0.0:
            if m == 0.0:  # all zeros so far: no scale to fix the range with yet
                self.zeros += nzero
                self.total += a.size
                return self
            self.counts = np.zeros(self.bins, dtype=np.float64)
            # m / bins underflows to 0 only for subnormal data: then the smallest width
            self.width = max(m / self.bins, _TINY)
            self.counts[0] += self.zeros  # zeros seen before the range existed
        elif m > self.top:
            self._grow(m)
        idx = _bin_index(a, self.width, self.counts.size)
        self.counts += np.bincount(idx, minlength=self.counts.size)
        self.zeros += nzero
        self.total += a.size
        self.amax = max(self.amax, m)
        return self

    def kl_counts(self, exclude_zeros: bool) -> np.ndarray:
        """Counts for the KL search, cut after the bin holding the max (trailing empties)."""
        c = self.counts.copy()
        if exclude_zeros and c.size:
            c[0] -= self.zeros
        n = min(c.size, max(1, math.ceil(self.amax / self.width))) if self.width else 0
        return c[:n]
