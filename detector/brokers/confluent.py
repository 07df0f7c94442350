"""confluent-kafka (librdkafka) behind the seam (detector.stream.ports): the serve loop's second
adapter, beside detector.brokers.kafka's kafka-python one, with the same promises.

The consumer stores and commits no offset of its own (enable.auto.commit and
enable.auto.offset.store off): the loop commits explicit offsets, and only those of acknowledged
batches. Rebalances reach the seam's Listener through on_assign/on_revoke/on_lost, which librdkafka
calls inside consume(), in the loop's thread; offsets of revoked partitions are committed there,
synchronously; detector.brokers.confluent_records hands over the polled messages as the seam's
Records. librdkafka's errors become the seam's (`broker_error`). detector.brokers.
confluent_clients builds the clients; detector.brokers.confluent_sink is the Sink.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Collection
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    Consumer,
    KafkaError,
    KafkaException,
    TopicPartition,
)

from detector.brokers.confluent_records import ConfluentRecords, by_partition
from detector.stream.ports import (
    Batch,
    BrokerError,
    BrokerUnavailable,
    CommitAnswer,
    Listener,
    NotAuthorized,
    Offsets,
    Partition,
    RebalanceInProgress,
)

log = logging.getLogger(__name__)
REQUEST_TIMEOUT_S = 5.0  # of commits and offset queries
E = KafkaError
AUTHORIZATION = {E.TOPIC_AUTHORIZATION_FAILED, E.GROUP_AUTHORIZATION_FAILED,
                 E.CLUSTER_AUTHORIZATION_FAILED}
REBALANCING = {E.REBALANCE_IN_PROGRESS, E.ILLEGAL_GENERATION, E.UNKNOWN_MEMBER_ID, E._STATE,
               E.FENCED_INSTANCE_ID}
UNANSWERED = {E._TRANSPORT, E._ALL_BROKERS_DOWN, E._TIMED_OUT, E.REQUEST_TIMED_OUT, E._WAIT_COORD,
              E.NOT_COORDINATOR, E.COORDINATOR_NOT_AVAILABLE, E._MSG_TIMED_OUT}


def error_of(exc: BaseException | KafkaError) -> KafkaError | None:
    """The KafkaError a KafkaException carries (or the error itself)."""
    if isinstance(exc, KafkaError):
        return exc
    first = exc.args[0] if exc.args else None
    return first if isinstance(first, KafkaError) else None


def broker_error(exc: BaseException | KafkaError) -> BrokerError:
    """The seam's error for one of librdkafka's (its message keeps librdkafka's error name)."""
    if isinstance(exc, BrokerError):
        return exc
    error = error_of(exc)
    code = error.code() if error is not None else None
    text = f"{error.name()}: {error.str()}" if error is not None else str(exc)
    kind = (NotAuthorized if code in AUTHORIZATION else RebalanceInProgress if code in REBALANCING
            else BrokerUnavailable if code in UNANSWERED else BrokerError)
    result = kind(text or type(exc).__name__)
    if isinstance(exc, BaseException):
        result.__cause__ = exc
    return result


def theirs(offsets: Offsets) -> list[TopicPartition]:
    """Offsets as librdkafka commits them."""
    return [TopicPartition(p.topic, p.partition, o) for p, o in offsets.items()]


def ours(partitions: Collection[Any]) -> frozenset[Partition]:
    """librdkafka's TopicPartitions as the seam's."""
    return frozenset(Partition(tp.topic, tp.partition) for tp in partitions)


def committed_offsets(partitions: Collection[Any]) -> Offsets:
    """The offsets of a commit's answer (an offset below 0 was not committed)."""
    return {Partition(tp.topic, tp.partition): tp.offset for tp in partitions if tp.offset >= 0}


def first_failure(partitions: Collection[Any]) -> KafkaError | None:
    """The first per-partition error of a commit's answer."""
    return next((tp.error for tp in partitions if tp.error is not None), None)


class Rebalancing:
    """A seam Listener as librdkafka calls it: inside consume(), where a commit may wait.

    `changed` is told, before and after the listener, that the assignment is changing (librdkafka
    applies it once the callback returns)."""

    def __init__(self, listener: Listener, commit: Any, changed: Any = lambda: None) -> None:
        self.listener = listener
        self.commit = commit
        self.changed = changed

    def on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.changing(self.listener.assigned, ours(partitions))

    def on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.changing(self.revoke, partitions)

    def on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.changing(self.listener.lost, ours(partitions))

    def changing(self, call: Any, partitions: Any) -> None:
        """call(partitions), telling `changed` before and after."""
        self.changed()
        try:
            call(partitions)
        finally:
            self.changed()

    def revoke(self, partitions: list[TopicPartition]) -> None:
        """Commit what the listener hands over before the partitions go."""
        offsets = self.listener.revoked(ours(partitions))
        if not offsets:
            return
        error = None
        try:
            self.commit(offsets)
        except BrokerError as exc:
            error = exc
        self.listener.committed(offsets, error)


class ConfluentSource:
    """The Source on a librdkafka Consumer of a group, storing and committing nothing itself."""

    def __init__(self, consumer: Consumer, commits: deque[tuple[Offsets, CommitAnswer]],
                 earliest: bool = True, timeout: float = REQUEST_TIMEOUT_S) -> None:
        self.consumer = consumer
        self.commits = commits  # asynchronous commits awaiting their answer, oldest first
        self.earliest = earliest  # where a partition without a commit starts
        self.timeout = timeout
        self.topic = ""
        # librdkafka answers assignment() from its main thread (a round trip per call, up to
        # half a millisecond): asked once per change, which only a rebalance callback makes
        self.assigned: frozenset[Partition] | None = None

    def subscribe(self, topic: str, listener: Listener) -> None:
        self.topic = topic
        rebalancing = Rebalancing(listener, self.commit, self.forget_assignment)
        try:
            self.consumer.subscribe([topic], on_assign=rebalancing.on_assign,
                                    on_revoke=rebalancing.on_revoke,
                                    on_lost=rebalancing.on_lost)
        except KafkaException as exc:
            raise broker_error(exc) from exc

    def poll(self, timeout_ms: int, max_records: int) -> Batch:
        """What has arrived, as soon as something has (as kafka-python's poll): consume(n, t)
        alone would wait the whole timeout for n messages, adding up to t to every reading's lag
        at moderate rates. So: wait for the first message, then take what is queued with it."""
        try:
            messages = self.consumer.consume(1, timeout_ms / 1000)
            if messages and max_records > 1:
                messages += self.consumer.consume(max_records - 1, 0)
        except KafkaException as exc:
            raise broker_error(exc) from exc
        if not messages:
            return {}
        errors = [e for m in messages if (e := m.error()) is not None]
        if errors:
            for error in errors:
                self.consumer_error(error)
            messages = [m for m in messages if m.error() is None]
            if not messages:
                return {}
        return {Partition(self.topic, number): ConfluentRecords(part)
                for number, part in by_partition(messages).items()}

    def consumer_error(self, error: KafkaError) -> None:
        """An error consume() returned among the records: a missing ACL stops the loop; the rest
        librdkafka retries itself."""
        if error.code() in AUTHORIZATION:
            raise broker_error(error)
        log.warning("consumer: %s: %s", error.name(), error.str())

    def assignment(self) -> frozenset[Partition]:
        if self.assigned is None:
            self.assigned = ours(self.consumer.assignment())
        return self.assigned

    def forget_assignment(self) -> None:
        """The assignment is changing: ask librdkafka again next time."""
        self.assigned = None

    def commit(self, offsets: Offsets) -> None:
        try:
            answer = self.consumer.commit(offsets=theirs(offsets), asynchronous=False)
        except KafkaException as exc:
            if (error := error_of(exc)) is not None and error.code() == E._NO_OFFSET:
                return
            raise broker_error(exc) from exc
        failure = first_failure(answer or [])
        if failure is not None:
            raise broker_error(failure)

    def commit_async(self, offsets: Offsets, answer: CommitAnswer) -> None:
        self.commits.append((offsets, answer))
        try:
            self.consumer.commit(offsets=theirs(offsets), asynchronous=True)
        except KafkaException as exc:
            self.commits.pop()
            raise broker_error(exc) from exc

    def committed(self, partition: Partition) -> int | None:
        try:
            (answer,) = self.consumer.committed([TopicPartition(*partition)], self.timeout)
        except KafkaException as exc:
            raise broker_error(exc) from exc
        return None if answer.offset < 0 else int(answer.offset)

    def position(self, partition: Partition) -> int:
        """The next offset to read; before the first record, where the group resumes."""
        try:
            (answer,) = self.consumer.position([TopicPartition(*partition)])
        except KafkaException as exc:
            raise broker_error(exc) from exc
        if answer.offset >= 0:
            return int(answer.offset)
        committed = self.committed(partition)
        if committed is not None:
            return committed
        ask = self.first_offsets if self.earliest else self.end_offsets
        return ask([partition])[partition]

    def seek(self, partition: Partition, offset: int) -> None:
        try:
            self.consumer.seek(TopicPartition(partition.topic, partition.partition, offset))
        except KafkaException as exc:
            raise broker_error(exc) from exc

    def pause(self, partitions: Collection[Partition]) -> None:
        if partitions:
            try:
                self.consumer.pause([TopicPartition(p.topic, p.partition) for p in partitions])
            except KafkaException as exc:
                raise broker_error(exc) from exc

    def resume(self, partitions: Collection[Partition]) -> None:
        if partitions:
            try:
                self.consumer.resume([TopicPartition(p.topic, p.partition) for p in partitions])
            except KafkaException as exc:
                raise broker_error(exc) from exc

    def first_offsets(self, partitions: Collection[Partition]) -> Offsets:
        return self.list_offsets(partitions, OFFSET_BEGINNING)

    def end_offsets(self, partitions: Collection[Partition]) -> Offsets:
        return self.list_offsets(partitions, OFFSET_END)

    def list_offsets(self, partitions: Collection[Partition], at: int) -> Offsets:
        """The first (OFFSET_BEGINNING) or end (OFFSET_END) offset of each partition, in one
        request to each leader (get_watermark_offsets asks twice per partition, and the lag probe
        waits in the loop's thread)."""
        if not partitions:
            return {}
        try:
            answer = self.consumer.offsets_for_times(
                [TopicPartition(p.topic, p.partition, at) for p in partitions], self.timeout)
        except KafkaException as exc:
            raise broker_error(exc) from exc
        failure = first_failure(answer)
        if failure is not None:
            raise broker_error(failure)
        return {Partition(tp.topic, tp.partition): int(tp.offset) for tp in answer}

    def close(self) -> None:
        self.assigned = None
        try:
            self.consumer.close()
        except (KafkaException, RuntimeError) as exc:
            raise broker_error(exc) from exc
