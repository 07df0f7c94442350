"""The seam between the serve loop and the broker: the loop's own types, and what it needs of a
source, a sink and a rebalance listener.

A Kafka client stands behind it through an adapter that translates the client's values and errors
into these (detector.brokers.kafka for kafka-python, as httpx's map_httpcore_exceptions turns its
backend's errors into its own); detector.brokers.inmemory implements it for unit tests. Nothing of a
client crosses: the loop catches only the errors below. Pure: nothing here talks to a broker.
"""

from __future__ import annotations

from abc import abstractmethod
from bisect import bisect_right
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate, chain
from typing import NamedTuple, Protocol, overload, runtime_checkable


class Partition(NamedTuple):
    """One partition of a topic."""

    topic: str
    partition: int


Offsets = dict[Partition, int]  # partition -> the offset of the next record to read
Header = tuple[str, bytes | None]


class Record(Protocol):
    """One polled record (read-only attributes; kafka-python's ConsumerRecord has these)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[Header]: ...


class Records(Sequence[Record]):
    """One partition's records of a poll, in offset order (a slice is Records too).

    It also hands over every value and every header list at once, which the loop reads of each
    record, and where the records at some positions are (an event's id): an adapter may answer
    those without making a Record per message (librdkafka's does).
    """

    @overload
    def __getitem__(self, index: int) -> Record: ...
    @overload
    def __getitem__(self, index: slice) -> Records: ...

    @abstractmethod
    def __getitem__(self, index: int | slice) -> Record | Records: ...

    def values(self) -> list[bytes | None]:
        """Each record's value."""
        return [r.value for r in self]

    def headers(self) -> list[Sequence[Header] | None]:
        """Each record's headers (None or empty: none)."""
        return [r.headers for r in self]

    def places(self, indices: Sequence[int]) -> tuple[list[int], list[int]]:
        """The partition and the offset of the records at these positions."""
        chosen = [self[i] for i in indices]
        return [r.partition for r in chosen], [r.offset for r in chosen]


class RecordList(Records):
    """Records held as Record objects (kafka-python's ConsumerRecords, the in-memory ones)."""

    __slots__ = ("items",)

    def __init__(self, items: Sequence[Record]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    @overload
    def __getitem__(self, index: int) -> Record: ...
    @overload
    def __getitem__(self, index: slice) -> RecordList: ...

    def __getitem__(self, index: int | slice) -> Record | RecordList:
        if isinstance(index, slice):
            return RecordList(self.items[index])
        return self.items[index]

    def __iter__(self) -> Iterator[Record]:
        return iter(self.items)


class Joined(Records):
    """Several partitions' Records one after another (a batch, as the loop scores it)."""

    __slots__ = ("parts", "starts")

    def __init__(self, parts: Sequence[Records]) -> None:
        self.parts = parts
        self.starts = list(accumulate((len(p) for p in parts), initial=0))

    def __len__(self) -> int:
        return self.starts[-1]

    @overload
    def __getitem__(self, index: int) -> Record: ...
    @overload
    def __getitem__(self, index: slice) -> RecordList: ...

    def __getitem__(self, index: int | slice) -> Record | RecordList:
        if isinstance(index, slice):
            return RecordList(list(self)[index])
        at = index + len(self) if index < 0 else index
        if not 0 <= at < len(self):
            raise IndexError(index)
        k = bisect_right(self.starts, at) - 1
        return self.parts[k][at - self.starts[k]]

    def __iter__(self) -> Iterator[Record]:
        return chain.from_iterable(self.parts)

    def values(self) -> list[bytes | None]:
        return list(chain.from_iterable(p.values() for p in self.parts))

    def headers(self) -> list[Sequence[Header] | None]:
        return list(chain.from_iterable(p.headers() for p in self.parts))


Batch = Mapping[Partition, Records]  # one poll: each partition's records, in order


class BrokerError(Exception):
    """A request the broker or the client did not carry out; trying again may help."""

    retriable = True


class BrokerUnavailable(BrokerError):
    """The broker did not answer in time, or cannot be reached."""


class RebalanceInProgress(BrokerError):
    """A commit refused because the group is rebalancing (the partitions may have gone)."""


class NotAuthorized(BrokerError):
    """The broker refuses this client an operation: an ACL is missing; waiting does not help."""

    retriable = False


class SendRefused(BrokerError):
    """The broker or the client refused a message; `retriable` says whether a retry may pass."""

    def __init__(self, message: str, retriable: bool = True) -> None:
        super().__init__(message)
        self.retriable = retriable


class Listener(Protocol):
    """Told of rebalances inside poll(), in the client's thread: it must not wait long."""

    def revoked(self, partitions: frozenset[Partition]) -> Offsets:
        """Before the partitions go: the offsets to commit for them first."""
        ...

    def committed(self, offsets: Offsets, error: BrokerError | None) -> None:
        """How the commit of revoked()'s offsets ended."""
        ...

    def assigned(self, partitions: frozenset[Partition]) -> None:
        """Partitions newly assigned."""
        ...

    def lost(self, partitions: frozenset[Partition]) -> None:
        """Partitions gone without a chance to commit (the membership expired)."""
        ...


CommitAnswer = Callable[[Offsets, BrokerError | None], None]


@runtime_checkable
class Source(Protocol):
    """Where readings come from: a consumer-group member. Its requests raise BrokerError."""

    def subscribe(self, topic: str, listener: Listener) -> None:
        """Join the group on `topic`; rebalances are told to `listener`."""
        ...

    def poll(self, timeout_ms: int, max_records: int) -> Batch:
        """The next records of the assigned partitions (after any rebalance), or none."""
        ...

    def assignment(self) -> frozenset[Partition]: ...

    def commit(self, offsets: Offsets) -> None:
        """Commit and wait for the answer."""
        ...

    def commit_async(self, offsets: Offsets, answer: CommitAnswer) -> None:
        """Commit without waiting; `answer` is called in the loop's thread with the outcome."""
        ...

    def committed(self, partition: Partition) -> int | None:
        """The group's committed offset of a partition (None: no commit)."""
        ...

    def position(self, partition: Partition) -> int:
        """The offset of the next record poll() returns for an assigned partition."""
        ...

    def seek(self, partition: Partition, offset: int) -> None: ...

    def pause(self, partitions: Collection[Partition]) -> None:
        """Fetch nothing more of these assigned partitions: poll() returns none of their records
        (and goes on with heartbeats and rebalances) until resume(); positions stay."""
        ...

    def resume(self, partitions: Collection[Partition]) -> None:
        """Fetch these assigned partitions again from their positions."""
        ...

    def first_offsets(self, partitions: Collection[Partition]) -> Offsets:
        """The oldest offset still in each partition's log."""
        ...

    def end_offsets(self, partitions: Collection[Partition]) -> Offsets:
        """The offset after the last record of each partition's log."""
        ...

    def close(self) -> None:
        """Leave the group without committing."""
        ...


class Ack(Protocol):
    """The answer to one send: pending until the broker acknowledges or refuses it."""

    def done(self) -> bool: ...

    def error(self) -> BrokerError | None:
        """Why it was refused (None while pending or once acknowledged)."""
        ...


@runtime_checkable
class Sink(Protocol):
    """Where events and dead letters go: a producer whose sends the broker acknowledges."""

    def send(self, topic: str, key: bytes | None, value: bytes | None,
             headers: Sequence[Header] | None) -> Ack:
        """Queue a message (raises SendRefused when the client refuses it at once)."""
        ...

    def flush(self, timeout: float) -> None:
        """Push every queued message out and wait for the answers, at most `timeout` seconds
        (BrokerUnavailable when some remain unanswered)."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ModelRecord:
    """One record of the model topic: where it is, the version its header names, its bytes."""

    offset: int
    version: str | None
    value: bytes | None


class ModelReader(Protocol):
    """The model topic as the follower reads it (detector.brokers.kafka_models)."""

    def read_to_end(self, timeout: float = 60.0) -> ModelRecord | None: ...

    def poll(self, timeout_ms: int) -> list[ModelRecord]: ...

    def close(self) -> None: ...
