"""pearray: a toolchain for a multi-bit-width reconfigurable PE array.

The subpackages follow the data flow: ``isa`` (the one description) ->
``asm`` (text to program image) -> ``emu`` (image to machine to results) ->
``kernels`` (assembly conv layers) and ``quant`` (float to fixed point).
"""

from pathlib import Path as _Path

__version__ = "0.1.0"

# Installed, setuptools maps pearray.isa -> isa/ etc.  In a source checkout
# (build scripts, `python -c` from the root) the folders sit beside this one.
_root = _Path(__file__).resolve().parent.parent
if (_root / "isa" / "spec.py").is_file() and (_root / "pyproject.toml").is_file():
    __path__.append(str(_root))  # noqa: F821 - the package's own search path
