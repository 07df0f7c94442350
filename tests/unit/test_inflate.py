"""The cap on inflated gzip batches, through kafka-python's own record reader (the pinned version).

Past the cap a batch's records are read as stand-ins, one per offset, which the decoder rejects as
too_large: the client never raises inside its record iterator (it would loop for ever in poll).
"""

from __future__ import annotations

import gzip

import pytest
from kafka.record import default_records
from kafka.record.default_records import DefaultRecordBatchBuilder
from kafka.record.memory_records import MemoryRecords

from detector.brokers.kafka_tuning import bounded_gzip_decode, cap_gzip
from detector.stream.decode import INFLATED, Decoder

MIB = 1024 * 1024


@pytest.fixture
def capped(monkeypatch):
    """cap_gzip(limit) for one test; kafka-python's own decoder comes back afterwards."""
    monkeypatch.setattr(default_records, "gzip_decode", default_records.gzip_decode)
    return cap_gzip


def gzip_batch(*values: bytes, base: int = 0) -> bytes:
    """A real gzip record batch holding these values from offset `base`, as a broker sends it."""
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=1, is_transactional=False,
                                        producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                        batch_size=1 << 30)
    for delta, value in enumerate(values):
        builder.append(delta, timestamp=0, key=None, value=value, headers=[])
    raw = bytearray(builder.build())
    raw[0:8] = base.to_bytes(8, "big")  # the base offset the broker assigned
    return bytes(raw)


def read(raw: bytes) -> list[tuple[int, bytes]]:
    """(offset, value) of every record, read by kafka-python."""
    records = MemoryRecords(raw)
    out = []
    while (batch := records.next_batch()) is not None:
        out.extend((record.offset, record.value) for record in batch)
    return out


def test_a_batch_within_the_cap_reads_as_before(capped):
    capped(MIB)
    assert read(gzip_batch(b"a" * 1000, b"b", base=7)) == [(7, b"a" * 1000), (8, b"b")]


def test_a_batch_past_the_cap_reads_as_one_stand_in_per_offset(capped):
    capped(MIB)
    raw = gzip_batch(b"\0" * (8 * MIB), b"x", b"\0" * (8 * MIB), base=40)
    assert len(raw) < 40_000  # small on the wire
    assert read(raw) == [(40, INFLATED), (41, INFLATED), (42, INFLATED)]
    rejected = Decoder(["a", "b"]).decode([INFLATED]).rejected
    assert [(r.reason, "inflates past" in r.message) for r in rejected] == [("too_large", True)]


def test_bounded_gzip_reads_every_member():
    assert bounded_gzip_decode(gzip.compress(b"abc") + gzip.compress(b"def")) == b"abcdef"
