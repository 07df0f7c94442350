"""kafka-python tuned for the serve loop: a cap on what a gzip batch may inflate to, the events
producer's partitioner, and a rebalance kept going across short polls. Used by
detector.brokers.kafka, which builds the clients.
"""

from __future__ import annotations

import zlib
from functools import partial
from typing import Any

from kafka.partitioner.default import DefaultPartitioner, murmur2
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

from detector.stream.decode import INFLATED

MAX_INFLATED_BYTES = 64 * 1024 * 1024  # what one gzip batch may inflate to
MAX_STAND_INS = 1_000_000  # records of a refused batch given a stand-in each


def cap_gzip(limit: int = MAX_INFLATED_BYTES) -> None:
    """Make kafka-python inflate gzip record batches through `bounded_gzip_decode`.

    The one place the client is patched: it inflates a batch whole, in memory, with no limit and
    no hook (a 1 MiB batch of zeros becomes a gigabyte). Refusing by raising is no option: once a
    batch's record iterator raises, kafka-python 3.0.12 loops for ever in poll. So a batch past
    the cap is handed over as stand-in records instead, one per offset, each with the value
    INFLATED, which the decoder rejects as `too_large`. tests/unit/test_inflate.py holds the
    pinned version to this through the client's own record reader.
    """
    from kafka.record import default_records

    default_records.gzip_decode = partial(bounded_gzip_decode, limit=limit)


def bounded_gzip_decode(payload: Any, limit: int = MAX_INFLATED_BYTES) -> bytes:
    """Inflate a gzip batch's records (every member); past `limit` bytes, stand-ins for them."""
    data, out = bytes(payload), bytearray()
    while data:
        inflater = zlib.decompressobj(wbits=31)  # 31: a gzip header and trailer
        out += inflater.decompress(data, limit + 1 - len(out))
        if len(out) > limit:
            return stand_ins(payload)
        if not inflater.eof:
            raise zlib.error("the gzip data ends inside a member")
        data = inflater.unused_data
    return bytes(out)


def stand_ins(payload: Any) -> bytes:
    """The uncompressed records of the batch `payload` belongs to, one per offset, each INFLATED.

    `payload` is kafka-python's view of the batch's compressed part: its buffer starts with the
    batch header, which says how many records the batch holds.
    """
    count = DefaultRecordBatch.HEADER_STRUCT.unpack_from(payload.obj)[12]
    if not 0 < count <= MAX_STAND_INS:
        raise zlib.error(f"a gzip batch of {count} records inflates past the cap")
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False,
                                        producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                        batch_size=1 << 31)
    for delta in range(count):
        builder.append(delta, timestamp=0, key=None, value=INFLATED, headers=[])
    return bytes(builder.build()[DefaultRecordBatch.HEADER_STRUCT.size:])


class KeyedPartitioner(DefaultPartitioner):  # type: ignore[misc]  # kafka-python: untyped
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
            return int(super().partition(topic, key, serialized_key, value, serialized_value,
                                         cluster))
        partitions = cluster.partitions_for_topic(topic)
        if not partitions:
            raise ValueError(f"Topic {topic} not found in ClusterMetadata")
        hashed = self.hashes.get(serialized_key)
        if hashed is None:
            if len(self.hashes) >= self.limit:
                self.hashes.clear()
            hashed = self.hashes[serialized_key] = int(murmur2(serialized_key)) & 0x7FFFFFFF
        return int(sorted(partitions)[hashed % len(partitions)])


def keep_joining(consumer: Any) -> None:
    """Before a poll: have kafka-python go on with a rebalance it has started (3.0.12's bug).

    A rebalance that the leader starts because the topics' partitions changed is not marked as
    needed (`rejoin_needed`): the change alone makes `need_rejoin()` true, until the leader's
    assignment records the new partitions. A poll whose timeout ends after that but before the
    SyncGroup answer leaves the join half done, and no later poll takes it up again: the member
    holds no partition, sends no heartbeat, and its polls spin for ever (bench/RESULTS.md,
    2026-12-07, "the stalled storm"). Marking a rebalance under way as needed makes the next poll
    finish it. A client without these attributes (another version) is left alone.
    """
    coordinator: Any = getattr(consumer, "_coordinator", None)
    lock = getattr(coordinator, "_lock", None)
    if lock is None or not hasattr(coordinator, "rejoin_needed"):
        return
    with lock:  # the IO thread ends a join (rejoining and rejoin_needed both false) under it
        if getattr(coordinator, "rejoining", False) and not coordinator.rejoin_needed:
            coordinator.rejoin_needed = True
