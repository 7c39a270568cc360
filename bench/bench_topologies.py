"""The conv layers of AlexNet and ResNet-18 (SCALE-Sim's topology files) on the array.

Run: ``python bench/bench_topologies.py [--nets alexnet,resnet18] [--widths 32,16,8]
[--arrays 4x4,16x16] [--layers Conv1,Conv3_s] [--seed 0]``.

Each layer runs as one launch of kernels/conv.s on random data spanning the width's
range, requantised to the same width with ReLU (round half up), and is checked bit
for bit against an independent numpy integer conv (im2col and an int64 matrix
product, written here) before any figure is printed.  Printed per layer: cycles, MAC
utilisation (useful MACs / (cycles x PEs x lanes)), GM accesses (loads + stores,
words of DMA included), stall cycles, and SCALE-Sim's output-stationary 8x8 array (64
MACs a cycle, ideal memory: bench/scalesim.py) beside it.  The layers are unpadded,
as SCALE-Sim has them (its AlexNet conv2 is 23x23 out).

The issue's target (8 bits, 4x4 = 64 MACs a cycle): utilisation >= 90% and no more
than 5 points below SCALE-Sim's OS 8x8 figure, on every conv layer.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
try:
    from pearray import kernels
except ImportError:  # a source checkout run as `python bench/...`
    sys.path.insert(0, str(HERE.parent))
    from pearray import kernels

from scalesim import TopoLayer, load_topology, os_cycles  # noqa: E402

TARGET_UTIL = 0.90
TARGET_GAP = 0.05


def reference(x: np.ndarray, w: np.ndarray, stride: int) -> np.ndarray:
    """Integer correlation without padding: im2col, then an int64 product (exact modulo
    2^64, so its low 32 bits are the int32 accumulator's)."""
    c, h, wd = x.shape
    k, _, kh, kw = w.shape
    ho, wo = (h - kh) // stride + 1, (wd - kw) // stride + 1
    cols = np.empty((ho, wo, c, kh, kw), np.int64)
    for dy in range(kh):
        for dx in range(kw):
            cols[:, :, :, dy, dx] = x[:, dy:dy + stride * (ho - 1) + 1:stride,
                                      dx:dx + stride * (wo - 1) + 1:stride].transpose(1, 2, 0)
    acc = cols.reshape(ho * wo, -1) @ w.reshape(k, -1).astype(np.int64).T
    acc = (acc & 0xFFFFFFFF).astype(np.uint32).view(np.int32).astype(np.int64)
    return acc.T.reshape(k, ho, wo)


def requantised(acc: np.ndarray, shift: int, bits: int) -> np.ndarray:
    q = acc if shift == 0 else (acc + (1 << (shift - 1))) >> shift
    return np.clip(q, 0, (1 << (bits - 1)) - 1)


def run(layer: TopoLayer, bits: int, rows: int, cols: int, rng: np.random.Generator
        ) -> dict:
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    x = rng.integers(lo, hi, (layer.c, layer.h, layer.w), endpoint=True)
    w = rng.integers(lo, hi, (layer.k, layer.c, layer.kh, layer.kw), endpoint=True)
    acc = reference(x, w, layer.stride)
    shift = min(31, max(0, int(np.abs(acc).max()).bit_length() - (bits - 1)))
    t0 = time.perf_counter()
    res = kernels.conv2d(x, w, stride=layer.stride, bits=bits, out_shift=shift, relu=True,
                         rows=rows, cols=cols)
    host = time.perf_counter() - t0
    want = requantised(acc, shift, bits)
    if res.y.shape != want.shape or not np.array_equal(res.y.astype(np.int64), want):
        raise SystemExit(f"NOT EXACT: {layer.name} at {bits} bits on {rows}x{cols}")
    s = res.stats
    return {"cycles": res.cycles, "util": s["utilisation"],
            "gm": s["loads"]["gm"] + s["stores"]["gm"],
            "stall": sum(s["stalls"].values()) // (rows * cols), "host": host}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nets", default="alexnet,resnet18")
    ap.add_argument("--widths", default="32,16,8")
    ap.add_argument("--arrays", default="4x4,16x16")
    ap.add_argument("--layers", default="", help="only these layer names (comma list)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    widths = [int(b) for b in args.widths.split(",")]
    arrays = [tuple(int(v) for v in a.split("x")) for a in args.arrays.split(",")]
    only = {n.strip().lower() for n in args.layers.split(",") if n.strip()}
    rng = np.random.default_rng(args.seed)
    misses = []
    print("Conv layers of SCALE-Sim's topologies on kernels/conv.s (emulated; unpadded, "
          "requantised + ReLU, bit-exact checked).")
    print("util = useful MACs / (cycles x PEs x lanes); SCALE-Sim OS = output-stationary "
          "8x8, ideal memory (bench/scalesim.py); stall = stall cycles per PE.")
    for net in args.nets.split(","):
        layers = [lay for lay in load_topology(net)
                  if lay.kh * lay.kw > 1 or lay.h > 1]  # conv layers (FC: 1x1 on 1x1)
        if only:
            layers = [lay for lay in layers if lay.name.lower() in only]
        for rows, cols in arrays:
            head = (f"{'layer':<10} {'shape':<26} {'bits':>4} {'cycles':>10} {'util':>6} "
                    f"{'GM acc':>10} {'stall':>8} {'SS-OS cyc':>10} {'SS-OS':>6} {'gap':>6} "
                    f"{'host s':>6}  verdict")
            print(f"\n{net} on {rows}x{cols}")
            print(head)
            print("-" * len(head))
            for lay in layers:
                ss_cycles, ss_util = os_cycles(lay)
                ho, wo = lay.out
                shape = f"{lay.c}->{lay.k} {lay.kh}x{lay.kw}/{lay.stride} {lay.h}->{ho}"
                for bits in widths:
                    r = run(lay, bits, rows, cols, rng)
                    gap = r["util"] - ss_util
                    verdict = ""
                    if bits == 8 and (rows, cols) == (4, 4):
                        ok = r["util"] >= TARGET_UTIL and gap >= -TARGET_GAP
                        verdict = "PASS" if ok else "MISS"
                        if not ok:
                            misses.append(f"{net} {lay.name}")
                    print(f"{lay.name:<10} {shape:<26} {bits:>4} {r['cycles']:>10} "
                          f"{r['util'] * 100:>5.1f}% {r['gm']:>10} {r['stall']:>8} "
                          f"{ss_cycles:>10} {ss_util * 100:>5.1f}% {gap * 100:>+5.1f} "
                          f"{r['host']:>6.2f}  {verdict}")
    if misses:
        print(f"\ntarget (8 bits, 4x4: >= {TARGET_UTIL:.0%} and within "
              f"{TARGET_GAP * 100:.0f} points of SCALE-Sim OS) missed on: {', '.join(misses)}")
    else:
        print("\ntarget met on every layer run at 8 bits on 4x4")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
