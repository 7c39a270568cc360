"""The host side of kernels/eltwise.s: residual add of two places, convert of one.

    y = clamp(rshr((a << sa) + (b << sb), shift))       add (ResNet's shortcut sum)
    y = clamp(rshr(a << sa, shift))                     convert (width and/or fl)

A compiler uses it as

    plan = plan_eltwise(EltwiseLayer(bits=8, out_bits=8, sa=0, sb=1, shift=1, relu=True),
                        a_place, b_place, y_place, rows, cols)
    launches = plan.launches(seed=...)      # one, or one per channel slice

The standalone drivers `add`, `convert` and `requantize` do the same for tensors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pearray.emu.machine import machine_defaults

from .launch import Launch, program, program_key
from .place import Place, read_place, write_place
from .standalone import (
    GmPlan,
    KernelResult,
    check_array,
    check_bits,
    check_int_tensor,
    run_plan,
    splat,
    stats,
)

HW, RW = 32, 8
LOOP_SAT = 32
ROUNDING = ("nearest", "stochastic")


@dataclass(frozen=True)
class EltwiseLayer:
    """An add (two inputs) or a convert (one) and its requantisation."""

    bits: int = 8
    out_bits: int = 8
    sa: int = 0
    sb: int = 0
    shift: int = 0
    relu: bool = False
    clip: int | None = None
    rounding: str = "nearest"
    one: bool = False  # a convert: no b

    def __post_init__(self) -> None:
        check_bits(self.bits)
        check_bits(self.out_bits, "out_bits")
        for name in ("sa", "sb", "shift"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or not 0 <= v <= 31:
                raise ValueError(f"{name} must be an integer 0..31, not {v!r}")
        if self.rounding not in ROUNDING:
            raise ValueError(f"rounding must be one of {ROUNDING}, not {self.rounding!r}")
        if self.clip is not None:
            hi = (1 << (self.out_bits - 1)) - 1
            lo = 0 if self.relu else -(1 << (self.out_bits - 1))
            if not (isinstance(self.clip, int | np.integer) and lo <= self.clip <= hi):
                raise ValueError(f"clip must be an integer in {lo}..{hi}, not {self.clip!r}")

    @property
    def saturating_add(self) -> bool:
        """The fast loop applies: one saturating lane add a word (below 32 bits, where the
        int32 sum of the general loop cannot wrap: the same results)."""
        return (not self.one and self.bits == self.out_bits < 32 and self.sa == self.sb == 0
                and self.shift == 0)

    @property
    def variant(self) -> dict[str, int]:
        return {"ONE": int(self.one), "STOCH": int(self.rounding == "stochastic"),
                "RELU": int(bool(self.relu)), "CLIP": int(self.clip is not None)}


@dataclass
class EltwisePlan:
    """How eltwise.s runs one layer: channel slices (launches), segments, LM layout."""

    layer: EltwiseLayer
    a: Place
    b: Place | None
    y: Place
    rows: int
    cols: int
    params: dict[str, int]
    slices: list[tuple[int, int]]  # (first channel, channels) of each launch
    seg: list[int]  # pixels a segment, per slice

    @property
    def program_key(self) -> tuple:
        lay = self.layer
        return program_key("eltwise", lay.bits, lay.out_bits, **lay.variant)

    def _sub(self, p: Place, c0: int, c: int) -> Place:
        return Place(p.addr, p.n, p.h, p.w, c, p.bits, p.pad, p.c_total, p.c_offset + c0)

    def descriptors(self) -> list[np.ndarray]:
        out = []
        for (c0, c), seg in zip(self.slices, self.seg, strict=True):
            a = self._sub(self.a, c0, c)
            b = self._sub(self.b, c0, c) if self.b is not None else a
            y = self._sub(self.y, c0, c)
            out.append(self._descriptor(a, b, y, seg))
        return out

    def _descriptor(self, a: Place, b: Place, y: Place, seg: int) -> np.ndarray:
        lay = self.layer
        lm = _lm_layout(self.params["lm_free"], lay, a.c, seg)
        wo, ho = a.w, a.h
        pes = self.rows * self.cols
        h = np.zeros(HW, np.int64)
        h[:27] = [
            wo, ho,
            a.ps, a.rs - wo * a.ps, a.image_stride - ho * a.rs,
            b.ps, b.rs - wo * b.ps, b.image_stride - ho * b.rs,
            y.ps, y.rs - wo * y.ps, y.image_stride - ho * y.rs,
            -(-a.c * a.bits // 8), lm["cw"], -(-y.c * y.bits // 8), lm["yw"], seg,
            lay.sa, lay.sb, LOOP_SAT if lay.saturating_add else lay.shift,
            splat(lay.clip if lay.clip is not None else 0, lay.out_bits),
            lm["a0"], lm["a0"] + lm["set"], lm["b0"], lm["b0"] + lm["set"], lm["y0"],
            lm["y0"] + lm["set"], lm["set"],
        ]
        p = np.arange(pes)
        units = a.n * ho * wo
        base, rem = divmod(units, pes)
        start = p * base + np.minimum(p, rem)
        count = base + (p < rem)
        n, rest = np.divmod(start, ho * wo)
        oy, ox = np.divmod(rest, wo)
        rec = np.zeros((pes, RW), np.int64)
        rec[:, 0] = count
        rec[:, 1] = wo - ox
        rec[:, 2] = ho - oy
        for col, pl in ((3, a), (4, b), (5, y)):
            rec[:, col] = pl.pixel_addr(0, 0, 0) + n * pl.image_stride + oy * pl.rs + ox * pl.ps
        return (np.concatenate([h, rec.ravel()]) & 0xFFFFFFFF).astype(np.uint32)

    def launches(self, seed: int = 1, name: str = "") -> list[Launch]:
        what = name or ("convert" if self.layer.one else "add")
        return [Launch(self.program_key, d, seed, name=what) for d in self.descriptors()]


def _lm_layout(lm_free: int, lay: EltwiseLayer, c: int, seg: int) -> dict[str, int]:
    """eltwise.s's LM: two sets of (a, b, results) buffers of seg pixels."""
    cw = -(-c * lay.bits // 32)
    if lay.bits == 32 and lay.out_bits == 4:  # two words a turn of the loop (a byte out)
        cw += cw % 2
    yw = cw * (32 // lay.bits) * lay.out_bits // 8
    asize = 4 * cw * seg
    bsize = 0 if lay.one else asize
    ysize = -(-yw * seg // 4) * 4
    size = asize + bsize + ysize
    return {"cw": cw, "yw": yw, "a0": lm_free, "b0": lm_free + asize,
            "y0": lm_free + asize + bsize, "set": size, "end": lm_free + 2 * size}


def plan_eltwise(layer: EltwiseLayer, a: Place, b: Place | None, y: Place, rows: int = 4,
                 cols: int = 4, **machine: int) -> EltwisePlan:
    """Plan an add (b a place) or a convert (b None, layer.one) into place y."""
    params = {**machine_defaults(), **machine}
    prog = program(program_key("eltwise", 8, 8, ONE=0, STOCH=0, RELU=0, CLIP=0))
    params["lm_free"] = int(prog.symbols["LMFREE"])
    if (prog.symbols["HW"], prog.symbols["RW"]) != (HW, RW):
        raise RuntimeError("eltwise.py's descriptor layout is not eltwise.s's")
    lay = layer
    if (b is None) != lay.one:
        raise ValueError("an add takes two places, a convert (one=True) one")
    for name, p, bits in (("a", a, lay.bits), ("b", b, lay.bits), ("y", y, lay.out_bits)):
        if p is None:
            continue
        if p.bits != bits:
            raise ValueError(f"place {name} is at {p.bits} bits, the layer wants {bits}")
        if (p.n, p.c, p.h, p.w) != (a.n, a.c, a.h, a.w):
            raise ValueError(f"place {name} is {p.n}x{p.c}x{p.h}x{p.w}, a is "
                             f"{a.n}x{a.c}x{a.h}x{a.w}")
    lanes = max(32 // lay.bits, 8 // lay.out_bits)  # slices: whole words in, bytes out
    free = params["lm_size"]
    # channel slices: as many channels as one pixel's buffers leave room for
    cmax = a.c
    while cmax > lanes and _lm_layout(params["lm_free"], lay, cmax, 1)["end"] > free:
        cmax = -(-cmax // 2)
    cmax = max(lanes, cmax // lanes * lanes) if cmax < a.c else cmax
    if _lm_layout(params["lm_free"], lay, min(cmax, a.c), 1)["end"] > free:
        raise ValueError(f"one pixel of {min(cmax, a.c)} channels does not fit a PE's LM")
    slices = [(c0, min(cmax, a.c - c0)) for c0 in range(0, a.c, cmax)]
    segs = []
    for _, c in slices:
        seg = a.w
        while seg > 1 and _lm_layout(params["lm_free"], lay, c, seg)["end"] > free:
            seg = max(1, seg * 3 // 4)
        segs.append(seg)
    return EltwisePlan(lay, a, b, y, rows, cols, params, slices, segs)


# ----------------------------------------------------------------------------- standalone
def _run(layer: EltwiseLayer, xs: list[np.ndarray], rows: int, cols: int, seed: int,
         **machine: int) -> KernelResult:
    check_array(rows, cols)
    shape = xs[0].shape
    batched = len(shape) == 4
    arrs = [x if batched else x[None] for x in xs]
    n, c, h, w = arrs[0].shape
    gm = GmPlan()
    places = []
    for _ in arrs:
        p0 = Place(0, n, h, w, c, layer.bits)
        places.append(p0.with_addr(gm.alloc(p0.nbytes)))
    y0 = Place(0, n, h, w, c, layer.out_bits)
    yp = y0.with_addr(gm.alloc(y0.nbytes))
    plan = plan_eltwise(layer, places[0], places[1] if len(places) > 1 else None, yp, rows,
                        cols, **machine)
    launches = plan.launches(seed)
    daddrs = [gm.put(lc.descriptor) for lc in launches]

    def write(m: object) -> None:
        for p, a in zip(places, arrs, strict=True):
            write_place(m, p, a)

    m, results = run_plan(gm, rows, cols, launches, daddrs, before=write, **machine)
    y = read_place(m, yp)
    if not batched:
        y = y[0]
    st = stats(results, 0, 32 // layer.bits, rows * cols)
    return KernelResult(y, st["cycles"], st, results[0])


def add(a: np.ndarray, b: np.ndarray, *, bits: int = 8, out_bits: int | None = None,
        sa: int = 0, sb: int = 0, shift: int = 0, relu: bool = False, clip: int | None = None,
        rounding: str = "nearest", seed: int = 1, rows: int = 4, cols: int = 4,
        **machine: int) -> KernelResult:
    """y = clamp(rshr((a << sa) + (b << sb), shift)) of two (N)CHW tensors at `bits`."""
    check_bits(bits)
    a = check_int_tensor(a, "a", (3, 4), bits)
    b = check_int_tensor(b, "b", (3, 4), bits)
    if a.shape != b.shape:
        raise ValueError(f"a {a.shape} and b {b.shape} differ")
    layer = EltwiseLayer(bits, bits if out_bits is None else out_bits, sa, sb, shift, relu,
                         clip, rounding)
    return _run(layer, [a, b], rows, cols, seed, **machine)


def convert(a: np.ndarray, *, bits: int = 8, out_bits: int | None = None, sa: int = 0,
            shift: int = 0, relu: bool = False, clip: int | None = None,
            rounding: str = "nearest", seed: int = 1, rows: int = 4, cols: int = 4,
            **machine: int) -> KernelResult:
    """y = clamp(rshr(a << sa, shift)) of an (N)CHW tensor: a width and/or fl change."""
    check_bits(bits)
    a = check_int_tensor(a, "a", (3, 4), bits)
    layer = EltwiseLayer(bits, bits if out_bits is None else out_bits, sa, 0, shift, relu,
                         clip, rounding, one=True)
    return _run(layer, [a], rows, cols, seed, **machine)


def requantize(acc: np.ndarray, shift: int, *, bits: int = 8, rounding: str = "nearest",
               relu: bool = False, seed: int = 1, rows: int = 4, cols: int = 4,
               **machine: int) -> KernelResult:
    """int32 accumulators (any shape) >> shift, rounded, saturated to `bits`, same shape:
    a convert from 32 bits, the values laid out as pixels of up to 64 channels."""
    check_bits(bits)
    a = np.asarray(acc)
    flat = check_int_tensor(a.reshape(-1), "acc", 1, 32)
    c = max(1, min(64, flat.size))
    w = max(1, -(-flat.size // c))
    padded = np.zeros(c * w, np.int64)
    padded[: flat.size] = flat
    x = padded.reshape(w, c).T[:, None, :]  # (C, 1, W): pixel i holds values i*c..
    res = convert(x, bits=32, out_bits=bits, shift=shift, relu=relu, rounding=rounding,
                  seed=seed, rows=rows, cols=cols, **machine)
    res.y = res.y[:, 0, :].T.reshape(-1)[: flat.size].reshape(a.shape)
    return res
