"""Which rows a lifecycle step looks at, per device: a window never spans two devices.

Rows are readings in arrival order, of one device (`devices` None) or of many interleaved
(`devices`, one id per row). A step scores some rows (a block to serve, or a retrain window) and
needs, before each device's first one, up to `back` earlier rows of the same device (its windows
and persistence reach back into them). `rows_of` gives both as row numbers in arrival order, the
scored ones marked; `newest_rows` marks each device's newest rows (the gate's); `grouped` orders
rows device by device so that a cut into segments never joins two devices. Pure: NumPy only.
"""

from __future__ import annotations

import numpy as np


def rows_of(devices: np.ndarray | None, start: int, end: int, back: int,
            window: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(row numbers ascending, mask of the scored ones): rows [start, end) — or, with `window`,
    each device's newest `window` rows before `end` — and up to `back` rows of each device
    before its first scored row."""
    if devices is None:
        if window is not None:
            start = max(0, end - window)
        rows = np.arange(max(0, start - back), end)
        return rows, rows >= start
    devices = np.asarray(devices)[:end]
    codes = np.unique(devices, return_inverse=True)[1].reshape(-1)
    picked, scored = [], []
    for code in range(int(codes.max()) + 1 if len(codes) else 0):
        own = np.flatnonzero(codes == code)
        first = max(0, len(own) - window) if window is not None else int(
            np.searchsorted(own, start))
        if first >= len(own):
            continue
        picked.append(own[max(0, first - back):])
        scored.append(own[first:])
    if not picked:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
    rows = np.sort(np.concatenate(picked))
    return rows, np.isin(rows, np.concatenate(scored))


def newest_rows(n: int, tail: int, devices: np.ndarray | None = None) -> np.ndarray:
    """A mask of the newest `tail` rows of each device (of all rows when `devices` is None)."""
    newest = np.zeros(n, dtype=bool)
    if devices is None:
        newest[max(0, n - tail):] = True
        return newest
    devices = np.asarray(devices)
    for device in dict.fromkeys(devices.tolist()):
        own = np.flatnonzero(devices == device)
        newest[own[max(0, len(own) - tail):]] = True
    return newest


def grouped(devices: np.ndarray | None, n: int) -> np.ndarray:
    """Row numbers device by device (each device's rows in arrival order)."""
    if devices is None:
        return np.arange(n)
    return np.argsort(np.unique(np.asarray(devices), return_inverse=True)[1].reshape(-1),
                      kind="stable")
