"""Graph -> QGraph: the paper's calibration (quant/) and the fixed-point format of every
tensor, integer weights and the shifts of every node (docs/network.md section 2).

Widths. ``bits`` is one width for all, or one per conv/gemm layer in graph order. A
layer's width is its input's and its weights'; its output's width is its consumer's. A
tensor read at two widths gets a conversion (an ``add`` with one input) for the other.
Pooling, concat, flatten, affine and add read at the width their output is written at.
A MAC node whose output only leaves the array (logits before the host's softmax, with
no ReLU) writes its int32 accumulator: no requantisation, the most precise logits.

Formats (the rules of the LeNet experiment, now per graph):
* activations: KL threshold + point-position search per tensor (``quant``), on the
  calibration batches; weights: per tensor, exact;
* biases: int32 at ``fl_in + fl_w``; a layer's output ``fl`` is at most its
  accumulator's (no left shifts); ``fit_accumulator`` lowers ``fl_w`` (then ``fl_in``) until
  the worst case over the calibration range cannot leave int32;
* max/average pooling, concat and flatten keep ``fl``: their inputs and outputs share one
  format (a concat's inputs are written into slices of its buffer);
* add: inputs aligned to the finest input ``fl`` by left shifts, the sum shifted down to
  the output's ``fl`` (at most the finest input's); coarser inputs until the aligned sum
  fits int32.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from pearray import quant

from .graph import HOST_OPS, Graph, Node, Tensor, as_nchw
from .reference import _counts, run_float

WIDTHS = (4, 8, 16, 32)
INT32_MAX = 2**31 - 1
MAX_SHIFT = 31  # the kernels' right shifts
AVG_PRECISION = 13  # bits of room a 32-bit average pool keeps for its multiplier


@dataclass
class QTensor:
    name: str
    bits: int
    fl: int


@dataclass
class QNode:
    """A node with its integer parameters (the fields its op uses)."""

    node: Node
    bits_in: int
    bits_out: int
    w: np.ndarray | None = None  # MAC: integer weights at fl_w, bits_in wide
    b: np.ndarray | None = None  # MAC: int32 bias at fl_in + fl_w
    fl_w: int = 0
    shift: int | None = None  # MAC / add: right shift of the accumulator; None: int32 out
    lo: int = 0
    hi: int = 0
    avg: dict[int, tuple[int, int]] = field(default_factory=dict)  # count -> (m, s)
    align: list[int] = field(default_factory=list)  # add: left shift of each input

    @property
    def name(self) -> str:
        return self.node.name


@dataclass
class QGraph:
    graph: Graph
    tensors: dict[str, QTensor]
    nodes: list[QNode]  # the array's nodes, in order
    rounding: str
    notes: list[str] = field(default_factory=list)
    amax: dict[str, float] = field(default_factory=dict)
    calibrator: quant.Calibrator | None = field(default=None, repr=False)
    calibration: Calibration | None = field(default=None, repr=False)

    @property
    def input(self) -> QTensor:
        return self.tensors[self.graph.input]

    @property
    def array_outputs(self) -> list[str]:
        return self.graph.array_outputs()

    def node(self, name: str) -> QNode:
        return next(q for q in self.nodes if q.name == name)

    def quantize_input(self, x: np.ndarray) -> np.ndarray:
        """Float input to integers at the input's format (round half up, as the hardware)."""
        t = self.input
        return quant.quantize(np.asarray(x, np.float32), t.bits, t.fl, rounding="nearest")

    def dequantize(self, tensor: str, q: np.ndarray) -> np.ndarray:
        return quant.dequantize(np.asarray(q).astype(np.int64), self.tensors[tensor].fl)

    def outputs_float(self, ints: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The graph's outputs (by name) from the array's integer outputs: dequantized,
        then the host nodes (the final softmax)."""
        g = self.graph
        vals = {t: self.dequantize(t, v) for t, v in ints.items()}
        for n in g.nodes:
            if n.op in HOST_OPS:
                from .reference import float_node

                x = vals[n.inputs[0]]
                vals[n.output] = float_node(n, [x], x.shape)
        return {name: vals[t] for name, t in zip(g.output_names, g.outputs, strict=True)}

    def summary(self) -> str:
        lines = []
        for q in self.nodes:
            n = q.node
            t = self.tensors[n.output]
            ins = ",".join(f"{i}:{self.tensors[i].bits}b/fl{self.tensors[i].fl}"
                           for i in n.inputs)
            extra = f" fl_w={q.fl_w} shift={q.shift}" if n.is_mac else ""
            lines.append(f"{n.name:<20} {n.op:<8} {ins} -> {t.bits}b/fl{t.fl}{extra}")
        return "\n".join(lines)


def parse_bits(text: str) -> list[int]:
    """``"8"`` or ``"8,16,8"`` -> widths (ValueError on anything else)."""
    try:
        out = [int(v) for v in str(text).split(",")]
    except ValueError:
        raise ValueError(f"--bits {text!r}: one width or a comma list of widths from "
                         f"{'/'.join(map(str, WIDTHS))}") from None
    bad = [b for b in out if b not in WIDTHS]
    if bad or not out:
        raise ValueError(f"--bits {text!r}: widths are {'/'.join(map(str, WIDTHS))}")
    return out


METHODS = ("kl", "max")  # thresholds of activations and weights
SPAN = "span"  # a point search reaching the max's position (see point_position)


def point_position(x: np.ndarray | quant.AbsHistogram, bits: int, method: str = "kl",
                   search: int | str = 1) -> int:
    """A tensor's point position from its threshold (``method``) and the point search.

    ``search`` is ``quant``'s: the positions ``fl0 - search .. fl0`` (coarser than the
    threshold's ``fl0``) scored by their mean squared error, 0 for none; or ``"span"``:
    a window either side of ``fl0`` wide enough to reach the position of max|x| (at
    least one step), clipping allowed, so the search can undo a threshold that clips
    far too much (KL's with 8 levels at 4 bits) or clip a long tail the max keeps."""
    if search != SPAN:
        return quant.point_position(x, bits, method, search=int(search))
    fl0 = quant.point_position(x, bits, method, search=0)
    fl_max = quant.point_position(x, bits, "max", search=0)
    return quant.point_position(x, bits, method, search=max(1, abs(fl0 - fl_max)),
                                allow_clip=True)


@dataclass
class Calibration:
    """The float pass over the calibration data (a histogram of every tensor) and the
    point positions chosen from it, kept so that quantizing the same graph at other
    widths or with other methods repeats neither (the width search quantizes often)."""

    calibrator: quant.Calibrator
    positions: dict[tuple, int] = field(default_factory=dict)

    def histogram(self, t: str) -> quant.AbsHistogram:
        """A tensor's histogram (a conversion ``t@8b`` has its source's values)."""
        return self.calibrator.histogram(t.split("@")[0])

    def position(self, t: str, bits: int, method: str, search: int | str) -> int:
        """An activation's point position (from its histogram)."""
        k = (t.split("@")[0], bits, method, search)
        if k not in self.positions:
            self.positions[k] = point_position(self.histogram(t), bits, method, search)
        return self.positions[k]

    def weight_position(self, n: Node, bits: int, method: str, search: int | str) -> int:
        """A MAC node's weights' point position (``weight_fl``)."""
        k = (n.name, "w", bits, method, search)
        if k not in self.positions:
            self.positions[k] = weight_fl(n.params["w"], bits, method, search)
        return self.positions[k]


def calibrate(g: Graph, calib: np.ndarray | Iterable[np.ndarray], batch: int = 64
              ) -> Calibration:
    """The float pass of ``g`` over ``calib`` (an array of inputs, or batches)."""
    cal = quant.Calibrator()
    for xb in _batches(calib, batch):
        run_float(g, xb, observe=cal.observe)
    if not cal.names:
        raise ValueError("calibration: no inputs")
    return Calibration(cal)


def quantize(g: Graph, calib: np.ndarray | Iterable[np.ndarray] | None,
             bits: int | Sequence[int] = 8, *, rounding: str = "nearest", seed: int = 0,
             method: str = "kl", search: int | str = 1, batch: int = 64,
             calibration: Calibration | None = None, weight_method: str | None = None
             ) -> QGraph:
    """Calibrate on ``calib`` (an array of inputs, or an iterable of batches) and choose
    every format. ``rounding`` is how weights are quantized and results requantised;
    ``method`` the thresholds of activations ("kl" or "max") and, unless
    ``weight_method`` says otherwise, of weights; ``search`` the point search
    (``point_position``). ``calibration`` (a QGraph's ``.calibration``, of the same graph
    and data) skips the float pass and reuses its positions."""
    if rounding not in quant.rounding.ROUNDINGS:
        raise ValueError(f"rounding must be one of {quant.rounding.ROUNDINGS}")
    wmethod = method if weight_method is None else weight_method
    for m in (method, wmethod):
        if m not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, not {m!r}")
    if search != SPAN and (isinstance(search, bool) or not isinstance(search, int | np.integer)
                           or search < 0):
        raise ValueError(f"search must be a count of positions or {SPAN!r}, not {search!r}")
    widths = [bits] if isinstance(bits, int | np.integer) else list(bits)
    if not widths or any(b not in WIDTHS for b in widths):
        raise ValueError(f"widths are {'/'.join(map(str, WIDTHS))}, got {widths}")
    cal = calibration if calibration is not None else calibrate(g, calib, batch)
    g = _copy(g)
    tbits = _assign_widths(g, [int(b) for b in widths])
    amax = {t: cal.histogram(t).amax for t in tbits}
    # an all-zero tensor (a ReLU that never fired on the calibration data) takes the
    # format of the range [-1, 1): any fl holds it, and this one keeps shifts small
    fl = {t: cal.position(t, tbits[t], method, search) if amax[t] > 0
          else tbits[t] - 1 for t in tbits if t not in _int32_outputs(g)}
    rng = np.random.default_rng(seed)
    q = _Formats(g, tbits, fl, amax, rounding, rng,
                 lambda n, b: cal.weight_position(n, b, wmethod, search)).solve()
    q.amax, q.calibrator, q.calibration = amax, cal.calibrator, cal
    return q


def layer_widths(g: Graph, bits: int | Sequence[int]) -> dict[str, tuple[int, int]]:
    """(input bits, output bits) of every array node at these widths, conversions
    included: what the kernels' cycles depend on, without calibrating anything."""
    widths = [bits] if isinstance(bits, int | np.integer) else list(bits)
    g = _copy(g)
    tbits = _assign_widths(g, [int(b) for b in widths])
    return {n.name: (tbits[n.inputs[0]], tbits[n.output]) for n in g.array_nodes()}


def _copy(g: Graph) -> Graph:
    nodes = [copy.copy(n) for n in g.nodes]
    for n in nodes:
        n.inputs, n.attrs = list(n.inputs), dict(n.attrs)
    return Graph(g.name, g.input, list(g.outputs), dict(g.tensors), nodes, list(g.notes),
                 list(g.output_names))


def _batches(calib: np.ndarray | Iterable[np.ndarray], size: int) -> Iterable[np.ndarray]:
    if isinstance(calib, np.ndarray):
        return [calib[i:i + size] for i in range(0, len(calib), size)]
    return calib


def _array_consumers(g: Graph, t: str) -> list[Node]:
    return [c for c in g.consumers(t) if c.op not in HOST_OPS]


def _int32_outputs(g: Graph) -> set[str]:
    """MAC outputs without activation that only leave the array: kept as int32 sums."""
    outs = set(g.array_outputs())
    return {n.output for n in g.nodes if n.is_mac and n.output in outs
            and not _array_consumers(g, n.output)
            and not n.attrs.get("relu") and n.attrs.get("clip") is None}


def _slices_on_bytes(g: Graph, t: str, bits: int) -> bool:
    """Whether a concat producing t can hold its inputs as channel slices at `bits`: every
    slice starts on a whole byte (docs/network.md section 1; at 4 bits an even channel)."""
    p = g.producer(t)
    if p is None or p.op != "concat":
        return True
    offset = 0
    for x in p.inputs:
        if offset * bits % 8:
            return False
        offset += as_nchw(g.tensors[x].shape)[1]
    return True


def _assign_widths(g: Graph, widths: list[int]) -> dict[str, int]:
    """Width of every tensor (see the module docstring); inserts conversions."""
    layers = [n for n in g.nodes if n.op in ("conv", "gemm")]
    if len(widths) == 1:
        widths = widths * len(layers)
    if len(widths) != len(layers):
        raise ValueError(f"{len(widths)} widths for {len(layers)} conv/gemm layers "
                         f"({', '.join(n.name for n in layers)}): give one width or one each")
    layer_bits = {n.name: b for n, b in zip(layers, widths, strict=True)}
    default: dict[str, int] = {}
    cur = widths[0] if widths else 8
    for n in g.nodes:
        cur = layer_bits.get(n.name, cur)
        default[n.output] = cur
    int32 = _int32_outputs(g)
    bits: dict[str, int] = {}
    order = [n.output for n in reversed(g.array_nodes())] + [g.input]
    for t in order:
        if t in int32:
            bits[t] = 32
            continue
        demands = []
        for c in _array_consumers(g, t):
            want = layer_bits[c.name] if c.name in layer_bits else bits[c.output]
            demands.append((c, want))
        if not demands:
            bits[t] = default.get(t, widths[0] if widths else 8)
            continue
        first_mac = next((w for c, w in demands if c.is_mac), demands[0][1])
        if not _slices_on_bytes(g, t, first_mac):
            g.notes.append(f"{t}: a concat whose {first_mac}-bit slices would start inside a "
                           "byte is kept at 8 bits (converted for its readers)")
            first_mac = 8
        bits[t] = first_mac
        for c, want in demands:
            if want != first_mac:
                conv_t = f"{t}@{want}b"
                if conv_t not in g.tensors:
                    g.tensors[conv_t] = Tensor(conv_t, g.tensors[t].shape)
                    node = Node(f"convert_{t}_{want}b", "add", [t], conv_t, {}, {}, "convert")
                    where = g.nodes.index(c)
                    g.nodes.insert(where, node)
                    bits[conv_t] = want
                    g.notes.append(f"{t} is read at {first_mac} and {want} bits: "
                                   f"converted for {c.name}")
                c.inputs = [conv_t if i == t else i for i in c.inputs]
    return bits


class _Formats:
    """The fixed point of the formats: fl of every tensor class, fl_w of every layer."""

    def __init__(self, g: Graph, bits: dict[str, int], fl: dict[str, int],
                 amax: dict[str, float], rounding: str, rng: np.random.Generator,
                 wfl: Callable[[Node, int], int] | None = None) -> None:
        self.g, self.bits, self.amax, self.rounding, self.rng = g, bits, amax, rounding, rng
        self.int32 = _int32_outputs(g)
        self.parent = {t: t for t in bits}
        for n in g.array_nodes():  # classes of tensors that share one format
            if n.op in ("maxpool", "avgpool", "flatten", "concat"):
                for t in n.inputs:
                    self._union(t, n.output)
        self.cfl: dict[str, int] = {}
        for t, f in fl.items():
            r = self._find(t)
            self.cfl[r] = min(self.cfl.get(r, f), f)
        for t in bits:  # classes of bits
            r = self._find(t)
            if bits[t] != bits[r]:
                raise ValueError(f"{t} ({bits[t]} bits) and {r} ({bits[r]} bits) share a "
                                 "buffer or a pooling and must have one width")
        self.fl_w: dict[str, int] = {}
        self.notes: list[str] = []
        for n in g.array_nodes():
            if n.is_mac:
                self.fl_w[n.name] = wfl(n, bits[n.inputs[0]]) if wfl else \
                    weight_fl(n.params["w"], bits[n.inputs[0]])

    def _find(self, t: str) -> str:
        while self.parent[t] != t:
            self.parent[t] = self.parent[self.parent[t]]
            t = self.parent[t]
        return t

    def _union(self, a: str, b: str) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra != rb:
            self.parent[rb] = ra

    def fl(self, t: str) -> int:
        return self.cfl[self._find(t)]

    def lower(self, t: str, to: int, why: str) -> bool:
        r = self._find(t)
        if self.cfl[r] > to:
            self.notes.append(f"{t}: fl {self.cfl[r]} -> {to} ({why})")
            self.cfl[r] = to
            return True
        return False

    def xmax(self, t: str, fl: int | None = None) -> float:
        """Largest |integer| of tensor t at fl over the calibration range (saturated)."""
        f = self.fl(t) if fl is None else fl
        hi = (1 << (self.bits[t] - 1)) - 1
        return float(min(hi, math.ceil(self.amax.get(t, 0.0) * 2.0**f)))

    def acc_fl(self, n: Node) -> int:
        return self.fl(n.inputs[0]) + self.fl_w[n.name]

    def solve(self) -> QGraph:
        for _ in range(1000):
            if not any([self._step(n) for n in self.g.array_nodes()]):
                break
        else:
            raise RuntimeError("formats did not settle")  # cannot happen: fl only falls
        return self._build()

    def _step(self, n: Node) -> bool:
        """Enforce one node's constraints; True if any fl moved."""
        changed = False
        if n.is_mac:
            t_in = n.inputs[0]
            fi, fw = self.fl(t_in), self.fl_w[n.name]
            fi2, fw2 = fit_accumulator(n.params["w"], n.params["b"], self.bits[t_in], fi, fw,
                                       self.amax.get(t_in, 0.0))
            if fw2 != fw:
                self.notes.append(f"{n.name}: fl_w {fw} -> {fw2} so the int32 accumulator "
                                  "cannot overflow")
                self.fl_w[n.name] = fw2
                changed = True
            if fi2 != fi:
                changed |= self.lower(t_in, fi2, f"{n.name}'s int32 accumulator")
            if n.output not in self.int32:
                changed |= self.lower(n.output, self.acc_fl(n), f"at most {n.name}'s "
                                      "accumulator fl")
                excess = self.acc_fl(n) - self.fl(n.output) - MAX_SHIFT
                if excess > 0:  # the kernels shift by 0..31: a coarser accumulator loses nothing
                    self.fl_w[n.name] -= excess
                    self.notes.append(f"{n.name}: fl_w lowered by {excess} (shift <= "
                                      f"{MAX_SHIFT})")
                    changed = True
        elif n.op == "add":
            while True:
                c = max(self.fl(t) for t in n.inputs)
                total = sum(self.xmax(t) * 2.0 ** (c - self.fl(t)) for t in n.inputs)
                if total <= INT32_MAX:
                    break
                finest = max(n.inputs, key=self.fl)
                changed |= self.lower(finest, self.fl(finest) - 1,
                                      f"{n.name}'s aligned int32 sum")
            changed |= self.lower(n.output, c, f"at most {n.name}'s finest input")
            while max(self.fl(t) for t in n.inputs) - min(self.fl(t) for t in n.inputs) \
                    > MAX_SHIFT:  # alignment shifts are 0..31 too
                finest = max(n.inputs, key=self.fl)
                changed |= self.lower(finest, self.fl(finest) - 1, f"{n.name}'s alignment")
            for t in n.inputs:  # shift <= MAX_SHIFT: coarser inputs lose nothing then
                changed |= self.lower(t, self.fl(n.output) + MAX_SHIFT,
                                      f"{n.name}'s shift <= {MAX_SHIFT}")
        elif n.op == "avgpool" and self.bits[n.inputs[0]] == 32:
            # 8/16-bit sums times the multiplier fit int32 over the whole format; a 32-bit
            # tensor must leave AVG_PRECISION bits of room over the calibration range
            t = n.inputs[0]
            while self.xmax(t) > 2 ** (31 - AVG_PRECISION) and self.fl(t) > -64:
                changed |= self.lower(t, self.fl(t) - 1, f"{n.name}'s int32 window sum")
        return changed

    def _build(self) -> QGraph:
        g = self.g
        tensors = {}
        for t, b in self.bits.items():
            fl = self.fl(t) if t not in self.int32 else None
            tensors[t] = QTensor(t, b, fl if fl is not None else 0)
        for n in g.array_nodes():
            if n.output in self.int32:
                tensors[n.output].fl = self.acc_fl(n)
        nodes = []
        for n in g.array_nodes():
            nodes.append(self._qnode(n, tensors))
        return QGraph(g, tensors, nodes, self.rounding, self.g.notes + self.notes)

    def _qnode(self, n: Node, tensors: dict[str, QTensor]) -> QNode:
        t_in, t_out = tensors[n.inputs[0]], tensors[n.output]
        q = QNode(n, t_in.bits, t_out.bits)
        lo_b, hi_b = quant.int_range(t_out.bits)
        relu, clip = n.act_bounds()
        q.lo = 0 if relu else lo_b
        q.hi = hi_b if clip is None else min(hi_b, math.floor(clip * 2.0**t_out.fl))
        if n.is_mac:
            q.fl_w = self.fl_w[n.name]
            q.w = quantize_weights(n.params["w"], t_in.bits, q.fl_w, self.rounding, self.rng)
            acc = t_in.fl + q.fl_w
            q.b = quant.quantize(n.params["b"], 32, acc, rounding="nearest").astype(np.int32)
            q.shift = None if n.output in self.int32 else acc - t_out.fl
            if q.shift is None:
                q.lo, q.hi = quant.int_range(32)
        elif n.op == "add":
            c = max(tensors[t].fl for t in n.inputs)
            q.align = [c - tensors[t].fl for t in n.inputs]
            q.shift = c - t_out.fl
        elif n.op == "avgpool":
            hi = (1 << (t_in.bits - 1)) - 1
            bound = self.xmax(n.inputs[0], t_in.fl) if t_in.bits == 32 else hi
            n_, c_, h, w = as_nchw(self.g.tensors[n.inputs[0]].shape)
            counts = [int(c) for c in np.unique(_counts((n_, c_, h, w), n.attrs))]
            q.avg = avg_multipliers(counts, bound)
        return q


def avg_multipliers(counts: list[int], top: float) -> dict[int, tuple[int, int]]:
    """{count: (m, s)}: one shift s for every count (pool.s takes one), m = round(2^s /
    count), and count * top * m within int32 for each (``top``: the largest |value|)."""
    s = min(avg_multiplier(c, c * top)[1] for c in counts)
    while s > 0 and any(c * top * max(1, round(2.0**s / c)) > INT32_MAX for c in counts):
        s -= 1
    return {c: (max(1, round(2.0**s / c)), s) for c in counts}


def avg_multiplier(count: int, bound: float) -> tuple[int, int]:
    """(m, s) with m / 2**s ~ 1 / count and bound * m within int32 (``bound``: the largest
    |window sum|, ``count`` times the largest |value|: the format's at 8 and 16 bits, so no
    input can overflow; the calibration range's at 32): the largest such s."""
    s = 31
    while s > 0:
        m = max(1, round(2.0**s / count))
        if bound * m <= INT32_MAX:
            return m, s
        s -= 1
    return 1, 0  # count 1, or a bound that leaves no room (then the sum alone)


CHUNK = 1 << 22  # values per block when a big weight tensor is scanned
EXACT_WEIGHTS = 1 << 18  # weight tensors up to this size are scored exactly


def _row_blocks(w: np.ndarray) -> list[np.ndarray]:
    """A weight tensor as (rows, values) blocks of at most about CHUNK values."""
    flat = w.reshape(w.shape[0], -1)
    step = max(1, CHUNK // max(1, flat.shape[1]))
    return [flat[i:i + step] for i in range(0, len(flat), step)]


def weight_fl(w: np.ndarray, bits: int, method: str = "kl", search: int | str = 1) -> int:
    """A weight tensor's point position: exact up to EXACT_WEIGHTS values (LeNet's, most
    convs); above, from the streamed histogram (``quant``'s closed-form error of a
    histogram, as for activations), block by block: the exact error costs seconds there."""
    if not np.any(w):
        return 0
    if w.size <= EXACT_WEIGHTS:
        return point_position(w, bits, method, search)
    h = quant.AbsHistogram(2048)
    for block in _row_blocks(w):
        h.add(block)
    return point_position(h, bits, method, search)


def quantize_weights(w: np.ndarray, bits: int, fl: int, rounding: str,
                     rng: np.random.Generator) -> np.ndarray:
    """quant.quantize block by block (the same values and random stream as in one go)."""
    out = np.empty(w.shape, quant.dtype_for(bits)).reshape(w.shape[0], -1)
    r = 0
    for block in _row_blocks(w):
        out[r:r + len(block)] = quant.quantize(block, bits, fl, rounding=rounding, rng=rng)
        r += len(block)
    return out.reshape(w.shape)


def fit_accumulator(w: np.ndarray, b: np.ndarray, bits: int, fl_in: int, fl_w: int,
                    amax_in: float) -> tuple[int, int]:
    """Lower the larger of fl_w and fl_in (fl_w on a tie) until the worst-case
    accumulator over the calibration range fits in int32:

        max_k  sum_c min(|w_kc| 2^fl_w + 1, hi) * xmax + |b_k| 2^(fl_in + fl_w) + 1,
        xmax = min(hi, ceil(amax_in 2^fl_in))

    Bounds from the row sums S_k = sum_c |w_kc| decide most steps without the exact sum:
    it lies between min(S_k 2^fl_w + n, hi) and S_k 2^fl_w + n."""
    hi = (1 << (bits - 1)) - 1
    blocks = _row_blocks(w)
    s_k = np.concatenate([np.abs(blk.astype(np.float64)).sum(axis=1) for blk in blocks])
    n = w.size // w.shape[0]
    babs = np.abs(b.astype(np.float64))

    def exact(fw: int) -> np.ndarray:
        return np.concatenate([np.minimum(np.abs(blk.astype(np.float64)) * 2.0**fw + 1, hi)
                               .sum(axis=1) for blk in blocks])

    while True:
        xmax = min(hi, math.ceil(amax_in * 2.0**fl_in))
        bias = babs * 2.0 ** (fl_in + fl_w) + 1
        upper = s_k * 2.0**fl_w + n
        if np.max(upper * xmax + bias) <= INT32_MAX:
            break
        if np.max(np.minimum(upper, hi) * xmax + bias) <= INT32_MAX and \
                np.max(exact(fl_w) * xmax + bias) <= INT32_MAX:
            break
        if fl_w >= fl_in:
            fl_w -= 1
        else:
            fl_in -= 1
    return fl_in, fl_w
