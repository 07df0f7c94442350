"""An in-memory broker for unit tests of the serve loop, as httpx ships MockTransport.

InMemoryBroker holds topics of partitions of records and each group's committed offsets;
InMemoryConsumer and InMemoryProducer implement the Source and Sink of detector.stream.ports on it.
The test decides what a real broker would: when the group rebalances (`consumer.rebalance`, taken
at the next poll, which tells the listener as a client does), whether a send is acknowledged,
refused or left pending (`producer.failures`, `producer.hold` then `producer.answer()`), and
whether the broker answers at all (`broker.down`). Single-threaded: nothing happens between calls,
and nothing sleeps: a wait in vain (a flush of held sends) advances the virtual `broker.clock`, so
a rebalance listener that waits past the session timeout gets its member expelled.
"""

from __future__ import annotations

import time
import zlib
from collections import deque
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import NamedTuple

from detector.stream.ports import (
    BrokerError,
    BrokerUnavailable,
    CommitAnswer,
    Header,
    Listener,
    Offsets,
    Partition,
    RebalanceInProgress,
    RecordList,
    SendRefused,
)


class Record(NamedTuple):
    """One record of a partition (a ports.Record)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[Header]
    timestamp: int


class InMemoryBroker:
    """Topics, each a list of partitions of records, and the committed offsets of each group."""

    def __init__(self, topics: Mapping[str, int] | None = None,
                 max_message_bytes: int = 1024 * 1024) -> None:
        self.topics: dict[str, list[list[Record]]] = {}
        self.committed: dict[str, Offsets] = {}  # group -> next offsets
        self.max_message_bytes = max_message_bytes
        self.down = False  # True: polls, commits and offset queries raise; sends wait
        self.clock = 0.0  # seconds the clients waited in vain (virtual: nothing sleeps)
        for name, partitions in (topics or {}).items():
            self.create_topic(name, partitions)

    def create_topic(self, name: str, partitions: int = 1) -> None:
        """A topic with this many empty partitions (an existing one is left as it is)."""
        self.topics.setdefault(name, [[] for _ in range(partitions)])

    def check(self) -> None:
        """Raise as an unreachable broker does while `down`."""
        if self.down:
            raise BrokerUnavailable("the in-memory broker is down")

    def append(self, topic: str, value: bytes | None, key: bytes | None = None,
               headers: Sequence[Header] | None = None, partition: int | None = None) -> Record:
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


class InMemoryConsumer:
    """A group member reading its assigned partitions from the committed offsets on."""

    def __init__(self, broker: InMemoryBroker, group: str = "detector",
                 session_timeout: float = 10.0) -> None:
        self.broker = broker
        self.group = group
        self.session_timeout = session_timeout  # seconds without a heartbeat that expel it
        self.expelled = False  # once a rebalance listener kept it silent that long
        self.listener: Listener | None = None
        self.assigned: frozenset[Partition] = frozenset()
        self.positions: dict[Partition, int] = {}
        self.paused: set[Partition] = set()  # assigned partitions poll() returns nothing of
        self.keep_paused = False  # True: a pause outlives a rebalance, as librdkafka's does
        self.next_assignment: frozenset[Partition] | None = None  # taken at the next poll
        self.eager = False
        self.commits: list[dict[int, int]] = []  # partition -> next offset, of every commit
        self.closed = False

    def subscribe(self, topic: str, listener: Listener) -> None:
        """Subscribe; the next poll assigns every partition of the topic (a group of one)."""
        self.listener = listener
        self.rebalance(Partition(topic, p) for p in range(len(self.broker.topics.get(topic, []))))

    def rebalance(self, partitions: Iterable[Partition], eager: bool = False) -> None:
        """The group's next assignment of this member, taken at its next poll: only the partitions
        that go are revoked (as in the cooperative protocol); new ones start at the commit."""
        self.next_assignment = frozenset(partitions)
        self.eager = eager  # revoke every partition first, as the eager protocol does

    def assignment(self) -> frozenset[Partition]:
        return self.assigned

    def poll(self, timeout_ms: int, max_records: int) -> dict[Partition, RecordList]:
        """Up to max_records of the assigned partitions' next records, after any rebalance."""
        self.broker.check()
        if self.next_assignment is not None:
            self.reassign(self.next_assignment)
        batch, room = {}, max_records
        for tp in sorted(self.assigned - self.paused):
            start = self.positions[tp]
            taken = self.broker.topics[tp.topic][tp.partition][start:start + room]
            if taken:
                batch[tp] = RecordList(taken)
                self.positions[tp] = start + len(taken)
                room -= len(taken)
        return batch

    def reassign(self, assigned: frozenset[Partition]) -> None:
        """Revoke what goes (the listener first, committing what it asks), then take the new."""
        self.next_assignment = None
        revoked = self.assigned if self.eager else self.assigned - assigned
        if revoked and self.listener is not None:
            began = self.broker.clock  # the listener runs where the heartbeats are sent
            offsets = self.listener.revoked(revoked)
            self.expelled |= self.broker.clock - began >= self.session_timeout
            if offsets:
                error = None
                try:
                    if self.expelled:
                        raise RebalanceInProgress("UnknownMemberIdError: the session expired")
                    self.commit(offsets)
                except BrokerError as exc:
                    error = exc
                self.listener.committed(offsets, error)
        committed = self.broker.committed.get(self.group, {})
        self.positions = {tp: self.positions.get(tp, committed.get(tp, 0)) for tp in assigned}
        added = assigned - (self.assigned - revoked)
        self.assigned = assigned
        if not self.keep_paused:  # as kafka-python: a partition assigned anew is not paused
            self.paused &= assigned - added
        if self.listener is not None:  # as the cooperative protocol: the added ones
            self.listener.assigned(added)

    def commit(self, offsets: Offsets) -> None:
        """Store the offsets as the group's committed ones."""
        self.broker.check()
        self.broker.committed.setdefault(self.group, {}).update(offsets)
        self.commits.append({tp.partition: o for tp, o in offsets.items()})

    def commit_async(self, offsets: Offsets, answer: CommitAnswer) -> None:
        """Commit at once and answer at once."""
        try:
            self.commit(offsets)
        except BrokerError as exc:
            answer(offsets, exc)
        else:
            answer(offsets, None)

    def committed(self, partition: Partition) -> int | None:
        self.broker.check()
        return self.broker.committed.get(self.group, {}).get(partition)

    def position(self, partition: Partition) -> int:
        self.broker.check()
        return self.positions[partition]

    def seek(self, partition: Partition, offset: int) -> None:
        self.positions[partition] = offset

    def pause(self, partitions: Collection[Partition]) -> None:
        self.paused |= set(partitions) & self.assigned

    def resume(self, partitions: Collection[Partition]) -> None:
        self.paused -= set(partitions)

    def first_offsets(self, partitions: Collection[Partition]) -> Offsets:
        self.broker.check()
        return dict.fromkeys(partitions, 0)

    def end_offsets(self, partitions: Collection[Partition]) -> Offsets:
        self.broker.check()
        return {tp: len(self.broker.topics[tp.topic][tp.partition]) for tp in partitions}

    def close(self) -> None:
        self.closed = True


class Sent:
    """The Ack of one send: pending until the producer answers it."""

    def __init__(self, broker: InMemoryBroker, message: tuple[str, bytes | None, bytes | None,
                                                              list[Header]]) -> None:
        self.broker = broker
        self.message = message  # topic, key, value, headers
        self.answered = False
        self.refusal: BrokerError | None = None

    def done(self) -> bool:
        return self.answered

    def error(self) -> BrokerError | None:
        return self.refusal

    def answer(self, error: BrokerError | None = None) -> None:
        """Refused with `error`, or acknowledged: then the message joins its topic."""
        if error is None:
            topic, key, value, headers = self.message
            self.broker.append(topic, value, key, headers)
        self.refusal, self.answered = error, True


class InMemoryProducer:
    """Sends acknowledged at once, unless a failure is queued in `failures` (the next sends fail
    with those errors, one each) or `hold` is set (they wait for answer())."""

    def __init__(self, broker: InMemoryBroker) -> None:
        self.broker = broker
        self.hold = False
        self.failures: deque[BrokerError] = deque()
        self.pending: list[Sent] = []
        self.sent = 0  # sends attempted, retries included
        self.closed = False

    def send(self, topic: str, key: bytes | None, value: bytes | None,
             headers: Sequence[Header] | None) -> Sent:
        if key is None and value is None:  # as kafka-python refuses it
            raise ValueError("Need at least one: key or value")
        size = len(key or b"") + len(value or b"")
        if size > self.broker.max_message_bytes:  # a client refuses it before sending
            raise SendRefused(f"MessageSizeTooLargeError: the message is {size} bytes",
                              retriable=False)
        self.sent += 1
        future = Sent(self.broker, (topic, key, value, list(headers or [])))
        if self.failures:
            future.answer(self.failures.popleft())
        elif self.hold or self.broker.down:
            self.pending.append(future)
        else:
            future.answer()
        return future

    def answer(self, error: BrokerError | None = None) -> int:
        """Acknowledge every pending send, or refuse it with `error`; how many there were."""
        pending, self.pending = self.pending, []
        for future in pending:
            future.answer(error)
        return len(pending)

    def flush(self, timeout: float) -> None:
        """Nothing to push; a held send times out (after `timeout`, as a client's flush does)."""
        if self.pending:
            self.broker.clock += timeout
            raise BrokerUnavailable(f"{len(self.pending)} send(s) not acknowledged")

    def close(self) -> None:
        self.closed = True
