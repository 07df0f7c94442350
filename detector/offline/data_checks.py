"""What training data must be, checked before TensorFlow is imported (NumPy only).

Enough rows to fit and to calibrate with the window, no channel that never changes (it has
nothing to learn and no scale: the threshold would be meaningless), and windows that fit in
memory.
"""

from __future__ import annotations

import numpy as np

from detector.core.windows import device_groups
from detector.errors import DataError

MIN_WINDOWS = 30  # windows to fit on
MIN_HELD_OUT = 10  # windows to calibrate on
MAX_WINDOW_NUMBERS = 100_000_000  # rows x window x channels held at once (800 MB of float64)


def split_rows(n: int, holdout: float) -> int:
    """The first row of the held-out tail."""
    return n - max(1, round(n * holdout))


def need_rows(window: int, holdout: float) -> int:
    """The fewest rows that give enough windows to fit and to calibrate."""
    fit = MIN_WINDOWS + window - 1
    held = MIN_HELD_OUT + window - 1
    return int(max(fit / (1 - holdout), held / holdout)) + 1


def window_count(devices: np.ndarray | None, n: int, window: int) -> int:
    """How many full windows n rows give (each device's first window − 1 rows give none)."""
    if n == 0:
        return 0
    _, rank = device_groups(devices, n)
    return int(np.sum(rank >= window - 1))


def check_training_data(
    values: np.ndarray,
    channels: list[str],
    devices: np.ndarray | None,
    window: int,
    holdout: float,
    source: str,
) -> None:
    """Fail with a DataError unless the data can train and calibrate a model with this window."""
    n = len(values)
    cut = split_rows(n, holdout)
    fit = window_count(devices[:cut] if devices is not None else None, cut, window)
    held = window_count(devices[cut:] if devices is not None else None, n - cut, window)
    if fit < MIN_WINDOWS or held < MIN_HELD_OUT:
        raise DataError(
            f"{source}: {n} rows are too few to train and calibrate a model with window "
            f"{window}: give at least {need_rows(window, holdout)} rows"
            + (" of each device" if devices is not None and window > 1 else "")
        )
    if n * window * len(channels) > MAX_WINDOW_NUMBERS:
        raise DataError(
            f"{source}: {n} rows in windows of {window} x {len(channels)} channels are too many "
            f"numbers to hold at once (more than {MAX_WINDOW_NUMBERS:.0e}): use fewer rows or a "
            "shorter --window"
        )
    constant = [c for c, span in zip(channels, np.ptp(values, axis=0), strict=True) if span == 0]
    if constant:
        first = values[0, [channels.index(c) for c in constant[:3]]]
        shown = ", ".join(f"{c!r} (always {v:g})" for c, v in zip(constant, first, strict=False))
        raise DataError(
            f"{source}: channel(s) {shown}{' …' if len(constant) > 3 else ''} never change: a "
            "constant channel has nothing to learn and no scale; leave it out with --columns"
        )
