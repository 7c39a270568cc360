"""Hostile inputs against the whole toolchain, each in a subprocess with limits.

Run: ``python bench/hostile.py [--only CATEGORY ...] [--timeout S] [--mem-mb MB] [-v]``.

Every category is one function below (decorated ``@category``) that returns groups
of cases: Python text run by a child interpreter under ``RLIMIT_AS`` (default 1 GiB)
with a wall-clock timeout, in a fresh temporary folder.  Inside a group each case is
``case(name, fn)``: the child reports how ``fn`` ended, and the parent counts

* ``clean``     -- refused with a clear error (ValueError/TypeError, exit status 1/2),
* ``correct``   -- accepted, and the result checked right,
* ``traceback`` -- any other exception, or a Python traceback printed by the CLI,
* ``hang``      -- the case did not finish within its timeout,
* ``memory``    -- MemoryError under the address-space limit (or killed by it),
* ``wrong``     -- accepted although the result is wrong or the input had to be refused,
* ``loss``      -- an input file changed, a device/FIFO replaced, or partial files left.

Inputs are generated deterministically (fixed seeds), so two runs count the same
cases.  Fast representative cases of each class live in tests/test_hostile.py; this
driver is the slow, exhaustive one.  To add a class, add one ``@category`` function.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

OUTCOMES = ("clean", "correct", "traceback", "hang", "memory", "wrong", "loss")
BAD = ("traceback", "hang", "memory", "wrong", "loss")


@dataclass
class Group:
    """Cases run by one child process (a hang ends the group: later cases are not run)."""

    name: str
    code: str
    timeout: float = 60.0


CATEGORIES: dict[str, Callable[[], list[Group]]] = {}


def category(fn: Callable[[], list[Group]]) -> Callable[[], list[Group]]:
    CATEGORIES[fn.__name__] = fn
    return fn


# The child's helpers: `case`, `refuse`, `cli`, `Wrong`, `Loss`, `Clean`.
HARNESS = r'''
import json, os, signal, subprocess, sys, time
from pathlib import Path

TMP = Path.cwd()
PEARRAY = str(Path(sys.executable).parent / "pearray")
CLEAN = (ValueError, TypeError)

class Wrong(Exception):
    """Accepted although it is wrong."""

class Loss(Exception):
    """An input or a device was replaced, or a partial file was left."""

class Clean(Exception):
    """A CLI refused the input with a clear message."""

class Hang(Exception):
    """A child command did not end in time."""

class Trace(Exception):
    """A child command printed a Python traceback."""

def emit(kind, name, detail=""):
    sys.stdout.write("@@ " + json.dumps([kind, name, str(detail)[:300]]) + "\n")
    sys.stdout.flush()

def case(name, fn, clean=CLEAN):
    emit("start", name)
    try:
        fn()
    except Wrong as e:
        emit("wrong", name, e)
    except Loss as e:
        emit("loss", name, e)
    except Hang as e:
        emit("hang", name, e)
    except Trace as e:
        emit("traceback", name, e)
    except MemoryError:
        emit("memory", name, "MemoryError")
    except RecursionError as e:
        emit("traceback", name, f"RecursionError: {e}")
    except Clean as e:
        emit("clean", name, e)
    except clean as e:
        emit("clean", name, f"{type(e).__name__}: {e}")
    except BaseException as e:
        emit("traceback", name, f"{type(e).__name__}: {e}")
    else:
        emit("correct", name)

def refuse(fn, what=""):
    """fn must raise; returning is a silently accepted bad input."""
    r = fn()
    raise Wrong(f"accepted{': ' + what if what else ''} -> {str(r)[:80]}")

def cli(*args, timeout=30, sig=None, after=2.0, stdin=subprocess.DEVNULL):
    """Run the installed `pearray`; a traceback or a hang raises; returns (rc, out, err).
    With sig, the signal is sent `after` seconds in, and the time to exit is measured."""
    p = subprocess.Popen([PEARRAY, *map(str, args)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, stdin=stdin, start_new_session=True)
    t_sig = None
    try:
        if sig is not None:
            try:
                p.wait(after)
            except subprocess.TimeoutExpired:
                t_sig = time.monotonic()
                os.killpg(p.pid, sig)
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        raise Hang(f"pearray {' '.join(map(str, args))[:80]}: no exit in {timeout} s") from None
    elapsed = None if t_sig is None else time.monotonic() - t_sig
    err = err.decode(errors="replace")
    if "Traceback (most recent call last)" in err:
        last = err.strip().splitlines()[-1]
        if last.startswith("MemoryError"):
            raise MemoryError
        raise Trace(last)
    return p.returncode, out.decode(errors="replace"), err, elapsed

def must_refuse(rc, err):
    if rc == 0:
        raise Wrong("exit 0 for input that must be refused")
    if rc not in (1, 2):
        raise Wrong(f"exit {rc}")
    raise Clean(err.strip().splitlines()[-1] if err.strip() else f"exit {rc}")

def snapshot(folder=None):
    """{name: (kind, bytes or None)} of a folder, to find changed inputs and leftovers."""
    out = {}
    for p in sorted((folder or TMP).iterdir()):
        st = os.lstat(p)
        import stat as _s
        kind = ("link" if _s.S_ISLNK(st.st_mode) else "dir" if _s.S_ISDIR(st.st_mode)
                else "fifo" if _s.S_ISFIFO(st.st_mode) else "chr" if _s.S_ISCHR(st.st_mode)
                else "file")
        data = p.read_bytes() if kind == "file" else (os.readlink(p) if kind == "link" else None)
        out[p.name] = (kind, data)
    return out

def no_loss(before, allowed_new=(), allowed_changed=()):
    """Inputs unchanged, devices/FIFOs/dirs kept, nothing left behind but allowed files."""
    after = snapshot()
    for name, (kind, data) in before.items():
        if name in allowed_changed:
            continue
        if name not in after:
            raise Loss(f"{name} removed")
        if after[name] != (kind, data):
            raise Loss(f"{name} ({kind}) changed to a {after[name][0]}")
    extra = set(after) - set(before) - set(allowed_new)
    if extra:
        sizes = {n: len(after[n][1] or b"") for n in extra}
        raise Loss(f"left behind: {sizes}")

HALT = "halt\n"
LOOP = "l: addi r1, r1, 1\n   j l\n"
'''


def _g(name: str, body: str, timeout: float = 60.0) -> Group:
    return Group(name, textwrap.dedent(body), timeout)


# ---------------------------------------------------------------- data loss (outputs)

@category
def outputs() -> list[Group]:
    """Output paths onto inputs, devices, FIFOs, folders and symlinks (CLI)."""
    return [_g("outputs", r'''
        import stat
        def setup():
            for p in TMP.iterdir():
                if p.is_dir() and not p.is_symlink():
                    os.rmdir(p)
                else:
                    p.unlink()
            (TMP / "p.s").write_text(HALT)
            cli("asm", TMP / "p.s", "-o", TMP / "p.bin")
            return snapshot()

        def onto_input(args, name):
            def fn():
                before = setup()
                rc, out, err, _ = cli(*args)
                no_loss(before)
                if rc == 0:
                    raise Wrong("an output onto the input was accepted")
                must_refuse(rc, err)
            case(name, fn)

        onto_input(["run", TMP / "p.s", "--trace", TMP / "p.s"], "run --trace onto its source")
        onto_input(["asm", TMP / "p.s", "-o", TMP / "p.s"], "asm -o onto its source")
        onto_input(["disasm", TMP / "p.bin", "-o", TMP / "p.bin"], "disasm -o onto its input")
        onto_input(["run", TMP / "p.bin", "--trace", TMP / "p.bin"], "run --trace onto its .bin")

        def via_link(kind, cmd):
            def fn():
                before = setup()
                if kind == "hard":
                    os.link(TMP / "p.s", TMP / "alias")
                else:
                    os.symlink("p.s", TMP / "alias")
                before = snapshot()
                rc, out, err, _ = cli(*cmd)
                no_loss(before)
                must_refuse(rc, err)
            return fn
        def onto_include(cmd):
            def fn():
                setup()
                (TMP / "inc.s").write_text(".equ X, 1\n")
                (TMP / "q.s").write_text('.include "inc.s"\nhalt\n')
                before = snapshot()
                rc, out, err, _ = cli(*cmd)
                no_loss(before)
                must_refuse(rc, err)
            return fn
        case("asm -o an .include'd file", onto_include(["asm", TMP / "q.s", "-o", TMP / "inc.s"]))
        case("run --trace an .include'd file",
             onto_include(["run", TMP / "q.s", "--trace", TMP / "inc.s"]))

        case("asm -o a hard link to its source",
             via_link("hard", ["asm", TMP / "p.s", "-o", TMP / "alias"]))
        case("asm -o a symlink to its source",
             via_link("soft", ["asm", TMP / "p.s", "-o", TMP / "alias"]))
        case("run --trace a hard link to its source",
             via_link("hard", ["run", TMP / "p.s", "--trace", TMP / "alias"]))
        case("run --trace a symlink to its source",
             via_link("soft", ["run", TMP / "p.s", "--trace", TMP / "alias"]))
        case("run --trace a relative path to its source (./)",
             via_link("soft", ["run", TMP / "p.s", "--trace", str(TMP / "." / "p.s")]))

        def special(kind, cmd_of):
            def fn():
                before = setup()
                target = TMP / "target"
                if kind == "fifo":
                    os.mkfifo(target)
                elif kind == "chr":
                    os.mknod(target, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # like /dev/null
                else:
                    target.mkdir()
                before = snapshot()
                rc, out, err, _ = cli(*cmd_of(target), timeout=15)
                no_loss(before)
                must_refuse(rc, err)
            return fn
        for kind in ("fifo", "chr", "dir"):
            case(f"asm -o a {kind}", special(kind, lambda t: ["asm", TMP / "p.s", "-o", t]))
            case(f"run --trace a {kind}",
                 special(kind, lambda t: ["run", TMP / "p.s", "--trace", t]))
            case(f"disasm -o a {kind}",
                 special(kind, lambda t: ["disasm", TMP / "p.bin", "-o", t]))

        def through_symlink(cmd_of):
            def fn():
                setup()
                (TMP / "real").write_bytes(b"old")
                os.symlink("real", TMP / "link")
                rc, out, err, _ = cli(*cmd_of(TMP / "link"))
                if rc != 0:
                    raise Wrong(f"exit {rc}: {err.strip()[-100:]}")
                if not (TMP / "link").is_symlink():
                    raise Wrong("the symlink was replaced by a file")
                if (TMP / "real").read_bytes() == b"old":
                    raise Wrong("the symlink's target was not written")
                names = {p.name for p in TMP.iterdir()}
                if names != {"p.s", "p.bin", "real", "link"}:
                    raise Loss(f"left behind: {names - {'p.s', 'p.bin', 'real', 'link'}}")
            return fn
        case("asm -o writes through a symlink",
             through_symlink(lambda t: ["asm", TMP / "p.s", "-o", t]))
        case("run --trace writes through a symlink",
             through_symlink(lambda t: ["run", TMP / "p.s", "--trace", t]))
        case("disasm -o writes through a symlink",
             through_symlink(lambda t: ["disasm", TMP / "p.bin", "-o", t]))

        def out_is_file():
            before = setup()
            rc, out, err, _ = cli("experiment", "--out", TMP / "p.s", "--images", "1",
                                  "--bits", "32", "--rounding", "nearest", timeout=120)
            no_loss(before)
            must_refuse(rc, err)
        case("experiment --out an existing file", out_is_file)

        def missing_folder():
            before = setup()
            rc, out, err, _ = cli("asm", TMP / "p.s", "-o", TMP / "no" / "such" / "x.bin")
            no_loss(before)
            must_refuse(rc, err)
        case("asm -o into a missing folder", missing_folder)
    ''', timeout=400)]


@category
def signals() -> list[Group]:
    """A run with --trace killed or interrupted; Ctrl-C inside the C loop; the default limit."""
    return [_g("signals", r'''
        def setup():
            for p in TMP.iterdir():
                p.unlink()
            (TMP / "loop.s").write_text(LOOP)
            return snapshot()

        def killed(sig, expect_rc):
            def fn():
                before = setup()
                rc, out, err, dt = cli("run", TMP / "loop.s", "--trace", TMP / "t.jsonl",
                                       sig=sig, after=2.0, timeout=20)
                no_loss(before)
                if expect_rc is not None and rc != expect_rc:
                    raise Wrong(f"exit {rc}, expected {expect_rc}")
                if dt is not None and dt > 1.0:
                    raise Hang(f"{dt:.1f} s to stop after the signal")
            return fn
        case("run --trace killed by SIGKILL", killed(signal.SIGKILL, None))
        case("run --trace interrupted by SIGINT", killed(signal.SIGINT, 130))
        case("run --trace terminated by SIGTERM", killed(signal.SIGTERM, None))
        case("run --trace hung up by SIGHUP", killed(signal.SIGHUP, None))

        def ctrl_c_in_c_loop():
            setup()
            rc, out, err, dt = cli("run", TMP / "loop.s", "--max-cycles", 10**12,
                                   sig=signal.SIGINT, after=2.0, timeout=20)
            if dt is not None and dt > 1.0:
                raise Hang(f"Ctrl-C took {dt:.1f} s")
            if rc != 130:
                raise Wrong(f"exit {rc} after Ctrl-C")
        case("Ctrl-C inside the C loop", ctrl_c_in_c_loop)

        def default_limit():
            setup()
            t = time.monotonic()
            rc, out, err, _ = cli("run", TMP / "loop.s", "--rows", 16, "--cols", 16, timeout=20)
            if rc != 1:
                raise Wrong(f"exit {rc}")
        case("`l: j l` on 16x16 to the default cycle limit", default_limit)
    ''', timeout=200)]


# ---------------------------------------------------------------- containers

_CONTAINER_SETUP = r'''
import json, random, struct
from pearray.asm import assemble
from pearray.asm.program import ContainerError, Program
SRC = """
        .data
a:      .word 1, 2, 3
        .text
        li r1, a
        lw r2, 0(r1)
        halt
        .pe 0,0
        nop
        halt
"""
GOOD = assemble(SRC, "p.s").to_bytes()

def sections(blob):
    out, pos = [], 16
    while pos < len(blob):
        tag = blob[pos:pos + 4]
        (n,) = struct.unpack_from("<I", blob, pos + 4)
        out.append((tag, blob[pos + 8:pos + 8 + n]))
        pos += 8 + n + (-n % 4)
    return out

def build(secs, count=None):
    body = b"".join(t + struct.pack("<I", len(p)) + p + b"\0" * (-len(p) % 4) for t, p in secs)
    return GOOD[:8] + struct.pack("<II", 1, len(secs) if count is None else count) + body

def canonical(blob):
    """(count, [(tag, payload; JSON parsed and re-dumped)], trailing bytes) of a blob."""
    count = struct.unpack_from("<I", blob, 12)[0]
    out, pos = [], 16
    while pos + 8 <= len(blob):
        tag = blob[pos:pos + 4]
        (n,) = struct.unpack_from("<I", blob, pos + 4)
        payload = blob[pos + 8:pos + 8 + n]
        if tag in (b"META", b"SYMS"):
            payload = json.dumps(json.loads(payload), sort_keys=True)
        pad = blob[pos + 8 + n:pos + 8 + n + (-n % 4)]
        out.append((tag, payload, pad))
        pos += 8 + n + (-n % 4)
    return count, out, blob[pos:]

def accepted_must_round_trip(blob):
    """Accepting is right only if nothing was dropped, coerced or ignored: writing the
    Program back gives the same sections, values and length."""
    p = Program.from_bytes(blob)
    try:
        same = canonical(blob) == canonical(p.to_bytes())
    except Exception as exc:
        raise Wrong(f"accepted bytes that do not parse as a container: {exc}") from None
    if not same:
        raise Wrong(f"accepted a damaged container ({len(blob)} bytes): it does not "
                    "write back the same")

def must_refuse_blob(blob, what):
    refuse(lambda: Program.from_bytes(blob), what)
'''


@category
def container_fuzz() -> list[Group]:
    """Every truncation, 600 bit flips and 200 junk files of a small valid container."""
    return [_g("container_fuzz", _CONTAINER_SETUP + r'''
rng = random.Random(13)
for n in range(len(GOOD)):
    case(f"truncated to {n} bytes", lambda n=n: must_refuse_blob(GOOD[:n], "truncated"),
         clean=ContainerError)
for k in range(600):
    b = bytearray(GOOD)
    i = rng.randrange(8 * len(b))
    b[i // 8] ^= 1 << (i % 8)
    case(f"bit flip {i}", lambda b=bytes(b): accepted_must_round_trip(b), clean=ContainerError)
for k in range(200):
    n = rng.randrange(0, 400)
    junk = (GOOD[:rng.choice((0, 8, 16))] if k % 2 else b"") + rng.randbytes(n)
    case(f"junk {k}", lambda j=junk: accepted_must_round_trip(j), clean=ContainerError)
''', timeout=120)]


@category
def container_values() -> list[Group]:
    """Structurally valid containers with values docs/container.md says are refused."""
    return [_g("container_values", _CONTAINER_SETUP + r'''
secs = sections(GOOD)
meta = [s for s in secs if s[0] == b"META"][0]
syms_i = [i for i, s in enumerate(secs) if s[0] == b"SYMS"][0]

def with_syms(payload):
    s = list(secs)
    s[syms_i] = (b"SYMS", payload)
    return build(s)

def with_meta(payload):
    return build([(b"META", payload)] + [s for s in secs if s[0] != b"META"])

cases = {
    "trailing garbage": GOOD + b"JUNKJUNK",
    "trailing zero word": GOOD + b"\0\0\0\0",
    "count below the sections present": build(secs, count=len(secs) - 1),
    "count 0 with sections": build(secs, count=0),
    "count above the sections present": build(secs, count=len(secs) + 1),
    "duplicate META": build([meta] + secs),
    "duplicate SYMS": build(secs + [secs[syms_i]]),
    "SYMS value 1.5": with_syms(b'{"a": 1.5}'),
    "SYMS value true": with_syms(b'{"a": true}'),
    "SYMS value Infinity": with_syms(b'{"a": Infinity}'),
    "SYMS value NaN": with_syms(b'{"a": NaN}'),
    "SYMS value [1,2]": with_syms(b'{"a": [1, 2]}'),
    "SYMS value string": with_syms(b'{"a": "12"}'),
    "SYMS value null": with_syms(b'{"a": null}'),
    "SYMS value 2**80": with_syms(b'{"a": 1208925819614629174706176}'),
    "SYMS a list": with_syms(b'[1, 2]'),
    "SYMS nested 100,000 deep": with_syms(b'{"a": ' + b"[" * 100000 + b"]" * 100000 + b"}"),
    "SYMS duplicate key": with_syms(b'{"a": 1, "a": 2}'),
    "SYMS not UTF-8": with_syms(b'{"\xff": 1}'),
    "META nested 100,000 deep": with_meta(b"[" * 100000 + b"]" * 100000),
    "META files not a list": with_meta(b'{"isa": "x", "files": "abc"}'),
    "META files of numbers": with_meta(b'{"isa": "x", "files": [1, 2]}'),
    "META isa a number": with_meta(b'{"isa": 5, "files": []}'),
    "META missing keys": with_meta(b'{}'),
    "version 2": GOOD[:8] + struct.pack("<I", 2) + GOOD[12:],
    "unknown section": build(secs + [(b"XXXX", b"abcd")]),
    "DATA region 7": build(secs + [(b"DATA", struct.pack("<II4BI", 7, 0, 255, 255, 255, 255,
                                                             0))]),
    "CODE with 2**32-1 words": build(secs + [(b"CODE", struct.pack("<4BI", 255, 255, 255,
                                                                   255, 2**32 - 1))]),
    "section length 2**32-1": GOOD[:16] + b"META" + struct.pack("<I", 2**32 - 1),
    "CODE selection rows reversed": build(secs + [(b"CODE", struct.pack("<4BI", 3, 1, 0, 0, 0))]),
    "CODE selection 255 mixed": build(secs + [(b"CODE", struct.pack("<4BI", 255, 0, 0, 0, 0))]),
    "line map file index out of range": build(
        secs + [(b"CODE", struct.pack("<4BI", 255, 255, 255, 255, 1) + struct.pack("<III", 0,
                                                                                     99, 1))]),
}
for name, blob in cases.items():
    case(name, lambda b=blob, n=name: must_refuse_blob(b, n), clean=ContainerError)

def cli_bad_bin():
    (TMP / "bad.bin").write_bytes(with_syms(b'{"a": ' + b"[" * 100000 + b"]" * 100000 + b"}"))
    rc, out, err, _ = cli("run", TMP / "bad.bin")
    must_refuse(rc, err)
case("pearray run on a 100,000-deep SYMS", cli_bad_bin)
''', timeout=120)]


# ---------------------------------------------------------------- kernels

@category
def kernels() -> list[Group]:
    """Threads, accumulator overflow and degenerate shapes in the kernel drivers."""
    return [_g(f"kernels: {name}", _KERNEL_SETUP + body, timeout=300)
            for name, body in _KERNEL_GROUPS.items()]


_KERNEL_SETUP = r'''
import threading
import numpy as np
from pearray import kernels as K

def ref_conv(x, w, b):
    k, c, kh, kw = w.shape
    ho, wo = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    y = np.zeros((k, ho, wo), np.int64)
    for oy in range(ho):
        for ox in range(wo):
            y[:, oy, ox] = (w.astype(np.int64) * x[None, :, oy:oy + kh, ox:ox + kw]).sum(
                axis=(1, 2, 3)) + b
    return y

def threaded():
    rng = np.random.default_rng(0)
    jobs = []
    for i in range(40):
        c, k, h = 1 + i % 3, 1 + i % 5, 5 + i % 4
        x = rng.integers(-128, 128, (c, h, h))
        w = rng.integers(-128, 128, (k, c, 3, 3))
        b = rng.integers(-1000, 1000, k)
        jobs.append((x, w, b))
    out = [None] * len(jobs)
    def work(j):
        for i in range(j, len(jobs), 8):
            out[i] = K.conv2d(*jobs[i]).y
    ts = [threading.Thread(target=work, args=(j,)) for j in range(8)]
    for t in ts: t.start()
    for t in ts: t.join()
    bad = sum(not np.array_equal(o, ref_conv(*j)) for o, j in zip(out, jobs))
    if bad:
        raise Wrong(f"{bad} of {len(jobs)} threaded conv2d results wrong")
'''
_KERNEL_GROUPS = {"conv2d from threads": r'''
case("conv2d from 8 threads", threaded)
''', "mixed threads": r'''

def threaded_mixed():
    rng = np.random.default_rng(1)
    errs = []
    def work(j):
        r = np.random.default_rng(j)
        for _ in range(5):
            a = r.integers(-2**20, 2**20, 37)
            got = K.requantize(a, 4, bits=16).y
            exp = np.clip((a + 8) >> 4, -2**15, 2**15 - 1)
            if not np.array_equal(got, exp):
                errs.append(j)
            x = r.integers(-128, 128, (2, 6, 6))
            if not np.array_equal(K.maxpool2d(x).y, x.reshape(2, 3, 2, 3, 2).max(axis=(2, 4))):
                errs.append(j)
    ts = [threading.Thread(target=work, args=(j,)) for j in range(6)]
    for t in ts: t.start()
    for t in ts: t.join()
    if errs:
        raise Wrong(f"{len(errs)} threaded requantize/maxpool2d results wrong")
case("requantize and maxpool2d from 6 threads", threaded_mixed)
''', "overflow and shapes": r'''

def overflow(bits, c, kh):
    def fn():
        rng = np.random.default_rng(bits + c)
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1))
        x = rng.choice([lo, hi - 1], (c, kh + 1, kh + 1))
        w = rng.choice([lo, hi - 1], (2, c, kh, kh))
        b = np.zeros(2, np.int64)
        y = K.conv2d(x, w, b, bits=bits).y
        exp = ref_conv(x, w, b)
        if not np.array_equal(y.astype(np.int64), exp):
            raise Wrong(f"{int((y != exp).sum())} of {exp.size} outputs wrapped silently")
    return fn
for bits, c, kh in ((16, 4, 3), (16, 1, 2), (32, 1, 1), (16, 16, 5)):
    case(f"conv2d {bits}-bit full range, C={c}, {kh}x{kh}", overflow(bits, c, kh))

x = np.zeros((1, 6, 6), np.int64); w = np.zeros((2, 1, 3, 3), np.int64)
bad = {
    "conv2d rows=0": lambda: K.conv2d(x, w, rows=0),
    "conv2d cols=-2": lambda: K.conv2d(x, w, cols=-2),
    "conv2d rows=17": lambda: K.conv2d(x, w, rows=17),
    "conv2d rows=2.5": lambda: K.conv2d(x, w, rows=2.5),
    "conv2d batch 0": lambda: K.conv2d(np.zeros((0, 1, 6, 6), np.int64), w),
    "conv2d K=0": lambda: K.conv2d(x, np.zeros((0, 1, 3, 3), np.int64)),
    "conv2d C=0": lambda: K.conv2d(np.zeros((0, 6, 6), np.int64), np.zeros((2, 0, 3, 3),
                                                                         np.int64)),
    "conv2d 0x0 kernel": lambda: K.conv2d(x, np.zeros((2, 1, 0, 0), np.int64)),
    "conv2d empty image": lambda: K.conv2d(np.zeros((1, 0, 0), np.int64), w),
    "conv2d stride 0": lambda: K.conv2d(x, w, stride=0),
    "conv2d bits 2": lambda: K.conv2d(x, w, bits=2),
    "conv2d x above 4-bit": lambda: K.conv2d(x + 8, w, bits=4),
    "conv2d float x": lambda: K.conv2d(x.astype(float), w),
    "linear K=0": lambda: K.linear(np.zeros(4, np.int64), np.zeros((0, 4), np.int64)),
    "linear C=0": lambda: K.linear(np.zeros(0, np.int64), np.zeros((3, 0), np.int64)),
    "linear batch 0": lambda: K.linear(np.zeros((0, 4), np.int64), np.zeros((3, 4), np.int64)),
    "linear rows=0": lambda: K.linear(np.zeros(4, np.int64), np.zeros((3, 4), np.int64),
                                      rows=0),
    "maxpool2d rows=0": lambda: K.maxpool2d(x, rows=0),
    "maxpool2d batch 0": lambda: K.maxpool2d(np.zeros((0, 1, 4, 4), np.int64)),
    "maxpool2d C=0": lambda: K.maxpool2d(np.zeros((0, 4, 4), np.int64)),
    "requantize rows=0": lambda: K.requantize(np.zeros(4, np.int64), 2, rows=0),
    "requantize cols=-2": lambda: K.requantize(np.zeros(4, np.int64), 2, cols=-2),
    "requantize shift -1": lambda: K.requantize(np.zeros(4, np.int64), -1),
    "requantize 2**40": lambda: K.requantize(np.array([2**40]), 2),
}
for name, fn in bad.items():
    case(name, lambda fn=fn: refuse(fn))

def any_seed(seed):
    def fn():
        y = K.conv2d(x + 1, w + 1, out_shift=2, rounding="stochastic", seed=seed).y
        if y.shape != (2, 4, 4):
            raise Wrong(f"shape {y.shape}")
    return fn
for seed in (-1, 2**70):
    case(f"conv2d seed {seed}", any_seed(seed))

def empty_requant():
    y = K.requantize(np.zeros((0,), np.int64), 2).y
    if y.shape != (0,):
        raise Wrong(f"shape {y.shape}")
case("requantize of an empty array", empty_requant)
'''}


# ---------------------------------------------------------------- quantizer

@category
def quantizer() -> list[Group]:
    """Unbounded parameters, 0-d inputs and extreme magnitudes in quant/."""
    groups = []
    heavy = {
        "point_position search=10**7":
            "Q.point_position(x, 8, search=10**7, allow_clip=True)",
        "kl_threshold bins=10**7": "Q.kl_threshold(x, 8, bins=10**7)",
        "point_position mse_span=10**9": "Q.point_position(x, 8, 'mse', mse_span=10**9)",
        "Calibrator bins=10**9": "Q.Calibrator(10**9).observe('a', x)",
        "kl_threshold bins=2**62": "Q.kl_threshold(x, 8, bins=2**62)",
        "point_position search=2**62": "Q.point_position(x, 8, search=2**62)",
    }
    for name, expr in heavy.items():
        groups.append(_g(f"quantizer: {name}", f'''
import numpy as np
from pearray import quant as Q
x = np.random.default_rng(0).standard_normal(10000)
case({name!r}, lambda: {expr})
''', timeout=30))
    groups.append(_g("quantizer: values", r'''
import math, warnings
import numpy as np
from pearray import quant as Q
warnings.simplefilter("error")  # a warning is not a result

def q0d():
    y = Q.quantize(np.array(1.5), 8, 2, "nearest")
    if np.ndim(y) != 0 or int(y) != 6:
        raise Wrong(f"quantize(array(1.5)) = {y!r}")
case("quantize(np.array(1.5))", q0d, clean=())

def qscalar(v):
    def fn():
        y = Q.quantize(v, 8, 2, "nearest")
        if int(np.asarray(y)) != 6:
            raise Wrong(f"quantize({v!r}) = {y!r}")
    return fn
for v in (np.float32(1.5), np.float64(1.5), 1.5, np.int64(1) * 1.5):
    case(f"quantize({type(v).__name__} 1.5)", qscalar(v), clean=())

def qstoch():
    y = Q.quantize(np.float32(1.5), 8, 2, "stochastic", rng=0)
    if int(np.asarray(y)) != 6:
        raise Wrong(f"{y!r}")
case("quantize(np.float32(1.5), stochastic)", qstoch, clean=())

def mse_big(v, fl):
    """Nearest rounding of one value: the exact error in rationals; where it exceeds
    float64 a clear ValueError is the right answer, else the float must match it."""
    from fractions import Fraction
    def fn():
        q = max(-128, min(127, math.floor(Fraction(v) * Fraction(2) ** fl + Fraction(1, 2))))
        exact = (Fraction(v) - q * Fraction(2) ** -fl) ** 2
        if exact > Fraction(np.finfo(np.float64).max):
            try:
                e = Q.quantization_mse(np.array([v]), 8, fl, "nearest")
            except ValueError as exc:
                raise Clean(str(exc)) from None
            raise Wrong(f"quantization_mse = {e!r}; the true error {float(exact.numerator).hex()}"
                        " / ... is beyond float64")
        e = Q.quantization_mse(np.array([v]), 8, fl, "nearest")
        if not (isinstance(e, float) and math.isclose(e, float(exact), rel_tol=1e-9,
                                                       abs_tol=1e-300)):
            raise Wrong(f"quantization_mse = {e!r}, expected {float(exact)!r}")
    return fn
for v, fl in ((1e200, 0), (1e200, -660), (1e-200, 700), (1e154, 0), (5e-324, 1074),
              (1.0, -1000)):
    case(f"quantization_mse({v}, fl={fl})", mse_big(v, fl))

def mse_stochastic():
    e = Q.quantization_mse(np.array([1.0]), 8, -1000, "stochastic")
    if not math.isclose(e, 2.0 ** 1000, rel_tol=1e-9):
        raise Wrong(f"{e!r}, expected about 2**1000")
case("quantization_mse(1.0, fl=-1000, stochastic)", mse_stochastic)

for name, fn in {
    "point_position(np.array(1.5))": lambda: Q.point_position(np.array(1.5), 8),
    "kl_threshold(np.float32(1.5))": lambda: Q.kl_threshold(np.float32(1.5), 8),
    "dequantize(np.int8(6), 2)": lambda: Q.dequantize(np.int8(6), 2),
    "pack(np.int8(6), 8)": lambda: Q.pack(np.int8(6), 8),
    "point_position 1e308": lambda: Q.point_position(np.array([1e308, -1e308]), 8),
    "point_position 5e-324": lambda: Q.point_position(np.array([5e-324]), 8),
    "quantize fl=2**40": lambda: Q.quantize(np.array([1.0]), 8, 2**40, "nearest"),
    "quantize fl=-2**40": lambda: Q.quantize(np.array([1.0]), 8, -2**40, "nearest"),
}.items():
    case(name, fn)
''', timeout=60))
    return groups


# ---------------------------------------------------------------- machine API (emulator)

@category
def machine_api() -> list[Group]:
    """Hostile arguments to Machine (read/write/run/step/load, parameters)."""
    return [_g("machine_api", r'''
import numpy as np
from pearray.asm import assemble
from pearray.emu.machine import Machine
m = Machine(2, 2)
m.load(assemble("halt\n"))
GM, SM = 0x8000_0000, 0x1000_0000
must = {
    "read(GM, -1)": lambda: m.read(GM, -1),
    "read(GM, 4, pe=-1)": lambda: m.read(0, 4, pe=-1),
    "read(0, 4, pe=99)": lambda: m.read(0, 4, pe=99),
    "write(GM, None)": lambda: m.write(GM, None),
    "write(GM, 'abc')": lambda: m.write(GM, "abc"),
    "write(GM, 1.5)": lambda: m.write(GM, 1.5),
    "write(GM, [object()])": lambda: m.write(GM, [object()]),
    "Machine(lm_base=0x80000000)": lambda: Machine(1, 1, lm_base=0x8000_0000),
    "Machine(gm_base=0xFFFFFF00)": lambda: Machine(1, 1, gm_base=0xFFFF_FF00),
    "Machine(gm_size=2**40)": lambda: Machine(1, 1, gm_size=2**40),
    "Machine(lm_cost=2**40)": lambda: Machine(1, 1, lm_cost=2**40),
    "Machine(sm_banks=-1)": lambda: Machine(1, 1, sm_banks=-1),
    "Machine(imem_words=2**40)": lambda: Machine(1, 1, imem_words=2**40),
    "Machine(rows=1.5)": lambda: Machine(1.5, 1),
    "load(None)": lambda: m.load(None),
    "load(bytes)": lambda: m.load(b"PEARRAY\0"),
}
for name, fn in must.items():
    case(name, lambda fn=fn: refuse(fn))
for name, fn in {
    "run(-1)": lambda: m.run(-1),
    "run(10**30)": lambda: m.run(10**30),
    "step(2**64)": lambda: m.step(2**64),
    "step(-1)": lambda: m.step(-1),
}.items():
    case(name, fn)
''', timeout=60)]


@category
def trap_report() -> list[Group]:
    """A trap's source line read from whatever META.files names."""
    groups = []
    for name, setup in {
        "/dev/zero": "target = '/dev/zero'",
        "a FIFO": "target = str(TMP / 'fifo'); os.mkfifo(target)",
        "a folder": "target = str(TMP)",
        "a 200 MB sparse file": "target = str(TMP / 'big'); "
                                "open(target, 'wb').truncate(200 * 2**20)",
    }.items():
        groups.append(_g(f"trap_report: {name}", f'''
import numpy as np
from pearray.asm.program import Image, Program, Selection
from pearray.emu.machine import Machine
from pearray.isa import load
{setup}
p = Program(images=[Image(Selection(), np.array([0xFFFFFFFF], np.uint32), [(0, 1)])],
            files=[target], isa=load().digest)
def fn():
    m = Machine(1, 1)
    m.load(p)
    r = m.run(100)
    if r.status != "trap":
        raise Wrong(r.status)
case("trap with META.files = {name}", fn)
''', timeout=20))
    return groups


# ---------------------------------------------------------------- assembler

@category
def assembler() -> list[Group]:
    """Expansion bombs and huge lines."""
    macros = "".join(f".macro m{i}\n" + (f"m{i - 1}\nm{i - 1}\n" if i else "") + ".endm\n"
                     for i in range(31)) + "m30\nhalt\n"
    cases = {
        ".rept 999999 nested twice, empty body":
            "'.rept 999999\\n.rept 999999\\n.endr\\n.endr\\nhalt\\n'",
        "31 macros each calling the next twice": repr(macros),
        "one 40 MB comment line": "'# ' + 'a' * 40_000_000 + '\\nhalt\\n'",
        "a 5M-value .byte line": "'.data\\n.byte ' + '1,' * 4_999_999 + '1\\n.text\\nhalt\\n'",
        "a 10M-deep parenthesis": "'li r1, ' + '(' * 10_000_000 + '1' + ')' * 10_000_000",
    }
    return [_g(f"assembler: {name}", f'''
from pearray.asm import AsmError, assemble
case({name!r}, lambda: assemble({text}, "big.s"), clean=(AsmError, ValueError))
''', timeout=30) for name, text in cases.items()]


# ---------------------------------------------------------------- CLI options and inputs

@category
def cli_inputs() -> list[Group]:
    """Bad options and unreadable programs given to `pearray run`."""
    return [_g("cli_inputs", r'''
(TMP / "p.s").write_text(HALT)
os.mkfifo(TMP / "fifo.s")
(TMP / "bin.s").write_bytes(bytes(range(256)) * 10)
opts = {
    "--max-cycles 10**30": ["--max-cycles", 10**30],
    "--max-cycles -1": ["--max-cycles", -1],
    "--rows 0": ["--rows", 0],
    "--rows 99": ["--rows", 99],
    "--cols abc": ["--cols", "abc"],
}
def opt(args):
    def fn():
        rc, out, err, _ = cli("run", TMP / "p.s", *args)
        must_refuse(rc, err)
    return fn
for name, args in opts.items():
    case(f"run {name}", opt(args))
for name, path in {"a folder": TMP, "a missing file": TMP / "nope.s",
                   "binary junk as .s": TMP / "bin.s", "/dev/zero": "/dev/zero",
                   "a FIFO": TMP / "fifo.s"}.items():
    def fn(path=path):
        rc, out, err, _ = cli("run", path, timeout=15)
        must_refuse(rc, err)
    case(f"run {name}", fn)
''', timeout=200)]


# ---------------------------------------------------------------- honest figures

@category
def experiment() -> list[Group]:
    """The experiment's test images against the images the model was trained on."""
    return [_g("experiment", r'''
import numpy as np
from pearray import experiment as E
from pearray.models import data

class Stop(Exception):
    pass

import inspect
# the images the shipped model was trained on (load_split took a seed before it was fixed)
_fixed = data.load_split(0) if inspect.signature(data.load_split).parameters else data.load_split()
train0 = {x.tobytes() for x in _fixed["train"][0]}
def overlap(seed):
    def fn():
        seen = []
        orig = data.load_split
        def spy(*a, **k):
            seen.append(orig(*a, **k))
            raise Stop
        data.load_split = spy
        try:
            E.run(images=1, seed=seed)
        except Stop:
            pass
        finally:
            data.load_split = orig
        test = {x.tobytes() for x in seen[0]["test"][0]}
        common = len(test & train0)
        if common:
            raise Wrong(f"seed {seed}: {common} of {len(test)} test images are training images")
    return fn
for seed in (0, 1, 2, 7, 12345):
    case(f"experiment --seed {seed}: test split vs training images", overlap(seed))
''', timeout=120)]


# ---------------------------------------------------------------- the driver

def _limit(mem_mb: int) -> Callable[[], None]:
    def fn() -> None:
        lim = mem_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return fn


@dataclass
class Result:
    category: str
    case: str
    outcome: str
    detail: str


def run_group(cat: str, g: Group, mem_mb: int, timeout_scale: float) -> list[Result]:
    """Run one group in a child; parse its reports; attribute a hang or a crash."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
    env.pop("CI", None)
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
        p = subprocess.Popen([sys.executable, "-c", HARNESS + g.code], cwd=tmp, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             preexec_fn=_limit(mem_mb), start_new_session=True)
        hung = False
        try:
            out, err = p.communicate(timeout=g.timeout * timeout_scale)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, err = p.communicate()
            hung = True
        finally:
            try:
                os.killpg(p.pid, signal.SIGKILL)  # anything the group left running
            except ProcessLookupError:
                pass
    results, open_case = [], None
    for line in out.decode(errors="replace").splitlines():
        if not line.startswith("@@ "):
            continue
        kind, name, detail = json.loads(line[3:])
        if kind == "start":
            open_case = name
        else:
            results.append(Result(cat, name, kind, detail))
            open_case = None
    tail = err.decode(errors="replace").strip().splitlines()[-1:] or [""]
    if open_case is not None:
        if hung:
            outcome, detail = "hang", f"no end in {g.timeout * timeout_scale:.0f} s"
        elif "MemoryError" in tail[0] or p.returncode == -signal.SIGKILL:
            outcome, detail = "memory", tail[0] or "killed"
        else:
            outcome, detail = "traceback", tail[0] or f"child exit {p.returncode}"
        results.append(Result(cat, open_case, outcome, detail))
    elif not results:
        results.append(Result(cat, g.name, "traceback", tail[0] or f"exit {p.returncode}"))
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="+", choices=sorted(CATEGORIES), help="categories to run")
    ap.add_argument("--mem-mb", type=int, default=1024, help="RLIMIT_AS per case (MiB)")
    ap.add_argument("--timeout-scale", type=float, default=1.0,
                    help="multiply every group's timeout")
    ap.add_argument("--json", metavar="FILE", help="also write every case's outcome here")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every bad case")
    args = ap.parse_args(argv)
    cats = args.only or list(CATEGORIES)
    results: list[Result] = []
    t0 = time.monotonic()
    for cat in cats:
        t = time.monotonic()
        for g in CATEGORIES[cat]():
            results += run_group(cat, g, args.mem_mb, args.timeout_scale)
        counts = Counter(r.outcome for r in results if r.category == cat)
        print(f"{cat:<18} " + "  ".join(f"{o} {counts[o]}" for o in OUTCOMES if counts[o])
              + f"   ({time.monotonic() - t:.0f} s)", flush=True)
        for r in results:
            if r.category == cat and r.outcome in BAD and args.verbose:
                print(f"    {r.outcome:<9} {r.case}: {r.detail}")
    total = Counter(r.outcome for r in results)
    print(f"\n{len(results)} cases in {time.monotonic() - t0:.0f} s: "
          + ", ".join(f"{o} {total[o]}" for o in OUTCOMES))
    if args.json:
        Path(args.json).write_text(json.dumps([r.__dict__ for r in results], indent=1))
    return 1 if any(total[o] for o in BAD) else 0


if __name__ == "__main__":
    sys.exit(main())
