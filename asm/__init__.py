"""The assembler and disassembler: assembly text <-> Program (see ``program.py``).

Flow: ``macros`` (include, macro, rept) -> ``grammar`` (Lark LALR, operand
rules generated from the ISA table) -> ``match`` (forms, operands, constant
encodings) -> ``assembler`` (two passes over ``sections``) -> ``Program``;
``listing`` and ``disasm`` print it; ``diagnostics`` carries every error.
"""

from .assembler import assemble
from .diagnostics import AsmError, Diagnostic
from .disasm import disassemble
from .program import Program

__all__ = ["assemble", "disassemble", "AsmError", "Diagnostic", "Program"]
