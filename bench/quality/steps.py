"""Level steps and vibration spread of windows, beside the AE (issue 28, round 3; pure NumPy).

The AE sees each window with its slow channels centred, so it gives up where they stand. A
`step` score measures how far each channel's mean over the window moved from its mean over the
window just before (the rows before, not the training rows: a drift slow against two windows
scores little, a step scores at once), each channel over the fitting rows' spread of such moves,
the largest over the channels. A `spread` score measures how much each fast channel moves within
the window (its standard deviation) against the fitting windows' median, the largest ratio: a
vibration whose amplitude grew. Each is calibrated as the AE's error is (subspace.threshold).
"""

from __future__ import annotations

import numpy as np

from detector.core.windows import windows_by_device


def window_means(values: np.ndarray, window: int) -> np.ndarray:
    """The mean of each channel over the windows ending at rows window − 1 … n − 1: (m, c)."""
    return np.asarray(windows_by_device(values, window)[0].mean(axis=1))


def moves(values: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Each channel's window mean minus the mean of the window before it, and the rows they end
    at (2 · window − 1 … n − 1)."""
    means = window_means(values, window)
    return means[window:] - means[:-window], np.arange(2 * window - 1, len(values))


def step_scores(fit: np.ndarray, window: int, *others: np.ndarray) -> list[np.ndarray]:
    """Step scores of the fitting rows' windows, then of each of `others` (each scored on its own
    rows only): the largest |move| / the fitting moves' deviation over the channels."""
    fit_moves = moves(fit, window)[0]
    scale = fit_moves.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    return [np.abs(moves(v, window)[0] / scale).max(axis=1) for v in (fit, *others)]


def spread_scores(fit: np.ndarray, window: int, *others: np.ndarray) -> list[np.ndarray] | None:
    """Spread scores of the fitting rows' windows, then of each of `others`: the largest ratio
    of a channel's deviation within the window to its fitting windows' median (channels whose
    median is 0 left out; None when none is left)."""
    reference = np.median(windows_by_device(fit, window)[0].std(axis=1), axis=0)
    keep = reference > 0
    if not keep.any():
        return None
    return [(windows_by_device(v[:, keep], window)[0].std(axis=1) / reference[keep]).max(axis=1)
            for v in (fit, *others)]
