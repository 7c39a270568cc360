"""Deterministic CPU training of the digits LeNet; writes lenet_digits.npz + lenet_digits.json.

The shipped weights must be reproducible bit for bit, so everything that could vary is
pinned: torch seed, deterministic algorithms, one thread, numpy-driven batch order, and an
npz written with fixed zip timestamps (np.savez stamps the wall clock into the archive).

Run from the repo root with either of:
    python models/train.py [--out models/]
    python -m pearray.models.train [--out DIR]
Needs torch (CPU) in addition to numpy + scikit-learn.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import io
import json
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

try:  # imported as pearray.models.train / models.train
    from . import data, lenet
except ImportError:  # run as a plain script: python models/train.py
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import data  # type: ignore[no-redef]
    import lenet  # type: ignore[no-redef]

SEED = 0
EPOCHS = 60
BATCH_SIZE = 32
LR = 3e-3
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed member timestamp -> reproducible npz bytes


class LeNetDigits(nn.Module):
    """Torch twin of models/lenet.py; attribute names give the shared parameter names."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.fc1 = nn.Linear(64, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc2(torch.relu(self.fc1(x)))


def set_determinism(seed: int) -> None:
    """Pin every source of run-to-run variation we know of on CPU."""
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)


def train(seed: int = SEED, epochs: int = EPOCHS) -> tuple[LeNetDigits, dict]:
    """Train on the fixed train split; returns the model and the split used."""
    set_determinism(seed)
    split = data.load_split()  # fixed: the seed drives initialisation and order only
    x_tr, y_tr = (torch.from_numpy(a) for a in split["train"])
    model = LeNetDigits()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(seed)
    model.train()
    for _ in range(epochs):
        order = torch.from_numpy(rng.permutation(len(y_tr)))
        for i in range(0, len(order), BATCH_SIZE):
            idx = order[i : i + BATCH_SIZE]
            opt.zero_grad()
            loss = loss_fn(model(x_tr[idx]), y_tr[idx])
            loss.backward()
            opt.step()
    model.eval()
    return model, split


def state_to_numpy(model: nn.Module) -> dict[str, np.ndarray]:
    """Float32 numpy copies of the parameters, keyed like lenet.PARAM_SHAPES."""
    params = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    assert set(params) == set(lenet.PARAM_SHAPES), sorted(params)
    return params


def save_npz_deterministic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write an np.load-compatible .npz whose bytes depend only on the arrays."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())


def main(argv: list[str] | None = None) -> int:
    """Train, save weights + provenance, and print the numpy-reference test accuracy."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="output folder (default: this module's folder)",
    )
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    model, split = train(args.seed, args.epochs)
    train_s = time.perf_counter() - t0

    args.out.mkdir(parents=True, exist_ok=True)
    npz_path = args.out / lenet.WEIGHTS_FILE
    save_npz_deterministic(npz_path, state_to_numpy(model))
    sha = hashlib.sha256(npz_path.read_bytes()).hexdigest()

    # Accuracy is measured by the numpy reference on the weights as saved, not by torch.
    params = lenet.load_weights(npz_path)
    x_te, y_te = split["test"]
    np_logits = lenet.forward(x_te, params)
    np_pred = np_logits.argmax(1)
    with torch.no_grad():
        t_logits = model(torch.from_numpy(x_te)).numpy()
    acc = float((np_pred == y_te).mean())
    agree = float((np_pred == t_logits.argmax(1)).mean())

    prov = {
        "script": "models/train.py",
        "command": "python models/train.py --out models/",
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "seed": args.seed,
        "epochs": args.epochs,
        "batch_size": BATCH_SIZE,
        "optimizer": "Adam",
        "lr": LR,
        "loss": "CrossEntropyLoss",
        "deterministic": "torch.use_deterministic_algorithms(True), set_num_threads(1)",
        "dataset": "sklearn.datasets.load_digits, x/16, fixed split of models/data.py",
        "sizes": {k: int(len(v[1])) for k, v in split.items()},
        "float_test_accuracy_numpy": acc,
        "numpy_torch_test_prediction_agreement": agree,
        "numpy_torch_max_abs_logit_diff": float(np.abs(np_logits - t_logits).max()),
        "macs_per_image": lenet.layer_macs(),
        "npz_file": lenet.WEIGHTS_FILE,
        "npz_sha256": sha,
        "train_seconds": round(train_s, 2),
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d"),
    }
    (args.out / "lenet_digits.json").write_text(json.dumps(prov, indent=2) + "\n")
    print(
        f"trained {args.epochs} epochs in {train_s:.1f}s; numpy test acc {acc:.4f}; "
        f"numpy/torch agreement {agree:.4f}; sha256 {sha}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
