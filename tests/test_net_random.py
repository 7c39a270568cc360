"""Random small networks (hypothesis): the float reference equals ONNX Runtime, and the
compiled network on the array equals the integer reference bit for bit."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from net_helpers import model, ort_run, rand
from onnx import helper

from pearray.net import compile, onnx_import, quantize, reference, runtime

OPS = ("conv", "dwconv", "maxpool", "avgpool", "residual", "concat", "affine")


@st.composite
def networks(draw: st.DrawFn) -> tuple[object, tuple[int, ...], int, int, int]:
    """A chain of blocks on a (N, C, H, W) input, then a fully connected head."""
    n = draw(st.integers(1, 2))
    c = draw(st.integers(1, 5))
    h, w = draw(st.integers(3, 8)), draw(st.integers(3, 8))
    shape = (n, c, h, w)
    nodes, inits = [], {}
    cur = "x"
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)

    def name(prefix: str) -> str:
        return f"{prefix}{len(nodes)}"

    def conv(x: str, cin: int, k: int, kh: int, kw: int, pads: list[int], stride: list[int],
             groups: int, relu: bool) -> str:
        wn, bn, out = name("w"), name("b"), name("t")
        inits[wn] = (rng.standard_normal((k, cin // groups, kh, kw)) /
                     np.sqrt(cin // groups * kh * kw)).astype(np.float32)
        inits[bn] = (0.1 * rng.standard_normal(k)).astype(np.float32)
        nodes.append(helper.make_node("Conv", [x, wn, bn], [out], name("conv"), group=groups,
                                      kernel_shape=[kh, kw], pads=pads, strides=stride))
        if relu:
            r = name("t")
            nodes.append(helper.make_node("Relu", [out], [r], name("relu")))
            out = r
        return out

    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(OPS))
        kh, kw = draw(st.integers(1, min(3, h))), draw(st.integers(1, min(3, w)))
        pads = [draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1)),
                draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1))]
        stride = [draw(st.integers(1, 2)), draw(st.integers(1, 2))]
        ho = (h + pads[0] + pads[2] - kh) // stride[0] + 1
        wo = (w + pads[1] + pads[3] - kw) // stride[1] + 1
        if op == "conv":
            k = draw(st.integers(1, 6))
            cur = conv(cur, c, k, kh, kw, pads, stride, 1, draw(st.booleans()))
            c, h, w = k, ho, wo
        elif op == "dwconv":
            cur = conv(cur, c, c, kh, kw, pads, stride, c, True)
            h, w = ho, wo
        elif op in ("maxpool", "avgpool"):
            out = name("t")
            kind = "MaxPool" if op == "maxpool" else "AveragePool"
            extra = {} if op == "maxpool" else {"count_include_pad": draw(st.integers(0, 1))}
            nodes.append(helper.make_node(kind, [cur], [out], name("pool"),
                                          kernel_shape=[kh, kw], pads=pads, strides=stride,
                                          **extra))
            cur, h, w = out, ho, wo
        elif op == "residual":
            branch = conv(cur, c, c, 3 if h >= 3 else 1, 1, [1, 0, 1, 0] if h >= 3 else
                          [0, 0, 0, 0], [1, 1], 1, True)
            out = name("t")
            nodes.append(helper.make_node("Add", [cur, branch], [out], name("add")))
            r = name("t")
            nodes.append(helper.make_node("Relu", [out], [r], name("relu")))
            cur = r
        elif op == "concat":
            k1, k2 = draw(st.integers(1, 4)), draw(st.integers(1, 4))
            a = conv(cur, c, k1, 1, 1, [0, 0, 0, 0], [1, 1], 1, True)
            b = conv(cur, c, k2, kh, kw, [(kh - 1) // 2, (kw - 1) // 2, kh // 2, kw // 2],
                     [1, 1], 1, True)
            out = name("t")
            nodes.append(helper.make_node("Concat", [a, b], [out], name("cat"), axis=1))
            cur, c = out, k1 + k2
        else:  # affine: BatchNormalization not after a conv
            out = name("t")
            prm = [name(p) for p in ("s", "o", "m", "v")]
            for p in prm:
                inits[p] = (rng.standard_normal(c) if p[0] != "v" else
                            rng.random(c) + 0.5).astype(np.float32)
            nodes.append(helper.make_node("BatchNormalization", [cur, *prm], [out],
                                          name("bn")))
            cur = out
    inits["wf"] = (rng.standard_normal((4, c * h * w)) / np.sqrt(c * h * w)).astype(np.float32)
    nodes.append(helper.make_node("Flatten", [cur], ["f"], "flatten"))
    nodes.append(helper.make_node("Gemm", ["f", "wf"], ["y"], "fc", transB=1))
    bits = draw(st.sampled_from([4, 8, 16, 32]))
    rows, cols = draw(st.sampled_from([(4, 4), (1, 1), (2, 3), (3, 5)]))
    return model(nodes, [("x", shape)], ["y"], inits), shape, bits, rows, cols


@settings(deadline=None)
@given(networks())
def test_random_networks(case: tuple) -> None:
    m, shape, bits, rows, cols = case
    g = onnx_import.from_model(m)
    x = rand(shape, 1)
    np.testing.assert_allclose(reference.run_float(g, x)["y"], ort_run(m, {"x": x})["y"],
                               rtol=1e-4, atol=1e-4)
    q = quantize.quantize(g, rand((8, *shape[1:]), 2), bits)
    c = compile.compile_network(q, rows, cols)
    xq = c.q.quantize_input(x)
    rep = runtime.Runtime(c).run(xq)
    ref = reference.run_int(c.q, xq)
    for t, v in ref.items():
        assert np.array_equal(rep.outputs[t], v), t
