"""A CUSUM on the AE's own error in place of persistence 5/10 (issue 28, round 4; pure NumPy).

A window's error e gives x = ln(e / (g m)) − κ: m the held-out windows' median error, g the
held-out gap, κ = f · ln(T₀ / m) a share f of the log-distance from the usual error to the POT
threshold before the gap. S = min(cap, max(0, S + x)) accumulates a persistent excess too small
for one window to cross the threshold; a row is flagged while S > h. h is set from the training
rows alone: the held-out errors' sequence, resampled in blocks of one window (circular block
bootstrap), is run through the same sum, and h is the level it exceeds on `budget` of its
values. cap = h + 5κ: once the errors are back to their usual level, the flag stops within about
five rows, as persistence 5/10's does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detector.core.calibration import generalisation_gap, pot_threshold

FLOOR = 1e-12  # errors are floored here before their logarithm
BOOTSTRAP = 20_000  # values of the resampled held-out sequence
SETTLE = 5  # rows the flag takes to stop once the errors are usual again (persistence's k)


@dataclass(frozen=True)
class Cusum:
    """The sum's reference error, drift allowance, decision level and cap."""

    reference: float  # g · m
    allowance: float  # κ
    level: float  # h
    cap: float

    def run(self, errors: np.ndarray) -> np.ndarray:
        """S after each row of one device, in order; rows with no window (NaN) leave S as it is."""
        steps = np.log(np.maximum(np.asarray(errors, float), FLOOR) / self.reference)
        return accumulate(steps - self.allowance, self.cap)

    def flags(self, errors: np.ndarray) -> np.ndarray:
        """Whether each row is flagged: its S above the decision level."""
        return self.run(errors) > self.level


def accumulate(steps: np.ndarray, cap: float = np.inf) -> np.ndarray:
    """The clipped sum S_t = min(cap, max(0, S_{t−1} + x_t)) from 0; a NaN step changes nothing."""
    out = np.empty(len(steps))
    total = 0.0
    for i, x in enumerate(steps.tolist()):
        if x == x:  # not NaN
            total = min(cap, max(0.0, total + x))
        out[i] = total
    return out


def block_bootstrap(values: np.ndarray, block: int, length: int, seed: int = 0) -> np.ndarray:
    """`length` values of `values` resampled in circular blocks of `block` consecutive ones."""
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, len(values), size=-(-length // block))
    index = (starts[:, None] + np.arange(block)[None, :]) % len(values)
    return np.asarray(values)[index.reshape(-1)[:length]]


def fit_cusum(fit: np.ndarray, held: np.ndarray, fraction: float, budget: float,
              window: int) -> Cusum:
    """The CUSUM of a share `fraction` of the log-distance to the threshold, from the fitting
    and held-out windows' errors, exceeding its level on `budget` of resampled held-out rows."""
    held = np.asarray(held, float)
    median = float(np.median(held))
    threshold, _ = pot_threshold(held, budget)
    allowance = fraction * max(0.0, float(np.log(threshold / median)))
    gap = generalisation_gap(held, np.asarray(fit, float))
    resampled = block_bootstrap(np.log(np.maximum(held, FLOOR) / median), window, BOOTSTRAP)
    level = float(np.quantile(accumulate(resampled - allowance), 1.0 - budget))
    return Cusum(gap * median, allowance, level, level + SETTLE * allowance)
