"""The AE's threshold re-based on its lagged usual error (issue 28, round 5; pure NumPy).

The incumbent's threshold is T = T₀ g, fixed at training: T₀ POT on the held-out windows, g the
held-out gap. Re-based, the threshold at row t is T₀ · max(g, b_t / m): m the held-out windows'
median error, b_t the median error of the `rows` rows that end `lag` rows before t (rows with no
window left out). While the recent usual error stays within the headroom g the training rows
gave, the threshold is T; once the plant has drifted so far that its typical error has grown
past it, the threshold follows, `lag` rows late. A fault shorter than lag + rows / 2 never enters
its own baseline's majority, so it never raises its own threshold. The lagged median is the
product's (`detector train --threshold-follow LAG/ROWS`, which keeps the history as ratios
error / m: the same threshold up to rounding).
"""

from __future__ import annotations

import numpy as np

from detector.core.follow import lagged_medians

LAG, ROWS = 300, 200  # the baseline: rows t − 499 … t − 300 (bench/RESULTS.md, round 5)


def lagged_median(errors: np.ndarray, lag: int = LAG, rows: int = ROWS,
                  quantile: float = 0.5) -> np.ndarray:
    """At each row t: the quantile (the median by default) of the non-NaN errors of rows
    t − lag − rows + 1 … t − lag (those of them that exist), NaN where there is none: the
    product's own (`detector train --threshold-follow`, detector.core.follow)."""
    return lagged_medians(np.asarray(errors, dtype=float), lag, rows, quantile)


def rebased_thresholds(errors: np.ndarray, calibrated: float, gap: float, median: float,
                       lag: int = LAG, rows: int = ROWS, quantile: float = 0.5) -> np.ndarray:
    """Each row's threshold: calibrated · max(gap, baseline / median) (calibrated · gap where
    no baseline exists yet); `median` is the held-out errors' same quantile (round 6)."""
    if not (calibrated > 0 and gap >= 1 and median > 0):
        raise ValueError("a re-based threshold needs a positive threshold and median, gap >= 1")
    ratio = lagged_median(errors, lag, rows, quantile) / median
    return calibrated * np.maximum(gap, np.nan_to_num(ratio, nan=gap))
