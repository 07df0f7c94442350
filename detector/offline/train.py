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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from detector.core.bundle import Bundle, save_bundle
from detector.core.calibration import Calibration, calibrate, drift_headroom, growth_exponent
from detector.core.choices import RESIDUAL_POWER, Combine, Headroom, Kind, Outliers, SlowChannels
from detector.core.follow import rule_for
from detector.core.inference import KerasEngine, dense_arrays, scaling_arrays
from detector.core.levels import centred, slow_channels
from detector.core.model import train
from detector.core.robust import fence, outliers
from detector.core.scoring import Scorer
from detector.core.training_settings import TrainingSettings
from detector.core.windows import windows_by_device
from detector.errors import DataError
from detector.offline.data_checks import (
    MIN_HELD_OUT,
    MIN_WINDOWS,
    check_training_data,
    need_rows,
    split_rows,
)

__all__ = ["MIN_WINDOWS", "need_rows", "split_rows", "train_bundle"]

Progress = Callable[[str], None]


def quiet(_: str) -> None:
    """Progress that says nothing."""


@dataclass(frozen=True)
class Job:
    """One training: the rows, their channels and devices, the settings, where it writes."""

    values: np.ndarray
    channels: list[str]
    devices: np.ndarray | None
    settings: TrainingSettings
    out: Path
    source: str
    progress: Progress
    bar: Callable[[int], Any] | None = None  # a Keras callback per fit, e.g. a progress bar

    def devices_of(self, rows: slice) -> np.ndarray | None:
        """The devices of a slice of the rows (None when there are none)."""
        return None if self.devices is None else self.devices[rows]


@dataclass(frozen=True)
class Split:
    """The windows a training fits on and the windows its threshold is calibrated on."""

    fit: np.ndarray
    held: np.ndarray
    held_rows: np.ndarray  # each held-out window's last row, counted from the held-out part
    cut: int  # the first held-out row (every row when calibrated in-sample)
    fit_rows: np.ndarray  # each fitting window's last row

    def keys(self, job: Job, held: bool) -> np.ndarray | None:
        """The device of each held-out (or fitting) window, for the outlier rule."""
        if job.devices is None:
            return None
        if not held or job.settings.in_sample:
            return job.devices[self.fit_rows]
        return job.devices[self.cut + self.held_rows]


def split_windows(job: Job) -> Split:
    """Cut the rows into fitting and held-out windows (the same ones in-sample), or refuse."""
    values, settings = job.values, job.settings
    window = settings.window
    cut = len(values) if settings.in_sample else split_rows(len(values), settings.holdout)
    fit, fit_rows = windows_by_device(values[:cut], window, job.devices_of(slice(None, cut)))
    later = job.devices_of(slice(cut, None))
    held, held_rows = ((fit, np.arange(len(fit))) if settings.in_sample
                       else windows_by_device(values[cut:], window, later))
    if len(fit) < MIN_WINDOWS or len(held) < MIN_HELD_OUT:
        raise DataError(
            f"{job.source}: {len(values)} rows are too few to train and calibrate a model with "
            f"window {window}: give at least {need_rows(window, settings.holdout)} rows"
        )
    return Split(fit, held, held_rows, cut, fit_rows)


def train_bundle(
    values: np.ndarray,
    channels: list[str],
    out: str | Path,
    settings: TrainingSettings,
    devices: np.ndarray | None = None,
    source: str = "data",
    progress: Progress = quiet,
    bar: Callable[[int], Any] | None = None,
) -> dict:
    """Train, calibrate and write a bundle from normal readings (n, channels); its metadata,
    which records the settings (`training_settings`) so that it can be trained again alike."""
    job = Job(values, list(channels), devices, settings, Path(out), source, progress, bar)
    check_training_data(values, job.channels, devices, settings.window, settings.holdout, source)
    if settings.headroom == Headroom.DRIFT:  # the probe fits on the oldest half, watches the rest
        check_training_data(values, job.channels, devices, settings.window, 0.5, source)
    split = split_windows(job)
    calibrated_on = "training" if settings.in_sample else "held-out"
    progress(f"training on {len(split.fit)} windows of {settings.window} x {len(channels)}, "
             f"calibrating on {len(split.held)} {calibrated_on} windows")
    slow = slow_of(job)
    model, curves, arrays, meta, scorer = fitted(job, split.fit, slow, progress)
    robust = robust_split(job, split, scorer)
    if robust is not split:
        split = robust
        model, curves, arrays, meta, scorer = fitted(job, split.fit, slow, progress)
    fit_errors = scorer.score(split.fit)
    calibration = threshold_of(job, scorer, fit_errors.error, split, slow)
    progress(
        f"threshold {calibration.threshold:.6g} ({calibration.method}, target FAR "
        f"{calibration.target_far:g}, margin {settings.margin:g}, gap power "
        f"{settings.gap_power:g}, headroom {settings.headroom} "
        f"x{calibration.details.get('headroom', 1.0):.3g}, {calibration.holdout_size} "
        f"{calibrated_on} windows), persistence {settings.persistence}, threshold follow "
        f"{settings.threshold_follow}"
    )
    raw_mse = float(np.mean((split.fit[:, -1, :] - fit_errors.reconstruction) ** 2))
    meta["calibration"] = calibration.to_dict()
    if settings.in_sample:
        meta["calibration"]["details"]["in_sample"] = 1.0
    meta["persistence"] = settings.persistence.to_dict()
    follow = rule_for(settings.threshold_follow, meta["calibration"])
    if follow is not None:  # m and T0 beside LAG/ROWS: scoring needs nothing else
        meta["threshold_follow"] = follow.to_meta()
    meta["training"] = summary(job, split, curves, raw_mse)
    meta["training_settings"] = settings.to_dict()
    return save_bundle(out, model, meta, arrays)


def slow_of(job: Job) -> np.ndarray:
    """Which channels enter the model centred (none unless `slow_channels` is centre)."""
    if job.settings.slow_channels != SlowChannels.CENTRE:
        return np.zeros(len(job.channels), dtype=bool)
    slow = slow_channels(windows_by_device(job.values, job.settings.window, job.devices)[0])
    if slow.any():
        names = ", ".join(channels_of(job.channels, slow))
        job.progress(f"slow channels, centred on each window's mean: {names}")
    return slow


def robust_split(job: Job, split: Split, scorer: Scorer) -> Split:
    """With `outliers` drop, the split without the fitting windows the first fit reconstructs
    far worse than the bulk (the same split when there are none, or too few would remain)."""
    if job.settings.outliers != Outliers.DROP:
        return split
    errors = scorer.score(split.fit).error
    drop = outliers(errors, split.keys(job, held=False))
    if not drop.any() or (~drop).sum() < MIN_WINDOWS:
        return split
    job.progress(f"robust fit: {int(drop.sum())} of {len(drop)} training windows reconstruct "
                 f"far worse than the bulk (beyond {fence(errors):.4g}, with the readings "
                 "around them: anomalies nobody labelled?): left out; fitting again without them")
    kept = replace(split, fit=split.fit[~drop], fit_rows=split.fit_rows[~drop])
    if job.settings.in_sample:
        kept = replace(kept, held=kept.fit, held_rows=np.arange(len(kept.fit)))
    return kept


def held_out_errors(job: Job, scorer: Scorer, split: Split) -> tuple[np.ndarray, np.ndarray]:
    """The held-out windows' errors and rows, without the outliers when `outliers` is drop."""
    errors, rows = scorer.score(split.held).error, split.held_rows
    if job.settings.outliers != Outliers.DROP:
        return errors, rows
    drop = outliers(errors, split.keys(job, held=True))
    if not drop.any() or (~drop).sum() < MIN_HELD_OUT:
        return errors, rows
    job.progress(f"calibration: {int(drop.sum())} of {len(drop)} held-out windows left out "
                 f"(beyond {fence(errors):.4g}, with the readings around them)")
    return errors[~drop], rows[~drop]


def threshold_of(job: Job, scorer: Scorer, fit_errors: np.ndarray, split: Split,
                 slow: np.ndarray) -> Calibration:
    """The calibrated threshold (with the drift headroom when asked), or a DataError."""
    settings = job.settings
    held_errors, held_rows = held_out_errors(job, scorer, split)
    headroom = None
    if settings.headroom == Headroom.DRIFT:
        beta = probe_exponent(job, slow)
        distance = len(job.values) - split.cut + (settings.horizon or 1.0) * len(job.values) / 2
        headroom = drift_headroom(fit_errors, held_errors, held_rows + 1.0, beta, distance)
    calibration = calibrate(held_errors, settings.calibration, settings.target_far,
                            settings.margin, settings.window, fit_errors, settings.gap_power,
                            headroom)  # fmt: skip
    if not np.isfinite(calibration.threshold) or calibration.threshold <= 0:
        raise DataError(
            f"{job.source}: calibration gave the threshold {calibration.threshold:g}: the "
            "held-out errors are all zero or not numbers, so no reading could ever be told apart"
        )
    return calibration


def summary(job: Job, split: Split, curves: dict, raw_mse: float) -> dict[str, Any]:
    """bundle.json's free-form `training`: the data, the fit and its loss curves."""
    settings = job.settings
    result = {
        "source": job.source,
        "rows": len(job.values),
        "fit_windows": len(split.fit),
        "holdout_windows": len(split.held),
        "epochs_run": len(curves.get("loss", [])),
        "loss": curves.get("loss", [None])[-1],
        "val_loss": curves.get("val_loss", [None])[-1],
        "mse_raw_units": raw_mse,
        "curves": curves,
        "seed": settings.seed,
        "learning_rate": settings.learning_rate,
        "batch_size": settings.batch_size or "auto",
        "patience": settings.patience,
        "validation": str(settings.validation),
    }
    if settings.headroom == Headroom.DRIFT:
        result["horizon"] = settings.horizon or 1.0
    return result


def fitted(
    job: Job, windows: np.ndarray, slow: np.ndarray, progress: Progress
) -> tuple[Any, dict, dict[str, np.ndarray], dict, Scorer]:
    """A model fitted on the windows (the slow channels centred): the model, its loss curves, its
    arrays, the metadata so far and a Scorer of it (through Keras, with the settings' residual)."""
    settings = job.settings
    model, curves = train(centred(windows, slow)[0], settings, progress, job.bar)
    dense = settings.architecture == Kind.DENSE
    arrays = dense_arrays(model) if dense else scaling_arrays(model)
    meta = {
        "channels": list(job.channels),
        "window": settings.window,
        "architecture": settings.architecture_meta(),
        "scale": {"mean": arrays["mean"].tolist(), "std": arrays["std"].tolist()},
        "calibration": {"threshold": 1.0},
        "residual": str(settings.residual),
    }
    if slow.any():  # absent when none (as bundles written before it)
        meta["centred"] = channels_of(job.channels, slow)
    if settings.combine != Combine.MEAN:
        meta["combine"] = str(settings.combine)
    return model, curves, arrays, meta, Scorer(Bundle(job.out, meta, arrays),
                                               engine=KerasEngine(model))


def channels_of(channels: list[str], mask: np.ndarray) -> list[str]:
    """The names of the masked channels."""
    return [name for name, chosen in zip(channels, mask, strict=True) if chosen]


def probe_exponent(job: Job, slow: np.ndarray) -> float:
    """The drift headroom's growth exponent: the same model fitted on the oldest half of the
    rows, its errors on the windows of the newer half against their distance from it."""
    half, window = split_rows(len(job.values), 0.5), job.settings.window
    fit = windows_by_device(job.values[:half], window, job.devices_of(slice(None, half)))[0]
    later, rows = windows_by_device(job.values[half:], window, job.devices_of(slice(half, None)))
    job.progress(f"probe: training on {len(fit)} windows of the oldest half, "
                 f"watching {len(later)}")
    scorer = fitted(job, fit, slow, lambda line: job.progress(f"probe: {line}"))[-1]
    floor = float(np.median(scorer.score(fit).error))
    beta = growth_exponent(floor, scorer.score(later).error, rows + 1.0,
                           RESIDUAL_POWER[job.settings.residual])  # fmt: skip
    job.progress(f"probe: the median error grows as distance ** {beta:.3g}")
    return beta
