"""A similarity score of window levels, MSET's idea without its kernel: the distance to the
nearest state seen in training (pure NumPy).

The memory is every fitting window's vector of channel means, scaled by their means and
deviations. A window is scored by its Euclidean distance to the nearest memory state; a fitting
window only by the states whose windows do not overlap its own, so that the fitting scores (which
the held-out gap divides by) are not zero by construction.
"""

from __future__ import annotations

import numpy as np


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances between the rows of a (n, d) and of b (m, d): (n, m)."""
    return np.sqrt(np.maximum(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2), 0.0))


def nearest_state(fit: np.ndarray, window: int, *others: np.ndarray) -> list[np.ndarray]:
    """Scores of the fitting windows' (n, d) means (no overlapping state counted), then of each
    of `others` (any state counted)."""
    mean, std = fit.mean(axis=0), fit.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    memory = (fit - mean) / std
    own = distances(memory, memory)
    index = np.arange(len(fit))
    own[np.abs(index[:, None] - index[None, :]) < window] = np.inf
    return [own.min(axis=1), *(distances((o - mean) / std, memory).min(axis=1) for o in others)]
