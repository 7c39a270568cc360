"""Test configuration: hypothesis profiles and the tests folder on the import path.

Profiles: "ci" (derandomized, no deadline, blobs printed, modest example counts),
"dev" (hypothesis defaults, random) and "thorough" (1000 examples, for bug hunts).
HYPOTHESIS_PROFILE selects one; without it, "ci" is used when CI=true and "dev"
otherwise.

A test that needs more (or fewer) examples than the profile's asks for a multiple of
it with `examples(factor)`, never a fixed count: "thorough" then runs more, "ci" stays
fast.  Factors are relative to the profile, so `examples(5)` is 300 under "ci".
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

# pytest runs with --import-mode=importlib, which does not put tests/ on sys.path;
# the helper modules (ref.py, emu_helpers.py) are imported by name.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    print_blob=True,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None)
settings.register_profile("thorough", deadline=None, max_examples=1000,
                          suppress_health_check=[HealthCheck.too_slow])

_default = "ci" if os.environ.get("CI", "").lower() == "true" else "dev"
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", _default))


def examples(factor: float) -> int:
    """`factor` times the active profile's max_examples (at least 1)."""
    return max(1, round(factor * settings.default.max_examples))
