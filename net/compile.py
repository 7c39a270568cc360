"""QGraph -> launches: each node's kernel plan (kernels/*.py), the parameter image (weights,
biases and descriptors, written once) and the GM plan around it.

A conv, gemm or affine node is one conv.s launch (a gemm's kernel covers its whole input
map; an affine is a depthwise 1x1 conv); max / average pooling one pool.s launch; an add
(or a conversion, or a copy) one eltwise.s launch; a concat and a flatten none (their
producers write into slices, the flatten is a view).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pearray.kernels.launch import KERNEL_BITS

from .graph import macs as node_macs
from .plan import Plan, Region, layout, lower
from .quantize import QGraph, QNode

KERNEL_WIDTHS = KERNEL_BITS  # the kernels' width arms (4/8/16/32)


class CompileError(ValueError):
    """A network the kernels cannot run as quantized (e.g. a width they lack)."""


@dataclass
class Step:
    """One node of the network on the array: its launches and what it computes."""

    node: str
    op: str
    bits: int
    out_bits: int
    macs: int
    launches: list[Any] = field(default_factory=list)
    desc_addrs: list[int] = field(default_factory=list)
    kernel_plans: list[Any] = field(default_factory=list, repr=False)


@dataclass
class Compiled:
    """A network ready to run: the lowered QGraph, its GM plan, the steps and the
    parameter image the host writes once at ``plan.params.addr``."""

    q: QGraph
    plan: Plan
    steps: list[Step]
    image: np.ndarray  # uint8
    rows: int
    cols: int
    machine: dict[str, int]

    @property
    def batch(self) -> int:
        return self.q.graph.tensors[self.q.graph.input].shape[0]

    @property
    def launches(self) -> int:
        return sum(len(s.launches) for s in self.steps)


def compile_network(q: QGraph, rows: int = 4, cols: int = 4, **machine: int) -> Compiled:
    """Plan GM, plan every node's kernel, build the parameter image."""
    from pearray.emu.machine import machine_defaults

    for t in q.tensors.values():
        if t.bits not in KERNEL_WIDTHS:
            raise CompileError(f"tensor {t.name} is {t.bits}-bit; the kernels run "
                               f"{'/'.join(map(str, KERNEL_WIDTHS))}-bit data")
    if not (1 <= rows <= 16 and 1 <= cols <= 16):
        raise CompileError(f"array of {rows}x{cols} PEs: rows and cols must be 1..16")
    params = {**machine_defaults(), **machine}
    q = lower(q)
    plan = layout(q, params["gm_base"])
    kmachine = {k: v for k, v in machine.items() if k != "gm_size"}
    steps: list[Step] = []
    blobs: list[tuple[Step, Any, np.ndarray | None]] = []
    shapes = {k: v.shape for k, v in q.graph.tensors.items()}
    for qn in q.nodes:
        n = qn.node
        step = Step(n.name, n.op, qn.bits_in, qn.bits_out, node_macs(n, shapes))
        for kp, blob in _kernel_plans(qn, q, plan, rows, cols, kmachine):
            step.kernel_plans.append(kp)
            blobs.append((step, kp, blob))
        steps.append(step)
    scratch = max([getattr(kp, "scratch_bytes", 0) for _, kp, _ in blobs] + [0])
    if scratch:
        plan.scratch = plan.alloc(scratch, "scratch")
    start = plan.top
    parts: list[tuple[int, np.ndarray]] = []
    waddr: dict[int, int] = {}
    for k, (step, _, blob) in enumerate(blobs):
        if blob is not None:
            reg = plan.alloc(4 * len(blob), f"{step.node} weights")
            waddr[k] = reg.addr
            parts.append((reg.addr, np.ascontiguousarray(blob, "<u4").view(np.uint8)))
    scratch_addr = plan.scratch.addr if plan.scratch else 0
    for k, (step, kp, _) in enumerate(blobs):
        if k in waddr:
            launches = [kp.launch(waddr[k], scratch_addr, name=step.node)]
        elif hasattr(kp, "launches"):
            launches = kp.launches(name=step.node)
        else:
            launches = [kp.launch(name=step.node)]
        for launch in launches:
            reg = plan.alloc(4 * len(launch.descriptor), f"{step.node} descriptor")
            parts.append((reg.addr, launch.descriptor.astype("<u4").view(np.uint8)))
            step.launches.append(launch)
            step.desc_addrs.append(reg.addr)
    base = params["gm_base"] + start
    plan.params = Region(base, plan.top - start, "parameter image")
    image = np.zeros(plan.params.nbytes, np.uint8)
    for addr, raw in parts:
        image[addr - base:addr - base + len(raw)] = raw
    if plan.gm_size + params["gm_base"] > 2**32:
        raise CompileError(f"the plan needs {plan.gm_size} bytes of GM, beyond the 32-bit "
                           "address space")
    return Compiled(q, plan, steps, image, rows, cols, dict(machine))


def _kernel_plans(qn: QNode, q: QGraph, plan: Plan, rows: int, cols: int,
                  machine: dict[str, int]) -> list[tuple[Any, np.ndarray | None]]:
    """The kernel plans of one node, each with its weight blob (None: no weights)."""
    n = qn.node
    if n.op in ("concat", "flatten"):
        return []
    x = plan.places[n.inputs[0]]
    y = plan.places[n.output]
    if n.is_mac:
        from pearray.kernels.conv import ConvLayer, plan_conv

        k, _, kh, kw = qn.w.shape
        top = (1 << (qn.bits_out - 1)) - 1
        clip = int(qn.hi) if qn.shift is not None and qn.hi < top else None
        layer = ConvLayer(x.c, k, kh, kw, stride=n.attrs["stride"], pad=n.attrs["pads"],
                          groups=n.attrs["groups"], bits=qn.bits_in, out_bits=qn.bits_out,
                          shift=qn.shift, relu=bool(n.attrs.get("relu")), clip=clip,
                          rounding=q.rounding)
        kp = plan_conv(layer, x, y, rows, cols, **machine)
        return [(kp, kp.weights(qn.w, qn.b))]
    if n.op in ("maxpool", "avgpool"):
        from pearray.kernels.pool import PoolLayer, plan_pool

        kh, kw = n.attrs["kernel"]
        mult: int | list[int] = 1
        shift = 0
        if n.op == "avgpool":
            shifts = {s for _, s in qn.avg.values()}
            if len(shifts) != 1:
                raise CompileError(f"{n.name}: pool.s takes one shift, got {sorted(shifts)}")
            shift = shifts.pop()
            if len(qn.avg) == 1:
                mult = next(iter(qn.avg.values()))[0]
            else:  # by count of valid positions, 1..kh*kw (counts that never occur: 0)
                mult = [qn.avg[c][0] if c in qn.avg else 0 for c in range(1, kh * kw + 1)]
        layer = PoolLayer("max" if n.op == "maxpool" else "avg", kh, kw, stride=n.attrs["stride"],
                          pad=n.attrs["pads"], bits=qn.bits_in, out_bits=qn.bits_out,
                          mult=mult, shift=shift)
        return [(plan_pool(layer, x, y, rows, cols, **machine), None)]
    if n.op == "add":
        from pearray.kernels.eltwise import EltwiseLayer, plan_eltwise

        top = (1 << (qn.bits_out - 1)) - 1
        clip = int(qn.hi) if qn.hi < top else None
        if len(n.inputs) > 2:
            raise CompileError(f"{n.name}: the eltwise kernel adds two tensors, not "
                               f"{len(n.inputs)}")
        one = len(n.inputs) == 1
        layer = EltwiseLayer(qn.bits_in, qn.bits_out, qn.align[0], 0 if one else qn.align[1],
                             qn.shift, bool(n.attrs.get("relu")), clip, q.rounding, one=one)
        b = None if one else plan.places[n.inputs[1]]
        return [(plan_eltwise(layer, x, b, y, rows, cols, **machine), None)]
    raise CompileError(f"{n.name}: no kernel for {n.op}")
