"""Export the shipped digits LeNet (lenet_digits.npz) to ONNX with onnx.helper: no torch.

The graph follows models/lenet.py layer for layer, one ONNX node per entry of
``lenet.LAYERS`` with the same names (conv1, relu1, pool1, ..., fc2), so the network
compiler's per-layer reports keep the experiment's layer names. Input ``input``
(N, 1, 8, 8) with a symbolic batch; output ``logits`` (N, 10); opset 13, IR version 8.

The bytes depend only on the weights (protobuf serialises deterministically and no
timestamp goes in), so ``--check`` verifies the shipped lenet_digits.onnx is this export.

Run from the repo root with either of:
    python models/export_onnx.py [--out models/] [--check]
    python -m pearray.models.export_onnx [--out DIR] [--check]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

try:  # imported as pearray.models.export_onnx
    from . import lenet
except ImportError:  # run as a plain script: python models/export_onnx.py
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import lenet  # type: ignore[no-redef]

ONNX_FILE = "lenet_digits.onnx"
OPSET = 13
IR_VERSION = 8


def default_onnx_path() -> Path:
    return Path(__file__).resolve().parent / ONNX_FILE


def build(params: dict[str, np.ndarray], weights_sha256: str = "") -> object:
    """The ONNX ModelProto of the LeNet with these float32 weights."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    cur = "input"
    for layer in lenet.LAYERS:
        name, kind = layer["name"], layer["kind"]
        out = "logits" if name == lenet.LAYERS[-1]["name"] else name
        if kind in ("conv", "linear"):
            w, b = f"{name}.weight", f"{name}.bias"
            inits += [numpy_helper.from_array(params[w].astype(np.float32), w),
                      numpy_helper.from_array(params[b].astype(np.float32), b)]
        if kind == "conv":
            k, p, s = layer["kernel"], layer["pad"], layer["stride"]
            nodes.append(helper.make_node("Conv", [cur, w, b], [out], name, kernel_shape=[k, k],
                                          pads=[p, p, p, p], strides=[s, s]))
        elif kind == "relu":
            nodes.append(helper.make_node("Relu", [cur], [out], name))
        elif kind == "maxpool":
            k, s = layer["kernel"], layer["stride"]
            nodes.append(helper.make_node("MaxPool", [cur], [out], name, kernel_shape=[k, k],
                                          strides=[s, s]))
        elif kind == "flatten":
            nodes.append(helper.make_node("Flatten", [cur], [out], name, axis=1))
        elif kind == "linear":
            nodes.append(helper.make_node("Gemm", [cur, w, b], [out], name, transB=1))
        else:
            raise ValueError(f"no ONNX export for layer kind {kind!r}")
        cur = out
    c, h, w_ = lenet.INPUT_SHAPE
    graph = helper.make_graph(
        nodes, "lenet_digits",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", c, h, w_])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", lenet.NUM_CLASSES])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="pearray models/export_onnx.py",
                              doc_string="LeNet for sklearn's 8x8 digits; weights "
                              f"lenet_digits.npz sha256 {weights_sha256}")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def export_bytes(npz: Path | None = None) -> bytes:
    path = npz or lenet.default_weights_path()
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    return build(lenet.load_weights(path), sha).SerializeToString()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                    help="output folder (default: this module's folder)")
    ap.add_argument("--check", action="store_true",
                    help="compare with the file in --out instead of writing it")
    args = ap.parse_args(argv)
    blob = export_bytes()
    target = args.out / ONNX_FILE
    if args.check:
        same = target.is_file() and target.read_bytes() == blob
        print(f"{target}: {'matches' if same else 'DIFFERS from'} the export")
        return 0 if same else 1
    args.out.mkdir(parents=True, exist_ok=True)
    target.write_bytes(blob)
    print(f"wrote {target} ({len(blob)} bytes, sha256 {hashlib.sha256(blob).hexdigest()})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
