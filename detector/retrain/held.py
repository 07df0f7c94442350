"""The readings the retrainer holds: the last M of each device, in bounded memory.

Each device keeps a ring of its newest M readings (values, label, and where each was read:
partition and offset); past `max_devices` devices the one seen least recently is forgotten.
`Served` remembers which readings the serving replicas flagged (their anomaly events name the
reading's partition and offset). A snapshot lays every held reading out in arrival order with
its device and whether it was served flagged; the cycle keeps each device's readings apart.
Pure: NumPy and the standard library.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

NORMAL = ""  # a reading without a label header, or labelled normal


@dataclass(frozen=True)
class Snapshot:
    """Held readings in arrival order: values (n, channels); labels, devices, whether the
    serving replicas flagged each and their arrival numbers (n,)."""

    values: np.ndarray
    labels: np.ndarray
    devices: np.ndarray
    served: np.ndarray
    arrival: np.ndarray

    def __len__(self) -> int:
        return len(self.values)


class Ring:
    """One device's newest `size` readings (arrival number, values, label, partition, offset)."""

    def __init__(self, size: int, width: int) -> None:
        self.arrival = np.full(size, -1, dtype=np.int64)
        self.values = np.zeros((size, width))
        self.labels = np.full(size, NORMAL, dtype=object)
        self.where = np.full((size, 2), -1, dtype=np.int64)  # partition, offset
        self.next = 0

    def add(self, arrival: np.ndarray, values: np.ndarray, labels: list[str],
            where: np.ndarray) -> None:
        """Append readings in order; the oldest are overwritten."""
        size = len(self.arrival)
        if len(arrival) > size:
            arrival, values, labels = arrival[-size:], values[-size:], labels[-size:]
            where = where[-size:]
        slots = (self.next + np.arange(len(arrival))) % size
        self.arrival[slots], self.values[slots] = arrival, values
        self.labels[slots], self.where[slots] = labels, where
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

    def add(self, devices: list[str], values: np.ndarray, labels: list[str],
            where: np.ndarray | None = None) -> None:
        """Hold a batch of readings (row-aligned), in the order they arrived; `where` (n, 2):
        each one's partition and offset (unknown: -1)."""
        if where is None:
            where = np.full((len(devices), 2), -1, dtype=np.int64)
        arrival = self.arrived + np.arange(len(devices))
        self.arrived += len(devices)
        order: dict[str, list[int]] = {}
        for i, device in enumerate(devices):
            order.setdefault(device, []).append(i)
        for device, rows in order.items():
            ring = self.rings.pop(device, None) or Ring(self.per_device, self.width)
            self.rings[device] = ring  # now the most recently seen
            ring.add(arrival[rows], values[rows], [labels[i] for i in rows], where[rows])
        while len(self.rings) > self.max_devices:
            self.rings.popitem(last=False)
            self.forgotten += 1
        self.count = sum(int((ring.arrival >= 0).sum()) for ring in self.rings.values())

    def held(self) -> int:
        """Readings held, all devices together (safe from any thread)."""
        return self.count

    def snapshot(self, served: Served | None = None) -> Snapshot:
        """Every held reading in arrival order (flagged by the replicas as `served` says)."""
        parts = [(ring.arrival, ring.values, ring.labels, device, ring.where)
                 for device, ring in self.rings.items()]
        if not parts:
            empty = np.empty(0, dtype=object)
            return Snapshot(np.zeros((0, self.width)), empty, empty, np.zeros(0, dtype=bool),
                            np.zeros(0, dtype=np.int64))
        arrival = np.concatenate([p[0] for p in parts])
        used = arrival >= 0
        order = np.argsort(arrival[used], kind="stable")
        values = np.concatenate([p[1] for p in parts])[used][order]
        labels = np.concatenate([p[2] for p in parts])[used][order]
        devices = np.concatenate([np.full(len(p[0]), p[3], dtype=object) for p in parts])
        where = np.concatenate([p[4] for p in parts])[used][order]
        flagged = np.zeros(len(where), bool) if served is None else served.flagged(where)
        return Snapshot(values, labels, devices[used][order], flagged, arrival[used][order])

    def oldest(self) -> dict[int, int]:
        """The oldest offset held of each partition."""
        where = np.concatenate([ring.where for ring in self.rings.values()]) if self.rings \
            else np.zeros((0, 2), dtype=np.int64)
        where = where[where[:, 0] >= 0]
        return {int(p): int(where[where[:, 0] == p, 1].min()) for p in np.unique(where[:, 0])}


class Served:
    """The readings the serving replicas flagged: (partition, offset) of the readings topic, as
    their anomaly events name them. Bounded: `prune` forgets offsets older than any held."""

    def __init__(self) -> None:
        self.offsets: dict[int, set[int]] = {}
        self.count = 0  # offsets remembered (read from other threads: never iterated there)

    def add(self, partition: int, offset: int) -> None:
        """One flagged reading."""
        own = self.offsets.setdefault(partition, set())
        self.count += offset not in own
        own.add(offset)

    def __len__(self) -> int:
        return self.count

    def flagged(self, where: np.ndarray) -> np.ndarray:
        """Per (partition, offset) row: whether the replicas flagged that reading."""
        return np.array([int(o) in self.offsets.get(int(p), ()) for p, o in where.tolist()],
                        dtype=bool)

    def prune(self, oldest: dict[int, int]) -> None:
        """Forget the offsets below the oldest one held of their partition (never needed again:
        a partition's readings arrive in offset order)."""
        self.offsets = {p: {o for o in s if o >= oldest.get(p, -1)}
                        for p, s in self.offsets.items()}
        self.count = sum(len(s) for s in self.offsets.values())
