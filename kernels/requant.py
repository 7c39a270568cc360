"""requantize: the host side of kernels/requant.s."""

from __future__ import annotations

import numpy as np

from .conv import requant_flags
from .layout import check_int_tensor, unpack_rows
from .runner import GmLayout, KernelResult, launch_records, run_kernel, seed_word, stats


def requantize(acc: np.ndarray, shift: int, *, bits: int = 8, rounding: str = "nearest",
               relu: bool = False, seed: int = 1, rows: int = 4, cols: int = 4
               ) -> KernelResult:
    """int32 accumulators (any shape) >> shift, rounded, saturated to `bits`, same shape."""
    flags = requant_flags(shift, relu, rounding, bits)
    a = np.asarray(acc)
    flat = check_int_tensor(a.reshape(-1), "acc", 1, 32)
    groups = max(1, -(-flat.size // 4))
    padded = np.zeros(4 * groups, np.int64)
    padded[: flat.size] = flat
    gm = GmLayout()
    params = {
        **flags, "WO": groups, "TW": min(groups, 256), "SEED_A": seed_word(seed),
        "IS8": 0, "IS16": 0, "IS32": 1,
        "XADDR": gm.put(padded.astype(np.uint32)), "YADDR": gm.reserve(groups * flags["OW"]),
    }
    records = launch_records(groups, rows * cols, 1, groups, 0, 0, 0, params["YADDR"],
                             flags["OW"])
    machine, result = run_kernel("requant.s", params, gm, rows, cols, lm_args=records)
    words = machine.read(params["YADDR"], groups * flags["OW"], np.uint32)
    y = unpack_rows(words[None, :], bits, flat.size)[0].reshape(a.shape)
    return KernelResult(y, result.cycles, stats(result, 0, 1, rows * cols), result)
