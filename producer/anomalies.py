"""The five injected anomaly kinds, each with a documented magnitude and duration (pure NumPy).

| kind              | what happens                                       | magnitude    | readings |
|-------------------|----------------------------------------------------|--------------|----------|
| spike             | one channel jumps up or down                       | ±15          | 1        |
| drift             | one channel gains a linearly growing offset        | 0 → ±12      | 60       |
| stuck             | one channel freezes at its value when it starts    | frozen       | 40       |
| correlation_break | col_2 or col_4 follows the level, not its mirror   | ≥ 30 off     | 10       |
| noise_burst       | the noise on every channel grows eightfold         | ±12          | 20       |

The noise is uniform ±1.5, so a spike is ten noise half-widths.
A correlation break starts only where the level is at most 25 or at least 75, so for its ten
readings the broken channel stands at least 30 units from where the mirror puts it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from producer.signal import MIRRORED, NOISE, level_at
from shared.wire import ANOMALY_KINDS

SPIKE = 15.0
DRIFT = 12.0
BURST = 8.0
DURATION = {"spike": 1, "drift": 60, "stuck": 40, "correlation_break": 10, "noise_burst": 20}
KINDS = ANOMALY_KINDS
assert tuple(DURATION) == KINDS


@dataclass
class Anomaly:
    """One injected anomaly on one device: its kind, first step, channel and parameters."""

    kind: str
    start: int
    channel: int
    sign: float = 1.0
    frozen: float | None = None

    @property
    def end(self) -> int:
        """The first step after the anomaly."""
        return self.start + DURATION[self.kind]


def plan_anomaly(kind: str, step: int, phase: int, rng: np.random.Generator) -> Anomaly:
    """An anomaly of `kind` starting at `step` or, for a correlation break, at the next fit step."""
    if kind == "correlation_break":
        step = next_break_start(step, phase)
        return Anomaly(kind, step, int(rng.choice(MIRRORED)))
    return Anomaly(kind, step, int(rng.integers(5)), sign=float(rng.choice((-1.0, 1.0))))


def next_break_start(step: int, phase: int) -> int:
    """The first step at or after `step` whose level is at most 25 or at least 75."""
    steps = np.arange(step, step + 200)
    level = level_at(steps, phase)
    return int(steps[np.argmax((level <= 25) | (level >= 75))])


def apply_anomaly(
    anomaly: Anomaly, steps: np.ndarray, values: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Modify the rows of `values` (one per step) that the anomaly covers; return their mask."""
    mask = (steps >= anomaly.start) & (steps < anomaly.end)
    if not mask.any():
        return mask
    rows, ch = np.flatnonzero(mask), anomaly.channel
    if anomaly.kind == "spike":
        values[rows, ch] += anomaly.sign * SPIKE
    elif anomaly.kind == "drift":
        progress = (steps[rows] - anomaly.start + 1) / DURATION["drift"]
        values[rows, ch] += anomaly.sign * DRIFT * progress
    elif anomaly.kind == "stuck":
        if anomaly.frozen is None:
            anomaly.frozen = float(values[rows[0], ch])
        values[rows, ch] = anomaly.frozen
    elif anomaly.kind == "correlation_break":
        values[rows, ch] = 100.0 - values[rows, ch]
    elif anomaly.kind == "noise_burst":
        extra = rng.uniform(-NOISE, NOISE, size=(len(rows), values.shape[1])) * (BURST - 1)
        values[rows] += extra
    return mask
