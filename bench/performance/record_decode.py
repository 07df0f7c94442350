"""Where kafka-python's time per record goes, on the bytes of one fetch (no broker needed).

    .venv/bin/python -m bench.performance.record_decode [--records 60000] [--batch-records 675]
        [--repeats 5]

Builds v2 record batches like the ones `bench.performance.throughput` fetches (the simulator's
readings, key = device, a `label` header, about 675 records a batch as the filling producer makes
them), then times, in CPU seconds per record (best of --repeats, so other load on the machine counts
little), each layer of kafka-python's consumer path over those bytes:

- the batch CRC with the `crc32c` package (what kafka-python uses when it is installed) and with
  kafka-python's pure-Python fallback;
- the record parser alone (iterating DefaultRecordBatch);
- the consumer's whole path (Fetcher.PartitionRecords.take: parser, per-record CRC call,
  header sizes, ConsumerRecord), with check_crcs on and off;
- beside them, the detector's own decode and validation of the same values, 5,000 a batch
  (detector.stream.decode.Decoder, the fast path every clean batch takes).

The bare consumer of bench.performance.throughput pays the consumer's whole path plus the
fetches; the throughput target (>= 100,000 records/s) needs at most 10 us a record for everything.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Callable

from kafka import TopicPartition
from kafka.consumer.fetcher import Fetcher
from kafka.record._crc32c import crc as crc_python
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder
from kafka.record.memory_records import MemoryRecords
from kafka.record.util import calc_crc32c

from bench.common import table
from detector.stream.decode import Decoder
from producer.simulator import Simulator
from producer.sinks import encode_reading
from shared.wire import CHANNELS

TP = TopicPartition("readings", 0)
AT = DefaultRecordBatch.ATTRIBUTES_OFFSET  # the CRC covers the batch from here on


def fetched_bytes(count: int, per_batch: int) -> bytes:
    """`count` simulated readings as v2 record batches of `per_batch` records, concatenated."""
    sim = Simulator(devices=100, seed=1)
    out, builder, offset, now = [], None, 0, time.time()
    for block in sim.blocks(total=count):
        rows = block.values.round(4).tolist()
        for device, seq, values, label in zip(block.device, block.seq.tolist(), rows,
                                              block.label, strict=True):
            if builder is None:
                builder = DefaultRecordBatchBuilder(2, 0, False, -1, -1, -1, 16 * 1024 * 1024)
                first = offset
            builder.append(offset - first, int(now * 1000), device.encode(),
                           encode_reading(device, seq, now, values), [("label", label.encode())])
            offset += 1
            if offset - first == per_batch:
                out.append(with_base_offset(builder.build(), first))
                builder = None
    if builder is not None:
        out.append(with_base_offset(builder.build(), first))
    return b"".join(out)


def with_base_offset(batch: bytearray, base: int) -> bytes:
    """The batch with its base offset set (the broker's job; outside the CRC)."""
    batch[0:8] = base.to_bytes(8, "big", signed=True)
    return bytes(batch)


def batches(data: bytes) -> list[DefaultRecordBatch]:
    """The record batches of a fetch."""
    records, out = MemoryRecords(data), []
    while (batch := records.next_batch()) is not None:
        out.append(batch)
    return out


def partition_records(data: bytes, check_crcs: bool = True) -> Fetcher.PartitionRecords:
    """kafka-python's per-partition record source over the bytes."""
    return Fetcher.PartitionRecords(0, TP, MemoryRecords(data), check_crcs=check_crcs)


def consumer_path(data: bytes, check_crcs: bool) -> int:
    """Records that Fetcher.PartitionRecords hands over, 5,000 per take like the detector."""
    part, seen = partition_records(data, check_crcs), 0
    while part:
        seen += len(part.take(5000))
    return seen


def cpu_per_record(work: Callable[[], object], count: int, repeats: int) -> float:
    """Best CPU microseconds per record of `work` over `repeats` runs."""
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=60_000, help="about one 8 MiB fetch")
    parser.add_argument("--batch-records", type=int, default=675)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    data, n = fetched_bytes(args.records, args.batch_records), args.records
    values = [r.value for r in partition_records(data).take()]
    decoder = Decoder(CHANNELS)
    cases = [
        ("batch CRC, crc32c package", lambda: [calc_crc32c(memoryview(b._buffer)[AT:])
                                              for b in batches(data)]),
        ("batch CRC, kafka-python's pure-Python crc", lambda: [
            crc_python(memoryview(b._buffer)[AT:]) for b in batches(data)[:10]]),
        ("record parser alone (DefaultRecordBatch)", lambda: [r for b in batches(data)
                                                              for r in b]),
        ("consumer path, check_crcs=True (the default)", lambda: consumer_path(data, True)),
        ("consumer path, check_crcs=False", lambda: consumer_path(data, False)),
        ("the detector's decode and validation", lambda: [
            decoder.decode(values[i:i + 5000]) for i in range(0, n, 5000)]),
    ]
    rows = []
    for name, work in cases:
        share = n if "pure-Python" not in name else min(n, 10 * args.batch_records)
        us = cpu_per_record(work, share, args.repeats)
        rows.append((name, f"{us:.2f}", f"{1e6 / us:,.0f}"))
    command = [sys.executable, "-m", "bench.performance.record_decode", *sys.argv[1:]]
    print(f"command: {shlex.join(command)}")
    print(f"{n:,} readings, {len(data) / n:.0f} bytes each on the wire, "
          f"{len(batches(data))} batches\n")
    print(table(rows, ("layer", "CPU us per record", "records/s on one core")))


if __name__ == "__main__":
    main()
