"""Reports of a network run: the text table, the per-layer CSV (SCALE-Sim's
COMPUTE_REPORT columns first, then ours) and the per-layer cycles/utilisation plot."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from pearray import files

from .runtime import LayerStats

OUTPUTS = ("layers.csv", "layers.png", "report.json")  # what --out writes
SCALESIM_COLUMNS = ("LayerID", "Total Cycles", "Stall Cycles", "Overall Util %",
                    "Mapping Efficiency %", "Compute Util %")
OUR_COLUMNS = ("Name", "Op", "Bits", "Out Bits", "Launches", "MACs", "Lane MACs", "Retired",
               "GM Loads", "GM Stores", "SM Loads", "SM Stores", "LM Loads", "LM Stores",
               "Memory Stalls", "Bank Stalls", "DMA Stalls", "Sync Stalls")


def layer_row(i: int, s: LayerStats, npes: int) -> list[Any]:
    """One CSV row. Overall util: useful MACs / the array's peak at the layer's width;
    compute util: lane MACs done / peak (zero lanes included); mapping efficiency: useful
    / lane MACs; stall cycles: the PEs' stall cycles averaged over the PEs."""
    stalls = sum(s.stalls.values()) / max(1, npes)
    compute = s.lane_macs / s.peak if s.peak else 0.0
    mapping = s.macs / s.lane_macs if s.lane_macs else 0.0
    return [i, s.cycles, round(stalls), round(100 * s.utilisation, 3), round(100 * mapping, 3),
            round(100 * compute, 3), s.name, s.op, s.bits, s.out_bits, s.launches, s.macs,
            s.lane_macs, s.retired, s.loads["gm"], s.stores["gm"], s.loads["sm"],
            s.stores["sm"], s.loads["lm"], s.stores["lm"], s.stalls.get("memory", 0),
            s.stalls.get("bank", 0), s.stalls.get("dma", 0), s.stalls.get("sync", 0)]


def csv_bytes(layers: list[LayerStats], npes: int) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(SCALESIM_COLUMNS + OUR_COLUMNS)
    for i, s in enumerate(layers):
        w.writerow(layer_row(i, s, npes))
    return buf.getvalue().encode()


def plot_bytes(layers: list[LayerStats], title: str) -> bytes:
    """PNG: cycles per layer (bars) and MAC utilisation (dots, right axis)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [s.name for s in layers]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.28 * len(layers) + 2), 4))
    xs = range(len(layers))
    ax.bar(xs, [s.cycles for s in layers], color="#4477aa", label="cycles")
    ax.set_ylabel("cycles")
    ax.set_xticks(list(xs))
    ax.set_xticklabels(names, rotation=90, fontsize=6 if len(layers) > 30 else 8)
    ax2 = ax.twinx()
    ax2.plot(list(xs), [100 * s.utilisation for s in layers], "o", color="#cc6677",
             markersize=3, label="MAC utilisation")
    ax2.set_ylabel("MAC utilisation %")
    ax2.set_ylim(0, 100)
    ax.set_title(title)
    longest = max((len(n) for n in names), default=1)
    fig.subplots_adjust(bottom=min(0.5, 0.1 + 0.013 * longest))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def write(out: str | Path, report: dict[str, Any], layers: list[LayerStats], npes: int,
          title: str) -> list[str]:
    """report.json, layers.csv and layers.png in `out`, each whole or not at all."""
    import json

    folder = Path(out)
    written = []
    blobs = (csv_bytes(layers, npes), plot_bytes(layers, title), json.dumps(report).encode())
    for name, blob in zip(OUTPUTS, blobs, strict=True):
        files.write_atomic(folder / name, blob)
        written.append(str(folder / name))
    return written


def table(report: dict[str, Any]) -> str:
    """The run as text: per layer and in total."""
    lines = [f"{report['model']}: {report['array'][0]}x{report['array'][1]} PE array, "
             f"{report['launches']} launches, GM {report['gm_bytes'] / 2**20:.2f} MiB "
             f"(parameters {report['gm']['parameter_bytes'] / 2**20:.2f} MiB)",
             f"{'layer':<28} {'op':<8} {'bits':>6} {'cycles':>12} {'MACs':>12} {'util':>6} "
             f"{'GM loads':>10} {'GM stores':>10}"]
    for s in report["layers"]:
        lines.append(f"{s['name'][:28]:<28} {s['op']:<8} {s['bits']:>3}>{s['out_bits']:<2} "
                     f"{s['cycles']:>12} {s['macs']:>12} {100 * s['utilisation']:5.1f}% "
                     f"{s['loads']['gm']:>10} {s['stores']['gm']:>10}")
    h = report["host"]
    lines += [f"total {report['cycles']} cycles; host wrote {h['words_written']} words "
              f"(parameters {h['parameter_bytes']} B + input {h['input_bytes']} B), read "
              f"{h['words_read']} words (output {h['output_bytes']} B); between layers "
              f"{h['between_layers_bytes']} B"]
    if report["softmax_on_host"]:
        lines.append("the final Softmax ran on the host, on the dequantized output")
    lines += [f"warning: {w}" for w in report["warnings"]]
    return "\n".join(lines)
