"""Real networks no one here wrote, end to end on the emulated array, against ONNX Runtime.

The onnx wheel ships model-zoo graphs in onnx/backend/test/data/light/ (their weights
are real-sized; the files fill them with constants through ConstantOfShape). Each one
whose operators the array runs is imported, calibrated on its input (the warning is
expected here), compiled and run on a 16x16 array at 8 bits; its output, and the tensor
before its final softmax, are compared with ONNX Runtime's on the same input, and with
the numpy integer reference (bit for bit). Those that need an unsupported operator
print the importer's error. The digits LeNet (models/lenet_digits.onnx) runs too, on
the digits test split.

    python bench/bench_models.py [--models squeezenet,vgg19] [--rows 16 --cols 16]
                                 [--bits 8] [--size 224]

Needs onnxruntime (the `test` extra). Figures are measured in this run; host time is the
wall and the CPU time of import + quantize + compile + run (the emulator runs on one core;
on a shared machine the wall time includes waiting for it).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
import onnx

LIGHT = Path(onnx.__file__).resolve().parent / "backend" / "test" / "data" / "light"
MODELS = ("squeezenet", "vgg19", "resnet50", "inception_v2", "densenet121", "bvlc_alexnet",
          "zfnet512", "inception_v1", "shufflenet")


def randomize(path: Path, out: Path, seed: int = 0) -> Path:
    """The model with its ConstantOfShape weights replaced by random ones of the same
    shape (He-normal conv/fc weights, small biases, BatchNormalization statistics near
    the identity, Mul/Add constants near 1 / 0): the architecture is the file's, the
    values look like a trained network's, so channels differ and errors can average."""
    from onnx import numpy_helper

    m = onnx.load(str(path))
    rng = np.random.default_rng(seed)
    consts = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    role: dict[str, str] = {}
    for n in m.graph.node:
        for i, name in enumerate(n.input):
            if n.op_type in ("Conv", "Gemm"):
                role.setdefault(name, "weight" if i == 1 else "bias")
            elif n.op_type == "BatchNormalization":
                role.setdefault(name, ("x", "scale", "shift", "mean", "var")[i])
            elif n.op_type == "Unsqueeze":
                for m2 in m.graph.node:
                    if n.output[0] in m2.input:
                        role.setdefault(name, "scale" if m2.op_type == "Mul" else "shift")
    keep = []
    for n in m.graph.node:
        if n.op_type != "ConstantOfShape" or n.input[0] not in consts:
            keep.append(n)
            continue
        shape = tuple(int(d) for d in consts[n.input[0]].reshape(-1))
        r = role.get(n.output[0], "shift")
        if r == "weight":
            fan = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
            v = rng.standard_normal(shape) * np.sqrt(2.0 / fan)
        elif r == "scale":
            v = 1 + 0.1 * rng.standard_normal(shape)
        elif r == "var":
            v = 1 + 0.1 * np.abs(rng.standard_normal(shape))
        else:
            v = 0.05 * rng.standard_normal(shape)
        m.graph.initializer.append(numpy_helper.from_array(v.astype(np.float32),
                                                           n.output[0]))
    del m.graph.node[:]
    m.graph.node.extend(keep)
    onnx.save(m, str(out))
    return out


def ort_outputs(path: Path, x: np.ndarray, extra: list[str]) -> dict[str, np.ndarray]:
    import onnxruntime as ort
    from onnx import TensorProto, helper

    m = onnx.load(str(path))
    for name in extra:
        m.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(m.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    inp = sess.get_inputs()[0].name
    return dict(zip(names, sess.run(names, {inp: x}), strict=True))


def compare(ours: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    ours = ours.reshape(len(ours), -1).astype(np.float64)
    ref = ref.reshape(len(ref), -1).astype(np.float64)
    scale = float(np.abs(ref).max()) or 1.0
    return {"max_abs": float(np.abs(ours - ref).max()),
            "rel": float(np.abs(ours - ref).max() / scale),
            "argmax": float((ours.argmax(1) == ref.argmax(1)).mean()),
            "distinct": int(len(np.unique(np.round(ref, 6))))}


def run_one(path: Path, x: np.ndarray, calib: np.ndarray | None, bits: int, rows: int,
            cols: int, input_shape: tuple[int, ...] | None = None) -> dict:
    from pearray.net import model, reference

    t0, c0 = time.perf_counter(), time.process_time()
    run = model.run(path, x, calib=calib, bits=bits, rows=rows, cols=cols,
                    input_shape=input_shape)
    host_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    q = run.q
    g = q.graph
    pre = g.array_outputs()[0]
    ref = ort_outputs(path, x, [pre] if pre not in g.outputs else [])
    exact = True
    b = run.compiled.batch
    for i in range(0, len(x), b):
        ints = reference.run_int(q, q.quantize_input(x[i:i + b]))
        for t, v in ints.items():
            exact &= bool(np.array_equal(v, run.int_outputs[t][i:i + b]))
    out_name = g.output_names[0]
    pre_float = q.dequantize(pre, run.int_outputs[pre])
    ort_pre_name = pre if pre in ref else out_name
    macs = sum(s.macs for s in run.layers)
    peak = sum(s.peak for s in run.layers)
    return {
        "host_s": host_s, "cpu_s": cpu_s, "phases": run.seconds, "cycles": run.cycles,
        "launches": run.compiled.launches, "gm_mib": run.compiled.plan.gm_size / 2**20,
        "param_mib": run.parameter_bytes / 2**20, "macs": macs,
        "util": macs / peak if peak else 0.0, "exact": exact,
        "pre": compare(pre_float, ref[ort_pre_name]),
        "out": compare(run.outputs[out_name], ref[out_name]),
        "host_words": (run.host_bytes_written // 4, run.host_bytes_read // 4),
        "between": run.host_bytes_written + run.host_bytes_read - run.parameter_bytes
        - run.input_bytes - run.output_bytes,
        "softmax_on_host": any(n.op == "softmax" for n in g.nodes),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(MODELS) + ",lenet")
    ap.add_argument("--rows", type=int, default=16)
    ap.add_argument("--cols", type=int, default=16)
    ap.add_argument("--bits", type=int, default=8)
    ap.add_argument("--size", type=int, default=None,
                    help="input height and width (default: the model's)")
    ap.add_argument("--random-weights", action="store_true",
                    help="replace the files' constant weights by random ones (see randomize)")
    args = ap.parse_args(argv)
    import tempfile

    from pearray.net.onnx_import import ModelError, UnsupportedOperator

    tmp = Path(tempfile.mkdtemp(prefix="bench_models_"))
    weights = "random weights (randomize)" if args.random_weights else "the files' weights"
    print(f"light models of onnx {onnx.__version__} on a {args.rows}x{args.cols} array at "
          f"{args.bits} bits, {weights}; input: one N(0,1) image (seed 0), calibrated on "
          "itself")
    head = (f"{'model':<14} {'wall s':>7} {'cpu s':>6} {'cycles':>12} {'MACs':>12} {'util':>6} "
            f"{'launch':>6} {'GM MiB':>7} {'pre-softmax vs ORT':>26} {'output vs ORT':>22} "
            f"{'exact':>5} {'betw.':>5}")
    print(head)
    rows = []
    for name in args.models.split(","):
        if name == "lenet":
            from pearray.models import data, export_onnx

            split = data.load_split()
            path = export_onnx.default_onnx_path()
            x, calib, shape = split["test"][0], split["calib"][0], None
            label = "lenet(360)"
        else:
            path = LIGHT / f"light_{name}.onnx"
            from pearray.net import onnx_import

            if args.random_weights:
                path = randomize(path, tmp / path.name)
            try:
                g = onnx_import.load(path)
            except UnsupportedOperator as exc:
                print(f"{name:<14} unsupported: {str(exc).split('; supported')[0]}")
                continue
            except ModelError as exc:
                print(f"{name:<14} error: {exc}")
                continue
            shp = g.tensors[g.input].shape
            shape = None if args.size is None else (shp[1], args.size, args.size)
            full = shp if shape is None else (shp[0], *shape)
            x = np.random.default_rng(0).standard_normal(full).astype(np.float32)
            calib, label = None, name
        t = run_one(path, x, calib, args.bits, args.rows, args.cols, shape)
        rows.append((label, t))
        pre, out = t["pre"], t["out"]
        print(f"{label:<14} {t['host_s']:7.1f} {t['cpu_s']:6.1f} {t['cycles']:12d} {t['macs']:12d} "
              f"{100 * t['util']:5.1f}% {t['launches']:6d} {t['gm_mib']:7.1f} "
              f"  {pre['max_abs']:9.3g} {100 * pre['rel']:6.2f}% {pre['argmax']:5.2f}"
              f"   {out['max_abs']:9.3g} {out['argmax']:5.2f}{'*' if out['distinct'] < 3 else ''}"
              f"   {'yes' if t['exact'] else 'NO':>5} {t['between']:5d}")
        sys.stdout.flush()
    print("\npre-softmax vs ORT: max |ours - ORT| of the tensor before the final softmax "
          "(dequantized), that error as % of max |ORT|, argmax agreement;"
          "\noutput vs ORT: the model's output (softmax on the host) max abs error and "
          "argmax agreement (* = ORT's output has fewer than 3 distinct values: the "
          "constant weights of these files make the classes tie);"
          "\nexact: the array's integers equal the numpy integer reference; betw.: bytes "
          "the host moved between layers; wall s / cpu s: wall and CPU time (all threads) of "
          "import+quantize+compile+run (the machine is shared: wall time waits for it)")
    for label, t in rows:
        print(f"  {label}: phases {t['phases']}, host words written/read {t['host_words']}, "
              f"parameters {t['param_mib']:.1f} MiB")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    print(f"peak host memory {peak:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
