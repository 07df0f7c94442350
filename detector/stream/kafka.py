"""kafka-python, the production side of the seam (detector.stream.ports): the one stream module
that imports it.

KafkaConsumer and KafkaProducer satisfy the Source and Sink protocols as they are, with no wrapper
on the hot path; `detector serve` (detector.cli.serve) builds them with their tuned settings. Here
are the values and errors that cross the seam (the in-memory implementation takes and raises the
same ones, so the loop catches one set), the groups of errors the loop treats alike, and the
events producer's partitioner.
"""

from __future__ import annotations

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
    MessageSizeTooLargeError,
    RebalanceInProgressError,
    TopicAlreadyExistsError,
    UnknownMemberIdError,
)
from kafka.partitioner.default import DefaultPartitioner, murmur2

__all__ = [
    "HOPELESS",
    "REBALANCING",
    "AsyncConsumerRebalanceListener",
    "KafkaConnectionError",
    "KafkaConsumer",
    "KafkaError",
    "KafkaProducer",
    "KafkaTimeoutError",
    "KeyedPartitioner",
    "MessageSizeTooLargeError",
    "OffsetAndMetadata",
    "TopicAlreadyExistsError",
    "TopicPartition",
    "next_offset",
]

# Errors a send meets again however often it is retried and whatever the topic's settings. (A
# broker's "message too large" is not among them: raising the topic's max.message.bytes fixes it.)
HOPELESS = (AuthorizationError, InvalidRecordError, InvalidTopicError)
REBALANCING = (CommitFailedError, RebalanceInProgressError, IllegalGenerationError,
               UnknownMemberIdError)  # a commit refused because the group is rebalancing


def next_offset(offset: int) -> OffsetAndMetadata:
    """What a commit stores for a partition: the offset of the next record to read."""
    return OffsetAndMetadata(offset, "", -1)


class KeyedPartitioner(DefaultPartitioner):
    """kafka-python's default partitioner, remembering each key's murmur2 hash.

    Events are keyed by device id and the same ids come back all the time, so the pure-Python
    hash (a fifth of a send's cost) is worked out once per device. Same partitions as the
    default; records without a key go to it.
    """

    limit = 100_000  # keys remembered before starting afresh

    def __init__(self) -> None:
        self.hashes: dict[bytes, int] = {}

    def partition(self, topic: str, key: Any, serialized_key: bytes | None, value: Any,
                  serialized_value: bytes | None, cluster: Any) -> int:
        if serialized_key is None:
            return super().partition(topic, key, serialized_key, value, serialized_value,
                                     cluster)
        partitions = cluster.partitions_for_topic(topic)
        if not partitions:
            raise ValueError(f"Topic {topic} not found in ClusterMetadata")
        hashed = self.hashes.get(serialized_key)
        if hashed is None:
            if len(self.hashes) >= self.limit:
                self.hashes.clear()
            hashed = self.hashes[serialized_key] = murmur2(serialized_key) & 0x7FFFFFFF
        return sorted(partitions)[hashed % len(partitions)]
