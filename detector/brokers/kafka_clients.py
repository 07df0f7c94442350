"""kafka-python's clients as `detector serve` and `detector watch` use them, built with their
settings: the group member and the producer behind the seam (detector.brokers.kafka), the admin
client that creates missing topics, and watch's reader of the events topic.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Mapping

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import TopicAlreadyExistsError, TopicAuthorizationFailedError

from detector.brokers.kafka import KafkaSink, KafkaSource
from detector.brokers.kafka_tuning import KeyedPartitioner, cap_gzip
from detector.errors import NotAllowed
from shared.kafka_client import Connection, connect

log = logging.getLogger(__name__)
SESSION_TIMEOUT_MS = 10_000  # a member silent this long leaves the group
HEARTBEAT_INTERVAL_MS = 2_000


def open_source(connection: Connection, hint: str, group: str, client_id: str,
                offset_reset: str, fetch: Mapping[str, int], max_poll_interval_ms: int
                ) -> KafkaSource:
    """The consumer of `detector serve` (its gzip batches capped), or a one-line InputError."""
    cap_gzip()  # a gzip batch inflating past 64 MiB becomes too_large dead letters
    return KafkaSource(connect(
        "consumer", KafkaConsumer, connection, hint, group_id=group, client_id=client_id,
        enable_auto_commit=False, auto_offset_reset=offset_reset, **fetch,
        reconnect_backoff_max_ms=5000, session_timeout_ms=SESSION_TIMEOUT_MS,
        heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS, max_poll_interval_ms=max_poll_interval_ms))


def open_sink(connection: Connection, hint: str, client_id: str) -> KafkaSink:
    """The producer of events and dead letters, or a one-line InputError.

    Not idempotent: at-least-once does not need it, and kafka-python's idempotent producer turns
    one refused message (e.g. MESSAGE_TOO_LARGE) into a fatal state that fails every later send,
    so the outbox's retries could never succeed once the topic is fixed.
    """
    return KafkaSink(connect(
        "producer", KafkaProducer, connection, hint, client_id=client_id, acks="all",
        linger_ms=20, partitioner=KeyedPartitioner(), batch_size=1024 * 1024,
        enable_idempotence=False, request_timeout_ms=15_000, delivery_timeout_ms=30_000,
        max_block_ms=10_000, reconnect_backoff_max_ms=5000))


def ensure_topics(connection: Connection, hint: str, partitions: Mapping[str, int],
                  replication: int = 1) -> list[str]:
    """Create each topic of `partitions` (name → partition count) that does not exist yet; the
    names created. Several replicas may start at once: a topic created in between is fine."""
    admin = connect("admin", KafkaAdminClient, connection, hint)
    try:
        existing = set(admin.list_topics())
        missing = {name: n for name, n in partitions.items() if name not in existing}
        if not missing:
            return []
        request = {name: {"num_partitions": n, "replication_factor": replication}
                   for name, n in missing.items()}
        created = []
        for topic in admin.create_topics(request, raise_errors=False).get("topics", []):
            name, code = topic.get("name"), topic.get("error_code", 0)
            if code == 0:
                created.append(name)
                log.info("created topic %s with %d partition(s)", name, missing[name])
            elif code == TopicAuthorizationFailedError.errno:
                raise NotAllowed(
                    f"not allowed to use topic {name}: this Kafka user may neither see nor "
                    f"create it; grant it WRITE on {name} (READ on the readings topic and the "
                    "group), or create the topic first (docs/operations.md, ACLs)")
            elif code != TopicAlreadyExistsError.errno:
                message = topic.get("error_message") or f"error code {code}"
                raise RuntimeError(f"could not create topic {name}: {message}")
        if created:
            admin.wait_for_topics(created, timeout_ms=15_000)
        return created
    finally:
        admin.close()


def follow(connection: Connection, hint: str, topic: str, from_beginning: bool,
           partitions: Callable[[Callable[[str], set[int] | None]], set[int]]
           ) -> Generator[bytes | None, None, None]:
    """The value of every record of `topic` from now on (or from its beginning), until closed;
    `partitions` gets the broker's partitions-of-a-topic lookup and returns the topic's."""
    consumer = connect("consumer", KafkaConsumer, connection, hint, group_id=None,
                       enable_auto_commit=False)
    try:
        assigned = [TopicPartition(topic, p) for p in sorted(partitions(
            consumer.partitions_for_topic))]
        consumer.assign(assigned)
        (consumer.seek_to_beginning if from_beginning else consumer.seek_to_end)(*assigned)
        while True:
            for records in consumer.poll(timeout_ms=1000).values():
                for record in records:
                    yield record.value
    finally:
        consumer.close()
