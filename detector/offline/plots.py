"""PNG plots of a model and its scores: loss curves, error histogram, error timeline."""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from detector.offline.evaluate import Evaluation
from shared.outputs import atomic_folder


def loss_curves(curves: dict[str, list[float]], out: Path) -> Path:
    """Training and validation loss by epoch."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, values in curves.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=name)
    ax.set(xlabel="epoch", ylabel="loss (standardised MSE)", yscale="log", title="Training")
    ax.legend()
    return _save(fig, out)


def error_histogram(error: np.ndarray, truth: np.ndarray, threshold: float, out: Path) -> Path:
    """Histogram of errors of normal and anomalous rows, with the threshold line."""
    fig, ax = plt.subplots(figsize=(7, 4))
    positive = error[(error > 0) & np.isfinite(error)]
    low, high = (positive.min(), positive.max()) if len(positive) else (threshold, threshold)
    if high <= low * 1.01:  # one value, or none: a band around it
        low, high = low / 2, high * 2
    bins = np.geomspace(low, high, 60)
    ax.hist(error[~truth], bins=bins, alpha=0.6, label="normal")
    if truth.any():
        ax.hist(error[truth], bins=bins, alpha=0.6, label="anomalous")
    ax.axvline(threshold, color="red", linestyle="--", label="threshold")
    ax.set(xscale="log", yscale="log", xlabel="reconstruction error", ylabel="rows")
    ax.legend()
    return _save(fig, out)


def timeline(
    error: np.ndarray, flagged: np.ndarray, truth: np.ndarray, threshold: float, out: Path
) -> Path:
    """Error over rows, flagged rows marked, true anomalies shaded."""
    fig, ax = plt.subplots(figsize=(12, 4))
    rows = np.arange(len(error))
    ax.fill_between(
        rows,
        0,
        1,
        where=truth,
        transform=ax.get_xaxis_transform(),
        color="orange",
        alpha=0.25,
        label="labelled anomaly",
    )
    ax.plot(rows, error, lw=0.6, marker="." if len(rows) < 50 else None, label="error")
    ax.scatter(rows[flagged], error[flagged], s=6, color="red", label="flagged")
    ax.axhline(threshold, color="red", linestyle="--", lw=0.8, label="threshold")
    ax.set(yscale="log", xlabel="row", ylabel="reconstruction error")
    ax.legend(loc="upper right")
    return _save(fig, out)


def _save(fig: plt.Figure, out: Path) -> Path:
    """Write and close a figure."""
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.tight_layout()
        fig.savefig(out, dpi=100)
    finally:
        plt.close(fig)
    return out


def draw_all(
    result: Evaluation, threshold: float, curves: dict[str, list[float]] | None, folder: Path
) -> list[Path]:
    """The evaluation's plots, written into `folder` together when all are drawn; their paths."""
    names = ["errors.png", "timeline.png", *(["loss.png"] if curves else [])]
    with warnings.catch_warnings(), atomic_folder(folder) as tmp:
        warnings.simplefilter("ignore")  # log axes of zero errors: nothing the user can act on
        error_histogram(result.error, result.truth, threshold, tmp / names[0])
        timeline(result.error, result.flagged, result.truth, threshold, tmp / names[1])
        if curves:
            loss_curves(curves, tmp / names[2])
    return [folder / name for name in names]
