"""The host side of kernels/pool.s: max, average and global average pooling of places.

A compiler uses it as

    layer = PoolLayer("avg", kh=3, kw=3, stride=2, pad=1, bits=8, mult=m, shift=s)
    launch = plan_pool(layer, x_place, y_place, rows, cols).launch()

(no weights, no scratch).  Average pooling computes rshr(sum * m, s) saturated to
the output width, m and s chosen by the compiler (`avg_multiplier` gives a
reciprocal); `mult` is one int, or a sequence of multipliers by the count of valid
window positions (ONNX count_include_pad=0 with padding: border windows are
smaller).  The standalone drivers `maxpool2d`, `avgpool2d` and `global_avgpool` do
the same for one tensor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from pearray.emu.machine import machine_defaults

from .launch import Launch, program, program_key
from .place import Place, pad4, read_place, write_place
from .standalone import (
    GmPlan,
    KernelResult,
    check_array,
    check_bits,
    check_int_tensor,
    run_plan,
    stats,
)

HW, RW = 40, 8
KINDS = ("max", "avg")


@dataclass(frozen=True)
class PoolLayer:
    """Max or average pooling.  Max keeps the width; average requantises."""

    kind: str
    kh: int
    kw: int
    stride: tuple[int, int] | int = (1, 1)
    pad: tuple[int, int, int, int] | int = (0, 0, 0, 0)
    bits: int = 8
    out_bits: int | None = None
    mult: int | Sequence[int] = 1
    shift: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {self.kind!r}")
        for name in ("kh", "kw"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
                raise ValueError(f"{name} must be a positive integer, not {v!r}")
        st = self.stride
        st = (st, st) if isinstance(st, int | np.integer) else tuple(st)
        if len(st) != 2 or any(isinstance(s, bool) or not isinstance(s, int | np.integer)
                               or s < 1 for s in st):
            raise ValueError(f"stride must be a positive integer or a pair, not {self.stride!r}")
        object.__setattr__(self, "stride", (int(st[0]), int(st[1])))
        object.__setattr__(self, "pad", pad4(self.pad))
        pt, pl, pb, pr = self.pad
        if pt >= self.kh or pb >= self.kh or pl >= self.kw or pr >= self.kw:
            raise ValueError("padding must be smaller than the window")
        check_bits(self.bits)
        ob = self.bits if self.out_bits is None else self.out_bits
        check_bits(ob, "out_bits")
        object.__setattr__(self, "out_bits", ob)
        if self.kind == "max" and ob != self.bits:
            raise ValueError("max pooling keeps the width: out_bits must equal bits")
        if self.kind == "avg":
            if isinstance(self.shift, bool) or not isinstance(self.shift, int | np.integer) \
                    or not 0 <= self.shift <= 31:
                raise ValueError(f"shift must be an integer 0..31, not {self.shift!r}")
            ms = self.multipliers
            if len(ms) not in (1, self.kh * self.kw) or any(
                    not -2**31 <= int(m) < 2**31 for m in ms):
                raise ValueError(f"mult must be an int32 or one per window count "
                                 f"(1..{self.kh * self.kw}), got {len(ms)}")

    @property
    def multipliers(self) -> list[int]:
        if isinstance(self.mult, int | np.integer):
            return [int(self.mult)]
        return [int(m) for m in self.mult]

    @property
    def table(self) -> list[int] | None:
        """The multipliers by count that pool.s reads from LM, or None for one fixed
        multiplier (the descriptor's word; 0 there means "by count", so a multiplier of
        0 goes in a table too)."""
        ms = self.multipliers
        if len(ms) > 1:
            return ms
        return ms * (self.kh * self.kw) if ms[0] == 0 else None

    def out_size(self, h: int, w: int) -> tuple[int, int]:
        pt, pl, pb, pr = self.pad
        sy, sx = self.stride
        hp, wp = h + pt + pb, w + pl + pr
        if hp < self.kh or wp < self.kw:
            raise ValueError(f"window {self.kh}x{self.kw} larger than the padded input "
                             f"{hp}x{wp}")
        return (hp - self.kh) // sy + 1, (wp - self.kw) // sx + 1


def avg_multiplier(count: int, bits: int = 16) -> tuple[int, int]:
    """(m, s) with m / 2^s close to 1/count and m < 2^(bits-1): the reciprocal the
    standalone drivers use."""
    s = 0
    while s < 31 and round((1 << (s + 1)) / count) < (1 << (bits - 1)):
        s += 1
    return round((1 << s) / count), s


@dataclass
class PoolPlan:
    """How pool.s runs one layer: channel chunks, LM layout, per-PE ranges."""

    layer: PoolLayer
    x: Place
    y: Place
    rows: int
    cols: int
    params: dict[str, int]
    cc: int  # channels of a chunk
    ho: int = field(init=False)
    wo: int = field(init=False)

    def __post_init__(self) -> None:
        self.ho, self.wo = self.y.h, self.y.w

    @property
    def nch(self) -> int:
        return -(-self.x.c // self.cc)

    @property
    def npix(self) -> int:
        return self.x.n * self.ho * self.wo

    @property
    def program_key(self) -> tuple:
        lay = self.layer
        return program_key("pool", lay.bits, lay.out_bits, AVG=int(lay.kind == "avg"))

    def ranges(self) -> tuple[np.ndarray, np.ndarray]:
        p = np.arange(self.rows * self.cols)
        units = self.nch * self.npix
        base, rem = divmod(units, len(p))
        return p * base + np.minimum(p, rem), base + (p < rem)

    def lm_layout(self) -> dict[str, int]:
        return _lm_layout(self.params["lm_free"], self.layer, self.cc)

    def descriptor(self) -> np.ndarray:
        lay, x, y = self.layer, self.x, self.y
        lm = self.lm_layout()
        b, ob = lay.bits, lay.out_bits
        ccl = x.c - (self.nch - 1) * self.cc
        ms = lay.table or lay.multipliers
        table = lay.table is not None
        pes = self.rows * self.cols
        h = np.zeros(HW, np.int64)
        h[:37] = [
            self.npix, self.wo, self.ho, lay.kh, lay.kw, lay.stride[0], lay.stride[1],
            lay.pad[0], lay.pad[1], x.h, x.w, x.pixel_addr(0, 0, 0), x.ps, x.rs,
            x.image_stride, y.pixel_addr(0, 0, 0), y.ps, y.rs - self.wo * y.ps,
            y.image_stride - self.ho * y.rs, self.nch, _nbytes(self.cc, b), _nbytes(ccl, b),
            _words(self.cc, lay), _words(ccl, lay), _nbytes(self.cc, ob), _nbytes(ccl, ob),
            0 if table else ms[0], lm["mtab"], lay.shift, lm["win0"], lm["win1"],
            lm["out0"], lm["out1"], 4 * (HW + RW * pes), len(ms) + 1 if table else 0,
            lm["ones"], x.n,
        ]
        start, count = self.ranges()
        ch, pix = np.divmod(start, self.npix)
        n, rest = np.divmod(pix, self.ho * self.wo)
        oy, ox = np.divmod(rest, self.wo)
        rec = np.zeros((pes, RW), np.int64)
        rec[:, 0] = count
        rec[:, 1] = ch
        rec[:, 2] = n
        rec[:, 3] = oy
        rec[:, 4] = ox
        rec[:, 5] = (y.pixel_addr(0, 0, 0) + n * y.image_stride + oy * y.rs + ox * y.ps
                     + ch * _nbytes(self.cc, ob))
        words = [h, rec.ravel()]
        if table:
            words.append(np.array([0, *ms], np.int64))  # by count: entry 0 unused
        return (np.concatenate(words) & 0xFFFFFFFF).astype(np.uint32)

    def launch(self, name: str = "") -> Launch:
        return Launch(self.program_key, self.descriptor(), 1, name=name or self.layer.kind)


def _nbytes(channels: int, bits: int) -> int:
    """Bytes of a run of channels (at 4 bits an odd run ends in a spare nibble)."""
    return -(-channels * bits // 8)


def _chunk_unit(lay: PoolLayer) -> int:
    """Chunks are multiples of this many channels: whole input words, and whole output
    bytes (at 32 bits in and 4 out, two channels)."""
    return max(32 // lay.bits, 8 // lay.out_bits)


def _words(cc: int, lay: PoolLayer) -> int:
    """LM words of a chunk's pixel: whole words (pool.s's loop takes a word a turn, at 32
    bits in and 4 out two words a turn)."""
    w = -(-cc * lay.bits // 32)
    return -(-w // 2) * 2 if lay.bits == 32 and lay.out_bits == 4 else w


def _lm_layout(lm_free: int, lay: PoolLayer, cc: int) -> dict[str, int]:
    """pool.s's LM: the multiplier table, unit vectors, two windows, two results."""
    cw = _words(cc, lay)
    mtab = lm_free
    ones = mtab + 4 * (lay.kh * lay.kw + 1 if lay.table is not None else 0)
    win0 = ones + 32  # a unit vector a lane: 8 at 4 bits
    wsize = 4 * cw * lay.kh * lay.kw
    out0 = win0 + 2 * wsize
    osize = 4 * -(-cw * (32 // lay.bits) * lay.out_bits // 32)
    return {"mtab": mtab, "ones": ones, "win0": win0, "win1": win0 + wsize, "out0": out0,
            "out1": out0 + osize, "end": out0 + 2 * osize}


def plan_pool(layer: PoolLayer, x: Place, y: Place, rows: int = 4, cols: int = 4,
              **machine: int) -> PoolPlan:
    """Plan pooling from place x into place y on a rows x cols array."""
    params = {**machine_defaults(), **machine}
    prog = program(program_key("pool", 8, 8, AVG=0))
    params["lm_free"] = int(prog.symbols["LMFREE"])
    if (prog.symbols["HW"], prog.symbols["RW"]) != (HW, RW):
        raise RuntimeError("pool.py's descriptor layout is not pool.s's")
    lay = layer
    if x.bits != lay.bits or y.bits != lay.out_bits:
        raise ValueError(f"places at {x.bits} -> {y.bits} bits for a {lay.bits} -> "
                         f"{lay.out_bits}-bit pooling")
    if x.c != y.c:
        raise ValueError(f"places of {x.c} and {y.c} channels")
    ho, wo = lay.out_size(x.h, x.w)
    if (y.n, y.h, y.w) != (x.n, ho, wo):
        raise ValueError(f"output place {y.n}x{y.h}x{y.w}, the pooling gives {x.n}x{ho}x{wo}")
    pes = rows * cols
    npix = x.n * ho * wo
    lanes = _chunk_unit(lay)
    # channels of a chunk: whole words, as many as LM holds, but enough chunks to
    # give every PE work when there are few pixels
    want = max(1, -(-pes // npix))
    cc = -(-x.c // want)
    cc = max(lanes, -(-cc // lanes) * lanes)
    while cc > lanes and _lm_layout(params["lm_free"], lay, cc)["end"] > params["lm_size"]:
        cc -= lanes
    if _lm_layout(params["lm_free"], lay, cc)["end"] > params["lm_size"]:
        raise ValueError(f"a {lay.kh}x{lay.kw} window does not fit a PE's "
                         f"{params['lm_size']}-byte LM")
    return PoolPlan(lay, x, y, rows, cols, params, min(cc, x.c))


# ----------------------------------------------------------------------------- standalone
def pool2d(x: np.ndarray, layer: PoolLayer, *, rows: int = 4, cols: int = 4,
           **machine: int) -> KernelResult:
    """Pool x (C, H, W) or a batch (N, C, H, W) on the array: one launch of pool.s."""
    check_array(rows, cols)
    batched = np.ndim(x) == 4
    xs = check_int_tensor(x, "x", (3, 4), layer.bits)
    if not batched:
        xs = xs[None]
    n, c, h, w = xs.shape
    ho, wo = layer.out_size(h, w)
    gm = GmPlan()
    xp0 = Place(0, n, h, w, c, layer.bits)
    xp = xp0.with_addr(gm.alloc(xp0.nbytes))
    yp0 = Place(0, n, ho, wo, c, layer.out_bits)
    yp = yp0.with_addr(gm.alloc(yp0.nbytes))
    plan = plan_pool(layer, xp, yp, rows, cols, **machine)
    launch = plan.launch()
    daddr = gm.put(launch.descriptor)
    m, results = run_plan(gm, rows, cols, [launch], [daddr],
                          before=lambda mc: write_place(mc, xp, xs), **machine)
    y = read_place(m, yp)
    if not batched:
        y = y[0]
    st = stats(results, 0, 32 // layer.bits, rows * cols)
    return KernelResult(y, results[0].cycles, st, results[0])


def maxpool2d(x: np.ndarray, *, kernel: int | tuple[int, int] = 2,
              stride: int | tuple[int, int] | None = None, pad: int | tuple[int, ...] = 0,
              bits: int = 8, rows: int = 4, cols: int = 4, **machine: int) -> KernelResult:
    """Max pooling of x (C, H, W) or (N, C, H, W); 2x2 with stride 2 by default (an odd
    last row or column is dropped).  Padding is never read (max ignores it)."""
    check_bits(bits)
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    layer = PoolLayer("max", kh, kw, stride=(kh, kw) if stride is None else stride, pad=pad,
                      bits=bits)
    return pool2d(x, layer, rows=rows, cols=cols, **machine)


def avgpool2d(x: np.ndarray, *, kernel: int | tuple[int, int] = 2,
              stride: int | tuple[int, int] | None = None, pad: int | tuple[int, ...] = 0,
              count_include_pad: bool = False, bits: int = 8, out_bits: int | None = None,
              mult: int | Sequence[int] | None = None, shift: int | None = None,
              rows: int = 4, cols: int = 4, **machine: int) -> KernelResult:
    """Average pooling of x (C, H, W) or (N, C, H, W): rshr(sum * m, s) saturated to
    out_bits.  Without mult/shift, m / 2^s is the reciprocal of the divisor ONNX
    uses (the whole window with count_include_pad, else the valid positions)."""
    check_bits(bits)
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    if (mult is None) != (shift is None):
        raise ValueError("give both mult and shift, or neither")
    if mult is None:
        if count_include_pad or pad4(pad) == (0, 0, 0, 0):
            mult, shift = avg_multiplier(kh * kw)
        else:
            shift = avg_multiplier(kh * kw)[1]
            mult = [round((1 << shift) / c) for c in range(1, kh * kw + 1)]
    layer = PoolLayer("avg", kh, kw, stride=(kh, kw) if stride is None else stride, pad=pad,
                      bits=bits, out_bits=out_bits, mult=mult, shift=shift)
    return pool2d(x, layer, rows=rows, cols=cols, **machine)


def global_avgpool(x: np.ndarray, *, bits: int = 8, out_bits: int | None = None,
                   mult: int | None = None, shift: int | None = None, rows: int = 4,
                   cols: int = 4, **machine: int) -> KernelResult:
    """Global average pooling of x (C, H, W) or (N, C, H, W) to (.., C, 1, 1)."""
    h, w = np.shape(x)[-2:]
    return avgpool2d(x, kernel=(h, w), stride=1, bits=bits, out_bits=out_bits, mult=mult,
                     shift=shift, rows=rows, cols=cols, **machine)
