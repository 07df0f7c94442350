"""Model bundles built from arrays, for unit tests: no TensorFlow, no training, no files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from detector.core.bundle import Bundle


def dense_bundle(window: int, persistence: dict | None = None, threshold: float = 1.0,
                 version: str = "test", channels: Sequence[str] = ("x", "y")) -> Bundle:
    """A bundle whose dense model reconstructs every reading as the channel means (zero weights).

    So a reading's error is the mean of its squared values: (3, 3) scores 9 / threshold.
    """
    width = len(channels)
    size = window * width
    meta = {
        "version": version,
        "channels": list(channels),
        "window": window,
        "architecture": {"kind": "dense", "activation": "linear"},
        "calibration": {"threshold": threshold},
        "scale": {"std": [1.0] * width},
    }
    if persistence:
        meta["persistence"] = persistence
    arrays = {
        "mean": np.zeros(width),
        "std": np.ones(width),
        "kernel_0": np.zeros((size, size)),
        "bias_0": np.zeros(size),
    }
    return Bundle(Path("unused"), meta, arrays)
