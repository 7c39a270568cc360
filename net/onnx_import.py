"""ONNX -> Graph: constants folded, BatchNormalization and per-channel Mul/Add folded into
the conv before them, ReLU/Clip fused into their producer, Dropout/Identity removed.

Anything else is refused with `UnsupportedOperator`, which names the operator, the node
(name and index) and the supported list: a network either runs whole on the array (and
its final Softmax on the host, reported as such) or not at all. There is no silent host
fallback.

Import is two passes. The first refuses operator types outside the lists below before
anything is evaluated (so the error names the first operator that cannot run, e.g. LRN,
not a symptom of it). The second walks the nodes in their (topological) order with a
value per ONNX tensor: a numpy constant or a graph tensor of known shape. A node whose
inputs are all constants is evaluated here (`FOLDABLE`); the others become graph nodes,
which `_fuse` then merges.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .graph import MAC_OPS, Graph, GraphError, Node, Tensor, infer_shape, topological

NETWORK_OPS = (
    "Conv", "BatchNormalization", "Relu", "Clip", "MaxPool", "AveragePool",
    "GlobalAveragePool", "Gemm", "MatMul", "Add", "Sum", "Sub", "Mul", "Div", "Concat",
    "Flatten", "Reshape", "Dropout", "Identity", "Softmax",
)
FOLDABLE = (
    "Constant", "ConstantOfShape", "Shape", "Unsqueeze", "Squeeze", "Reshape", "Flatten",
    "Cast", "Gather", "Concat", "Identity", "Add", "Sub", "Mul", "Div", "Sqrt",
)
SUPPORTED = tuple(sorted(set(NETWORK_OPS) | set(FOLDABLE)))
AUTO_PADS = ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER")


class ModelError(ValueError):
    """The file is not an ONNX model this importer can read (or the input does not fit)."""


class UnsupportedOperator(ModelError):
    """An operator (or an attribute of one) the array cannot run."""

    def __init__(self, op: str, node: str, index: int, reason: str = "") -> None:
        self.op, self.node, self.index, self.reason = op, node, index, reason
        what = f"unsupported operator {op}" if not reason else f"unsupported {op}: {reason}"
        super().__init__(f"{what} (node {index}, {node!r}); supported operators: "
                         f"{', '.join(SUPPORTED)} (Softmax only as the final node, on the host)")


def load(path: str | Path, input_shape: tuple[int, ...] | None = None) -> Graph:
    """Read an ONNX file into a Graph. ``input_shape`` replaces the model's input shape
    (batch size, or a smaller image where the network allows it)."""
    import onnx

    p = Path(path)
    try:
        model = onnx.load(str(p))
    except FileNotFoundError:
        raise ModelError(f"{p}: no such file") from None
    except Exception as exc:  # protobuf's DecodeError and friends
        raise ModelError(f"{p}: not an ONNX model ({type(exc).__name__}: {exc})") from None
    return from_model(model, input_shape, name=p.stem)


def from_model(model: Any, input_shape: tuple[int, ...] | None = None,
               name: str | None = None) -> Graph:
    """A loaded onnx.ModelProto to a Graph (see `load`)."""
    return _Importer(model, input_shape, name).run()


def _attrs(node: Any) -> dict[str, Any]:
    from onnx import helper, numpy_helper

    out: dict[str, Any] = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        if a.type == a.TENSOR:
            v = numpy_helper.to_array(v)
        elif isinstance(v, bytes):
            v = v.decode()
        out[a.name] = v
    return out


class _Importer:
    def __init__(self, model: Any, input_shape: tuple[int, ...] | None, name: str | None):
        from onnx import numpy_helper

        self.model = model
        g = model.graph
        self.name = name or g.name or "model"
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                          1)
        self.consts: dict[str, np.ndarray] = {
            t.name: numpy_helper.to_array(t) for t in g.initializer}
        self.alias: dict[str, str] = {}  # ONNX name -> graph tensor name
        self.tensors: dict[str, Tensor] = {}
        self.nodes: list[Node] = []
        self.names: set[str] = set()
        inputs = [i for i in g.input if i.name not in self.consts]
        if len(inputs) != 1:
            raise ModelError(f"{self.name}: the array runs networks with one input, this one "
                             f"has {len(inputs)}: {[i.name for i in inputs]}")
        inp = inputs[0]
        dims = [d.dim_value if d.HasField("dim_value") else None
                for d in inp.type.tensor_type.shape.dim]
        if input_shape is not None:
            shape = tuple(int(d) for d in input_shape)
            if len(shape) != len(dims):
                raise ModelError(f"input {inp.name!r}: shape {shape} does not fit the model's "
                                 f"{tuple(d or '?' for d in dims)}")
        else:
            if any(d is None or d <= 0 for d in dims):
                raise ModelError(f"input {inp.name!r} has a symbolic shape "
                                 f"{tuple(d or '?' for d in dims)}: give its shape")
            shape = tuple(int(d) for d in dims)
        if len(shape) not in (2, 4) or any(s <= 0 for s in shape):
            raise ModelError(f"input {inp.name!r}: shape {shape}; the array takes (N, C, H, W) "
                             "or (N, F)")
        self.input = inp.name
        self.tensors[inp.name] = Tensor(inp.name, shape)
        self.output_names = [o.name for o in g.output]

    # ---------------------------------------------------------------- driver

    def run(self) -> Graph:
        g = self.model.graph
        for i, node in enumerate(g.node):  # refuse unknown operators before evaluating any
            if node.domain not in ("", "ai.onnx") or node.op_type not in SUPPORTED:
                op = node.op_type if node.domain in ("", "ai.onnx") else \
                    f"{node.domain}.{node.op_type}"
                raise UnsupportedOperator(op, self._node_name(node, i), i)
        for i, node in enumerate(g.node):
            self._node(node, i)
        outputs = []
        for o in self.output_names:
            if o in self.consts:
                raise ModelError(f"output {o!r} is a constant: nothing to run")
            outputs.append(self._resolve(o))
        graph = Graph(self.name, self.input, outputs, self.tensors, self.nodes,
                      output_names=list(self.output_names))
        _fuse(graph)
        _prune(graph)
        for i, n in enumerate(graph.nodes):
            h, w = graph.tensors[n.inputs[0]].nchw[2:] if n.inputs else (1, 1)
            if n.op == "flatten" and h * w > 1 and (
                    n.output not in graph.outputs
                    and any(c.op != "softmax" for c in graph.consumers(n.output))):
                raise UnsupportedOperator("Flatten", n.name, i, "a flattened feature map "
                                          "feeds something other than a Gemm/MatMul or the "
                                          "output")
        graph.nodes = topological(graph.nodes, {graph.input})
        try:
            graph.check()
        except GraphError as exc:
            raise ModelError(f"{self.name}: {exc}") from None
        return graph

    def _node_name(self, node: Any, index: int) -> str:
        return node.name or f"{node.op_type}_{index}"

    def _resolve(self, name: str) -> str:
        while name in self.alias:
            name = self.alias[name]
        return name

    def _value(self, name: str) -> np.ndarray | Tensor | None:
        if name == "":
            return None
        if name in self.consts:
            return self.consts[name]
        t = self._resolve(name)
        if t in self.tensors:
            return self.tensors[t]
        raise ModelError(f"tensor {name!r} is read before it is written")

    # ---------------------------------------------------------------- one node

    def _node(self, node: Any, index: int) -> None:
        op = node.op_type
        name = self._node_name(node, index)
        a = _attrs(node)
        vals = [self._value(x) for x in node.input]
        consts = all(v is None or isinstance(v, np.ndarray) for v in vals)
        if consts and op in FOLDABLE:
            try:
                outs = _fold(op, a, vals, self.opset)
            except UnsupportedOperator:
                raise
            except Exception as exc:
                raise UnsupportedOperator(op, name, index, f"cannot fold it: {exc}") from None
            for o, v in zip(node.output, outs, strict=False):
                self.consts[o] = np.asarray(v)
            return
        if op == "Shape":  # of a tensor: its shape is static
            self.consts[node.output[0]] = np.array(vals[0].shape, np.int64)
            return
        if op not in NETWORK_OPS:
            raise UnsupportedOperator(op, name, index, "on a tensor that is not constant")
        ctx = _Ctx(self, node, index, name, a, vals)
        getattr(self, f"_op_{op}")(ctx)

    def _add(self, ctx: _Ctx, op: str, inputs: list[str], attrs: dict[str, Any],
             params: dict[str, np.ndarray] | None = None, output: str | None = None) -> Node:
        name = ctx.name
        while name in self.names:
            name = f"{name}_"
        self.names.add(name)
        out = output or ctx.node.output[0]
        if op in (*MAC_OPS, "add"):
            attrs = {"relu": False, "clip": None, **attrs}
        n = Node(name, op, inputs, out, attrs, params or {}, ctx.node.op_type)
        try:
            shape = infer_shape(n, [self.tensors[t].shape for t in inputs])
        except GraphError as exc:
            raise UnsupportedOperator(ctx.node.op_type, ctx.name, ctx.index, str(exc)) from None
        self.tensors[out] = Tensor(out, shape)
        self.nodes.append(n)
        return n

    def _alias(self, ctx: _Ctx, src: str) -> None:
        self.alias[ctx.node.output[0]] = src

    # ---------------------------------------------------------------- operators

    def _op_Conv(self, ctx: _Ctx) -> None:
        x = ctx.tensor(0)
        w = ctx.const(1, "weights")
        b = ctx.const(2, "bias") if ctx.has(2) else np.zeros(w.shape[0], np.float32)
        if w.ndim != 4 or len(x.shape) != 4:
            ctx.refuse("only 2-D convolutions (4-D weights and input)")
        ctx.check_dilations()
        kh, kw = w.shape[2:]
        if tuple(ctx.attrs.get("kernel_shape", (kh, kw))) != (kh, kw):
            ctx.refuse(f"kernel_shape {ctx.attrs['kernel_shape']} differs from the weights'")
        stride = ctx.strides()
        pads = ctx.pads(x.shape, (kh, kw), stride)
        g = int(ctx.attrs.get("group", 1))
        self._add(ctx, "conv", [x.name], {"stride": stride, "pads": pads, "groups": g},
                  {"w": w.astype(np.float32, copy=False),
                   "b": b.astype(np.float32).reshape(-1)})

    def _op_Gemm(self, ctx: _Ctx) -> None:
        x = ctx.tensor(0)
        b = ctx.const(1, "B")
        if len(x.shape) != 2 or b.ndim != 2:
            ctx.refuse("A must be a 2-D tensor and B a 2-D constant")
        if int(ctx.attrs.get("transA", 0)):
            ctx.refuse("transA=1 (the activation transposed)")
        alpha = float(ctx.attrs.get("alpha", 1.0))
        beta = float(ctx.attrs.get("beta", 1.0))
        w = b.T if not int(ctx.attrs.get("transB", 0)) else b  # (K, F)
        k = w.shape[0]
        bias = np.zeros(k, np.float32)
        if ctx.has(2):
            c = ctx.const(2, "C")
            try:
                bias = np.broadcast_to(c, (1, k)).reshape(k).astype(np.float32) * beta
            except ValueError:
                ctx.refuse(f"C of shape {c.shape} is not one value per output")
        w = w.astype(np.float32, copy=False)
        self._gemm(ctx, x, w * np.float32(alpha) if alpha != 1.0 else w, bias)

    def _op_MatMul(self, ctx: _Ctx) -> None:
        x = ctx.tensor(0)
        b = ctx.const(1, "B")
        if len(x.shape) != 2 or b.ndim != 2:
            ctx.refuse("only a 2-D tensor times a 2-D constant")
        self._gemm(ctx, x, b.T.astype(np.float32), np.zeros(b.shape[1], np.float32))

    def _gemm(self, ctx: _Ctx, x: Tensor, w: np.ndarray, bias: np.ndarray) -> None:
        if w.shape[1] != x.shape[1]:
            ctx.refuse(f"weights {w.shape} do not fit the input {x.shape}")
        self._add(ctx, "gemm", [x.name],
                  {"stride": (1, 1), "pads": (0, 0, 0, 0), "groups": 1},
                  {"w": w[:, :, None, None], "b": bias})

    def _op_BatchNormalization(self, ctx: _Ctx) -> None:
        x = ctx.tensor(0)
        scale, bias, mean, var = (ctx.const(i, n).astype(np.float64).reshape(-1)
                                  for i, n in enumerate(("scale", "B", "mean", "var"), 1))
        if int(ctx.attrs.get("training_mode", 0)) or any(ctx.node.output[1:]):
            ctx.refuse("training mode (only inference)")
        eps = float(ctx.attrs.get("epsilon", 1e-5))
        s = scale / np.sqrt(var + eps)
        self._affine(ctx, x, s, bias - mean * s)

    def _affine(self, ctx: _Ctx, x: Tensor, scale: np.ndarray, bias: np.ndarray) -> None:
        c = x.nchw[1]
        scale = np.broadcast_to(scale, (c,))
        bias = np.broadcast_to(bias, (c,))
        self._add(ctx, "affine", [x.name], {"stride": (1, 1), "pads": (0, 0, 0, 0),
                                            "groups": c},
                  {"w": scale.astype(np.float32).reshape(c, 1, 1, 1),
                   "b": bias.astype(np.float32)})

    def _binary(self, ctx: _Ctx, kind: str) -> None:
        v0, v1 = ctx.vals[0], ctx.vals[1]
        if isinstance(v0, Tensor) and isinstance(v1, Tensor):
            if kind != "Add":
                ctx.refuse(f"{kind} of two tensors (only Add/Sum of tensors)")
            self._add(ctx, "add", [v0.name, v1.name], {})
            return
        x, c = (v0, v1) if isinstance(v0, Tensor) else (v1, v0)
        ch = _per_channel(c, x.shape)
        if ch is None:
            ctx.refuse(f"a constant of shape {c.shape} on a {x.shape} tensor (only one value "
                       "per channel)")
        ch = ch.astype(np.float64)
        if kind == "Add":
            self._affine(ctx, x, np.ones_like(ch), ch)
        elif kind == "Sub":
            if x is v0:
                self._affine(ctx, x, np.ones_like(ch), -ch)
            else:
                self._affine(ctx, x, -np.ones_like(ch), ch)
        elif kind == "Mul":
            self._affine(ctx, x, ch, np.zeros_like(ch))
        else:  # Div
            if x is not v0:
                ctx.refuse("a constant divided by a tensor")
            if np.any(ch == 0):
                ctx.refuse("division by zero")
            self._affine(ctx, x, 1.0 / ch, np.zeros_like(ch))

    def _op_Add(self, ctx: _Ctx) -> None:
        self._binary(ctx, "Add")

    def _op_Sub(self, ctx: _Ctx) -> None:
        self._binary(ctx, "Sub")

    def _op_Mul(self, ctx: _Ctx) -> None:
        self._binary(ctx, "Mul")

    def _op_Div(self, ctx: _Ctx) -> None:
        self._binary(ctx, "Div")

    def _op_Sum(self, ctx: _Ctx) -> None:
        """Sum of k tensors: a chain of k-1 two-input adds (the eltwise kernel adds two)."""
        xs = [ctx.tensor(i) for i in range(len(ctx.vals))]
        if len(xs) == 1:
            self._alias(ctx, xs[0].name)
            return
        cur = xs[0].name
        for i, x in enumerate(xs[1:], 1):
            last = i == len(xs) - 1
            out = ctx.node.output[0] if last else f"{ctx.node.output[0]}#{i}"
            self._add(ctx, "add", [cur, x.name], {}, output=out)
            cur = out

    def _op_Relu(self, ctx: _Ctx) -> None:
        self._add(ctx, "add", [ctx.tensor(0).name], {"relu": True})

    def _op_Clip(self, ctx: _Ctx) -> None:
        x = ctx.tensor(0)
        if self.opset < 11:
            lo, hi = ctx.attrs.get("min"), ctx.attrs.get("max")
        else:
            lo = float(ctx.const(1, "min").reshape(())) if ctx.has(1) else None
            hi = float(ctx.const(2, "max").reshape(())) if ctx.has(2) else None
        if lo is None or float(lo) != 0.0:
            ctx.refuse(f"min {lo} (only Clip(0, max): a ReLU with an upper bound)")
        attrs: dict[str, Any] = {"relu": True}
        if hi is not None and math.isfinite(float(hi)):
            if float(hi) <= 0:
                ctx.refuse(f"max {hi} <= min 0")
            attrs["clip"] = float(hi)
        self._add(ctx, "add", [x.name], attrs)

    def _pool(self, ctx: _Ctx, op: str) -> None:
        x = ctx.tensor(0)
        if len(x.shape) != 4:
            ctx.refuse("2-D pooling of a 4-D tensor only")
        if len(ctx.node.output) > 1 and ctx.node.output[1]:
            ctx.refuse("the Indices output")
        ctx.check_dilations()
        if int(ctx.attrs.get("storage_order", 0)):
            ctx.refuse("storage_order=1")
        k = tuple(int(v) for v in ctx.attrs["kernel_shape"])
        if len(k) != 2:
            ctx.refuse(f"kernel_shape {k} (2-D pooling only)")
        stride = ctx.strides()
        pads = ctx.pads(x.shape, k, stride)
        if int(ctx.attrs.get("ceil_mode", 0)):
            h, w = x.shape[2:]
            floor = [(s + a + b - kk) // st + 1 for s, a, b, kk, st in
                     ((h, pads[0], pads[2], k[0], stride[0]), (w, pads[1], pads[3], k[1],
                                                                stride[1]))]
            ceil = [-(-(s + a + b - kk) // st) + 1 for s, a, b, kk, st in
                    ((h, pads[0], pads[2], k[0], stride[0]), (w, pads[1], pads[3], k[1],
                                                               stride[1]))]
            if floor != ceil:
                ctx.refuse("ceil_mode=1 (it changes the output size here)")
        attrs: dict[str, Any] = {"kernel": k, "stride": stride, "pads": pads}
        if op == "avgpool":
            attrs["count_include_pad"] = bool(int(ctx.attrs.get("count_include_pad", 0)))
        self._add(ctx, op, [x.name], attrs)

    def _op_MaxPool(self, ctx: _Ctx) -> None:
        self._pool(ctx, "maxpool")

    def _op_AveragePool(self, ctx: _Ctx) -> None:
        self._pool(ctx, "avgpool")

    def _op_GlobalAveragePool(self, ctx: _Ctx) -> None:
        x = ctx.tensor(0)
        if len(x.shape) != 4:
            ctx.refuse("a 4-D input only")
        h, w = x.shape[2:]
        self._add(ctx, "avgpool", [x.name], {"kernel": (h, w), "stride": (1, 1),
                                             "pads": (0, 0, 0, 0), "count_include_pad": True,
                                             "global": True})

    def _op_Concat(self, ctx: _Ctx) -> None:
        xs = [ctx.tensor(i) for i in range(len(ctx.vals))]
        rank = len(xs[0].shape)
        axis = int(ctx.attrs.get("axis", 1))
        if axis < 0:
            axis += rank
        if axis != 1:
            ctx.refuse(f"axis {ctx.attrs.get('axis')} (only channels, axis 1)")
        if len(xs) == 1:
            self._alias(ctx, xs[0].name)
            return
        self._add(ctx, "concat", [x.name for x in xs], {})

    def _op_Flatten(self, ctx: _Ctx) -> None:
        x = ctx.tensor(0)
        axis = int(ctx.attrs.get("axis", 1))
        if axis < 0:
            axis += len(x.shape)
        if axis != 1:
            ctx.refuse(f"axis {ctx.attrs.get('axis')} (only to (N, features), axis 1)")
        self._flatten(ctx, x)

    def _flatten(self, ctx: _Ctx, x: Tensor) -> None:
        if len(x.shape) == 2:
            self._alias(ctx, x.name)
        else:
            self._add(ctx, "flatten", [x.name], {})

    def _op_Reshape(self, ctx: _Ctx) -> None:
        x = ctx.tensor(0)
        target = ctx.const(1, "shape").astype(np.int64).reshape(-1)
        shape = _reshape_target(x.shape, target, bool(ctx.attrs.get("allowzero", 0)))
        if shape is None:
            ctx.refuse(f"to {tuple(int(t) for t in target)} from {x.shape}")
        if tuple(shape) == tuple(x.shape):
            self._alias(ctx, x.name)
        elif len(shape) == 2 and shape[0] == x.shape[0]:
            self._flatten(ctx, x)
        else:
            ctx.refuse(f"to {tuple(shape)} from {x.shape} (only to (N, features))")

    def _op_Dropout(self, ctx: _Ctx) -> None:
        if any(self._used(o) or o in self.output_names for o in ctx.node.output[1:] if o):
            ctx.refuse("its mask output is used")
        self._alias(ctx, ctx.tensor(0).name)

    def _op_Identity(self, ctx: _Ctx) -> None:
        self._alias(ctx, ctx.tensor(0).name)

    def _op_Softmax(self, ctx: _Ctx) -> None:
        x = ctx.tensor(0)
        default = 1 if self.opset < 13 else -1
        axis = int(ctx.attrs.get("axis", default))
        if axis < 0:
            axis += len(x.shape)
        n = self._add(ctx, "softmax", [x.name], {"axis": axis, "coerce": self.opset < 13})
        if ctx.node.output[0] not in self.output_names or self._used(ctx.node.output[0]):
            raise UnsupportedOperator("Softmax", n.name, ctx.index,
                                      "only as the final node (it runs on the host)")

    def _used(self, tensor: str) -> bool:
        return any(tensor in n.input for n in self.model.graph.node)


class _Ctx:
    """One ONNX node being translated: its attributes, inputs and error helpers."""

    def __init__(self, imp: _Importer, node: Any, index: int, name: str, attrs: dict[str, Any],
                 vals: list[Any]) -> None:
        self.imp, self.node, self.index, self.name = imp, node, index, name
        self.attrs, self.vals = attrs, vals

    def refuse(self, reason: str) -> None:
        raise UnsupportedOperator(self.node.op_type, self.name, self.index, reason)

    def has(self, i: int) -> bool:
        return i < len(self.vals) and self.vals[i] is not None

    def tensor(self, i: int) -> Tensor:
        v = self.vals[i] if i < len(self.vals) else None
        if not isinstance(v, Tensor):
            self.refuse(f"input {i} must be a tensor computed by the network")
        return v  # type: ignore[return-value]

    def const(self, i: int, what: str) -> np.ndarray:
        v = self.vals[i] if i < len(self.vals) else None
        if not isinstance(v, np.ndarray):
            self.refuse(f"its {what} (input {i}) must be a constant")
        return v  # type: ignore[return-value]

    def check_dilations(self) -> None:
        d = self.attrs.get("dilations")
        if d is not None and any(int(v) != 1 for v in d):
            self.refuse(f"dilations {list(d)} (only 1)")

    def strides(self) -> tuple[int, int]:
        s = tuple(int(v) for v in self.attrs.get("strides", (1, 1)))
        if len(s) != 2 or min(s) < 1:
            self.refuse(f"strides {s}")
        return s  # type: ignore[return-value]

    def pads(self, shape: tuple[int, ...], k: tuple[int, int], stride: tuple[int, int]
             ) -> tuple[int, int, int, int]:
        auto = self.attrs.get("auto_pad", "NOTSET")
        if auto not in AUTO_PADS:
            self.refuse(f"auto_pad {auto!r}")
        if auto == "VALID":
            return (0, 0, 0, 0)
        if auto.startswith("SAME"):
            out = []
            for size, kk, s in zip(shape[2:], k, stride, strict=True):
                total = max((-(-size // s) - 1) * s + kk - size, 0)
                lo = total // 2 if auto == "SAME_UPPER" else total - total // 2
                out.append((lo, total - lo))
            (pt, pb), (pl, pr) = out
            return (pt, pl, pb, pr)
        p = [int(v) for v in self.attrs.get("pads", (0, 0, 0, 0))]
        if len(p) != 4 or min(p) < 0:
            self.refuse(f"pads {p}")
        return (p[0], p[1], p[2], p[3])  # ONNX: (top, left, bottom, right)


# -------------------------------------------------------------------- constants


def _per_channel(c: np.ndarray, shape: tuple[int, ...]) -> np.ndarray | None:
    """The per-channel vector of a constant broadcast over a tensor, if it is one."""
    c = np.asarray(c)
    if c.ndim > len(shape):
        return None
    full = (1,) * (len(shape) - c.ndim) + c.shape
    ch = shape[1]
    if any(d != 1 for i, d in enumerate(full) if i != 1) or full[1] not in (1, ch):
        return None
    return np.broadcast_to(c.reshape(full[1]), (ch,)).copy()


def _reshape_target(shape: tuple[int, ...], target: np.ndarray, allowzero: bool
                    ) -> list[int] | None:
    out = [int(t) for t in target]
    for i, t in enumerate(out):
        if t == 0 and not allowzero:
            if i >= len(shape):
                return None
            out[i] = shape[i]
    size = int(np.prod(shape))
    if out.count(-1) > 1:
        return None
    if -1 in out:
        rest = int(np.prod([t for t in out if t != -1])) or 1
        if size % rest:
            return None
        out[out.index(-1)] = size // rest
    if int(np.prod(out)) != size:
        return None
    return out


def _fold(op: str, a: dict[str, Any], vals: list[np.ndarray | None], opset: int
          ) -> list[np.ndarray]:
    """Evaluate a node whose inputs are all constants (numpy, ONNX semantics)."""
    x = vals[0] if vals else None
    if op == "Constant":
        for key in ("value", "value_float", "value_int", "value_floats", "value_ints"):
            if key in a:
                v = np.asarray(a[key])
                if key in ("value_float", "value_floats"):
                    v = v.astype(np.float32)
                elif key in ("value_int", "value_ints"):
                    v = v.astype(np.int64)
                return [v]
        raise ValueError(f"no supported value attribute in {sorted(a)}")
    if op == "ConstantOfShape":
        value = np.asarray(a.get("value", np.zeros(1, np.float32)))
        # a read-only view: the light models' weights (VGG-19: 144 M values) cost nothing
        # until they are quantized
        return [np.broadcast_to(value.reshape(-1)[:1].reshape(()),
                                tuple(int(d) for d in x.reshape(-1)))]
    if op == "Shape":
        return [np.array(x.shape, np.int64)]
    if op in ("Unsqueeze", "Squeeze"):
        axes = a.get("axes")
        if axes is None and len(vals) > 1 and vals[1] is not None:
            axes = [int(v) for v in vals[1].reshape(-1)]
        if op == "Unsqueeze":
            out = x
            rank = x.ndim + len(axes)
            for ax in sorted(int(v) % rank for v in axes):
                out = np.expand_dims(out, ax)
            return [out]
        if axes is None:
            return [np.squeeze(x)]
        return [np.squeeze(x, axis=tuple(int(v) % x.ndim for v in axes))]
    if op == "Reshape":
        shape = _reshape_target(x.shape, vals[1].astype(np.int64).reshape(-1),
                                bool(a.get("allowzero", 0)))
        if shape is None:
            raise ValueError(f"cannot reshape {x.shape} to {vals[1].tolist()}")
        return [x.reshape(shape)]
    if op == "Flatten":
        axis = int(a.get("axis", 1)) % max(1, x.ndim)
        return [x.reshape(int(np.prod(x.shape[:axis])), -1)]
    if op == "Cast":
        from onnx import helper

        return [x.astype(helper.tensor_dtype_to_np_dtype(int(a["to"])))]
    if op == "Gather":
        return [np.take(x, vals[1].astype(np.int64), axis=int(a.get("axis", 0)))]
    if op == "Concat":
        return [np.concatenate([v for v in vals if v is not None], axis=int(a["axis"]))]
    if op == "Identity":
        return [x]
    if op == "Sqrt":
        return [np.sqrt(x)]
    y = vals[1]
    if op == "Add":
        return [(x + y).astype(np.result_type(x, y))]
    if op == "Sub":
        return [(x - y).astype(np.result_type(x, y))]
    if op == "Mul":
        return [(x * y).astype(np.result_type(x, y))]
    if op == "Div":
        if x.dtype.kind in "iu":
            return [np.trunc(x / y).astype(x.dtype)]
        return [(x / y).astype(np.result_type(x, y))]
    raise ValueError(f"no folding rule for {op}")


# -------------------------------------------------------------------- fusion


def _fuse(g: Graph) -> None:
    """Merge nodes until nothing changes: affine into the MAC node before it, ReLU/Clip
    into their producer, a Flatten into the Gemm after it, no-op 1-input adds away."""
    changed = True
    while changed:
        changed = False
        for n in list(g.nodes):
            if n not in g.nodes:
                continue
            if _fuse_into_producer(g, n) or _absorb_flatten(g, n) or _drop_noop(g, n):
                changed = True


def _sole_consumer(g: Graph, tensor: str) -> bool:
    return tensor not in g.outputs and len(g.consumers(tensor)) == 1


def _fuse_into_producer(g: Graph, n: Node) -> bool:
    if len(n.inputs) != 1:
        return False
    p = g.producer(n.inputs[0])
    if p is None or not _sole_consumer(g, p.output):
        return False
    if n.op == "affine" and p.op in MAC_OPS and not p.attrs.get("relu") and \
            p.attrs.get("clip") is None:
        s = n.params["w"].reshape(-1).astype(np.float64)
        p.params["w"] = (p.params["w"] * s[:, None, None, None]).astype(np.float32)
        p.params["b"] = (p.params["b"] * s + n.params["b"]).astype(np.float32)
    elif n.op == "add" and p.op in (*MAC_OPS, "add") and _is_act_only(n):
        relu = p.attrs.get("relu", False) or n.attrs.get("relu", False)
        clips = [c for c in (p.attrs.get("clip"), n.attrs.get("clip")) if c is not None]
        p.attrs["relu"] = relu
        if clips:
            p.attrs["clip"] = min(clips)
    else:
        return False
    _merge(g, p, n)
    return True


def _is_act_only(n: Node) -> bool:
    return n.op == "add" and len(n.inputs) == 1 and set(n.attrs) <= {"relu", "clip"}


def _merge(g: Graph, p: Node, n: Node) -> None:
    """n (the only consumer of p) disappears into p, which now writes n's output."""
    del g.tensors[p.output]
    p.output = n.output
    p.source = f"{p.source}+{n.source}"
    g.nodes.remove(n)


def _absorb_flatten(g: Graph, n: Node) -> bool:
    """Flatten -> Gemm becomes a Gemm whose kernel covers the whole (C, H, W) input."""
    if n.op != "gemm":
        return False
    f = g.producer(n.inputs[0])
    if f is None or f.op != "flatten":
        return False
    _, c, h, w = g.tensors[f.inputs[0]].nchw
    wt = n.params["w"]
    n.params["w"] = wt.reshape(wt.shape[0], c, h, w)
    n.inputs = [f.inputs[0]]
    n.source = f"{f.source}+{n.source}"
    if not g.consumers(f.output) and f.output not in g.outputs:
        g.nodes.remove(f)
        del g.tensors[f.output]
    return True


def _drop_noop(g: Graph, n: Node) -> bool:
    if not (n.op == "add" and len(n.inputs) == 1 and not n.attrs.get("relu")
            and n.attrs.get("clip") is None) or n.output in g.outputs:
        return False
    src = n.inputs[0]
    for m in g.nodes:
        m.inputs = [src if t == n.output else t for t in m.inputs]
    g.nodes.remove(n)
    del g.tensors[n.output]
    return True


def _prune(g: Graph) -> None:
    """Drop nodes whose results no output needs."""
    need = set(g.outputs)
    keep = []
    for n in reversed(g.nodes):
        if n.output in need:
            keep.append(n)
            need.update(n.inputs)
    g.nodes = keep[::-1]
    live = need | {g.input}
    g.tensors = {k: v for k, v in g.tensors.items() if k in live}
