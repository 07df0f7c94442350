"""The baseline: a bare kafka-python consumer that only polls and touches each value.

    .venv/bin/python -m bench.bare_consumer TOPIC COUNT [--partitions 1] [--batch-size 5000]
        [--collect-rarely] [--lag]

It reads TOPIC from the beginning with `detector serve`'s own consumer settings
(detector.cli.serve.consumer_settings) and prints `records/s <rate>`, timed from its first
non-empty poll, and `cpu_us <us>`: the process's CPU time per record (all its threads).
--collect-rarely gives it the detector's garbage-collector settings too.
With --lag it reads COUNT records as they arrive and prints `lag_ms <p50> <p99> <max>`: when
poll handed each over, minus its broker timestamp (a topic with LogAppendTime).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from kafka import KafkaConsumer, TopicPartition

from bench.stream import BOOTSTRAP
from detector.cli.serve import collect_rarely, consumer_settings


def consume(topic: str, count: int, partitions: int, batch_size: int) -> tuple[float, float]:
    """Records/s of polling `count` records and touching each value; CPU seconds per record."""
    consumer = KafkaConsumer(bootstrap_servers=BOOTSTRAP, group_id=None,
                             enable_auto_commit=False, auto_offset_reset="earliest",
                             **consumer_settings(batch_size))
    assigned = [TopicPartition(topic, p) for p in range(partitions)]
    consumer.assign(assigned)
    consumer.seek_to_beginning(*assigned)
    seen, size, started, cpu = 0, 0, 0.0, 0.0
    try:
        while seen < count:
            batch = consumer.poll(timeout_ms=1000)
            if batch and not started:
                started, cpu = time.perf_counter(), time.process_time()
            for records in batch.values():
                for record in records:
                    size += len(record.value)
                seen += len(records)
        return seen / (time.perf_counter() - started), (time.process_time() - cpu) / seen
    finally:
        consumer.close()


def lags(topic: str, count: int, batch_size: int) -> np.ndarray:
    """Seconds from each record's broker timestamp to the poll that returned it."""
    consumer = KafkaConsumer(bootstrap_servers=BOOTSTRAP, group_id=None,
                             enable_auto_commit=False, auto_offset_reset="earliest",
                             **consumer_settings(batch_size))
    consumer.assign([TopicPartition(topic, 0)])
    out: list[float] = []
    try:
        while len(out) < count:
            batch = consumer.poll(timeout_ms=1000)
            now = time.time()
            for records in batch.values():
                out += [now - r.timestamp / 1000 for r in records]
    finally:
        consumer.close()
    return np.array(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("topic")
    parser.add_argument("count", type=int)
    parser.add_argument("--partitions", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--collect-rarely", action="store_true")
    parser.add_argument("--lag", action="store_true")
    args = parser.parse_args()
    if args.collect_rarely:
        collect_rarely()
    if args.lag:
        ms = lags(args.topic, args.count, args.batch_size) * 1000
        print(f"lag_ms {np.percentile(ms, 50):.2f} {np.percentile(ms, 99):.2f} {ms.max():.2f}")
        return
    rate, cpu = consume(args.topic, args.count, args.partitions, args.batch_size)
    print(f"records/s {rate:.0f} cpu_us {cpu * 1e6:.2f}")


if __name__ == "__main__":
    main()
