"""The baseline on librdkafka: bare_consumer.py's three modes on a confluent-kafka Consumer.

bare_consumer.py runs these with `--kafka-client confluent`: the same fetch settings as
`detector serve --kafka-client confluent` (detector.brokers.confluent_clients.fetch_config), and
as little as a consumer can do: consume, touch each value (and, in a group, commit explicit
offsets at most every 0.2 s). Its lag and group modes read as the detector's poll does, at the
lowest lag: they wait for the first message, then take what is queued with it (`take`).
"""

from __future__ import annotations

import numpy as np
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from bench.performance import bare_loops
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


def touch(batch: list) -> int:
    """Read each value of a consume()'s messages; how many there were."""
    for message in batch:
        len(message.value())
    return len(batch)


def stamps(batch: list) -> list[float]:
    """The broker timestamps of a consume()'s messages, in seconds."""
    return [m.timestamp()[1] / 1000 for m in batch]


def consume(topic: str, count: int, partitions: int, settings: dict) -> tuple[float, float]:
    """Records/s of consuming `count` records and touching each value; CPU seconds per record."""
    consumer = client(settings)
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    batch_size = settings["max_poll_records"]
    try:
        return bare_loops.rate(lambda timeout: consumer.consume(batch_size, timeout), touch, count)
    finally:
        consumer.close()


def lags(topic: str, count: int, settings: dict) -> np.ndarray:
    """Seconds from each record's broker timestamp to the consume() that returned it."""
    consumer = client(settings)
    consumer.assign([TopicPartition(topic, 0)])
    most = settings["max_poll_records"]
    try:
        return bare_loops.lags(lambda timeout: take(consumer, most, timeout), stamps, count)
    finally:
        consumer.close()


def member(topic: str, group: str, settings: dict, commit_every: float = 0.2) -> None:
    """A group member that consumes, touches each value and commits, until SIGTERM."""
    consumer = client(settings, group)
    consumer.subscribe([topic])
    offsets: dict[int, int] = {}

    def step() -> None:
        for message in take(consumer, settings["max_poll_records"], 0.5):
            len(message.value())
            offsets[message.partition()] = message.offset() + 1

    def commit() -> bool:
        if not offsets:
            return False
        consumer.commit(offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()],
                        asynchronous=True)
        offsets.clear()
        return True

    try:
        bare_loops.member(step, commit, commit_every)
    finally:
        consumer.close()
