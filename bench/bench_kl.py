"""How far our KL threshold departs from Migacz's published algorithm, and what each
departure does to the error.

Run: ``python bench/bench_kl.py [--n 100000] [--seed 0]``.  Every figure is measured in
this run.

The published algorithm (Migacz 2017, "8-bit Inference with TensorRT"): 2048 bins of
|x|, 128 levels, cuts i = 128 .. 2047; P = the first i bins, the outliers summed into bin
i-1; Q = the first i bins merged into 128 levels of i // 128 bins (the last takes the
rest) and expanded over their nonzero bins; KL(P || Q), no smoothing; T = (m + 0.5) *
width.  quant/kl.py's default departs from it in four ways (quant/README.md):

  keep-all   also the cut i = 2048 (keep everything, T = max|x|)
  even       bin j in level floor(j * 128 / i): levels differ by at most one bin
  smooth     eps = 1e-4 counts in empty bins of P and Q, Q spread over P's nonzero bins
  edge       T = i * width (capped at max|x|) instead of (i + 0.5) * width

and, a separate choice, drops exact zeros from the histogram (``exclude_zeros``).

A plain loop over cuts below (independent of quant/) runs the published algorithm with
each departure switched on alone and all four (table 1, zeros kept), and, with zeros
dropped as our default does, ours with each departure undone in turn (table 2).  It
checks that its "published" equals ``kl_threshold(variant="migacz")`` and its "all four"
equals the default (with the same zeros setting).  For each threshold it prints T and
two 8-bit errors relative to the reference column's: the MSE of a symmetric linear grid
of step T/127 (TensorRT's use of T), and the MSE of our fixed-point grid (the point
position that holds T).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

try:
    from pearray import quant
except ImportError:  # a source checkout run as `python bench/...`: the root holds pearray/
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from pearray import quant

BINS, LEVELS, EPS = 2048, 128, 1e-4
DEPARTURES = ("keep-all", "even", "smooth", "edge")


def kl_search(hist: np.ndarray, width: float, amax: float, on: frozenset[str]) -> float:
    """The threshold of the published loop with the departures in `on` switched on."""
    n = hist.size
    best, best_i = math.inf, None
    for i in range(LEVELS, n + 1 if "keep-all" in on else n):
        raw = hist[:i]
        p = raw.astype(np.float64).copy()
        p[-1] += hist[i:].sum()
        j = np.arange(i)
        group = (j * LEVELS) // i if "even" in on else np.minimum(j // (i // LEVELS),
                                                                 LEVELS - 1)
        spread = p != 0 if "smooth" in on else raw != 0
        mass = np.bincount(group, raw, LEVELS)
        nz = np.bincount(group, spread, LEVELS)
        q = np.where(spread, mass[group] / np.maximum(nz[group], 1), 0.0)
        if "smooth" in on:
            p = np.where(p == 0, EPS, p)
            q = np.where(q == 0, EPS, q)
        elif np.any((p > 0) & (q == 0)):
            continue  # infinite divergence
        keep = p > 0
        ps, qs = p / p.sum(), q / q.sum()
        kl = float(np.sum(ps[keep] * np.log(ps[keep] / qs[keep])))
        if kl < best:
            best, best_i = kl, i
    if best_i is None:
        return amax
    return min(best_i * width, amax) if "edge" in on else (best_i + 0.5) * width


def histogram(x: np.ndarray, drop_zeros: bool) -> tuple[np.ndarray, float, float]:
    a = np.abs(x)
    if drop_zeros:
        a = a[a != 0]
    amax = float(a.max())
    width = amax / BINS
    idx = np.clip(np.ceil(a / width).astype(np.int64) - 1, 0, BINS - 1)
    return np.bincount(idx, minlength=BINS), width, amax


def linear_mse(x: np.ndarray, t: float) -> float:
    """8-bit symmetric linear grid of step t/127, round to nearest, saturated."""
    s = t / 127
    return float(np.mean((x - np.clip(np.floor(x / s + 0.5), -127, 127) * s) ** 2))


def fixed_mse(x: np.ndarray, t: float) -> float:
    """Our 8-bit fixed-point grid at the point position that holds t."""
    return quant.quantization_mse(x, 8, quant.fl_from_threshold(t, 8), "nearest")


def tensors(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {
        "normal": rng.standard_normal(n),
        "laplace": rng.laplace(size=n),
        "student-t(3)": rng.standard_t(3, n),
        "relu+outliers": np.concatenate([np.maximum(rng.standard_normal(n), 0),
                                         rng.uniform(8, 20, n // 1000)]),
    }
    try:
        from pearray import qnet
        from pearray.models import data, lenet

        params = lenet.load_weights()
        acts = qnet.calibration_tensors(data.load_split()["calib"][0], params)
        for name, a in acts.items():  # the network's activations after each ReLU
            if name.startswith("relu"):
                out[f"digits {name}"] = np.asarray(a, np.float64).ravel()
    except Exception as exc:  # noqa: BLE001 - the synthetic tensors still make the point
        print(f"(no digits tensors: {exc})")
    return out


def table(title: str, xs: dict[str, np.ndarray], variants: list[tuple[str, frozenset[str]]],
          drop_zeros: bool, base: str, check: dict[str, dict],
          extra: dict[str, dict] | None = None) -> None:
    """One threshold per variant per tensor; errors relative to variant `base`'s.  `extra`
    columns are quant.kl_threshold with those keywords."""
    extra = extra or {}
    names = [v for v, _ in variants] + list(extra)
    print(f"\n{title}\n{'tensor':<18}" + "".join(f"{n:>20}" for n in names))
    ratios: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    for tname, x in xs.items():
        hist, width, amax = histogram(x, drop_zeros)
        ts = {v: kl_search(hist, width, amax, on) for v, on in variants}
        for v, kw in check.items():  # the loop and quant/ agree where they should
            t = quant.kl_threshold(x, 8, BINS, **kw)
            assert math.isclose(ts[v], t, rel_tol=1e-9), (tname, v, ts[v], t)
        for v, kw in extra.items():
            ts[v] = quant.kl_threshold(x, 8, BINS, **kw)
        ref = (linear_mse(x, ts[base]), fixed_mse(x, ts[base]))
        cells = []
        for v in names:
            r = (linear_mse(x, ts[v]) / ref[0], fixed_mse(x, ts[v]) / ref[1])
            ratios[v].append(r)
            cells.append(f"{ts[v] / amax:6.3f} {r[0]:5.2f}|{r[1]:5.2f}")
        print(f"{tname:<18}" + "".join(f"{c:>20}" for c in cells))

    def gmean(v: list[float]) -> float:
        return math.exp(float(np.mean(np.log(v))))

    print(f"{'geometric mean':<18}" + "".join(
        f"{'':>7}{gmean([a for a, _ in ratios[v]]):5.2f}|{gmean([b for _, b in ratios[v]]):5.2f}"
        for v in names))
    print(f"{'worst':<18}" + "".join(
        f"{'':>7}{max(a for a, _ in ratios[v]):5.2f}|{max(b for _, b in ratios[v]):5.2f}"
        for v in names))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="values per synthetic tensor")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    xs = tensors(args.n, args.seed)
    allfour = frozenset(DEPARTURES)
    print("Cells: T / max|x|, then the 8-bit MSE relative to the reference column's, on a\n"
          "linear grid of step T/127 | on our fixed-point grid (the position holding T).")
    table("1. Zeros kept: the published algorithm, each departure alone, all four "
          "(reference: published)",
          xs, [("published", frozenset())] + [(d, frozenset([d])) for d in DEPARTURES]
          + [("all four", allfour)], False, "published",
          {"published": {"exclude_zeros": False, "variant": "migacz"},
           "all four": {"exclude_zeros": False}}, {"ours (default)": {}})
    table("2. Zeros dropped (our default): ours, each departure undone, the published "
          "algorithm (reference: ours)",
          xs, [("ours", allfour)] + [(f"no {d}", allfour - {d}) for d in DEPARTURES]
          + [("published", frozenset())], True, "ours",
          {"ours": {}, "published": {"variant": "migacz"}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
