"""LeNet-style CNN for 8x8 digits as plain numpy: the float reference the project compares to.

Every quantized / emulated result is checked against ``forward`` here, so it is written
plainly (im2col + tensordot) and follows PyTorch semantics exactly: Conv2d is a
cross-correlation, weights are (K_out, C, kh, kw), Linear weights are (out, in), and
flatten is in (C, H, W) order.

Network (input 1x8x8):
    conv1 1->8 3x3 pad 1 -> relu1 -> pool1 2x2 -> conv2 8->16 3x3 pad 1 -> relu2 -> pool2 2x2
    -> flatten (64) -> fc1 64->32 -> relu3 -> fc2 32->10
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

WEIGHTS_FILE = "lenet_digits.npz"
INPUT_SHAPE = (1, 8, 8)
NUM_CLASSES = 10

# Ordered description of the network so other code (quantizer, kernel mapper, emulator)
# can walk it without knowing PyTorch. Layers with parameters use "<name>.weight" and
# "<name>.bias" in the weights dict.
LAYERS: list[dict[str, Any]] = [
    {"name": "conv1", "kind": "conv", "in_ch": 1, "out_ch": 8, "kernel": 3, "stride": 1, "pad": 1},
    {"name": "relu1", "kind": "relu"},
    {"name": "pool1", "kind": "maxpool", "kernel": 2, "stride": 2},
    {"name": "conv2", "kind": "conv", "in_ch": 8, "out_ch": 16, "kernel": 3, "stride": 1, "pad": 1},
    {"name": "relu2", "kind": "relu"},
    {"name": "pool2", "kind": "maxpool", "kernel": 2, "stride": 2},
    {"name": "flatten", "kind": "flatten"},
    {"name": "fc1", "kind": "linear", "in_features": 64, "out_features": 32},
    {"name": "relu3", "kind": "relu"},
    {"name": "fc2", "kind": "linear", "in_features": 32, "out_features": 10},
]

PARAM_SHAPES: dict[str, tuple[int, ...]] = {
    "conv1.weight": (8, 1, 3, 3),
    "conv1.bias": (8,),
    "conv2.weight": (16, 8, 3, 3),
    "conv2.bias": (16,),
    "fc1.weight": (32, 64),
    "fc1.bias": (32,),
    "fc2.weight": (10, 32),
    "fc2.bias": (10,),
}


def default_weights_path() -> Path:
    """Path of the shipped weights (next to this module, also when pip-installed)."""
    return Path(__file__).resolve().parent / WEIGHTS_FILE


def load_weights(path: str | Path | None = None) -> dict[str, np.ndarray]:
    """Load float32 weights; default is the shipped ``lenet_digits.npz``.

    Shapes are checked so a stale or foreign file fails here rather than deep in a kernel.
    """
    p = Path(path) if path is not None else default_weights_path()
    with np.load(p) as f:
        params = {k: np.asarray(f[k], dtype=np.float32) for k in f.files}
    for name, shape in PARAM_SHAPES.items():
        if name not in params:
            raise KeyError(f"{p}: missing parameter {name!r}")
        if params[name].shape != shape:
            raise ValueError(f"{p}: {name} has shape {params[name].shape}, expected {shape}")
    return params


def conv2d(
    x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: int = 1, pad: int = 0
) -> np.ndarray:
    """PyTorch Conv2d (cross-correlation): x (N,C,H,W), w (K,C,kh,kw) -> (N,K,Ho,Wo)."""
    kh, kw = w.shape[2], w.shape[3]
    if pad:
        x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    # im2col view: (N, C, Ho', Wo', kh, kw), then subsample for the stride.
    cols = sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    out = np.tensordot(cols, w, axes=([1, 4, 5], [1, 2, 3]))  # (N, Ho, Wo, K)
    out = out.transpose(0, 3, 1, 2)
    if b is not None:
        out = out + b[None, :, None, None]
    return np.ascontiguousarray(out, dtype=np.float32)


def maxpool2d(x: np.ndarray, kernel: int = 2, stride: int = 2) -> np.ndarray:
    """PyTorch MaxPool2d without padding (floor mode): x (N,C,H,W) -> (N,C,Ho,Wo)."""
    win = sliding_window_view(x, (kernel, kernel), axis=(2, 3))[:, :, ::stride, ::stride]
    return np.ascontiguousarray(win.max(axis=(4, 5)))


def linear(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """PyTorch Linear: x (N,in), w (out,in) -> (N,out)."""
    out = x @ w.T
    if b is not None:
        out = out + b
    return out.astype(np.float32, copy=False)


def relu(x: np.ndarray) -> np.ndarray:
    """Elementwise max(x, 0)."""
    return np.maximum(x, np.float32(0.0))


def forward(
    x: np.ndarray, params: dict[str, np.ndarray], return_activations: bool = False
) -> np.ndarray | tuple[np.ndarray, dict[str, dict[str, np.ndarray]]]:
    """Float reference forward pass: x (N,1,8,8) -> logits (N,10).

    With ``return_activations`` also returns ``{layer_name: {"input": a, "output": b}}``
    for every entry of LAYERS, which is what calibration needs for per-layer ranges.
    """
    a = np.asarray(x, dtype=np.float32)
    if a.ndim == 3:
        a = a[:, None]
    if a.shape[1:] != INPUT_SHAPE:
        raise ValueError(f"expected input (N, {INPUT_SHAPE}), got {a.shape}")
    acts: dict[str, dict[str, np.ndarray]] = {}
    for layer in LAYERS:
        name, kind = layer["name"], layer["kind"]
        inp = a
        if kind == "conv":
            a = conv2d(
                a,
                params[f"{name}.weight"],
                params[f"{name}.bias"],
                stride=layer["stride"],
                pad=layer["pad"],
            )
        elif kind == "relu":
            a = relu(a)
        elif kind == "maxpool":
            a = maxpool2d(a, layer["kernel"], layer["stride"])
        elif kind == "flatten":
            a = a.reshape(a.shape[0], -1)  # (C, H, W) order, same as torch.flatten
        elif kind == "linear":
            a = linear(a, params[f"{name}.weight"], params[f"{name}.bias"])
        else:
            raise ValueError(f"unknown layer kind {kind!r}")
        if return_activations:
            acts[name] = {"input": inp, "output": a}
    if return_activations:
        return a, acts
    return a


def predict(x: np.ndarray, params: dict[str, np.ndarray]) -> np.ndarray:
    """Class indices (N,) from the float reference."""
    return np.argmax(forward(x, params), axis=1)


def layer_macs() -> dict[str, int]:
    """Multiply-accumulates per conv/linear layer for one 1x8x8 image (cost on the array)."""
    macs: dict[str, int] = {}
    c, h, w = INPUT_SHAPE
    for layer in LAYERS:
        kind = layer["kind"]
        if kind == "conv":
            k, s, p = layer["kernel"], layer["stride"], layer["pad"]
            h = (h + 2 * p - k) // s + 1
            w = (w + 2 * p - k) // s + 1
            macs[layer["name"]] = layer["out_ch"] * h * w * c * k * k
            c = layer["out_ch"]
        elif kind == "maxpool":
            h = (h - layer["kernel"]) // layer["stride"] + 1
            w = (w - layer["kernel"]) // layer["stride"] + 1
        elif kind == "flatten":
            c, h, w = c * h * w, 1, 1
        elif kind == "linear":
            macs[layer["name"]] = layer["in_features"] * layer["out_features"]
            c = layer["out_features"]
    return macs
