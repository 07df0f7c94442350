"""The choices of the detector's settings, as enums (each compares equal to its text)."""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """The autoencoder's architecture."""

    DENSE = "dense"
    CONV = "conv"
    CONV_SHARED = "conv-shared"  # one decoded curve for every channel (SKAB's Conv-AE)


class Activation(StrEnum):
    """The hidden layers' activation."""

    LINEAR = "linear"
    RELU = "relu"
    TANH = "tanh"
    SIGMOID = "sigmoid"
    ELU = "elu"
    GELU = "gelu"


class Method(StrEnum):
    """How the threshold is calibrated: an empirical quantile, or peaks over threshold."""

    QUANTILE = "quantile"
    POT = "pot"


class Headroom(StrEnum):
    """Extra headroom on the threshold: none, or as a probe says the errors will drift."""

    NONE = "none"
    DRIFT = "drift"


class Residual(StrEnum):
    """How a window's error averages its gaps."""

    SQUARED = "squared"
    ABSOLUTE = "absolute"


class SlowChannels(StrEnum):
    """What becomes of channels slower than a window: kept, or centred on each window's mean."""

    KEEP = "keep"
    CENTRE = "centre"


class Combine(StrEnum):
    """How a window's channel errors make its error."""

    MEAN = "mean"
    MAX = "max"


class Validation(StrEnum):
    """Which fitting windows early stopping watches: the newest, or drawn at random."""

    TAIL = "tail"
    RANDOM = "random"


class CalibrateOn(StrEnum):
    """Which errors calibrate the threshold: the held-out tail, or the training windows."""

    HELD_OUT = "held-out"
    TRAINING = "training"


class Outliers(StrEnum):
    """What training does with windows far worse reconstructed than the bulk (unlabelled
    anomalies): leave them out of the fit and the calibration, or keep them."""

    DROP = "drop"
    KEEP = "keep"


class OffsetReset(StrEnum):
    """Where a new consumer group starts."""

    EARLIEST = "earliest"
    LATEST = "latest"


RESIDUAL_POWER = {Residual.SQUARED: 2, Residual.ABSOLUTE: 1}  # how a gap grows with an offset
