"""The GM memory plan of a compiled network (docs/network.md section 1).

    gm_base: activation buffers | scratch (int32 partial sums) | parameter image
                                                                  (weights, biases, descriptors)

* Every tensor the array touches has a **place**: channels last, packed, with the zero
  border its consumers need (the largest padding of any conv that reads it; pooling and
  element-wise kernels clip and need none).
* A Concat costs nothing: its inputs' producers write straight into channel slices of its
  buffer (concats of concats nest). A tensor that cannot be a slice (the network's input,
  an output, a tensor in two concats, or twice in one) gets a copy: an ``add`` with one
  input, which the integer reference computes too.
* A Flatten is a view of its input's place.
* The outputs the host reads have no border and no slice: it reads them whole, once.
* Scratch is one region, as large as the largest layer needs (launches run one at a
  time).

Nothing is reused between activations: each tensor keeps its buffer, so a run can be
inspected after it. GM is sized to the plan (``gm_size`` is a machine parameter).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from pearray import quant

from .graph import Node, Tensor, as_nchw
from .quantize import QGraph, QNode, QTensor

ALIGN = 64


def align(v: int, a: int = ALIGN) -> int:
    return -(-v // a) * a


@dataclass
class Region:
    addr: int
    nbytes: int
    what: str


@dataclass
class Plan:
    """Addresses of everything in GM; filled by `layout` (activations) and the compiler
    (scratch, parameter image)."""

    gm_base: int
    places: dict = field(default_factory=dict)  # tensor -> kernels.place.Place
    buffers: list[Region] = field(default_factory=list)  # activation buffers
    scratch: Region | None = None
    params: Region | None = None
    top: int = 0  # bytes used from gm_base

    def alloc(self, nbytes: int, what: str) -> Region:
        r = Region(self.gm_base + self.top, int(nbytes), what)
        self.top += align(max(int(nbytes), 4))
        return r

    @property
    def gm_size(self) -> int:
        """The GM this plan needs (a multiple of 64 bytes)."""
        return align(max(self.top, ALIGN))

    @property
    def activation_bytes(self) -> int:
        return sum(r.nbytes for r in self.buffers)

    def summary(self) -> dict[str, int]:
        return {"gm_bytes": self.gm_size, "activation_bytes": self.activation_bytes,
                "scratch_bytes": self.scratch.nbytes if self.scratch else 0,
                "parameter_bytes": self.params.nbytes if self.params else 0}


# -------------------------------------------------------------------- lowering


def lower(q: QGraph) -> QGraph:
    """The QGraph with copies where a tensor cannot live as a concat slice or where an
    output needs a plain buffer (see the module docstring). Formats are unchanged."""
    q = copy.copy(q)
    g = copy.copy(q.graph)
    g.tensors, g.outputs, g.notes = dict(g.tensors), list(g.outputs), list(g.notes)
    g.nodes = [copy.copy(n) for n in g.nodes]
    for n in g.nodes:
        n.inputs = list(n.inputs)
    q.graph, q.tensors = g, dict(q.tensors)
    qmap = {qn.node.name: copy.copy(qn) for qn in q.nodes}
    for n in g.array_nodes():
        qmap[n.name].node = n
    outs = set(g.array_outputs())
    in_concat: set[str] = set()
    for n in list(g.nodes):
        if n.op != "concat":
            continue
        for i, t in enumerate(list(n.inputs)):
            p = g.producer(t)
            if (t == g.input or t in outs or t in in_concat or n.inputs.index(t) != i
                    or p is None or p.op == "flatten" or _int32(qmap, p)):
                dst = f"{t}@copy{i}_{n.name}"
                _add_copy(q, qmap, t, dst, f"copy_{t}_to_{n.name}_{i}", g.nodes.index(n))
                n.inputs[i] = dst
            else:
                in_concat.add(t)
    for t in sorted(outs):  # the host reads outputs' rows: no slice of a wider buffer
        if t in in_concat or t == g.input:
            dst = f"{t}@out"
            host = [i for i, n in enumerate(g.nodes) if n.op not in ARRAY_OK]
            _add_copy(q, qmap, t, dst, f"copy_{t}_out", host[0] if host else len(g.nodes))
            for n in g.nodes:
                if n.op not in ARRAY_OK:
                    n.inputs = [dst if x == t else x for x in n.inputs]
            g.outputs = [dst if o == t else o for o in g.outputs]
            g.notes.append(f"output {t} copied to a plain buffer for the host to read")
    q.nodes = [qmap[n.name] for n in g.array_nodes()]
    return q


ARRAY_OK = ("conv", "gemm", "affine", "maxpool", "avgpool", "add", "concat", "flatten")


def _int32(qmap: dict[str, QNode], p: Node) -> bool:
    return p.is_mac and qmap[p.name].shift is None


def _add_copy(q: QGraph, qmap: dict[str, QNode], src: str, dst: str, name: str,
              at: int) -> None:
    """A copy node src -> dst (same width and format) inserted at node index `at`."""
    t = q.tensors[src]
    q.graph.tensors[dst] = Tensor(dst, q.graph.tensors[src].shape)
    q.tensors[dst] = QTensor(dst, t.bits, t.fl)
    node = Node(name, "add", [src], dst, {"relu": False, "clip": None}, {}, "copy")
    lo, hi = quant.int_range(t.bits)
    qmap[name] = QNode(node, t.bits, t.bits, shift=0, lo=lo, hi=hi, align=[0])
    q.graph.nodes.insert(at, node)


# -------------------------------------------------------------------- places


def layout(q: QGraph, gm_base: int) -> Plan:
    """Places and addresses of every tensor of a lowered QGraph (`lower`)."""
    from pearray.kernels.place import Place

    g = q.graph
    nodes = g.array_nodes()
    parent: dict[str, tuple[str, int]] = {}  # tensor -> (concat output, channel offset)
    view: dict[str, str] = {}  # flatten output -> its input
    for n in nodes:
        if n.op == "concat":
            off = 0
            for t in n.inputs:
                parent[t] = (n.output, off)
                off += as_nchw(g.tensors[t].shape)[1]
        elif n.op == "flatten":
            view[n.output] = n.inputs[0]

    def root(t: str) -> tuple[str, int]:
        off = 0
        while t in parent:
            t, o = parent[t]
            off += o
        return t, off

    border: dict[str, list[int]] = {}
    tensors = [g.input] + [n.output for n in nodes]
    for t in tensors:
        base = view.get(t, t)
        r, _ = root(base)
        b = border.setdefault(r, [0, 0, 0, 0])
        for c in g.consumers(t):
            if c.is_mac:
                b[:] = [max(u, v) for u, v in zip(b, c.attrs["pads"], strict=True)]
    plan = Plan(gm_base)
    roots: dict[str, Place] = {}
    for t in tensors:
        if t in view:
            continue
        r, _ = root(t)
        if r in roots or r != t:
            continue
        n_, c, h, w = as_nchw(g.tensors[r].shape)
        bits = q.tensors[r].bits
        p0 = Place(0, n_, h, w, c, bits, tuple(border.get(r, (0, 0, 0, 0))))
        reg = plan.alloc(p0.nbytes, r)
        plan.buffers.append(reg)
        roots[r] = p0.with_addr(reg.addr)
    for t in tensors:
        base = view.get(t, t)
        r, off = root(base)
        rp = roots[r]
        n_, c, h, w = as_nchw(g.tensors[base].shape)
        if q.tensors[base].bits != rp.bits:
            raise ValueError(f"{base} ({q.tensors[base].bits} bits) is a slice of {r} "
                             f"({rp.bits} bits)")
        plan.places[t] = Place(rp.addr, n_, h, w, c, rp.bits, rp.pad, rp.c, off)
    return plan


def host_runs(place) -> list[tuple[int, int]]:  # noqa: ANN001
    """(address, bytes) of the runs holding a place's values, border excluded: one per
    image when rows have no left/right border, else one per row. What the host writes
    (the input) or reads (an output), so its traffic is the values and nothing else."""
    if place.c != place.c_total:
        raise ValueError("the host moves whole tensors, not channel slices")
    pt, pl, pb, pr = place.pad
    if pl == 0 and pr == 0:
        return [(place.pixel_addr(i, 0, 0), place.h * place.rs) for i in range(place.n)]
    return [(place.pixel_addr(i, y, 0), place.w * place.ps) for i in range(place.n)
            for y in range(place.h)]


def value_bytes(place) -> int:  # noqa: ANN001
    """Bytes of a place's values without its border (what the host moves for it)."""
    return place.n * place.h * place.w * place.ps


def pack_values(place, x: np.ndarray) -> np.ndarray:  # noqa: ANN001
    """(N, C, H, W) integers -> the bytes of `host_runs`, concatenated (uint8)."""
    from pearray.kernels.place import Place, pack_place

    p = Place(0, place.n, place.h, place.w, place.c, place.bits)
    raw = pack_place(p, x)
    per = p.h * p.rs
    return raw[: p.n * p.image_stride].reshape(p.n, -1)[:, :per].reshape(-1)


def unpack_values(place, raw: np.ndarray) -> np.ndarray:  # noqa: ANN001
    """Inverse of pack_values: bytes of the runs -> (N, C, H, W) integers."""
    from pearray.kernels.place import Place, unpack_place

    p = Place(0, place.n, place.h, place.w, place.c, place.bits)
    buf = np.zeros(p.nbytes, np.uint8)
    buf[: p.n * p.image_stride].reshape(p.n, -1)[:, : p.h * p.rs] = \
        np.asarray(raw, np.uint8).reshape(p.n, -1)
    return unpack_place(p, buf)
