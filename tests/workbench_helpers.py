"""Shared by the workbench tests: the installed `pearray` command and a program whose
timing is worked out by hand."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

PEARRAY = Path(sys.executable).with_name("pearray")
if not PEARRAY.exists():  # a venv without its bin/ beside the interpreter
    PEARRAY = Path(shutil.which("pearray") or "pearray")


def pearray(*args: str | Path, cwd: Path, stdin: str | None = None
            ) -> subprocess.CompletedProcess[str]:
    """Run the installed command; text out and err."""
    return subprocess.run([str(PEARRAY), *map(str, args)], cwd=cwd, input=stdin,
                          capture_output=True, text=True, timeout=120)


# On a 1x2 array: PE (0,0) sends 42 east after a 20-iteration loop of nops; PE (0,1)
# waits for it, stores it at buf+4, adds 1; both meet at a sync and halt in cycle 39.
SENDRECV = """\
        .data
buf:    .word 0, 0
        .text
        mfs r1, col             # cycle 0
        bne r1, r0, right       # cycle 1
left:   addi r2, r0, 42         # (0,0) cycle 2
        addi r5, r0, 20         # cycle 3
        loop r5, 1f             # cycle 4
        nop                     # cycles 5..24
1:      send e, r2              # cycle 25
        sync                    # waits 26..37; the barrier completes in 38
        halt                    # 39
right:  recv r3, w              # (0,1) blocked 2..25; takes the word in cycle 26
        li r4, buf              # 27, 28 (a label: lui + ori)
        sw r3, 4(r4)            # 29..36 (GM: 8 cycles, 7 of them stalls)
work:   addi r3, r3, 1          # 37
        sync                    # 38
        halt                    # 39
"""
