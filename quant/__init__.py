"""quant: float tensors to the fixed-point tensors the array's kernels consume.

The method of Zhu, Jiang et al. (2024), "CNN data quantization method based on
reconfigurable array": a KL-divergence clipping threshold (``kl_threshold``), the best
point position of a fixed-length word near it (``point_position``), stochastic rounding
(``quantize``), per tensor at 4, 8, 16 and 32 bits (any width 4..32 for the search;
``LANE_BITS``, the array's lane widths from isa/isa.toml, for packing); ``pack`` lays the
integers out in the machine's 32-bit words. See quant/README.md for the choices made.
"""

from ._checks import LANE_BITS
from .calibrate import Calibration, Calibrator, calibrate, is_bias, model_size
from .histogram import AbsHistogram
from .kl import kl_divergences, kl_threshold, levels_for
from .pack import lanes_per_word, pack, unpack
from .position import (
    fl_from_threshold,
    max_value,
    point_position,
    quantization_mse,
    threshold,
)
from .rounding import dequantize, dtype_for, int_range, quantize

__all__ = [
    "LANE_BITS",
    "AbsHistogram",
    "Calibration",
    "Calibrator",
    "calibrate",
    "dequantize",
    "dtype_for",
    "fl_from_threshold",
    "int_range",
    "is_bias",
    "kl_divergences",
    "kl_threshold",
    "lanes_per_word",
    "levels_for",
    "max_value",
    "model_size",
    "pack",
    "point_position",
    "quantization_mse",
    "quantize",
    "threshold",
    "unpack",
]
