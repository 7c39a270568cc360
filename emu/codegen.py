"""Emit the emulator's C decoder and execute cases from the ISA description.

The output goes to the build (emu/build_core.py pastes it in front of
core.c), never into the repo: `python -m pearray.emu.codegen` prints it for
reading.  Operand fields land in the predecoded slots by position: register
and enum fields in the rd (bits 23..20), rs (19..16) or rt (15..12) slot,
the one immediate field of an instruction, sign-extended and scaled, in imm.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path

from pearray.isa.spec import WORD, Insn, Isa, load

SLOTS = {23: "rd", 19: "rs", 15: "rt"}  # low..high of a 4-bit field -> slot, by high bit
HERE = Path(__file__).resolve().parent


def c_name(insn: Insn) -> str:
    return "OP_" + re.sub(r"\W", "_", insn.key).upper()


def _slot(isa: Isa, name: str) -> str:
    f = isa.fields[name]
    if f.kind in ("reg", "enum"):
        if f.width != 4 or f.hi not in SLOTS:
            raise ValueError(f"field {name}: registers and enums must sit in a 4-bit slot")
        return SLOTS[f.hi]
    return "imm"


def _extract(isa: Isa, name: str) -> str:
    f = isa.fields[name]
    raw = f"((w >> {f.lo}) & {(1 << f.width) - 1:#x}u)"
    if f.kind in ("simm", "pcrel"):
        raw = f"sext({raw}, {f.width})"
    else:
        raw = f"(int32_t){raw}"
    if f.scale != 1:
        raw = f"({raw}) * {f.scale}"
    return raw


def decoder(isa: Isa) -> str:
    """decode_word(): match/mask per major opcode, then fill the slots and check ranges."""
    op = isa.fields["op"]
    by_op: dict[int, list[Insn]] = {}
    for insn in isa.insns:
        by_op.setdefault(op.extract(insn.match), []).append(insn)
    out = [
        "static inline int32_t sext(uint32_t v, int bits) {",
        "    uint32_t m = 1u << (bits - 1);",
        "    return (int32_t)(int64_t)((int64_t)(v ^ m) - (int64_t)m);",
        "}",
        "static int decode_word(uint32_t w, dec_t *d) {",
        "    d->rd = d->rs = d->rt = 0; d->imm = 0;",
        f"    switch ((w >> {op.lo}) & {(1 << op.width) - 1:#x}u) {{",
    ]
    for op in sorted(by_op):
        out.append(f"    case {op}:")
        for insn in by_op[op]:
            out.append(f"        if ((w & {insn.mask:#010x}u) == {insn.match:#010x}u) {{")
            checks = []
            for name in insn.operands:
                slot = _slot(isa, name)
                f = isa.fields[name]
                if slot == "imm":
                    out.append(f"            d->imm = {_extract(isa, name)};")
                    val = "d->imm"
                else:
                    out.append(f"            d->{slot} = (uint8_t)((w >> {f.lo}) & 0xF);")
                    val = f"d->{slot}"
                if f.kind == "enum":
                    vals = sorted(isa.enums[f.enum].values())
                    checks.append(f"{val} <= {max(vals)}")
                if name in insn.ranges:
                    lo, hi = insn.ranges[name]
                    checks.append(f"{val} >= {lo} && {val} <= {hi}")
            cond = " && ".join(checks) or "1"
            out.append(f"            if (!({cond})) return 0;")
            out.append(f"            d->op = {c_name(insn)}; return 1;")
            out.append("        }")
        out.append("        return 0;")
    out += ["    default: return 0;", "    }", "}"]
    return "\n".join(out)


def _lane_body(insn: Insn) -> list[str]:
    """The lane loop (core.c's LANE_LOOP) at the instruction's width over its expression."""
    imm = int(insn.format in ("SH", "I", "IU"))
    return [f"    LANE_LOOP(W, {imm}, {insn.lane});"]


NARROW_WIDEN = re.compile(r"\b(PACKS|PACKSR|UNPK)\(")


def lane_width(isa: Isa, insn: Insn) -> int:
    """The width W the instruction's C is specialised to. A width the lane helpers cannot
    take is an error here, at generation, never a silently wrong path in the core."""
    w = insn.width
    gr = isa.granules.get(insn.g) if insn.g else None
    if insn.g is not None and (gr is None or gr.bits != w):
        raise ValueError(f"{insn.key}: .{insn.g} is not a {w}-bit row of [granularities]")
    if not (0 < w <= WORD and WORD % w == 0):
        raise ValueError(f"{insn.key}: lane helpers take widths dividing {WORD}, not {w}")
    if NARROW_WIDEN.search(insn.body or "") and 2 * w > WORD:
        raise ValueError(f"{insn.key}: narrowing or widening at {w} bits needs {2 * w}-bit "
                         f"lanes, wider than the {WORD}-bit word")
    return w


def functions(isa: Isa) -> str:
    """One small inline function per instruction (Spike's one-file-per-instruction, in C)."""
    out = []
    for insn in isa.insns:
        out.append(f"/* {insn.spelled} {insn.syntax}: {insn.doc} */")
        out.append(f"OP_FN(x_{c_name(insn)}) {{")
        out.append(f"    const int W = {lane_width(isa, insn)}; (void)W;")
        accesses = len(re.findall(r"\b(LOAD|STORE)\(", insn.body or ""))
        if accesses > 1 and not insn.stream:
            raise ValueError(f"{insn.key}: {accesses} memory accesses need `stream`")
        if insn.stream:  # running ahead, defer before any access is counted
            far = " || ".join(f"!IN_LM({r.upper()})" for r in insn.stream + insn.hold)
            out.append(f"    if (m->ahead && ({far})) {{ m->deferred = 1; return ST_DEFER; }}")
        out += _lane_body(insn) if insn.lane is not None else [f"    {insn.body}"]
        out.append("    return ST_OK;")
        out.append("}")
    return "\n".join(out)


REPEATABLE = ("alu", "mac", "mem")  # no control flow, no neighbours or sync


def execute_cases(isa: Isa) -> str:
    """`case` labels of execute(): call the instruction's function."""
    return "\n".join(
        f"    case {c_name(i)}: st = x_{c_name(i)}(m, pe, d, now, tr, &npc, &extra, "
        "&pe->r[d->rd], &pe->r[d->rs], &pe->r[d->rt]); break;"
        for i in isa.insns
    )


def repeat_cases(isa: Isa) -> str:
    """`case` labels of repeat(): one instruction as the whole body of a loop, iterated
    in place (no fetch, no dispatch) while it stays local to the PE."""
    return "\n".join(
        f"    case {c_name(i)}: st = rep_{c_name(i)}(m, pe, d, &now, horizon, left, &done); break;"
        for i in isa.insns if i.cls in REPEATABLE
    )


def local_labels(isa: Isa) -> str:
    """The dispatch table of run_local(), in opcode-index order; INSN_ILLEGAL last."""
    return ",\n".join([f"        &&L_{c_name(i)}" for i in isa.insns] + ["        &&L_ILLEGAL"])


def local_handlers(isa: Isa) -> str:
    """run_local()'s handlers: the instruction's function, then retire and dispatch."""
    out = []
    for i in isa.insns:
        out += [
            f"L_{c_name(i)}:",
            "    npc = pc + 4; extra = 0; pe->pc = pc;",
            f"    st = x_{c_name(i)}(m, pe, d, now, 0, &npc, &extra, &pe->r[d->rd], "
            "&pe->r[d->rs], &pe->r[d->rt]);",
            "    if (st) goto out;",
            f"    NEXT({i.cycles}, {i.macs}, {int(i.cls == 'ctrl')});",
        ]
    out += ["L_ILLEGAL:", "    pe->pc = pc;",
            "    st = trap_why(m, pe, TRAP_ILLEGAL, WHY_WORD, pe->code[pc >> 2]);", "    goto out;"]
    return "\n".join(out)


def repeat_functions(isa: Isa) -> str:
    """repeat()'s functions; a stream instruction also gets a twin whose loads skip the
    checks (LOAD_LM) and a fast path that checks the whole loop's words at once."""
    out = []
    for i in isa.insns:
        if i.cls not in REPEATABLE:
            continue
        name = c_name(i)
        fast = "(void)0"
        if i.stream:
            out += ["#undef LOAD", "#define LOAD LOAD_LM", f"OP_FN(xs_{name}) {{",
                    f"    const int W = {lane_width(isa, i)}; (void)W;", f"    {i.body}",
                    "    return ST_OK;", "}", "#undef LOAD", "#define LOAD LOAD_CHECKED"]
            ok = " && ".join([f"LM_RUN_OK(v{r}, n)" for r in i.stream]
                             + [f"LM_RUN_OK(v{r}, 1)" for r in i.hold])
            reads = len(i.stream) + len(i.hold)
            fast = f"STREAM_FAST(xs_{name}, {i.cycles}, {reads}, {ok})"
        out.append(f"REPEAT_FN(rep_{name}, x_{name}, {i.cycles}, {fast})")
    return "\n".join(out)


def bulk_kind(insn: Insn) -> int:
    """1 for `macl rd, (rs)+, (rt)+`, 2 for `macl rd, (rs), (rt)+` (decision `macl_hold`),
    else 0: loop bodies of these run as dot products over LM in the core (repeat_block),
    which knows their semantics (rd += sum of signed lane products; rs, rt step by 4)."""
    if insn.mnemonic != "macl" or insn.cls != "mem":
        return 0
    if set(insn.stream) == {"rs", "rt"} and not insn.hold:
        return 1
    if insn.stream == ("rt",) and insn.hold == ("rs",):
        return 2
    return 0


def tables(isa: Isa) -> str:
    names = ",\n    ".join(c_name(i) for i in isa.insns)
    out = [f"enum {{\n    {names},\n    INSN_ILLEGAL\n}};"]
    out.append("static const uint8_t INSN_BULK[] = {"
               + ", ".join(str(bulk_kind(i)) for i in isa.insns) + ", 0};")
    out.append("static const uint8_t INSN_WIDTH[] = {"
               + ", ".join(str(i.width) for i in isa.insns) + ", 32};")
    out.append("static const uint8_t INSN_CYCLES[] = {"
               + ", ".join(str(i.cycles) for i in isa.insns) + ", 1};")
    out.append("static const uint8_t INSN_MACS[] = {"
               + ", ".join(str(i.macs) for i in isa.insns) + ", 0};")
    for name, f in isa.fields.items():  # named access to register/enum slots in bodies
        if f.kind in ("reg", "enum"):
            out.append(f"#define FIELD_{name} (d->{_slot(isa, name)})")
    return "\n".join(out)


def inputs() -> list[Path]:
    """The hand-written files the core is built from (with isa/ through the table)."""
    return [HERE / "core.h", HERE / "core.c", HERE / "codegen.py"]


OPT_LEVELS = ("-O0", "-O1", "-O2", "-O3", "-Os")


def cflags() -> list[str]:
    """The compiler flags of the core.  PEARRAY_CORE_OPT (one of OPT_LEVELS, default -O3)
    picks the optimisation: -O0 builds in seconds, for trying out an instruction."""
    opt = os.environ.get("PEARRAY_CORE_OPT", "-O3")
    if opt not in OPT_LEVELS:
        raise ValueError(f"PEARRAY_CORE_OPT={opt!r}: one of {' '.join(OPT_LEVELS)}")
    # keep asserts; no -fwrapv reliance: lane code wraps and saturates explicitly
    return [opt, "-std=gnu11", "-UNDEBUG", "-fno-wrapv", "-fstrict-aliasing", "-Wall"]


def _body(isa: Isa) -> str:
    """The generated C, but for the stamp lines."""
    core = (HERE / "core.c").read_text()
    for mark in ("FUNCTIONS", "EXEC_CASES", "REPEAT_FNS", "REPEAT_CASES", "LOCAL_LABELS",
                 "LOCAL_HANDLERS"):
        if core.count(f"    {mark}\n") != 1:
            raise ValueError(f"core.c must hold one `{mark}` line")
    return "\n\n".join([
        '#include "core.h"',
        tables(isa),
        decoder(isa),
        core.replace("    FUNCTIONS\n", functions(isa) + "\n")
            .replace("    EXEC_CASES\n", execute_cases(isa) + "\n")
            .replace("    REPEAT_FNS\n", repeat_functions(isa) + "\n")
            .replace("    REPEAT_CASES\n", repeat_cases(isa) + "\n")
            .replace("    LOCAL_LABELS\n", local_labels(isa) + "\n")
            .replace("    LOCAL_HANDLERS\n", local_handlers(isa) + "\n"),
    ]) + "\n"


def _stamp(body: str, flags: list[str]) -> str:
    h = hashlib.sha256(body.encode())
    h.update((HERE / "core.h").read_bytes())  # the header is included, not pasted
    h.update("\0".join(flags).encode())
    return h.hexdigest()[:16]


def source_hash(isa: Isa | None = None) -> str:
    """Stamped into the build: the hash of the generated C source (so of core.c, core.h,
    this generator, isa/isa.toml and isa/spec.py as they shape it) and of the compiler
    flags.  Importing a core built from other sources or flags fails."""
    return _stamp(_body(isa or load()), cflags())


def generate(isa: Isa | None = None) -> str:
    """The whole C source of the core: the generated tables, decoder and execute
    cases around the hand-written core.c (its `EXEC_CASES` line takes the cases)."""
    isa = isa or load()
    body, flags = _body(isa), cflags()
    flat = " ".join(flags)
    if '"' in flat or "\\" in flat:
        raise ValueError(f"compiler flags with quotes or backslashes: {flat}")
    return "\n".join([
        f"/* generated from isa/isa.toml (digest {isa.digest}) by emu/codegen.py; do not edit */",
        f'#define PEARRAY_SOURCE_HASH "{_stamp(body, flags)}"',
        f'#define PEARRAY_BUILD_FLAGS "{flat}"',
        body,
    ])


if __name__ == "__main__":
    sys.stdout.write(generate())
