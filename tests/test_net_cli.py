"""`pearray model`: the JSON report, the files of --out, and bad input as exit 2 with a
one-line reason (never a traceback, never a half-written file)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from net_helpers import model, ort_run, rand
from onnx import helper

from pearray.cli import main
from pearray.net.report import SCALESIM_COLUMNS

SHAPE = (3, 6, 7)


def small_model(final: str = "Softmax") -> onnx.ModelProto:
    nodes = [
        helper.make_node("Conv", ["x", "w0", "b0"], ["a"], "c0", kernel_shape=[3, 3],
                         pads=[1, 0, 2, 1], strides=[1, 2]),
        helper.make_node("Relu", ["a"], ["a1"], "r0"),
        helper.make_node("Conv", ["a1", "w1", "b1"], ["p"], "c1", pads=[1, 1, 1, 1],
                         kernel_shape=[3, 3], group=2),
        helper.make_node("Flatten", ["p"], ["f"], "fl"),
        helper.make_node("Gemm", ["f", "wf", "bf"], ["g"], "fc", transB=1),
        helper.make_node(final, ["g"], ["y"], "last"),
    ]
    inits = {"w0": rand((6, 3, 3, 3), 1), "b0": rand((6,), 2), "w1": rand((4, 3, 3, 3), 3, 0.3),
             "b1": rand((4,), 4), "wf": rand((5, 4 * 7 * 3), 6, 0.2), "bf": rand((5,), 7)}
    return model(nodes, [("x", ("N", *SHAPE))], ["y"], inits)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {"model": tmp_path / "m.onnx", "x": tmp_path / "x.npy", "cal": tmp_path / "cal.npy"}
    onnx.save(small_model(), out["model"])
    np.save(out["x"], rand((4, *SHAPE), 5))
    np.save(out["cal"], rand((16, *SHAPE), 6))
    return out


def test_json_report(files: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    rc = main(["model", str(files["model"]), "--input", str(files["x"]), "--calib",
               str(files["cal"]), "--bits", "16", "--rows", "2", "--cols", "3", "--json"])
    out = capsys.readouterr()
    assert rc == 0 and "warning" not in out.err
    rep = json.loads(out.out)
    y = np.array(rep["outputs"]["y"])
    ref = ort_run(files["model"], {"x": np.load(files["x"])})["y"]
    assert y.shape == (4, 5) and np.allclose(y.sum(axis=1), 1)
    assert np.abs(y - ref).max() < 0.02  # 16 bits, then the host's softmax
    assert rep["softmax_on_host"] is True and rep["array"] == [2, 3]
    assert [s["name"] for s in rep["layers"]] == ["c0", "c1", "fc"]
    for s in rep["layers"]:
        assert {"name", "op", "bits", "cycles", "macs", "utilisation", "loads", "stores",
                "stalls"} <= set(s)
        assert set(s["loads"]) == set(s["stores"]) == {"lm", "sm", "gm"}
        assert s["cycles"] > 0 and 0 < s["utilisation"] <= 1
    assert rep["cycles"] == sum(s["cycles"] for s in rep["layers"])
    h = rep["host"]
    assert h["input_bytes"] == 4 * 3 * 6 * 7 * 2  # 16-bit input
    assert h["output_bytes"] == 4 * 5 * 4  # int32 logits
    assert h["bytes_written"] == h["parameter_bytes"] + h["input_bytes"]
    assert h["bytes_read"] == h["output_bytes"] and h["words_read"] == 20
    assert h["between_layers_bytes"] == 0
    assert rep["gm_bytes"] >= h["parameter_bytes"]


def test_out_files_and_warning(files: dict[str, Path], tmp_path: Path,
                               capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    rc = main(["model", str(files["model"]), "--input", str(files["x"]), "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 0
    assert "calibrated on the inputs themselves" in captured.err
    assert "Softmax ran on the host" in captured.out
    lines = (out / "layers.csv").read_text().splitlines()
    assert lines[0].split(",")[:6] == list(SCALESIM_COLUMNS)
    assert [r.split(",")[6] for r in lines[1:]] == ["c0", "c1", "fc"]
    assert (out / "layers.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "report.json").read_text())["layers"][0]["name"] == "c0"
    assert not list(out.glob(".*"))


def _bad_inputs(tmp: Path) -> dict[str, Path]:
    out = {}
    for name, value in (("wrong_shape", rand((2, 3, 6, 6))), ("wrong_rank", rand((3, 6, 7))),
                        ("strings", np.array(["a", "b"])),
                        ("nan", np.full((1, *SHAPE), np.nan, np.float32)),
                        ("empty", np.zeros((0, *SHAPE), np.float32))):
        out[name] = tmp / f"{name}.npy"
        np.save(out[name], value)
    out["text"] = tmp / "text.npy"
    out["text"].write_text("not numpy")
    return out


@pytest.mark.parametrize("case, message", [
    ("wrong_shape", "the model takes (N, 3, 6, 7)"),
    ("wrong_rank", "the model takes (N, 3, 6, 7)"),
    ("strings", "numbers expected"),
    ("nan", "NaN"),
    ("empty", "no images"),
    ("text", "not a .npy array"),
    ("missing", "no such file"),
])
def test_bad_input_exit_2(case: str, message: str, files: dict[str, Path], tmp_path: Path,
                          capsys: pytest.CaptureFixture) -> None:
    bad = _bad_inputs(tmp_path)
    path = bad.get(case, tmp_path / "missing.npy")
    assert main(["model", str(files["model"]), "--input", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize("args, message", [
    (["--bits", "12"], "widths are"),
    (["--bits", "8,x"], "one width or a comma list"),
    (["--bits", "8,16"], "2 widths for 3 conv/gemm layers"),
    (["--rows", "0"], "--rows and --cols must be 1..16"),
    (["--batch", "0"], "--batch must be a positive number"),
    (["--out", "/proc/pearray-cannot-write"], "cannot write to --out"),
])
def test_bad_options_exit_2(args: list[str], message: str, files: dict[str, Path],
                            capsys: pytest.CaptureFixture) -> None:
    assert main(["model", str(files["model"]), "--input", str(files["x"]), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_out_file_in_the_way_exit_2(files: dict[str, Path], tmp_path: Path,
                                    capsys: pytest.CaptureFixture) -> None:
    """A folder where layers.csv goes is refused before the run, and nothing is written."""
    out = tmp_path / "out"
    (out / "layers.csv").mkdir(parents=True)
    assert main(["model", str(files["model"]), "--input", str(files["x"]), "--out",
                 str(out)]) == 2
    err = capsys.readouterr().err
    assert "--out file" in err and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == ["layers.csv"]


def test_unsupported_operator_and_bad_model_exit_2(files: dict[str, Path], tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    lrn = tmp_path / "lrn.onnx"
    onnx.save(small_model("LRN"), lrn)
    assert main(["model", str(lrn), "--input", str(files["x"])]) == 2
    err = capsys.readouterr().err
    assert "unsupported operator LRN (node 5, 'last')" in err and "supported operators:" in err
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x08\x07junk")
    assert main(["model", str(junk), "--input", str(files["x"])]) == 2
    assert "not an ONNX model" in capsys.readouterr().err
    assert main(["model", str(tmp_path / "none.onnx"), "--input", str(files["x"])]) == 2
    assert "no such file" in capsys.readouterr().err
