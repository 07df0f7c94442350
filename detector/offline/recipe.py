"""Train again the way a bundle was made: its recorded `training_settings` on new rows.

A bundle written by `detector train` records every training setting (`TrainingSettings`); one
written before that records none and cannot be retrained alike (`settings_of` gives None, and
`train_like` refuses it with one line). The challenger has the champion's channels, in its order.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from detector.core.bundle import Bundle, load_bundle
from detector.core.training_settings import TrainingSettings
from detector.errors import BundleError, DataError
from detector.offline.train import Progress, quiet, train_bundle

Recipe = Bundle | TrainingSettings | str | Path


def settings_of(bundle: Bundle) -> TrainingSettings | None:
    """The settings a bundle was trained with, or None for a bundle written before they were
    recorded (a BundleError when they are there but wrong)."""
    recorded = bundle.meta.get("training_settings")
    if recorded is None:
        return None
    try:
        return TrainingSettings.from_dict(recorded)
    except DataError as exc:
        raise BundleError(f"{bundle.path}: {exc}") from exc


def recipe_of(recipe: Recipe) -> tuple[TrainingSettings, list[str] | None]:
    """The settings to train with and the channels they must train on (None: any)."""
    if isinstance(recipe, TrainingSettings):
        return recipe, None
    bundle = recipe if isinstance(recipe, Bundle) else load_bundle(recipe)
    settings = settings_of(bundle)
    if settings is None:
        raise BundleError(
            f"{bundle.path} records no training settings (trained before bundles recorded them): "
            "train it again once with `detector train` to retrain it alike"
        )
    return settings, bundle.channels


def train_like(
    recipe: Recipe,
    rows: np.ndarray,
    out: str | Path,
    channels: Sequence[str] | None = None,
    devices: np.ndarray | None = None,
    source: str = "recent rows",
    progress: Progress = quiet,
) -> Path:
    """Train a challenger on `rows` (n, channels) exactly as `recipe` was trained (a bundle, its
    folder, or settings) and write it into `out` atomically; the new bundle's folder.

    `channels` names the columns of `rows`; with a bundle it defaults to the bundle's and must be
    them, in order. `devices` (one per row) keeps each device's windows apart. Too few rows, a
    constant channel or a bundle without recorded settings: a DataError or BundleError (one line).
    """
    settings, required = recipe_of(recipe)
    names = list(channels) if channels is not None else required
    if names is None:
        raise DataError("train_like needs the channels of the rows when given settings alone")
    if required is not None and names != required:
        raise DataError(f"{source}: the rows' channels {', '.join(names)} are not the model's "
                        f"{', '.join(required)}")
    values = np.asarray(rows, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != len(names):
        raise DataError(f"{source}: rows of shape {values.shape} do not hold {len(names)} channels")
    if not np.isfinite(values).all():
        raise DataError(f"{source}: the rows hold NaN or infinite values")
    train_bundle(values, names, out, settings, devices, source, progress)
    return Path(out)
