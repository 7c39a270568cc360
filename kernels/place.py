"""Where a feature map lies in GM: channels last, packed lanes, a zero border.

A *place* (docs/network.md section 1) is how every kernel finds its input and
where it writes its output, so that layers hand tensors to each other in GM
with nothing done on the host between them.  Pixels are byte aligned (`ps`
bytes), rows follow each other (`rs`), images are word aligned (`image_stride`).
The border around each image is zero because nobody writes it: a conv reads its
receptive fields as plain 2-D runs and never clips.

The host helpers pack an (N)CHW integer tensor into a place's bytes and back,
lanes as `quant.pack` packs them (element 0 in the lowest bits, little-endian),
vectorised with numpy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

WIDTHS = (4, 8, 16, 32)


def _nonneg_int(v: Any, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0:
        raise ValueError(f"{name} must be a non-negative integer, not {v!r}")
    return int(v)


def pad4(pad: int | tuple[int, ...] | list[int]) -> tuple[int, int, int, int]:
    """A padding as (top, left, bottom, right) from an int or a 2- or 4-tuple
    ((vertical, horizontal) or (top, left, bottom, right))."""
    if isinstance(pad, int | np.integer) and not isinstance(pad, bool):
        p = (int(pad),) * 4
    else:
        try:
            p = tuple(pad)  # type: ignore[arg-type]
        except TypeError:
            raise ValueError(f"pad must be an int or a tuple, not {pad!r}") from None
        if len(p) == 2:
            p = (p[0], p[1], p[0], p[1])
        if len(p) != 4:
            raise ValueError(f"pad must have 1, 2 or 4 values, not {pad!r}")
    for v in p:
        _nonneg_int(v, "pad")
    return tuple(int(v) for v in p)  # type: ignore[return-value]


@dataclass(frozen=True)
class Place:
    """A feature map of `n` images, `h` x `w` pixels, `c` channels at `bits`, at GM
    byte address `addr`, with a zero border `pad` = (top, left, bottom, right).

    `c_total` / `c_offset` make it a channel slice of a wider tensor (a Concat's
    input written straight into its slice of the output).
    """

    addr: int
    n: int
    h: int
    w: int
    c: int
    bits: int
    pad: tuple[int, int, int, int] = (0, 0, 0, 0)
    c_total: int | None = None
    c_offset: int = 0
    # derived (filled in __post_init__)
    ps: int = field(init=False)
    rs: int = field(init=False)
    image_stride: int = field(init=False)

    def __post_init__(self) -> None:
        for name in ("addr", "n", "h", "w", "c", "c_offset"):
            _nonneg_int(getattr(self, name), name)
        if min(self.n, self.h, self.w, self.c) < 1:
            raise ValueError(f"a place needs n, h, w, c >= 1, got {self.n}x{self.c}x{self.h}"
                             f"x{self.w}")
        if self.bits not in WIDTHS:
            raise ValueError(f"bits must be one of {WIDTHS}, not {self.bits!r}")
        object.__setattr__(self, "pad", pad4(self.pad))
        total = self.c if self.c_total is None else _nonneg_int(self.c_total, "c_total")
        object.__setattr__(self, "c_total", total)
        if self.c_offset + self.c > total:
            raise ValueError(f"channels {self.c_offset}..{self.c_offset + self.c - 1} "
                             f"outside the {total} of the tensor")
        if self.bits == 4 and self.c_offset % 2:
            raise ValueError("a 4-bit channel slice starts at an even channel")
        pt, pl, pb, pr = self.pad
        ps = -(-total * self.bits // 8)
        rs = (pl + self.w + pr) * ps
        object.__setattr__(self, "ps", ps)
        object.__setattr__(self, "rs", rs)
        object.__setattr__(self, "image_stride", -(-(pt + self.h + pb) * rs // 4) * 4)

    @property
    def nbytes(self) -> int:
        """Bytes of the whole buffer (every image, border included)."""
        return self.n * self.image_stride

    @property
    def channel_bytes(self) -> int:
        """Byte offset of this slice's first channel within a pixel."""
        return self.c_offset * self.bits // 8

    def pixel_addr(self, i: int, y: int, x: int) -> int:
        """GM address of pixel (y, x) of image i (coordinates inside the border; they
        may reach into it: -pt <= y < h + pb), at this slice's first channel."""
        pt, pl, _, _ = self.pad
        return (self.addr + i * self.image_stride + (pt + y) * self.rs + (pl + x) * self.ps
                + self.channel_bytes)

    def with_addr(self, addr: int) -> Place:
        """The same layout at another address."""
        return Place(addr, self.n, self.h, self.w, self.c, self.bits, self.pad, self.c_total,
                     self.c_offset)


# ----------------------------------------------------------------------------- host side
def _as_nchw(x: np.ndarray, place: Place) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind not in "iu":
        raise ValueError(f"a place holds integers, got dtype {a.dtype}")
    if a.ndim == 3:
        a = a[None]
    want = (place.n, place.c, place.h, place.w)
    if a.shape != want:
        raise ValueError(f"tensor of shape {a.shape} does not fit the place {want} (NCHW)")
    lo, hi = -(1 << (place.bits - 1)), (1 << (place.bits - 1)) - 1
    if a.size and (int(a.min()) < lo or int(a.max()) > hi):
        raise ValueError(f"values outside the {place.bits}-bit range {lo}..{hi}")
    return a


def _pixel_bytes(vals: np.ndarray, bits: int) -> np.ndarray:
    """(..., c) integers -> (..., ceil(c*bits/8)) little-endian bytes, lanes packed."""
    if bits == 4:
        c = vals.shape[-1]
        nib = np.zeros(vals.shape[:-1] + (c + c % 2,), np.uint8)
        nib[..., :c] = vals.astype(np.int64) & 0xF
        return (nib[..., 0::2] | (nib[..., 1::2] << 4)).astype(np.uint8)
    dt = {8: "<i1", 16: "<i2", 32: "<i4"}[bits]
    raw = np.ascontiguousarray(vals.astype(dt))
    return raw.view(np.uint8).reshape(vals.shape[:-1] + (-1,))


def _bytes_pixel(raw: np.ndarray, bits: int, c: int) -> np.ndarray:
    """Inverse of _pixel_bytes: (..., nbytes) -> (..., c) signed integers."""
    if bits == 4:
        lo = (raw & 0xF).astype(np.int8)
        hi = (raw >> 4).astype(np.int8)
        nib = np.stack([lo, hi], axis=-1).reshape(raw.shape[:-1] + (-1,))[..., :c]
        return np.where(nib > 7, nib - 16, nib).astype(np.int8)
    dt = {8: "<i1", 16: "<i2", 32: "<i4"}[bits]
    return np.ascontiguousarray(raw).view(dt).reshape(raw.shape[:-1] + (-1,))[..., :c]


def _interior(place: Place, buf: np.ndarray) -> np.ndarray:
    """A (n, h, w, slice bytes) view of the slice's bytes inside a place's buffer."""
    pt, pl, _, _ = place.pad
    imgs = buf[: place.n * place.image_stride].reshape(place.n, place.image_stride)
    rows = imgs[:, : (pt + place.h + place.pad[2]) * place.rs].reshape(
        place.n, -1, place.rs // place.ps if place.ps else 1, place.ps)
    nb = -(-place.c * place.bits // 8)
    off = place.channel_bytes
    return rows[:, pt:pt + place.h, pl:pl + place.w, off:off + nb]


def pack_place(place: Place, x: np.ndarray, buf: np.ndarray | None = None) -> np.ndarray:
    """The bytes of the place's whole buffer (uint8, `nbytes` long) holding x, (N)CHW,
    with a zero border; into `buf` (the rest of it kept) when given, for a slice."""
    a = _as_nchw(x, place)
    if buf is None:
        buf = np.zeros(place.nbytes, np.uint8)
    elif buf.shape != (place.nbytes,) or buf.dtype != np.uint8:
        raise ValueError(f"buf must be uint8 of {place.nbytes} bytes")
    vals = a.transpose(0, 2, 3, 1)  # NHWC
    view = _interior(place, buf)
    packed = _pixel_bytes(vals, place.bits)
    if place.bits == 4 and place.c % 2:  # the slice ends mid-byte: keep the other nibble
        keep = view[..., -1] & 0xF0
        packed[..., -1] = (packed[..., -1] & 0x0F) | keep
    view[...] = packed
    return buf


def unpack_place(place: Place, buf: np.ndarray) -> np.ndarray:
    """The NCHW tensor held in a place's buffer bytes (int8/int16/int32; int8 at 4 bits)."""
    buf = np.asarray(buf, np.uint8).ravel()
    if buf.size < place.nbytes:
        raise ValueError(f"buffer of {buf.size} bytes is shorter than the place's "
                         f"{place.nbytes}")
    vals = _bytes_pixel(_interior(place, buf), place.bits, place.c)
    # always a copy: a view could alias the machine's GM, which the next launch rewrites
    return vals.transpose(0, 3, 1, 2).copy()


def write_place(machine: Any, place: Place, x: np.ndarray) -> None:
    """Write x ((N)CHW) into the machine's GM at the place: the whole buffer, border
    zeros included (a slice keeps the other channels' bytes)."""
    if place.c == place.c_total:
        machine.write(place.addr, pack_place(place, x))
        return
    gm_base = machine.params["gm_base"]
    cur = machine.gm[place.addr - gm_base: place.addr - gm_base + place.nbytes].copy()
    machine.write(place.addr, pack_place(place, x, cur))


def read_place(machine: Any, place: Place) -> np.ndarray:
    """The NCHW tensor at a place in the machine's GM (counted as host reads)."""
    return unpack_place(place, machine.read(place.addr, place.nbytes))
