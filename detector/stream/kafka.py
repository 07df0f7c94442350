"""kafka-python, the production side of the seam (detector.stream.ports): the one stream module
that imports it.

KafkaConsumer and KafkaProducer satisfy the Source and Sink protocols as they are, with no wrapper
on the hot path; `detector serve` (detector.cli.serve) builds them with their tuned settings. Here
are the values and errors that cross the seam (the in-memory implementation takes and raises the
same ones, so the loop catches one set), the groups of errors the loop treats alike, and the
events producer's partitioner.
"""

from __future__ import annotations

import zlib
from functools import partial
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
    CorruptRecordError,
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
    UnsupportedCodecError,
)
from kafka.partitioner.default import DefaultPartitioner, murmur2

__all__ = [
    "HOPELESS",
    "REBALANCING",
    "UNREADABLE",
    "AsyncConsumerRebalanceListener",
    "InflatedTooLarge",
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
    "cap_gzip",
    "next_offset",
]

# Errors a send meets again however often it is retried and whatever the topic's settings. (A
# broker's "message too large" is not among them: raising the topic's max.message.bytes fixes it.)
HOPELESS = (AuthorizationError, InvalidRecordError, InvalidTopicError)
REBALANCING = (CommitFailedError, RebalanceInProgressError, IllegalGenerationError,
               UnknownMemberIdError)  # a commit refused because the group is rebalancing


MAX_INFLATED_BYTES = 64 * 1024 * 1024  # what one compressed batch may inflate to


class InflatedTooLarge(KafkaError):
    """A compressed record batch inflates past the cap."""


UNREADABLE = (CorruptRecordError, UnsupportedCodecError, InflatedTooLarge)


def bounded_gzip_decode(payload: Any, limit: int = MAX_INFLATED_BYTES) -> bytes:
    """Inflate gzip data (every member), or raise InflatedTooLarge past `limit` bytes."""
    data, out = bytes(payload), bytearray()
    while data:
        inflater = zlib.decompressobj(wbits=31)  # 31: a gzip header and trailer
        try:
            out += inflater.decompress(data, limit + 1 - len(out))
        except zlib.error as exc:
            raise CorruptRecordError(f"gzip: {exc}") from None
        if len(out) > limit:
            raise InflatedTooLarge(f"a gzip batch inflates past {limit} bytes")
        if not inflater.eof:
            raise CorruptRecordError("gzip: the data ends inside a member")
        data = inflater.unused_data
    return bytes(out)


def cap_gzip(limit: int = MAX_INFLATED_BYTES) -> None:
    """Make kafka-python inflate gzip batches with bounded_gzip_decode.

    The one place the client is patched: it inflates a batch whole, in memory, and has no hook
    (a 1 MiB batch of zeros becomes a gigabyte). tests/unit/test_unreadable.py holds the pinned
    version to it through the client's own record reader.
    """
    from kafka.record import default_records, legacy_records

    decode = partial(bounded_gzip_decode, limit=limit)
    default_records.gzip_decode = decode
    legacy_records.gzip_decode = decode


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
