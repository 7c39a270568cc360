"""A width per layer: the cheapest configuration within an accuracy budget (issue 10).

A configuration is one lane width per conv/fc layer, e.g. (8, 4, 4, 8). The search is a
pure function of two oracles, so that it can be tested on synthetic ones and driven by
the experiment with real ones:

* ``cost(widths) -> float``: whole-network cycles (cheap: the kernels' planner, or a
  measured table); it is called for every configuration;
* ``accuracy(widths) -> float``: accuracy on a validation split disjoint from the test
  split (the expensive one); it is called once per configuration tried, and those are
  what a Pareto plot shows.

It returns the configuration of lowest cost whose accuracy is at least ``floor`` (the
float accuracy less the budget). Configurations are tried cheapest first, so the first
one within the budget is the answer, and the trials are that answer's rank in cost
order. With ``monotone=True`` (the default) a layer is assumed never to lose accuracy by
being wider, everything else equal: a configuration as narrow as or narrower than one
already below the floor, layer by layer, is skipped untried. Cycles are not monotone in
the width everywhere (a 4-bit layer of one input channel is slower than an 8-bit one),
so such configurations can come later in cost order; the skip can only miss the optimum
if accuracy drops when a layer gets wider, and ``monotone=False`` tries them, exact for
any oracle.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

Widths = tuple[int, ...]


@dataclass(frozen=True)
class Trial:
    """A configuration whose accuracy was measured, and its cost."""

    widths: Widths
    cost: float
    accuracy: float


@dataclass
class SearchResult:
    """The chosen configuration (None: not one within the budget), every configuration
    tried in the order tried, how many were skipped as dominated, the floor."""

    best: Trial | None
    trials: list[Trial]
    skipped: int
    floor: float
    considered: int = 0
    notes: list[str] = field(default_factory=list)


def configurations(layers: int, widths: Sequence[int]) -> list[Widths]:
    """Every assignment of a width to each of `layers` layers."""
    if isinstance(layers, bool) or not isinstance(layers, int) or layers < 1:
        raise ValueError(f"layers must be a positive integer, not {layers!r}")
    ws = sorted({int(w) for w in widths}, reverse=True)
    if not ws:
        raise ValueError("no widths to choose from")
    return [tuple(c) for c in itertools.product(ws, repeat=layers)]


def _narrower_or_equal(a: Widths, b: Widths) -> bool:
    return all(x <= y for x, y in zip(a, b, strict=True))


def search(layers: int, widths: Sequence[int], cost: Callable[[Widths], float],
           accuracy: Callable[[Widths], float], floor: float, *, monotone: bool = True,
           always: Sequence[Widths] = (), max_trials: int | None = None) -> SearchResult:
    """The cheapest configuration whose accuracy reaches `floor` (module docstring).

    `always` are configurations to try whatever the search does (the uniform widths, for
    the Pareto plot); they count as trials and inform the pruning. `max_trials` stops the
    search after that many trials of its own (then `best` is the cheapest within the
    budget found so far, and a note says so)."""
    cands = configurations(layers, widths)
    costs = {c: float(cost(c)) for c in cands}
    for c in always:
        if tuple(c) not in costs:
            raise ValueError(f"configuration {tuple(c)} is not one of {len(cands)} "
                             f"({layers} layers, widths {sorted(set(widths))})")
    measured: dict[Widths, float] = {}
    trials: list[Trial] = []
    below: list[Widths] = []  # tried and below the floor

    def trial(c: Widths) -> float:
        if c not in measured:
            acc = float(accuracy(c))
            measured[c] = acc
            trials.append(Trial(c, costs[c], acc))
            if acc < floor:
                below.append(c)
        return measured[c]

    for c in always:
        trial(tuple(c))
    order = sorted(cands, key=lambda c: (costs[c], tuple(-w for w in c)))
    best: Trial | None = None
    skipped = 0
    own = 0
    notes: list[str] = []
    for c in order:
        if c in measured:
            if measured[c] >= floor:
                best = Trial(c, costs[c], measured[c])
                break
            continue
        if monotone and any(_narrower_or_equal(c, b) for b in below):
            skipped += 1
            continue
        if max_trials is not None and own >= max_trials:
            notes.append(f"stopped after {max_trials} trials: the cheapest within the "
                         f"budget among those tried, not necessarily the optimum")
            ok = [t for t in trials if t.accuracy >= floor]
            best = min(ok, key=lambda t: t.cost) if ok else None
            break
        own += 1
        if trial(c) >= floor:
            best = trials[-1]
            break
    return SearchResult(best, trials, skipped, float(floor), len(cands), notes)


def pareto(trials: Sequence[Trial]) -> list[Trial]:
    """The trials no other beats on both counts (lower or equal cost and higher or equal
    accuracy, one of them strictly), by cost."""
    front = []
    for t in trials:
        if not any((o.cost <= t.cost and o.accuracy >= t.accuracy)
                   and (o.cost < t.cost or o.accuracy > t.accuracy) for o in trials):
            front.append(t)
    return sorted(set(front), key=lambda t: (t.cost, -t.accuracy))


def parse_bits(text: str, layers: int, widths: Sequence[int]) -> Widths | str:
    """A --bits word: one width for every layer ("8"), one per layer ("8,4,4,8"), or
    "auto" (the search); ValueError with the reason otherwise."""
    word = str(text).strip().lower()
    if word == "auto":
        return "auto"
    allowed = "/".join(str(w) for w in sorted(set(widths), reverse=True))
    try:
        vals = tuple(int(v) for v in word.split(","))
    except ValueError:
        raise ValueError(f"--bits {text!r}: a width ({allowed}), one per layer separated "
                         f"by commas, or auto") from None
    bad = [v for v in vals if v not in widths]
    if bad:
        raise ValueError(f"--bits {text!r}: {bad[0]} is not a width ({allowed})")
    if len(vals) == 1:
        return vals * layers
    if len(vals) != layers:
        raise ValueError(f"--bits {text!r}: {len(vals)} widths for {layers} layers")
    return vals
