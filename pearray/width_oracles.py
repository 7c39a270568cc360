"""The width search's two oracles for the experiment (pearray/widthsearch.py).

**Cycles.** A layer's cycles on the array depend on its shape and its input and output
widths only (the kernels' timing does not depend on the data), so the cycles of a
configuration are a sum over its layers of a table keyed by (layer, bits in, bits out).
The table is measured on the array: one compiled batch of each of a few configurations,
chosen greedily so that every (layer, in, out) that any configuration needs is run once
(16 runs for the LeNet's 4^4 configurations).

**Accuracy.** Accuracy on a validation split disjoint from the test split, computed by
the integer reference (net/reference.run_int) at round-to-nearest, which the array
matches bit for bit (the experiment checks that for every nearest configuration it
runs). Batches are scored one after the other; once a configuration cannot reach the
floor even if every image left were right, it stops (the trial records the images seen):
hopeless configurations cost one batch.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Widths = tuple[int, ...]
Key = tuple[str, int, int]  # (layer, bits in, bits out)


def cover(configs: Sequence[Widths], needs: dict[Widths, set[Key]]) -> list[Widths]:
    """Configurations whose layers, together, include every (layer, in, out) that any of
    `configs` needs: greedy (the most new keys first; ties: the earlier configuration)."""
    todo = set().union(*needs.values()) if needs else set()
    chosen: list[Widths] = []
    while todo:
        best = max(configs, key=lambda c: len(needs[c] & todo))
        chosen.append(best)
        todo -= needs[best]
    return chosen


@dataclass
class CycleTable:
    """Cycles per image of every (layer, bits in, bits out), measured on the array."""

    graph: Any
    per_image: dict[Key, float] = field(default_factory=dict)
    runs: list[Widths] = field(default_factory=list)

    def keys(self, widths: Widths) -> set[Key]:
        from pearray.net import quantize

        return {(name, b_in, b_out)
                for name, (b_in, b_out) in quantize.layer_widths(self.graph, widths).items()}

    def measure(self, widths: Sequence[int], calibration: Any, x: np.ndarray, rows: int,
                cols: int) -> None:
        """Measure every configuration of `widths` per layer: the greedy cover, one batch
        of `x` each (nearest rounding: stochastic requantisation costs a little more)."""
        from pearray.net import compile as ncompile
        from pearray.net import quantize, runtime

        mac = sum(1 for n in self.graph.nodes if n.op in ("conv", "gemm"))
        configs = [tuple(c) for c in itertools.product(sorted(set(widths), reverse=True),
                                                       repeat=mac)]
        needs = {c: self.keys(c) for c in configs}
        for c in cover(configs, needs):
            q = quantize.quantize(self.graph, None, list(c), calibration=calibration)
            compiled = ncompile.compile_network(q, rows, cols)
            xb = compiled.q.quantize_input(x[:compiled.batch])
            run = runtime.Runtime(compiled).run(xb, seed=1)
            for s in run.layers:
                self.per_image[(s.name, s.bits, s.out_bits)] = s.cycles / len(xb)
            self.runs.append(c)

    def cycles(self, widths: Widths) -> float:
        """Cycles per image of a configuration: the sum of its layers' entries."""
        return sum(self.per_image[k] for k in self.keys(widths))


@dataclass
class Validation:
    """Accuracy of a configuration on the validation images, by the integer reference."""

    graph: Any
    calibration: Any
    x: np.ndarray
    y: np.ndarray
    method: str = "kl"
    search: int | str = 1
    batch: int = 60  # images a step: a hopeless configuration stops after a few
    floor: float = 0.0
    seen: dict[Widths, int] = field(default_factory=dict)  # images scored (early stops)

    def accuracy(self, widths: Widths) -> float:
        """Fraction right; stops once the floor is out of reach (see `seen`)."""
        from pearray.net import quantize, reference

        q = quantize.quantize(self.graph, None, list(widths), rounding="nearest",
                              method=self.method, search=self.search,
                              calibration=self.calibration)
        out = q.array_outputs[0]
        xq = q.quantize_input(self.x)
        n = len(xq)
        right = 0
        for i in range(0, n, self.batch):
            logits = reference.run_int(q, xq[i:i + self.batch])[out]
            right += int((logits.argmax(1) == self.y[i:i + self.batch]).sum())
            done = min(n, i + self.batch)
            if (right + n - done) / n < self.floor:  # even all the rest right is too few
                self.seen[tuple(widths)] = done
                return right / done
        self.seen[tuple(widths)] = n
        return right / n
