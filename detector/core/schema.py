"""The schema of `bundle.json`: every field a scorer relies on, typed and checked in one place.

`parse_meta` converts the parsed JSON with msgspec (strict: a window written as "20" or 20.0, a
scale written as text, a persistence that is not an object are all refused, with the field's
path), then checks what types cannot say: one scale per channel, k ≤ n, distinct channel names.
Extra fields are allowed (newer writers may add some); the training summary is free-form.
`training_settings` (every setting of `detector train`, as `TrainingSettings`) is absent from
bundles written before it: they load, with `training_settings` None (no recipe to train again).
Pure: msgspec and the standard library.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import msgspec

from detector.core.alarm import MAX_N
from detector.core.choices import Activation, Combine, Kind, Method, Residual
from detector.core.follow import MAX_SPAN, ThresholdFollow
from detector.core.training_settings import TrainingSettings
from detector.errors import BundleError, DataError

FORMAT = 1
MAX_WINDOW = 10_000


Positive = Annotated[int, msgspec.Meta(ge=1)]
Size = Annotated[int, msgspec.Meta(ge=1, le=4096)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class Architecture(msgspec.Struct):
    """The autoencoder's shape."""

    kind: Kind
    hidden: Annotated[list[Size], msgspec.Meta(max_length=16)]
    activation: Activation
    window: Annotated[int, msgspec.Meta(ge=1, le=MAX_WINDOW)]
    dropout: Annotated[float, msgspec.Meta(ge=0, le=0.9)] = 0.0


class Scale(msgspec.Struct):
    """Per-channel mean and standard deviation of the training data."""

    mean: list[float]
    std: list[Annotated[float, msgspec.Meta(gt=0)]]

    def __post_init__(self) -> None:
        if not all(map(math.isfinite, [*self.mean, *self.std])):
            raise ValueError("every scale number must be finite")


class Calibration(msgspec.Struct):
    """The threshold and how it was reached."""

    threshold: Annotated[float, msgspec.Meta(gt=0)]
    method: Method = Method.POT
    target_far: Annotated[float, msgspec.Meta(gt=0, lt=0.5)] = 0.001
    holdout_size: Annotated[int, msgspec.Meta(ge=0)] = 0
    quantiles: dict[str, float] = {}
    details: dict[str, float] = {}

    def __post_init__(self) -> None:
        if not math.isfinite(self.threshold):
            raise ValueError("the threshold must be a finite number")


class Persistence(msgspec.Struct):
    """Alarm when k of a device's last n readings are above the threshold."""

    k: Positive
    n: Annotated[int, msgspec.Meta(ge=1, le=MAX_N)]

    def __post_init__(self) -> None:
        if self.k > self.n:
            raise ValueError(f"persistence needs 1 <= k <= n, got {self.k}/{self.n}")


class Follow(msgspec.Struct):
    """The threshold that follows the usual error: LAG/ROWS, m and T₀ (detector.core.follow)."""

    lag: Annotated[int, msgspec.Meta(ge=0, le=MAX_SPAN)]
    rows: Annotated[int, msgspec.Meta(ge=0, le=MAX_SPAN)]
    median: Annotated[float, msgspec.Meta(gt=0)]
    calibrated_threshold: Annotated[float, msgspec.Meta(gt=0)]

    def __post_init__(self) -> None:
        if not (math.isfinite(self.median) and math.isfinite(self.calibrated_threshold)):
            raise ValueError("the follow rule's median and threshold must be finite")
        try:
            ThresholdFollow(self.lag, self.rows)
        except DataError as exc:
            raise ValueError(str(exc).removeprefix("--threshold-follow ")) from exc


class Meta(msgspec.Struct):
    """bundle.json."""

    format: Literal[1]
    version: Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{12}$")]
    channels: Annotated[list[Name], msgspec.Meta(min_length=1, max_length=10_000)]
    window: Annotated[int, msgspec.Meta(ge=1, le=MAX_WINDOW)]
    architecture: Architecture
    scale: Scale
    calibration: Calibration
    persistence: Persistence = msgspec.field(default_factory=lambda: Persistence(1, 1))
    residual: Residual = Residual.SQUARED  # absent: squared
    centred: Annotated[list[Name], msgspec.Meta(max_length=10_000)] = []  # slow channels
    combine: Combine = Combine.MEAN  # absent: mean
    training: dict[str, Any] = {}
    training_settings: TrainingSettings | None = None  # absent in older bundles
    threshold_follow: Follow | None = None  # absent: a fixed threshold


def parse_meta(raw: Any, source: str) -> Meta:
    """The typed metadata, or a BundleError naming the file, the field and what is wrong."""
    if isinstance(raw, dict) and raw.get("format") != FORMAT:
        raise BundleError(f"{source}: unsupported bundle format (expected format {FORMAT})")
    try:
        meta = msgspec.convert(raw, Meta)
    except msgspec.ValidationError as exc:
        raise BundleError(f"{source}: {explain(str(exc))}") from exc
    except DataError as exc:  # the training settings' own rules
        raise BundleError(f"{source}: field 'training_settings': {exc}") from exc
    channels = len(meta.channels)
    if len(set(meta.channels)) != channels:
        raise BundleError(f"{source}: 'channels' names a channel twice")
    if len(meta.scale.mean) != channels or len(meta.scale.std) != channels:
        raise BundleError(
            f"{source}: 'scale.mean' and 'scale.std' must give one number per channel"
        )
    if not set(meta.centred) <= set(meta.channels):
        raise BundleError(f"{source}: 'centred' names a channel that 'channels' does not")
    if meta.centred and meta.window < 2:
        raise BundleError(f"{source}: 'centred' needs a window of at least 2 readings")
    if meta.architecture.window != meta.window:
        raise BundleError(
            f"{source}: 'window' is {meta.window} but 'architecture.window' is "
            f"{meta.architecture.window}"
        )
    recorded = meta.training_settings
    if recorded is not None and recorded.window != meta.window:
        raise BundleError(f"{source}: 'training_settings.window' is {recorded.window} but "
                          f"'window' is {meta.window}")
    return meta


def explain(message: str) -> str:
    """msgspec's message with the field first: `field 'calibration.threshold': Expected ...`."""
    what, _, where = message.rpartition(" - at `")
    if not what:
        return message
    field = where.rstrip("`").removeprefix("$").lstrip(".") or "(the top level)"
    return f"field {field!r}: {what}"
