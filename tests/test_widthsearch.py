"""The per-layer width search (pearray/widthsearch.py) on synthetic oracles whose optimum
a brute force over every configuration finds independently."""

from __future__ import annotations

import itertools

import pytest
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from pearray.widthsearch import Trial, configurations, pareto, parse_bits, search

WIDTHS = (32, 16, 8, 4)


def brute_force(layers, cost, accuracy, floor):
    """The cheapest configuration within the floor, by trying them all (ties: the wider)."""
    ok = [c for c in itertools.product(WIDTHS, repeat=layers) if accuracy(c) >= floor]
    return min(ok, key=lambda c: (cost(c), tuple(-w for w in c))) if ok else None


def additive(cycles, loss, base=0.98):
    """Cycles and accuracy as sums over layers: cycles[i][w], loss[i][w] (loss shrinking
    as w grows: wider never hurts)."""
    def cost(c):
        return sum(cycles[i][w] for i, w in enumerate(c))

    def accuracy(c):
        return base - sum(loss[i][w] for i, w in enumerate(c))
    return cost, accuracy


LENET_CYCLES = [{32: 900, 16: 600, 8: 380, 4: 300}, {32: 4000, 16: 2100, 8: 1200, 4: 700},
                {32: 1500, 16: 800, 8: 450, 4: 260}, {32: 500, 16: 300, 8: 200, 4: 160}]
LENET_LOSS = [{32: 0, 16: 0, 8: 0.001, 4: 0.02}, {32: 0, 16: 0, 8: 0.0005, 4: 0.0015},
              {32: 0, 16: 0, 8: 0.0005, 4: 0.0015}, {32: 0, 16: 0.0001, 8: 0.0005, 4: 0.01}]


def test_known_optimum_lenet_like() -> None:
    """A LeNet-like oracle: the first layer and the logits are sensitive, the middle ones
    not; within 0.5 points the answer is 8,4,4,8, found with few trials."""
    cost, acc = additive(LENET_CYCLES, LENET_LOSS)
    calls = []

    def counted(c):
        calls.append(c)
        return acc(c)

    floor = 0.98 - 0.005
    res = search(4, WIDTHS, cost, counted, floor)
    assert res.best is not None
    assert res.best.widths == (8, 4, 4, 8) == brute_force(4, cost, acc, floor)
    assert res.best.accuracy >= floor
    assert len(calls) == len(set(calls)) == len(res.trials)  # each tried once
    assert len(res.trials) < 256 // 4
    assert res.considered == 256


def test_uniform_widths_are_always_tried() -> None:
    cost, acc = additive(LENET_CYCLES, LENET_LOSS)
    uni = [(w,) * 4 for w in WIDTHS]
    res = search(4, WIDTHS, cost, acc, 0.98 - 0.005, always=uni)
    tried = [t.widths for t in res.trials]
    assert tried[:4] == uni
    assert res.best.widths == (8, 4, 4, 8)
    with pytest.raises(ValueError, match="not one of"):
        search(4, WIDTHS, cost, acc, 0.9, always=[(8, 8, 8)])


def test_no_configuration_within_the_budget() -> None:
    cost, acc = additive(LENET_CYCLES, LENET_LOSS)
    res = search(4, WIDTHS, cost, acc, 0.99)  # above the best accuracy there is
    assert res.best is None
    assert res.trials  # tried, and said so


# Cycles that are not monotone in the width: a 4-bit first layer (one input channel)
# is slower than an 8-bit one, as bench/bench_kernels.py measures for such a layer.
ODD_CYCLES = [{32: 10, 16: 6, 8: 3, 4: 5}, {32: 10, 16: 6, 8: 3, 4: 2}]


def test_pruning_skips_narrower_configurations_that_cost_more() -> None:
    """When a narrower configuration costs more, it comes after a wider one in cost order:
    if the wider one fell below the floor, the narrower one is skipped untried (sound
    when accuracy is monotone: the answer is the brute force's)."""
    cost, acc = additive(ODD_CYCLES, [{32: 0, 16: 0, 8: 0.01, 4: 0.02}, {32: 0, 16: 0, 8: 0,
                                                                          4: 0}])
    res = search(2, WIDTHS, cost, acc, 0.975)
    assert res.skipped > 0
    assert (4, 4) not in [t.widths for t in res.trials]  # (8, 4) failed first
    assert res.best.widths == brute_force(2, cost, acc, 0.975) == (16, 4)


def test_non_monotone_accuracy_needs_monotone_false() -> None:
    """An oracle where the narrower configuration is the accurate one: the pruning's
    assumption is wrong and misses it; monotone=False finds the true optimum."""
    cost, _ = additive(ODD_CYCLES, [{w: 0 for w in WIDTHS}] * 2)

    def acc(c):
        return 1.0 if c == (4, 4) else (0.99 if c[0] >= 16 else 0.5)

    assert search(2, WIDTHS, cost, acc, 0.95, monotone=True).best.widths == (16, 4)
    res = search(2, WIDTHS, cost, acc, 0.95, monotone=False)
    assert res.best.widths == (4, 4) == brute_force(2, cost, acc, 0.95)


@settings(max_examples=examples(2))
@given(st.integers(1, 4), st.data())
def test_search_equals_brute_force_on_monotone_oracles(layers: int, data) -> None:
    """Random additive oracles (wider never loses accuracy; cycles in any order), random
    budgets: the search's answer is the brute force's, and it never tries more
    configurations than exist."""
    cycles = [dict(zip(WIDTHS, data.draw(st.lists(st.integers(1, 1000), min_size=4,
                                                  max_size=4)), strict=True))
              for _ in range(layers)]
    loss = [dict(zip(WIDTHS, sorted(data.draw(st.lists(st.integers(0, 50), min_size=4,
                                                          max_size=4))), strict=True))
            for _ in range(layers)]
    loss = [{w: v / 1000 for w, v in d.items()} for d in loss]
    cost, acc = additive(cycles, loss)
    floor = 0.98 - data.draw(st.integers(0, 60)) / 1000
    res = search(layers, WIDTHS, cost, acc, floor)
    want = brute_force(layers, cost, acc, floor)
    assert (res.best.widths if res.best else None) == want
    exact = search(layers, WIDTHS, cost, acc, floor, monotone=False)
    assert (exact.best.widths if exact.best else None) == want
    assert len(res.trials) + res.skipped <= 4 ** layers
    assert len(res.trials) <= len(exact.trials)


def test_max_trials_stops_and_says_so() -> None:
    cost, acc = additive(LENET_CYCLES, LENET_LOSS)
    res = search(4, WIDTHS, cost, acc, 0.975, max_trials=2, always=[(32,) * 4])
    assert len(res.trials) == 3
    assert res.notes and "stopped after 2" in res.notes[0]
    assert res.best.widths == (32,) * 4  # the only one within the budget that was tried


def test_pareto_front() -> None:
    ts = [Trial((32,), 10, 0.99), Trial((16,), 6, 0.99), Trial((8,), 4, 0.97),
          Trial((4,), 3, 0.90), Trial((12,), 5, 0.96), Trial((9,), 4, 0.95)]
    front = pareto(ts)
    assert [t.widths for t in front] == [(4,), (8,), (16,)]


def test_configurations_and_parse_bits() -> None:
    assert len(configurations(4, WIDTHS)) == 256
    assert configurations(1, (8, 4)) == [(8,), (4,)]
    with pytest.raises(ValueError):
        configurations(0, WIDTHS)
    assert parse_bits("8,4,4,8", 4, WIDTHS) == (8, 4, 4, 8)
    assert parse_bits("16", 4, WIDTHS) == (16,) * 4
    assert parse_bits("AUTO", 4, WIDTHS) == "auto"
    for bad, why in (("8,4", "2 widths for 4 layers"), ("12", "12 is not a width"),
                     ("8,x,4,4", "one per layer"), ("", "one per layer")):
        with pytest.raises(ValueError, match=why):
            parse_bits(bad, 4, WIDTHS)
