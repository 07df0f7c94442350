"""kafka-python behind the seam (detector.stream.ports): the serve loop's one adapter to it.

KafkaSource and KafkaSink implement the Source and Sink protocols on kafka-python's consumer and
producer, translating its values (TopicPartition, OffsetAndMetadata) into the seam's and its
errors into the seam's few (`broker_error`, as httpx's map_httpcore_exceptions), so no
kafka-python type reaches the loop. detector.brokers.kafka_clients builds the clients with
`detector serve`'s settings.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from kafka import (
    AsyncConsumerRebalanceListener,
    KafkaConsumer,
    KafkaProducer,
    OffsetAndMetadata,
    TopicPartition,
)
from kafka.errors import (
    AuthorizationError,
    CommitFailedError,
    IllegalGenerationError,
    InvalidRecordError,
    InvalidTopicError,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    NodeNotReadyError,
    RebalanceInProgressError,
    RequestTimedOutError,
    UnknownMemberIdError,
)

from detector.brokers.kafka_tuning import keep_joining
from detector.stream.ports import (
    Ack,
    Batch,
    BrokerError,
    BrokerUnavailable,
    CommitAnswer,
    Header,
    Listener,
    NotAuthorized,
    Offsets,
    Partition,
    RebalanceInProgress,
    RecordList,
    SendRefused,
)

REQUEST_TIMEOUT_MS = 5_000  # of commits and offset queries

REBALANCING = (CommitFailedError, RebalanceInProgressError, IllegalGenerationError,
               UnknownMemberIdError)
UNANSWERED = (KafkaTimeoutError, KafkaConnectionError, NodeNotReadyError, RequestTimedOutError)
# A message refused for one of these is refused again however often it is sent. (A broker's
# "message too large" is not among them: raising the topic's max.message.bytes fixes it.)
HOPELESS = (AuthorizationError, InvalidRecordError, InvalidTopicError)


def broker_error(exc: BaseException) -> BrokerError:
    """The seam's error for one of kafka-python's (its message keeps the client's error name)."""
    if isinstance(exc, BrokerError):
        return exc
    if isinstance(exc, AuthorizationError):
        error: BrokerError = NotAuthorized(str(exc))
    elif isinstance(exc, REBALANCING):
        error = RebalanceInProgress(str(exc))
    elif isinstance(exc, UNANSWERED):
        error = BrokerUnavailable(str(exc))
    else:
        error = BrokerError(str(exc) or type(exc).__name__)
    error.__cause__ = exc
    return error


def send_error(exc: BaseException, at_once: bool) -> BrokerError:
    """The seam's error for a refused send: raised by send() itself (`at_once`) only a retriable
    one may pass later; from the broker, all but HOPELESS ones may."""
    if isinstance(exc, AuthorizationError):
        return broker_error(exc)
    retriable = not isinstance(exc, HOPELESS) and (not at_once or getattr(exc, "retriable", False))
    error = SendRefused(str(exc), retriable)
    error.__cause__ = exc
    return error


@contextmanager
def translated() -> Iterator[None]:
    """Raise kafka-python's errors as the seam's."""
    try:
        yield
    except KafkaError as exc:
        raise broker_error(exc) from exc


def theirs(offsets: Offsets) -> dict[TopicPartition, OffsetAndMetadata]:
    """Offsets as kafka-python commits them."""
    return {TopicPartition(*p): OffsetAndMetadata(o, "", -1) for p, o in offsets.items()}


def ours(partitions: Collection[Any]) -> frozenset[Partition]:
    """kafka-python's TopicPartitions as the seam's."""
    return frozenset(Partition(tp.topic, tp.partition) for tp in partitions)


class Rebalancing(AsyncConsumerRebalanceListener):  # type: ignore[misc]
    """A seam Listener as kafka-python calls it: in its IO thread, where a commit is awaited."""

    def __init__(self, consumer: KafkaConsumer, listener: Listener) -> None:
        self.consumer = consumer
        self.listener = listener

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        offsets = self.listener.revoked(ours(revoked))
        if not offsets:
            return
        error = None
        try:
            await self.consumer.commit_async(theirs(offsets))
        except Exception as exc:
            error = broker_error(exc)
        self.listener.committed(offsets, error)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.listener.assigned(ours(assigned))

    async def on_partitions_lost(self, lost: set[TopicPartition]) -> None:
        self.listener.lost(ours(lost))


class KafkaSource:
    """The Source on a KafkaConsumer of a group, with auto-commit off."""

    def __init__(self, consumer: KafkaConsumer, timeout_ms: int = REQUEST_TIMEOUT_MS) -> None:
        self.consumer = consumer
        self.timeout_ms = timeout_ms

    def subscribe(self, topic: str, listener: Listener) -> None:
        with translated():
            self.consumer.subscribe([topic], listener=Rebalancing(self.consumer, listener))
            # Fresh metadata after subscribing, before the first join: kafka-python notes the
            # subscribed topics' partitions only when metadata arrives, and a leader that assigns
            # before that (it assigns with none) revokes everything and rebalances again when
            # the refresh it asks for comes in (tests/integration/test_kafka_join.py).
            self.consumer.topics()

    def poll(self, timeout_ms: int, max_records: int) -> Batch:
        keep_joining(self.consumer)
        with translated():
            polled = self.consumer.poll(timeout_ms=timeout_ms, max_records=max_records)
        return {Partition(tp.topic, tp.partition): RecordList(records)
                for tp, records in polled.items()}

    def assignment(self) -> frozenset[Partition]:
        return ours(self.consumer.assignment())

    def commit(self, offsets: Offsets) -> None:
        with translated():
            self.consumer.commit(theirs(offsets), timeout_ms=self.timeout_ms)

    def commit_async(self, offsets: Offsets, answer: CommitAnswer) -> None:
        def answered(_: object, response: object) -> None:
            failed = response if isinstance(response, BaseException) else None
            answer(offsets, None if failed is None else broker_error(failed))

        with translated():
            self.consumer.commit_async(theirs(offsets), callback=answered)

    def committed(self, partition: Partition) -> int | None:
        with translated():
            offset = self.consumer.committed(TopicPartition(*partition), timeout_ms=self.timeout_ms)
        return None if offset is None else int(offset)

    def position(self, partition: Partition) -> int:
        with translated():
            return int(self.consumer.position(TopicPartition(*partition),
                                              timeout_ms=self.timeout_ms))

    def seek(self, partition: Partition, offset: int) -> None:
        self.consumer.seek(TopicPartition(*partition), offset)

    def pause(self, partitions: Collection[Partition]) -> None:
        with translated():
            self.consumer.pause(*(TopicPartition(*p) for p in partitions))

    def resume(self, partitions: Collection[Partition]) -> None:
        with translated():
            self.consumer.resume(*(TopicPartition(*p) for p in partitions))

    def first_offsets(self, partitions: Collection[Partition]) -> Offsets:
        return self.offsets(self.consumer.beginning_offsets, partitions)

    def end_offsets(self, partitions: Collection[Partition]) -> Offsets:
        return self.offsets(self.consumer.end_offsets, partitions)

    def offsets(self, ask: Callable[..., Mapping[TopicPartition, int]],
                partitions: Collection[Partition]) -> Offsets:
        """The answer of one of the consumer's offset queries."""
        with translated():
            answer = ask([TopicPartition(*p) for p in partitions], timeout_ms=self.timeout_ms)
        return {Partition(tp.topic, tp.partition): int(o) for tp, o in answer.items()}

    def close(self) -> None:
        with translated():
            self.consumer.close(autocommit=False, timeout_ms=10_000)


class KafkaAck:
    """The Ack of one KafkaProducer send."""

    __slots__ = ("future",)

    def __init__(self, future: Any) -> None:
        self.future = future

    def done(self) -> bool:
        return bool(self.future.is_done)

    def error(self) -> BrokerError | None:
        exc = self.future.exception
        return None if exc is None else send_error(exc, at_once=False)


class KafkaSink:
    """The Sink on a KafkaProducer."""

    def __init__(self, producer: KafkaProducer) -> None:
        self.producer = producer

    def send(self, topic: str, key: bytes | None, value: bytes | None,
             headers: Sequence[Header] | None) -> Ack:
        try:
            return KafkaAck(self.producer.send(topic, key=key, value=value, headers=headers))
        except KafkaError as exc:
            raise send_error(exc, at_once=True) from exc

    def flush(self, timeout: float) -> None:
        with translated():
            self.producer.flush(timeout=timeout)

    def close(self) -> None:
        with translated():
            self.producer.close(timeout=10)
