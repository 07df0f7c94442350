"""Model bundles built from arrays, for unit tests: no TensorFlow, no training, no files (but
for `write_dense`, which writes one as a bundle folder)."""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from detector.core.bundle import Bundle, save_bundle


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


def random_dense(window: int, channels: int, activation: str = "linear", seed: int = 0,
                 residual: str | None = None) -> Bundle:
    """`dense_bundle` with random means, scales and two random layers (3 hidden units), and the
    residual given (none: as a bundle written before the option)."""
    rng = np.random.default_rng(seed)
    names = [f"c{i}" for i in range(channels)]
    base = dense_bundle(window, threshold=0.5, version="random", channels=names)
    std = rng.uniform(0.1, 20, channels)
    meta = {**base.meta, "scale": {"std": std.tolist()},
            "architecture": {"kind": "dense", "activation": activation}}
    if residual is not None:
        meta["residual"] = residual
    shapes = [(window * channels, 3), (3, window * channels)]
    layers = {f"{kind}_{i}": rng.normal(size=shape if kind == "kernel" else shape[1])
              for i, shape in enumerate(shapes) for kind in ("kernel", "bias")}
    arrays = {"mean": rng.normal(0, 50, channels), "std": std,
              **{k: v.astype(np.float32) for k, v in layers.items()}}
    return Bundle(base.path, meta, arrays)


class ArraysModel:
    """Stands in for a Keras model where only its weights and a saved archive matter."""

    def __init__(self, weights: list[np.ndarray]) -> None:
        self.weights = weights

    def get_weights(self) -> list[np.ndarray]:
        return self.weights

    def save(self, path: Path) -> None:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("config.json", "{}")


def write_dense(out: Path, bundle: Bundle) -> Path:
    """`bundle` (from `dense_bundle`: one dense layer) written as a whole, valid bundle folder that
    `detector score` and `evaluate` load and run with NumPy (no TensorFlow)."""
    arrays = {k: np.asarray(v, np.float32) if k.startswith(("kernel", "bias")) else v
              for k, v in bundle.arrays.items()}
    meta = {k: v for k, v in bundle.meta.items() if k != "version"}
    meta["architecture"] = {**meta["architecture"], "hidden": [], "window": meta["window"]}
    meta["scale"] = {"mean": [0.0] * len(meta["channels"]), **meta["scale"]}
    save_bundle(out, ArraysModel([arrays["kernel_0"], arrays["bias_0"]]), meta, arrays)
    return out
