"""Per-network calibration: stream each tensor's |x| histogram, then pick every ``fl``.

Generic over the network: tensors are named by the caller (e.g. ``"conv1.input"``,
``"conv1.output"``, ``"conv1.weight"``). Activations are seen batch by batch and only a
histogram is kept per name (its range grows across batches, see ``histogram.py``); weights
are known exactly and are given whole to ``point_position``.

Sizes: weights take ``bits`` each, packed 32-bit words per tensor (``pack``); biases stay
int32 at every width (they are added to the 32-bit accumulator, at its point position
``fl_weight + fl_input``), so they are counted at 4 bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._checks import LANE_BITS, check_bits, real_array
from .histogram import AbsHistogram
from .position import point_position, threshold


def is_bias(name: str, array: np.ndarray) -> bool:
    """Default bias test: the name ends with 'bias' (``conv1.bias``, ``fc_bias``)."""
    return name.lower().endswith("bias")


def model_size(
    params: Mapping[str, ArrayLike],
    bits: int | Iterable[int] = LANE_BITS,
    *,
    bias_bits: int = 32,
    bias: Callable[[str, np.ndarray], bool] = is_bias,
) -> dict[Any, dict[str, float]]:
    """Bytes of the parameters at each width against float32.

    Returns ``{"float32": {...}, 4: {...}, 8: {...}, ...}`` (by default every lane width
    of the array, ``LANE_BITS``), each with ``bytes``,
    ``ratio`` (to float32), ``weight_bytes`` and ``bias_bytes``. Each tensor is packed into
    whole 32-bit words; biases stay ``bias_bits`` wide (int32 by default) at every width.
    """
    widths = [bits] if isinstance(bits, (int, np.integer)) else list(bits)
    widths = [check_bits(b, LANE_BITS) for b in widths]
    check_bits(bias_bits, LANE_BITS)
    arrays = {k: real_array(v, k, allow_empty=True) for k, v in params.items()}

    def words(n: int, b: int) -> int:
        return -(-n * b // 32) * 4

    f32_w = sum(4 * a.size for k, a in arrays.items() if not bias(k, a))
    f32_b = sum(4 * a.size for k, a in arrays.items() if bias(k, a))
    f32 = f32_w + f32_b
    out: dict[Any, dict[str, float]] = {
        "float32": {"bytes": f32, "ratio": 1.0, "weight_bytes": f32_w, "bias_bytes": f32_b}
    }
    for b in widths:
        wb = sum(words(a.size, b) for k, a in arrays.items() if not bias(k, a))
        bb = sum(words(a.size, bias_bits) for k, a in arrays.items() if bias(k, a))
        out[b] = {
            "bytes": wb + bb,
            "ratio": (wb + bb) / f32 if f32 else 0.0,
            "weight_bytes": wb,
            "bias_bytes": bb,
        }
    return out


class Calibrator:
    """Collects named tensors over calibration batches and chooses their point positions.

    ``observe(name, array)`` adds a batch to that name's streaming histogram of |x|;
    ``point_positions(bits, method)`` gives ``{name: fl}`` from the histograms.
    """

    def __init__(self, bins: int = 2048, *, exclude_zeros: bool = True) -> None:
        self.bins = bins
        self.exclude_zeros = exclude_zeros
        self._hists: dict[str, AbsHistogram] = {}
        AbsHistogram(bins)  # validates bins now, not at the first observe

    @property
    def names(self) -> list[str]:
        return list(self._hists)

    def histogram(self, name: str) -> AbsHistogram:
        return self._hists[name]

    def observe(self, name: str, array: ArrayLike) -> None:
        """Add one batch of tensor ``name`` (any shape)."""
        if not isinstance(name, str):
            raise ValueError(f"tensor names are strings, got {name!r}")
        h = self._hists.get(name)
        if h is None:
            h = self._hists[name] = AbsHistogram(self.bins)
        h.add(array)

    def observe_all(self, tensors: Mapping[str, ArrayLike]) -> None:
        for name, array in tensors.items():
            self.observe(name, array)

    def thresholds(self, bits: int = 8, method: str = "kl") -> dict[str, float]:
        """KL (or max) threshold of every tensor; all-zero tensors get 0.0."""
        return {
            name: threshold(h, bits, method, exclude_zeros=self.exclude_zeros)
            if h.amax > 0
            else 0.0
            for name, h in self._hists.items()
        }

    def point_positions(self, bits: int = 8, method: str = "kl", **kw: Any) -> dict[str, int]:
        """``{name: fl}`` for every observed tensor (keywords go to ``point_position``)."""
        kw.setdefault("exclude_zeros", self.exclude_zeros)
        return {name: point_position(h, bits, method, **kw) for name, h in self._hists.items()}


@dataclass
class Calibration:
    """What ``calibrate`` found: ``fl[bits][name]`` and the model sizes."""

    fl: dict[int, dict[str, int]] = field(default_factory=dict)
    sizes: dict[Any, dict[str, float]] = field(default_factory=dict)
    calibrator: Calibrator | None = None


def calibrate(
    forward: Callable[[np.ndarray], Mapping[str, ArrayLike]],
    batches: Iterable[np.ndarray],
    params: Mapping[str, ArrayLike],
    bits: Iterable[int] = LANE_BITS,
    method: str = "kl",
    *,
    bins: int = 2048,
    exclude_zeros: bool = True,
    bias: Callable[[str, np.ndarray], bool] = is_bias,
    **kw: Any,
) -> Calibration:
    """Run ``forward`` (batch -> {name: activation}) over ``batches`` and choose every fl.

    Activations (inputs and outputs of each layer, as ``forward`` names them) come from
    the streamed histograms; weights from the exact tensors in ``params``. Biases get no
    fl of their own here: they live in the accumulator at ``fl_weight + fl_input``.
    """
    cal = Calibrator(bins, exclude_zeros=exclude_zeros)
    for batch in batches:
        cal.observe_all(forward(batch))
    if not cal.names:
        raise ValueError("calibrate: no activations observed (no batches?)")
    widths = [check_bits(b, LANE_BITS) for b in bits]
    result = Calibration(calibrator=cal, sizes=model_size(params, widths, bias=bias))
    for b in widths:
        fls = cal.point_positions(b, method, **kw)
        for name, w in params.items():
            a = real_array(w, name)
            if not bias(name, a):
                fls[name] = point_position(
                    a, b, method, bins=bins, exclude_zeros=exclude_zeros, **kw
                )
        result.fl[b] = fls
    return result
