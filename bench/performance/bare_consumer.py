"""The baseline: a bare kafka-python consumer that only polls and touches each value.

    .venv/bin/python -m bench.performance.bare_consumer TOPIC COUNT [--partitions 1]
        [--batch-size 5000]
        [--collect-rarely] [--lag] [--group GROUP] [--fetch-min-bytes 1] [--fetch-wait-ms 500]
        [--kafka-client kafka-python|confluent]

It reads TOPIC from the beginning with `detector serve`'s own consumer settings
(detector.cli.serve.consumer_settings) and prints `records/s <rate>`, timed from its first
non-empty poll, and `cpu_us <us>`: the process's CPU time per record (all its threads).
--collect-rarely gives it the detector's garbage-collector settings too.
With --lag it reads COUNT records as they arrive and prints `lag_ms <p50> <p99> <max>`: when
poll handed each over, minus its broker timestamp (a topic with LogAppendTime).
With --group it is a member of consumer group GROUP, as a replica of `detector serve` is: it
polls, touches each value and commits at most every 0.2 s until SIGTERM (COUNT is ignored;
bench/performance/scale.py measures its CPU from outside).
With --kafka-client confluent it does the same on librdkafka (bench/performance/bare_confluent.py).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from kafka import KafkaConsumer, TopicPartition

from bench.performance import bare_loops
from bench.performance.harness import BOOTSTRAP
from detector.cli.serve import collect_rarely, consumer_settings


def client(settings: dict, *topics: str, group: str | None = None) -> KafkaConsumer:
    """A consumer with `settings` that commits only when told: alone (partitions assigned by
    hand, from the start) or, given a group, a member subscribed to `topics` from their end."""
    return KafkaConsumer(*topics, bootstrap_servers=BOOTSTRAP, group_id=group,
                         enable_auto_commit=False,
                         auto_offset_reset="latest" if group else "earliest", **settings)


def touch(batch: dict) -> int:
    """Read each value of a poll's batch; how many records it held."""
    seen = 0
    for records in batch.values():
        for record in records:
            len(record.value)
        seen += len(records)
    return seen


def stamps(batch: dict) -> list[float]:
    """The broker timestamps of a poll's records, in seconds."""
    return [r.timestamp / 1000 for records in batch.values() for r in records]


def consume(topic: str, count: int, partitions: int, settings: dict) -> tuple[float, float]:
    """Records/s of polling `count` records and touching each value; CPU seconds per record."""
    consumer = client(settings)
    assigned = [TopicPartition(topic, p) for p in range(partitions)]
    consumer.assign(assigned)
    consumer.seek_to_beginning(*assigned)
    try:
        return bare_loops.rate(lambda timeout: consumer.poll(timeout_ms=int(timeout * 1000)),
                               touch, count)
    finally:
        consumer.close()


def lags(topic: str, count: int, settings: dict) -> np.ndarray:
    """Seconds from each record's broker timestamp to the poll that returned it."""
    consumer = client(settings)
    consumer.assign([TopicPartition(topic, 0)])
    try:
        return bare_loops.lags(lambda timeout: consumer.poll(timeout_ms=int(timeout * 1000)),
                               stamps, count)
    finally:
        consumer.close()


def member(topic: str, group: str, settings: dict, commit_every: float = 0.2) -> None:
    """A group member that polls, touches each value and commits, until SIGTERM."""
    consumer = client(settings, topic, group=group)

    def commit() -> bool:
        consumer.commit_async()
        return True

    try:
        bare_loops.member(lambda: touch(consumer.poll(timeout_ms=500)), commit, commit_every)
        consumer.commit()
    finally:
        consumer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("topic")
    parser.add_argument("count", type=int)
    parser.add_argument("--partitions", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--collect-rarely", action="store_true")
    parser.add_argument("--lag", action="store_true")
    parser.add_argument("--group")
    parser.add_argument("--fetch-min-bytes", type=int, default=1)
    parser.add_argument("--fetch-wait-ms", type=int, default=500)
    parser.add_argument("--kafka-client", choices=("kafka-python", "confluent"),
                        default="kafka-python")
    args = parser.parse_args()
    settings = consumer_settings(args.batch_size, args.fetch_min_bytes, args.fetch_wait_ms)
    if args.collect_rarely:
        collect_rarely()
    if args.kafka_client == "confluent":
        from bench.performance import bare_confluent as library
    else:
        library = sys.modules[__name__]
    if args.group:
        library.member(args.topic, args.group, settings)
        return
    if args.lag:
        ms = library.lags(args.topic, args.count, settings) * 1000
        print(f"lag_ms {np.percentile(ms, 50):.2f} {np.percentile(ms, 99):.2f} {ms.max():.2f}")
        return
    rate, cpu = library.consume(args.topic, args.count, args.partitions, settings)
    print(f"records/s {rate:.0f} cpu_us {cpu * 1e6:.2f}")


if __name__ == "__main__":
    main()
