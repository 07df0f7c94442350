"""The baseline on librdkafka: bare_consumer.py's three modes on a confluent-kafka Consumer.

bare_consumer.py runs these with `--kafka-client confluent`: the same fetch settings as
`detector serve --kafka-client confluent` (detector.brokers.confluent_clients.fetch_config), and
as little as a consumer can do: consume, touch each value (and, in a group, commit explicit
offsets at most every 0.2 s). Its lag and group modes read as the detector's poll does, at the
lowest lag: they wait for the first message, then take what is queued with it (`take`).
"""

from __future__ import annotations

import signal
import time

import numpy as np
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from bench.performance.harness import BOOTSTRAP
from detector.brokers.confluent_clients import fetch_config


def client(settings: dict, group: str | None = None) -> Consumer:
    """A consumer with serve's fetch `settings` that stores and commits only when told."""
    return Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": group or "bare-unused",
                     "enable.auto.commit": False, "enable.auto.offset.store": False,
                     "auto.offset.reset": "latest" if group else "earliest",
                     **fetch_config(settings)})


def take(consumer: Consumer, most: int, timeout: float) -> list:
    """What has arrived, as soon as something has (consume(most, timeout) alone would wait the
    whole timeout for `most` messages)."""
    messages = consumer.consume(1, timeout)
    return messages + consumer.consume(most - 1, 0) if messages else messages


def consume(topic: str, count: int, partitions: int, settings: dict) -> tuple[float, float]:
    """Records/s of consuming `count` records and touching each value; CPU seconds per record."""
    consumer = client(settings)
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    seen, size, started, cpu = 0, 0, 0.0, 0.0
    batch_size = settings["max_poll_records"]
    try:
        while seen < count:
            batch = consumer.consume(batch_size, 1.0)
            if batch and not started:
                started, cpu = time.perf_counter(), time.process_time()
            for message in batch:
                size += len(message.value())
            seen += len(batch)
        return seen / (time.perf_counter() - started), (time.process_time() - cpu) / seen
    finally:
        consumer.close()


def lags(topic: str, count: int, settings: dict) -> np.ndarray:
    """Seconds from each record's broker timestamp to the consume() that returned it."""
    consumer = client(settings)
    consumer.assign([TopicPartition(topic, 0)])
    out: list[float] = []
    try:
        while len(out) < count:
            batch = take(consumer, settings["max_poll_records"], 1.0)
            now = time.time()
            out += [now - m.timestamp()[1] / 1000 for m in batch]
    finally:
        consumer.close()
    return np.array(out)


def member(topic: str, group: str, settings: dict, commit_every: float = 0.2) -> None:
    """A group member that consumes, touches each value and commits, until SIGTERM."""
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
    consumer = client(settings, group)
    consumer.subscribe([topic])
    committed, offsets = time.monotonic(), {}
    try:
        while not stopping:
            for message in take(consumer, settings["max_poll_records"], 0.5):
                len(message.value())
                offsets[message.partition()] = message.offset() + 1
            if offsets and time.monotonic() - committed >= commit_every:
                consumer.commit(offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()],
                                asynchronous=True)
                committed, offsets = time.monotonic(), {}
    finally:
        consumer.close()
