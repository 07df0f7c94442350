"""librdkafka's polled Messages as the seam's Records (detector.stream.ports), made cheaply.

A poll of 5,000 messages makes no Python object per message beyond librdkafka's own: the loop
reads every value and every header list in one pass over the messages, and a Record (a
`ConfluentRecord`) is made only for a record the loop asks for by itself (an event's, a dead
letter's). librdkafka inflates a compressed batch whole; a value past the gzip cap is handed on as
the stand-in INFLATED (a too_large dead letter), as kafka-python's capped reader does.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import pairwise
from typing import Any, overload

import numpy as np

from detector.brokers.kafka_tuning import MAX_INFLATED_BYTES
from detector.stream.decode import INFLATED
from detector.stream.ports import Header, Records


def capped(value: bytes | None) -> bytes | None:
    """The value, or INFLATED when it is past the cap."""
    return INFLATED if value is not None and len(value) > MAX_INFLATED_BYTES else value


class ConfluentRecord:
    """A polled librdkafka Message, read-only, as the seam's Record (values read on demand)."""

    __slots__ = ("message",)

    def __init__(self, message: Any) -> None:
        self.message = message

    @property
    def topic(self) -> str:
        return str(self.message.topic())

    @property
    def partition(self) -> int:
        return int(self.message.partition())

    @property
    def offset(self) -> int:
        return int(self.message.offset())

    @property
    def key(self) -> bytes | None:
        key: bytes | None = self.message.key()
        return key

    @property
    def value(self) -> bytes | None:
        return capped(self.message.value())

    @property
    def headers(self) -> Sequence[Header]:
        return self.message.headers() or ()


class ConfluentRecords(Records):
    """One partition's polled Messages; a Record made only for the one asked for."""

    __slots__ = ("messages",)

    def __init__(self, messages: list[Any]) -> None:
        self.messages = messages

    def __len__(self) -> int:
        return len(self.messages)

    @overload
    def __getitem__(self, index: int) -> ConfluentRecord: ...
    @overload
    def __getitem__(self, index: slice) -> ConfluentRecords: ...

    def __getitem__(self, index: int | slice) -> ConfluentRecord | ConfluentRecords:
        if isinstance(index, slice):
            return ConfluentRecords(self.messages[index])
        return ConfluentRecord(self.messages[index])

    def __iter__(self) -> Iterator[ConfluentRecord]:
        return map(ConfluentRecord, self.messages)

    def values(self) -> list[bytes | None]:
        values: list[bytes | None] = [m.value() for m in self.messages]
        try:
            if max(map(len, values), default=0) <= MAX_INFLATED_BYTES:  # type: ignore[arg-type]
                return values
        except TypeError:  # a tombstone's None
            pass
        return [capped(v) for v in values]

    def headers(self) -> list[Sequence[Header] | None]:
        return [m.headers() for m in self.messages]

    def places(self, indices: Sequence[int]) -> tuple[list[int], list[int]]:
        messages = self.messages
        chosen = [messages[i] for i in indices]
        return [m.partition() for m in chosen], [m.offset() for m in chosen]


def by_partition(messages: list[Any]) -> dict[int, list[Any]]:
    """Messages (none an error) grouped by partition, each partition's in the order polled.

    A poll returns each partition's messages in runs (one per fetched batch): they are moved a
    run at a time, not one by one.
    """
    numbers = [m.partition() for m in messages]
    if numbers.count(numbers[0]) == len(numbers):
        return {numbers[0]: messages}
    codes = np.asarray(numbers)
    starts = [0, *(np.flatnonzero(codes[1:] != codes[:-1]) + 1).tolist(), len(numbers)]
    parts: dict[int, list[Any]] = {}
    for start, end in pairwise(starts):
        parts.setdefault(numbers[start], []).extend(messages[start:end])
    return parts
