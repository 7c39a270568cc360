"""The assembler and disassembler: assembly text <-> Program (see ``program.py``).

Flow: ``macros`` (include, macro, rept, irp, if) -> ``grammar`` (Lark LALR,
operand rules generated from the ISA table) -> ``match`` (forms, operands,
constant encodings) -> ``assembler`` (two passes over ``sections``) ->
``Program``; ``listing`` and ``disasm`` print it; ``diagnostics`` carries every
error.  ``directives`` lists every directive once (``docgen`` renders
docs/asm.md from it); ``lexer`` is the Pygments lexer generated from the table.
"""

from .assembler import assemble
from .diagnostics import AsmError, Diagnostic
from .disasm import disassemble
from .program import Program

__all__ = ["assemble", "disassemble", "AsmError", "Diagnostic", "Program"]
