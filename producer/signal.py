"""The normal signal: five noisy channels driven by one latent level (pure NumPy)."""

from __future__ import annotations

import numpy as np

from shared.wire import CHANNELS

MIRRORED: tuple[int, ...] = (1, 3)  # col_2 and col_4 read 100 - level
FOLLOWING: tuple[int, ...] = (0, 2, 4)  # col_1, col_3 and col_5 read the level
PERIOD = 200  # readings for one sweep 0 -> 100 -> 0
NOISE = 1.5  # uniform noise half-width on every channel


def level_at(step: np.ndarray, phase: int) -> np.ndarray:
    """The latent level at each step: a triangle wave 0 -> 100 -> 0 with period PERIOD."""
    half = PERIOD / 2
    position = np.mod(step + phase, PERIOD)
    return np.where(position < half, position, PERIOD - position) * (100.0 / half)


def clean_values(level: np.ndarray) -> np.ndarray:
    """Noise-free channel values for each level, shape (n, 5)."""
    values = np.empty((len(level), len(CHANNELS)))
    values[:, FOLLOWING] = level[:, None]
    values[:, MIRRORED] = 100.0 - level[:, None]
    return values


def noisy_values(level: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Channel values with uniform noise of half-width NOISE."""
    return clean_values(level) + rng.uniform(-NOISE, NOISE, size=(len(level), len(CHANNELS)))


def drifted(values: np.ndarray, steps: np.ndarray, drift: float) -> np.ndarray:
    """Normal operation drifting slowly: every channel raised by `drift` units per 1,000 steps
    of its device (a new normal, labelled normal; it moves the channels off their mirror)."""
    if drift == 0:
        return values
    return values + (drift / 1000.0) * np.asarray(steps, dtype=np.float64)[:, None]


def seed_sequences(rows: int = 100, seed: int = 0) -> np.ndarray:
    """The seed's data: channels 1, 3, 5 rise 0 -> 100, channels 2, 4 fall 100 -> 0, noise ±1.5."""
    rng = np.random.default_rng(seed)
    return noisy_values(np.linspace(0.0, 100.0, rows), rng)
