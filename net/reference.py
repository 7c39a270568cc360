"""numpy executors of a graph: float (what the ONNX model computes) and integer (what the
array must compute, bit for bit, with nearest rounding: docs/network.md section 2).

Both are written from the operators' definitions, not from the kernels: the tests check
the float one against ONNX Runtime and the array against the integer one.

The integer conv sums in float64 when that is exact (every partial sum below 2**53, which
the formats make true at 8 and 16 bits) and in int64 otherwise; both are exact modulo
2**32, which is all a 32-bit accumulator keeps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .graph import Graph, Node, as_nchw

if TYPE_CHECKING:
    from .quantize import QGraph


# -------------------------------------------------------------------- float


def run_float(g: Graph, x: np.ndarray, *, observe: Callable[[str, np.ndarray], None] | None
              = None) -> dict[str, np.ndarray]:
    """The graph's outputs (by output name) for input ``x``, in float32.
    ``observe(tensor, value)`` sees the input and every node's output (calibration)."""
    x = np.asarray(x, np.float32)
    _check_input(g, x)
    vals = {g.input: x}
    if observe:
        observe(g.input, x)
    left = _last_uses(g)
    for i, n in enumerate(g.nodes):
        vals[n.output] = float_node(n, [vals[t] for t in n.inputs],
                                    _batch_shape(g, n.output, len(x)))
        if observe:
            observe(n.output, vals[n.output])
        for t in left.get(i, ()):
            vals.pop(t, None)
    return {name: vals[t] for name, t in zip(g.output_names, g.outputs, strict=True)}


def _check_input(g: Graph, x: np.ndarray) -> None:
    want = g.tensors[g.input].shape
    if x.ndim != len(want) or x.shape[1:] != want[1:] or len(x) < 1:
        raise ValueError(f"input of shape {x.shape}, the graph takes (N, "
                         f"{', '.join(map(str, want[1:]))})")


def _batch_shape(g: Graph, t: str, n: int) -> tuple[int, ...]:
    """Tensor t's shape for a batch of n (graph shapes are for the model's batch)."""
    return (n, *g.tensors[t].shape[1:])


def _last_uses(g: Graph) -> dict[int, list[str]]:
    """Tensors no node after node i reads (and no output is): freed as the run goes."""
    last: dict[str, int] = {}
    for i, n in enumerate(g.nodes):
        for t in n.inputs:
            last[t] = i
    out: dict[int, list[str]] = {}
    for t, i in last.items():
        if t not in g.outputs:
            out.setdefault(i, []).append(t)
    return out


def float_node(n: Node, xs: list[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    """One node in float32 (ONNX semantics)."""
    a = n.attrs
    if n.is_mac:
        x = xs[0].reshape(as_nchw(xs[0].shape))
        y = conv_float(x, n.params["w"], n.params["b"], a["stride"], a["pads"], a["groups"])
        if a.get("relu"):
            y = np.maximum(y, 0)
        if a.get("clip") is not None:
            y = np.minimum(y, np.float32(a["clip"]))
        return y.reshape(shape)
    if n.op == "maxpool":
        return _pool(xs[0], a, "max").astype(np.float32)
    if n.op == "avgpool":
        return _pool(xs[0], a, "avg").astype(np.float32)
    if n.op == "add":
        y = xs[0].astype(np.float32)
        for v in xs[1:]:
            y = y + v
        if a.get("relu"):
            y = np.maximum(y, 0)
        if a.get("clip") is not None:
            y = np.minimum(y, np.float32(a["clip"]))
        return y.astype(np.float32)
    if n.op == "concat":
        return np.concatenate([v.reshape(as_nchw(v.shape)) for v in xs], axis=1).reshape(shape)
    if n.op == "flatten":
        return xs[0].reshape(shape)
    if n.op == "softmax":
        return softmax(xs[0], a["axis"], a.get("coerce", False))
    raise ValueError(f"{n.name}: no float rule for {n.op}")


def softmax(x: np.ndarray, axis: int, coerce: bool) -> np.ndarray:
    """ONNX Softmax: over ``axis`` (opset >= 13), or over all axes from ``axis`` on
    (``coerce``: opset < 13 flattens to 2-D first)."""
    x = np.asarray(x, np.float64)
    if coerce:
        flat = x.reshape(int(np.prod(x.shape[:axis])), -1)
        e = np.exp(flat - flat.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)).reshape(x.shape).astype(np.float32)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return (e / e.sum(axis=axis, keepdims=True)).astype(np.float32)


def _windows(x: np.ndarray, k: tuple[int, int], stride: tuple[int, int],
             pads: tuple[int, int, int, int], fill: float) -> np.ndarray:
    """(N, C, Ho, Wo, kh, kw) views of the padded input."""
    pt, pl, pb, pr = pads
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=fill)
    return sliding_window_view(xp, k, axis=(2, 3))[:, :, ::stride[0], ::stride[1]]


def conv_float(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: tuple[int, int],
               pads: tuple[int, int, int, int], groups: int) -> np.ndarray:
    """Grouped 2-D cross-correlation (N, C, H, W) * (K, C/g, kh, kw) + b -> (N, K, Ho, Wo)."""
    y = _conv(x.astype(np.float32), w.astype(np.float32), stride, pads, groups)
    return (y + b.astype(np.float32)[None, :, None, None]).astype(np.float32)


def _conv(x: np.ndarray, w: np.ndarray, stride: tuple[int, int],
          pads: tuple[int, int, int, int], groups: int) -> np.ndarray:
    k, cg, kh, kw = w.shape
    cols = _windows(x, (kh, kw), stride, pads, 0)  # (N, C, Ho, Wo, kh, kw)
    if groups == 1:
        y = np.tensordot(cols, w, axes=([1, 4, 5], [1, 2, 3]))  # (N, Ho, Wo, K)
        return np.ascontiguousarray(y.transpose(0, 3, 1, 2))
    kg = k // groups
    if cg == 1 and kg == 1:  # depthwise
        return np.einsum("nchwij,cij->nchw", cols, w[:, 0], optimize=True)
    parts = []
    for gi in range(groups):
        c = cols[:, gi * cg:(gi + 1) * cg]
        wg = w[gi * kg:(gi + 1) * kg]
        parts.append(np.tensordot(c, wg, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2))
    return np.ascontiguousarray(np.concatenate(parts, axis=1))


def _pool(x: np.ndarray, a: dict, kind: str) -> np.ndarray:
    k, stride, pads = a["kernel"], a["stride"], a["pads"]
    if kind == "max":
        info = np.finfo(x.dtype) if x.dtype.kind == "f" else np.iinfo(x.dtype)
        return _windows(x, k, stride, pads, info.min).max(axis=(4, 5))
    win = _windows(x.astype(np.float64), k, stride, pads, 0)
    total = win.sum(axis=(4, 5))
    return total / _counts(x.shape, a)[None, None]


def _counts(shape: tuple[int, ...], a: dict) -> np.ndarray:
    """(Ho, Wo) divisors of average pooling: the window, or its cells inside the input."""
    h, w = shape[2:]
    ones = np.ones((1, 1, h, w))
    if a.get("count_include_pad"):
        pt, pl, pb, pr = a["pads"]
        ones = np.pad(ones, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=1)
        return _windows(ones, a["kernel"], a["stride"], (0, 0, 0, 0), 0).sum(axis=(4, 5))[0, 0]
    return _windows(ones, a["kernel"], a["stride"], a["pads"], 0).sum(axis=(4, 5))[0, 0]


# -------------------------------------------------------------------- integer


def rshr(v: np.ndarray, s: int) -> np.ndarray:
    """Round half up shift right of int64 values (the hardware's srari / packsr)."""
    if s == 0:
        return v
    return (v + (1 << (s - 1))) >> s


def wrap32(v: np.ndarray) -> np.ndarray:
    return ((v.astype(np.int64) + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def int_conv(x: np.ndarray, w: np.ndarray, stride: tuple[int, int],
             pads: tuple[int, int, int, int], groups: int) -> np.ndarray:
    """Exact integer grouped correlation (int64 result, exact modulo 2**32 at least)."""
    xmax = int(np.abs(x).max()) if x.size else 0
    flat = w.reshape(w.shape[0], -1)
    step = max(1, (1 << 22) // max(1, flat.shape[1]))
    wsum = max(int(np.abs(flat[i:i + step].astype(np.int64)).sum(axis=1).max())
               for i in range(0, len(flat), step))
    if xmax * wsum < 2**53:  # every partial sum is an exact float64: BLAS
        y = _conv(x.astype(np.float64), w.astype(np.float64), stride, pads, groups)
        return np.rint(y).astype(np.int64)
    return _conv(x.astype(np.int64), w.astype(np.int64), stride, pads, groups)


def run_int(q: QGraph, xq: np.ndarray, *, observe: Callable[[str, np.ndarray], None] | None
            = None) -> dict[str, np.ndarray]:
    """The quantized graph on integer input ``xq`` (at the input's format): the integer
    values of every array output, by the graph's tensor name (before any host node)."""
    g = q.graph
    xq = np.asarray(xq)
    _check_input(g, xq)
    vals: dict[str, np.ndarray] = {g.input: xq.astype(np.int64)}
    if observe:
        observe(g.input, vals[g.input])
    outs = q.array_outputs
    for qn in q.nodes:
        n = qn.node
        y = int_node(q, qn, [vals[t] for t in n.inputs])
        vals[n.output] = y.reshape(_batch_shape(g, n.output, len(xq)))
        if observe:
            observe(n.output, vals[n.output])
    return {t: vals[t] for t in outs}


def int_node(q: QGraph, qn, xs: list[np.ndarray]) -> np.ndarray:  # noqa: ANN001
    """One quantized node on int64 values (docs/network.md section 2)."""
    n = qn.node
    a = n.attrs
    if n.is_mac:
        x = xs[0].reshape(as_nchw(xs[0].shape))
        acc = int_conv(x, qn.w, a["stride"], a["pads"], a["groups"])
        acc = wrap32(acc + qn.b.astype(np.int64)[None, :, None, None])
        if qn.shift is None:
            return acc
        return np.clip(rshr(acc, qn.shift), qn.lo, qn.hi)
    if n.op == "maxpool":
        return _pool(xs[0], a, "max")
    if n.op == "avgpool":
        win = _windows(xs[0], a["kernel"], a["stride"], a["pads"], 0)
        total = win.sum(axis=(4, 5))  # int64
        counts = _counts(xs[0].shape, a).astype(np.int64)
        out = np.empty_like(total)
        for cnt in np.unique(counts):
            m, s = qn.avg[int(cnt)]
            sel = counts == cnt
            out[:, :, sel] = rshr(total[:, :, sel] * m, s)
        return np.clip(out, qn.lo, qn.hi)
    if n.op == "add":
        acc = sum(x.astype(np.int64) << sa for x, sa in zip(xs, qn.align, strict=True))
        return np.clip(rshr(acc, qn.shift), qn.lo, qn.hi)
    if n.op == "concat":
        return np.concatenate([v.reshape(as_nchw(v.shape)) for v in xs], axis=1)
    if n.op == "flatten":
        return xs[0].reshape(xs[0].shape[0], -1)
    raise ValueError(f"{n.name}: no integer rule for {n.op}")
