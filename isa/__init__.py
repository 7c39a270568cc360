"""The ISA description: `isa.toml` is the single source of truth; `spec` loads it."""

from .spec import Field, Granule, Insn, Isa, ISAError, load, parse

__all__ = ["Field", "Granule", "Insn", "Isa", "ISAError", "load", "parse"]
