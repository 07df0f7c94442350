"""A leaner record loop for kafka-python 3.0.12's consumer: the same ConsumerRecords, less work.

A measurement, not part of the detector: bench.record_decode times it against kafka-python's own
Fetcher.PartitionRecords._unpack_records over the same bytes, to show how much of the consumer's
time per record is per-record overhead (property calls, a per-record CRC call that does nothing
for v2 records, a generator expression for header sizes, deserializer calls) rather than parsing.
Plain v2 batches only (no compression, transactions or control batches): anything else, or a
deserializer, goes to kafka-python's own loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kafka.consumer.fetcher import ConsumerRecord, Fetcher
from kafka.errors import CorruptRecordError
from kafka.record.default_records import DefaultRecordBatch
from kafka.record.util import decode_varint

PLAIN = DefaultRecordBatch.CODEC_MASK | DefaultRecordBatch.TRANSACTIONAL_MASK | \
    DefaultRecordBatch.CONTROL_MASK
STOCK = Fetcher.PartitionRecords._unpack_records  # kafka-python's own loop


def read_batch(batch: DefaultRecordBatch) -> list[tuple]:
    """(offset, timestamp, key, value, headers, size, header bytes) of every record of a batch."""
    buf, pos, head = batch._buffer, batch._pos, batch._header_data
    base, first_ts = head[0], head[7]
    append_time = head[5] & DefaultRecordBatch.TIMESTAMP_TYPE_MASK
    out = []
    for _ in range(head[12]):
        length, pos = decode_varint(buf, pos)
        start = pos + 1  # attributes: one byte, unused
        ts_delta, pos = decode_varint(buf, start)
        delta, pos = decode_varint(buf, pos)
        size, pos = decode_varint(buf, pos)
        key = bytes(buf[pos:pos + size]) if size >= 0 else None
        pos += max(size, 0)
        size, pos = decode_varint(buf, pos)
        value = bytes(buf[pos:pos + size]) if size >= 0 else None
        pos += max(size, 0)
        count, pos = decode_varint(buf, pos)
        headers, header_bytes = [], 0
        for _ in range(count):
            size, pos = decode_varint(buf, pos)
            name = buf[pos:pos + size].decode()
            pos += size
            size, pos = decode_varint(buf, pos)
            headers.append((name, bytes(buf[pos:pos + size]) if size >= 0 else None))
            pos += max(size, 0)
            header_bytes += len(name.encode()) + max(size, 0)
        if pos - start + 1 != length:
            raise CorruptRecordError(f"record at offset {base + delta}: size {length} does not "
                                     f"match its {pos - start + 1} bytes")
        out.append((base + delta, head[8] if append_time else first_ts + ts_delta, key, value,
                    headers, length, header_bytes if count else -1))
    batch._pos, batch._next_record_index = pos, head[12]
    return out


def lean_unpack(self: Any, tp: Any, records: Any, key_deserializer: Any,
                value_deserializer: Any) -> Iterator[ConsumerRecord]:
    """Fetcher.PartitionRecords._unpack_records, for plain v2 batches and raw bytes."""
    if key_deserializer is not None or value_deserializer is not None:
        yield from STOCK(self, tp, records, key_deserializer, value_deserializer)
        return
    topic, partition, make = tp.topic, tp.partition, ConsumerRecord.__new__
    last = None
    while (batch := records.next_batch()) is not None:
        last = batch
        if batch.magic != 2 or batch.attributes & PLAIN:
            raise NotImplementedError("lean_unpack reads plain v2 batches only")
        if self.check_crcs and not batch.validate_crc():
            raise CorruptRecordError(f"record batch of {self.topic_partition} at offset "
                                     f"{batch.base_offset} failed its CRC check")
        self.leader_epoch = epoch = batch.leader_epoch
        kind = batch.timestamp_type
        for offset, ts, key, value, headers, size, header_bytes in read_batch(batch):
            self.records_read += 1
            self.bytes_read += size
            self.next_fetch_offset = offset + 1
            yield make(ConsumerRecord, topic, partition, epoch, offset, ts, kind, key, value,
                       headers, None, -1 if key is None else len(key),
                       -1 if value is None else len(value), header_bytes)
    if last is not None:
        self.next_fetch_offset = last.next_offset
    self.drain()
