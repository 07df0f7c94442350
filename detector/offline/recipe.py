"""Train again the way a bundle was made: its recorded `training_settings` on new rows.

A bundle written by `detector train` records every training setting (`TrainingSettings`); one
written before that records none and cannot be retrained alike (`settings_of` gives None, and
`train_like` refuses it with one line). The challenger has the champion's channels, in its order.
Importing this module does not import TensorFlow; `train_like` does, once its inputs are checked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from detector.core.bundle import Bundle, load_bundle
from detector.core.training_settings import TrainingSettings
from detector.errors import BundleError, DataError

if TYPE_CHECKING:
    from detector.lifecycle.backtest import Trainer

Recipe = Bundle | TrainingSettings | str | Path
Progress = Callable[[str], None]


def quiet(_: str) -> None:
    """Progress that says nothing."""


def settings_of(bundle: Bundle) -> TrainingSettings | None:
    """The settings a bundle was trained with, or None for a bundle written before they were
    recorded (a BundleError when they are wrong or name a setting this version does not know)."""
    recorded = bundle.meta.get("training_settings")
    if recorded is None:
        return None
    unknown = sorted(set(recorded) - {f.name for f in fields(TrainingSettings)})
    if unknown:  # a newer detector's settings: training without them would not be alike
        raise BundleError(f"{bundle.path}: its training settings {', '.join(unknown)} are "
                          "unknown to this detector: retrain it with the version that wrote it")
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
    from detector.offline.train import train_bundle  # TensorFlow: only once the inputs are good

    train_bundle(values, names, out, settings, devices, source, progress)
    return Path(out)


def trainer_like(settings: TrainingSettings, channels: Sequence[str]) -> Trainer:
    """The lifecycle's trainer, the backtest's and the live retrainer's alike: a challenger
    trained on a retrain window's rows (each segment's windows apart) as `settings` say; the
    loaded bundle."""

    def trainer(values: np.ndarray, segments: np.ndarray, out: Path) -> Bundle:
        train_like(settings, values, out, channels=channels, devices=segments,
                   source="the retrain window")
        return load_bundle(out)

    return trainer
