"""Emulator speed: M PE-instructions per second on a 4x4 array, against the Python
reference interpreter of tests/ref.py measured in the same run.

Workloads:
  inner   the conv kernel's inner loop (kernels/conv.s): per output a `loop` of R
          streaming MACs over LM, a requantising shift, ReLU and a store, on every PE
  conv    the whole conv kernel (LeNet-5 conv2: 6->16, 5x5, 14x14) through
          kernels.conv2d, GM traffic and all (more lock-step, so slower)
The reference runs the inner loop's instruction stream, unrolled (it has no
branches), on one PE; the ratio is emulator / reference per PE-instruction.

Target (issue 3): >= 300 M PE-instructions/s on one core.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # BLAS spinners would share our core

import numpy as np  # noqa: E402

from pearray import kernels  # noqa: E402
from pearray.asm import assemble  # noqa: E402
from pearray.emu.machine import Machine  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import ref  # noqa: E402

INNER = """
    li r1, {outputs}
    li r13, {r}
    li r14, 0x2000             # results in LM
    loop r1, done
    li r11, 0x0                # the receptive field
    li r12, 0x1000             # the weights
    addi r7, r0, 100           # bias
    loop r13, 1f
    macl.b r7, (r11)+, (r12)+
1:  srari.w r7, r7, 7
    relu.w r7, r7
    sw r7, (r14)+4
    andi r14, r14, 0x2fff
done:
    halt
"""


def best_of(n: int, fn):  # noqa: ANN001, ANN201 - tiny timing helper
    times, out = [], None
    for _ in range(n):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


RUNS = 9  # the machine is shared: report the best (what the code can do) and the median


def bench_inner(outputs: int, r: int, rows: int, cols: int
                ) -> tuple[float, float, int, int]:
    prog = assemble(INNER.format(outputs=outputs, r=r))
    m = Machine(rows, cols)

    def go():  # noqa: ANN202
        m.load(prog)
        rng = np.random.default_rng(0)
        for pe in range(m.npes):
            m.lm[pe][: 2 * 4096] = rng.integers(0, 256, 2 * 4096, dtype=np.uint8)
        t = time.perf_counter()
        res = m.run()
        return time.perf_counter() - t, res

    runs = sorted((go() for _ in range(RUNS)), key=lambda r: r[0])
    dt, res = runs[0]
    assert res.status == "halted", res.trap
    return dt, runs[len(runs) // 2][0], res.retired, res.cycles


def bench_reference(outputs: int, r: int) -> tuple[float, int]:
    body = [("addi", {"rd": 11, "rs": 0, "simm16": 0}),
            ("addi", {"rd": 12, "rs": 0, "simm16": 0x1000}),
            ("addi", {"rd": 7, "rs": 0, "simm16": 100})]
    body += [("macl.b", {"rd": 7, "rs": 11, "rt": 12})] * r
    body += [("srari.w", {"rd": 7, "rs": 7, "sh": 7}), ("relu.w", {"rd": 7, "rs": 7}),
             ("sw.pi", {"rt": 7, "rs": 14, "off12": 4}),
             ("andi", {"rd": 14, "rs": 14, "uimm16": 0x2FFF})]
    st = ref.State()
    st.lm[: 2 * 4096] = np.random.default_rng(0).integers(0, 256, 2 * 4096, np.uint8).tobytes()
    st.regs[14] = 0x2000
    t = time.perf_counter()
    for _ in range(outputs):
        ref.run_straight(body, st)
    return time.perf_counter() - t, outputs * len(body)


def bench_conv(rows: int, cols: int) -> tuple[float, int, int]:
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, (6, 14, 14))
    w = rng.integers(-128, 128, (16, 6, 5, 5))
    kernels.conv2d(x, w, bits=8, rows=rows, cols=cols)  # assemble once, outside the timing
    dt, res = best_of(3, lambda: kernels.conv2d(x, w, bits=8, rows=rows, cols=cols))
    return dt, res.run.retired, res.cycles


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=4)
    ap.add_argument("--cols", type=int, default=4)
    ap.add_argument("--outputs", type=int, default=20000, help="outputs per PE (inner loop)")
    ap.add_argument("--r", type=int, default=18, help="macl per output (conv2 of LeNet: 18)")
    args = ap.parse_args()

    dt, median, retired, cycles = bench_inner(args.outputs, args.r, args.rows, args.cols)
    emu = retired / dt / 1e6
    ref_outputs = max(1, args.outputs // 50)
    rdt, rn = bench_reference(ref_outputs, args.r)
    py = rn / rdt / 1e6
    cdt, cret, ccyc = bench_conv(args.rows, args.cols)
    conv = cret / cdt / 1e6
    print(f"emulator, {args.rows}x{args.cols} PEs, one core; best of {RUNS} runs (inner loop), "
          "3 (conv)")
    print(f"{'workload':<44} {'PE-instr':>12} {'cycles':>10} {'seconds':>8} {'M/s':>8}")
    print(f"{'inner loop (conv.s), emulator':<44} {retired:>12,} {cycles:>10,} {dt:8.3f} "
          f"{emu:8.1f}")
    print(f"{'inner loop, Python reference (tests/ref.py)':<44} {rn:>12,} {'-':>10} {rdt:8.3f} "
          f"{py:8.3f}")
    print(f"{'whole conv kernel, LeNet-5 conv2 at 8 bits':<44} {cret:>12,} {ccyc:>10,} "
          f"{cdt:8.3f} {conv:8.1f}   (layout, load and readback included)")
    print(f"{'  (median of the inner-loop runs)':<44} {'':>12} {'':>10} {median:8.3f} "
          f"{retired / median / 1e6:8.1f}")
    print(f"\nemulator / reference: {emu / py:,.0f}x per PE-instruction")
    verdict = "met" if emu >= 300 else "NOT met"
    print(f"target >= 300 M PE-instructions/s on the inner loop: {verdict} ({emu:.0f} M/s)")


if __name__ == "__main__":
    main()
