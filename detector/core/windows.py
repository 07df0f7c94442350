"""Sliding windows of readings: each reading with the window − 1 readings before it (pure NumPy).

`windows_by_device` cuts the windows of a whole table at once; `WindowHistory` is its streaming
form for the serve loop: it keeps each device's last window − 1 readings between batches, so
the windows of a stream cut into batches are the windows of the whole stream.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from detector.errors import DataError

MAX_DEVICES = 100_000  # devices whose recent readings the serve loop remembers, by default


def sliding(values: np.ndarray, window: int) -> np.ndarray:
    """Windows ending at rows window−1 … n−1 of one device's readings: shape (n−window+1, w, c)."""
    if window == 1:
        return values[:, None, :]
    view = np.lib.stride_tricks.sliding_window_view(values, window, axis=0)
    return np.ascontiguousarray(view.transpose(0, 2, 1))


def device_groups(devices: Sequence[object] | np.ndarray | None, n: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Rows sorted by device (stable), and each sorted row's rank within its device."""
    if devices is None:
        return np.arange(n), np.arange(n)
    codes = np.unique(np.asarray(devices), return_inverse=True)[1].reshape(-1)
    order = np.argsort(codes, kind="stable")
    positions = np.arange(n)
    first = np.ones(n, dtype=bool)
    first[1:] = codes[order][1:] != codes[order][:-1]
    starts = np.maximum.accumulate(np.where(first, positions, 0))
    return order, positions - starts


def windows_by_device(
    values: np.ndarray, window: int, devices: Sequence[object] | np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Windows per device in row order and the rows they end at (short histories have none)."""
    n = len(values)
    if window == 1:
        return values[:, None, :], np.arange(n)
    order, rank = device_groups(devices, n)
    ends = np.flatnonzero(rank >= window - 1)  # positions in device order with a full window
    rows = order[ends]
    back = np.argsort(rows, kind="stable")
    members = order[ends[back, None] + np.arange(1 - window, 1)]  # (m, window) source rows
    return values[members], rows[back]


class WindowHistory:
    """Ring buffers of each device's last window − 1 readings, for at most `max_devices` devices.

    `windows(devices, values)` cuts the windows that end at a batch's readings, reaching back
    into what is held of each device, then keeps the newest window − 1 readings of each device
    for the next batch. A device's first window − 1 readings have no window (they are only
    kept). The buffers are one array (devices × (window − 1) × channels), grown as devices
    arrive; when a new device would exceed `max_devices`, the device seen least recently is
    forgotten and starts again as new. Drop the devices of revoked partitions with `forget`.
    """

    def __init__(self, window: int, channels: int, max_devices: int = MAX_DEVICES) -> None:
        if window < 1 or max_devices < 1:
            raise DataError(f"window and max_devices must be at least 1, got {window}, "
                            f"{max_devices}")
        self.window = window
        self.depth = window - 1
        self.max_devices = max_devices
        self._slots: dict[Hashable, int] = {}  # device → buffer row, least recently seen first
        self._free: list[int] = []
        self._buffers = np.zeros((0, self.depth, channels))
        self._held = np.zeros(0, dtype=np.int64)  # readings held in each buffer, ≤ depth

    def windows(self, devices: Sequence[Hashable], values: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
        """Windows (m, window, channels) of the batch's readings that have one, and their rows."""
        n = len(values)
        if self.window == 1:
            return values[:, None, :], np.arange(n)
        seen = dict.fromkeys(devices)
        code = {device: i for i, device in enumerate(seen)}
        codes = np.fromiter(map(code.__getitem__, devices), np.int64, n)
        slots = self.slots_for(list(seen))
        streams = Streams(self._buffers, slots, self._held[slots], codes, values)
        rows = np.flatnonzero(streams.position >= self.depth)
        windows = streams.windows(codes[rows], streams.position[rows])
        self._buffers[slots] = streams.tails()
        self._held[slots] = np.minimum(streams.length, self.depth)
        return windows, rows

    def slots_for(self, seen: list[Hashable]) -> np.ndarray:
        """The buffer row of each device (new ones get an empty row), now the most recent."""
        if len(seen) > self.max_devices:
            raise DataError(f"a batch holds {len(seen)} devices, more than max_devices "
                            f"({self.max_devices}): raise max_devices or lower the batch size")
        kept = [self._slots.pop(device, None) for device in seen]
        held = [self.free_slot() if slot is None else slot for slot in kept]
        self._slots.update(zip(seen, held, strict=True))
        return np.asarray(held, dtype=np.int64)

    def free_slot(self) -> int:
        """An empty buffer row: a freed one, a new one, or the stalest device's."""
        if not self._free:
            if len(self._held) < self.max_devices:
                self.grow()
            else:
                stalest = next(iter(self._slots))
                self._free.append(self._slots.pop(stalest))
        slot = self._free.pop()
        self._held[slot] = 0
        return slot

    def grow(self) -> None:
        """Double the buffers (at most max_devices rows); the new rows are free."""
        old = len(self._held)
        size = min(self.max_devices, max(64, 2 * old))
        self._buffers = np.concatenate(
            [self._buffers, np.zeros((size - old, *self._buffers.shape[1:]))])
        self._held = np.concatenate([self._held, np.zeros(size - old, dtype=np.int64)])
        self._free.extend(range(size - 1, old - 1, -1))

    def held(self, device: Hashable) -> int:
        """How many readings of a device are held (window − 1 once its windows are full)."""
        slot = self._slots.get(device)
        return 0 if slot is None else int(self._held[slot])

    def forget(self, devices: Sequence[Hashable]) -> None:
        """Drop what is held of these devices."""
        for device in devices:
            slot = self._slots.pop(device, None)
            if slot is not None:
                self._free.append(slot)

    def __len__(self) -> int:
        return len(self._slots)


class Streams:
    """A batch's devices' streams laid end to end: each one's held readings, then its batch's.

    Device i (codes index the batch's devices) had held[i] readings buffered, right-aligned in
    its buffer row. Laid out so, the window ending at any place of a stream is window
    consecutive rows, and the windows are one gather of row blocks from a strided view.
    """

    def __init__(self, buffers: np.ndarray, slots: np.ndarray, held: np.ndarray,
                 codes: np.ndarray, values: np.ndarray) -> None:
        n, depth, channels = len(codes), buffers.shape[1], values.shape[1]
        self.depth = depth
        count = np.bincount(codes, minlength=len(held))
        self.length = held + count  # each device's stream after the batch
        self.start = np.cumsum(self.length) - self.length  # where each device's stream begins
        order = np.argsort(codes, kind="stable")
        rank = np.empty(n, dtype=np.int64)  # each reading's place among its device's in the batch
        rank[order] = np.arange(n) - np.repeat(np.cumsum(count) - count, count)
        self.position = held[codes] + rank  # each reading's place in its device's stream
        self.laid = np.empty((int(self.length.sum()), channels))
        self.laid[self.start[codes] + self.position] = values
        places = np.arange(depth)
        shift = (depth - held)[:, None]
        kept = places >= shift  # the held readings, right-aligned in each buffer row
        sources = (slots[:, None] * depth + places)[kept]
        self.laid[(self.start[:, None] + places - shift)[kept]] = (
            buffers.reshape(-1, channels)[sources])

    def windows(self, codes: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """The windows ending at these places of these devices' streams: (m, window, channels)."""
        laid, window = self.laid, self.depth + 1
        step, item = laid.strides
        blocks = np.lib.stride_tricks.as_strided(
            laid, (max(len(laid) - self.depth, 0), window, laid.shape[1]), (step, step, item),
            writeable=False)
        return np.asarray(blocks[self.start[codes] + ends - self.depth])

    def tails(self) -> np.ndarray:
        """Each device's last depth readings, right-aligned (rows before a short stream: any)."""
        last = self.start + self.length  # one past each device's stream
        places = np.maximum(last[:, None] + np.arange(-self.depth, 0), 0)
        return np.asarray(self.laid[places])
