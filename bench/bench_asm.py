"""Assembler throughput and memory against the bare Lark parse of the same lines.

Generates a 100k-instruction program (16 `.pe` images of 6250 instructions:
every instruction format, labels, local labels, expressions, `li`/`mv`,
loads/stores, branches, jumps, loops, comments; lines made distinct, so that
the assembler's line cache cannot stand in for parsing) and prints, side by
side:

  - how many lines the assembler really parsed (its parse function counted in
    a separate run) and how many came from its cache;
  - the whole assembler, cold (caches emptied), in instructions/s (CPU time,
    best of --repeat: the machine's cores are shared);
  - the bare Lark parse of exactly the lines the assembler parsed (the
    generated grammar, LALR, building trees, no caching), per line as the
    assembler calls it, and as one call over the whole text with the same
    grammar wrapped in a file rule (the garbage collector is off for every
    measurement, as the assembler turns it off); the ratios (target <= 1.5);
  - peak memory of one assembly (tracemalloc, a separate run), per instruction
    (target <= 0.5 KB);
  - unrolled code: `.rept` of a 10-line body, 100k instructions (16 images);
  - re-assembly of the unchanged file (the in-process cache).

Run: python3 bench/bench_asm.py [--instructions N] [--seed S]
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
import tracemalloc
from pathlib import Path

from lark import Lark

try:
    import pearray  # noqa: F401 - the installed package, not the checkout around this script
except ImportError:  # not installed: run from the checkout (the root holds pearray/)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pearray.asm import assembler, grammar, match  # noqa: E402
from pearray.asm.assembler import assemble  # noqa: E402
from pearray.asm.grammar import bare_parser, grammar_text  # noqa: E402
from pearray.asm.templates import templates  # noqa: E402

LANE = ["add", "sub", "adds", "subs", "addus", "subus", "mul", "min", "max", "minu", "maxu",
        "sll", "srl", "sra", "srar", "mac", "macs", "dot"]
UNARY = ["abs", "relu", "splat"]
SHIFT = ["slli", "srli", "srai", "srari", "srasi"]
LOADS = ["lw", "lh", "lb", "lhu", "lbu"]
STORES = ["sw", "sh", "sb"]
BRANCH = ["beq", "bne", "blt", "bge", "bltu", "bgeu"]
G = {"b": 7, "h": 15, "w": 31}


def generate(n: int, seed: int) -> str:
    """A varied, realistic program of about n instructions."""
    rnd = random.Random(seed)
    reg = lambda: f"r{rnd.randrange(16)}"  # noqa: E731
    out = [".equ N, 64", ".equ K, 12", ".equ STRIDE, N * 4", ".equ MASK, (1 << K) - 1", ""]
    per_pe = n // 16
    label = 0
    for pe in range(16):
        out.append(f".pe {pe // 4},{pe % 4}")
        first = label  # this image's labels (a branch cannot leave its image)
        count = 0
        while count < per_pe:
            if count % 8 == 0:
                out.append(f"L{pe}_{label}:")
                label += 1
            kind = rnd.randrange(22)
            g = rnd.choice("bhw")
            if kind < 5:
                out.append(f"        {rnd.choice(LANE)}.{g} {reg()}, {reg()}, {reg()}")
            elif kind == 5:
                out.append(f"        {rnd.choice(UNARY)}.{g} {reg()}, {reg()}")
            elif kind == 6:
                out.append(f"        {rnd.choice(SHIFT)}.{g} {reg()}, {reg()}, "
                           f"{rnd.randrange(G[g] + 1)}")
            elif kind == 7:
                out.append(f"        addi {reg()}, {reg()}, {rnd.randrange(-2000, 2000)}")
            elif kind == 8:
                out.append(f"        andi {reg()}, {reg()}, MASK & {rnd.randrange(65536):#x}")
            elif kind == 9:
                out.append(f"        {rnd.choice(LOADS)} {reg()}, "
                           f"{rnd.randrange(-64, 64) * 4}({reg()})")
            elif kind == 10:
                out.append(f"        {rnd.choice(STORES)} {reg()}, "
                           f"(N*{rnd.randrange(8)})+4({reg()})")
            elif kind == 11:
                out.append(f"        lw {reg()}, ({reg()})+4")
            elif kind == 12 and label > first:
                target = f"L{pe}_{rnd.randrange(max(first, label - 3), label)}"
                out.append(f"        {rnd.choice(BRANCH)} {reg()}, {reg()}, {target}")
            elif kind == 13:
                jump = rnd.choice([f"{rnd.choice(BRANCH)} {reg()}, {reg()}, 1f",
                                   f"loop {reg()}, 1f", f"j 1f  # skip {label}"])
                out.append(f"        {jump}")
                out.append(f"        addi {reg()}, {reg()}, {rnd.randrange(-2000, 2000)}")
                out.append(f"1:      ori {reg()}, {reg()}, {rnd.randrange(4096):#x}")
                count += 2
            elif kind == 14:
                out.append(f"        li {reg()}, {rnd.randrange(1 << 32):#x}")
                count += 1
            elif kind == 15:  # few distinct spellings: a comment makes the line distinct
                out.append(f"        mv {reg()}, {reg()}    # copy {label}.{count}")
            elif kind == 16:
                out.append(f"        mfs {reg()}, {rnd.choice(['row', 'col', 'id', 'cycle'])}"
                           f"  # {label}.{count}")
            elif kind == 17:
                d = rnd.choice("nesw")
                out.append((f"        send {d}, {reg()}" if rnd.random() < .5
                            else f"        recv {reg()}, {d}") + f"  # {label}.{count}")
            elif kind == 18:
                out.append(f"        mac.{g} {reg()}, {reg()}, {reg()}   # accumulate")
            elif kind == 19:
                out.append(f"        lui {reg()}, STRIDE + {rnd.randrange(4096)}")
            elif kind == 20 and label > first:
                out.append(f"        jal r15, L{pe}_{rnd.randrange(first, label)}")
            else:
                out.append(f"        mts {rnd.choice(['lfsr', 'sat'])}, {reg()}  # {label}.{count}")
            count += 1
        out.append(f"        halt  # image {pe}")
    return "\n".join(out) + "\n"


UNROLLED_BODY = """\
        lw r10, (r3)+4
        lw r11, (r4)+4
        mac.b r5, r10, r11
        dot.h r6, r10, r11
        add.w r7, r7, r5
        srari.w r8, r7, 4
        packs.h r9, r8, r6
        sw r9, (r12)+4
        addi r1, r1, -1
        xor r2, r2, r9
"""


def _clear() -> None:
    match._cache.clear()
    assembler._CACHE.clear()


def _parsed(text: str) -> tuple[list[str], int]:
    """The lines the assembler really parses (its parse function, counted; `mv` is parsed
    twice, as itself and as its expansion) and the statements of pass 1 (lines looked
    up: the others came from its cache)."""
    parsed: list[str] = []
    parse = grammar.parse_uncached

    def counting_parse(key: str):
        parsed.append(key)
        return parse(key)

    _clear()
    match.parse_line = lambda t: counting_parse(grammar._strip_comment(t) if "#" in t
                                                else t.rstrip())
    try:
        asm = assembler.Assembler("bench.s", ())
        asm.pass1(text)
    finally:
        match.parse_line = grammar.parse_line
    return parsed, asm.seq


def _peak(text: str) -> int:
    """Peak bytes allocated while assembling `text` once, cold (tracemalloc)."""
    _clear()
    gc.collect()
    tracemalloc.start()
    try:
        assembler.run(text, "bench.s", ())
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _best(fn, repeat: int, setup=None) -> float:
    """Best CPU time of `repeat` runs (this process's: on cores shared with other work,
    wall time mostly measures the neighbours), with the garbage collector off as the
    assembler runs (so the parse-only figures are not charged for collections either)."""
    best = float("inf")
    for _ in range(repeat):
        if setup is not None:
            setup()  # e.g. emptying the caches: not part of the measurement
        gc.collect()
        gc.disable()
        try:
            t0 = time.process_time()
            fn()
            best = min(best, time.process_time() - t0)
        finally:
            gc.enable()
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--instructions", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()

    t0 = time.perf_counter()
    grammar.parser()
    build = time.perf_counter() - t0
    text = generate(args.instructions, args.seed)
    prog = assemble(text, "bench.s")
    n = sum(len(im.words) for im in prog.images)
    total = text.count("\n")
    lines, looked = _parsed(text)
    lines = [s for s in lines if s.strip()]
    peak = _peak(text)

    def cold() -> None:
        assemble(text, "bench.s")

    bare = bare_parser()

    def parse_lines() -> None:
        for s in lines:
            if s.strip():
                bare.parse(s)

    # Interleaved, best of each: the two see the same machine load.
    whole = per_line = float("inf")
    for _ in range(args.repeat):
        whole = min(whole, _best(cold, 1, _clear))
        per_line = min(per_line, _best(parse_lines, 1))
    file_grammar = grammar_text(templates()).replace(
        "start: label* statement?",
        "start: _line (_NL _line)*\n_line: label* statement?\n_NL: /\\n/", 1)
    whole_text = "\n".join(lines)
    file_parser = Lark(file_grammar, parser="lalr")
    one_call = _best(lambda: file_parser.parse(whole_text), args.repeat)

    # 16 images (one instruction memory holds 16K words), each a .rept of the body
    unrolled = "".join(f".pe {pe // 4},{pe % 4}\n.rept {args.instructions // 160}\n"
                       f"{UNROLLED_BODY}.endr\n" for pe in range(16))
    n_unrolled = sum(len(im.words) for im in assemble(unrolled).images)

    unrolled_t = _best(lambda: assemble(unrolled), args.repeat, _clear)
    assemble(text, "bench.s")
    again = _best(lambda: assemble(text, "bench.s"), 5)

    print(f"program: {n} instructions, {total} lines, {len(text) / 1e6:.2f} MB; "
          f"grammar build {build * 1e3:.0f} ms (once per process)")
    print(f"lines parsed by the assembler:   {len(lines)} (statements: {looked}; from its "
          f"cache: {max(looked - len(lines), 0)}; `mv` lines count twice, blank lines not)")
    print(f"whole assembler (cold caches):   {whole:7.3f} s  {n / whole:10.0f} instructions/s  "
          f"{len(lines) / whole:10.0f} parsed lines/s")
    print(f"bare Lark parse of those lines:  {per_line:7.3f} s  {n / per_line:10.0f} "
          f"instructions/s  {len(lines) / per_line:10.0f} lines/s   "
          f"ratio assembler/parse {whole / per_line:.2f} (target <= 1.5)")
    print(f"bare Lark parse, one call:       {one_call:7.3f} s  {n / one_call:10.0f} "
          f"instructions/s   ratio assembler/parse {whole / one_call:.2f}")
    print(f"peak memory of one assembly:     {peak / 1e6:7.1f} MB  {peak / n:10.0f} "
          "bytes/instruction (tracemalloc; target <= 512)")
    print(f"unrolled (.rept of 10 lines):    {unrolled_t:7.3f} s  "
          f"{n_unrolled / unrolled_t:10.0f} instructions/s")
    print(f"re-assembly, unchanged file:     {again * 1e3:7.1f} ms {n / again:10.0f} "
          "instructions/s")


if __name__ == "__main__":
    main()
