"""Test configuration: hypothesis profiles and the tests folder on the import path.

Profiles: "ci" (derandomized, no deadline, blobs printed, modest example counts),
"dev" (hypothesis defaults, random) and "thorough" (1000 examples, for bug hunts).
HYPOTHESIS_PROFILE selects one; without it, "ci" is used when CI=true and "dev"
otherwise.
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
