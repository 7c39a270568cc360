"""Whole networks end to end on the array: the digits LeNet against ONNX Runtime (16-bit
within 1% of the output range, 8-bit argmax agreement >= 98% on the test split) and the
smallest model-zoo graph of the onnx wheel (SqueezeNet, on small images) bit for bit
against the integer reference, with the host's traffic exactly input, parameters and
output."""

from __future__ import annotations

import numpy as np
import pytest
from net_helpers import light, ort_run, rand

from pearray.models import data, export_onnx
from pearray.net import model, reference


@pytest.fixture(scope="module")
def digits() -> dict:
    split = data.load_split()
    xt = split["test"][0]
    ref = ort_run(export_onnx.default_onnx_path(), {"input": xt})["logits"]
    return {"x": xt, "calib": split["calib"][0], "ort": ref}


@pytest.mark.parametrize("bits", [8, 16])
def test_lenet_on_the_array_against_onnxruntime(bits: int, digits: dict) -> None:
    run = model.run(export_onnx.default_onnx_path(), digits["x"], calib=digits["calib"],
                    bits=bits, batch=120)
    out, ref = run.outputs["logits"], digits["ort"]
    agree = float((out.argmax(1) == ref.argmax(1)).mean())
    err = float(np.abs(out - ref).max() / (ref.max() - ref.min()))
    assert agree >= 0.98, agree
    if bits == 16:
        assert err <= 0.01, err
    assert run.host_bytes_written == run.parameter_bytes + run.input_bytes
    assert run.host_bytes_read == run.output_bytes
    assert run.batches == 3 and [s.name for s in run.layers] == [
        "conv1", "pool1", "conv2", "pool2", "fc1", "fc2"]


@pytest.mark.parametrize("bits, tol", [(8, 0.25), (16, 0.02)])
def test_squeezenet_end_to_end(bits: int, tol: float) -> None:
    """SqueezeNet 1.1 of the onnx wheel (26 convs, 8 concats, 3 max pools, a global average
    pool, the final softmax on the host) on 32x32 images on 4x4 PEs. Its weights are the
    constant 0.02, so every channel carries the same values and weight rounding errors do
    not average out; at 8 bits KL thresholds clip those odd distributions (fire3's squeeze
    by 43%): the output is 17% off float there, 1.1% at 16 bits."""
    x = rand((1, 3, 32, 32), 7)
    run = model.run(light("squeezenet"), x, bits=bits, input_shape=(3, 32, 32))
    q = run.q
    ints = reference.run_int(q, q.quantize_input(x))
    for t, v in ints.items():
        assert np.array_equal(run.int_outputs[t], v), t
    assert sorted({s.op for s in run.layers}) == ["avgpool", "conv", "maxpool"]
    assert len([s for s in run.layers if s.op == "conv"]) == 26  # concats cost nothing
    assert run.host_bytes_written == run.parameter_bytes + run.input_bytes
    assert run.host_bytes_read == run.output_bytes
    assert run.to_json()["softmax_on_host"] is True
    # against the float network (which equals ONNX Runtime: test_net_import): the tensor
    # before the softmax, dequantized
    pre = q.graph.array_outputs()[0]
    vals = {}
    reference.run_float(run.graph, x, observe=lambda t, v: vals.__setitem__(t, v))
    got = q.dequantize(pre, run.int_outputs[pre])
    assert np.abs(got - vals[pre]).max() <= tol * np.abs(vals[pre]).max()
    np.testing.assert_allclose(run.outputs["softmaxout_1"], vals["softmaxout_1"], atol=1e-6)
