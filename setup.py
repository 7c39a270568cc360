"""Only what pyproject.toml cannot say: the cffi-built emulator core."""

import runpy
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent


class BuildExt(build_ext):
    """An in-place build (`pip install -e`) also removes the core's other builds beside
    it: a `_core.cpython-*.so` left by `python emu/build_core.py` would otherwise be
    imported ahead of the fresh `_core.abi3.so` (emu/build_core.py does the converse)."""

    def copy_extensions_to_source(self) -> None:
        super().copy_extensions_to_source()
        remove = runpy.run_path(str(HERE / "emu" / "build_core.py"))["remove_other_builds"]
        for ext in self.extensions:
            for other in remove(Path(self.get_ext_fullpath(ext.name))):
                print(f"removed {other} (another build of the core)")


setup(cffi_modules=["emu/build_core.py:ffibuilder"], cmdclass={"build_ext": BuildExt})
