"""The network as the array sees it: a small typed graph of tensors and nodes.

Every tensor has a static shape, ``(N, C, H, W)`` for feature maps or ``(N, F)`` for the
outputs of fully connected layers (stored like ``(N, F, 1, 1)``). Nodes are in
topological order; each writes one tensor. The operators are the ones the kernels run:

* ``conv``: Conv (BatchNormalization and per-channel Mul/Add folded in); attrs ``stride
  pads groups relu clip``, params ``w`` (K, C/groups, kh, kw) and ``b`` (K,).
* ``gemm``: Gemm / MatMul, a conv whose kernel covers its whole input: a Flatten before it
  is absorbed (the weights' (C, H, W) order is the kernel's). Output (N, K).
* ``affine``: per-channel ``x * scale + bias`` not after a conv: a depthwise 1x1 conv.
* ``maxpool``, ``avgpool``: ``kernel stride pads count_include_pad``; padding is not data
  (max ignores it, average divides by the window or by the cells inside the input).
* ``add``: Add / Sum of one or more tensors, ``relu clip``; with one input it is a ReLU
  or a width/format conversion on its own.
* ``concat``: over channels.
* ``flatten``: to (N, C*H*W) in (C, H, W) order; only as a view of an output.
* ``softmax``: the final softmax, run on the host.

``pads`` are ``(top, left, bottom, right)``; ``clip`` is the upper bound of a fused
``Clip(0, clip)`` (its lower bound makes ``relu`` true).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MAC_OPS = ("conv", "gemm", "affine")
POOL_OPS = ("maxpool", "avgpool")
OPS = (*MAC_OPS, *POOL_OPS, "add", "concat", "flatten", "softmax")
HOST_OPS = ("softmax",)  # what runs on the host, after the array's output is read


class GraphError(ValueError):
    """A graph that is not well formed (shapes, order, attributes)."""


@dataclass
class Tensor:
    name: str
    shape: tuple[int, ...]

    @property
    def nchw(self) -> tuple[int, int, int, int]:
        """The shape as a feature map: ``(N, F)`` is ``(N, F, 1, 1)``."""
        return as_nchw(self.shape)


def as_nchw(shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    if len(shape) == 4:
        return (int(shape[0]), int(shape[1]), int(shape[2]), int(shape[3]))
    if len(shape) == 2:
        return (int(shape[0]), int(shape[1]), 1, 1)
    raise GraphError(f"tensor shapes are (N, C, H, W) or (N, F), got {shape}")


@dataclass
class Node:
    name: str
    op: str
    inputs: list[str]
    output: str
    attrs: dict[str, Any] = field(default_factory=dict)
    params: dict[str, np.ndarray] = field(default_factory=dict)
    source: str = ""  # the ONNX operators folded into it, e.g. "Conv+BatchNormalization+Relu"

    @property
    def is_mac(self) -> bool:
        return self.op in MAC_OPS

    def act_bounds(self) -> tuple[bool, float | None]:
        return bool(self.attrs.get("relu", False)), self.attrs.get("clip")


@dataclass
class Graph:
    """Tensors by name, nodes in topological order, one input, one or more outputs."""

    name: str
    input: str
    outputs: list[str]
    tensors: dict[str, Tensor]
    nodes: list[Node]
    notes: list[str] = field(default_factory=list)
    output_names: list[str] = field(default_factory=list)  # the model's names of `outputs`

    def __post_init__(self) -> None:
        if not self.output_names:
            self.output_names = list(self.outputs)

    def producer(self, tensor: str) -> Node | None:
        return self._producers().get(tensor)

    def consumers(self, tensor: str) -> list[Node]:
        return [n for n in self.nodes if tensor in n.inputs]

    def _producers(self) -> dict[str, Node]:
        return {n.output: n for n in self.nodes}

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def mac_nodes(self) -> list[Node]:
        return [n for n in self.nodes if n.is_mac]

    def array_nodes(self) -> list[Node]:
        """Nodes the array runs (everything but the host's final softmax)."""
        return [n for n in self.nodes if n.op not in HOST_OPS]

    def array_outputs(self) -> list[str]:
        """The tensors the host reads: the graph's outputs, or the inputs of host nodes."""
        host = {n.output: n for n in self.nodes if n.op in HOST_OPS}
        return [host[t].inputs[0] if t in host else t for t in self.outputs]

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def check(self) -> None:
        """Topological order, one producer per tensor, shapes as inferred: else GraphError."""
        known = {self.input}
        if self.input not in self.tensors:
            raise GraphError(f"input {self.input!r} has no shape")
        names = set()
        for i, n in enumerate(self.nodes):
            if n.op not in OPS:
                raise GraphError(f"node {i} ({n.name}): unknown op {n.op!r}")
            if n.name in names:
                raise GraphError(f"node {i}: duplicate name {n.name!r}")
            names.add(n.name)
            for t in n.inputs:
                if t not in known:
                    raise GraphError(f"node {i} ({n.name}) reads {t!r} before it is written")
            if n.output in known:
                raise GraphError(f"node {i} ({n.name}) writes {n.output!r} a second time")
            shape = infer_shape(n, [self.tensors[t].shape for t in n.inputs])
            if self.tensors[n.output].shape != shape:
                raise GraphError(f"node {i} ({n.name}): output shape "
                                 f"{self.tensors[n.output].shape}, inferred {shape}")
            known.add(n.output)
        for t in self.outputs:
            if t not in known:
                raise GraphError(f"output {t!r} is never written")
        for i, n in enumerate(self.nodes):
            if n.op in HOST_OPS and (n.output not in self.outputs or self.consumers(n.output)):
                raise GraphError(f"node {i} ({n.name}): {n.op} runs on the host, so only as "
                                 "a final node whose output is a graph output")

    def summary(self) -> str:
        lines = [f"graph {self.name}: input {self.input} {self.tensors[self.input].shape}"]
        for n in self.nodes:
            extra = ""
            if n.is_mac:
                w = n.params["w"]
                extra = (f" w{tuple(w.shape)} s{n.attrs['stride']} p{n.attrs['pads']}"
                         f" g{n.attrs['groups']}" + (" relu" if n.attrs.get("relu") else ""))
            lines.append(f"  {n.name:<24} {n.op:<8} {','.join(n.inputs)} -> {n.output} "
                         f"{self.tensors[n.output].shape}{extra}")
        return "\n".join(lines)


def conv_out(size: int, k: int, stride: int, lo: int, hi: int) -> int:
    return (size + lo + hi - k) // stride + 1


def infer_shape(node: Node, shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
    """The output shape of ``node`` for these input shapes (GraphError if they do not fit)."""
    op, a = node.op, node.attrs
    where = f"{node.name} ({op})"
    if op in MAC_OPS:
        if len(shapes) != 1:
            raise GraphError(f"{where}: one input, got {len(shapes)}")
        n, c, h, w = as_nchw(shapes[0])
        wt = node.params["w"]
        k, cg, kh, kw = wt.shape
        g = a["groups"]
        sh, sw = a["stride"]
        pt, pl, pb, pr = a["pads"]
        if c != cg * g or k % g:
            raise GraphError(f"{where}: weights {tuple(wt.shape)} with {g} groups do not fit "
                             f"{c} input channels")
        if node.params["b"].shape != (k,):
            raise GraphError(f"{where}: bias shape {node.params['b'].shape}, expected ({k},)")
        ho, wo = conv_out(h, kh, sh, pt, pb), conv_out(w, kw, sw, pl, pr)
        if ho < 1 or wo < 1:
            raise GraphError(f"{where}: kernel {kh}x{kw} larger than the padded input")
        if op == "gemm" or len(shapes[0]) == 2:
            if (ho, wo) != (1, 1):
                raise GraphError(f"{where}: a fully connected layer covers its whole input")
            return (n, k)
        return (n, k, ho, wo)
    if op in POOL_OPS:
        n, c, h, w = as_nchw(shapes[0])
        kh, kw = a["kernel"]
        sh, sw = a["stride"]
        pt, pl, pb, pr = a["pads"]
        if max(pt, pb) >= kh or max(pl, pr) >= kw:
            raise GraphError(f"{where}: padding {a['pads']} as large as the window {kh}x{kw}")
        ho, wo = conv_out(h, kh, sh, pt, pb), conv_out(w, kw, sw, pl, pr)
        if ho < 1 or wo < 1:
            raise GraphError(f"{where}: window {kh}x{kw} larger than the padded input")
        return (n, c, ho, wo)
    if op == "add":
        if not shapes or any(s != shapes[0] for s in shapes):
            raise GraphError(f"{where}: inputs of the same shape, got {shapes}")
        return shapes[0]
    if op == "concat":
        if not shapes:
            raise GraphError(f"{where}: no inputs")
        maps = [as_nchw(s) for s in shapes]
        rest = {(m[0], m[2], m[3]) for m in maps}
        if len(rest) != 1 or len({len(s) for s in shapes}) != 1:
            raise GraphError(f"{where}: channel concat of {shapes}: other dimensions differ")
        c = sum(m[1] for m in maps)
        return (maps[0][0], c, maps[0][2], maps[0][3]) if len(shapes[0]) == 4 else (maps[0][0], c)
    if op == "flatten":
        n, c, h, w = as_nchw(shapes[0])
        return (n, c * h * w)
    if op == "softmax":
        return shapes[0]
    raise GraphError(f"{where}: unknown op")


def topological(nodes: list[Node], inputs: set[str]) -> list[Node]:
    """Nodes ordered so that every input is written before it is read; stable (a list
    already in order comes back unchanged)."""
    known = set(inputs)
    left = list(nodes)
    out: list[Node] = []
    while left:
        rest = []
        for n in left:
            if all(t in known for t in n.inputs):
                out.append(n)
                known.add(n.output)
            else:
                rest.append(n)
        if len(rest) == len(left):
            missing = sorted({t for n in rest for t in n.inputs if t not in known})
            raise GraphError(f"the graph has a cycle or reads undefined tensors: {missing[:5]}")
        left = rest
    return out


def mac_params(node: Node) -> tuple[int, int, int, int, int]:
    """(K, C per group, kh, kw, groups) of a conv / gemm / affine node."""
    k, cg, kh, kw = node.params["w"].shape
    return k, cg, kh, kw, node.attrs["groups"]


def macs(node: Node, shapes: dict[str, tuple[int, ...]]) -> int:
    """Useful multiply-accumulates of a MAC node (all images)."""
    if not node.is_mac:
        return 0
    n, k, ho, wo = as_nchw(shapes[node.output])
    _, cg, kh, kw, _ = mac_params(node)
    return n * k * ho * wo * cg * kh * kw
