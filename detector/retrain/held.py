"""The readings the retrainer holds: the last M of each device, in bounded memory.

Each device keeps a ring of its newest M readings (values and label); past `max_devices`
devices the one seen least recently is forgotten. A snapshot lays every held reading out in
arrival order, so the newest readings of all devices form the window's tail (the gate's rows).
Pure: NumPy and the standard library.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

NORMAL = ""  # a reading without a label header, or labelled normal


@dataclass(frozen=True)
class Snapshot:
    """Held readings in arrival order: values (n, channels), labels and devices (n,)."""

    values: np.ndarray
    labels: np.ndarray
    devices: np.ndarray

    def __len__(self) -> int:
        return len(self.values)


class Ring:
    """One device's newest `size` readings (arrival number, values, label)."""

    def __init__(self, size: int, width: int) -> None:
        self.arrival = np.full(size, -1, dtype=np.int64)
        self.values = np.zeros((size, width))
        self.labels = np.full(size, NORMAL, dtype=object)
        self.next = 0

    def add(self, arrival: np.ndarray, values: np.ndarray, labels: list[str]) -> None:
        """Append readings in order; the oldest are overwritten."""
        size = len(self.arrival)
        if len(arrival) > size:
            arrival, values, labels = arrival[-size:], values[-size:], labels[-size:]
        slots = (self.next + np.arange(len(arrival))) % size
        self.arrival[slots], self.values[slots] = arrival, values
        self.labels[slots] = labels
        self.next = int((self.next + len(arrival)) % size)


class HeldReadings:
    """The last `per_device` readings of up to `max_devices` devices."""

    def __init__(self, per_device: int, width: int, max_devices: int = 10_000) -> None:
        self.per_device = per_device
        self.width = width
        self.max_devices = max_devices
        self.rings: OrderedDict[str, Ring] = OrderedDict()
        self.arrived = 0  # readings added since start
        self.forgotten = 0  # devices dropped for max_devices
        self.count = 0  # readings held (read from other threads: never iterated there)

    def add(self, devices: list[str], values: np.ndarray, labels: list[str]) -> None:
        """Hold a batch of readings (row-aligned), in the order they arrived."""
        arrival = self.arrived + np.arange(len(devices))
        self.arrived += len(devices)
        order: dict[str, list[int]] = {}
        for i, device in enumerate(devices):
            order.setdefault(device, []).append(i)
        for device, rows in order.items():
            ring = self.rings.pop(device, None) or Ring(self.per_device, self.width)
            self.rings[device] = ring  # now the most recently seen
            ring.add(arrival[rows], values[rows], [labels[i] for i in rows])
        while len(self.rings) > self.max_devices:
            self.rings.popitem(last=False)
            self.forgotten += 1
        self.count = sum(int((ring.arrival >= 0).sum()) for ring in self.rings.values())

    def held(self) -> int:
        """Readings held, all devices together (safe from any thread)."""
        return self.count

    def snapshot(self) -> Snapshot:
        """Every held reading in arrival order."""
        parts = [(ring.arrival, ring.values, ring.labels, device)
                 for device, ring in self.rings.items()]
        if not parts:
            empty = np.empty(0, dtype=object)
            return Snapshot(np.zeros((0, self.width)), empty, empty)
        arrival = np.concatenate([p[0] for p in parts])
        used = arrival >= 0
        order = np.argsort(arrival[used], kind="stable")
        values = np.concatenate([p[1] for p in parts])[used][order]
        labels = np.concatenate([p[2] for p in parts])[used][order]
        devices = np.concatenate([np.full(len(p[0]), p[3], dtype=object) for p in parts])
        return Snapshot(values, labels, devices[used][order])
