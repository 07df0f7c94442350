"""Scoring: reconstruct a batch of windows in one model call, and measure each one's error.

The error of a window is the mean squared (or, with the bundle's `residual` "absolute", the mean
absolute) reconstruction error over its readings and channels, in units of each channel's training
standard deviation, so channels of any scale weigh alike; with the bundle's `combine` "max", the
error of its worst channel instead. A bundle's `centred` channels enter the model centred on each
window's own mean (`detector.core.levels`). The score is error / threshold. Scoring
only measures: whether a score flags its reading is the alarm rule's call
(`detector.core.alarm.AlarmRule`), the same offline and online.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detector.core.bundle import Bundle
from detector.core.inference import Engine, make_engine
from detector.core.levels import centred, combined


@dataclass(frozen=True)
class Scores:
    """What scoring says of each of n windows (the last reading stands for the window)."""

    reconstruction: np.ndarray  # (n, channels), of the window's last reading, raw units
    error: np.ndarray  # (n,)
    channel_errors: np.ndarray  # (n, channels)
    score: np.ndarray  # (n,) = error / threshold
    top_channel: np.ndarray  # (n,) index of the channel with the largest error

    def __len__(self) -> int:
        return len(self.error)


class Scorer:
    """Scores windows with a bundle's model: one engine call per batch."""

    def __init__(
        self,
        bundle: Bundle,
        engine: str | Engine = "auto",
        threshold: float | None = None,
    ) -> None:
        self.bundle = bundle
        self.threshold = float(threshold) if threshold is not None else bundle.threshold
        self.window = bundle.window
        self.channels = bundle.channels
        self.version = bundle.version if "version" in bundle.meta else ""
        self.engine = make_engine(bundle, engine) if isinstance(engine, str) else engine
        self.residual = bundle.residual
        self.centred = bundle.centred
        self._centring = bool(self.centred.any())
        self.combine = bundle.combine
        self._inverse_std = 1.0 / bundle.scale
        self._inverse_variance = 1.0 / bundle.scale**2

    def score(self, windows: np.ndarray) -> Scores:
        """Score (n, window, channels) windows, or (n, channels) readings of a point-wise model."""
        windows = np.asarray(windows, dtype=np.float64)
        if windows.ndim == 2:
            windows = windows[:, None, :]
        if len(windows) == 0:
            return empty_scores(len(self.channels))
        levels = None
        if self._centring:
            windows, levels = centred(windows, self.centred)
        fast = getattr(self.engine, "errors", None)  # NumpyDense: the same, in fewer passes
        channel_errors, reconstruction = (fast(windows, self.residual) if fast
                                          else self.errors(windows))
        if levels is not None:
            reconstruction += levels
        error = combined(channel_errors, self.combine)
        score = error / self.threshold
        return Scores(
            reconstruction=reconstruction,
            error=error,
            channel_errors=channel_errors,
            score=score,
            top_channel=channel_errors.argmax(axis=1),
        )

    def errors(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean squared (or absolute) error per channel in training deviations, and the last
        reconstruction."""
        reconstruction = self.engine.reconstruct(windows)
        gaps = windows - reconstruction  # squared (or made absolute) in place
        if self.residual == "absolute":
            np.abs(gaps, out=gaps)
            gaps *= self._inverse_std
        else:
            np.square(gaps, out=gaps)
            gaps *= self._inverse_variance
        return gaps.mean(axis=1), reconstruction[:, -1, :]


def empty_scores(channels: int) -> Scores:
    """Scores of no windows."""
    return Scores(
        np.empty((0, channels)),
        np.empty(0),
        np.empty((0, channels)),
        np.empty(0),
        np.empty(0, dtype=np.int64),
    )
