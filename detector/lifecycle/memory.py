"""A bounded memory of cleaned rows beside the retrain window (docs/lifecycle.md).

Each device keeps up to `size` rows that a cycle's cleaning kept, oldest out first. At every
cycle, the rows of each device's window that the next cycle's window will no longer hold (those
older than its newest `window - every` rows: `leaving`) join the memory, the ones the cleaning
kept; a row the cleaning left out never enters. A row joins once (each device's newest arrival
memorized is remembered). Each stretch of kept rows a cycle adds stays its own segment, so that
no training window straddles two. Challengers train on the memory beside the window's kept
rows; the cleaning, the stale test and the gate never see it. Pure: NumPy and the standard
library.
"""

from __future__ import annotations

from collections import OrderedDict, deque

import numpy as np

from detector.lifecycle.cleaning import runs
from detector.lifecycle.rows import newest_rows

RETRAIN_MEMORY = 1200  # kept rows per device remembered beside the window: 20 minutes (0: none)


def leaving(n: int, window: int, every: int, devices: np.ndarray | None = None) -> np.ndarray:
    """A mask over a window's `n` rows: those the next cycle's window no longer holds (each
    device's rows older than its newest `window - every`)."""
    return ~newest_rows(n, max(0, window - every), devices)


class Memory:
    """Up to `size` kept rows per device, in stretches, of up to `max_devices` devices."""

    def __init__(self, size: int, max_devices: int = 10_000) -> None:
        self.size = size
        self.max_devices = max_devices
        self.stretches: OrderedDict[str, deque[np.ndarray]] = OrderedDict()
        self.last: dict[str, int] = {}  # each device's newest arrival memorized

    def __len__(self) -> int:
        return sum(len(s) for own in self.stretches.values() for s in own)

    def devices(self) -> int:
        """How many devices have at least one row remembered."""
        return sum(1 for own in self.stretches.values() if any(len(s) for s in own))

    def add(self, values: np.ndarray, keep: np.ndarray, arrival: np.ndarray,
            devices: np.ndarray | None = None) -> None:
        """Remember the kept rows among `values` (in arrival order; `arrival` numbers them, one
        sequence for all devices) that are newer than the device's newest remembered."""
        if self.size <= 0 or not len(values):
            return
        keep, arrival = np.asarray(keep, dtype=bool), np.asarray(arrival, dtype=np.int64)
        names = np.full(len(values), "", dtype=object) if devices is None else np.asarray(
            devices, dtype=object)
        for device in dict.fromkeys(names.tolist()):
            own = np.flatnonzero((names == device) & (arrival > self.last.get(device, -1)))
            if not len(own):
                continue
            self.last[device] = int(arrival[own].max())
            kept = [values[own[a:b]] for a, b in runs(keep[own])]
            self.remember(str(device), kept)

    def remember(self, device: str, stretches: list[np.ndarray]) -> None:
        """Append one device's stretches, then forget its oldest rows past `size`."""
        own = self.stretches.pop(device, None) or deque()
        self.stretches[device] = own  # now the most recently seen
        own.extend(np.array(s, dtype=np.float64) for s in stretches)
        excess = sum(len(s) for s in own) - self.size
        while excess > 0 and own:
            if len(own[0]) <= excess:
                excess -= len(own.popleft())
            else:
                own[0], excess = own[0][excess:], 0
        while len(self.stretches) > self.max_devices:
            gone, _ = self.stretches.popitem(last=False)
            self.last.pop(gone, None)

    def forget_except(self, devices: set[str]) -> None:
        """Forget the devices not among `devices` (those the window no longer holds)."""
        for device in [d for d in self.stretches if d not in devices]:
            del self.stretches[device]
            self.last.pop(device, None)

    def rows(self, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Every remembered row (n, width) and a segment id per row (one per stretch)."""
        parts = [s for own in self.stretches.values() for s in own if len(s)]
        if not parts:
            return np.zeros((0, width)), np.zeros(0, dtype=np.int64)
        segments = np.concatenate([np.full(len(s), i, dtype=np.int64)
                                   for i, s in enumerate(parts)])
        return np.concatenate(parts), segments
