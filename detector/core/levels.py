"""Slow channels: channels that move slower than a window enter the model by their shape alone.

A channel whose level wanders over hundreds of readings (a temperature) cannot be learnt from a
few hundred training rows: the levels it will reach are not among them, so every later reading
looks new to the model. With `detector train --slow-channels centre`, training marks the channels
with more than half their variance in their window-long means (white noise has 1/window of it
there), and every window, in training and scoring alike, enters the model with those channels
centred on their own mean: the model sees how they move within the window, not where they are.

How a window's channel errors combine into its error is here too: their mean, or the largest
(`--combine max`: a fault that shows in one channel is not averaged away by the others).
Pure: NumPy only.
"""

from __future__ import annotations

import numpy as np

SLOW_SHARE = 0.5  # a channel is slow when more than this share of its variance is in its levels


def slow_share(windows: np.ndarray) -> np.ndarray:
    """Per channel of (n, window, channels) windows: the variance of the window means over the
    variance of the readings (1/window for white noise, near 1 for a slow level)."""
    levels = windows.mean(axis=1).var(axis=0)
    total = windows.reshape(-1, windows.shape[-1]).var(axis=0)
    return np.asarray(np.divide(levels, total, out=np.zeros_like(levels), where=total > 0))


def slow_channels(windows: np.ndarray, share: float = SLOW_SHARE) -> np.ndarray:
    """Which channels are slow: more than `share` of their variance in their window means."""
    return slow_share(windows) > share


def centred(windows: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The windows with the masked channels centred on each window's own mean (a copy), and the
    means taken off: (n, channels), zero for the channels left alone."""
    levels = np.zeros((len(windows), windows.shape[-1]))
    levels[:, mask] = windows[:, :, mask].mean(axis=1)
    return windows - levels[:, None, :], levels


def combined(channel_errors: np.ndarray, combine: str) -> np.ndarray:
    """Each window's error from its (n, channels) channel errors: their mean or their largest."""
    if combine == "max":
        return np.asarray(channel_errors.max(axis=1))
    # np.mean's own sum and division, without its Python wrapper (a tenth of a small batch)
    return np.asarray(channel_errors.sum(axis=1) / channel_errors.shape[1])
