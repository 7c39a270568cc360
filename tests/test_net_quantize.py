"""The integer reference against plain loops, and the formats quantize chooses: the
rules of docs/network.md section 2 hold on every node, at every width."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from net_helpers import model, ort_run, rand
from onnx import helper

from pearray import quant
from pearray.models import data, export_onnx, lenet
from pearray.net import onnx_import, quantize, reference
from pearray.net.graph import Node
from pearray.net.quantize import QNode

# ------------------------------------------------------------------ plain loops


def loop_conv(x, w, b, stride, pads, groups):  # noqa: ANN001, ANN201
    n, c, h, wd = x.shape
    k, cg, kh, kw = w.shape
    pt, pl, pb, pr = pads
    ho = (h + pt + pb - kh) // stride[0] + 1
    wo = (wd + pl + pr - kw) // stride[1] + 1
    kg = k // groups
    out = np.zeros((n, k, ho, wo), object)
    for i in range(n):
        for kk in range(k):
            g = kk // kg
            for oy in range(ho):
                for ox in range(wo):
                    s = int(b[kk])
                    for ci in range(cg):
                        for dy in range(kh):
                            for dx in range(kw):
                                y, xx = oy * stride[0] + dy - pt, ox * stride[1] + dx - pl
                                if 0 <= y < h and 0 <= xx < wd:
                                    s += int(x[i, g * cg + ci, y, xx]) * int(w[kk, ci, dy, dx])
                    out[i, kk, oy, ox] = s
    return out


def round_half_up(v: int, s: int) -> int:
    return math.floor(Fraction(v, 2**s) + Fraction(1, 2))


def wrap(v: int) -> int:
    return (v + 2**31) % 2**32 - 2**31


@st.composite
def int_conv_cases(draw: st.DrawFn) -> dict:
    g = draw(st.sampled_from([1, 2, 3]))
    cg = draw(st.integers(1, 3))
    k = g * draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    pads = (draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1)),
            draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1)))
    h = draw(st.integers(max(1, kh - pads[0] - pads[2]), 5))
    w = draw(st.integers(max(1, kw - pads[1] - pads[3]), 5))
    bits = draw(st.sampled_from([4, 8, 16, 32]))
    lo, hi = quant.int_range(bits)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    return dict(
        x=rng.integers(lo, hi + 1, (2, g * cg, h, w)), w=rng.integers(lo, hi + 1, (k, cg, kh, kw)),
        b=rng.integers(-2**31, 2**31, k), stride=(draw(st.integers(1, 2)),
                                                  draw(st.integers(1, 2))),
        pads=pads, groups=g, shift=draw(st.integers(0, 31)), relu=draw(st.booleans()),
        bits_out=draw(st.sampled_from([4, 8, 16, 32])))


@given(int_conv_cases())
def test_integer_conv_equals_loops(case: dict) -> None:
    """Sums exact modulo 2**32 (the accumulator wraps), round half up, ReLU, saturation."""
    node = Node("c", "conv", ["x"], "y", {"stride": case["stride"], "pads": case["pads"],
                                           "groups": case["groups"], "relu": case["relu"]},
                {"w": case["w"].astype(np.float32), "b": case["b"].astype(np.float32)})
    lo, hi = quant.int_range(case["bits_out"])
    q = QNode(node, 8, case["bits_out"], w=case["w"], b=case["b"], shift=case["shift"],
              lo=0 if case["relu"] else lo, hi=hi)
    got = reference.int_node(None, q, [case["x"]])
    want = loop_conv(case["x"], case["w"], case["b"], case["stride"], case["pads"],
                     case["groups"])
    f = np.vectorize(lambda v: min(max(round_half_up(wrap(v), case["shift"]), q.lo), q.hi))
    assert np.array_equal(got, f(want).astype(np.int64))
    q.shift = None
    got = reference.int_node(None, q, [case["x"]])
    assert np.array_equal(got, np.vectorize(wrap)(want).astype(np.int64))


@pytest.mark.parametrize("count_include_pad", [False, True])
def test_integer_pooling_equals_loops(count_include_pad: bool) -> None:
    rng = np.random.default_rng(1)
    x = rng.integers(-128, 128, (2, 3, 6, 5))
    attrs = {"kernel": (3, 2), "stride": (2, 1), "pads": (1, 0, 2, 1),
             "count_include_pad": count_include_pad}
    mx = reference.int_node(None, QNode(Node("p", "maxpool", ["x"], "y", attrs), 8, 8), [x])
    q = QNode(Node("a", "avgpool", ["x"], "y", attrs), 8, 8, lo=-128, hi=127)
    q.avg = {c: quantize.avg_multiplier(c, 128 * c) for c in range(1, 7)}
    av = reference.int_node(None, q, [x])
    for i, c, oy, ox in np.ndindex(*mx.shape):
        cells = [int(x[i, c, y, xx]) for y in range(oy * 2 - 1, oy * 2 + 2)
                 for xx in range(ox, ox + 2) if 0 <= y < 6 and 0 <= xx < 5]
        assert mx[i, c, oy, ox] == max(cells)
        cnt = 6 if count_include_pad else len(cells)
        m, s = q.avg[cnt]
        assert av[i, c, oy, ox] == min(max(round_half_up(sum(cells) * m, s), -128), 127)
        assert abs(av[i, c, oy, ox] - sum(cells) / cnt) <= 0.5 + 1e-6 * abs(sum(cells))


def test_average_multiplier_is_within_int32_and_close() -> None:
    for cnt in (1, 2, 3, 4, 6, 9, 49, 169):
        for bits in (8, 16):
            bound = cnt * 2 ** (bits - 1)
            m, s = quantize.avg_multiplier(cnt, bound)
            assert bound * m <= 2**31 - 1
            assert abs(m / 2**s - 1 / cnt) <= 2.0 ** -(s + 1) + 1e-12


def test_integer_add_aligns_and_rounds() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.integers(-128, 128, (2, 4, 3, 3)), rng.integers(-128, 128, (2, 4, 3, 3))
    q = QNode(Node("s", "add", ["a", "b"], "y", {"relu": True}), 8, 8, shift=3, lo=0, hi=127,
              align=[0, 2])
    got = reference.int_node(None, q, [a, b])
    want = np.vectorize(lambda u, v: min(max(round_half_up(int(u) + (int(v) << 2), 3), 0),
                                         127))(a, b)
    assert np.array_equal(got, want)


# ------------------------------------------------------------------ formats


def branchy_model() -> object:
    """conv -> (conv 3x3, maxpool) -> concat -> add(residual) -> avgpool -> gemm."""
    nodes = [
        helper.make_node("Conv", ["x", "w0", "b0"], ["a"], "c0", kernel_shape=[1, 1]),
        helper.make_node("Relu", ["a"], ["a1"], "r0"),
        helper.make_node("Conv", ["a1", "w1", "b1"], ["p"], "c1", pads=[1, 0, 1, 2],
                         kernel_shape=[3, 3]),
        helper.make_node("Relu", ["p"], ["p1"], "r1"),
        helper.make_node("MaxPool", ["a1"], ["m"], "mp", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Concat", ["p1", "m"], ["cat"], "cat", axis=1),
        helper.make_node("Conv", ["cat", "w2"], ["d"], "c2", kernel_shape=[1, 1], group=2),
        helper.make_node("Add", ["d", "cat"], ["s"], "add"),
        helper.make_node("Relu", ["s"], ["s1"], "r2"),
        helper.make_node("AveragePool", ["s1"], ["av"], "ap", kernel_shape=[2, 2],
                         strides=[2, 2]),
        helper.make_node("Flatten", ["av"], ["f"], "fl"),
        helper.make_node("Gemm", ["f", "wf", "bf"], ["y"], "fc", transB=1),
    ]
    inits = {"w0": rand((4, 3, 1, 1), 1), "b0": rand((4,), 2), "w1": rand((4, 4, 3, 3), 3, 0.3),
             "b1": rand((4,), 4), "w2": rand((8, 4, 1, 1), 5), "wf": rand((5, 8 * 3 * 3), 6, 0.2),
             "bf": rand((5,), 7)}
    return model(nodes, [("x", (4, 3, 6, 6))], ["y"], inits)


@pytest.mark.parametrize("bits", [4, 8, 16, 32])
def test_format_rules(bits: int) -> None:
    m = branchy_model()
    g = onnx_import.from_model(m)
    calib = rand((16, 3, 6, 6), 11)
    q = quantize.quantize(g, calib, bits)
    t = q.tensors
    for qn in q.nodes:
        n = qn.node
        if n.is_mac:
            fin = t[n.inputs[0]].fl
            assert qn.w.dtype == quant.dtype_for(qn.bits_in)
            assert np.array_equal(qn.b, quant.quantize(n.params["b"], 32, fin + qn.fl_w,
                                                       "nearest"))
            if qn.shift is None:  # the logits: int32 accumulator
                assert t[n.output].fl == fin + qn.fl_w and t[n.output].bits == 32
            else:
                assert qn.shift == fin + qn.fl_w - t[n.output].fl >= 0
            # the int32 accumulator cannot overflow over the calibration range
            xmax = min(2 ** (bits - 1) - 1, math.ceil(q.amax[n.inputs[0]] * 2.0**fin))
            worst = (np.abs(qn.w.astype(np.int64)).reshape(len(qn.w), -1).sum(1) * xmax
                     + np.abs(qn.b.astype(np.int64)))
            assert worst.max() <= 2**31 - 1
        elif n.op in ("maxpool", "avgpool", "concat", "flatten"):
            for i in n.inputs:
                assert (t[i].bits, t[i].fl) == (t[n.output].bits, t[n.output].fl), n.name
        elif n.op == "add":
            c = max(t[i].fl for i in n.inputs)
            assert qn.align == [c - t[i].fl for i in n.inputs]
            assert qn.shift == c - t[n.output].fl >= 0
    if bits == 4:
        return  # 4 bits per tensor is too coarse for this random network to track float
    # the integer network tracks the float one
    x = rand((4, 3, 6, 6), 12)
    want = reference.run_float(g, x)["y"]
    got = q.outputs_float(reference.run_int(q, q.quantize_input(x)))["y"]
    tol = {8: 0.08, 16: 0.002, 32: 0.002}[bits]
    assert np.abs(got - want).max() <= tol * np.abs(want).max()


def test_widths_per_layer_and_conversions() -> None:
    g = onnx_import.from_model(branchy_model())
    layers = [n.name for n in g.nodes if n.op in ("conv", "gemm")]
    assert layers == ["c0", "c1", "c2", "fc"]
    q = quantize.quantize(g, rand((8, 3, 6, 6), 1), [16, 8, 16, 8])
    t = q.tensors
    assert t["x"].bits == 16  # c0 reads the input at 16 bits
    assert t["a1"].bits == 8  # c1 at 8; the maxpool after it keeps the width
    assert t["cat"].bits == 16 and t["p1"].bits == 16 and t["m"].bits == 16
    # a1 is read at 8 bits by c1 and at 16 by the maxpool, cat at 16 by c2 and at 8 by the
    # add (whose output feeds fc at 8): a conversion each
    convert = [qn for qn in q.nodes if qn.node.source == "convert"]
    assert sorted((c.node.inputs[0], c.bits_in, c.bits_out) for c in convert) == [
        ("a1", 8, 16), ("cat", 16, 8)]
    assert q.node("add").node.inputs == ["d", "cat@8b"] and t["d"].bits == 8
    assert q.node("fc").bits_in == 8 and t["s1"].bits == 8
    with pytest.raises(ValueError, match="3 widths for 4 conv/gemm layers"):
        quantize.quantize(g, rand((8, 3, 6, 6), 1), [8, 8, 8])
    with pytest.raises(ValueError, match="widths are"):
        quantize.parse_bits("8,12")
    assert quantize.parse_bits("8,16") == [8, 16]


# ------------------------------------------------------------------ the digits LeNet


@pytest.fixture(scope="module")
def digits() -> dict:
    split = data.load_split()
    return {"calib": split["calib"][0], "test": split["test"]}


def test_lenet_onnx_is_the_shipped_weights(digits: dict) -> None:
    """The shipped ONNX file is the export of the shipped npz, and runs like lenet.py."""
    assert export_onnx.default_onnx_path().read_bytes() == export_onnx.export_bytes()
    xt, _ = digits["test"]
    ref = ort_run(export_onnx.default_onnx_path(), {"input": xt})["logits"]
    np.testing.assert_allclose(ref, lenet.forward(xt, lenet.load_weights()), atol=1e-4)


@pytest.mark.parametrize("bits", [8, 16, 32])
def test_lenet_integer_reference_accuracy(bits: int, digits: dict) -> None:
    xt, yt = digits["test"]
    g = onnx_import.load(export_onnx.default_onnx_path(), input_shape=xt.shape)
    ref = ort_run(export_onnx.default_onnx_path(), {"input": xt})["logits"]
    q = quantize.quantize(g, digits["calib"], bits)
    out = q.outputs_float(reference.run_int(q, q.quantize_input(xt)))["logits"]
    agree = (out.argmax(1) == ref.argmax(1)).mean()
    err = np.abs(out - ref).max() / (ref.max() - ref.min())
    assert agree >= 0.98
    if bits >= 16:
        assert err <= 0.01


# ------------------------------------------------------------------ the quantizer's options
def test_calibration_is_reused_and_methods_reach_the_weights() -> None:
    """A QGraph's calibration quantizes the same graph again without the float pass and
    gives the same formats; the threshold method reaches the weights (weight_method
    alone too); the point search changes positions as quant's does."""
    g = onnx_import.from_model(branchy_model())
    calib = rand((16, 3, 6, 6), 11)
    for bits in (4, 8, [16, 4, 8, 8]):
        q = quantize.quantize(g, calib, bits, method="max")
        again = quantize.quantize(g, None, bits, method="max", calibration=q.calibration)
        assert {t: (v.bits, v.fl) for t, v in q.tensors.items()} == \
            {t: (v.bits, v.fl) for t, v in again.tensors.items()}
        for a, b in zip(q.nodes, again.nodes, strict=True):
            assert (a.fl_w, a.shift) == (b.fl_w, b.shift)
            if a.w is not None:
                assert np.array_equal(a.w, b.w)
    cal = quantize.calibrate(g, calib)
    w = next(n for n in g.nodes if n.name == "c1").params["w"]
    for method in ("kl", "max"):
        for search in (0, 1, "span"):
            q = quantize.quantize(g, None, 4, method="kl", weight_method=method, search=search,
                                  calibration=cal)
            want = quantize.point_position(w, 4, method, search)
            assert q.node("c1").fl_w <= want  # lowered only to fit the accumulator
    # the wide search reaches the max's position: never coarser than it
    for x in (w, rand((500,), 3) ** 3):
        fl_max = quant.point_position(x, 4, "max", search=0)
        assert quantize.point_position(x, 4, "kl", "span") >= fl_max - 1
    with pytest.raises(ValueError, match="method"):
        quantize.quantize(g, calib, 8, method="mse")
    with pytest.raises(ValueError, match="method"):
        quantize.quantize(g, calib, 8, weight_method="min")
    with pytest.raises(ValueError, match="search"):
        quantize.quantize(g, calib, 8, search=-1)
    with pytest.raises(ValueError, match="search"):
        quantize.quantize(g, calib, 8, search="wide")


def test_layer_widths_without_calibration() -> None:
    """(bits in, bits out) of every array node, conversions included, as quantize gives."""
    g = onnx_import.from_model(branchy_model())
    for bits in (8, [16, 8, 16, 8], [4, 4, 8, 4]):
        q = quantize.quantize(g, rand((8, 3, 6, 6), 1), bits)
        assert quantize.layer_widths(g, bits) == {qn.name: (qn.bits_in, qn.bits_out)
                                                  for qn in q.nodes}
