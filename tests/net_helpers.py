"""Helpers of the network tests: small ONNX models built with onnx.helper, ONNX Runtime
runs (also of intermediate tensors), and the light model-zoo files of the onnx wheel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

LIGHT = Path(onnx.__file__).resolve().parent / "backend" / "test" / "data" / "light"
SUPPORTED_LIGHT = ("squeezenet", "vgg19", "resnet50", "inception_v2", "densenet121")
UNSUPPORTED_LIGHT = {"bvlc_alexnet": "LRN", "zfnet512": "LRN", "inception_v1": "LRN",
                     "shufflenet": "Transpose"}


def light(name: str) -> Path:
    return LIGHT / f"light_{name}.onnx"


def model(nodes: list[Any], inputs: list[tuple[str, tuple[int, ...]]], outputs: list[str],
          inits: dict[str, np.ndarray] | None = None, opset: int = 13) -> onnx.ModelProto:
    """A float model: inputs (name, shape), outputs of unknown shape, initializers."""
    g = helper.make_graph(
        nodes, "t",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outputs],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def ort_run(m: onnx.ModelProto | str | Path, feeds: dict[str, np.ndarray],
            extra: list[str] = ()) -> dict[str, np.ndarray]:
    """ONNX Runtime's outputs (and the tensors named in ``extra``) by name."""
    import onnxruntime as ort

    if not isinstance(m, onnx.ModelProto):
        m = onnx.load(str(m))
    m2 = onnx.ModelProto()
    m2.CopyFrom(m)
    for name in extra:
        m2.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(m2.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, feeds), strict=True))


def rand(shape: tuple[int, ...], seed: int = 0, scale: float = 1.0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)
