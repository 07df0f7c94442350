"""Sliding windows of readings: each reading with the window − 1 readings before it (pure NumPy)."""

from __future__ import annotations

import numpy as np


def sliding(values: np.ndarray, window: int) -> np.ndarray:
    """Windows ending at rows window−1 … n−1 of one device's readings: shape (n−window+1, w, c)."""
    if window == 1:
        return values[:, None, :]
    view = np.lib.stride_tricks.sliding_window_view(values, window, axis=0)
    return np.ascontiguousarray(view.transpose(0, 2, 1))


def windows_by_device(
    values: np.ndarray, window: int, devices: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Windows per device in row order and the rows they end at (short histories have none)."""
    if window == 1:
        return values[:, None, :], np.arange(len(values))
    if devices is None:
        devices = np.zeros(len(values), dtype=np.int8)
    parts, rows = [], []
    for device in dict.fromkeys(devices.tolist()):
        index = np.flatnonzero(devices == device)
        if len(index) >= window:
            parts.append(sliding(values[index], window))
            rows.append(index[window - 1 :])
    if not parts:
        return np.empty((0, window, values.shape[1])), np.empty(0, dtype=np.int64)
    order = np.argsort(np.concatenate(rows), kind="stable")
    return np.concatenate(parts)[order], np.concatenate(rows)[order]
