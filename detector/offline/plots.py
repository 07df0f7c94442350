"""PNG plots of a model and its scores: loss curves, error histogram, error timeline.

Every figure has a title. The timeline draws one panel per device (the first MAX_PANELS), with
time on the x axis when the CSV has a time column (epoch seconds or dates), flagged rows, missed
anomalies (labelled but not flagged) and labelled stretches each marked, and the legend above
the panels, where it hides no point.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from detector.offline.evaluate import Evaluation
from shared.outputs import atomic_folder

MAX_PANELS = 6
EPOCH_SECONDS = (1e8, 1e10)  # numbers in this range in a time column are seconds since 1970


def loss_figure(curves: dict[str, list[float]]) -> plt.Figure:
    """Training and validation loss by epoch (whole epochs on the axis)."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, values in curves.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=name, marker="." if
                len(values) < 30 else None)
    ax.set(xlabel="epoch", ylabel="loss (standardised MSE)", yscale="log",
           title="Training: loss by epoch")
    epochs = max((len(v) for v in curves.values()), default=1)
    ax.set_xlim(0.5, epochs + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.legend()
    fig.tight_layout()
    return fig


def histogram_figure(error: np.ndarray, truth: np.ndarray, threshold: float,
                     source: str) -> plt.Figure:
    """Histogram of errors of normal and anomalous rows, with the threshold line."""
    fig, ax = plt.subplots(figsize=(7, 4))
    positive = error[(error > 0) & np.isfinite(error)]
    low, high = (positive.min(), positive.max()) if len(positive) else (threshold, threshold)
    if high <= low * 1.01:  # one value, or none: a band around it
        low, high = low / 2, high * 2
    bins = np.geomspace(min(low, threshold), max(high, threshold), 60).tolist()
    ax.hist(error[~truth], bins=bins, alpha=0.6, label="labelled normal")
    if truth.any():
        ax.hist(error[truth], bins=bins, alpha=0.6, label="labelled anomalous")
    ax.axvline(threshold, color="red", linestyle="--", label=f"threshold {threshold:.4g}")
    ax.set(xscale="log", yscale="log", xlabel="reconstruction error", ylabel="rows",
           title=f"Reconstruction error of normal and anomalous rows: {source}")
    ax.legend()
    fig.tight_layout()
    return fig


def time_axis(times: np.ndarray | None, name: str | None, n: int) -> tuple[np.ndarray, str]:
    """The x values of the rows and the axis label: the time column as dates (from text or
    epoch seconds) or as its numbers; the row number when there is none or it does not parse."""
    if times is None or name is None:
        return np.arange(n), "row"
    numbers = pd.to_numeric(pd.Series(times), errors="coerce")
    if numbers.notna().all():
        if numbers.between(*EPOCH_SECONDS).all():
            return pd.to_datetime(numbers, unit="s").to_numpy(), f"{name} (UTC)"
        return numbers.to_numpy(dtype=float), name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dates = pd.to_datetime(pd.Series(times), errors="coerce")
    if dates.notna().all():
        return dates.to_numpy(), name
    return np.arange(n), "row"


def timeline_figure(result: Evaluation, threshold: float, source: str) -> plt.Figure:
    """Error over time, one panel per device: flagged rows, missed anomalies, labelled spans."""
    x, xlabel = time_axis(result.times, result.time_column, len(result.error))
    devices = result.devices if result.devices is not None else np.full(len(x), "")
    names = list(dict.fromkeys(devices.tolist()))
    shown = names[:MAX_PANELS]
    fig, axes = plt.subplots(len(shown), 1, figsize=(12, 1.2 + 2.2 * len(shown)), sharex=True,
                             squeeze=False)
    for ax, device in zip(axes[:, 0], shown, strict=True):
        rows = devices == device
        panel(ax, x[rows], result.error[rows], result.flagged[rows], result.truth[rows],
              threshold)
        ax.set_ylabel(f"{device}\nerror" if device else "reconstruction error")
    axes[-1, 0].set_xlabel(xlabel)
    more = f" (first {len(shown)} of {len(names)} devices)" if len(names) > len(shown) else ""
    fig.suptitle(f"Reconstruction error over {'time' if xlabel != 'row' else 'rows'}, "
                 f"by device: {source}{more}")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(labels),
               bbox_to_anchor=(0.5, 1 - 0.55 / fig.get_figheight()), frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.8 / fig.get_figheight()))
    return fig


def panel(ax: plt.Axes, x: np.ndarray, error: np.ndarray, flagged: np.ndarray,
          truth: np.ndarray, threshold: float) -> None:
    """One device's errors: the line, the threshold, labelled spans, flags and misses."""
    ax.fill_between(x, 0, 1, where=truth, transform=ax.get_xaxis_transform(), color="orange",
                    alpha=0.25, label="labelled anomaly", step="mid")
    ax.plot(x, error, lw=0.6, color="tab:blue", marker="." if len(x) < 50 else None,
            label="error")
    ax.axhline(threshold, color="red", linestyle="--", lw=0.8, label="threshold")
    ax.scatter(x[flagged], error[flagged], s=10, color="red", zorder=3, label="flagged")
    missed = truth & ~flagged
    ax.scatter(x[missed], error[missed], s=22, marker="x", color="black", zorder=3,
               label="missed anomaly")
    ax.set_yscale("log")


def _save(fig: plt.Figure, out: Path) -> Path:
    """Write and close a figure."""
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.savefig(out, dpi=100)
    finally:
        plt.close(fig)
    return out


def draw_all(
    result: Evaluation, threshold: float, curves: dict[str, list[float]] | None, folder: Path,
    source: str = "data",
) -> list[Path]:
    """The evaluation's plots, written into `folder` together when all are drawn; their paths."""
    names = ["errors.png", "timeline.png", *(["loss.png"] if curves else [])]
    with warnings.catch_warnings(), atomic_folder(folder) as tmp:
        warnings.simplefilter("ignore")  # log axes of zero errors: nothing the user can act on
        _save(histogram_figure(result.error, result.truth, threshold, source), tmp / names[0])
        _save(timeline_figure(result, threshold, source), tmp / names[1])
        if curves:
            _save(loss_figure(curves), tmp / names[2])
    return [folder / name for name in names]
