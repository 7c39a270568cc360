"""ONNX import and the float reference, op by op against ONNX Runtime; the errors of
what the array cannot run; the light model-zoo graphs of the onnx wheel."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from net_helpers import (
    SUPPORTED_LIGHT,
    UNSUPPORTED_LIGHT,
    light,
    model,
    ort_run,
    rand,
)
from onnx import helper, numpy_helper

from pearray.net import onnx_import, reference
from pearray.net.onnx_import import UnsupportedOperator


def check(m: onnx.ModelProto, shape: tuple[int, ...], *, atol: float = 1e-4, seed: int = 0
          ) -> onnx_import.Graph:
    """Import m, run the float reference and ONNX Runtime on one random input, compare."""
    g = onnx_import.from_model(m)
    x = rand(shape, seed)
    ours = reference.run_float(g, x)
    ref = ort_run(m, {g.input: x})
    assert list(ours) == list(ref)
    for k, v in ours.items():
        assert v.shape == ref[k].shape, k
        np.testing.assert_allclose(v, ref[k], atol=atol, rtol=1e-4, err_msg=k)
    return g


@st.composite
def conv_cases(draw: st.DrawFn) -> dict:
    groups_kind = draw(st.sampled_from(["one", "two", "depthwise"]))
    cg = draw(st.integers(1, 4))
    g = {"one": 1, "two": 2, "depthwise": draw(st.integers(2, 6))}[groups_kind]
    if groups_kind == "depthwise":
        cg = 1
    c = cg * g
    k = g * (draw(st.integers(1, 3)) if groups_kind != "depthwise" else 1)
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    pads = [draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1)),
            draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1))]
    h = draw(st.integers(max(1, kh - pads[0] - pads[2]), 9))
    w = draw(st.integers(max(1, kw - pads[1] - pads[3]), 9))
    return dict(c=c, k=k, kh=kh, kw=kw, g=g, pads=pads, h=h, w=w,
                stride=[draw(st.integers(1, 3)), draw(st.integers(1, 3))],
                bias=draw(st.booleans()), relu=draw(st.booleans()))


@given(conv_cases())
def test_conv_matches_onnxruntime(case: dict) -> None:
    c, k, kh, kw, g = case["c"], case["k"], case["kh"], case["kw"], case["g"]
    inits = {"w": rand((k, c // g, kh, kw), 1)}
    ins = ["x", "w"]
    if case["bias"]:
        inits["b"] = rand((k,), 2)
        ins.append("b")
    nodes = [helper.make_node("Conv", ins, ["y" if not case["relu"] else "c"], "conv",
                              group=g, pads=case["pads"], strides=case["stride"],
                              kernel_shape=[kh, kw])]
    if case["relu"]:
        nodes.append(helper.make_node("Relu", ["c"], ["y"], "relu"))
    gr = check(model(nodes, [("x", (2, c, case["h"], case["w"]))], ["y"], inits),
               (2, c, case["h"], case["w"]))
    assert [n.op for n in gr.nodes] == ["conv"]  # the ReLU is fused
    assert gr.nodes[0].attrs["relu"] == case["relu"]


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER", "VALID"])
@pytest.mark.parametrize("op", ["Conv", "MaxPool", "AveragePool"])
def test_auto_pad(auto_pad: str, op: str) -> None:
    inits = {"w": rand((3, 2, 3, 2), 1)} if op == "Conv" else {}
    ins = ["x", "w"] if op == "Conv" else ["x"]
    kw = {} if op == "Conv" else {"kernel_shape": [3, 2]}
    node = helper.make_node(op, ins, ["y"], "n", auto_pad=auto_pad, strides=[2, 1], **kw)
    check(model([node], [("x", (1, 2, 8, 7))], ["y"], inits), (1, 2, 8, 7))


def test_batchnorm_folds_into_the_conv_and_affine_alone() -> None:
    c = 4
    bn = {f"{p}{n}": rand((c,), i) if n != "var" else np.abs(rand((c,), i)) + 0.1
          for p in ("a_", "b_") for i, n in enumerate(("s", "t", "mean", "var"), 3)}
    nodes = [
        helper.make_node("BatchNormalization", ["x", "a_s", "a_t", "a_mean", "a_var"], ["n0"],
                         "bn_alone", epsilon=1e-3),
        helper.make_node("Relu", ["n0"], ["n1"], "relu0"),
        helper.make_node("Conv", ["n1", "w"], ["n2"], "conv", pads=[1, 1, 1, 1],
                         kernel_shape=[3, 3]),
        helper.make_node("BatchNormalization", ["n2", "b_s", "b_t", "b_mean", "b_var"], ["n3"],
                         "bn_after"),
        helper.make_node("Relu", ["n3"], ["y"], "relu1"),
    ]
    g = check(model(nodes, [("x", (2, c, 5, 5))], ["y"], {**bn, "w": rand((c, c, 3, 3), 9)}),
              (2, c, 5, 5))
    assert [(n.op, n.source) for n in g.nodes] == [
        ("affine", "BatchNormalization+Relu"), ("conv", "Conv+BatchNormalization+Relu")]


@pytest.mark.parametrize("op, first", [("Mul", True), ("Mul", False), ("Add", True),
                                       ("Add", False), ("Sub", True), ("Sub", False),
                                       ("Div", True)])
@pytest.mark.parametrize("shape", [(3, 1, 1), (1, 3, 1, 1), (1,)])
def test_per_channel_constants_are_affine(op: str, shape: tuple[int, ...], first: bool) -> None:
    ins = ["x", "k"] if first else ["k", "x"]
    k = rand(shape, 4) + 2.0
    g = check(model([helper.make_node(op, ins, ["y"], "n")], [("x", (2, 3, 4, 4))], ["y"],
                    {"k": k}), (2, 3, 4, 4))
    assert [n.op for n in g.nodes] == ["affine"]


def test_conv_then_mul_add_relu_is_one_conv() -> None:
    """DenseNet's pattern: Conv, BatchNormalization, Mul and Add by Unsqueezed constants."""
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], "conv", kernel_shape=[1, 1]),
        helper.make_node("Unsqueeze", ["s"], ["s3"], "u0", axes=[1, 2]),
        helper.make_node("Mul", ["c", "s3"], ["m"], "mul"),
        helper.make_node("Unsqueeze", ["t"], ["t3"], "u1", axes=[1, 2]),
        helper.make_node("Add", ["m", "t3"], ["a"], "add"),
        helper.make_node("Relu", ["a"], ["y"], "relu"),
    ]
    m = model(nodes, [("x", (1, 3, 4, 4))], ["y"],
              {"w": rand((5, 3, 1, 1), 1), "s": rand((5,), 2), "t": rand((5,), 3)}, opset=11)
    g = check(m, (1, 3, 4, 4))
    assert len(g.nodes) == 1 and g.nodes[0].source == "Conv+Mul+Add+Relu"


@pytest.mark.parametrize("opset", [6, 11, 13])
def test_clip_zero_to_max(opset: int) -> None:
    if opset < 11:
        node = helper.make_node("Clip", ["c"], ["y"], "clip", min=0.0, max=0.5)
        inits = {}
    else:
        node = helper.make_node("Clip", ["c", "lo", "hi"], ["y"], "clip")
        inits = {"lo": np.array(0, np.float32), "hi": np.array(0.5, np.float32)}
    conv = helper.make_node("Conv", ["x", "w"], ["c"], "conv", kernel_shape=[1, 1])
    g = check(model([conv, node], [("x", (1, 2, 3, 3))], ["y"], {**inits,
                                                                 "w": rand((2, 2, 1, 1))},
                    opset=opset), (1, 2, 3, 3))
    assert g.nodes[0].attrs == {**g.nodes[0].attrs, "relu": True, "clip": 0.5}


@pytest.mark.parametrize("count_include_pad", [0, 1])
def test_pooling(count_include_pad: int) -> None:
    nodes = [
        helper.make_node("MaxPool", ["x"], ["m"], "max", kernel_shape=[3, 2], strides=[2, 1],
                         pads=[1, 0, 2, 1]),
        helper.make_node("AveragePool", ["m"], ["a"], "avg", kernel_shape=[3, 3],
                         strides=[1, 2], pads=[1, 1, 0, 2], count_include_pad=count_include_pad),
        helper.make_node("GlobalAveragePool", ["a"], ["y"], "gap"),
    ]
    g = check(model(nodes, [("x", (2, 3, 9, 8))], ["y"]), (2, 3, 9, 8))
    assert [n.op for n in g.nodes] == ["maxpool", "avgpool", "avgpool"]


@pytest.mark.parametrize("trans_b, alpha, beta, c_shape", [
    (1, 1.0, 1.0, (4,)), (0, 0.5, 2.0, (1, 4)), (1, 1.0, 1.0, None)])
def test_gemm(trans_b: int, alpha: float, beta: float, c_shape: tuple | None) -> None:
    inits = {"b": rand((4, 6) if trans_b else (6, 4), 1)}
    ins = ["x", "b"]
    if c_shape:
        inits["c"] = rand(c_shape, 2)
        ins.append("c")
    node = helper.make_node("Gemm", ins, ["y"], "fc", transB=trans_b, alpha=alpha, beta=beta)
    g = check(model([node], [("x", (3, 6))], ["y"], inits), (3, 6))
    assert [n.op for n in g.nodes] == ["gemm"]


def test_matmul_add_is_one_gemm() -> None:
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"], "mm"),
             helper.make_node("Add", ["m", "b"], ["y"], "bias")]
    g = check(model(nodes, [("x", (2, 5))], ["y"], {"w": rand((5, 3)), "b": rand((3,), 1)}),
              (2, 5))
    assert [(n.op, n.source) for n in g.nodes] == [("gemm", "MatMul+Add")]


def test_flatten_and_reshape_are_absorbed_by_the_gemm() -> None:
    """A Flatten (or a Reshape whose shape is computed from Shape/Gather/Unsqueeze/Concat,
    as exporters write it) before a Gemm: the Gemm's kernel covers the (C, H, W) map."""
    nodes = [
        helper.make_node("MaxPool", ["x"], ["p"], "pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Shape", ["p"], ["sh"], "shape"),
        helper.make_node("Gather", ["sh", "zero"], ["n"], "gather", axis=0),
        helper.make_node("Unsqueeze", ["n", "ax"], ["n1"], "unsq"),
        helper.make_node("Concat", ["n1", "minus1"], ["target"], "cat", axis=0),
        helper.make_node("Reshape", ["p", "target"], ["r"], "reshape"),
        helper.make_node("Gemm", ["r", "w1"], ["f"], "fc1", transB=1),
        helper.make_node("Relu", ["f"], ["f1"], "relu"),
        helper.make_node("Flatten", ["f1"], ["f2"], "flat"),
        helper.make_node("Gemm", ["f2", "w2"], ["y"], "fc2", transB=1),
    ]
    inits = {"zero": np.array(0, np.int64), "ax": np.array([0], np.int64),
             "minus1": np.array([-1], np.int64), "w1": rand((7, 3 * 3 * 2), 1),
             "w2": rand((4, 7), 2)}
    g = check(model(nodes, [("x", (2, 3, 6, 4))], ["y"], inits), (2, 3, 6, 4))
    assert [n.op for n in g.nodes] == ["maxpool", "gemm", "gemm"]
    assert g.nodes[1].params["w"].shape == (7, 3, 3, 2)


def test_add_sum_concat_dropout_identity() -> None:
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], "relu_in"),
        helper.make_node("Dropout", ["a"], ["d"], "drop"),
        helper.make_node("Identity", ["d"], ["i"], "id"),
        helper.make_node("Conv", ["i", "w"], ["c"], "conv", kernel_shape=[1, 1]),
        helper.make_node("Sum", ["c", "i", "x"], ["s"], "sum"),
        helper.make_node("Add", ["s", "x"], ["t"], "add"),
        helper.make_node("Relu", ["t"], ["u"], "relu"),
        helper.make_node("Concat", ["u", "c", "x"], ["y"], "cat", axis=1),
    ]
    g = check(model(nodes, [("x", (2, 3, 4, 4))], ["y"], {"w": rand((3, 3, 1, 1))}),
              (2, 3, 4, 4))
    # Sum of three: a chain of two adds (the eltwise kernel adds two)
    assert [n.op for n in g.nodes] == ["add", "conv", "add", "add", "add", "concat"]
    assert g.nodes[4].attrs["relu"] and all(len(n.inputs) <= 2 for n in g.nodes[:5])


@pytest.mark.parametrize("opset, shape, axis", [(11, (2, 5, 1, 1), None), (13, (2, 5), -1),
                                                (11, (2, 3, 2, 2), 1)])
def test_final_softmax_runs_on_the_host(opset: int, shape: tuple, axis: int | None) -> None:
    kw = {} if axis is None else {"axis": axis}
    nodes = [helper.make_node("Relu", ["x"], ["r"], "relu"),
             helper.make_node("Softmax", ["r"], ["y"], "softmax", **kw)]
    g = check(model(nodes, [("x", shape)], ["y"], opset=opset), shape)
    assert g.nodes[-1].op == "softmax" and g.array_outputs() == ["r"]


def test_constants_from_constant_nodes() -> None:
    nodes = [
        helper.make_node("Constant", [], ["wshape"], "k0",
                         value=numpy_helper.from_array(np.array([2, 3, 1, 1], np.int64))),
        helper.make_node("ConstantOfShape", ["wshape"], ["w"], "k1",
                         value=numpy_helper.from_array(np.array([0.25], np.float32))),
        helper.make_node("Constant", [], ["b"], "k2", value_floats=[0.5, -1.0]),
        helper.make_node("Conv", ["x", "w", "b"], ["y"], "conv", kernel_shape=[1, 1]),
    ]
    g = check(model(nodes, [("x", (1, 3, 2, 2))], ["y"]), (1, 3, 2, 2))
    assert np.all(g.nodes[0].params["w"] == 0.25)


def test_input_shape_override_and_symbolic_batch() -> None:
    nodes = [helper.make_node("Relu", ["x"], ["y"], "relu")]
    m = model(nodes, [("x", ("N", 2, 3, 3))], ["y"])
    with pytest.raises(onnx_import.ModelError, match="symbolic shape"):
        onnx_import.from_model(m)
    g = onnx_import.from_model(m, input_shape=(5, 2, 3, 3))
    assert g.tensors["y"].shape == (5, 2, 3, 3)


# ------------------------------------------------------------------ refusals


def refusal(nodes: list, shape: tuple, inits: dict | None = None, opset: int = 13
            ) -> UnsupportedOperator:
    m = model(nodes, [("x", shape)], ["y"], inits, opset=opset)
    with pytest.raises(UnsupportedOperator) as exc:
        onnx_import.from_model(m)
    text = str(exc.value)
    assert "supported operators: " in text and "Conv" in text and "MaxPool" in text
    return exc.value


def test_unknown_operator_names_op_node_and_index() -> None:
    err = refusal([helper.make_node("Relu", ["x"], ["r"], "first"),
                   helper.make_node("LRN", ["r"], ["y"], "norm1", size=3)], (1, 3, 4, 4))
    assert (err.op, err.node, err.index) == ("LRN", "norm1", 1)
    assert "unsupported operator LRN (node 1, 'norm1')" in str(err)


def test_unnamed_node_gets_op_and_index() -> None:
    err = refusal([helper.make_node("Transpose", ["x"], ["y"], perm=[0, 1, 3, 2])],
                  (1, 3, 4, 4))
    assert err.node == "Transpose_0"


@pytest.mark.parametrize("node, why", [
    (helper.make_node("Conv", ["x", "w"], ["y"], "c", dilations=[2, 2], kernel_shape=[3, 3]),
     "dilations"),
    (helper.make_node("Conv", ["x", "w"], ["y"], "c", auto_pad="WEIRD", kernel_shape=[3, 3]),
     "auto_pad"),
    (helper.make_node("MaxPool", ["x"], ["y"], "p", kernel_shape=[2, 2], strides=[2, 2],
                      ceil_mode=1), "ceil_mode"),
    (helper.make_node("Concat", ["x", "x"], ["y"], "c", axis=2), "axis"),
    (helper.make_node("Mul", ["x", "x"], ["y"], "m"), "Mul of two tensors"),
    (helper.make_node("Add", ["x", "full"], ["y"], "a"), "one value per channel"),
    (helper.make_node("Clip", ["x", "lo"], ["y"], "c"), "Clip(0, max)"),
    (helper.make_node("Reshape", ["x", "shape5"], ["y"], "r"), "only to (N, features)"),
])
def test_unsupported_attributes(node: object, why: str) -> None:
    inits = {"w": rand((2, 3, 3, 3)), "full": rand((1, 3, 5, 5)),
             "lo": np.array(-1, np.float32), "shape5": np.array([1, 3, 5, 5, 1], np.int64)}
    used = {i for i in node.input}
    err = refusal([node], (1, 3, 5, 5), {k: v for k, v in inits.items() if k in used})
    assert why in str(err)


def test_softmax_must_be_final() -> None:
    err = refusal([helper.make_node("Softmax", ["x"], ["s"], "sm"),
                   helper.make_node("Relu", ["s"], ["y"], "relu")], (1, 4))
    assert err.op == "Softmax" and "final" in str(err)


def test_not_a_model(tmp_path) -> None:  # noqa: ANN001
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00garbage")
    with pytest.raises(onnx_import.ModelError, match="not an ONNX model"):
        onnx_import.load(bad)
    with pytest.raises(onnx_import.ModelError, match="no such file"):
        onnx_import.load(tmp_path / "missing.onnx")


# ------------------------------------------------------------------ the model zoo


@pytest.mark.parametrize("name, op", sorted(UNSUPPORTED_LIGHT.items()))
def test_light_models_with_unsupported_operators(name: str, op: str) -> None:
    with pytest.raises(UnsupportedOperator) as exc:
        onnx_import.load(light(name))
    assert exc.value.op == op


@pytest.mark.parametrize("name", SUPPORTED_LIGHT)
def test_light_models_import_and_match_onnxruntime(name: str) -> None:
    """Every output and the tensor before the final softmax (the weights are constants in
    these files, so the softmax alone would hide errors)."""
    g = onnx_import.load(light(name))
    x = rand(g.tensors[g.input].shape, 3)
    pre = g.array_outputs()
    ref = ort_run(light(name), {g.input: x}, extra=[t for t in pre if t not in g.outputs])
    vals = {}
    reference.run_float(g, x, observe=lambda t, v: vals.__setitem__(t, v) if t in pre else None)
    for t in pre:
        scale = float(np.abs(ref[t]).max())
        np.testing.assert_allclose(vals[t], ref[t], atol=1e-5 * scale, rtol=1e-4, err_msg=t)
    ours = reference.run_float(g, x)
    for k, v in ours.items():
        np.testing.assert_allclose(v, ref[k], atol=1e-6, err_msg=k)
