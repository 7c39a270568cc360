"""The quantized LeNet: fixed-point formats per tensor, the emulated forward pass
(every layer an assembly kernel on the array) and its exact numpy integer twin.

Formats: a tensor t holds integers q with t ~ q * 2^-fl.  A conv/linear layer
multiplies input (fl_in) by weights (fl_w) into a 32-bit accumulator at
fl_in + fl_w, adds the bias quantised to that position, and requantises to
the next activation's fl with a right shift (round half up, or stochastic).
At 16 and 32 bits a full-range input times full-range weights would overflow
the 32-bit accumulator, so `_fit_accumulator` lowers fl_w (then fl_in) until
the worst case over the calibration range fits: 32-bit data on a 32-bit
accumulator cannot use all of its bits, and the report says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pearray import kernels, quant
from pearray.models import lenet

# The activations whose point positions calibration chooses: the network input
# and each ReLU's output (pooling keeps the format).
ACTIVATIONS = {"input": ("conv1", "input"), "relu1": ("relu1", "output"),
               "relu2": ("relu2", "output"), "relu3": ("relu3", "output")}
# (layer, its input activation, its output activation or None for the logits)
MAC_LAYERS = (("conv1", "input", "relu1"), ("conv2", "relu1", "relu2"),
              ("fc1", "relu2", "relu3"), ("fc2", "relu3", None))


def calibration_tensors(x: np.ndarray, params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The float activations calibration streams, for a batch x (N, 1, 8, 8)."""
    _, acts = lenet.forward(x, params, return_activations=True)
    return {name: acts[layer][which] for name, (layer, which) in ACTIVATIONS.items()}


@dataclass
class QLayer:
    name: str
    w: np.ndarray  # integer weights at fl_w
    b: np.ndarray  # int32 bias at fl_in + fl_w
    fl_in: int
    fl_w: int
    fl_out: int | None  # None: the int32 accumulator is the output (logits)
    relu: bool
    kind: str
    stride: int = 1
    pad: int = 0

    @property
    def fl_acc(self) -> int:
        return self.fl_in + self.fl_w

    @property
    def shift(self) -> int | None:
        return None if self.fl_out is None else self.fl_acc - self.fl_out


@dataclass
class QNet:
    """LeNet at one width and rounding: integer parameters and every tensor's fl."""

    bits: int
    rounding: str
    fl: dict[str, int]
    layers: list[QLayer]
    notes: list[str] = field(default_factory=list)

    def quantize_input(self, x: np.ndarray) -> np.ndarray:
        """Images (N, 1, 8, 8) in [0, 1] to integers at the input's fl (round half up)."""
        return quant.quantize(x, self.bits, self.fl["input"], rounding="nearest")

    @property
    def fl_logits(self) -> int:
        return self.layers[-1].fl_acc


def build(params: dict[str, np.ndarray], cal: quant.Calibration, bits: int, rounding: str,
          seed: int = 0) -> QNet:
    """Integer parameters and formats from a calibration (quant.calibrate)."""
    rng = np.random.default_rng(seed)
    fl = dict(cal.fl[bits])
    amax = {n: cal.calibrator.histogram(n).amax for n in ACTIVATIONS}
    notes: list[str] = []
    wq: dict[str, np.ndarray] = {}
    for name, act_in, _ in MAC_LAYERS:
        w = params[f"{name}.weight"]
        fl_w = fl[f"{name}.weight"]
        fl[act_in], fl_w, note = _fit_accumulator(w, params[f"{name}.bias"], bits, fl[act_in],
                                                  fl_w, amax[act_in])
        if note:
            notes.append(f"{name}: {note}")
        fl[f"{name}.weight"] = fl_w
        wq[name] = quant.quantize(w, bits, fl_w, rounding=rounding, rng=rng)
    layers = []
    spec = {layer["name"]: layer for layer in lenet.LAYERS}
    for name, act_in, act_out in MAC_LAYERS:
        fl_in, fl_w = fl[act_in], fl[f"{name}.weight"]
        fl_out = None if act_out is None else min(fl[act_out], fl_in + fl_w)
        if act_out is not None and fl_out != fl[act_out]:
            notes.append(f"{name}: output fl {fl[act_out]} > accumulator fl {fl_in + fl_w}; "
                         f"kept at {fl_out} (no left shifts)")
            fl[act_out] = fl_out
        b = quant.quantize(params[f"{name}.bias"], 32, fl_in + fl_w, rounding="nearest")
        layers.append(QLayer(name, wq[name], b.astype(np.int32), fl_in, fl_w, fl_out,
                             relu=act_out is not None, kind=spec[name]["kind"],
                             stride=spec[name].get("stride", 1), pad=spec[name].get("pad", 0)))
    return QNet(bits, rounding, fl, layers, notes)


def _fit_accumulator(w: np.ndarray, b: np.ndarray, bits: int, fl_in: int, fl_w: int,
                     amax_in: float) -> tuple[int, int, str]:
    """Lower the larger of fl_w and fl_in (fl_w on a tie) until the worst-case
    accumulator over the calibration range fits in int32."""
    lo, hi = quant.int_range(bits)
    start = (fl_in, fl_w)

    def worst(fi: int, fw: int) -> float:
        xmax = min(hi, np.ceil(amax_in * 2.0**fi))
        wabs = np.minimum(np.abs(np.ldexp(w.astype(np.float64), fw)) + 1, hi)
        per_k = wabs.reshape(w.shape[0], -1).sum(axis=1) * xmax
        return float(np.max(per_k + np.abs(np.ldexp(b.astype(np.float64), fi + fw)) + 1))

    while worst(fl_in, fl_w) > 2**31 - 1:
        if fl_w >= fl_in:
            fl_w -= 1
        else:
            fl_in -= 1
    note = "" if (fl_in, fl_w) == start else (
        f"fl_in {start[0]}->{fl_in}, fl_w {start[1]}->{fl_w} so the int32 accumulator "
        f"cannot overflow")
    return fl_in, fl_w, note


@dataclass
class LayerRun:
    name: str
    cycles: int
    stats: dict[str, Any]


def forward_emulated(net: QNet, xq: np.ndarray, rows: int = 4, cols: int = 4, seed: int = 1,
                     progress: Callable[[str], None] | None = None
                     ) -> tuple[np.ndarray, list[LayerRun]]:
    """Every layer of a batch xq (N, 1, 8, 8) as kernels on the array: int32 logits."""
    runs: list[LayerRun] = []
    a = xq
    for layer in lenet.LAYERS:
        name, kind = layer["name"], layer["kind"]
        opts = dict(bits=net.bits, rows=rows, cols=cols)
        if kind in ("conv", "linear"):
            q = next(q for q in net.layers if q.name == name)
            fn = kernels.conv2d if kind == "conv" else kernels.linear
            extra = dict(stride=q.stride, pad=q.pad) if kind == "conv" else {}
            res = fn(a, q.w, q.b, out_shift=q.shift, relu=q.relu, rounding=net.rounding,
                     seed=seed, **extra, **opts)
        elif kind == "maxpool":
            res = kernels.maxpool2d(a, **opts)
        elif kind == "flatten":
            a = a.reshape(a.shape[0], -1)
            continue
        else:  # relu: fused into the conv / linear before it
            continue
        a = res.y
        runs.append(LayerRun(name, res.cycles, res.stats))
        if progress:
            progress(name)
    return a.astype(np.int32), runs


def forward_reference(net: QNet, xq: np.ndarray) -> np.ndarray:
    """The same integer network in numpy (round half up): what the array must give
    exactly with nearest rounding."""
    lo, hi = quant.int_range(net.bits)
    a = xq.astype(np.int64)
    for layer in lenet.LAYERS:
        name, kind = layer["name"], layer["kind"]
        if kind in ("conv", "linear"):
            q = next(q for q in net.layers if q.name == name)
            if kind == "conv":
                acc = _int_conv(a, q.w.astype(np.int64), q.stride, q.pad)
                acc += q.b.astype(np.int64)[None, :, None, None]
            else:
                acc = a @ q.w.astype(np.int64).T + q.b.astype(np.int64)[None, :]
            acc = (acc + 2**31) % 2**32 - 2**31  # the 32-bit accumulator wraps
            if q.shift is None:
                a = acc
                continue
            s = q.shift
            v = (acc + (1 << (s - 1))) >> s if s else acc
            a = np.clip(np.maximum(v, 0) if q.relu else v, lo, hi)
        elif kind == "maxpool":
            n, c, h, w = a.shape
            a = a[:, :, : h // 2 * 2, : w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2)
            a = a.max(axis=(3, 5))
        elif kind == "flatten":
            a = a.reshape(a.shape[0], -1)
    return a


def _int_conv(x: np.ndarray, w: np.ndarray, stride: int, pad: int) -> np.ndarray:
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    k, _, kh, kw = w.shape
    ho = (xp.shape[2] - kh) // stride + 1
    wo = (xp.shape[3] - kw) // stride + 1
    out = np.zeros((x.shape[0], k, ho, wo), np.int64)
    for dy in range(kh):
        for dx in range(kw):
            patch = xp[:, :, dy:dy + stride * (ho - 1) + 1:stride,
                       dx:dx + stride * (wo - 1) + 1:stride]
            out += np.einsum("nchw,kc->nkhw", patch, w[:, :, dy, dx])
    return out
