"""The Python API behind ``pearray model``: an ONNX file and inputs in, outputs and the
array's counters out.

    run = net.model.run("model.onnx", x, calib=None, bits=8, rows=4, cols=4)
    run.outputs          # {output name: float array} (dequantized; the host's softmax)
    run.report           # per-layer counters, host traffic (runtime.RunReport)
    run.to_json()        # what `pearray model --json` prints
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import onnx_import, quantize
from .compile import Compiled, compile_network
from .graph import Graph
from .quantize import QGraph
from .runtime import LayerStats, RunReport, Runtime


@dataclass
class ModelRun:
    graph: Graph
    q: QGraph
    compiled: Compiled
    outputs: dict[str, np.ndarray]
    layers: list[LayerStats]
    host_bytes_written: int
    host_bytes_read: int
    input_bytes: int
    output_bytes: int
    batches: int
    warnings: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    int_outputs: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def cycles(self) -> int:
        return sum(s.cycles for s in self.layers)

    @property
    def parameter_bytes(self) -> int:
        return self.compiled.plan.params.nbytes

    def to_json(self) -> dict[str, Any]:
        """The report of `pearray model --json`."""
        c = self.compiled
        return {
            "model": self.graph.name,
            "outputs": {k: v.tolist() for k, v in self.outputs.items()},
            "cycles": self.cycles,
            "host": {"words_written": _words(self.host_bytes_written),
                     "words_read": _words(self.host_bytes_read),
                     "bytes_written": self.host_bytes_written,
                     "bytes_read": self.host_bytes_read,
                     "parameter_bytes": self.parameter_bytes,
                     "input_bytes": self.input_bytes, "output_bytes": self.output_bytes,
                     "between_layers_bytes": self.host_bytes_written + self.host_bytes_read
                     - self.parameter_bytes - self.input_bytes - self.output_bytes},
            "layers": [s.to_json() for s in self.layers],
            "array": [c.rows, c.cols],
            "launches": c.launches,
            "batches": self.batches,
            "gm_bytes": c.plan.gm_size,
            "gm": c.plan.summary(),
            "softmax_on_host": any(n.op == "softmax" for n in self.graph.nodes),
            "bits": sorted({t.bits for t in self.q.tensors.values()}),
            "formats": {t.name: {"bits": t.bits, "fl": t.fl} for t in self.q.tensors.values()},
            "notes": list(self.q.notes),
            "warnings": list(self.warnings),
            "seconds": self.seconds,
        }


def _words(nbytes: int) -> int:
    return -(-int(nbytes) // 4)


def load_array(path: str | Path, what: str) -> np.ndarray:
    """A float array from a .npy file (ValueError with the reason otherwise)."""
    p = Path(path)
    try:
        a = np.load(p, allow_pickle=False)
    except FileNotFoundError:
        raise ValueError(f"{what} {p}: no such file") from None
    except (OSError, ValueError) as exc:
        raise ValueError(f"{what} {p}: not a .npy array ({exc})") from None
    if not isinstance(a, np.ndarray) or a.dtype.kind not in "fiu" or a.dtype == bool:
        raise ValueError(f"{what} {p}: numbers expected, got dtype "
                         f"{getattr(a, 'dtype', type(a))}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{what} {p}: contains NaN or infinity")
    return a.astype(np.float32)


def _check_shape(x: np.ndarray, want: tuple[int, ...], what: str) -> None:
    if x.ndim != len(want) or tuple(x.shape[1:]) != tuple(want[1:]) or len(x) < 1:
        raise ValueError(f"{what} has shape {x.shape}; the model takes (N, "
                         f"{', '.join(map(str, want[1:]))})")


def declared_shape(path: str | Path) -> tuple[int | None, ...]:
    """The model input's shape as declared (None for a symbolic dimension)."""
    import onnx

    try:
        m = onnx.load(str(path), load_external_data=False)
    except Exception:
        return ()  # the importer says what is wrong with the file
    inits = {t.name for t in m.graph.initializer}
    for i in m.graph.input:
        if i.name not in inits:
            return tuple(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
                         for d in i.type.tensor_type.shape.dim)
    return ()


def run(path: str | Path, x: np.ndarray, *, calib: np.ndarray | None = None,
        bits: int | Sequence[int] = 8, rows: int = 4, cols: int = 4,
        rounding: str = "nearest", seed: int = 0, batch: int | None = None,
        input_shape: tuple[int, ...] | None = None, **machine: int) -> ModelRun:
    """Import, calibrate, compile and run ``x`` through the network on the array.

    The model's batch is ``batch`` (default: its declared batch, or all of x at once);
    ``input_shape`` (without the batch) replaces its declared image shape, where the
    network allows it (the tests run SqueezeNet on small images)."""
    t0 = time.perf_counter()
    x = np.asarray(x, np.float32)
    declared = declared_shape(path)
    if x.ndim < 1 or len(x) < 1:
        raise ValueError(f"the input has shape {x.shape}: no images")
    if input_shape is None and declared:
        if x.ndim != len(declared) or any(d is not None and d != s for d, s in
                                          zip(declared[1:], x.shape[1:], strict=True)):
            want = ", ".join("?" if d is None else str(d) for d in declared[1:])
            raise ValueError(f"the input has shape {x.shape}; the model takes (N, {want})")
    fixed = declared[0] if declared else None
    b = batch or fixed or len(x)
    b = max(1, min(b, len(x)))
    shape = (b, *(input_shape or x.shape[1:]))
    g = onnx_import.load(path, input_shape=shape)
    _check_shape(x, g.tensors[g.input].shape, "the input")
    warnings = []
    if calib is None:
        calib = x
        warnings.append("no --calib data: calibrated on the inputs themselves")
    else:
        calib = np.asarray(calib, np.float32)
        _check_shape(calib, g.tensors[g.input].shape, "the calibration data")
    t1 = time.perf_counter()
    q = quantize.quantize(g, calib, bits, rounding=rounding, seed=seed, batch=b)
    t2 = time.perf_counter()
    c = compile_network(q, rows, cols, **machine)
    t3 = time.perf_counter()
    rt = Runtime(c)
    runs: list[RunReport] = []
    for i in range(0, len(x), b):
        runs.append(rt.run(c.q.quantize_input(x[i:i + b]), seed=seed + 1 + i // b))
    t4 = time.perf_counter()
    ints = {t: np.concatenate([r.outputs[t] for r in runs]) for t in runs[0].outputs}
    outputs = c.q.outputs_float(ints)
    layers = runs[0].layers
    for r in runs[1:]:
        for a, s in zip(layers, r.layers, strict=True):
            _merge(a, s)
    from .plan import value_bytes

    ip = c.plan.places[c.q.graph.input]
    in_bytes = value_bytes(ip) // ip.n * len(x)
    out_bytes = sum(value_bytes(c.plan.places[t]) // c.plan.places[t].n * len(x)
                    for t in c.q.array_outputs)
    return ModelRun(g, c.q, c, outputs, layers,
                    rt.param_bytes + sum(r.host_bytes_written for r in runs),
                    sum(r.host_bytes_read for r in runs), in_bytes, out_bytes, len(runs),
                    warnings,
                    {"import": round(t1 - t0, 3), "quantize": round(t2 - t1, 3),
                     "compile": round(t3 - t2, 3), "run": round(t4 - t3, 3)},
                    ints)


def _merge(a: LayerStats, s: LayerStats) -> None:
    a.launches += s.launches
    a.cycles += s.cycles
    a.macs += s.macs
    a.lane_macs += s.lane_macs
    a.retired += s.retired
    a.peak += s.peak
    for r in a.loads:
        a.loads[r] += s.loads[r]
        a.stores[r] += s.stores[r]
    for k, v in s.stalls.items():
        a.stalls[k] = a.stalls.get(k, 0) + v
