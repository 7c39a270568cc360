"""An independent integer reference for the kernels (docs/network.md section 2),
written from the maths alone: np.pad and a loop over kernel taps, window slices,
shifts in Python/numpy int64.  Nothing here imports kernels/: a layout bug in a
driver and the same bug in a reference that reused it would cancel out.

Accumulators wrap like int32 (numpy int64 wraps modulo 2^64, a multiple of 2^32, so
the low 32 bits of an int64 result are exact even where int64 overflowed).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def lim(bits: int) -> tuple[int, int]:
    """Signed range of a `bits`-wide lane."""
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def wrap32(a: np.ndarray) -> np.ndarray:
    """Low 32 bits, as int64 values of int32 range."""
    return (np.asarray(a, np.int64) & 0xFFFFFFFF).astype(np.uint32).view(np.int32).astype(
        np.int64)


def pad4(pad: int | Sequence[int]) -> tuple[int, int, int, int]:
    if isinstance(pad, int):
        return (pad,) * 4
    return tuple(pad)  # type: ignore[return-value]


def pair(v: int | Sequence[int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (v[0], v[1])


def conv(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: int | Sequence[int],
         pad: int | Sequence[int], groups: int = 1) -> np.ndarray:
    """Integer correlation of x (N, C, H, W) with w (K, C/groups, kh, kw), int32 wrap."""
    x = np.asarray(x, np.int64)
    w = np.asarray(w, np.int64)
    n, c, _, _ = x.shape
    k, cg, kh, kw = w.shape
    sy, sx = pair(stride)
    pt, pl, pb, pr = pad4(pad)
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    ho = (xp.shape[2] - kh) // sy + 1
    wo = (xp.shape[3] - kw) // sx + 1
    y = np.zeros((n, k, ho, wo), np.int64)
    if b is not None:
        y += np.asarray(b, np.int64)[None, :, None, None]
    kg = k // groups
    for g in range(groups):
        xs_g = xp[:, g * cg:(g + 1) * cg]
        for dy in range(kh):
            for dx in range(kw):
                patch = xs_g[:, :, dy:dy + sy * (ho - 1) + 1:sy, dx:dx + sx * (wo - 1) + 1:sx]
                y[:, g * kg:(g + 1) * kg] += np.einsum(
                    "kc,nchw->nkhw", w[g * kg:(g + 1) * kg, :, dy, dx], patch)
    return wrap32(y)


def clamp(q: np.ndarray, bits: int, relu: bool, clip: int | None) -> np.ndarray:
    """ReLU, clip maximum, then saturation to the width."""
    if relu:
        q = np.maximum(q, 0)
    if clip is not None:
        q = np.minimum(q, clip)
    return np.clip(q, *lim(bits))


def rshr(a: np.ndarray, s: int) -> np.ndarray:
    """Round half up: floor((a + 2^(s-1)) / 2^s)."""
    a = np.asarray(a, np.int64)
    return a if s == 0 else np.floor_divide(a + (1 << (s - 1)), 1 << s)


def requant(acc: np.ndarray, shift: int | None, bits: int, relu: bool = False,
            clip: int | None = None) -> np.ndarray:
    """The conv epilogue: int32 accumulator -> clamp(rshr(acc, shift)) at `bits`, or
    the accumulator itself (clamped) without a shift."""
    a = wrap32(acc)
    if shift is None:
        return clamp(a, 32, relu, clip)
    return clamp(rshr(a, shift), bits, relu, clip)


def stochastic_bounds(acc: np.ndarray, shift: int, bits: int, relu: bool = False,
                      clip: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The two results stochastic rounding may give: floor and ceil of acc / 2^s."""
    a = wrap32(acc)
    return (clamp(np.floor_divide(a, 1 << shift), bits, relu, clip),
            clamp(-np.floor_divide(-a, 1 << shift), bits, relu, clip))


def windows(h: int, w: int, kh: int, kw: int, stride: Sequence[int], pad: Sequence[int]
            ) -> list[tuple[int, int, slice, slice]]:
    """(oy, ox, rows, cols) of every pooling window, clipped to the image."""
    sy, sx = stride
    pt, pl, pb, pr = pad
    ho = (h + pt + pb - kh) // sy + 1
    wo = (w + pl + pr - kw) // sx + 1
    out = []
    for oy in range(ho):
        for ox in range(wo):
            y0, x0 = oy * sy - pt, ox * sx - pl
            out.append((oy, ox, slice(max(0, y0), min(h, y0 + kh)),
                        slice(max(0, x0), min(w, x0 + kw))))
    return out


def maxpool(x: np.ndarray, kh: int, kw: int, stride: Sequence[int], pad: Sequence[int]
            ) -> np.ndarray:
    """Max over each window's positions inside the image (padding ignored)."""
    x = np.asarray(x, np.int64)
    n, c, h, w = x.shape
    wins = windows(h, w, kh, kw, stride, pad)
    ho, wo = wins[-1][0] + 1, wins[-1][1] + 1
    y = np.zeros((n, c, ho, wo), np.int64)
    for oy, ox, rs, cs in wins:
        y[:, :, oy, ox] = x[:, :, rs, cs].max(axis=(2, 3))
    return y


def avgpool(x: np.ndarray, kh: int, kw: int, stride: Sequence[int], pad: Sequence[int],
            mult: int | Sequence[int], shift: int, out_bits: int) -> np.ndarray:
    """rshr(sum * m, shift) saturated, m = mult, or mult[count - 1] for a window of
    `count` positions inside the image; sum * m wraps like int32."""
    x = np.asarray(x, np.int64)
    n, c, h, w = x.shape
    wins = windows(h, w, kh, kw, stride, pad)
    ho, wo = wins[-1][0] + 1, wins[-1][1] + 1
    y = np.zeros((n, c, ho, wo), np.int64)
    for oy, ox, rs, cs in wins:
        part = x[:, :, rs, cs]
        count = part.shape[2] * part.shape[3]
        m = mult if isinstance(mult, int) else mult[count - 1]
        y[:, :, oy, ox] = clamp(rshr(wrap32(part.sum(axis=(2, 3)) * m), shift), out_bits,
                                False, None)
    return y


def eltwise(a: np.ndarray, b: np.ndarray | None, sa: int, sb: int, shift: int,
            out_bits: int, relu: bool = False, clip: int | None = None) -> np.ndarray:
    """clamp(rshr((a << sa) + (b << sb), shift)) with the sum wrapping like int32."""
    v = wrap32(np.asarray(a, np.int64) << sa)
    if b is not None:
        v = wrap32(v + wrap32(np.asarray(b, np.int64) << sb))
    return clamp(rshr(v, shift), out_bits, relu, clip)
