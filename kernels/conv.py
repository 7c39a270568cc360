"""The host side of kernels/conv.s: plan a conv layer, build its weights and descriptor.

A compiler (net/compile.py) uses it as

    layer = ConvLayer(c, k, kh, kw, stride=..., pad=..., groups=..., bits=8, out_bits=8,
                      shift=9, relu=True)
    plan = plan_conv(layer, x_place, y_place, rows=4, cols=4)   # machine params optional
    blob = plan.weights(w, b)            # uint32 words: the layer's parameter image part
    launch = plan.launch(weights_addr, scratch_addr, seed=...)   # plan.scratch_bytes of GM

and the standalone drivers `conv2d` and `linear` below do the same for one layer.

The plan decides the channel tile T (output channels whose weights sit in a PE's LM
at once), the reduction passes (kernel rows, or input channel ranges of one row, when
a tile's weights and two fields do not fit LM) and the LM layout, by estimating the
cycles of each choice that fits.
"""

from __future__ import annotations

import itertools
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
    pack_lanes,
    run_plan,
    splat,
    stats,
)

ROUNDING = ("nearest", "stochastic")
OVERFLOW = ("raise", "wrap")

# conv.s's descriptor layout (kept in step with its .equ names: checked on first use)
HW, PW, RW = 40, 12, 16
MAXPASS = 1024  # how far the planner splits a reduction
EPI_RAW = 32
# cost model (cycles), measured on conv.s: per pixel beside its blocks, per segment pass
PIXEL_CYCLES = 48
PASS_CYCLES = 150


@dataclass(frozen=True)
class ConvLayer:
    """A conv layer's integer semantics (docs/network.md section 2).

    `shift=None` outputs the raw int32 accumulator (then out_bits must be 32)."""

    c: int
    k: int
    kh: int
    kw: int
    stride: tuple[int, int] = (1, 1)
    pad: tuple[int, int, int, int] = (0, 0, 0, 0)
    groups: int = 1
    bits: int = 8
    out_bits: int = 8
    shift: int | None = None
    relu: bool = False
    clip: int | None = None
    rounding: str = "nearest"

    def __post_init__(self) -> None:
        for name in ("c", "k", "kh", "kw", "groups"):
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
        check_bits(self.bits)
        check_bits(self.out_bits, "out_bits")
        if self.c % self.groups or self.k % self.groups:
            raise ValueError(f"groups={self.groups} must divide the input ({self.c}) and output "
                             f"({self.k}) channels")
        if self.rounding not in ROUNDING:
            raise ValueError(f"rounding must be one of {ROUNDING}, not {self.rounding!r}")
        if self.shift is None:
            if self.out_bits != 32:
                raise ValueError("a layer without requantisation (shift=None) outputs int32: "
                                 "out_bits must be 32")
        elif (isinstance(self.shift, bool) or not isinstance(self.shift, int | np.integer)
              or not 0 <= self.shift <= 31):
            raise ValueError(f"shift must be None or an integer 0..31, not {self.shift!r}")
        if self.clip is not None:
            hi = (1 << (self.out_bits - 1)) - 1
            lo = 0 if self.relu else -(1 << (self.out_bits - 1))
            if not (isinstance(self.clip, int | np.integer) and lo <= self.clip <= hi):
                raise ValueError(f"clip must be an integer in {lo}..{hi}, not {self.clip!r}")

    def out_size(self, h: int, w: int) -> tuple[int, int]:
        """Output height and width for an h x w input."""
        pt, pl, pb, pr = self.pad
        sy, sx = self.stride
        hp, wp = h + pt + pb, w + pl + pr
        if hp < self.kh or wp < self.kw:
            raise ValueError(f"kernel {self.kh}x{self.kw} larger than the padded input "
                             f"{hp}x{wp}")
        return (hp - self.kh) // sy + 1, (wp - self.kw) // sx + 1

    @property
    def variant(self) -> dict[str, int]:
        return {"STOCH": int(self.shift is not None and self.rounding == "stochastic"),
                "RELU": int(bool(self.relu)), "CLIP": int(self.clip is not None)}

    @property
    def epilogue(self) -> int:
        """Which of conv.s's block-loop copies ends the last pass: the shift, or raw."""
        if self.shift is None:
            return 0 if (self.relu or self.clip is not None) else EPI_RAW
        return int(self.shift)


@dataclass(frozen=True)
class Pass:
    """One pass of the reduction: kernel rows dy0..dy1-1, field channels c0..c1-1."""

    dy0: int
    dy1: int
    c0: int
    c1: int
    words: int  # field words R


@dataclass
class ConvPlan:
    """How conv.s runs one layer on one array: tiles, passes, LM layout, per-PE ranges."""

    layer: ConvLayer
    x: Place
    y: Place
    rows: int
    cols: int
    params: dict[str, int]
    m: int  # groups merged into one (block-diagonal weights)
    t: int  # output channels of a tile
    passes: list[Pass]
    dbw: bool  # two weight buffers: the next segment's weights prefetched
    stagger: bool  # PE ranges shifted so that the PEs change tiles at different times
    stage: bool  # the input place copied to SM first: fields do not use the GM port
    estimate: int  # estimated cycles
    ho: int = field(init=False)
    wo: int = field(init=False)

    def __post_init__(self) -> None:
        self.ho, self.wo = self.y.h, self.y.w

    # ---- shapes
    @property
    def ng(self) -> int:
        return self.layer.groups // self.m

    @property
    def cf(self) -> int:
        return self.m * (self.layer.c // self.layer.groups)

    @property
    def kf(self) -> int:
        return self.m * (self.layer.k // self.layer.groups)

    @property
    def tpg(self) -> int:
        return -(-self.kf // self.t)

    @property
    def nbt(self) -> int:
        return self.t // 4

    @property
    def kl(self) -> int:
        return self.kf - (self.tpg - 1) * self.t

    @property
    def ntiles(self) -> int:
        return self.ng * self.tpg

    @property
    def npix(self) -> int:
        return self.x.n * self.ho * self.wo

    @property
    def blob_words(self) -> int:
        """Words of one tile's blob: biases, then each pass's blocks."""
        return 4 * self.nbt + sum(16 * self.nbt * p.words for p in self.passes) // 4

    @property
    def weight_bytes(self) -> int:
        return 4 * self.ntiles * self.blob_words

    @property
    def descriptor_words(self) -> int:
        return HW + RW * self.rows * self.cols + PW * len(self.passes)

    @property
    def program_key(self) -> tuple:
        lay = self.layer
        return program_key("conv", lay.bits, lay.out_bits, **lay.variant)

    def ranges(self) -> tuple[np.ndarray, np.ndarray]:
        """Each PE's first unit and unit count (in (tile, image, pixel) order)."""
        return ranges(self.ntiles * self.npix, self.rows * self.cols, self.npix, self.stagger)

    @property
    def scratch_per_pe(self) -> int:
        if len(self.passes) == 1:
            return 0
        _, count = self.ranges()
        return int(min(int(count.max()), self.npix)) * 16 * self.nbt

    @property
    def scratch_bytes(self) -> int:
        """GM bytes of int32 partial sums the launch needs (0 without passes)."""
        return self.scratch_per_pe * self.rows * self.cols

    def lm_layout(self) -> dict[str, int]:
        return lm_layout(self.params["lm_free"], self.nbt,
                         max(p.words for p in self.passes), len(self.passes) > 1, self.dbw)

    # ---- the parameter image
    def weights(self, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        """The layer's weights and biases in conv.s's layout (uint32 words): per tile, its
        T biases (int32), then per pass its blocks of 4 channels, their field rows
        interleaved word by word."""
        lay = self.layer
        cg, kg = lay.c // lay.groups, lay.k // lay.groups
        w = check_int_tensor(w, "w", 4, lay.bits)
        if w.shape != (lay.k, cg, lay.kh, lay.kw):
            raise ValueError(f"w must have shape {(lay.k, cg, lay.kh, lay.kw)}, got {w.shape}")
        if b is None:
            b = np.zeros(lay.k, np.int64)
        b = check_int_tensor(b, "b", 1, 32)
        if b.shape != (lay.k,):
            raise ValueError(f"b must have shape ({lay.k},), got {b.shape}")
        m, ng, cf, kf = self.m, self.ng, self.cf, self.kf
        # block-diagonal weights of each merged group, in field order (dy, dx, c)
        wf = np.zeros((ng, kf, lay.kh, lay.kw, cf), np.int64)
        wg = w.reshape(ng, m, kg, cg, lay.kh, lay.kw).transpose(0, 1, 2, 4, 5, 3)
        for j in range(m):
            wf[:, j * kg:(j + 1) * kg, :, :, j * cg:(j + 1) * cg] = wg[:, j]
        kp = self.tpg * self.t
        wf = np.concatenate([wf, np.zeros((ng, kp - kf) + wf.shape[2:], np.int64)], axis=1)
        bias = np.zeros((ng, kp), np.int64)
        bias[:, :kf] = b.reshape(ng, kf)
        parts = [(bias.reshape(ng, self.tpg, self.t) & 0xFFFFFFFF).astype(np.uint32)]
        for p in self.passes:
            vals = wf[:, :, p.dy0:p.dy1, :, p.c0:p.c1]
            run = _run_chans(p.c1 - p.c0, lay.bits)  # a run's bytes: zero weights after
            vals = np.concatenate([vals, np.zeros(vals.shape[:-1] + (run - vals.shape[-1],),
                                                  np.int64)], axis=-1).reshape(ng, kp, -1)
            words = pack_lanes(vals, lay.bits)
            words = np.concatenate([words, np.zeros(words.shape[:2] + (p.words - words.shape[2],),
                                                    np.uint32)], axis=2)
            blocks = words.reshape(ng, self.tpg, self.nbt, 4, p.words).transpose(0, 1, 2, 4, 3)
            parts.append(blocks.reshape(ng, self.tpg, -1))
        return np.concatenate(parts, axis=2).reshape(-1)

    def descriptor(self, weights_addr: int, scratch_addr: int = 0) -> np.ndarray:
        """conv.s's descriptor: the header, one record per PE, the pass records."""
        lay, x, y = self.layer, self.x, self.y
        if weights_addr % 4 or scratch_addr % 4:
            raise ValueError("weights and scratch must be word aligned")
        if self.scratch_bytes and not scratch_addr:
            raise ValueError(f"this plan needs {self.scratch_bytes} bytes of scratch")
        ib, ob = lay.bits, lay.out_bits  # bits: channel offsets below are on whole bytes
        sy, sx = lay.stride
        pt, pl, _, _ = lay.pad
        lm = self.lm_layout()
        ho, wo = self.ho, self.wo
        inb = x.pixel_addr(0, -pt, -pl)
        if self.stage:  # the same bytes, copied to the start of SM
            inb += self.params["sm_base"] - x.addr
        outb = y.pixel_addr(0, 0, 0)
        t4b = 16 * self.nbt
        blob = 4 * self.blob_words
        pes = self.rows * self.cols
        h = np.array([
            self.npix, wo, ho, inb,
            sx * x.ps, sy * x.rs - wo * sx * x.ps, x.image_stride - ho * sy * x.rs,
            outb, y.ps, y.rs - wo * y.ps, y.image_stride - ho * y.rs,
            self.tpg, self.cf * ib // 8, (self.kf - self.tpg * self.t) * ob // 8,
            self.t * ob // 8, self.nbt, -(-self.kl // 4), (1 << 16) | self.t * ob // 8,
            (1 << 16) | _nbytes(self.kl, ob),
            blob, len(self.passes), lay.epilogue,
            splat(lay.clip if lay.clip is not None else 0, lay.out_bits),
            lm["wb0"], lm["wb1"], lm["f0"], lm["f0"] ^ lm["f1"], lm["psoff"], lm["roff"], t4b,
            4 * (HW + RW * pes), int(self.dbw), int(self.stage),
        ], np.int64)
        h = np.concatenate([h, np.zeros(HW - len(h), np.int64)])
        prec = np.zeros((len(self.passes), PW), np.int64)
        woff = t4b
        merged = x.c == x.c_total and self.ng == 1
        for i, p in enumerate(self.passes):
            cc = _nbytes(p.c1 - p.c0, ib)  # bytes of a run of the pass's channels
            ndy = p.dy1 - p.dy0
            if merged and p.c1 - p.c0 == self.cf:  # whole pixels: ndy rows of kw pixels
                nf, shape, dss, dds = 1, (ndy << 16) | lay.kw * x.ps, x.rs, lay.kw * x.ps
                sstep, dstep = 0, 0
            elif lay.kw == 1:  # one run a row
                nf, shape, dss, dds = 1, (ndy << 16) | cc, x.rs, cc
                sstep, dstep = 0, 0
            else:  # a dma2d a kernel row: kw runs of the channel range
                nf, shape, dss, dds = ndy, (lay.kw << 16) | cc, x.ps, cc
                sstep, dstep = x.rs, lay.kw * cc
            prec[i] = [
                p.words, 0 if i == 0 else woff, 16 * p.words, t4b if i == 0 else 0,
                0 if i == 0 else t4b, p.dy0 * x.rs + p.c0 * ib // 8, nf - 1, shape, sstep,
                dstep, dss, dds,
            ]
            woff += 16 * self.nbt * p.words
        start, count = self.ranges()
        t, pix = np.divmod(start, self.npix)
        n, rest = np.divmod(pix, ho * wo)
        oy, ox = np.divmod(rest, wo)
        g, sub = np.divmod(t, self.tpg)
        rec = np.zeros((len(start), RW), np.int64)
        rec[:, 0] = count
        rec[:, 1] = sub
        rec[:, 2] = weights_addr + t * blob
        rec[:, 3] = g * self.cf * ib // 8
        rec[:, 4] = (g * self.kf + sub * self.t) * ob // 8
        rec[:, 5] = pix
        rec[:, 6] = wo - ox
        rec[:, 7] = ho - oy
        rec[:, 8] = inb + n * x.image_stride + oy * sy * x.rs + ox * sx * x.ps
        rec[:, 9] = outb + n * y.image_stride + oy * y.rs + ox * y.ps
        rec[:, 10] = scratch_addr + np.arange(len(start)) * self.scratch_per_pe
        if self.stage:
            words = -(-x.nbytes // 4)
            share = -(-words // pes)
            first = np.minimum(np.arange(pes) * share, words)
            rec[:, 11] = x.addr + 4 * first
            rec[:, 12] = self.params["sm_base"] + 4 * first
            rec[:, 13] = np.minimum(share, words - first)
        words = np.concatenate([h, rec.ravel(), prec.ravel()])
        return (words & 0xFFFFFFFF).astype(np.uint32)

    def launch(self, weights_addr: int, scratch_addr: int = 0, seed: int = 1,
               name: str = "") -> Launch:
        """The launch of this layer, its weights (plan.weights) at weights_addr."""
        return Launch(self.program_key, self.descriptor(weights_addr, scratch_addr), seed,
                      name=name or "conv")


def ranges(units: int, pes: int, npix: int, stagger: bool) -> tuple[np.ndarray, np.ndarray]:
    """Balanced contiguous ranges of units, one per PE: first unit and count.

    Staggered, PE p's range starts p/P of a tile's pixels later (the last PE's
    shorter), so that PEs whose ranges would cover whole tiles do not all fetch
    their next tile's weights in the same cycles."""
    p = np.arange(pes)
    base, rem = divmod(units, pes)
    start = p * base + np.minimum(p, rem)
    if stagger:
        start = start + np.where(p > 0, (p * npix) // pes % npix, 0)
        start = np.minimum(start, units)
    count = np.diff(np.append(start, units))
    return start, count


def lm_layout(lm_free: int, nbt: int, max_r: int, sums: bool, dbw: bool) -> dict[str, int]:
    """conv.s's LM buffers: one or two weight buffers (bias first), two pixel buffers
    (field, sums to start from: the bias or the partial sums, results); `end` is the
    first free byte."""
    t4b = 16 * nbt
    wsize = t4b + 16 * nbt * max_r
    wb0 = lm_free
    wb1 = wb0 + wsize if dbw else wb0
    f0 = wb1 + wsize
    psoff = 4 * max_r
    roff = psoff + t4b  # the bias (pass 0) or the partial sums
    fsize = roff + t4b
    return {"wb0": wb0, "wb1": wb1, "f0": f0, "f1": f0 + fsize, "psoff": psoff, "roff": roff,
            "end": f0 + 2 * fsize}


def _nbytes(channels: int, bits: int) -> int:
    """Bytes of a run of channels: whole bytes (at 4 bits an odd run ends in a spare
    nibble, docs/network.md section 1)."""
    return -(-channels * bits // 8)


def _run_chans(channels: int, bits: int) -> int:
    """Lanes of a run of channels in a field: its whole bytes' worth.  The weights of the
    spare lanes are zero, so whatever a spare nibble holds adds nothing."""
    return _nbytes(channels, bits) * 8 // bits


def _field_words(ndy: int, kw: int, cc: int, bits: int) -> int:
    return -(-ndy * kw * _run_chans(cc, bits) * bits // 32)


def _pass_splits(lay: ConvLayer, cf: int):
    """Ways to split the reduction, fewest passes first: none, by kernel rows, then
    by input channel ranges of one row (a generator: the planner stops early)."""
    seen = set()
    for ndy in range(lay.kh, 0, -1):
        n = -(-lay.kh // ndy)
        if n in seen:
            continue
        seen.add(n)
        yield [Pass(d, min(d + ndy, lay.kh), 0, cf,
                    _field_words(min(d + ndy, lay.kh) - d, lay.kw, cf, lay.bits))
               for d in range(0, lay.kh, ndy)]
    last = cf
    for parts in range(2, cf + 1):
        cc = _run_chans(-(-cf // parts), lay.bits)  # ranges start on whole bytes
        if cc == last or lay.kh * -(-cf // cc) > MAXPASS:
            continue
        last = cc
        yield [Pass(dy, dy + 1, c0, min(c0 + cc, cf),
                    _field_words(1, lay.kw, min(c0 + cc, cf) - c0, lay.bits))
               for dy in range(lay.kh) for c0 in range(0, cf, cc)]


def _merge(lay: ConvLayer) -> int:
    """How many groups to merge into one with block-diagonal weights: enough that a
    block of 4 output channels is filled (depthwise: 4 channels a block).  Merged
    groups start on whole bytes of the input and the output (at 4 bits: an even number
    of channels, else one group of them all)."""
    kg, cg = lay.k // lay.groups, lay.c // lay.groups
    ok = [m for m in range(1, lay.groups + 1) if lay.groups % m == 0 and (
        m == lay.groups or (m * cg * lay.bits % 8 == 0 and m * kg * lay.out_bits % 8 == 0))]
    fill = [m for m in ok if m * kg <= 4]
    return max(fill) if kg < 4 and fill else min(ok)


_symbols_checked = False


def _lm_free() -> int:
    """conv.s's first free LM byte (and a check that this file's descriptor layout is
    the kernel's)."""
    global _symbols_checked
    prog = program(program_key("conv", 8, 8, STOCH=0, RELU=0, CLIP=0))
    sym = prog.symbols
    if not _symbols_checked:
        got = (sym["HW"], sym["PW"], sym["RW"])
        if got != (HW, PW, RW):
            raise RuntimeError(f"conv.py's descriptor layout {(HW, PW, RW)} is not "
                               f"conv.s's {got}")
        _symbols_checked = True
    return int(sym["LMFREE"])


def _epilogue_cycles(lay: ConvLayer) -> int:
    """Cycles of the epilogue of a block of 4 channels (width.inc's REQUANT4)."""
    clamps = int(bool(lay.relu)) + int(lay.clip is not None)
    stoch = lay.shift is not None and lay.rounding == "stochastic"
    if lay.out_bits == 4:
        return (6 if stoch else 2) + 2 + clamps + 2
    if lay.out_bits == 8:
        return (6 if stoch else 2) + 1 + clamps + 1
    if lay.out_bits == 16:
        return (6 if stoch else 2) + 2 * clamps + 2
    return 4 + 4 * clamps + 4


def _estimate(lay: ConvLayer, passes: list[Pass], nb: int, kf: int, t: int, ng: int,
              npix: int, pes: int, port: int, dbw: bool, stagger: bool,
              stage_words: int = 0) -> float:
    """Estimated cycles of a tiling: the slowest PE's compute and its waits for DMA.

    Per PE, its segments (its units of one tile) run every pass; a pixel computes
    nb blocks.  The GM port serves transfers in issue order (decision `dma`), so
    when every PE issues its transfers at about the same time they take turns: a
    pixel takes the longer of its compute and the round of every PE's transfers,
    and weights fetched by every PE at once (the first ones, or tile changes in the
    same cycles) wait for everybody's."""
    tpg = -(-kf // t)
    ntiles = ng * tpg
    units = ntiles * npix
    start, count = ranges(units, pes, npix, stagger)
    busy = int((count > 0).sum())
    nbl = -(-(kf - (tpg - 1) * t) // 4)
    blk = 6 + _epilogue_cycles(lay)
    aligned = len(set((start % npix).tolist())) == 1 and len(set(count.tolist())) == 1
    # a PE changing tiles alone still meets the others' field transfers at the port
    # (measured: about half of what changing together costs)
    contended = max(1.0, min(busy / port, 1 + (busy - 1) / (2 * port)))

    def pixel(nbt: int, i: int, p: Pass) -> float:
        cyc = nbt * (4 * p.words + blk) + PIXEL_CYCLES
        field = 0 if stage_words else p.words + (p.dy1 - p.dy0)
        words = field + nbt + (4 * nbt if i else 0)
        return max(cyc, busy * (3 + words / port + (3 if i else 0)))

    def weights(nbt: int, i: int, p: Pass) -> float:
        return 4 * nbt * p.words + (4 * nbt if i == 0 else 0) + 10

    first_all = 0.0
    for u0, n in zip(start.tolist(), count.tolist(), strict=True):
        if n:
            tile = u0 // npix
            nbt = nbl if tile % tpg == tpg - 1 else nb
            first_all += weights(nbt, 0, passes[0])
    worst = 0.0
    for u0, n in zip(start.tolist(), count.tolist(), strict=True):
        total, u, first = (first_all + stage_words) / port, u0, True
        while n > 0:
            tile, pix = divmod(u, npix)
            seg = min(n, npix - pix)
            nbt = nbl if tile % tpg == tpg - 1 else nb
            for i, p in enumerate(passes):
                cyc = pixel(nbt, i, p)
                total += seg * cyc + PASS_CYCLES
                if first:
                    first = False
                    continue
                fetch = weights(nbt, i, p) * (busy / port if aligned else contended)
                # prefetched during the last pixel, the next field queued behind it:
                # measured about 1.3x the transfer
                total += max(0.0, 1.3 * fetch + p.words - cyc) if dbw else fetch + p.words
            u += seg
            n -= seg
        worst = max(worst, total)
    return worst


def plan_conv(layer: ConvLayer, x: Place, y: Place, rows: int = 4, cols: int = 4,
              **machine: int) -> ConvPlan:
    """Plan a conv layer from place x into place y on a rows x cols array (machine
    parameters as Machine takes them; isa.toml's by default)."""
    params = {**machine_defaults(), **machine}
    params["lm_free"] = _lm_free()
    lay = layer
    if x.bits != lay.bits or y.bits != lay.out_bits:
        raise ValueError(f"places at {x.bits} -> {y.bits} bits for a {lay.bits} -> "
                         f"{lay.out_bits}-bit layer")
    if x.c != lay.c or y.c != lay.k:
        raise ValueError(f"places of {x.c} -> {y.c} channels for a {lay.c} -> {lay.k} layer")
    ho, wo = lay.out_size(x.h, x.w)
    if (y.n, y.h, y.w) != (x.n, ho, wo):
        raise ValueError(f"output place {y.n}x{y.h}x{y.w}, the layer gives {x.n}x{ho}x{wo}")
    for side, need, have in zip("top left bottom right".split(), lay.pad, x.pad, strict=True):
        if have < need:
            raise ValueError(f"the input place's {side} border ({have}) is narrower than the "
                             f"layer's padding ({need})")
    if not (1 <= rows <= 16 and 1 <= cols <= 16):
        raise ValueError(f"array of {rows}x{cols} PEs: rows and cols must be 1..16")
    m = _merge(lay)
    cf = m * (lay.c // lay.groups)
    kf = m * (lay.k // lay.groups)
    ng = lay.groups // m
    pes = rows * cols
    npix = x.n * ho * wo
    port = params["gm_port_words"]
    best: tuple[float, int, list[Pass], bool, bool, bool] | None = None
    # the input place fits SM: it may be copied there once, its fields read from SM
    stages = (False, True) if x.nbytes <= params["sm_size"] and x.addr % 4 == 0 else (False,)
    tried = 0
    for passes in _pass_splits(lay, cf):
        if best is not None:
            tried += 1
            if tried > 2:
                break
        max_r = max(p.words for p in passes)
        piece = max(_nbytes(p.c1 - p.c0, lay.bits) * lay.kw for p in passes)
        if piece > 0xFFFF:
            continue
        sums = len(passes) > 1
        for t in range(4, -(-kf // 4) * 4 + 1, 4):
            nb = t // 4
            fits = [dbw for dbw in (True, False)
                    if lm_layout(params["lm_free"], nb, max_r, sums, dbw)["end"]
                    <= params["lm_size"]]
            if not fits:
                break
            for stagger, stage in itertools.product((False, True), stages):
                est = _estimate(lay, passes, nb, kf, t, ng, npix, pes, port, fits[0],
                                stagger, -(-x.nbytes // 4) if stage else 0)
                if best is None or est < best[0] * 0.995:
                    best = (est, t, passes, fits[0], stagger, stage)
        if best is not None and best[2] is passes and len(passes) == 1:
            break  # the reduction fits without passes: no need to split it
    if best is None:
        raise ValueError(
            f"this layer does not fit a PE's {params['lm_size']}-byte LM even split into "
            f"{MAXPASS} passes ({lay.c} channels at {lay.bits} bits, kernel {lay.kh}x{lay.kw})")
    est, t, passes, dbw, stagger, stage = best
    return ConvPlan(lay, x, y, rows, cols, params, m, t, passes, dbw, stagger, stage, int(est))


# ----------------------------------------------------------------------------- standalone
def acc_bound(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> int:
    """The largest |accumulator| the layer can reach over inputs of x's magnitudes:
    max over output channels of max|x| * sum|w[k]| + |b[k]|, in exact integers."""
    xmax = int(np.abs(x).max()) if x.size else 0
    wsum = [int(v) for v in np.abs(w).reshape(w.shape[0], -1).sum(axis=1)]
    babs = [0] * len(wsum) if b is None else [abs(int(v)) for v in b]
    return max((s * xmax + bb for s, bb in zip(wsum, babs, strict=True)), default=0)


def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *,
           stride: int | tuple[int, int] = 1, pad: int | tuple[int, ...] = 0, groups: int = 1,
           bits: int = 8, out_bits: int | None = None, out_shift: int | None = None,
           relu: bool = False, clip: int | None = None, rounding: str = "nearest",
           seed: int = 1, rows: int = 4, cols: int = 4, overflow: str = "raise",
           **machine: int) -> KernelResult:
    """2-D correlation of x (C, H, W) or a batch (N, C, H, W) with w (K, C/groups, kh, kw)
    on the array, as one launch of kernels/conv.s.

    With out_shift=None, `y` is the int32 accumulator (wrapping mod 2^32); with a shift
    it is requantised to out_bits (default: bits) with round half up or stochastic
    rounding (seeded by `seed`), ReLU'd and clipped at `clip` if asked.  `pad` is an int
    or (top, left, bottom, right).  A layer whose accumulator could leave int32 is refused
    (overflow="raise", the default) or runs and wraps (overflow="wrap"); either way
    `stats["acc_bound"]` is the bound and `stats["may_wrap"]` says whether it exceeds int32."""
    check_bits(bits)
    check_array(rows, cols)
    if overflow not in OVERFLOW:
        raise ValueError(f"overflow must be one of {OVERFLOW}, not {overflow!r}")
    batched = np.ndim(x) == 4
    xs = check_int_tensor(x, "x", (3, 4), bits)
    if not batched:
        xs = xs[None]
    ws = check_int_tensor(w, "w", 4, bits)
    bs = None if b is None else check_int_tensor(b, "b", 1, 32)
    if out_bits is None:
        out_bits = bits if out_shift is not None else 32
    if out_shift is None and out_bits != 32:
        raise ValueError("without out_shift the output is the int32 accumulator: out_bits "
                         "must be 32")
    n, c, h, wd = xs.shape
    k = ws.shape[0]
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"groups must be a positive integer, not {groups!r}")
    if c % groups or ws.shape[1] * groups != c:
        raise ValueError(f"x has {c} channels, w expects {ws.shape[1]} x {groups} groups")
    if bs is not None and bs.shape != (k,):
        raise ValueError(f"b must have shape ({k},), got {bs.shape}")
    bound = acc_bound(xs, ws, bs)
    if bound > 2**31 - 1 and overflow == "raise":
        raise ValueError(f"this layer can overflow its int32 accumulator: sums may reach "
                         f"|{bound}| (overflow='wrap' runs it and lets them wrap)")
    layer = ConvLayer(c, k, ws.shape[2], ws.shape[3], stride=stride, pad=pad, groups=groups,
                      bits=bits, out_bits=out_bits, shift=out_shift, relu=relu, clip=clip,
                      rounding=rounding)
    ho, wo = layer.out_size(h, wd)
    gm = GmPlan()
    xp = Place(gm.alloc(0), n, h, wd, c, bits, layer.pad)
    xp = xp.with_addr(gm.alloc(xp.nbytes))
    yp0 = Place(0, n, ho, wo, k, out_bits)
    yp = yp0.with_addr(gm.alloc(yp0.nbytes))
    plan = plan_conv(layer, xp, yp, rows, cols, **machine)
    waddr = gm.put(plan.weights(ws, bs))
    scr = gm.alloc(plan.scratch_bytes) if plan.scratch_bytes else 0
    launch = plan.launch(waddr, scr, seed)
    daddr = gm.put(launch.descriptor)

    machine_obj, results = run_plan(gm, rows, cols, [launch], [daddr],
                                    before=lambda mc: write_place(mc, xp, xs), **machine)
    y = read_place(machine_obj, yp)  # int8 / int16 / int32 by the output width
    if not batched:
        y = y[0]
    useful = n * k * ho * wo * (c // groups) * ws.shape[2] * ws.shape[3]
    st = stats(results, useful, 32 // bits, rows * cols)
    st["acc_bound"], st["may_wrap"] = bound, bound > 2**31 - 1
    return KernelResult(y, results[0].cycles, st, results[0])


def linear(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *, bits: int = 8,
           out_bits: int | None = None, out_shift: int | None = None, relu: bool = False,
           clip: int | None = None, rounding: str = "nearest", seed: int = 1, rows: int = 4,
           cols: int = 4, overflow: str = "raise", **machine: int) -> KernelResult:
    """y = w @ x + b for x (C,) or a batch (N, C), w (K, C): a 1x1 conv of N images of
    1 x 1 pixels."""
    x = np.asarray(x)
    w = np.asarray(w)
    if x.ndim not in (1, 2) or w.ndim != 2:
        raise ValueError(f"linear wants x (C,) or (N, C) and w (K, C), got {x.shape}, {w.shape}")
    xb = np.atleast_2d(x)
    if xb.shape[1] != w.shape[1]:
        raise ValueError(f"x has {xb.shape[1]} features, w expects {w.shape[1]}")
    res = conv2d(xb[:, :, None, None], w[:, :, None, None], b, bits=bits, out_bits=out_bits,
                 out_shift=out_shift, relu=relu, clip=clip, rounding=rounding, seed=seed,
                 rows=rows, cols=cols, overflow=overflow, **machine)
    y = np.ascontiguousarray(res.y[:, :, 0, 0])
    res.y = y[0] if x.ndim == 1 else y
    return res


__all__ = ["ConvLayer", "ConvPlan", "conv2d", "linear", "plan_conv"]

