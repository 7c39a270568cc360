"""maxpool2d: the host side of kernels/maxpool.s."""

from __future__ import annotations

import numpy as np

from pearray.emu.machine import machine_defaults

from .layout import check_int_tensor, pack_rows, unpack_rows
from .runner import GmLayout, KernelResult, launch_records, run_kernel, stats, width_flags


def maxpool2d(x: np.ndarray, *, bits: int = 8, rows: int = 4, cols: int = 4) -> KernelResult:
    """2x2 max pooling with stride 2 of x (C, H, W) or a batch (N, C, H, W); an odd
    last row/column is dropped.  A batch runs as one image of N times the rows."""
    width_flags(bits)
    batched = np.ndim(x) == 4
    x = check_int_tensor(x, "x", 4 if batched else 3, bits)
    if not batched:
        x = x[None]
    n, c, h, w = x.shape
    ho1, wo = h // 2, w // 2
    if ho1 == 0 or wo == 0:
        raise ValueError(f"input {h}x{w} is too small for 2x2 pooling")
    ho = n * ho1
    x = x[:, :, : 2 * ho1, : 2 * wo]
    packed = pack_rows(x.transpose(0, 2, 3, 1).reshape(2 * ho, 2 * wo, c), bits)  # channels last
    cw = packed.shape[-1]
    lm_size = machine_defaults()["lm_size"]
    tw = min(wo, (lm_size - 32) // (36 * cw))  # maxpool.s's LM: OUT and 2 x 2 row pieces
    if tw < 1 or cw * 4 > 2047:
        raise ValueError(f"{c} channels at {bits} bits are too many for maxpool.s "
                         f"({cw} words a pixel)")
    gm = GmLayout()
    params = {
        **width_flags(bits), "CW": cw, "W": 2 * wo, "HO": ho, "WO": wo, "TW": tw,
        "XADDR": gm.put(packed.ravel()), "YADDR": gm.reserve(ho * wo * cw),
    }
    records = launch_records(ho * wo, rows * cols, ho, wo, 0, 0, 0, params["YADDR"], cw)
    machine, result = run_kernel("maxpool.s", params, gm, rows, cols, lm_args=records)
    words = machine.read(params["YADDR"], ho * wo * cw, np.uint32).reshape(ho, wo, cw)
    y = np.ascontiguousarray(unpack_rows(words, bits, c).reshape(n, ho1, wo, c)
                             .transpose(0, 3, 1, 2))
    if not batched:
        y = y[0]
    return KernelResult(y, result.cycles, stats(result, 0, 32 // bits, rows * cols), result)
