"""Thresholds from held-out normal errors: an empirical quantile, or peaks over threshold (EVT).

`quantile` promises the target false-alarm rate up to the sampling noise of the held-out set: it
needs well over 1 / target errors to be precise. `pot` fits a generalised Pareto distribution to the
errors above a high initial quantile (as SPOT, Siffer et al., KDD 2017) and extrapolates to the
target rate, so it stays sound when the held-out set is small or the target is far in the tail.
The GPD is fitted by probability-weighted moments (Hosking & Wallis, 1987), which is robust on the
few hundred peaks one has, where SPOT uses Grimshaw's maximum likelihood. On a small held-out set
the initial quantile is lowered so that at least MIN_PEAKS errors lie above it.

Windows that overlap are not independent: n held-out windows of length w come from n + w − 1
readings, about (n + w − 1) / w independent windows, which is what `independent_windows` reports.
A `margin` above 1 multiplies the threshold: headroom for slow drift that a short held-out
stretch cannot show (the calibrated value is kept as `calibrated_threshold`). A `gap_power` P > 0
derives that headroom from the data instead: the generalisation gap g = median held-out error /
median training error says how much worse normal data the model never saw looks than the data it
fitted; the threshold is multiplied by g ** P (P = 2: once for the held-out stretch, once more for
data further on), so a model that generalises badly gets a threshold to match. That P was chosen
on labelled files; a `Headroom` from `drift_headroom` decides from the training rows alone: a
probe's growth exponent (`growth_exponent`) carries the held-out excess over the fitting error to
the distance the threshold has to hold at.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from detector.errors import DataError

METHODS = ("quantile", "pot")
REPORTED_QUANTILES = (0.5, 0.9, 0.99, 0.999)
MIN_PEAKS = 10


@dataclass(frozen=True)
class Calibration:
    """A threshold, how it was reached, and the held-out error quantiles it came from."""

    method: str
    target_far: float
    threshold: float
    holdout_size: int
    quantiles: dict[str, float]
    details: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class Headroom:
    """A factor on the calibrated threshold, and the figures it came from (for the details)."""

    factor: float
    details: dict[str, float] = field(default_factory=dict)


def calibrate(
    errors: np.ndarray,
    method: str = "pot",
    target_far: float = 0.001,
    margin: float = 1.0,
    window: int = 1,
    fit_errors: np.ndarray | None = None,
    gap_power: float = 0.0,
    headroom: Headroom | None = None,
) -> Calibration:
    """Threshold the held-out `errors` so that a fraction `target_far` of normal data exceeds it."""
    errors = np.asarray(errors, dtype=np.float64)
    if method not in METHODS:
        raise DataError(
            f"unknown calibration method {method!r}: choose one of {', '.join(METHODS)}"
        )
    if not 0.0 < target_far < 0.5:
        raise DataError(f"--target-far must be between 0 and 0.5, got {target_far}")
    if not 1.0 <= margin <= 100.0:
        raise DataError(f"--margin must be between 1 and 100, got {margin}")
    if len(errors) < 10 or not np.all(np.isfinite(errors)):
        raise DataError(f"calibration needs at least 10 finite held-out errors, got {len(errors)}")
    if method == "quantile":
        threshold, details = float(np.quantile(errors, 1.0 - target_far)), dict[str, Any]()
    else:
        threshold, details = pot_threshold(errors, target_far)
    details["independent_windows"] = round((len(errors) + window - 1) / window, 1)
    factor = margin
    if gap_power:
        gap = generalisation_gap(errors, fit_errors)
        details["gap"], details["gap_power"] = gap, gap_power
        factor *= gap**gap_power
    if headroom is not None:
        details |= headroom.details
        factor *= headroom.factor
    if margin != 1.0:
        details["margin"] = margin
    if factor != 1.0 or gap_power or headroom is not None:
        details["calibrated_threshold"] = threshold
        threshold *= factor
    quantiles = {str(q): float(np.quantile(errors, q)) for q in REPORTED_QUANTILES}
    quantiles["max"] = float(errors.max())
    return Calibration(method, target_far, threshold, len(errors), quantiles, details)


def generalisation_gap(held: np.ndarray, fit: np.ndarray | None) -> float:
    """Median held-out error over median training error, at least 1 (never a lower threshold)."""
    if fit is None or len(fit) == 0 or not np.median(fit) > 0:
        raise DataError("a generalisation gap needs the training windows' errors")
    return max(1.0, float(np.median(held) / np.median(fit)))


def growth_exponent(
    floor: float, errors: np.ndarray, distances: np.ndarray, power: float
) -> float:
    """β of median error − floor ∝ distance ** β, from the nearer and farther half of windows
    past a probe's fitting rows; clamped to [0, power] (a linear drift grows the gap linearly)."""
    near = distances <= np.median(distances)
    if near.all():
        return 0.0
    m1, m2 = float(np.median(errors[near])), float(np.median(errors[~near]))
    if m2 <= m1:
        return 0.0
    if m1 <= floor:
        return float(power)
    ratio = np.median(distances[~near]) / np.median(distances[near])
    return float(np.clip(np.log((m2 - floor) / (m1 - floor)) / np.log(ratio), 0.0, power))


def drift_headroom(
    fit: np.ndarray, held: np.ndarray, held_distances: np.ndarray, beta: float, distance: float
) -> Headroom:
    """The held-out median's excess over the fitting median carried from the held-out windows'
    median distance to `distance` as distance ** beta: the threshold grows as that median."""
    e0, eh = float(np.median(fit)), float(np.median(held))
    dh = float(np.median(held_distances))
    if not (e0 > 0 and eh > 0 and dh > 0):
        raise DataError("a drift headroom needs positive training and held-out errors")
    et = eh + max(eh - e0, 0.0) * ((distance / dh) ** beta - 1.0)  # e0 + excess x growth
    factor = max(1.0, et / eh)
    return Headroom(factor, {"drift_exponent": beta, "drift_distance": distance,
                             "held_out_distance": dh, "headroom": factor})


def pot_threshold(
    errors: np.ndarray, target_far: float, initial_quantile: float = 0.98
) -> tuple[float, dict[str, float]]:
    """Peaks over threshold: a GPD fitted to excesses over a high quantile, inverted at target."""
    initial_quantile = min(initial_quantile, 1.0 - 2.0 * target_far, 1.0 - MIN_PEAKS / len(errors))
    t = float(np.quantile(errors, initial_quantile))
    excesses = np.sort(errors[errors > t] - t)
    if len(excesses) < 5 or excesses.mean() <= 0:
        return float(np.quantile(errors, 1.0 - target_far)), {"initial_threshold": t, "peaks": 0}
    shape, scale = fit_gpd_pwm(excesses)
    ratio = target_far * len(errors) / len(excesses)
    if abs(shape) < 1e-6:
        z = t - scale * np.log(ratio)
    else:
        z = t + scale / shape * (ratio ** (-shape) - 1.0)
    details = {"initial_threshold": t, "peaks": len(excesses), "shape": shape, "scale": scale}
    return float(z), details


def fit_gpd_pwm(excesses: np.ndarray) -> tuple[float, float]:
    """GPD shape ξ and scale σ of sorted positive excesses by probability-weighted moments."""
    n = len(excesses)
    plotting = (np.arange(1, n + 1) - 0.35) / n
    a0 = float(excesses.mean())
    a1 = float(np.mean((1.0 - plotting) * excesses))
    denominator = a0 - 2.0 * a1
    if denominator <= 0:
        return 0.0, a0
    k = a0 / denominator - 2.0  # Hosking's k = -ξ
    scale = 2.0 * a0 * a1 / denominator
    return float(-k), float(scale)
