"""Places (channels-last packed feature maps in GM) and launches (programs assembled once,
descriptors in GM, r1/r2) - the interface a compiled network is built on."""

from __future__ import annotations

import threading

import kernels_ref as ref
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pearray import kernels, quant
from pearray.emu.machine import Machine
from pearray.kernels import launch as launch_mod
from pearray.kernels.conv import ConvLayer, plan_conv
from pearray.kernels.eltwise import EltwiseLayer, plan_eltwise
from pearray.kernels.place import Place, pack_place, unpack_place
from pearray.kernels.pool import PoolLayer, plan_pool

GM = 0x8000_0000


# ----------------------------------------------------------------------------- places
def test_place_strides_and_addresses() -> None:
    """docs/network.md section 1, by hand: 3 images of 5x7 pixels, 10 channels of 16 bits
    in a 16-channel tensor from channel 4, border (1, 2, 0, 3)."""
    p = Place(GM + 64, 3, 5, 7, 10, 16, (1, 2, 0, 3), c_total=16, c_offset=4)
    assert p.ps == 32
    assert p.rs == (2 + 7 + 3) * 32
    assert p.image_stride == (1 + 5 + 0) * p.rs  # already a multiple of 4
    assert p.nbytes == 3 * p.image_stride
    assert p.pixel_addr(2, 4, 6) == GM + 64 + 2 * p.image_stride + 5 * p.rs + 8 * 32 + 8
    odd = Place(GM, 1, 1, 1, 3, 8)
    assert (odd.ps, odd.rs, odd.image_stride) == (3, 3, 4)  # images word aligned
    nib = Place(GM, 1, 2, 2, 3, 4)
    assert nib.ps == 2  # 3 nibbles, the 4th zero


@given(st.sampled_from((4, 8, 16, 32)), st.integers(1, 2), st.integers(1, 4),
       st.integers(1, 5), st.integers(1, 7), st.tuples(*[st.integers(0, 2)] * 4),
       st.integers(0, 2**32 - 1))
def test_place_pack_is_quant_pack(bits: int, n: int, h: int, w: int, c: int,
                                  pad: tuple[int, ...], seed: int) -> None:
    """A pixel's bytes are quant.pack's lanes of its channels; the border stays zero;
    unpack inverts pack."""
    x = np.random.default_rng(seed).integers(*ref.lim(bits), (n, c, h, w), endpoint=True)
    p = Place(GM, n, h, w, c, bits, pad)
    buf = pack_place(p, x)
    assert buf.size == p.nbytes
    np.testing.assert_array_equal(unpack_place(p, buf), x)
    pt, pl, pb, pr = pad
    i, y, xx = n - 1, h - 1, w - 1
    off = p.pixel_addr(i, y, xx) - GM
    lanes = x[i, :, y, xx]
    lanes = np.concatenate([lanes, np.zeros((-len(lanes)) % (32 // bits), int)])
    if bits == 4:  # ARCH.md section 8: element 0 in bits 3..0 (quant.pack: issue 10)
        nib = lanes & 0xF
        want = (nib[0::2] | nib[1::2] << 4).astype(np.uint8)
    else:
        want = quant.pack(lanes, bits).view(np.uint8)
    np.testing.assert_array_equal(buf[off:off + p.ps], want[:p.ps])
    inside = np.zeros(p.nbytes, bool)
    for i in range(n):
        for y in range(h):
            a = p.pixel_addr(i, y, 0) - GM
            inside[a:a + w * p.ps] = True
    assert not buf[~inside].any()


def test_place_slices_share_a_buffer() -> None:
    """Two slices of one tensor (a Concat): each written keeps the other's channels."""
    whole = Place(GM, 1, 3, 3, 7, 8, (1, 1, 1, 1))
    a = Place(GM, 1, 3, 3, 3, 8, (1, 1, 1, 1), c_total=7, c_offset=0)
    b = Place(GM, 1, 3, 3, 4, 8, (1, 1, 1, 1), c_total=7, c_offset=3)
    xa = np.arange(27).reshape(1, 3, 3, 3)
    xb = -np.arange(36).reshape(1, 4, 3, 3)
    buf = pack_place(a, xa)
    buf = pack_place(b, xb, buf)
    np.testing.assert_array_equal(unpack_place(whole, buf), np.concatenate([xa, xb], 1))


def test_place_rejects_bad_layouts() -> None:
    for args in [(GM, 0, 1, 1, 1, 8), (GM, 1, 1, 1, 1, 12), (GM, 1, 1, 1, 5, 8, 0, 4),
                 (GM, 1, 1, 1, 1, 4, 0, 4, 1)]:
        with pytest.raises(ValueError):
            Place(*args)
    with pytest.raises(ValueError):
        pack_place(Place(GM, 1, 2, 2, 2, 8), np.full((2, 2, 2), 200))


# ----------------------------------------------------------------------------- launches
def test_programs_assembled_once_per_key() -> None:
    """Nothing per layer in a program's text: two layers, one program object."""
    k = kernels.program_key("conv", 8, 16, STOCH=0, RELU=1, CLIP=0)
    assert kernels.program(k) is kernels.program(k)
    a = plan_conv(ConvLayer(3, 4, 3, 3, bits=8, out_bits=16, shift=3, relu=True),
                  Place(GM, 1, 5, 5, 3, 8), Place(GM + 4096, 1, 3, 3, 4, 16), 2, 2)
    b = plan_conv(ConvLayer(7, 9, 1, 1, bits=8, out_bits=16, shift=30, relu=True),
                  Place(GM, 2, 4, 4, 7, 8), Place(GM + 4096, 2, 4, 4, 9, 16), 4, 4)
    assert a.program_key == b.program_key == k
    with pytest.raises(ValueError):
        kernels.program_key("fft", 8, 8)


def test_a_network_moves_only_input_weights_and_output() -> None:
    """conv -> maxpool -> add (a residual) -> conv on one machine: the host writes the
    parameter image (weights, descriptors) and the input once and reads the output once;
    every padding, field and requantisation happens on the array."""
    rng = np.random.default_rng(0)
    m = Machine(2, 3)
    x = rng.integers(-128, 128, (1, 5, 8, 8))
    w1 = rng.integers(-128, 128, (6, 5, 3, 3))
    b1 = rng.integers(-500, 500, 6)
    w2 = rng.integers(-128, 128, (4, 6, 1, 1))
    # the plan: every place's border is the padding its consumer needs
    top = [GM]

    def alloc(nbytes: int) -> int:
        a = top[0]
        top[0] += -(-nbytes // 64) * 64
        return a

    px = Place(0, 1, 8, 8, 5, 8, (1, 1, 1, 1))
    px = px.with_addr(alloc(px.nbytes))
    p1 = Place(0, 1, 8, 8, 6, 8)
    p1 = p1.with_addr(alloc(p1.nbytes))
    p2 = Place(0, 1, 4, 4, 6, 8)
    p2 = p2.with_addr(alloc(p2.nbytes))
    p3 = Place(0, 1, 4, 4, 6, 8)
    p3 = p3.with_addr(alloc(p3.nbytes))
    p4 = Place(0, 1, 4, 4, 4, 32)
    p4 = p4.with_addr(alloc(p4.nbytes))
    c1 = plan_conv(ConvLayer(5, 6, 3, 3, pad=1, bits=8, out_bits=8, shift=8, relu=True),
                   px, p1, 2, 3)
    mp = plan_pool(PoolLayer("max", 2, 2, stride=2, bits=8), p1, p2, 2, 3)
    ad = plan_eltwise(EltwiseLayer(8, 8, sa=0, sb=0, shift=1, relu=True), p2, p2, p3, 2, 3)
    c2 = plan_conv(ConvLayer(6, 4, 1, 1, bits=8, out_bits=32), p3, p4, 2, 3)
    image = [(alloc(4 * len(wb)), wb) for wb in (c1.weights(w1, b1), c2.weights(w2))]
    scratch = alloc(max(c1.scratch_bytes, c2.scratch_bytes, 4))
    launches = [c1.launch(image[0][0], scratch), mp.launch(), *ad.launches(),
                c2.launch(image[1][0], scratch)]
    addrs = [alloc(4 * len(lc.descriptor)) for lc in launches]
    for addr, words in image:
        m.write(addr, words)
    for addr, lc in zip(addrs, launches, strict=True):
        m.write(addr, lc.descriptor)
    params = m.host_bytes_written
    kernels.write_place(m, px, x)
    assert m.host_bytes_written == params + px.nbytes
    results = kernels.run_launches(m, launches, addrs)
    assert all(r.status == "halted" for r in results)
    y = kernels.read_place(m, p4)
    assert m.host_bytes_read == p4.nbytes
    assert m.host_bytes_written == params + px.nbytes
    # the same network in the reference
    a1 = ref.requant(ref.conv(x, w1, b1, 1, 1), 8, 8, True)
    a2 = ref.maxpool(a1, 2, 2, (2, 2), (0, 0, 0, 0))
    a3 = ref.eltwise(a2, a2, 0, 0, 1, 8, True)
    np.testing.assert_array_equal(y, ref.conv(a3, w2, None, 1, 0))


def test_run_launches_sets_r1_r2_and_reports_traps() -> None:
    """A descriptor whose addresses lie outside GM: the kernel traps, the error names the
    launch and says where."""
    m = Machine(1, 2)
    plan = plan_conv(ConvLayer(2, 4, 1, 1, bits=8, out_bits=32),
                     Place(GM, 1, 2, 2, 2, 8), Place(GM + 256, 1, 2, 2, 4, 32), 1, 2)
    lc = plan.launch(0x7000_0000, name="bad conv")  # weights outside every region
    m.write(GM + 1024, lc.descriptor)
    with pytest.raises(RuntimeError, match="bad conv.*out_of_range"):
        kernels.run_launches(m, [lc], [GM + 1024])
    assert m.regs(0)[1] == GM + 1024
    assert m.regs(1)[2] == kernels.seed_word(1)
    with pytest.raises(ValueError):
        kernels.run_launches(m, [lc], [])


def test_standalone_drivers_are_thread_safe() -> None:
    """Machines are cached per thread: two threads running layers at once both get exact
    results (a shared machine would mix their memories)."""
    rng = np.random.default_rng(1)
    cases = [(rng.integers(-128, 128, (4, 9, 9)), rng.integers(-128, 128, (6, 4, 3, 3)))
             for _ in range(6)]
    errors: list[str] = []

    def work(i: int) -> None:
        for x, w in cases[i::2]:
            y = kernels.conv2d(x, w, pad=1, bits=8, rows=2, cols=2).y
            if not np.array_equal(y, ref.conv(x[None], w, None, 1, 1)[0]):
                errors.append(f"thread {i}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    a = launch_mod.cached_machine(2, 2)
    assert a is launch_mod.cached_machine(2, 2)
    other: list[object] = []
    t = threading.Thread(target=lambda: other.append(launch_mod.cached_machine(2, 2)))
    t.start()
    t.join()
    assert other[0] is not a


def test_kernels_read_and_write_channel_slices() -> None:
    """A Concat costs nothing: two convs write straight into the channel slices of one
    place; a conv, a pooling and an add read slices of a wider tensor."""
    rng = np.random.default_rng(4)
    m = Machine(2, 2)
    x = rng.integers(-128, 128, (1, 5, 6, 6))
    wa = rng.integers(-128, 128, (3, 5, 3, 3))
    wb = rng.integers(-128, 128, (4, 5, 1, 1))
    px = Place(GM, 1, 6, 6, 5, 8, (1, 1, 1, 1))
    cat = Place(GM + 0x10000, 1, 6, 6, 7, 8, (1, 1, 1, 1))
    sa = Place(cat.addr, 1, 6, 6, 3, 8, (1, 1, 1, 1), c_total=7, c_offset=0)
    sb = Place(cat.addr, 1, 6, 6, 4, 8, (1, 1, 1, 1), c_total=7, c_offset=3)
    ca = plan_conv(ConvLayer(5, 3, 3, 3, pad=1, bits=8, out_bits=8, shift=7), px, sa, 2, 2)
    cb = plan_conv(ConvLayer(5, 4, 1, 1, bits=8, out_bits=8, shift=5), px, sb, 2, 2)
    # readers of slices: a conv over channels 2..6, a max pooling and an add of two slices
    s26 = Place(cat.addr, 1, 6, 6, 5, 8, (1, 1, 1, 1), c_total=7, c_offset=2)
    s03 = Place(cat.addr, 1, 6, 6, 3, 8, (1, 1, 1, 1), c_total=7, c_offset=0)
    s36 = Place(cat.addr, 1, 6, 6, 3, 8, (1, 1, 1, 1), c_total=7, c_offset=3)
    wc = rng.integers(-128, 128, (2, 5, 3, 3))
    yc = Place(GM + 0x20000, 1, 6, 6, 2, 32)
    yp = Place(GM + 0x21000, 1, 3, 3, 3, 8)
    ye = Place(GM + 0x22000, 1, 6, 6, 3, 8)
    cc = plan_conv(ConvLayer(5, 2, 3, 3, pad=1, bits=8, out_bits=32), s26, yc, 2, 2)
    mp = plan_pool(PoolLayer("max", 2, 2, stride=2, bits=8), s36, yp, 2, 2)
    ad = plan_eltwise(EltwiseLayer(8, 8, sb=1, shift=1), s03, s36, ye, 2, 2)
    waddr = [GM + 0x30000, GM + 0x31000, GM + 0x32000]
    for addr, wb_ in zip(waddr, (ca.weights(wa), cb.weights(wb), cc.weights(wc)), strict=True):
        m.write(addr, wb_)
    launches = [ca.launch(waddr[0]), cb.launch(waddr[1]), cc.launch(waddr[2]), mp.launch(),
                *ad.launches()]
    daddrs = [GM + 0x40000 + 0x1000 * i for i in range(len(launches))]
    for addr, lc in zip(daddrs, launches, strict=True):
        m.write(addr, lc.descriptor)
    kernels.write_place(m, px, x)
    kernels.run_launches(m, launches, daddrs)
    ya = ref.requant(ref.conv(x, wa, None, 1, 1), 7, 8)
    yb = ref.requant(ref.conv(x, wb, None, 1, 0), 5, 8)
    both = np.concatenate([ya, yb], axis=1)
    np.testing.assert_array_equal(kernels.read_place(m, cat), both)
    np.testing.assert_array_equal(kernels.read_place(m, yc), ref.conv(both[:, 2:], wc, None,
                                                                      1, 1))
    np.testing.assert_array_equal(kernels.read_place(m, yp),
                                  ref.maxpool(both[:, 3:6], 2, 2, (2, 2), (0, 0, 0, 0)))
    np.testing.assert_array_equal(kernels.read_place(m, ye),
                                  ref.eltwise(both[:, :3], both[:, 3:6], 0, 1, 1, 8))
