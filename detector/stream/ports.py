"""The seam between the serve loop and the broker: what the loop needs of a source and a sink.

kafka-python's KafkaConsumer and KafkaProducer satisfy these protocols as they are (no wrapper on
the hot path); detector.stream.inmemory implements them for unit tests, as httpx's MockTransport
stands in for the network. The values crossing the seam (TopicPartition, OffsetAndMetadata) and
the errors are kafka-python's, re-exported by detector.stream.kafka, so both implementations
return and raise the same ones. Pure typing: nothing here talks to a broker.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

Partition = Any  # a TopicPartition: (topic, partition)
Offsets = Mapping[Any, Any]  # TopicPartition -> OffsetAndMetadata of the next record to read


class Record(Protocol):
    """One polled record (kafka-python's ConsumerRecord has these and more)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    timestamp: int


class Listener(Protocol):
    """Told of rebalances inside poll(): revoked before the partitions go, then the new set."""

    async def on_partitions_revoked(self, revoked: set) -> None: ...

    async def on_partitions_assigned(self, assigned: set) -> None: ...


@runtime_checkable
class Source(Protocol):
    """Where readings come from: a consumer-group member."""

    def subscribe(self, topics: Sequence[str], pattern: Any = None,
                  listener: Listener | None = None) -> None: ...

    def partitions_for_topic(self, topic: str) -> set[int] | None: ...

    def poll(self, timeout_ms: int = 0, max_records: int | None = None
             ) -> Mapping[Partition, Sequence[Record]]: ...

    def assignment(self) -> set[Partition]: ...

    def commit(self, offsets: Offsets | None = None, timeout_ms: int | None = None) -> None: ...

    def commit_async(self, offsets: Offsets | None = None,
                     callback: Callable[[Offsets, object], None] | None = None) -> Awaitable: ...

    def end_offsets(self, partitions: Iterable[Partition], timeout_ms: int | None = None
                    ) -> dict[Partition, int]: ...

    def position(self, partition: Partition, timeout_ms: int | None = None) -> int: ...

    def committed(self, partition: Partition, metadata: bool = False,
                  timeout_ms: int | None = None) -> int | None: ...

    def beginning_offsets(self, partitions: Iterable[Partition], timeout_ms: int | None = None
                          ) -> dict[Partition, int]: ...

    def seek(self, partition: Partition, offset: int) -> None: ...

    def close(self, autocommit: bool = True, timeout_ms: int | None = None) -> None: ...


class Ack(Protocol):
    """The future of one send: done once the broker acknowledged or refused it."""

    is_done: bool
    exception: BaseException | None

    def failed(self) -> bool: ...


@runtime_checkable
class Sink(Protocol):
    """Where events and dead letters go: a producer whose sends the broker acknowledges."""

    def send(self, topic: str, value: bytes | None = None, key: bytes | None = None,
             headers: list | None = None) -> Ack: ...

    def flush(self, timeout: float | None = None) -> None: ...

    def close(self, timeout: float | None = None) -> None: ...
