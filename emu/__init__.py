"""The emulator: a C core (generated from isa/ and built with cffi) and its host API."""
