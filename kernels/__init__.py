"""Hand-written assembly kernels (conv.s, maxpool.s, requant.s) and their drivers.

Each driver lays tensors out in GM, runs its kernel on the emulated array
and reads the result back: `conv2d`, `linear`, `maxpool2d`, `requantize`.
"""

from .conv import conv2d, linear
from .pool import maxpool2d
from .requant import requantize
from .runner import KernelResult

__all__ = ["KernelResult", "conv2d", "linear", "maxpool2d", "requantize"]
