"""The cap on inflated batches, through kafka-python's own record reader (the pinned version)."""

from __future__ import annotations

import gzip

import pytest
from kafka.errors import CorruptRecordError
from kafka.record import default_records, legacy_records
from kafka.record.default_records import DefaultRecordBatchBuilder
from kafka.record.memory_records import MemoryRecords

from detector.stream.kafka import InflatedTooLarge, bounded_gzip_decode, cap_gzip
from detector.stream.unreadable import reason_of


@pytest.fixture
def capped(monkeypatch):
    """cap_gzip(limit) for one test; kafka-python's own decoder comes back afterwards."""
    monkeypatch.setattr(default_records, "gzip_decode", default_records.gzip_decode)
    monkeypatch.setattr(legacy_records, "gzip_decode", legacy_records.gzip_decode)
    return cap_gzip


def gzip_batch(*values: bytes) -> bytes:
    """A real gzip record batch holding these values, as a broker would hand it over."""
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=1, is_transactional=False,
                                        producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                        batch_size=1 << 30)
    for offset, value in enumerate(values):
        builder.append(offset, timestamp=0, key=None, value=value, headers=[])
    return bytes(builder.build())


def read_values(raw: bytes) -> list[bytes]:
    """Every value of every batch, read by kafka-python."""
    records = MemoryRecords(raw)
    out = []
    while (batch := records.next_batch()) is not None:
        out.extend(record.value for record in batch)
    return out


def test_a_batch_within_the_cap_reads_as_before(capped):
    capped(1 << 20)
    assert read_values(gzip_batch(b"a" * 1000, b"b")) == [b"a" * 1000, b"b"]


def test_a_batch_that_inflates_past_the_cap_is_refused_before_it_is_inflated(capped):
    capped(1 << 20)
    raw = gzip_batch(b"\0" * (8 << 20))
    assert len(raw) < 20_000  # a small batch on the wire
    with pytest.raises(InflatedTooLarge, match="inflates past 1048576"):
        read_values(raw)


def test_bounded_gzip_reads_every_member_and_refuses_damage():
    two = gzip.compress(b"abc") + gzip.compress(b"def")
    assert bounded_gzip_decode(two) == b"abcdef"
    with pytest.raises(InflatedTooLarge):
        bounded_gzip_decode(two, limit=5)
    with pytest.raises(CorruptRecordError):
        bounded_gzip_decode(gzip.compress(b"abc")[:-12])
    with pytest.raises(CorruptRecordError):
        bounded_gzip_decode(b"not gzip at all")


def test_reasons():
    assert reason_of(InflatedTooLarge()) == "too_large"
    assert reason_of(CorruptRecordError()) == "decode"
