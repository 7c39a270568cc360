"""cffi build script of the emulator core (API mode), run by `pip install`.

setup.py names it in `cffi_modules`.  The C source is generated from the ISA
description at build time (emu/codegen.py), so the decoder and execute code
are never written twice and never committed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the source tree's pearray/ (it finds isa/ beside it)

from pearray.emu import codegen  # noqa: E402

FUNCTIONS = """
int pe_run(machine_t *m, uint64_t stop, uint64_t limit);
void pe_decode_image(const uint32_t *code, dec_t *dec, uint32_t n);
void pe_set_code(machine_t *m, uint32_t pe_id, uint32_t *code, dec_t *dec, uint32_t n);
void pe_set_images(machine_t *m, const int32_t *which, uint32_t *const *codes,
                   dec_t *const *decs, const uint32_t *ns);
void pe_reset(machine_t *m, uint32_t lfsr);
void pe_trace_mark(machine_t *m);
int pe_decode(uint32_t word, dec_t *out);
const char *pe_source_hash(void);
const char *pe_build_flags(void);
"""


def remove_other_builds(built: Path) -> list[Path]:
    """Delete the core's other builds beside `built`, returning them.  This script
    writes `_core.cpython-3XY-<platform>.so`, `pip install -e` writes `_core.abi3.so`,
    and Python imports the first name of EXTENSION_SUFFIXES it finds (the cpython one):
    a leftover of either shadows or hides the fresh build ("the emulator core is stale")."""
    from importlib.machinery import EXTENSION_SUFFIXES

    if not built.is_file():  # nothing was built there: leave the others alone
        return []
    stem = built.name.split(".", 1)[0]
    removed = []
    for suffix in EXTENSION_SUFFIXES:
        other = built.parent / (stem + suffix)
        if other.name != built.name and (other.exists() or other.is_symlink()):
            other.unlink()
            removed.append(other)
    return removed


def cdef_text() -> str:
    """The declarations of core.h between its cdef markers, for cffi."""
    text = (HERE / "core.h").read_text()
    return text.split("/* cdef-begin", 1)[1].split("*/", 1)[1].split("/* cdef-end */")[0]


ffibuilder = FFI()
ffibuilder.cdef(cdef_text() + FUNCTIONS)
ffibuilder.set_source(
    "pearray.emu._core",
    codegen.generate(),
    include_dirs=[str(HERE)],
    depends=[str(p) for p in codegen.inputs()],
    extra_compile_args=codegen.cflags(),  # stamped into the core with the source's hash
)

if __name__ == "__main__":  # a source-tree build, for development: puts _core*.so into emu/
    import shutil

    built = ffibuilder.compile(tmpdir=str(HERE.parent / "build" / "cffi"))
    target = HERE / Path(built).name
    tmp = target.with_suffix(".tmp")
    shutil.copy(built, tmp)
    os.replace(tmp, target)  # a new file: a process that has the old one loaded keeps it
    for other in remove_other_builds(target):
        print(f"removed {other} (another build of the core, which would shadow or hide "
              f"{target.name})", file=sys.stderr)
