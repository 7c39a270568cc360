"""An independent reference for the emulator, written by hand from ARCH.md and the
prose of isa.toml's [decisions] (STYLE.md #8: never generated from the ISA table).

Registers are Python ints in 0..2^32-1.  A word is split into lanes with shifts and
masks (lane l of width w is bits l*w+w-1..l*w, read signed by subtracting 2^w when its top
bit is set), every lane computation is exact Python integer arithmetic, and the lanes are
joined back by truncating to the lane width (wrap) or by clamping (saturation, which sets
the sticky `sat`).

The per-instruction functions take and return plain values; `State` and
`execute` make a small interpreter for straight-line programs on top of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

MASK32 = 0xFFFFFFFF
WIDTH = {"b": 8, "h": 16, "w": 32, "n": 4}  # ARCH.md §1, §8
LFSR_RESET = 0xACE1ACE1  # isa.toml [decisions] lfsr
LFSR_TAPS = 0x80200003  # x^32 + x^22 + x^2 + x + 1, Galois form


# ---------------------------------------------------------------- lanes

def splitu(word: int, w: int) -> list[int]:
    """The lanes of a 32-bit word as unsigned ints, lane 0 (least significant) first."""
    assert 32 % w == 0
    mask = (1 << w) - 1
    return [(word & MASK32) >> (i * w) & mask for i in range(32 // w)]


def split(word: int, w: int) -> list[int]:
    """The lanes of a 32-bit word as signed (two's complement) ints, lane 0 first."""
    return [x - (1 << w) if x >> (w - 1) else x for x in splitu(word, w)]


def join(lanes: Iterable[int], w: int) -> int:
    """Lanes (any ints) truncated to `w` bits each, lane 0 least significant."""
    lanes = list(lanes)
    assert len(lanes) * w == 32
    mask = (1 << w) - 1
    return sum((x & mask) << (i * w) for i, x in enumerate(lanes))


def s32(x: int) -> int:
    """A register value read as a signed 32-bit int."""
    x &= MASK32
    return x - (1 << 32) if x >> 31 else x


def smin(w: int) -> int:
    return -(1 << (w - 1))


def smax(w: int) -> int:
    return (1 << (w - 1)) - 1


def clamp(x: int, lo: int, hi: int) -> tuple[int, bool]:
    """x clamped to [lo, hi], and whether it had to be."""
    if x < lo:
        return lo, True
    if x > hi:
        return hi, True
    return x, False


# ---------------------------------------------------------------- LFSR

def lfsr_step(state: int) -> int:
    """One step of the 32-bit Galois LFSR: shift right, xor the taps if a 1 fell out."""
    out = state & 1
    state >>= 1
    if out:
        state ^= LFSR_TAPS
    return state & MASK32


def lfsr_seed(value: int) -> int:
    """What `mts lfsr, rs` stores: the value, except 0 (a fixed point) becomes 1."""
    value &= MASK32
    return value if value else 1


# ---------------------------------------------------------------- lane arithmetic

def _rshr(x: int, s: int) -> int:
    """Round half up: (x + 2^(s-1)) >> s, exact (no intermediate overflow)."""
    return x if s == 0 else (x + (1 << (s - 1))) >> s


# name -> f(a, b, ua, ub, w): the exact lane result before wrapping to w bits
WRAPPING: dict[str, Callable[[int, int, int, int, int], int]] = {
    "add": lambda a, b, ua, ub, w: a + b,
    "sub": lambda a, b, ua, ub, w: a - b,
    "mul": lambda a, b, ua, ub, w: a * b,
    "min": lambda a, b, ua, ub, w: min(a, b),
    "max": lambda a, b, ua, ub, w: max(a, b),
    "minu": lambda a, b, ua, ub, w: min(ua, ub),
    "maxu": lambda a, b, ua, ub, w: max(ua, ub),
    "abs": lambda a, b, ua, ub, w: -a if a < 0 else a,
    "relu": lambda a, b, ua, ub, w: max(a, 0),
    "sll": lambda a, b, ua, ub, w: ua << (ub % w),
    "srl": lambda a, b, ua, ub, w: ua >> (ub % w),
    "sra": lambda a, b, ua, ub, w: a >> (ub % w),
    "srar": lambda a, b, ua, ub, w: _rshr(a, ub % w),
}

# name -> (f(a, b, ua, ub), signed?): the exact lane result, then clamped
SATURATING: dict[str, tuple[Callable[[int, int, int, int], int], bool]] = {
    "adds": (lambda a, b, ua, ub: a + b, True),
    "subs": (lambda a, b, ua, ub: a - b, True),
    "addus": (lambda a, b, ua, ub: ua + ub, False),
    "subus": (lambda a, b, ua, ub: ua - ub, False),
}

# name -> f(a, s): shifts by an immediate s in 0..w-1
IMM_SHIFTS: dict[str, Callable[[int, int, int], int]] = {
    "slli": lambda a, ua, s: ua << s,
    "srli": lambda a, ua, s: ua >> s,
    "srai": lambda a, ua, s: a >> s,
    "srari": lambda a, ua, s: _rshr(a, s),
}


def lane_op(name: str, w: int, rs: int, rt: int) -> tuple[int, bool]:
    """A two-source (or one-source, rt ignored) lane instruction: (result, saturated)."""
    a, b, ua, ub = split(rs, w), split(rt, w), splitu(rs, w), splitu(rt, w)
    if name in WRAPPING:
        f = WRAPPING[name]
        return join([f(*x, w) for x in zip(a, b, ua, ub, strict=True)], w), False
    if name == "splat":
        return join([a[0]] * (32 // w), w), False
    g, signed = SATURATING[name]
    lo, hi = (smin(w), smax(w)) if signed else (0, (1 << w) - 1)
    out, sat = [], False
    for x in zip(a, b, ua, ub, strict=True):
        v, s = clamp(g(*x), lo, hi)
        out.append(v)
        sat |= s
    return join(out, w), sat


def imm_shift(name: str, w: int, rs: int, s: int) -> int:
    """slli/srli/srai/srari by an immediate."""
    f = IMM_SHIFTS[name]
    return join([f(a, ua, s) for a, ua in zip(split(rs, w), splitu(rs, w), strict=True)], w)


def srasi(w: int, rs: int, s: int, lfsr: int) -> tuple[int, int]:
    """Stochastic rounding shift: per lane (lane 0 first) step the LFSR, then
    (x + low s bits of the new value) >> s.  Returns (result, new lfsr)."""
    out = []
    for a in split(rs, w):
        lfsr = lfsr_step(lfsr)
        out.append((a + (lfsr & ((1 << s) - 1))) >> s)
    return join(out, w), lfsr


# ---------------------------------------------------------------- multiply-accumulate

def dot_sum(w: int, rs: int, rt: int, rs_unsigned: bool = False) -> int:
    """Exact sum of the lane products of rs and rt (rs lanes unsigned for the `su` forms)."""
    a = splitu(rs, w) if rs_unsigned else split(rs, w)
    return sum(x * y for x, y in zip(a, split(rt, w), strict=True))


def mac_op(name: str, w: int, rd: int, rs: int, rt: int) -> tuple[int, bool]:
    """mac/macsu/macs/dot/dotsu: (new rd, saturated)."""
    if name == "mac":
        return (rd + dot_sum(w, rs, rt)) & MASK32, False
    if name == "macsu":
        return (rd + dot_sum(w, rs, rt, True)) & MASK32, False
    if name == "dot":
        return dot_sum(w, rs, rt) & MASK32, False
    if name == "dotsu":
        return dot_sum(w, rs, rt, True) & MASK32, False
    assert name == "macs"
    v, sat = clamp(s32(rd) + dot_sum(w, rs, rt), smin(32), smax(32))
    return v & MASK32, sat


# ---------------------------------------------------------------- pack / unpack

def packs(w: int, rs: int, rt: int) -> tuple[int, bool]:
    """packs: the lanes of rs then rt, read twice as wide (2w bits), clamped to w bits:
    .h = [sat16(rs), sat16(rt)], .b = [sat8(rs.h0), sat8(rs.h1), sat8(rt.h0), sat8(rt.h1)]."""
    return packsr(w, rs, rt, 0)


def packsr(w: int, rs: int, rt: int, s: int) -> tuple[int, bool]:
    """packsr (isa.toml decision `packsr`): as packs, each source lane (2w bits wide) first
    shifted right by s with round half up."""
    out, sat = [], False
    for x in split(rs, 2 * w) + split(rt, 2 * w):
        v, s_ = clamp(_rshr(x, s), smin(w), smax(w))
        out.append(v)
        sat |= s_
    return join(out, w), sat


def unpk(w: int, rs: int, high: bool) -> int:
    """unpkl/unpkh: the low/high half of the lanes of rs, sign-extended to twice the width."""
    lanes = split(rs, w)
    half = len(lanes) // 2
    return join(lanes[half:] if high else lanes[:half], 2 * w)


# ---------------------------------------------------------------- bitwise, immediates, branches

def sext(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


BITWISE: dict[str, Callable[[int, int], int]] = {
    "and": lambda x, y: x & y,
    "or": lambda x, y: x | y,
    "xor": lambda x, y: x ^ y,
    "not": lambda x, y: ~x & MASK32,
}

IMMEDIATE: dict[str, Callable[[int, int], int]] = {
    "addi": lambda x, imm: (x + imm) & MASK32,  # imm already sign-extended
    "andi": lambda x, imm: x & (imm & 0xFFFF),
    "ori": lambda x, imm: x | (imm & 0xFFFF),
    "xori": lambda x, imm: x ^ (imm & 0xFFFF),
}

BRANCH: dict[str, Callable[[int, int], bool]] = {
    "beq": lambda x, y: x == y,
    "bne": lambda x, y: x != y,
    "blt": lambda x, y: s32(x) < s32(y),
    "bge": lambda x, y: s32(x) >= s32(y),
    "bltu": lambda x, y: x < y,
    "bgeu": lambda x, y: x >= y,
}

# ---------------------------------------------------------------- memory

LOADS = {"lw": (4, False), "lh": (2, True), "lb": (1, True), "lhu": (2, False), "lbu": (1, False)}
STORES = {"sw": 4, "sh": 2, "sb": 1}


def load_value(mem: bytes | bytearray, off: int, size: int, signed: bool) -> int:
    """A little-endian load, sign- or zero-extended to 32 bits."""
    v = int.from_bytes(bytes(mem[off:off + size]), "little")
    return sext(v, 8 * size) & MASK32 if signed else v


def store_value(mem: bytearray, off: int, size: int, value: int) -> None:
    mem[off:off + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")


# ---------------------------------------------------------------- interpreter

@dataclass
class State:
    """One PE for straight-line programs: registers, sticky `sat`, LFSR and its LM."""

    regs: list[int] = field(default_factory=lambda: [0] * 16)
    sat: int = 0
    lfsr: int = LFSR_RESET
    dss: int = 0  # dma2d row strides (decision `dma2d`)
    dds: int = 0
    lm: bytearray = field(default_factory=lambda: bytearray(16384))
    cycle: int = 0
    loads: int = 0  # LM accesses and bytes moved, as the emulator counts them
    stores: int = 0
    load_bytes: int = 0
    store_bytes: int = 0

    def get(self, r: int) -> int:
        return 0 if r == 0 else self.regs[r]

    def set(self, r: int, value: int) -> None:
        if r:
            self.regs[r] = value & MASK32

    def load(self, addr: int, size: int, signed: bool = False) -> int:
        self.loads += 1
        self.load_bytes += size
        return load_value(self.lm, addr, size, signed)

    def store(self, addr: int, size: int, value: int) -> None:
        self.stores += 1
        self.store_bytes += size
        store_value(self.lm, addr, size, value)


def execute(st: State, key: str, ops: dict[str, int]) -> None:
    """Execute one instruction, named by its key ("add.b", "lw.pi", ...) with its operand
    values (fields as named in isa.toml: rd rs rt simm16 uimm16 sh imm20 off12 srd srs)."""
    name, _, suffix = key.partition(".")
    rd, rs, rt = ops.get("rd", 0), st.get(ops.get("rs", 0)), st.get(ops.get("rt", 0))
    w = WIDTH.get(suffix, 32)
    st.cycle += 1
    if name in WRAPPING or name in SATURATING or name == "splat":
        v, sat = lane_op(name, w, rs, rt)
    elif name in IMM_SHIFTS:
        v, sat = imm_shift(name, w, rs, ops["sh"]), False
    elif name == "srasi":
        v, st.lfsr = srasi(w, rs, ops["sh"], st.lfsr)
        sat = False
    elif name in ("mac", "macsu", "macs", "dot", "dotsu"):
        v, sat = mac_op(name, w, st.get(rd), rs, rt)
    elif name == "packs":
        v, sat = packs(w, rs, rt)
    elif name in ("unpkl", "unpkh"):
        v, sat = unpk(w, rs, name == "unpkh"), False
    elif name in BITWISE:
        v, sat = BITWISE[name](rs, rt), False
    elif name in IMMEDIATE:
        imm = ops["simm16"] if name == "addi" else ops["uimm16"]
        v, sat = IMMEDIATE[name](rs, imm), False
    elif name == "lui":
        v, sat = (ops["imm20"] << 12) & MASK32, False
    elif name == "macl":
        # operands are read at issue: two words from LM, then the pointers step by 4
        # (both from their old values) and rd is written last
        acc = st.get(rd)
        x, y = st.load(rs, 4), st.load(rt, 4)
        st.set(ops["rs"], rs + 4)
        st.set(ops["rt"], rt + 4)
        v, sat = (acc + dot_sum(w, x, y)) & MASK32, False
    elif name == "maclh":
        # macl rd, (rs), (rt)+ (decision `macl_hold`): as macl, but rs does not step
        acc = st.get(rd)
        x, y = st.load(rs, 4), st.load(rt, 4)
        st.set(ops["rt"], rt + 4)
        v, sat = (acc + dot_sum(w, x, y)) & MASK32, False
    elif name == "packsr":
        v, sat = packsr(w, rs, rt, ops["sh"])
    elif name in LOADS and key != "lw.pi":
        size, signed = LOADS[name]
        v, sat = st.load((rs + ops["off12"]) & MASK32, size, signed), False
    elif key == "lw.pi":
        v = st.load(rs, 4)
        st.set(ops["rs"], rs + ops["off12"])  # then rd wins when rd == rs
        st.set(rd, v)
        return
    elif name in STORES:
        addr = rs if key == "sw.pi" else (rs + ops["off12"]) & MASK32
        st.store(addr, STORES[name], rt)
        if key == "sw.pi":
            st.set(ops["rs"], rs + ops["off12"])
        return
    elif name == "mfs":
        special = {6: st.sat, 7: st.lfsr, 5: st.cycle - 1, 8: st.dss, 9: st.dds}
        v, sat = special[ops["srs"]], False
    elif name == "mts":
        if ops["srd"] == 6:
            st.sat = int(rs != 0)
        elif ops["srd"] == 7:
            st.lfsr = lfsr_seed(rs)
        elif ops["srd"] == 8:
            st.dss = rs
        else:
            assert ops["srd"] == 9
            st.dds = rs
        return
    elif name == "nop":
        return
    else:
        raise NotImplementedError(f"no reference for {key}")
    st.set(rd, v)
    if sat:
        st.sat = 1


def run_straight(program: Iterable[tuple[str, dict[str, int]]], state: State | None = None
                 ) -> State:
    """Run a straight-line program (no branches) on the reference; returns the final state."""
    st = state if state is not None else State()
    for key, ops in program:
        execute(st, key, ops)
    return st
