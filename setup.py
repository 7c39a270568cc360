"""Only what pyproject.toml cannot say: the cffi-built emulator core."""

from setuptools import setup

setup(cffi_modules=["emu/build_core.py:ffibuilder"])
