"""SCALE-Sim's output-stationary systolic array, as an analytical cycle count.

SCALE-Sim (scale-sim-v2, MIT) maps a conv layer on an R x C output-stationary
array as a matrix product: Sr = ofmap pixels (E x E) rows, Sc = filters
columns, T = kh*kw*c the reduction.  Each fold of R pixels x C filters streams
T operands through the array and pays R + C - 2 cycles of skew to fill and
drain; the layer is ceil(Sr/R) * ceil(Sc/C) folds.  With ideal memory (no
stalls) its cycle count is

    cycles = ceil(Sr/R) * ceil(Sc/C) * (T + R + C - 2) - 1
    utilisation = Sr * Sc * T / (cycles * R * C)

and E = ceil((H - kh + s) / s), which is how SCALE-Sim sizes the output (for
AlexNet's conv1, 224 input, 11x11, stride 4: 55, where the layer, unpadded,
has 54).  This reproduces the figures it publishes for AlexNet on 8x8
(tests/test_kernels_bench.py checks them).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOPOLOGIES = HERE / "topologies"


@dataclass(frozen=True)
class TopoLayer:
    """One row of a SCALE-Sim topology file."""

    name: str
    h: int
    w: int
    kh: int
    kw: int
    c: int
    k: int
    stride: int

    @property
    def out(self) -> tuple[int, int]:
        """The layer's real output size without padding (SCALE-Sim applies none)."""
        return (self.h - self.kh) // self.stride + 1, (self.w - self.kw) // self.stride + 1


def load_topology(name: str) -> list[TopoLayer]:
    """The layers of bench/topologies/NAME.csv."""
    path = TOPOLOGIES / f"{name}.csv"
    layers = []
    with path.open(newline="") as f:
        rows = csv.reader(f)
        next(rows)
        for row in rows:
            cells = [c.strip() for c in row if c.strip()]
            if not cells:
                continue
            layers.append(TopoLayer(cells[0], *(int(v) for v in cells[1:8])))
    return layers


def os_cycles(layer: TopoLayer, rows: int = 8, cols: int = 8) -> tuple[int, float]:
    """(cycles, utilisation) of SCALE-Sim's output-stationary array for this layer."""
    eh = -(-(layer.h - layer.kh + layer.stride) // layer.stride)
    ew = -(-(layer.w - layer.kw + layer.stride) // layer.stride)
    sr, sc, t = eh * ew, layer.k, layer.kh * layer.kw * layer.c
    folds = -(-sr // rows) * -(-sc // cols)
    cycles = folds * (t + rows + cols - 2) - 1
    return cycles, sr * sc * t / (cycles * rows * cols)
