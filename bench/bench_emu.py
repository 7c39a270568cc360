"""Emulator speed: M PE-instructions per second, and the host's fixed costs, measured
side by side with another revision of the emulator built from git in the same run.

Workloads (every PE of a 4x4 array unless said):
  inner    the conv kernel's inner loop: per output a `loop` of R streaming MACs over
           LM (one macl, both pointers stepping), a requantising shift, ReLU and a store
  held     the same with the held-input body: four `macl rd, (rs), (rt)+` per loop
           iteration (the last stepping rs), four output channels per input word
  sm       lock step: a loop of lw / addi / sw on the PE's own SM word
  gm       lock step: the same on GM
  nbr      lock step: PEs in pairs exchange a word each iteration (send, recv)
  sync     lock step: a loop of one addi and a `sync`
  conv     the whole conv kernel through kernels.conv2d (LeNet-5 conv2: 6->16, 5x5,
           14x14, 8 bits): layout, load, run and readback
  load16   host: Machine.load of a program already loaded, on 16x16 (ms per call)
  result16 host: Machine.result() on 16x16 after a run (ms per call)
The Python reference interpreter (tests/ref.py) runs the inner loop's instruction
stream on one PE for scale.

With --against REV (default: main) the same workloads also run on REV: its tree is
exported with `git archive` into build/bench-against/<commit>, its core built there with
its own build script, and the two alternate in worker processes (PYTHONPATH picks the
tree), best of --rounds rounds each.  Both must count the same retired instructions
and cycles, which the table checks.  --against none measures this tree only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # BLAS spinners would share our core

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

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

HELD = """
    li r1, {outputs}
    li r13, {r}
    li r14, 0x3000             # results in LM
    loop r1, done
    li r11, 0x0                # the receptive field
    li r12, 0x1000             # the weights of four channels, interleaved
    addi r7, r0, 1
    addi r8, r0, 2
    addi r9, r0, 3
    addi r10, r0, 4
    loop r13, 1f
    macl.b r7, (r11), (r12)+
    macl.b r8, (r11), (r12)+
    macl.b r9, (r11), (r12)+
    macl.b r10, (r11)+, (r12)+
1:  packsr.h r7, r7, r8, 7
    packsr.h r9, r9, r10, 7
    packs.b r7, r7, r9
    sw r7, (r14)+4
    andi r14, r14, 0x3fff
done:
    halt
"""

SHARED = """
    mfs r1, id
    slli.w r1, r1, 2
    li r11, {base}
    add.w r11, r11, r1          # the PE's own word: no bank conflicts
    li r2, {n}
    loop r2, 1f
    lw r3, 0(r11)
    addi r3, r3, 1
    sw r3, 0(r11)
1:  halt
"""

NBR = """
    mfs r1, col
    andi r1, r1, 1
    li r2, {n}
    bne r1, r0, odd
    loop r2, 1f
    send e, r3
    recv r3, e
    addi r3, r3, 1
1:  halt
odd:
    loop r2, 2f
    send w, r3
    recv r3, w
    addi r3, r3, 1
2:  halt
"""

SYNC = """
    li r2, {n}
    loop r2, 1f
    addi r3, r3, 1
    sync
1:  halt
"""

MICRO = {
    "sm": SHARED.format(base=0x1000_0000, n=20000),
    "gm": SHARED.format(base=0x8000_0000, n=20000),
    "nbr": NBR.format(n=20000),
    "sync": SYNC.format(n=20000),
}
ORDER = ("inner", "held", "sm", "gm", "nbr", "sync", "conv", "load16", "result16")
UNIT = {"load16": "ms/call", "result16": "ms/call"}


def _clock() -> float:
    """Wall time, or (--clock cpu, BENCH_CLOCK=cpu) this process's CPU time, which other
    processes on a shared machine disturb less."""
    return time.process_time() if os.environ.get("BENCH_CLOCK") == "cpu" else time.perf_counter()


def _best(fn, n: int) -> float:  # noqa: ANN001
    best = float("inf")
    for _ in range(n):
        t = _clock()
        fn()
        best = min(best, _clock() - t)
    return best


def measure(repeat: int, outputs: int, r: int) -> dict[str, dict[str, float]]:
    """Every workload on the emulator importable here: best seconds, retired, cycles."""
    from pearray import kernels
    from pearray.asm import assemble
    from pearray.emu.machine import Machine

    out: dict[str, dict[str, float]] = {}

    def timed_run(name: str, text: str, lm_noise: bool) -> None:
        prog = assemble(text)
        m = Machine(4, 4)
        rng = np.random.default_rng(0)
        noise = rng.integers(0, 256, (16, 0x3000), dtype=np.uint8)
        best, res = float("inf"), None
        for _ in range(repeat):
            m.load(prog)
            if lm_noise:
                m.lm[:, :0x3000] = noise
            t = _clock()
            res = m.run()
            best = min(best, _clock() - t)
        assert res.status == "halted", res.trap
        out[name] = {"seconds": best, "retired": res.retired, "cycles": res.cycles,
                     "macs": res.macs, "stalls": sum(res.stalls.values())}

    timed_run("inner", INNER.format(outputs=outputs, r=r), True)
    timed_run("held", HELD.format(outputs=outputs // 4, r=r), True)
    for name, text in MICRO.items():
        timed_run(name, text, False)

    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, (6, 14, 14))
    w = rng.integers(-128, 128, (16, 6, 5, 5))
    res = kernels.conv2d(x, w, bits=8)  # assemble once, outside the timing
    out["conv"] = {"seconds": _best(lambda: kernels.conv2d(x, w, bits=8), repeat),
                   "retired": res.run.retired, "cycles": res.cycles}

    big = Machine(16, 16)
    prog = assemble("mfs r1, id\naddi r2, r1, 1\nhalt\n")
    big.load(prog)
    res = big.run()
    calls = 50
    out["load16"] = {"seconds": _best(lambda: [big.load(prog) for _ in range(calls)],
                                      repeat) / calls, "retired": 0, "cycles": 0}
    big.load(prog)
    big.run()
    out["result16"] = {"seconds": _best(lambda: [big.result().retired for _ in range(calls)],
                                        repeat) / calls, "retired": res.retired,
                       "cycles": res.cycles}
    return out


def reference(outputs: int, r: int) -> float:
    """M PE-instructions/s of tests/ref.py on the inner loop's instruction stream."""
    sys.path.insert(0, str(ROOT / "tests"))
    import ref

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
    n = max(1, outputs // 50)
    t = time.perf_counter()
    for _ in range(n):
        ref.run_straight(body, st)
    return n * len(body) / (time.perf_counter() - t) / 1e6


def build_against(rev: str) -> Path:
    """REV's tree with its core built, under build/bench-against/<commit> (kept)."""
    sha = subprocess.run(["git", "rev-parse", "--verify", f"{rev}^{{commit}}"], cwd=ROOT,
                         check=True, capture_output=True, text=True).stdout.strip()
    tree = ROOT / "build" / "bench-against" / sha[:12]
    if not any((tree / "emu").glob("_core*.so")):
        tree.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", sha], cwd=ROOT, check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        print(f"building the core of {rev} ({sha[:12]}) in {tree} ...", file=sys.stderr)
        subprocess.run([sys.executable, "emu/build_core.py"], cwd=tree, check=True,
                       capture_output=True)
    return tree


def worker(tree: Path | None, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--repeat",
           str(args.repeat), "--outputs", str(args.outputs), "--r", str(args.r)]
    done = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True,
                          cwd=str(tree or ROOT))
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--against", default="main", help="git revision to compare with "
                    "(default main; `none` for this tree alone)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds (best of)")
    ap.add_argument("--repeat", type=int, default=5, help="runs per workload per round")
    ap.add_argument("--outputs", type=int, default=20000, help="outputs per PE (inner loop)")
    ap.add_argument("--r", type=int, default=18, help="macl per output (conv2 of LeNet: 18)")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="what to time: wall time (default) or the process's CPU time")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ["BENCH_CLOCK"] = args.clock  # the workers inherit it
    if args.worker:
        print(json.dumps(measure(args.repeat, args.outputs, args.r)))
        return

    other = None if args.against == "none" else build_against(args.against)
    best: dict[str, dict[str, dict[str, float]]] = {"this": {}, "other": {}}
    for _ in range(args.rounds):
        for side, tree in (("this", None), ("other", other)):
            if side == "other" and other is None:
                continue
            for k, v in worker(tree, args).items():
                if k not in best[side] or v["seconds"] < best[side][k]["seconds"]:
                    best[side][k] = v
    py = reference(args.outputs, args.r)

    this, that = best["this"], best["other"]
    head = (f"emulator, 4x4 PEs, one core, {args.clock} time, best of {args.rounds} rounds x "
            f"{args.repeat} runs")
    if other is not None:
        head += f"; against {args.against} built in {other.relative_to(ROOT)}"
    print(head)
    print(f"{'workload':<9} {'PE-instr':>11} {'cycles':>10} {'this':>10} "
          f"{args.against:>10} {'ratio':>7}  same counters")
    for k in ORDER:
        a = this[k]
        unit = UNIT.get(k, "M/s")
        speed = (lambda v: v["seconds"] * 1e3) if unit == "ms/call" else (
            lambda v: v["retired"] / v["seconds"] / 1e6)
        row = f"{k:<9} {int(a['retired']):>11,} {int(a['cycles']):>10,} {speed(a):>10.2f}"
        if that:
            b = that[k]
            ratio = b["seconds"] / a["seconds"]
            same = "yes" if (a["retired"], a["cycles"]) == (b["retired"], b["cycles"]) and \
                a.get("macs") == b.get("macs") and a.get("stalls") == b.get("stalls") else "NO"
            row += f" {speed(b):>10.2f} {ratio:>6.2f}x  {same}"
        print(row + ("  (ms per call)" if unit == "ms/call" else ""))
    inner = this["inner"]["retired"] / this["inner"]["seconds"] / 1e6
    print(f"\nPython reference (tests/ref.py), inner loop: {py:.3f} M/s; "
          f"emulator / reference: {inner / py:,.0f}x")
    if that:
        lock = [that[k]["seconds"] / this[k]["seconds"] for k in ("sm", "gm", "nbr")]
        print(f"lock-step micro-programs (sm, gm, nbr) vs {args.against}: "
              + ", ".join(f"{x:.2f}x" for x in lock)
              + f"; target >= 2x: {'met' if min(lock) >= 2 else 'NOT met'}")


if __name__ == "__main__":
    main()
