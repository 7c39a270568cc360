"""The bit-width experiment: one conv layer at 32, 16, 8 and 4 bits on the array.

Run: ``python bench/bench_kernels.py [--rows 4 --cols 4] [--seed 0] [--raw] [--batch N]``.

For LeNet-5's conv2 (6->16 channels, 5x5, 14x14 input, no padding, the layer the
paper measures) and the project's own LeNet conv layers it runs kernels/conv.s at
each width on random data spanning the width's full range, and prints cycles,
speedup (against 32 bits, and each width against the next wider one), GM and total
memory accesses, and MAC utilisation, beside the paper's figures and the issues'
targets (issue 10 for 4 bits against 8).  The host writes the input feature map once, as a
place (channels last, zero border); the kernel gathers every receptive field from it
on the array, so the im2col traffic is in the counts.  Every figure printed is measured in this run;
every run's output is checked bit for bit against a numpy reference first (a fast
wrong kernel is not a result), and a mismatch stops the benchmark.

By default each layer hands on its output requantised to its own width (round half
up, ReLU), as in a network running at that width; ``--raw`` stores the int32
accumulators instead (the same output traffic at every width).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

try:
    from pearray import kernels
except ImportError:  # a source checkout run as `python bench/...`: the root holds pearray/
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from pearray import kernels

WIDTHS = (32, 16, 8, 4)
# Zhu, Jiang et al. 2024, as published (their baseline is not our 32-bit run; no 4 bits).
PAPER_SPEEDUP = {32: 1.012, 16: 1.273, 8: 1.556}
PAPER_MEM_REDUCTION = 0.562
# The issues' targets.
TARGET_SPEEDUP_8 = 3.0
TARGET_MEM_REDUCTION_8 = 0.70
TARGET_UTILISATION = 0.70
TARGET_SPEEDUP_4 = 1.8  # issue 10: 4-bit against 8-bit
TARGET_MEM_REDUCTION_4 = 0.45


@dataclass(frozen=True)
class Layer:
    name: str
    c: int
    k: int
    ksize: int
    size: int
    pad: int


LENET5_CONV2 = Layer("LeNet-5 conv2 (paper)", 6, 16, 5, 14, 0)
PROJECT_LAYERS = (
    Layer("project LeNet conv1", 1, 8, 3, 8, 1),
    Layer("project LeNet conv2", 8, 16, 3, 4, 1),
)


# ----------------------------------------------------------------------------- reference
def reference(x: np.ndarray, w: np.ndarray, pad: int) -> np.ndarray:
    """Stride-1 integer correlation, int64, low 32 bits kept as the kernel's int32 does.

    int64 wraps modulo 2^64 in numpy, so its low 32 bits are exact even at 32 bits.
    """
    k, _, kh, kw = w.shape
    xp = np.pad(x.astype(np.int64), ((0, 0), (pad, pad), (pad, pad)))
    ho, wo = xp.shape[1] - kh + 1, xp.shape[2] - kw + 1
    acc = np.zeros((k, ho, wo), np.int64)
    for dy in range(kh):
        for dx in range(kw):
            acc += np.einsum("kc,chw->khw", w[:, :, dy, dx].astype(np.int64),
                             xp[:, dy:dy + ho, dx:dx + wo])
    return (acc & 0xFFFFFFFF).astype(np.uint32).view(np.int32).astype(np.int64)


def requantised(acc: np.ndarray, shift: int, bits: int) -> np.ndarray:
    """Round half up by 2^shift, ReLU, saturate to `bits`."""
    q = acc if shift == 0 else (acc + (1 << (shift - 1))) >> shift
    return np.clip(np.maximum(q, 0), 0, (1 << (bits - 1)) - 1)


def calibrated_shift(acc: np.ndarray, bits: int) -> int:
    """The smallest shift that brings the largest accumulator into `bits`."""
    top = int(np.abs(acc).max())
    return min(31, max(0, top.bit_length() - (bits - 1)))


# ----------------------------------------------------------------------------- runs
def run_layer(layer: Layer, bits: int, rows: int, cols: int, rng: np.random.Generator,
              raw: bool, batch: int = 1) -> dict[str, Any]:
    """One layer at one width: run, check bit-exactness, collect the counters."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    x = rng.integers(lo, hi, (batch, layer.c, layer.size, layer.size), endpoint=True)
    w = rng.integers(lo, hi, (layer.k, layer.c, layer.ksize, layer.ksize), endpoint=True)
    acc = np.stack([reference(xi, w, layer.pad) for xi in x])
    shift = None if raw else calibrated_shift(acc, bits)
    # full-range 16/32-bit data can exceed int32: the reference wraps as the kernel does
    res = kernels.conv2d(x, w, pad=layer.pad, bits=bits, out_shift=shift, relu=not raw,
                         rows=rows, cols=cols, overflow="wrap")
    want = acc if raw else requantised(acc, shift, bits)
    got = res.y.astype(np.int64)
    if got.shape != want.shape or not np.array_equal(got, want):
        bad = np.argwhere(got != want) if got.shape == want.shape else []
        where = (f"{len(bad)} of {want.size} differ, first at {tuple(bad[0])}: "
                 f"expected {want[tuple(bad[0])]}, got {got[tuple(bad[0])]}"
                 if len(bad) else f"shape {got.shape} != {want.shape}")
        raise SystemExit(f"NOT EXACT: {layer.name} at {bits} bits on {rows}x{cols}, "
                         f"out_shift={shift}: {where}")
    s = res.stats
    return {
        "cycles": res.cycles,
        "gm": s["loads"]["gm"] + s["stores"]["gm"],
        "all": sum(s["loads"].values()) + sum(s["stores"].values()),
        "util": s["utilisation"],
        "macs": s["macs"],
        "shift": shift,
    }


def pct(new: float, base: float) -> str:
    return f"{(new - base) / base * 100:+.1f}%"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def report(layer: Layer, rows: int, cols: int, rng: np.random.Generator, raw: bool,
           batch: int = 1) -> None:
    """Run the layer at every width and print its table and its check against the targets."""
    runs = {bits: run_layer(layer, bits, rows, cols, rng, raw, batch) for bits in WIDTHS}
    base = runs[32]
    ho = layer.size + 2 * layer.pad - layer.ksize + 1
    print(f"\n{layer.name}: {layer.c}->{layer.k} channels, {layer.ksize}x{layer.ksize}, "
          f"{layer.size}x{layer.size} input, pad {layer.pad} -> {ho}x{ho}"
          f"{f', batch {batch}' if batch > 1 else ''}; {base['macs']} MACs; {rows}x{cols} "
          f"array; output {'int32 accumulators' if raw else 'requantised to the width (ReLU)'}")
    head = (f"{'bits':>4} {'cycles':>8} {'vs 32':>7} {'vs 2x':>6} {'paper':>6} {'GM acc':>8} "
            f"{'vs 32':>7} {'all acc':>8} {'vs 32':>7} {'vs 2x':>7} {'MAC util':>8} {'shift':>5}"
            f"  check")
    print(head)
    print("-" * len(head))
    for bits, r in runs.items():
        shift = "-" if r["shift"] is None else str(r["shift"])
        wide = runs.get(2 * bits)  # the next wider width
        paper = f"{PAPER_SPEEDUP[bits]:.3f}" if bits in PAPER_SPEEDUP else "-"
        vs2 = f"{wide['cycles'] / r['cycles']:.3f}x" if wide else "-"
        mem2 = pct(r["all"], wide["all"]) if wide else "-"
        print(f"{bits:>4} {r['cycles']:>8} {base['cycles'] / r['cycles']:>6.3f}x {vs2:>6} "
              f"{paper:>6} {r['gm']:>8} {pct(r['gm'], base['gm']):>7} "
              f"{r['all']:>8} {pct(r['all'], base['all']):>7} {mem2:>7} "
              f"{r['util'] * 100:>7.1f}% {shift:>5}  exact")

    r8 = runs[8]
    speed8 = base["cycles"] / r8["cycles"]
    red_all = 1 - r8["all"] / base["all"]
    red_gm = 1 - r8["gm"] / base["gm"]
    rows_ = [
        ("speedup, 8-bit vs 32-bit", f"{PAPER_SPEEDUP[8]:.3f}x", f">= {TARGET_SPEEDUP_8:.0f}x",
         f"{speed8:.3f}x", speed8 >= TARGET_SPEEDUP_8),
        ("fewer memory accesses, 8 vs 32 (all)", f"{PAPER_MEM_REDUCTION * 100:.1f}%",
         f">= {TARGET_MEM_REDUCTION_8 * 100:.0f}%", f"{red_all * 100:.1f}%",
         red_all >= TARGET_MEM_REDUCTION_8),
        ("fewer memory accesses, 8 vs 32 (GM)", f"{PAPER_MEM_REDUCTION * 100:.1f}%",
         f">= {TARGET_MEM_REDUCTION_8 * 100:.0f}%", f"{red_gm * 100:.1f}%",
         red_gm >= TARGET_MEM_REDUCTION_8),
    ]
    r4 = runs[4]
    speed4 = r8["cycles"] / r4["cycles"]
    red4 = 1 - r4["all"] / r8["all"]
    red4_gm = 1 - r4["gm"] / r8["gm"]
    rows_ += [
        ("speedup, 4-bit vs 8-bit", "-", f">= {TARGET_SPEEDUP_4}x", f"{speed4:.3f}x",
         speed4 >= TARGET_SPEEDUP_4),
        ("fewer memory accesses, 4 vs 8 (all)", "-", f">= {TARGET_MEM_REDUCTION_4 * 100:.0f}%",
         f"{red4 * 100:.1f}%", red4 >= TARGET_MEM_REDUCTION_4),
        ("fewer memory accesses, 4 vs 8 (GM)", "-", f">= {TARGET_MEM_REDUCTION_4 * 100:.0f}%",
         f"{red4_gm * 100:.1f}%", red4_gm >= TARGET_MEM_REDUCTION_4),
    ]
    for bits, r in runs.items():
        rows_.append((f"MAC utilisation, {bits}-bit", "-",
                      f">= {TARGET_UTILISATION * 100:.0f}%", f"{r['util'] * 100:.1f}%",
                      r["util"] >= TARGET_UTILISATION))
    print(f"\n  {'':<38} {'paper':>8} {'target':>8} {'measured':>9}  verdict")
    for name, paper, target, measured, ok in rows_:
        print(f"  {name:<38} {paper:>8} {target:>8} {measured:>9}  {verdict(ok)}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=4, help="array rows (default 4)")
    ap.add_argument("--cols", type=int, default=4, help="array columns (default 4)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random data")
    ap.add_argument("--raw", action="store_true",
                    help="store int32 accumulators instead of requantised outputs")
    ap.add_argument("--batch", type=int, default=1,
                    help="images a launch (default 1, as the paper measures)")
    args = ap.parse_args(argv)
    if args.batch < 1:
        ap.error("--batch must be at least 1")
    rng = np.random.default_rng(args.seed)
    print("Bit-width experiment on kernels/conv.s (emulated cycles and access counts).")
    print("paper = Zhu, Jiang et al. 2024 as published (speedups against their own baseline);")
    print("target = the issues'; MAC utilisation = useful MACs per cycle / (PEs x lanes);")
    print("vs 2x = against the next wider width (4 against 8, 8 against 16, ...).")
    for layer in (LENET5_CONV2, *PROJECT_LAYERS):
        report(layer, args.rows, args.cols, rng, args.raw, args.batch)


if __name__ == "__main__":
    main()
