"""An in-memory broker for unit tests of the serve loop, as httpx ships MockTransport.

InMemoryBroker holds topics of partitions of records and each group's committed offsets;
InMemoryConsumer and InMemoryProducer implement the Source and Sink of detector.stream.ports on it.
The test decides what a real broker would: when the group rebalances (`consumer.rebalance`, taken
at the next poll, which calls the listener as kafka-python does), whether a send is acknowledged,
refused or left pending (`producer.failures`, `producer.hold` then `producer.answer()`), and
whether the broker answers at all (`broker.down`). Single-threaded: nothing happens between calls.
"""

from __future__ import annotations

import time
import zlib
from collections import deque, namedtuple
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping, Sequence
from contextlib import suppress
from typing import Any

from detector.stream import kafka
from detector.stream.kafka import TopicPartition

# One record of a partition, a named tuple like kafka-python's ConsumerRecord (types: ports.Record)
Record = namedtuple("Record", "topic partition offset key value headers timestamp")


class InMemoryBroker:
    """Topics, each a list of partitions of records, and the committed offsets of each group."""

    def __init__(self, topics: Mapping[str, int] | None = None,
                 max_message_bytes: int = 1024 * 1024) -> None:
        self.topics: dict[str, list[list[Record]]] = {}
        self.committed: dict[str, dict[TopicPartition, int]] = {}  # group -> next offsets
        self.max_message_bytes = max_message_bytes
        self.down = False  # True: polls, commits and offset queries raise; sends wait
        for name, partitions in (topics or {}).items():
            self.create_topic(name, partitions)

    def create_topic(self, name: str, partitions: int = 1) -> None:
        """A topic with this many empty partitions (an existing one is left as it is)."""
        self.topics.setdefault(name, [[] for _ in range(partitions)])

    def check(self) -> None:
        """Raise as an unreachable broker does while `down`."""
        if self.down:
            raise kafka.KafkaConnectionError("the in-memory broker is down")

    def append(self, topic: str, value: bytes | None, key: bytes | None = None,
               headers: list | None = None, partition: int | None = None) -> Record:
        """Store a record (a missing topic gets one partition); keys choose a stable partition."""
        self.create_topic(topic)
        partitions = self.topics[topic]
        if partition is None:
            partition = zlib.crc32(key) % len(partitions) if key is not None else 0
        log = partitions[partition]
        log.append(Record(topic, partition, len(log), key, value, list(headers or []),
                          int(time.time() * 1000)))
        return log[-1]

    def records(self, topic: str) -> list[Record]:
        """Every record of a topic, partition after partition."""
        return [r for log in self.topics.get(topic, []) for r in log]

    def offsets(self, group: str) -> dict[int, int]:
        """The committed next offset of each partition, by partition number (any topic)."""
        return {tp.partition: o for tp, o in sorted(self.committed.get(group, {}).items())}


class Answered:
    """A request answered already: awaitable like kafka-python's Future (raising its error)."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error

    def __await__(self) -> Generator[Any, None, None]:
        if self.error is not None:
            raise self.error
        yield from ()  # never waits


def finish(result: Any) -> None:
    """Run a rebalance callback's coroutine to its end (every in-memory answer is ready)."""
    if isinstance(result, Awaitable):
        with suppress(StopIteration):
            result.__await__().send(None)
            raise RuntimeError("a rebalance listener waited for what never comes in memory")


class InMemoryConsumer:
    """A group member reading its assigned partitions from the committed offsets on."""

    def __init__(self, broker: InMemoryBroker, group: str = "detector") -> None:
        self.broker = broker
        self.group = group
        self.listener: Any = None
        self.assigned: set[TopicPartition] = set()
        self.positions: dict[TopicPartition, int] = {}
        self.next_assignment: set[TopicPartition] | None = None  # taken at the next poll
        self.eager = False
        self.commits: list[dict[int, int]] = []  # partition -> next offset, of every commit
        self.closed = False

    def subscribe(self, topics: Sequence[str], pattern: Any = None, listener: Any = None) -> None:
        """Subscribe; the next poll assigns every partition of the topics (a group of one)."""
        self.listener = listener
        self.rebalance(TopicPartition(t, p) for t in topics
                       for p in range(len(self.broker.topics.get(t, []))))

    def rebalance(self, partitions: Iterable[TopicPartition], eager: bool = False) -> None:
        """The group's next assignment of this member, taken at its next poll: only the partitions
        that go are revoked (as in the cooperative protocol); new ones start at the commit."""
        self.next_assignment = set(partitions)
        self.eager = eager  # revoke every partition first, as the eager protocol does

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        partitions = self.broker.topics.get(topic)
        return None if partitions is None else set(range(len(partitions)))

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    def poll(self, timeout_ms: int = 0, max_records: int | None = None
             ) -> dict[TopicPartition, list[Record]]:
        """Up to max_records of the assigned partitions' next records, after any rebalance."""
        self.broker.check()
        if self.next_assignment is not None:
            self.reassign(self.next_assignment)
        batch, room = {}, max_records or 500
        for tp in sorted(self.assigned):
            start = self.positions[tp]
            taken = self.broker.topics[tp.topic][tp.partition][start:start + room]
            if taken:
                batch[tp] = taken
                self.positions[tp] = start + len(taken)
                room -= len(taken)
        return batch

    def reassign(self, assigned: set[TopicPartition]) -> None:
        """Revoke what goes (the listener first), then take the new partitions."""
        self.next_assignment = None
        revoked = set(self.assigned) if self.eager else self.assigned - assigned
        if revoked and self.listener is not None:
            finish(self.listener.on_partitions_revoked(set(revoked)))
        committed = self.broker.committed.get(self.group, {})
        self.positions = {tp: self.positions.get(tp, committed.get(tp, 0)) for tp in assigned}
        added = assigned - (self.assigned - revoked)
        self.assigned = set(assigned)
        if self.listener is not None:  # as the cooperative protocol: the added ones
            finish(self.listener.on_partitions_assigned(added))

    def commit(self, offsets: Mapping | None = None, timeout_ms: int | None = None) -> None:
        """Store {TopicPartition: OffsetAndMetadata or int} as the group's committed offsets."""
        self.broker.check()
        plain = {tp: getattr(o, "offset", o) for tp, o in (offsets or {}).items()}
        self.broker.committed.setdefault(self.group, {}).update(plain)
        self.commits.append({tp.partition: o for tp, o in plain.items()})

    def commit_async(self, offsets: Mapping | None = None,
                     callback: Callable[[Mapping, object], None] | None = None) -> Answered:
        """Commit at once; the callback and the returned awaitable get the answer."""
        offsets, error = offsets or {}, None
        try:
            self.commit(offsets)
        except kafka.KafkaError as exc:
            error = exc
        if callback is not None:
            callback(offsets, error)
        return Answered(error)

    def end_offsets(self, partitions: Iterable[TopicPartition], timeout_ms: int | None = None
                    ) -> dict[TopicPartition, int]:
        self.broker.check()
        return {tp: len(self.broker.topics[tp.topic][tp.partition]) for tp in partitions}

    def position(self, partition: TopicPartition, timeout_ms: int | None = None) -> int:
        self.broker.check()
        return self.positions[partition]

    def committed(self, partition: TopicPartition, metadata: bool = False,
                  timeout_ms: int | None = None) -> int | None:
        self.broker.check()
        return self.broker.committed.get(self.group, {}).get(partition)

    def beginning_offsets(self, partitions: Iterable[TopicPartition],
                          timeout_ms: int | None = None) -> dict[TopicPartition, int]:
        self.broker.check()
        return dict.fromkeys(partitions, 0)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.positions[partition] = offset

    def close(self, autocommit: bool = True, timeout_ms: int | None = None) -> None:
        self.closed = True


class Sent:
    """The future of one send: pending until the producer answers it."""

    def __init__(self, broker: InMemoryBroker, message: tuple) -> None:
        self.broker = broker
        self.message = message  # topic, key, value, headers, partition
        self.is_done = False
        self.exception: BaseException | None = None

    def failed(self) -> bool:
        return self.is_done and self.exception is not None

    def answer(self, error: BaseException | None = None) -> None:
        """Refused with `error`, or acknowledged: then the message joins its topic."""
        if error is None:
            topic, key, value, headers, partition = self.message
            self.broker.append(topic, value, key, headers, partition)
        self.exception, self.is_done = error, True


class InMemoryProducer:
    """Sends acknowledged at once, unless a failure is queued in `failures` (the next sends fail
    with those errors, one each) or `hold` is set (they wait for answer())."""

    def __init__(self, broker: InMemoryBroker) -> None:
        self.broker = broker
        self.hold = False
        self.failures: deque[BaseException] = deque()
        self.pending: list[Sent] = []
        self.sent = 0  # sends attempted, retries included
        self.closed = False

    def send(self, topic: str, value: bytes | None = None, key: bytes | None = None,
             headers: list | None = None, partition: int | None = None) -> Sent:
        if key is None and value is None:  # as kafka-python refuses it
            raise ValueError("Need at least one: key or value")
        size = len(key or b"") + len(value or b"")
        if size > self.broker.max_message_bytes:  # kafka-python refuses it before sending
            raise kafka.MessageSizeTooLargeError(f"the message is {size} bytes")
        self.sent += 1
        future = Sent(self.broker, (topic, key, value, headers, partition))
        if self.failures:
            future.answer(self.failures.popleft())
        elif self.hold or self.broker.down:
            self.pending.append(future)
        else:
            future.answer()
        return future

    def answer(self, error: BaseException | None = None) -> int:
        """Acknowledge every pending send, or refuse it with `error`; how many there were."""
        pending, self.pending = self.pending, []
        for future in pending:
            future.answer(error)
        return len(pending)

    def flush(self, timeout: float | None = None) -> None:
        """Nothing to push; a held send times out as kafka-python's flush does."""
        if self.pending:
            raise kafka.KafkaTimeoutError(f"{len(self.pending)} send(s) not acknowledged")

    def close(self, timeout: float | None = None) -> None:
        self.closed = True
