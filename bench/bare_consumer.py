"""The baseline: a bare kafka-python consumer that only polls and touches each value.

    .venv/bin/python -m bench.bare_consumer TOPIC COUNT [--partitions 1] [--batch-size 5000]
        [--collect-rarely]

It reads TOPIC from the beginning with `detector serve`'s own consumer settings
(detector.cli_serve.consumer_settings) and prints `records/s <rate>`, timed from its first
non-empty poll. --collect-rarely gives it the detector's garbage-collector settings too.
"""

from __future__ import annotations

import argparse
import time

from kafka import KafkaConsumer, TopicPartition

from bench.stream import BOOTSTRAP
from detector.cli_serve import collect_rarely, consumer_settings


def consume(topic: str, count: int, partitions: int, batch_size: int) -> float:
    """Records/s of polling `count` records and touching each value."""
    consumer = KafkaConsumer(bootstrap_servers=BOOTSTRAP, group_id=None,
                             enable_auto_commit=False, auto_offset_reset="earliest",
                             **consumer_settings(batch_size))
    assigned = [TopicPartition(topic, p) for p in range(partitions)]
    consumer.assign(assigned)
    consumer.seek_to_beginning(*assigned)
    seen, size, started = 0, 0, 0.0
    try:
        while seen < count:
            batch = consumer.poll(timeout_ms=1000)
            if batch and not started:
                started = time.perf_counter()
            for records in batch.values():
                for record in records:
                    size += len(record.value)
                seen += len(records)
        return seen / (time.perf_counter() - started)
    finally:
        consumer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("topic")
    parser.add_argument("count", type=int)
    parser.add_argument("--partitions", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--collect-rarely", action="store_true")
    args = parser.parse_args()
    if args.collect_rarely:
        collect_rarely()
    rate = consume(args.topic, args.count, args.partitions, args.batch_size)
    print(f"records/s {rate:.0f}")


if __name__ == "__main__":
    main()
