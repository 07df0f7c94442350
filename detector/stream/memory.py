"""What the serve loop remembers of each device between batches, bounded in number of devices.

A windowed model needs each device's last window − 1 readings (`WindowHistory`); a persistence
rule needs its last n above-threshold bits (`PersistenceState`); a threshold that follows the
usual error its last LAG + ROWS − 1 error ratios (`Following`: a `FollowState` holding its
rule). All are kept here with the
partition each device arrived on, so that the devices of revoked partitions can be dropped. A
point-wise model without persistence keeps nothing and costs nothing. Pure: no Kafka.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Sequence

import numpy as np

from detector.core.alarm import Persistence, PersistenceState
from detector.core.follow import FollowRule, FollowState
from detector.core.windows import MAX_DEVICES, WindowHistory


class Following(FollowState):
    """A follow rule's per-device history, together with the rule that reads it."""

    def __init__(self, rule: FollowRule, max_devices: int) -> None:
        super().__init__(rule.follow, max_devices)
        self.rule = rule

    def above(self, devices: Sequence[Hashable], rows: np.ndarray, above: np.ndarray,
              error: np.ndarray) -> np.ndarray:
        """`above` of the scored rows under the rule; every reading of the batch enters the
        history in order, those without a window (not in `rows`) without a ratio."""
        ratios, needed = np.full(len(devices), np.nan), np.zeros(len(devices), bool)
        ratios[rows], needed[rows] = self.rule.ratios(error), above
        medians = self.update_batch(devices, ratios, needed)[rows]
        return self.rule.above(above, error, medians)


class DeviceMemory:
    """Per-device windows and persistence for one model; a new model starts a new memory."""

    def __init__(self, window: int, channels: int, rule: Persistence,
                 max_devices: int = MAX_DEVICES, follow: FollowRule | None = None) -> None:
        self.history = WindowHistory(window, channels, max_devices)
        self.persistence = PersistenceState(rule, max_devices)
        self.following = None if follow is None else Following(follow, max_devices)
        self.max_devices = max_devices
        self.partition_of: dict[Hashable, int] = {}  # least recently seen first
        self.active = window > 1 or rule.active or follow is not None

    @property
    def keeps_flags(self) -> bool:
        """Whether a reading's flag depends on the device's earlier readings (the warmup replays
        them through `flags`)."""
        return self.persistence.rule.active or self.following is not None

    def windows(self, devices: Sequence[Hashable], partitions: np.ndarray | None,
                values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The windows to score for a batch's readings and the rows they end at; `partitions`,
        each reading's, are needed only while the memory is `active`.

        A device's first window − 1 readings have no window yet: they are held, not scored.
        """
        if self.active:
            if partitions is None:
                raise ValueError("an active memory needs each reading's partition")
            self.note_partitions(devices, partitions)
        return self.history.windows(devices, values)

    def flags(self, devices: Sequence[Hashable], rows: np.ndarray, above: np.ndarray,
              error: np.ndarray | None = None) -> np.ndarray:
        """Flags of the scored rows, the persistence rule run over every reading of the batch.

        `above[i]` says whether the window ending at `rows[i]` scored above the threshold; the
        readings without a window count as below it but take their place among the last n (and,
        with a follow rule, in its history without a ratio). A follow rule needs the `error`s.
        """
        if self.following is not None:
            if error is None:
                raise ValueError("a follow rule needs each scored reading's error")
            above = self.following.above(devices, rows, above, error)
        rule = self.persistence.rule
        if not rule.active:
            return above
        every = np.zeros(len(devices), dtype=bool)
        every[rows] = above
        return np.asarray(self.persistence.update_batch(devices, every)[rows])

    def note_partitions(self, devices: Sequence[Hashable], partitions: np.ndarray) -> None:
        """Remember the partition of each device, most recent last, at most max_devices."""
        known = self.partition_of
        latest = dict(zip(devices, partitions.tolist(), strict=True))  # each device's last
        for device in latest:
            known.pop(device, None)
        known.update(latest)
        while len(known) > self.max_devices:
            del known[next(iter(known))]

    def forget_partitions(self, partitions: Collection[int]) -> int:
        """Drop the devices that arrived on these partitions; how many there were."""
        gone = [d for d, p in self.partition_of.items() if p in partitions]
        for device in gone:
            del self.partition_of[device]
        self.history.forget(gone)
        self.persistence.forget(gone)
        if self.following is not None:
            self.following.forget(gone)
        return len(gone)

    def __len__(self) -> int:
        return len(self.partition_of)
