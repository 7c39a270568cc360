"""conv2d and linear: the host side of kernels/conv.s."""

from __future__ import annotations

import numpy as np

from pearray.emu.machine import machine_defaults

from .layout import check_int_tensor, pack_rows, strips, unpack_rows, weight_rows
from .runner import (
    GmLayout,
    KernelResult,
    launch_records,
    run_kernel,
    seed_word,
    stats,
    width_flags,
)

ROUNDING = ("nearest", "stochastic")


def requant_flags(out_shift: int | None, relu: bool, rounding: str, bits: int) -> dict[str, int]:
    """The .equ flags of the requantisation epilogue (width.inc's REQ1 and STORE4)."""
    if rounding not in ROUNDING:
        raise ValueError(f"rounding must be one of {ROUNDING}, not {rounding!r}")
    if out_shift is not None and not (isinstance(out_shift, int | np.integer)
                                      and 0 <= out_shift <= 31):
        raise ValueError(f"out_shift must be None or an integer 0..31, not {out_shift!r}")
    req = out_shift is not None
    out_bits = bits if req else 32
    return {
        "NEAREST": int(req and rounding == "nearest"),
        "STOCH": int(req and rounding == "stochastic"),
        "RELU": int(bool(relu)),
        "SHIFT": int(out_shift or 0),
        **width_flags(out_bits, "PACK"),
        "OW": 4 * out_bits // 32,
    }


def tile_width(lm_size: int, r: int, wo: int, ow: int, stride: int, kw: int, dw: int) -> int:
    """Output pixels of a row conv.s computes from one strip buffer: as many as LM holds
    beside the launch record, biases, weights, and results (at most the whole row);
    0 if not even one fits."""
    def lm_need(t: int) -> int:
        return 64 + 16 * r + 4 * t * ow + 2 * 4 * ((t - 1) * stride + kw) * dw

    t = wo
    while t and lm_need(t) > lm_size:
        t -= 1
    return t


def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *, stride: int = 1,
           pad: int = 0, bits: int = 8, out_shift: int | None = None, relu: bool = False,
           rounding: str = "nearest", seed: int = 1, rows: int = 4, cols: int = 4
           ) -> KernelResult:
    """2-D correlation of x (C, H, W) with w (K, C, kh, kw) on the array.

    With out_shift=None, `y` is the int32 accumulator (K, Ho, Wo), equal to integer
    correlation; with a shift it is requantised to `bits` (round half up, or
    stochastic rounding from the PEs' LFSRs seeded with `seed`), ReLU'd if asked.
    A batch x (N, C, H, W) runs as one kernel and gives y (N, K, Ho, Wo).
    """
    width_flags(bits)
    batched = np.ndim(x) == 4
    x = check_int_tensor(x, "x", 4 if batched else 3, bits)
    if not batched:
        x = x[None]
    w = check_int_tensor(w, "w", 4, bits)
    k, c, kh, kw = w.shape
    n = x.shape[0]
    if x.shape[1] != c:
        raise ValueError(f"x has {x.shape[1]} channels, w expects {c}")
    if b is None:
        b = np.zeros(k, np.int64)
    b = check_int_tensor(b, "b", 1, 32)
    if b.shape != (k,):
        raise ValueError(f"b must have shape ({k},), got {b.shape}")
    if not (isinstance(stride, int) and stride >= 1 and isinstance(pad, int) and pad >= 0):
        raise ValueError("stride must be an integer >= 1 and pad an integer >= 0")
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    hp, wp = xp.shape[2:]
    if hp < kh or wp < kw:
        raise ValueError(f"kernel {kh}x{kw} larger than the padded input {hp}x{wp}")
    ho, wo = (hp - kh) // stride + 1, (wp - kw) // stride + 1
    lanes = 32 // bits
    kb = -(-k // 4)
    flags = requant_flags(out_shift, relu, rounding, bits)

    xs = strips(xp, kh, stride, ho, bits)  # (N*HO, WP, DW)
    dw = xs.shape[-1]
    r = kw * dw
    pes = rows * cols
    limits = machine_defaults()
    tw = tile_width(limits["lm_size"], r, wo, flags["OW"], stride, kw, dw)
    if tw == 0:
        raise ValueError(f"this layer needs more LM per PE than the {limits['lm_size']} bytes "
                         f"the PEs have: 4 channels of weights ({16 * r} bytes) and two "
                         f"strips of one output pixel ({8 * kw * dw} bytes)")
    bias = np.zeros(4 * kb, np.int64)
    bias[:k] = b
    blocks = weight_rows(w, 4 * kb, bits).reshape(kb, 4 * r)
    blob = np.concatenate([np.concatenate([bias.reshape(kb, 4).astype(np.uint32), blocks],
                                          axis=1).ravel(), xs.ravel()])
    stage = int(4 * len(blob) <= limits["sm_size"])  # else every PE reads GM itself
    gm = GmLayout()
    out_words = kb * n * ho * wo * flags["OW"]
    params = {
        **width_flags(bits), **flags, "DW": dw, "R": r, "WP": wp, "WO": wo, "HO": n * ho,
        "STRIDE": stride, "KB": kb, "KW": kw, "TW": tw, "SEED_A": seed_word(seed),
        "STAGE": stage,
        "BLOB": gm.put(blob), "YADDR": gm.reserve(out_words),
    }
    records = launch_records(kb * n * ho * wo, pes, n * ho, wo, params["BLOB"],
                             len(blob) if stage else 0, limits["sm_base"], params["YADDR"],
                             flags["OW"])
    machine, result = run_kernel("conv.s", params, gm, rows, cols, lm_args=records)
    words = machine.read(params["YADDR"], out_words, np.uint32).reshape(kb, n, ho, wo, -1)
    words = words.transpose(1, 2, 3, 0, 4).reshape(n, ho, wo, kb * flags["OW"])
    if out_shift is None:
        y = words.view(np.int32)[..., :k].astype(np.int32)
    else:
        y = unpack_rows(words, bits, k)
    y = np.ascontiguousarray(y.transpose(0, 3, 1, 2))
    if not batched:
        y = y[0]
    useful = n * k * ho * wo * c * kh * kw
    return KernelResult(y, result.cycles, stats(result, useful, lanes, rows * cols), result)


def linear(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *, bits: int = 8,
           out_shift: int | None = None, relu: bool = False, rounding: str = "nearest",
           seed: int = 1, rows: int = 4, cols: int = 4) -> KernelResult:
    """y = w @ x + b for x (C,) or a batch (N, C), w (K, C): a 1x1 convolution
    whose output rows are the samples."""
    x = np.asarray(x)
    w = np.asarray(w)
    if x.ndim not in (1, 2) or w.ndim != 2:
        raise ValueError(f"linear wants x (C,) or (N, C) and w (K, C), got {x.shape}, {w.shape}")
    rows_x = np.atleast_2d(x)  # (N, C)
    res = conv2d(rows_x.T[:, :, None], w[:, :, None, None], b, bits=bits, out_shift=out_shift,
                 relu=relu, rounding=rounding, seed=seed, rows=rows, cols=cols)
    y = np.ascontiguousarray(res.y[:, :, 0].T)  # (N, K)
    res.y = y[0] if x.ndim == 1 else y
    return res


__all__ = ["conv2d", "linear", "pack_rows"]
