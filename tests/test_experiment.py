"""The end-to-end experiment on a few images: every figure present and consistent,
the emulated network equal to its numpy integer twin, the host's traffic exactly the
parameters, the inputs and the logits, and the CLI's bad options."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pearray.cli import main
from pearray.experiment import run
from pearray.models import data, export_onnx
from pearray.net import compile, onnx_import, quantize, reference, runtime

IMAGES = 12


@pytest.fixture(scope="module")
def report() -> dict:
    return run(images=IMAGES)


def test_every_figure_is_present(report: dict) -> None:
    assert report["images"] == IMAGES
    assert 0.5 < report["float_accuracy"] <= 1.0
    assert {str(b) for b in (4, 8, 16, 32)} <= set(report["model_size"])
    keys = {"accuracy", "accuracy_loss", "agreement_with_float", "relative_error", "cycles",
            "speedup", "time_saved", "gm_accesses", "gm_access_reduction", "accesses",
            "access_reduction", "layers", "fl", "cycles_per_image", "widths", "label",
            "uniform", "auto", "size_ratio"}
    configs = {(c["bits"], c["rounding"]): c for c in report["configs"]}
    assert set(configs) == {(b, r) for b in (32, 16, 8, 4) for r in ("nearest", "stochastic")}
    for (b, _), c in configs.items():
        assert keys <= set(c)
        assert set(c["layers"]) == {"conv1", "pool1", "conv2", "pool2", "fc1", "fc2"}
        assert c["widths"] == [b] * 4 and c["label"] == str(b) and c["uniform"]
        assert c["size_ratio"] == pytest.approx(report["model_size"][str(b)]["ratio"])
    assert report["search"] is None  # no --bits auto by default
    for key in ("speedup", "access_reduction", "relative_error_max", "time_saved_max"):
        assert key in report["paper"]


def test_figures_are_consistent(report: dict) -> None:
    by = {(c["bits"], c["rounding"]): c for c in report["configs"]}
    for (_, rounding), c in by.items():
        base = by[(32, rounding)]
        assert c["cycles"] == sum(d["cycles"] for d in c["layers"].values())
        assert c["speedup"] == pytest.approx(base["cycles"] / c["cycles"])
        assert c["time_saved"] == pytest.approx(1 - c["cycles"] / base["cycles"])
        assert c["gm_access_reduction"] == pytest.approx(1 - c["gm_accesses"] / base["gm_accesses"])
        assert c["accuracy_loss"] == pytest.approx(report["float_accuracy"] - c["accuracy"])
        preds = np.array(c["predictions"])
        assert len(preds) == IMAGES
    # narrower data: fewer cycles and fewer GM accesses, on the same network
    for rounding in ("nearest", "stochastic"):
        cycles = [by[(b, rounding)]["cycles"] for b in (8, 16, 32)]
        assert cycles == sorted(cycles) and len(set(cycles)) == 3
        assert (by[(8, rounding)]["gm_accesses"] < by[(16, rounding)]["gm_accesses"]
                < by[(32, rounding)]["gm_accesses"])
    sizes = report["model_size"]
    assert sizes["8"]["bytes"] < sizes["16"]["bytes"] < sizes["32"]["bytes"]


def test_emulated_network_equals_integer_reference(report: dict) -> None:
    for c in report["configs"]:
        if c["rounding"] == "nearest":
            assert c["matches_integer_reference"] is True, c["bits"]


def integer_lenet_by_hand(q, xq: np.ndarray) -> np.ndarray:  # noqa: ANN001
    """The quantized LeNet written here from the maths (windows x weights summed in
    int64, round half up by 2^shift, ReLU, saturation, 2x2 max), not from net/'s
    reference: the layers' integer weights, biases, shifts, pads and widths are the only
    thing taken from the QGraph `q`."""
    a = xq.astype(np.int64)
    for name in ("conv1", "pool1", "conv2", "pool2", "fc1", "fc2"):
        if name.startswith("pool"):
            n, c, h, w = a.shape
            a = a[:, :, :h // 2 * 2, :w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2)
            a = a.max(axis=(3, 5))
            continue
        qn = q.node(name)
        bits = qn.bits_out
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        if name.startswith("conv"):
            p = qn.node.attrs["pads"][0]
            s = qn.node.attrs["stride"][0]
            xp = np.pad(a, ((0, 0), (0, 0), (p, p), (p, p)))
            win = np.lib.stride_tricks.sliding_window_view(xp, qn.w.shape[2:], axis=(2, 3))
            win = win[:, :, ::s, ::s]  # (N, C, Ho, Wo, kh, kw)
            acc = np.tensordot(win, qn.w.astype(np.int64), axes=([1, 4, 5], [1, 2, 3]))
            acc = acc.transpose(0, 3, 1, 2) + qn.b.astype(np.int64)[None, :, None, None]
        else:  # the flatten is (C, H, W) order: the gemm's weights are (K, C, H, W)
            w = qn.w.astype(np.int64).reshape(len(qn.w), -1)
            acc = a.reshape(len(a), -1) @ w.T + qn.b.astype(np.int64)
        assert np.abs(acc).max() <= 2**31 - 1  # the formats keep it inside int32
        if qn.shift is None:
            return acc
        v = np.floor_divide(acc + (1 << qn.shift >> 1), 1 << qn.shift)
        a = np.clip(np.maximum(v, 0) if qn.node.attrs["relu"] else v, lo, hi)
    raise AssertionError("fc2 gives the logits")


def test_eight_bit_results_equal_the_net_api(report: dict) -> None:
    """Rebuild the 8-bit network with net/ directly, run it, and compare predictions and
    cycles with the report's; the logits equal the integer reference and the LeNet
    written by hand above."""
    split = data.load_split()
    xt, _ = split["test"]
    g = onnx_import.load(export_onnx.default_onnx_path(), input_shape=(IMAGES, 1, 8, 8))
    q = quantize.quantize(g, split["calib"][0], 8, rounding="nearest", seed=0)
    c = compile.compile_network(q, 4, 4)
    xq = c.q.quantize_input(xt[:IMAGES])
    rep = runtime.Runtime(c).run(xq, seed=1)
    logits = rep.outputs["logits"]
    c8 = next(c for c in report["configs"] if (c["bits"], c["rounding"]) == (8, "nearest"))
    assert np.array_equal(np.argmax(logits, axis=1), np.array(c8["predictions"]))
    assert rep.cycles == c8["cycles"]
    assert [s.name for s in rep.layers] == ["conv1", "pool1", "conv2", "pool2", "fc1", "fc2"]
    assert np.array_equal(logits, reference.run_int(c.q, xq)["logits"])
    assert np.array_equal(logits, integer_lenet_by_hand(c.q, xq))


def test_host_traffic_is_parameters_inputs_and_logits(report: dict) -> None:
    """Nothing moves between the host and the array but the parameter image (once), each
    batch's input and the logits: IMAGES images of 8x8 pixels, one channel, at the
    input's width (pixels byte aligned), and 10 int32 logits each."""
    for c in report["configs"]:
        h = c["host"]
        # one channel: a pixel is ceil(bits / 8) bytes (at 4 bits, a nibble and a spare)
        assert h["input_bytes"] == IMAGES * 64 * -(-c["input_bits"] // 8)
        assert h["output_bytes"] == IMAGES * 10 * 4
        assert h["words_written"] == -(-(h["parameter_bytes"] + h["input_bytes"]) // 4)
        assert h["words_read"] == h["output_bytes"] // 4
        assert h["between_layers_words"] == 0


def test_cli_json_and_outputs(tmp_path, capsys) -> None:  # noqa: ANN001
    rc = main(["experiment", "--images", "4", "--bits", "32", "8", "--rounding", "nearest",
               "--no-ablation", "--json", "--out", str(tmp_path / "out")])
    assert rc == 0
    rep = json.loads(capsys.readouterr().out)
    assert [c["bits"] for c in rep["configs"]] == [32, 8]
    assert rep["ablation"] is None and rep["search"] is None
    for name in ("report.json", "speedup_memory.png", "activation_histograms.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    assert not (tmp_path / "out" / "pareto.png").exists()  # no search, no Pareto plot
    assert not list((tmp_path / "out").glob(".*"))  # no half-written temporaries


@pytest.mark.parametrize("args, message", [
    (["--bits", "12"], "12 is not a width"),
    (["--bits", "32", "8,4"], "2 widths for 4 layers (4 layers: conv1, conv2, fc1, fc2)"),
    (["--bits", "32", "8,x,4,4"], "one per layer"),
    (["--bits", "8"], "32 must be among --bits"),
    (["--bits", "8,8,8,8", "auto"], "32 must be among --bits"),
    (["--budget", "0.5"], "--budget is the accuracy budget of --bits auto"),
    (["--bits", "32", "auto", "--budget", "-1"], "--budget must be 0..100 points"),
    (["--bits", "32", "auto", "--budget", "nan"], "--budget must be 0..100 points"),
    (["--images", "0"], "--images must be a positive number"),
    (["--images", "-3"], "--images must be a positive number"),
    (["--out", "/proc/pearray-cannot-write"], "cannot write to --out"),
])
def test_bad_options_exit_2(args: list[str], message: str, capsys) -> None:  # noqa: ANN001
    assert main(["experiment", *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_unknown_rounding_is_a_usage_error(capsys) -> None:  # noqa: ANN001
    with pytest.raises(SystemExit) as exc:
        main(["experiment", "--rounding", "up"])
    assert exc.value.code == 2


class _Stop(Exception):
    pass


@pytest.mark.parametrize("seed", [0, 1, 2, 7, 12345])
def test_the_test_images_never_include_training_images(seed: int, monkeypatch) -> None:
    """`--seed` drives rounding only: whatever the seed, the experiment evaluates on the
    fixed test split, none of whose images the shipped model was trained on."""
    from pearray import experiment

    seen = []
    real = data.load_split

    def spy(*args, **kw):
        seen.append(real(*args, **kw))
        raise _Stop

    monkeypatch.setattr(data, "load_split", spy)
    with pytest.raises(_Stop):
        experiment.run(images=1, seed=seed)
    used = {x.tobytes() for x in seen[0]["test"][0]}
    fixed = real()
    train = {x.tobytes() for x in fixed["train"][0]}
    calib = {x.tobytes() for x in fixed["calib"][0]}
    assert len(used) > 300
    assert used == {x.tobytes() for x in fixed["test"][0]}
    assert not used & train and not used & calib


def test_the_paper_speedups_are_not_drawn_against_our_baseline(report: dict, tmp_path,
                                                              monkeypatch) -> None:
    """Ours are against our 32-bit run, the paper's against its own baseline: each set of
    bars sits on an axis that names its own baseline."""
    import matplotlib.figure

    from pearray import experiment

    figs = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig",
                        lambda self, *a, **k: figs.append(self))
    monkeypatch.setattr(experiment, "_atomic", lambda path, blob: str(path))
    experiment._plots(report, tmp_path)
    paper = sorted(report["paper"]["speedup"].values())
    ours = sorted(c["speedup"] for c in report["configs"] if c["rounding"] == "nearest")
    found = set()
    for ax in figs[0].axes:
        heights = sorted(round(p.get_height(), 6) for p in ax.patches)
        label = (ax.get_ylabel() + " " + ax.get_title()).lower()
        if heights == [round(v, 6) for v in paper]:
            assert "paper" in label and "our" not in label
            found.add("paper")
        elif heights == [round(v, 6) for v in ours]:
            assert "our 32-bit" in label and "paper" not in label
            found.add("ours")
        for line in ax.get_lines():  # no paper series overlaid on another axis
            assert not np.allclose(sorted(line.get_ydata()), paper)
    assert found == {"paper", "ours"}


def test_unknown_point_search_is_a_usage_error(capsys) -> None:  # noqa: ANN001
    with pytest.raises(SystemExit) as exc:
        main(["experiment", "--point-search", "2"])
    assert exc.value.code == 2


# ----------------------------------------------------------------------------- issue 10
@pytest.fixture(scope="module")
def mixed() -> dict:
    """A width per layer and the search, on a few images, nearest rounding."""
    return run(images=IMAGES, bits=("32", "8", "8,4,4,8", "auto"), roundings=("nearest",),
               ablation=False, point_search="span")


def test_a_width_per_layer_runs_on_the_array(mixed: dict) -> None:
    """--bits 8,4,4,8: one row, its layers at those widths on the array, exact against
    the integer reference, counted like the others."""
    row = next(c for c in mixed["configs"] if c["label"] == "8,4,4,8")
    assert row["widths"] == [8, 4, 4, 8] and not row["uniform"] and row["bits"] is None
    assert row["matches_integer_reference"] is True
    assert row["input_bits"] == 8
    assert row["host"]["input_bytes"] == IMAGES * 64  # the input at 8 bits
    assert row["cycles"] == sum(d["cycles"] for d in row["layers"].values())
    b8 = next(c for c in mixed["configs"] if c["label"] == "8")
    assert row["gm_accesses"] < b8["gm_accesses"]
    assert 0 < row["size_ratio"] < b8["size_ratio"]


def test_the_search_report(mixed: dict) -> None:
    """--bits auto: the keys, the choice within the budget and the cheapest so among what
    was tried, the uniform widths among the trials, the validation split disjoint from
    the test split, and the additive cycle model equal to the array's cycles."""
    sr = mixed["search"]
    for key in ("budget_points", "floor", "float_accuracy", "split", "chosen",
                "chosen_accuracy", "chosen_cycles_per_image", "trials", "pareto",
                "considered", "skipped", "cost_model", "cycle_table_runs", "point_search"):
        assert key in sr
    assert sr["budget_points"] == 0.5 and sr["considered"] == 256
    assert sr["floor"] == pytest.approx(sr["float_accuracy"] - 0.005)
    assert sr["split"]["from"] == "train"
    tried = {tuple(t["widths"]): t for t in sr["trials"]}
    assert {(w,) * 4 for w in (32, 16, 8, 4)} <= set(tried)
    chosen = tuple(sr["chosen"])
    assert tried[chosen]["accuracy"] >= sr["floor"]
    ok = [t for t in sr["trials"] if t["accuracy"] >= sr["floor"]]
    assert tried[chosen]["cycles_per_image"] == min(t["cycles_per_image"] for t in ok)
    for t in sr["trials"]:
        assert t["within_budget"] == (t["accuracy"] >= sr["floor"])
        assert 0 < t["images"] <= sr["split"]["images"]
    assert all(tuple(p) in tried for p in sr["pareto"])
    auto = next(c for c in mixed["configs"] if c["auto"])
    assert auto["widths"] == sr["chosen"] and auto["label"] == "auto " + _label(chosen)
    # the table of per-layer cycles adds up to what the whole network costs on the array
    assert sr["chosen_cycles_per_image"] == pytest.approx(auto["cycles_per_image"])
    b8 = next(c for c in mixed["configs"] if c["label"] == "8")
    assert tried[(8, 8, 8, 8)]["cycles_per_image"] == pytest.approx(b8["cycles_per_image"])


def _label(widths: tuple[int, ...]) -> str:
    return str(widths[0]) if len(set(widths)) == 1 else ",".join(map(str, widths))


def test_the_search_validates_off_the_test_split(monkeypatch) -> None:
    """The validation images the search scores are training images, never test or
    calibration images."""
    from pearray import width_oracles

    seen = []
    real = width_oracles.Validation.accuracy

    def spy(self, widths):  # noqa: ANN001
        seen.append(self.x)
        return real(self, widths)

    monkeypatch.setattr(width_oracles.Validation, "accuracy", spy)
    run(images=2, bits=("32", "auto"), roundings=("nearest",), ablation=False)
    split = data.load_split()
    val = {x.tobytes() for x in seen[0]}
    assert val == {x.tobytes() for x in split["train"][0]}
    assert not val & {x.tobytes() for x in split["test"][0]}
    assert not val & {x.tobytes() for x in split["calib"][0]}


def test_the_ablation_report(report: dict) -> None:
    """At 4 bits and mixed: every variant's accuracy and relative error on the test split,
    and a verdict per technique that follows from the numbers."""
    from pearray import ablation

    abl = report["ablation"]
    assert abl["split"] == "test" and abl["images"] == IMAGES
    assert [c["label"] for c in abl["configs"]] == ["4", "8,4,4,8"]
    for c in abl["configs"]:
        assert [v["variant"] for v in c["variants"]] == list(ablation.VARIANTS)
        for v in c["variants"]:
            assert 0 <= v["accuracy"] <= 1 and v["relative_error"] >= 0
            assert {"threshold", "weight_threshold", "rounding", "search"} <= set(v)
    words = {"helps", "hurts", "no measurable difference"}
    assert len(abl["verdicts"]) == 2 * len(ablation.FACTORS)
    for v in abl["verdicts"]:
        assert v["verdict"] in words
        d = v["accuracy"][0] - v["accuracy"][1]
        assert v["points"] == pytest.approx(100 * d)
        if abs(d) * IMAGES < 0.5:
            assert v["verdict"] == "no measurable difference"
        else:
            assert v["verdict"] == ("helps" if d > 0 else "hurts")
    base = next(c for c in abl["configs"] if c["label"] == "4")["variants"][0]
    row = next(c for c in report["configs"] if c["label"] == "4"
               and c["rounding"] == "stochastic")
    assert base["accuracy"] == row["accuracy"]  # the baseline is the table's 4-bit run


def test_cli_auto_json_and_pareto_plot(tmp_path, capsys) -> None:  # noqa: ANN001
    rc = main(["experiment", "--images", "2", "--bits", "32", "8,4,4,8", "auto",
               "--budget", "1", "--rounding", "nearest", "--no-ablation", "--json",
               "--out", str(tmp_path)])
    assert rc == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["search"]["budget_points"] == 1.0
    assert [c["label"].split()[0] for c in rep["configs"]] == ["32", "8,4,4,8", "auto"]
    assert (tmp_path / "pareto.png").stat().st_size > 0
