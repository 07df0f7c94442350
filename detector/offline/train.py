"""From normal data to a bundle: split off a held-out tail, fit, calibrate on the held-out part.

With windows, the held-out windows are made of held-out readings only (per device), so no held-out
window shares a reading with a training window: the calibration errors are honest. `calibrate_on`
"training" instead fits on every row and calibrates on the training windows themselves, as the SKAB
benchmark's notebooks do: in-sample errors are smaller, so the threshold is lower than it should be.
With `headroom` "drift", a probe (the same model fitted on the oldest half of the rows) measures how
the median error grows with the distance from its fitted rows, and the threshold grows to match at
the middle of the horizon (`detector.core.calibration.drift_headroom`). With `slow_channels`
"centre", the channels slower than a window (found on all the rows) enter every window centred on
its own mean, in fitting, calibration and scoring alike (`detector.core.levels`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from detector.core.alarm import Persistence
from detector.core.bundle import Bundle, save_bundle
from detector.core.calibration import calibrate, drift_headroom, growth_exponent
from detector.core.inference import KerasEngine, dense_arrays, scaling_arrays
from detector.core.levels import centred, slow_channels
from detector.core.model import Architecture, TrainingOptions, train
from detector.core.schema import RESIDUAL_POWER
from detector.core.scoring import Scorer
from detector.core.windows import windows_by_device
from detector.errors import DataError
from detector.offline.data_checks import (
    MIN_HELD_OUT,
    MIN_WINDOWS,
    check_training_data,
    need_rows,
    split_rows,
)

__all__ = ["MIN_WINDOWS", "TrainingPlan", "need_rows", "split_rows", "train_bundle"]


@dataclass(frozen=True)
class TrainingPlan:
    """Everything `detector train` decides: model, fit, calibration, alarm rule."""

    architecture: Architecture = field(default_factory=Architecture)
    options: TrainingOptions = field(default_factory=TrainingOptions)
    calibration: str = "pot"
    target_far: float = 0.001
    holdout: float = 0.3  # the tail of the data kept for calibration, never trained on
    margin: float = 1.0  # the calibrated threshold times this
    persistence: Persistence = field(default_factory=Persistence)
    calibrate_on: str = "held-out"  # or "training": the fitting windows themselves (in-sample)
    gap_power: float = 0.0  # the threshold times (median held-out / median fit error) ** this
    residual: str = "squared"  # a window's error: the mean squared or absolute gap, calibration too
    headroom: str = "none"  # "drift": the threshold grows as a probe says the errors will
    horizon: float = 1.0  # drift: how long the threshold must hold, in multiples of the data
    slow_channels: str = "keep"  # "centre": channels slower than a window lose their level
    combine: str = "mean"  # a window's error: the mean of its channel errors, or the largest


def train_bundle(
    values: np.ndarray,
    channels: list[str],
    out: str | Path,
    plan: TrainingPlan,
    devices: np.ndarray | None = None,
    source: str = "data",
    progress: Callable[[str], None] = lambda _: None,
) -> dict:
    """Train, calibrate and write a bundle from normal readings (n, channels); its metadata."""
    window = plan.architecture.window
    check_training_data(values, channels, devices, window, plan.holdout, source)
    if plan.headroom == "drift":  # the probe fits on the oldest half and watches the rest
        check_training_data(values, channels, devices, window, 0.5, source)
    in_sample = plan.calibrate_on == "training"
    cut = len(values) if in_sample else split_rows(len(values), plan.holdout)
    dev_fit = devices[:cut] if devices is not None else None
    dev_held = devices[cut:] if devices is not None else None
    fit_windows, _ = windows_by_device(values[:cut], window, dev_fit)
    held_windows, held_rows = ((fit_windows, np.arange(len(fit_windows))) if in_sample
                               else windows_by_device(values[cut:], window, dev_held))
    if len(fit_windows) < MIN_WINDOWS or len(held_windows) < MIN_HELD_OUT:
        raise DataError(
            f"{source}: {len(values)} rows are too few to train and calibrate a model with window "
            f"{window}: give at least {need_rows(window, plan.holdout)} rows"
        )
    progress(
        f"training on {len(fit_windows)} windows of {window} x {len(channels)}, "
        f"calibrating on {len(held_windows)} {'training' if in_sample else 'held-out'} windows"
    )
    slow = (slow_channels(windows_by_device(values, window, devices)[0])
            if plan.slow_channels == "centre" else np.zeros(len(channels), dtype=bool))
    if slow.any():
        names = ", ".join(channels_of(channels, slow))
        progress(f"slow channels, centred on each window's mean: {names}")
    model, curves, arrays, meta, scorer = fitted(fit_windows, channels, plan, slow, out, progress)
    held_errors = scorer.score(held_windows).error
    fit_errors = scorer.score(fit_windows)
    headroom = None
    if plan.headroom == "drift":
        beta = probe_exponent(values, channels, devices, plan, slow, out, progress)
        distance = len(values) - cut + plan.horizon * len(values) / 2
        headroom = drift_headroom(fit_errors.error, held_errors, held_rows + 1.0, beta, distance)
    calibration = calibrate(held_errors, plan.calibration, plan.target_far, plan.margin, window,
                            fit_errors.error, plan.gap_power, headroom)  # fmt: skip
    if not np.isfinite(calibration.threshold) or calibration.threshold <= 0:
        raise DataError(
            f"{source}: calibration gave the threshold {calibration.threshold:g}: the held-out "
            "errors are all zero or not numbers, so no reading could ever be told apart"
        )
    progress(
        f"threshold {calibration.threshold:.6g} ({calibration.method}, target FAR "
        f"{calibration.target_far:g}, margin {plan.margin:g}, gap power {plan.gap_power:g}, "
        f"headroom {plan.headroom} x{calibration.details.get('headroom', 1.0):.3g}, "
        f"{calibration.holdout_size} "
        f"{'training' if in_sample else 'held-out'} windows), persistence {plan.persistence}"
    )
    raw_mse = float(np.mean((fit_windows[:, -1, :] - fit_errors.reconstruction) ** 2))
    meta["calibration"] = calibration.to_dict()
    if in_sample:
        meta["calibration"]["details"]["in_sample"] = 1.0
    meta["persistence"] = plan.persistence.to_dict()
    meta["training"] = {
        "source": source,
        "rows": len(values),
        "fit_windows": len(fit_windows),
        "holdout_windows": len(held_windows),
        "epochs_run": len(curves.get("loss", [])),
        "loss": curves.get("loss", [None])[-1],
        "val_loss": curves.get("val_loss", [None])[-1],
        "mse_raw_units": raw_mse,
        "curves": curves,
        "seed": plan.options.seed,
        "learning_rate": plan.options.learning_rate,
        "batch_size": plan.options.batch_size or "auto",
        "patience": plan.options.patience,
        "validation": plan.options.validation,
    }
    if plan.headroom == "drift":
        meta["training"]["horizon"] = plan.horizon
    return save_bundle(out, model, meta, arrays)


def fitted(
    windows: np.ndarray, channels: list[str], plan: TrainingPlan, slow: np.ndarray,
    out: str | Path, progress: Callable[[str], None],
) -> tuple[Any, dict, dict[str, np.ndarray], dict, Scorer]:
    """A model fitted on the windows (the slow channels centred): the model, its loss curves, its
    arrays, the metadata so far and a Scorer of it (through Keras, with the plan's residual)."""
    model, curves = train(centred(windows, slow)[0], plan.architecture, plan.options, progress)
    arrays = dense_arrays(model) if plan.architecture.kind == "dense" else scaling_arrays(model)
    meta = {
        "channels": list(channels),
        "window": plan.architecture.window,
        "architecture": plan.architecture.to_dict(),
        "scale": {"mean": arrays["mean"].tolist(), "std": arrays["std"].tolist()},
        "calibration": {"threshold": 1.0},
        "residual": plan.residual,
    }
    if slow.any():  # absent when none (as bundles written before it)
        meta["centred"] = channels_of(channels, slow)
    if plan.combine != "mean":
        meta["combine"] = plan.combine
    return model, curves, arrays, meta, Scorer(Bundle(Path(out), meta, arrays),
                                               engine=KerasEngine(model))


def channels_of(channels: list[str], mask: np.ndarray) -> list[str]:
    """The names of the masked channels."""
    return [name for name, chosen in zip(channels, mask, strict=True) if chosen]


def probe_exponent(
    values: np.ndarray, channels: list[str], devices: np.ndarray | None, plan: TrainingPlan,
    slow: np.ndarray, out: str | Path, progress: Callable[[str], None],
) -> float:
    """The drift headroom's growth exponent: the same model fitted on the oldest half of the
    rows, its errors on the windows of the newer half against their distance from it."""
    half, window = split_rows(len(values), 0.5), plan.architecture.window
    older, newer = (None, None) if devices is None else (devices[:half], devices[half:])
    fit = windows_by_device(values[:half], window, older)[0]
    later, rows = windows_by_device(values[half:], window, newer)
    progress(f"probe: training on {len(fit)} windows of the oldest half, watching {len(later)}")
    scorer = fitted(fit, channels, plan, slow, out, lambda line: progress(f"probe: {line}"))[-1]
    floor = float(np.median(scorer.score(fit).error))
    beta = growth_exponent(floor, scorer.score(later).error, rows + 1.0,
                           RESIDUAL_POWER[plan.residual])  # fmt: skip
    progress(f"probe: the median error grows as distance ** {beta:.3g}")
    return beta
