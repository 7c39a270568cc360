"""Run a compiled network on one machine: the parameter image written once; per batch
the input written, every launch run, the outputs read (docs/network.md section 3).

All host traffic goes through ``Machine.write`` / ``Machine.read``, which count it
(``host_bytes_written`` / ``host_bytes_read``); between launches the host only loads the
next program and sets r1/r2, which is control, not data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .compile import Compiled, Step
from .graph import as_nchw
from .plan import host_runs, pack_values, unpack_values, value_bytes

REGIONS = ("lm", "sm", "gm")


@dataclass
class LayerStats:
    """What one node cost on the array, summed over its launches (and batches)."""

    name: str
    op: str
    bits: int
    out_bits: int
    launches: int = 0
    cycles: int = 0
    macs: int = 0
    lane_macs: int = 0
    retired: int = 0
    loads: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REGIONS, 0))
    stores: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REGIONS, 0))
    stalls: dict[str, int] = field(default_factory=dict)
    peak: int = 0  # MACs the array could have done in these cycles at this width

    @property
    def utilisation(self) -> float:
        return self.macs / self.peak if self.peak else 0.0

    def add(self, step: Step, results: list[Any], npes: int) -> None:
        lanes = 32 // step.bits
        self.launches += len(results)
        self.macs += step.macs
        for r in results:
            self.cycles += r.cycles
            self.peak += r.cycles * lanes * npes
            self.lane_macs += r.macs
            self.retired += r.retired
            for reg in REGIONS:
                self.loads[reg] += r.memory[reg]["loads"]
                self.stores[reg] += r.memory[reg]["stores"]
            for k, v in r.stalls.items():
                self.stalls[k] = self.stalls.get(k, 0) + v

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "op": self.op, "bits": self.bits,
                "out_bits": self.out_bits, "launches": self.launches, "cycles": self.cycles,
                "macs": self.macs, "utilisation": self.utilisation, "loads": self.loads,
                "stores": self.stores, "stalls": self.stalls, "retired": self.retired}


@dataclass
class RunReport:
    """Integer outputs (by tensor), per-layer counters and the host's traffic."""

    outputs: dict[str, np.ndarray]
    layers: list[LayerStats]
    host_bytes_written: int
    host_bytes_read: int

    @property
    def cycles(self) -> int:
        return sum(s.cycles for s in self.layers)


class Runtime:
    """One machine holding one compiled network."""

    def __init__(self, c: Compiled, **machine: int) -> None:
        from pearray.emu.machine import Machine

        self.c = c
        params = {**c.machine, **machine, "gm_size": max(c.plan.gm_size,
                                                         machine.get("gm_size", 0))}
        self.machine = Machine(c.rows, c.cols, **params)
        self.machine.write(c.plan.params.addr, c.image)
        self.param_bytes = self.machine.host_bytes_written
        self.input_place = c.plan.places[c.q.graph.input]
        self.outputs = c.q.array_outputs

    def run(self, xq: np.ndarray, seed: int = 1) -> RunReport:
        """One batch of integer inputs (at most the compiled batch size)."""
        from pearray.kernels.launch import run_launches

        m = self.machine
        w0, r0 = m.host_bytes_written, m.host_bytes_read
        g = self.c.q.graph
        n = len(xq)
        if n > self.c.batch or n < 1:
            raise ValueError(f"a batch of {n}; this network was compiled for 1..{self.c.batch}")
        self._write(self.input_place, np.asarray(xq).reshape((n,) + as_nchw(
            g.tensors[g.input].shape)[1:]))
        layers = []
        for k, step in enumerate(self.c.steps):
            if not step.launches:  # a concat or a flatten: nothing to run
                continue
            for launch in step.launches:
                launch.seed = seed * 7919 + k
            results = run_launches(m, step.launches, step.desc_addrs)
            st = LayerStats(step.node, step.op, step.bits, step.out_bits)
            st.add(step, results, m.npes)
            layers.append(st)
        outs = {}
        for t in self.outputs:
            outs[t] = self._read(self.c.plan.places[t], n).reshape(
                (n,) + g.tensors[t].shape[1:])
        return RunReport(outs, layers, m.host_bytes_written - w0, m.host_bytes_read - r0)

    def _write(self, place: Any, x: np.ndarray) -> None:
        n = len(x)
        full = np.zeros((place.n,) + x.shape[1:], np.int64)
        full[:n] = x
        raw = pack_values(place, full)
        per = len(raw) // place.n
        off = 0
        for addr, nb in host_runs(place):
            if off >= n * per:
                break
            self.machine.write(addr, raw[off:off + nb])
            off += nb

    def _read(self, place: Any, n: int) -> np.ndarray:
        per = value_bytes(place) // place.n
        raw = np.zeros(value_bytes(place), np.uint8)
        off = 0
        for addr, nb in host_runs(place):
            if off >= n * per:
                break
            raw[off:off + nb] = self.machine.read(addr, nb)
            off += nb
        return unpack_values(place, raw)[:n]
