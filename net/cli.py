"""`pearray model MODEL.onnx --input X.npy`: a user's network on the emulated array.

Exit status: 0 done; 1 a trap on the array; 2 bad input (a missing or malformed file,
an operator the array cannot run, bad --bits), always with a one-line reason.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from pearray.cli import UsageError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "model", help="run an ONNX network on the emulated array",
        description="Import an ONNX CNN, calibrate it with the paper's method (quant/), "
        "compile it to kernel launches and run it on the emulated array: the host writes "
        "the parameters and the input once and reads the output once.")
    p.add_argument("model", metavar="MODEL.onnx", help="the network")
    p.add_argument("--input", required=True, metavar="X.npy",
                   help="inputs (N, ...) as the model takes them, float")
    p.add_argument("--calib", metavar="CAL.npy",
                   help="calibration inputs (default: the inputs, with a warning)")
    p.add_argument("--bits", default="8", metavar="B[,B...]",
                   help="one width (4, 8, 16, 32) or one per conv/gemm layer in graph order")
    p.add_argument("--rows", type=int, default=4, help="array rows (default 4)")
    p.add_argument("--cols", type=int, default=4, help="array columns (default 4)")
    p.add_argument("--rounding", choices=("nearest", "stochastic"), default="nearest",
                   help="weight rounding and requantisation (default nearest)")
    p.add_argument("--seed", type=int, default=0, help="rounding seed")
    p.add_argument("--batch", type=int, default=None,
                   help="images per run (default: the model's batch, or all)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--out", metavar="DIR", help="write report.json, layers.csv, layers.png")
    p.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    from . import model, quantize, report
    from .compile import CompileError
    from .onnx_import import ModelError

    try:
        bits = quantize.parse_bits(args.bits)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if not (1 <= args.rows <= 16 and 1 <= args.cols <= 16):
        raise UsageError("--rows and --cols must be 1..16")
    if args.batch is not None and args.batch < 1:
        raise UsageError("--batch must be a positive number")
    if args.out:
        try:
            Path(args.out).mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=args.out):
                pass
        except OSError as exc:
            raise UsageError(f"cannot write to --out {args.out}: {exc.strerror}") from None
        from pearray import files

        for name in report.OUTPUTS:  # a FIFO, a folder or an input in the way: say so now
            try:
                files.check_output(Path(args.out) / name, (args.model, args.input, args.calib),
                                   what="--out file")
            except files.OutputError as exc:
                raise UsageError(str(exc)) from None
    if not Path(args.model).is_file():
        raise UsageError(f"{args.model}: no such file")
    try:
        x = model.load_array(args.input, "--input")
        cal = model.load_array(args.calib, "--calib") if args.calib else None
        run = model.run(args.model, x, calib=cal, bits=bits if len(bits) > 1 else bits[0],
                        rows=args.rows, cols=args.cols, rounding=args.rounding,
                        seed=args.seed, batch=args.batch)
    except (ModelError, CompileError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    except RuntimeError as exc:  # a trap on the array: the kernels' fault, not the user's
        print(f"pearray: {exc}", file=sys.stderr)
        return 1
    rep = run.to_json()
    for w in run.warnings:
        print(f"pearray: warning: {w}", file=sys.stderr)
    if args.out:
        rep["files"] = report.write(args.out, rep, run.layers, args.rows * args.cols,
                                    f"{run.graph.name} on {args.rows}x{args.cols}")
    if args.json:
        print(json.dumps(rep))
    else:
        print(report.table(rep))
        if args.out:
            print("wrote " + ", ".join(rep["files"]))
    return 0
