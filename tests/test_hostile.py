"""The fast classes of bench/hostile.py, run by the driver itself (subprocess, RLIMIT_AS,
timeout): every case must end clean or correct.  The slow classes (signals, expansion
bombs, CLI round trips) stay in the bench; their reproducers are in the other test files.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "hostile.py"
_spec = importlib.util.spec_from_file_location("hostile", BENCH)
hostile = importlib.util.module_from_spec(_spec)
sys.modules["hostile"] = hostile  # its dataclasses look their module up
_spec.loader.exec_module(hostile)

FAST = ["container_values", "container_fuzz", "kernels", "quantizer", "experiment"]


@pytest.mark.parametrize("name", FAST)
def test_hostile_class_is_handled(name: str) -> None:
    results = []
    for group in hostile.CATEGORIES[name]():
        results += hostile.run_group(name, group, mem_mb=1024, timeout_scale=1.0)
    bad = [f"{r.outcome}: {r.case}: {r.detail}" for r in results if r.outcome in hostile.BAD]
    assert results and not bad, "\n".join(bad)


def test_every_category_is_one_function_with_cases() -> None:
    assert set(FAST) <= set(hostile.CATEGORIES)
    for fn in hostile.CATEGORIES.values():
        groups = fn()
        assert groups and all(g.code.strip() and g.timeout > 0 for g in groups)
