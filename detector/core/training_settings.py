"""How a bundle is trained: every `detector train` setting, each default and range written once.

`TrainingSettings` is what `detector train` builds from its options, what `train_bundle` follows and
what `bundle.json` records as `training_settings`, so a bundle can be trained again the same way on
new rows (`detector.offline.train.train_like`). The rules that tie settings together (dropout only
for conv models, the drift headroom's companions, centring needs windows) hold for every value, on
the command line and when read back from a bundle. Pure: no TensorFlow, no click.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from detector.core.alarm import MAX_N, Persistence
from detector.core.choices import (
    Activation,
    CalibrateOn,
    Combine,
    Headroom,
    Kind,
    Method,
    Outliers,
    Residual,
    SlowChannels,
    Validation,
)
from detector.core.follow import MAX_SPAN, ThresholdFollow
from detector.errors import DataError
from shared.settings import Meta, Settings, setting

MAX_EPOCHS, MAX_WINDOW = 10_000, 1000
MAX_LAYERS, MAX_LAYER_SIZE = 16, 4096
CONV_FILTERS = (32, 16)  # as the Conv-AE of the SKAB benchmark
DENSE_HIDDEN = (5, 2)  # the seed's linear Dense 5 -> 2 -> 5

LayerSize = Annotated[int, Meta(ge=1, le=MAX_LAYER_SIZE)]
Layers = Annotated[tuple[LayerSize, ...], Meta(min_length=1, max_length=MAX_LAYERS)]


def default_hidden(kind: str) -> tuple[int, ...]:
    """Hidden sizes when none are given: the seed's (5, 2), or the Conv-AE's (32, 16) filters."""
    return CONV_FILTERS if kind.startswith("conv") else DENSE_HIDDEN


@dataclass(frozen=True)
class TrainingSettings(Settings):
    """Model, fitting, calibration and alarm rule of one training (recorded in the bundle)."""

    label = "training settings"

    epochs: Annotated[int, Meta(ge=1, le=MAX_EPOCHS)] = setting(
        200, help="Most passes over the data (early stopping may end sooner).")
    hidden: Layers | None = setting(
        None, help="Hidden layer sizes, or conv filters, 1 to 16 of 1 to 4096 (default: 5,2 dense; "
        "32,16 conv).")
    activation: Activation = setting(Activation.LINEAR, help="Activation of the hidden layers.")
    window: Annotated[int, Meta(ge=1, le=MAX_WINDOW)] = setting(
        1, help="Readings per window: each reading is scored with the window − 1 before it.")
    architecture: Kind = setting(
        Kind.DENSE, help="Dense layers, or a Conv1D encoder and decoder; conv-shared decodes one "
        "curve for every channel (the SKAB benchmark's Conv-AE).")
    dropout: Annotated[float, Meta(ge=0, le=0.9)] = setting(
        0.0, help="Conv only: dropout after the first encoder and the first decoder layer.")
    calibration: Method = setting(
        Method.POT, help="Threshold from an empirical quantile, or from peaks over threshold "
        "(EVT).")
    target_far: Annotated[float, Meta(gt=0, lt=0.5)] = setting(
        0.001, help="False-alarm rate the threshold aims at.")
    holdout: Annotated[float, Meta(gt=0, lt=1)] = setting(
        0.3, help="Fraction of the data (its tail) held out for calibration.")
    margin: Annotated[float, Meta(ge=1, le=100)] = setting(
        1.0, help="Multiply the calibrated threshold by this (headroom for drift).")
    gap_power: Annotated[float, Meta(ge=0, le=4)] = setting(
        0.0, help="Multiply the threshold by (median held-out error / median training error) ** "
        "P: headroom from how much worse unseen normal data looks (0 = off).")
    headroom: Headroom = setting(
        Headroom.NONE, help="drift: a probe model fitted on the oldest half of the data measures "
        "how the median error grows with distance; the threshold grows as that median will at the "
        "middle of --horizon (never lower).")
    horizon: Annotated[float, Meta(gt=0, le=100)] | None = setting(
        None, help="With --headroom drift: how long the threshold must hold past the data, in "
        "multiples of the data's length [default: 1].")
    residual: Residual = setting(
        Residual.SQUARED, help="A window's error: the mean squared or the mean absolute gap "
        "between readings and reconstruction (standard units), in calibration and scoring alike.")
    slow_channels: SlowChannels = setting(
        SlowChannels.KEEP, help="centre: channels with more than half their variance in their "
        "window-long means (a temperature) enter every window centred on its own mean, so the "
        "model sees their shape, not a level the training data cannot cover (needs --window >= "
        "2).")
    combine: Combine = setting(
        Combine.MEAN, help="A window's error from its channels' errors: their mean, or the largest "
        "(a fault that shows in one channel).")
    persistence: Persistence = setting(
        factory=Persistence, help="Alarm when K of a device's last N windows are above the "
        f"threshold (1 <= K <= N <= {MAX_N}).")
    threshold_follow: ThresholdFollow = setting(
        factory=ThresholdFollow, help="LAG/ROWS (e.g. 300/200): at each reading the threshold is "
        "at least T0 x the median of the device's errors on readings LAG to LAG + ROWS - 1 "
        "before it, over the held-out median (T0: the threshold before headroom), so it follows "
        "a plant that drifts; a fault longer than about LAG + ROWS/2 is absorbed "
        f"(LAG + ROWS <= {MAX_SPAN}; off: the fixed threshold).")
    validation: Validation = setting(
        Validation.TAIL, help="Windows early stopping watches: the newest fifth of the fitting "
        "data, or a random fifth.")
    calibrate_on: CalibrateOn = setting(
        CalibrateOn.HELD_OUT, help="Errors the threshold comes from: the held-out tail, or the "
        "training windows themselves (in-sample, no held-out part: a lower threshold; as SKAB's "
        "notebooks).")
    outliers: Outliers = setting(
        Outliers.DROP, help="drop: windows reconstructed far worse than the bulk (anomalies nobody "
        "labelled) are left out, the model fitted again without them, and left out of the "
        "calibration too; keep: train and calibrate on every window.")
    learning_rate: Annotated[float, Meta(gt=0, le=1)] = setting(0.005, help="Adam's learning rate.")
    batch_size: Annotated[int, Meta(ge=0, le=1_000_000)] = setting(
        0, help="Windows per step; 0 chooses from the data size.")
    patience: Annotated[int, Meta(ge=1, le=MAX_EPOCHS)] = setting(
        15, help="Epochs without a better validation loss before training stops.")
    seed: Annotated[int, Meta(ge=0, le=2**32 - 1)] = setting(0, help="Random seed.")

    def __post_init__(self) -> None:
        self.check_ranges()
        if self.dropout and self.architecture == Kind.DENSE:
            raise DataError("--dropout applies to the conv architectures only")
        self.check_headroom()
        if self.slow_channels == SlowChannels.CENTRE and self.window < 2:
            raise DataError("--slow-channels centre needs windows: give --window 2 or more")
        if self.hidden is None:
            object.__setattr__(self, "hidden", default_hidden(self.architecture))

    def check_headroom(self) -> None:
        """`--headroom drift` takes `--horizon`, and neither a gap power nor in-sample
        calibration."""
        if self.headroom != Headroom.DRIFT:
            if self.horizon is not None:
                raise DataError("--horizon applies to --headroom drift only")
            return
        if self.gap_power:
            raise DataError("--headroom drift and --gap-power both set the threshold's headroom: "
                            "give one of them")
        if self.calibrate_on == CalibrateOn.TRAINING:
            raise DataError("--headroom drift needs held-out data: it cannot go with "
                            "--calibrate-on training")

    @property
    def layers(self) -> tuple[int, ...]:
        """The hidden sizes (never None once built)."""
        return tuple(self.hidden or default_hidden(self.architecture))

    @property
    def in_sample(self) -> bool:
        """True when the threshold comes from the training windows themselves."""
        return self.calibrate_on == CalibrateOn.TRAINING

    def architecture_meta(self) -> dict[str, Any]:
        """bundle.json's `architecture` (without `dropout` when 0, as bundles written before)."""
        meta: dict[str, Any] = {"kind": str(self.architecture), "hidden": list(self.layers),
                                "activation": str(self.activation), "window": self.window}
        return {**meta, "dropout": self.dropout} if self.dropout else meta
