"""CI runs the README's test command (.ci/run extracts it): it must lint as well as test."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_ci_command_runs_ruff_before_pytest() -> None:
    """The same extraction as .ci/run (its sed | grep pipeline), run by bash."""
    script = (ROOT / ".ci" / "run").read_text()
    pipeline = next(line for line in script.splitlines() if line.startswith("cmd=$("))
    cmd = subprocess.run(["bash", "-c", f"{pipeline}; printf %s \"$cmd\""], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    assert ".venv/bin/ruff check ." in cmd and ".venv/bin/pytest" in cmd
    assert cmd.index("ruff check") < cmd.index("pytest")
    assert "'.[test]'" in cmd  # ruff comes with the test extra
    assert "ruff" in (ROOT / "pyproject.toml").read_text()
