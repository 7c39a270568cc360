"""maxpool2d: the host side of kernels/maxpool.s."""

from __future__ import annotations

import numpy as np

from .layout import check_int_tensor, pack_rows, unpack_rows
from .runner import GmLayout, KernelResult, run_kernel, stats, width_flags


def maxpool2d(x: np.ndarray, *, bits: int = 8, rows: int = 4, cols: int = 4) -> KernelResult:
    """2x2 max pooling with stride 2 of x (C, H, W); an odd last row/column is dropped."""
    width_flags(bits)
    x = check_int_tensor(x, "x", 3, bits)
    c, h, w = x.shape
    ho, wo = h // 2, w // 2
    if ho == 0 or wo == 0:
        raise ValueError(f"input {h}x{w} is too small for 2x2 pooling")
    x = x[:, : 2 * ho, : 2 * wo]
    packed = pack_rows(x.transpose(1, 2, 0), bits)  # (H, W, CW) channels last
    cw = packed.shape[-1]
    gm = GmLayout()
    params = {
        **width_flags(bits), "CW": cw, "W": 2 * wo, "HO": ho, "WO": wo,
        "XADDR": gm.put(packed.ravel()), "YADDR": gm.reserve(ho * wo * cw),
    }
    machine, result = run_kernel("maxpool.s", params, gm, rows, cols)
    words = machine.read(params["YADDR"], ho * wo * cw, np.uint32).reshape(ho, wo, cw)
    y = np.ascontiguousarray(unpack_rows(words, bits, c).transpose(2, 0, 1))
    return KernelResult(y, result.cycles, stats(result, 0, 32 // bits, rows * cols), result)
