"""Compiled networks on the emulated array: bit for bit the integer reference (nearest
rounding) at every width, with groups, asymmetric pads, strides, concat slices and
fully connected layers over whole maps; the host moves the parameters, the input and
the output, and nothing else."""

from __future__ import annotations

import numpy as np
import pytest
from net_helpers import model, rand
from onnx import helper

from pearray.net import compile, onnx_import, quantize, reference, runtime
from pearray.net.plan import value_bytes


def run_both(m: object, shape: tuple[int, ...], bits: int | list[int], rows: int = 4,
             cols: int = 4, seed: int = 0) -> tuple[dict, runtime.RunReport, compile.Compiled]:
    g = onnx_import.from_model(m)
    q = quantize.quantize(g, rand((8, *shape[1:]), seed + 100), bits)
    c = compile.compile_network(q, rows, cols)
    rt = runtime.Runtime(c)
    xq = c.q.quantize_input(rand(shape, seed + 200))
    rep = rt.run(xq)
    ref = reference.run_int(c.q, xq)
    for t, v in ref.items():
        assert rep.outputs[t].shape == v.shape
        assert np.array_equal(rep.outputs[t], v), t
    # the host's traffic: the parameter image once, the input's values, the outputs'
    assert rt.param_bytes == c.plan.params.nbytes
    assert rep.host_bytes_written == value_bytes(c.plan.places[c.q.graph.input])
    assert rep.host_bytes_read == sum(value_bytes(c.plan.places[t]) for t in ref)
    return ref, rep, c


def conv_net() -> object:
    """Stride, asymmetric pads, groups, depthwise, a concat (written as slices), a
    standalone affine, a fully connected layer over the whole map, int32 logits."""
    nodes = [
        helper.make_node("Mul", ["x", "s"], ["xs"], "scale"),
        helper.make_node("Conv", ["xs", "w0", "b0"], ["a"], "c0", kernel_shape=[3, 3],
                         pads=[1, 0, 2, 1], strides=[1, 2]),
        helper.make_node("Relu", ["a"], ["a1"], "r0"),
        helper.make_node("Conv", ["a1", "w1", "b1"], ["p"], "c1", pads=[1, 1, 1, 1],
                         kernel_shape=[3, 3], group=2),
        helper.make_node("Conv", ["a1", "w2"], ["d"], "dw", pads=[0, 1, 0, 1],
                         kernel_shape=[1, 3], group=6),
        helper.make_node("Clip", ["d", "zero", "six"], ["d1"], "clip"),
        helper.make_node("Concat", ["p", "d1"], ["cat"], "cat", axis=1),
        helper.make_node("Flatten", ["cat"], ["f"], "fl"),
        helper.make_node("Gemm", ["f", "wf", "bf"], ["y"], "fc", transB=1),
    ]
    inits = {"s": rand((1, 3, 1, 1), 9) + 1.5, "w0": rand((6, 3, 3, 3), 1),
             "b0": rand((6,), 2), "w1": rand((4, 3, 3, 3), 3, 0.3), "b1": rand((4,), 4),
             "w2": rand((6, 1, 1, 3), 5), "zero": np.array(0, np.float32),
             "six": np.array(1.5, np.float32), "wf": rand((5, 10 * 7 * 3), 6, 0.2),
             "bf": rand((5,), 7)}
    return model(nodes, [("x", (3, 3, 6, 7))], ["y"], inits)


@pytest.mark.parametrize("bits", [4, 8, 16, 32])
def test_conv_network_bit_exact(bits: int) -> None:
    _, rep, c = run_both(conv_net(), (3, 3, 6, 7), bits)
    assert [s.name for s in rep.layers] == ["scale", "c0", "c1", "dw", "fc"]  # cat: slices
    assert c.q.node("fc").shift is None  # int32 logits


def test_mixed_widths_and_small_array() -> None:
    _, rep, c = run_both(conv_net(), (3, 3, 6, 7), [16, 8, 8, 32], rows=2, cols=3)
    assert [(s.name, s.bits, s.out_bits) for s in rep.layers] == [
        ("scale", 16, 16), ("c0", 16, 8), ("c1", 8, 32), ("dw", 8, 32), ("fc", 32, 32)]
    # 4 bits among them: c0's output, read at 8 by c1 and at 4 by dw, is converted on the
    # array (an add with one input) for dw
    _, rep, c = run_both(conv_net(), (3, 3, 6, 7), [4, 8, 4, 16], rows=2, cols=3)
    assert [(s.name, s.bits, s.out_bits) for s in rep.layers] == [
        ("scale", 4, 4), ("c0", 4, 8), ("c1", 8, 16), ("convert_a1_4b", 8, 4), ("dw", 4, 16),
        ("fc", 16, 32)]


def test_nested_concat_and_copies() -> None:
    """A concat of a concat (DenseNet's pattern) nests slices; the network's input and a
    tensor in the same concat twice cannot be slices: they get copies."""
    nodes = [
        helper.make_node("Conv", ["x", "w0"], ["a"], "c0", kernel_shape=[1, 1]),
        helper.make_node("Conv", ["a", "w1"], ["b"], "c1", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Concat", ["a", "b"], ["ab"], "cat1", axis=1),
        helper.make_node("Conv", ["ab", "w2"], ["c"], "c2", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Concat", ["ab", "c", "x", "c"], ["y"], "cat2", axis=1),
    ]
    inits = {"w0": rand((4, 2, 1, 1), 1), "w1": rand((3, 4, 3, 3), 2),
             "w2": rand((2, 7, 3, 3), 3, 0.3)}
    ref, rep, c = run_both(model(nodes, [("x", (2, 2, 5, 4))], ["y"], inits), (2, 2, 5, 4), 8)
    names = [s.name for s in rep.layers]
    assert names == ["c0", "c1", "c2", "copy_x_to_cat2_2", "copy_c_to_cat2_3"]
    places = c.plan.places
    assert places["a"].addr == places["ab"].addr == places["y"].addr
    assert places["b"].c_offset == 4 and places["c"].c_offset == 7
    assert places["ab"].pad == (1, 1, 1, 1)  # c2 reads it with padding: the border is there


def test_a_4_bit_concat_of_odd_channel_counts() -> None:
    """At 4 bits a concat's slices must start on whole bytes (even channels): a concat of
    3 + 5 channels cannot, so it is kept at 8 bits (its reader gets a conversion); 4 + 5
    can (the last slice may be odd). Either way bit for bit the reference."""
    nodes = [
        helper.make_node("Conv", ["x", "wa"], ["a"], "ca", kernel_shape=[1, 1]),
        helper.make_node("Conv", ["x", "wb"], ["b"], "cb", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Concat", ["a", "b"], ["ab"], "cat", axis=1),
        helper.make_node("Conv", ["ab", "wc"], ["y"], "cc", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1]),
    ]
    for ca, even in ((3, False), (4, True)):
        inits = {"wa": rand((ca, 2, 1, 1), 1), "wb": rand((5, 2, 3, 3), 2),
                 "wc": rand((3, ca + 5, 3, 3), 3, 0.3)}
        m = model(nodes, [("x", (2, 2, 5, 4))], ["y"], inits)
        _, rep, c = run_both(m, (2, 2, 5, 4), 4)
        noted = any("concat" in n and "8 bits" in n for n in c.q.graph.notes)
        assert noted != even
        assert c.q.tensors["ab"].bits == (4 if even else 8)
        places = c.plan.places
        assert places["a"].addr == places["ab"].addr  # still written in place
