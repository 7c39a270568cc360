"""Where the paper's techniques matter, measured (issue 10): an ablation of the quantizer's
choices at 4 bits and at mixed widths, on the test split, on the array.

The paper's methods, as this project implements them, are the baseline: KL thresholds
(activations and weights), stochastic rounding (weights and requantisation), and the
point search of ``quant`` (the threshold's position and the next coarser, by error).
Each variant changes one of them: max thresholds (everywhere, or for the weights only);
round-to-nearest; no point search; a wide point search (a window reaching the position
of max|x|, clipping allowed).
Every variant is one quantization and one run of the test images on the array;
`verdicts` says, factor by factor, which helps, which hurts and which changes nothing
measurable (less than one test image of accuracy).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Widths = tuple[int, ...]

BASELINE = "paper's methods"
# name -> (activations' thresholds, weights' thresholds, rounding, point search)
VARIANTS: dict[str, tuple[str, str, str, int | str]] = {
    BASELINE: ("kl", "kl", "stochastic", 1),
    "max thresholds": ("max", "max", "stochastic", 1),
    "max for weights": ("kl", "max", "stochastic", 1),
    "nearest rounding": ("kl", "kl", "nearest", 1),
    "no point search": ("kl", "kl", "stochastic", 0),
    "wide point search": ("kl", "kl", "stochastic", "span"),
}
# factor -> (the technique's side, the side without it): a verdict is the technique's
FACTORS = {
    "KL thresholds (vs max)": (BASELINE, "max thresholds"),
    "KL thresholds for weights (vs max)": (BASELINE, "max for weights"),
    "stochastic rounding (vs nearest)": (BASELINE, "nearest rounding"),
    "point search (vs none)": (BASELINE, "no point search"),
    "wide point search (vs the +-1 one)": ("wide point search", BASELINE),
}

def run(configs: Sequence[Widths], evaluate: Callable[..., dict[str, Any]]) -> list[dict]:
    """Every variant of every configuration: ``evaluate(widths, method=, weight_method=,
    rounding=, search=)`` runs it and returns at least ``accuracy`` and
    ``relative_error``."""
    out = []
    for widths in configs:
        rows = []
        for name, (method, wmethod, rounding, search) in VARIANTS.items():
            r = evaluate(tuple(widths), method=method, weight_method=wmethod,
                         rounding=rounding, search=search)
            rows.append({"variant": name, "threshold": method, "weight_threshold": wmethod,
                         "rounding": rounding, "search": search, "accuracy": r["accuracy"],
                         "relative_error": r["relative_error"]})
        out.append({"widths": list(widths), "label": label(widths), "variants": rows})
    return out


def label(widths: Sequence[int]) -> str:
    """"4" for one width everywhere, "8,4,4,8" otherwise."""
    ws = list(widths)
    return str(ws[0]) if len(set(ws)) == 1 else ",".join(map(str, ws))


def verdicts(results: list[dict], images: int) -> list[dict]:
    """Factor by factor and configuration by configuration: the accuracy and relative
    error of both sides, and a plain word for the technique: "helps", "hurts" or "no
    measurable difference" (less than one image of the test split)."""
    one = 1.0 / max(1, images)
    out = []
    for res in results:
        by = {v["variant"]: v for v in res["variants"]}
        for factor, (ours, other) in FACTORS.items():
            a, b = by[ours], by[other]
            d = a["accuracy"] - b["accuracy"]
            if abs(d) < one / 2:
                word = "no measurable difference"
            else:
                word = "helps" if d > 0 else "hurts"
            out.append({"config": res["label"], "factor": factor, "with": ours,
                        "without": other, "accuracy": [a["accuracy"], b["accuracy"]],
                        "relative_error": [a["relative_error"], b["relative_error"]],
                        "points": 100 * d, "verdict": word})
    return out
