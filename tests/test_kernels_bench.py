"""The benchmarks' own models: SCALE-Sim's output-stationary cycle count (bench/scalesim.py)
reproduces the figures SCALE-Sim publishes, and the topology files load."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _scalesim():
    spec = importlib.util.spec_from_file_location("bench_scalesim", BENCH / "scalesim.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_scalesim"] = mod
    spec.loader.exec_module(mod)
    return mod


# SCALE-Sim's AlexNet on an 8x8 output-stationary array (../shared/topologies/README.md)
PUBLISHED = {"Conv1": (1714595, 96.1), "Conv2": (5175615, 98.1), "Conv3": (1780223, 94.0),
             "Conv4": (2664959, 94.1), "Conv5": (1776639, 94.1)}


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_scalesim_os_reproduces_alexnet(name: str) -> None:
    ss = _scalesim()
    layer = next(lay for lay in ss.load_topology("alexnet") if lay.name == name)
    cycles, util = ss.os_cycles(layer, 8, 8)
    assert cycles == PUBLISHED[name][0]
    assert round(util * 100, 1) == PUBLISHED[name][1]


def test_topologies_load() -> None:
    ss = _scalesim()
    alex = ss.load_topology("alexnet")
    r18 = ss.load_topology("resnet18")
    assert [lay.name for lay in alex] == ["Conv1", "Conv2", "Conv3", "Conv4", "Conv5"]
    assert len(r18) == 21 and r18[0].kh == 7 and r18[7].name == "Conv3_s"
    assert alex[1].out == (23, 23)  # no padding, as SCALE-Sim has it
