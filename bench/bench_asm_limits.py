"""Hostile inputs to the assembler (issue 13): time and peak memory, side by side.

Each case runs in a fresh process that reads it from a file: the wall time of
the assembly, then (a second run, traced) the peak memory it allocated
(tracemalloc). Each must end in a clear error or the right program:

  - `.rept 999999` nested twice around nothing (was about 21 h);
  - 31 macros each calling the next twice, an empty leaf (2**31 calls);
  - one 40 MB line (was 1.7 GB);
  - N values on one `.byte` line (was, for N = 5M, 70 s and 2.3 GB), then side by
    side with the same values on separate lines, at most MAX_LINES - 2 of them
    (more lines are refused; 2M separate lines took 8 s).

Run: python3 bench/bench_asm_limits.py [--values N]   (default N = 5,000,000)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

from pearray.asm import macros

CHILD = r"""
import json, sys, time, tracemalloc
from pearray.asm import assembler, grammar, match
grammar.parser()
with open(sys.argv[1], encoding="utf-8") as f:
    text = f.read()
t0 = time.perf_counter()
result = assembler.run(text, "case.s", ())
dt = time.perf_counter() - t0
errors = [d.render().splitlines()[0] for d in result.diagnostics if d.severity == "error"]
data = len(result.program.segments[0].data) if result.program and result.program.segments else 0
del result
match._cache.clear()
tracemalloc.start()  # a second run for memory: tracemalloc slows the first one down
assembler.run(text, "case.s", ())
peak = tracemalloc.get_traced_memory()[1]
print(json.dumps({"time": dt, "grown_kb": peak / 1024, "text_mb": len(text) / 1e6,
                  "error": errors[0] if errors else None, "bytes": data}))
"""


def _text(case: str, n: int) -> str:
    if case == "rept":
        return ".rept 999999\n.rept 999999\n.endr\n.endr\n"
    if case == "macros":
        return ".macro m0\n.endm\n" + "".join(
            f".macro m{i}\nm{i - 1}\nm{i - 1}\n.endm\n" for i in range(1, 32)) + "m31\n"
    if case == "line":
        return "nop " + "x" * 40_000_000 + "\n"
    rnd = random.Random(1)
    values = [str(rnd.randrange(-128, 256)) for _ in range(n)]
    if case == "one":
        return ".data\n.byte " + ", ".join(values) + "\n"
    return ".data\n" + "".join(f".byte {v}\n" for v in values)


def _run(case: str, n: int = 0) -> dict:
    """Assemble the case in a fresh process that reads it from a file (so that making
    the text is not counted): its time and how much its peak memory grew."""
    with tempfile.NamedTemporaryFile("w", suffix=".s", delete=False) as f:
        f.write(_text(case, n))
    try:
        out = subprocess.run([sys.executable, "-c", CHILD, f.name], capture_output=True,
                             text=True, check=True).stdout
    finally:
        os.unlink(f.name)
    return json.loads(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--values", type=int, default=5_000_000)
    args = ap.parse_args()

    def show(label: str, r: dict) -> None:
        what = r["error"] or f"assembled, {r['bytes']:,} bytes of data"
        print(f"{label:<34} {r['time']:8.2f} s  peak memory +{r['grown_kb'] / 1024:7.1f} MB  "
              f"(input {r['text_mb']:.1f} MB)  {what[:90]}")

    show(".rept 999999 x2 around nothing", _run("rept"))
    show("31 macros calling the next twice", _run("macros"))
    show("one 40 MB line", _run("line"))
    show(f"{args.values:,} values on one .byte line", _run("one", args.values))
    # Side by side below the cap on lines (MAX_LINES), which separate lines would pass.
    n = min(args.values, macros.MAX_LINES - 2)
    one, many = _run("one", n), _run("many", n)
    show(f"{n:,} values on one .byte line", one)
    show(f"{n:,} values on {n:,} lines", many)
    print(f"one line / separate lines: time {one['time'] / many['time']:.2f}x, peak memory "
          f"{max(one['grown_kb'], 1) / max(many['grown_kb'], 1):.2f}x (target: <= 1 for both)")


if __name__ == "__main__":
    main()
