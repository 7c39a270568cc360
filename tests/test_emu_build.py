"""The core's two builds never shadow each other: `python emu/build_core.py` writes
`_core.cpython-3XY-<platform>.so`, `pip install -e` (setup.py, in place) writes
`_core.abi3.so`; Python imports whichever of EXTENSION_SUFFIXES comes first, so each
build removes the other's leftover rather than leave a stale core to be imported.

The builds run in a copy of the checkout with PEARRAY_CORE_OPT=-O0 (seconds each).
"""

from __future__ import annotations

import os
import runpy
import shutil
import subprocess
import sys
from collections.abc import Callable
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COPIED = ("pyproject.toml", "setup.py", "README.md", "isa", "asm", "emu", "pearray")
CPYTHON = next(s for s in EXTENSION_SUFFIXES if s.startswith(".cpython-"))
ABI3 = ".abi3.so"


def remove_other_builds() -> Callable[[Path], list[Path]]:
    """emu/build_core.py's function (the script is not a module of the package)."""
    saved = list(sys.path)
    try:
        return runpy.run_path(str(ROOT / "emu" / "build_core.py"))["remove_other_builds"]
    finally:
        sys.path[:] = saved  # the script puts the source tree first


def test_remove_other_builds_takes_exactly_the_importable_variants(tmp_path: Path) -> None:
    remove = remove_other_builds()
    names = ["_core" + CPYTHON, "_core" + ABI3, "_core.so", "_corex" + ABI3, "other" + ABI3,
             "_core.c", "_core.tmp"]
    for n in names:
        (tmp_path / n).write_bytes(b"x")
    assert remove(tmp_path / ("_core" + ABI3)) == [tmp_path / ("_core" + CPYTHON),
                                                   tmp_path / "_core.so"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        set(names) - {"_core" + CPYTHON, "_core.so"})
    (tmp_path / ("_core" + ABI3)).unlink()
    (tmp_path / ("_core" + CPYTHON)).write_bytes(b"x")
    # a build that is not there removes nothing (the other may be all there is)
    assert remove(tmp_path / ("_core" + ABI3)) == []
    assert (tmp_path / ("_core" + CPYTHON)).exists()


def copy_checkout(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "_core*.so", "*.pyc", "build")
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        else:
            shutil.copy(src, dest / name)


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PEARRAY_CORE_OPT"] = "-O0"
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def imported_core(cwd: Path) -> str:
    """The core file a Machine of the copy loads (the stale guard checks it on load)."""
    done = run([sys.executable, "-c", "from pearray.emu.machine import Machine; "
                "import pearray.emu._core as c; Machine(1, 1); print(c.__file__)"], cwd)
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip()).name


def test_each_build_removes_the_other(tmp_path: Path) -> None:
    copy_checkout(tmp_path)
    emu = tmp_path / "emu"
    # a leftover of build_core.py, which Python would import ahead of abi3: stale bytes
    (emu / ("_core" + CPYTHON)).write_bytes(b"not a core")
    done = run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in emu.glob("_core*.so")) == ["_core" + ABI3]
    assert imported_core(tmp_path) == "_core" + ABI3

    done = run([sys.executable, "emu/build_core.py"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"removed {emu / ('_core' + ABI3)}" in done.stderr
    assert sorted(p.name for p in emu.glob("_core*.so")) == ["_core" + CPYTHON]
    assert imported_core(tmp_path) == "_core" + CPYTHON
