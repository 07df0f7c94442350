"""The threshold that follows the plant's usual error (`detector train --threshold-follow`).

At reading t of a device the threshold is T_t = max(T, T₀ · median(r)): T the bundle's threshold,
T₀ the calibrated threshold before any headroom, and r the device's ratios error / m on readings
t − LAG − ROWS + 1 … t − LAG (those that exist and have a finite error; readings without a
window are left out), m the median error of the calibration windows. With no such reading,
T_t = T. The ratio is "the usual error in units of this model's held-out median", so a history
stays meaningful when another model takes over. While the recent usual error stays within the
headroom T / T₀, nothing changes; once the plant has drifted past it, the threshold follows,
LAG readings late. A fault longer than about LAG + ROWS / 2 enters its own baseline and is
absorbed from then on.

The rule only decides whether a score is above the threshold, before persistence
(`detector.core.alarm`). Offline (`lagged_medians`, whole arrays) and online (`FollowState`, a
ring of the last LAG + ROWS − 1 ratios per device) give the same medians for the same readings in
the same order. Pure: NumPy and the standard library only.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from detector.core.windows import MAX_DEVICES
from detector.errors import DataError

MAX_SPAN = 10_000  # the longest LAG + ROWS: readings of history per device
SAY = "--threshold-follow must be off or LAG/ROWS like 300/200"


@dataclass(frozen=True)
class ThresholdFollow:
    """LAG and ROWS of the follow rule; ROWS = 0 (and LAG = 0) is off."""

    lag: int = 0
    rows: int = 0

    def __post_init__(self) -> None:
        if self.rows == 0 and self.lag == 0:
            return
        if not (self.lag >= 0 and self.rows >= 1 and self.lag + self.rows <= MAX_SPAN):
            raise DataError(f"--threshold-follow needs LAG >= 0, ROWS >= 1 and LAG + ROWS <= "
                            f"{MAX_SPAN}, got {self.lag}/{self.rows}")

    @property
    def active(self) -> bool:
        """False when off."""
        return self.rows > 0

    @property
    def kept(self) -> int:
        """Ratios a device keeps between batches: LAG + ROWS − 1."""
        return self.lag + self.rows - 1 if self.active else 0

    def to_dict(self) -> dict[str, int]:
        """A JSON-ready dict."""
        return {"lag": self.lag, "rows": self.rows}

    def __str__(self) -> str:
        return f"{self.lag}/{self.rows}" if self.active else "off"


def parse_follow(text: str) -> ThresholdFollow:
    """`off` or `LAG/ROWS` (e.g. `300/200`); a DataError saying what to write otherwise."""
    if str(text).strip().lower() == "off":
        return ThresholdFollow()
    parts = [p.strip() for p in str(text).split("/")]
    if len(parts) != 2 or not all(p.isascii() and p.isdigit() for p in parts):
        raise DataError(f"{SAY}, got {text!r}")
    if any(len(p) > 6 for p in parts):  # never parse a thousand digits to learn it is too big
        raise DataError(f"--threshold-follow needs LAG + ROWS <= {MAX_SPAN}, got {text!r}")
    lag, rows = int(parts[0]), int(parts[1])
    if rows == 0:
        raise DataError(f"--threshold-follow needs ROWS >= 1 (or off), got {text!r}")
    return ThresholdFollow(lag, rows)


@dataclass(frozen=True)
class FollowRule:
    """The follow rule with the bundle's figures: m (`median`) and T₀ (`calibrated`)."""

    follow: ThresholdFollow
    median: float
    calibrated: float

    def __post_init__(self) -> None:
        if not (self.median > 0 and self.calibrated > 0):
            raise DataError("a threshold that follows the usual error needs a positive held-out "
                            f"median and threshold, got {self.median} and {self.calibrated}")

    def ratios(self, error: np.ndarray, scored: np.ndarray | None = None) -> np.ndarray:
        """Each reading's error / m; NaN where it has no window (`scored` False) or no finite
        error (left out of the history)."""
        error = np.asarray(error, dtype=np.float64)
        ratio = error / self.median
        keep = np.isfinite(ratio)
        if scored is not None:
            keep &= np.asarray(scored, dtype=bool)
        return np.where(keep, ratio, np.nan)

    def limits(self, medians: np.ndarray) -> np.ndarray:
        """T₀ · median(r) per reading (NaN where there is no history: the threshold is T)."""
        return self.calibrated * np.asarray(medians, dtype=np.float64)

    def above(self, above: np.ndarray, error: np.ndarray, medians: np.ndarray) -> np.ndarray:
        """`above` (the score over 1) and the error over T₀ · median(r) where there is one."""
        limits = self.limits(medians)
        return np.asarray(above, dtype=bool) & ~(np.asarray(error, dtype=np.float64) <= limits)

    def to_meta(self) -> dict[str, Any]:
        """bundle.json's `threshold_follow`."""
        return {**self.follow.to_dict(), "median": self.median,
                "calibrated_threshold": self.calibrated}


def follow_of(meta: dict[str, Any], threshold: float | None = None) -> FollowRule | None:
    """The follow rule a bundle's metadata records (None: off, as in bundles without one).

    `threshold` (`--threshold`) in place of the bundle's T moves T₀ alike, to T₀ · threshold / T:
    the whole threshold T_t = max(T, T₀ · median(r)) then moves by threshold / T at every reading.
    """
    stored = meta.get("threshold_follow") or {}
    follow = ThresholdFollow(int(stored.get("lag", 0)), int(stored.get("rows", 0)))
    if not follow.active:
        return None
    calibrated = float(stored["calibrated_threshold"])
    if threshold is not None:
        calibrated *= threshold / float(meta["calibration"]["threshold"])
    return FollowRule(follow, float(stored["median"]), calibrated)


def rule_for(follow: ThresholdFollow, calibration: dict[str, Any]) -> FollowRule | None:
    """The rule of a new bundle from its calibration: m its median, T₀ its threshold before
    headroom (the threshold itself when it has none)."""
    if not follow.active:
        return None
    details = calibration.get("details", {})
    calibrated = details.get("calibrated_threshold", calibration["threshold"])
    return FollowRule(follow, float(calibration["quantiles"]["0.5"]), float(calibrated))


def span_medians(spans: np.ndarray, quantile: float = 0.5) -> np.ndarray:
    """Per row of `spans`: the quantile of its non-NaN values (the median), NaN if none. Rows
    without NaN take NumPy's vectorised quantile (what nanquantile computes for them, 4 x
    faster); the others nanquantile's."""
    out = np.full(len(spans), np.nan)
    gaps = np.isnan(spans)
    full = ~gaps.any(axis=1)
    if full.any():
        out[full] = np.quantile(spans[full], quantile, axis=1)
    some = ~full & ~gaps.all(axis=1)
    if some.any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out[some] = np.nanquantile(spans[some], quantile, axis=1)
    return out


def spans_of(before: np.ndarray, values: np.ndarray, lag: int, rows: int) -> np.ndarray:
    """The span of each of `values` (shape (len(values), rows)): its readings t − lag − rows + 1
    … t − lag, `before` holding the readings before the first; NaN where none exists."""
    if not len(values):
        return np.empty((0, rows))
    kept = lag + rows - 1
    pad = np.full(max(kept - len(before), 0), np.nan)
    padded = np.concatenate([pad, before[max(len(before) - kept, 0):] if kept else before[:0],
                             values])
    return sliding_window_view(padded, rows)[: len(values)]


def lagged_medians(values: np.ndarray, lag: int, rows: int, quantile: float = 0.5,
                   needed: np.ndarray | None = None) -> np.ndarray:
    """At each reading t of one device: the quantile (the median) of the non-NaN values of
    readings t − lag − rows + 1 … t − lag (those that exist), NaN where there is none (and, with
    `needed`, where it is False: not computed)."""
    values = np.asarray(values, dtype=np.float64)
    spans = spans_of(values[:0], values, lag, rows)
    if needed is None:
        return span_medians(spans, quantile)
    out = np.full(len(values), np.nan)
    out[needed] = span_medians(spans[needed], quantile)
    return out


def lagged_medians_by_device(values: np.ndarray, follow: ThresholdFollow,
                             devices: np.ndarray | None = None,
                             needed: np.ndarray | None = None) -> np.ndarray:
    """lagged_medians over each device's readings, in row order (`devices` None: one device);
    only where `needed` (a reading whose score is not above 1 needs none: T_t >= T)."""
    values = np.asarray(values, dtype=np.float64)
    needed = np.ones(len(values), dtype=bool) if needed is None else np.asarray(needed, bool)
    if devices is None:
        return lagged_medians(values, follow.lag, follow.rows, needed=needed)
    out = np.full(len(values), np.nan)
    devices = np.asarray(devices)
    for device in dict.fromkeys(devices[needed].tolist()):
        index = np.flatnonzero(devices == device)
        out[index] = lagged_medians(values[index], follow.lag, follow.rows, needed=needed[index])
    return out


class FollowState:
    """The streaming form: each device's last LAG + ROWS − 1 ratios, at most `max_devices`
    devices (the one seen least recently is forgotten first; it starts again with no history)."""

    def __init__(self, follow: ThresholdFollow, max_devices: int = MAX_DEVICES) -> None:
        if max_devices < 1:
            raise DataError(f"max_devices must be at least 1, got {max_devices}")
        self.follow = follow
        self.max_devices = max_devices
        self._recent: dict[Hashable, np.ndarray] = {}  # least recently seen first

    def update_batch(self, devices: Iterable[Hashable], ratios: Iterable[float],
                     needed: np.ndarray | None = None) -> np.ndarray:
        """Record a batch of readings' ratios (NaN: left out) in order; each one's lagged median
        (as `lagged_medians` gives over the device's whole stream), only where `needed`."""
        devices = list(devices)
        ratios = np.asarray(ratios, dtype=np.float64).reshape(-1)
        if len(devices) != len(ratios):
            raise ValueError(f"{len(devices)} devices for {len(ratios)} ratios")
        needed = np.ones(len(ratios), bool) if needed is None else np.asarray(needed, bool)
        follow, kept = self.follow, self.follow.kept
        groups: dict[Hashable, list[int]] = {}
        for i, device in enumerate(devices):
            groups.setdefault(device, []).append(i)
        spans, order = [], []
        for device, index in groups.items():
            before = self._recent.pop(device, None)
            if before is None:
                before = ratios[:0]
                while len(self._recent) >= self.max_devices:
                    del self._recent[next(iter(self._recent))]
            new, want = ratios[index], needed[index]
            if want.any():
                spans.append(spans_of(before, new, follow.lag, follow.rows)[want])
                order.extend(np.asarray(index)[want].tolist())
            both = np.concatenate([before, new])
            self._recent[device] = both[max(len(both) - kept, 0):].copy() if kept else both[:0]
        out = np.full(len(devices), np.nan)
        if order:
            out[np.asarray(order)] = span_medians(np.concatenate(spans))
        return out

    def forget(self, devices: Iterable[Hashable]) -> None:
        """Drop the history of these devices (e.g. of partitions revoked from this consumer)."""
        for device in devices:
            self._recent.pop(device, None)

    def __len__(self) -> int:
        return len(self._recent)
