"""confluent-kafka's clients as `detector serve --kafka-client confluent` uses them, built with its
settings: the group member and the producer behind the seam (detector.brokers.confluent), each
the counterpart of detector.brokers.kafka_clients' kafka-python one, and the consumer's commit
callback.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from detector.brokers.confluent import (
    ConfluentSource,
    E,
    broker_error,
    committed_offsets,
    first_failure,
)
from detector.brokers.confluent_sink import ConfluentSink
from detector.brokers.kafka_clients import HEARTBEAT_INTERVAL_MS, SESSION_TIMEOUT_MS
from detector.stream.ports import CommitAnswer, Offsets
from shared.kafka_client import Connection
from shared.kafka_confluent import open_client

MAX_MESSAGE_BYTES = 1024 * 1024  # kafka-python's max_request_size: the same messages pass


def fetch_config(fetch: Mapping[str, int]) -> dict[str, Any]:
    """librdkafka's names for serve's fetch settings (detector.cli.serve.consumer_settings)."""
    return {"max.partition.fetch.bytes": fetch["max_partition_fetch_bytes"],
            "fetch.min.bytes": fetch["fetch_min_bytes"],
            "fetch.wait.max.ms": fetch["fetch_max_wait_ms"]}


def open_source(connection: Connection, hint: str, group: str, client_id: str,
                offset_reset: str, fetch: Mapping[str, int], max_poll_interval_ms: int
                ) -> ConfluentSource:
    """The consumer of `detector serve`, or a one-line InputError (as kafka_clients')."""
    commits: deque[tuple[Offsets, CommitAnswer]] = deque()
    # librdkafka refuses a session longer than the poll interval (serve's settings keep that
    # at least the broker's shortest session)
    session = min(SESSION_TIMEOUT_MS, max_poll_interval_ms)
    config = {"group.id": group, "client.id": client_id, "enable.auto.commit": False,
              "enable.auto.offset.store": False, "auto.offset.reset": str(offset_reset),
              **fetch_config(fetch), "session.timeout.ms": session,
              "heartbeat.interval.ms": min(HEARTBEAT_INTERVAL_MS, session // 3),
              "max.poll.interval.ms": max_poll_interval_ms, "reconnect.backoff.max.ms": 5000,
              "on_commit": commit_answered(commits)}
    consumer = open_client("consumer", Consumer, connection, hint, config)
    return ConfluentSource(consumer, commits, earliest=str(offset_reset) == "earliest")


def open_sink(connection: Connection, hint: str, client_id: str) -> ConfluentSink:
    """The producer of events and dead letters, or a one-line InputError.

    Not idempotent, as kafka_clients' (at-least-once does not need it); murmur2 puts each
    device's events on the partition kafka-python (and Java) would.
    """
    config = {"client.id": client_id, "acks": "all", "linger.ms": 20,
              "enable.idempotence": False, "partitioner": "murmur2_random",
              "batch.size": 1024 * 1024, "message.max.bytes": MAX_MESSAGE_BYTES,
              "request.timeout.ms": 15_000, "message.timeout.ms": 30_000,
              "reconnect.backoff.max.ms": 5000}
    return ConfluentSink(open_client("producer", Producer, connection, hint, config))


def commit_answered(commits: deque[tuple[Offsets, CommitAnswer]]) -> Any:
    """The consumer's on_commit callback: the answer to the oldest asynchronous commit whose
    offsets it reports (a synchronous commit's report matches none and is ignored)."""

    def on_commit(error: KafkaError | None, partitions: list[TopicPartition]) -> None:
        reported = committed_offsets(partitions)
        for i, (offsets, answer) in enumerate(commits):
            if offsets == reported or (error is not None and not reported):
                del commits[i]
                failure = error if error is not None and error.code() != E._NO_OFFSET else None
                failure = failure or first_failure(partitions)
                answer(offsets, None if failure is None else broker_error(failure))
                return

    return on_commit
