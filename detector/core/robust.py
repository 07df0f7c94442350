"""Training data with anomalies nobody labelled: which windows to leave out of a fit and of the
calibration, from their reconstruction errors alone.

A window is an outlier when its error is beyond the fence median × (q90 / median) ** POWER: the
fence scales with how spread the bulk of the errors is, so clean data of any unit and spread
keeps all but a very rare extreme window (none on the simulator, where the fence is about 9
times the median and the threshold at a target FAR of 0.001 about 3 times). An anomaly ramps
up and down, so the readings of the same device just before and after a run of outliers are
suspect too: each run widens by its own length on both sides. Pure: NumPy only.
"""

from __future__ import annotations

import numpy as np

POWER = 3.0


def fence(errors: np.ndarray) -> float:
    """The error beyond which a window is an outlier (infinite when the bulk has no spread)."""
    errors = np.asarray(errors, dtype=np.float64)
    finite = errors[np.isfinite(errors)]
    if not len(finite):
        return np.inf
    median, q90 = np.median(finite), np.quantile(finite, 0.9)
    if median <= 0 or q90 <= median:
        return np.inf
    return float(median * (q90 / median) ** POWER)


def widened(mask: np.ndarray) -> np.ndarray:
    """The mask with each run of True grown by its own length before and after."""
    mask = np.asarray(mask, dtype=bool)
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    out = mask.copy()
    for start, end in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
        length = end - start
        out[max(0, start - length):end + length] = True
    return out


def outliers(errors: np.ndarray, keys: np.ndarray | None = None) -> np.ndarray:
    """Which windows to leave out: beyond the fence, widened within each key's windows (a device,
    in time order); not-a-number errors count as beyond."""
    errors = np.asarray(errors, dtype=np.float64)
    beyond = ~(errors <= fence(errors))
    if keys is None:
        return widened(beyond)
    out = np.zeros(len(errors), dtype=bool)
    keys = np.asarray(keys)
    for key in dict.fromkeys(keys.tolist()):
        rows = np.flatnonzero(keys == key)
        out[rows] = widened(beyond[rows])
    return out
