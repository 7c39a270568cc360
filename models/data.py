"""Fixed train/calib/test split of scikit-learn's bundled 8x8 handwritten digits.

The split is fixed (a permutation from SPLIT_SEED, the one the shipped weights were
trained on) so that training, quantizer calibration and evaluation all see exactly the
same images without shipping any data files.  It takes no seed on purpose: a split
that moved with a seed would put training images into the test set of the shipped
model (`pearray experiment --seed` drives rounding only).
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits

N_TEST = 360
N_CALIB = 200
SPLIT_SEED = 0  # models/lenet_digits.npz was trained on this split's "train" images


def load_split() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Return {"train", "calib", "test"} -> (x, y), always the same images.

    x is float32 (N, 1, 8, 8) scaled to [0, 1] (raw pixels are 0..16, divided by 16);
    y is int64 (N,). Calibration images are disjoint from the test images, so quantizer
    statistics never peek at the data the accuracy is reported on.
    """
    digits = load_digits()
    x = (digits.images.astype(np.float32) / np.float32(16.0)).reshape(-1, 1, 8, 8)
    y = digits.target.astype(np.int64)
    perm = np.random.default_rng(SPLIT_SEED).permutation(len(y))
    idx = {
        "train": perm[N_TEST + N_CALIB :],
        "calib": perm[N_TEST : N_TEST + N_CALIB],
        "test": perm[:N_TEST],
    }
    return {k: (np.ascontiguousarray(x[i]), np.ascontiguousarray(y[i])) for k, i in idx.items()}
