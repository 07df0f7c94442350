"""The alarm rule: when a score flags its reading, offline and online alike.

A score is above the threshold when it exceeds 1, and so is a score that is not a number at all
(NaN or infinite: never "normal"). The persistence rule then decides from those bits:

A reading is flagged when at least k of the last n readings of its device (itself included) scored
above the threshold. k = n = 1 flags every reading above the threshold (no persistence); larger k
trades missed alarms for fewer false ones, and n − k bridges short gaps inside an anomaly.

Offline (`persist`, whole arrays) and online (`PersistenceState`, one reading at a time) give the
same flags for the same readings in the same order. Readings without a score (a device's first
window − 1 readings) count as below the threshold but still take their place among the last n.
Pure: NumPy and the standard library only.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from detector.core.follow import FollowRule, follow_of, lagged_medians_by_device
from detector.core.windows import MAX_DEVICES
from detector.errors import DataError

MAX_N = 1000  # the longest persistence memory: n bits per device, n readings of history
BATCH_N = 62  # the longest one PersistenceState.update_batch works out in 64-bit arrays


@dataclass(frozen=True)
class Persistence:
    """Flag a reading when at least k of its device's last n readings are above the threshold."""

    k: int = 1
    n: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.k <= self.n:
            raise DataError(f"persistence needs 1 <= k <= n, got {self.k}/{self.n}")
        if self.n > MAX_N:
            raise DataError(f"persistence needs 1 <= k <= n <= {MAX_N}, got {self.k}/{self.n}")

    @property
    def active(self) -> bool:
        """False for 1/1, which changes nothing."""
        return self.n > 1

    def to_dict(self) -> dict[str, int]:
        """A JSON-ready dict."""
        return {"k": self.k, "n": self.n}

    def __str__(self) -> str:
        return f"{self.k}/{self.n}"


def parse_persistence(text: str) -> Persistence:
    """`K/N` (e.g. `3/5`) as a Persistence; a DataError saying what to write otherwise."""
    parts = [p.strip() for p in str(text).split("/")]
    if len(parts) != 2 or not all(p.isascii() and p.isdigit() for p in parts):
        raise DataError(f"--persistence must be K/N like 3/5, got {text!r}")
    if any(len(p) > 6 for p in parts):  # never parse a thousand digits to learn it is too big
        raise DataError(f"persistence needs 1 <= k <= n <= {MAX_N}, got {text!r}")
    return Persistence(int(parts[0]), int(parts[1]))


def persistence_of(meta: dict[str, Any]) -> Persistence:
    """The rule a bundle's metadata records (1/1 for bundles that record none)."""
    stored = meta.get("persistence") or {}
    return Persistence(int(stored.get("k", 1)), int(stored.get("n", 1)))


def above_threshold(score: np.ndarray) -> np.ndarray:
    """Whether each score is above the threshold: over 1, or not finite (never "normal")."""
    score = np.asarray(score, dtype=np.float64)
    above: np.ndarray = ~(score <= 1.0) | (score == -np.inf)
    return above


@dataclass(frozen=True)
class AlarmRule:
    """What flags a reading: its score above the threshold (and, with a follow rule, its error
    above T₀ times its device's lagged usual ratio: detector.core.follow), then persistence."""

    persistence: Persistence = Persistence()
    follow: FollowRule | None = None

    @classmethod
    def of(cls, meta: dict[str, Any], persistence: Persistence | None = None,
           threshold: float | None = None) -> AlarmRule:
        """The rule a bundle records, or `persistence` in place of its own; with `threshold` in
        place of the bundle's, a follow rule's T₀ moves alike (follow_of)."""
        return cls(persistence or persistence_of(meta), follow_of(meta, threshold))

    above = staticmethod(above_threshold)

    def flag_rows(self, score: np.ndarray, scored: np.ndarray, devices: np.ndarray | None = None,
                  error: np.ndarray | None = None) -> np.ndarray:
        """Flags of every row of a table; `scored` marks the rows with a score (a full window),
        the others count as below the threshold but take their place among the last n (and
        in a follow rule's history, without a ratio). A follow rule needs each row's `error`."""
        above = np.zeros(len(scored), dtype=bool)
        above[scored] = self.above(np.asarray(score)[scored])
        if self.follow is not None:
            if error is None:
                raise ValueError("a follow rule needs each row's error")
            ratios = self.follow.ratios(error, scored)
            medians = lagged_medians_by_device(ratios, self.follow.follow, devices, above)
            above = self.follow.above(above, error, medians)
        return persist_by_device(above, self.persistence, devices)


def persist(above: np.ndarray, rule: Persistence) -> np.ndarray:
    """Flags of one device's readings in order, from whether each scored above the threshold."""
    above = np.asarray(above, dtype=bool)
    if not rule.active:
        return above.copy()
    counts = np.cumsum(above, dtype=np.int64)
    lagged = np.concatenate([np.zeros(rule.n, dtype=np.int64), counts[: -rule.n]])
    return np.asarray((counts - lagged[: len(counts)]) >= rule.k)


def persist_by_device(
    above: np.ndarray, rule: Persistence, devices: np.ndarray | None = None
) -> np.ndarray:
    """Flags of readings of many devices in row order: the rule runs over each device's rows."""
    above = np.asarray(above, dtype=bool)
    if not rule.active or devices is None:
        return persist(above, rule)
    flagged = np.zeros(len(above), dtype=bool)
    for device in dict.fromkeys(np.asarray(devices).tolist()):
        index = np.flatnonzero(devices == device)
        flagged[index] = persist(above[index], rule)
    return flagged


class PersistenceState:
    """The streaming form: the last n above-threshold bits of each device, at most `max_devices`.

    Each device's bits are one integer (the newest reading in the lowest bit). When a new device
    would exceed `max_devices`, the device seen least recently is forgotten (it starts again as
    if new). Drop the devices of revoked partitions with `forget`.
    """

    def __init__(self, rule: Persistence, max_devices: int = MAX_DEVICES) -> None:
        if max_devices < 1:
            raise DataError(f"max_devices must be at least 1, got {max_devices}")
        self.rule = rule
        self.max_devices = max_devices
        self._mask = (1 << rule.n) - 1
        self._recent: dict[Hashable, int] = {}  # least recently seen first

    def update(self, device: Hashable, above: bool) -> bool:
        """Record one reading of `device` (scored above the threshold or not); its flag."""
        if not self.rule.active:
            return bool(above)
        bits = self._recent.pop(device, None)
        if bits is None:
            bits = 0
            if len(self._recent) >= self.max_devices:
                del self._recent[next(iter(self._recent))]
        bits = ((bits << 1) | bool(above)) & self._mask
        self._recent[device] = bits  # re-inserted last: dict order is least recently seen first
        return bits.bit_count() >= self.rule.k

    def update_batch(self, devices: Iterable[Hashable], above: Iterable[bool]) -> np.ndarray:
        """Record a batch of readings in order; their flags (as `update` one by one gives)."""
        devices, above = list(devices), np.asarray(above, dtype=bool).reshape(-1)
        if len(devices) != len(above):
            raise ValueError(f"{len(devices)} devices for {len(above)} bits")
        if not self.rule.active:
            return above.copy()
        seen = dict.fromkeys(devices)
        new = sum(1 for d in seen if d not in self._recent)
        if self.rule.n > BATCH_N or len(self._recent) + new > self.max_devices:
            return np.array([self.update(d, a) for d, a in zip(devices, above, strict=True)],
                            bool)
        return self.vectorised(devices, above, list(seen))

    def vectorised(self, devices: list[Hashable], above: np.ndarray,
                   seen: list[Hashable]) -> np.ndarray:
        """update_batch in array operations, for n <= BATCH_N and no device forgotten."""
        n, size = self.rule.n, len(devices)
        code = {device: i for i, device in enumerate(seen)}
        codes = np.fromiter(map(code.__getitem__, devices), np.int64, size)
        before = np.array([self._recent.pop(d, 0) for d in seen], dtype=np.int64)
        order = np.argsort(codes, kind="stable")  # readings device by device, in batch order
        count = np.bincount(codes, minlength=len(seen))
        start = np.concatenate([[0], np.cumsum(count)[:-1]])
        rank = np.empty(size, dtype=np.int64)  # each reading's place among its device's
        rank[order] = np.arange(size) - np.repeat(start, count)
        # above-threshold readings among the device's last n inside the batch ...
        total = np.concatenate([[0], np.cumsum(above[order])])  # prefix sums, device order
        place = start[codes] + rank  # position of each reading in device order
        first = np.maximum(start[codes], place - n + 1)
        within = total[place + 1] - total[first]
        # ... and among its bits from before the batch, newest first
        older = np.maximum(n - 1 - rank, 0)
        within += np.bitwise_count(before[codes] & ((np.int64(1) << older) - 1))
        # each device's last n bits after the batch: the old bits shifted, then the batch's
        shift = np.minimum(count, n)
        after = (before & ((np.int64(1) << (n - shift)) - 1)) << shift
        age = count[codes] - 1 - rank  # readings of the device after this one
        hit = above & (age < n)
        np.bitwise_or.at(after, codes[hit], np.int64(1) << age[hit])
        last = np.full(len(seen), -1, dtype=np.int64)
        np.maximum.at(last, codes, np.arange(size))
        for i in np.argsort(last, kind="stable").tolist():  # least recently seen first
            self._recent[seen[i]] = int(after[i])
        return np.asarray(within >= self.rule.k)

    def forget(self, devices: Iterable[Hashable]) -> None:
        """Drop the state of these devices (e.g. of partitions revoked from this consumer)."""
        for device in devices:
            self._recent.pop(device, None)

    def clear(self) -> None:
        """Drop every device's state."""
        self._recent.clear()

    def __len__(self) -> int:
        return len(self._recent)
