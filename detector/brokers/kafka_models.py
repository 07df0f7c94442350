"""kafka-python's side of the model topic (detector.brokers.model_topic): creating and checking
the topic, publishing a bundle, and reading the topic with no consumer group (as Kafka Connect's
KafkaBasedLog reads its config topic: the one partition assigned, from the beginning)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import TopicAlreadyExistsError, TopicAuthorizationFailedError

from detector.brokers.model_topic import (
    KEY,
    VERSION_HEADER,
    bundle_record,
    check_topic,
)
from detector.errors import ConfigError, NotAllowed
from detector.stream.ports import ModelRecord
from shared.kafka_client import Connection, connect

log = logging.getLogger(__name__)
MAX_RECORD_BYTES = 64 * 1024 * 1024  # the most a reader fetches at once


def ensure_model_topic(connection: Connection, hint: str, topic: str, replication: int = 1
                       ) -> int:
    """Create the model topic when missing (1 partition, compacted); refuse one that is not so.
    Returns its max.message.bytes, the largest packed bundle it takes."""
    admin = connect("admin", KafkaAdminClient, connection, hint)
    try:
        if topic not in set(admin.list_topics()):
            create(admin, topic, replication)
        partitions = len(admin.describe_topics([topic])[0].get("partitions") or [])
        answer = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)],
                                        config_filter="all")
        entries = answer.get("topic", {}).get(topic, {})
        if not entries:  # kafka-python drops the result's error: a refusal reads as no config
            raise NotAllowed(f"not allowed to read the configuration of the model topic {topic}: "
                             "grant this Kafka user DESCRIBE_CONFIGS on it (to check that it "
                             "is compacted)")
        return check_topic(topic, partitions, {k: str(v.get("value")) for k, v in entries.items()})
    finally:
        admin.close()


def create(admin: KafkaAdminClient, topic: str, replication: int) -> None:
    """Create the compacted one-partition topic (another process creating it first is fine)."""
    request = {topic: {"num_partitions": 1, "replication_factor": replication,
                       "configs": {"cleanup.policy": "compact"}}}
    for answer in admin.create_topics(request, raise_errors=False).get("topics", []):
        code = answer.get("error_code", 0)
        if code == TopicAuthorizationFailedError.errno:
            raise NotAllowed(f"not allowed to create the model topic {topic}: grant this Kafka "
                             "user CREATE on it, or create it first (1 partition, "
                             "cleanup.policy=compact; docs/operations.md)")
        if code not in (0, TopicAlreadyExistsError.errno):
            message = answer.get("error_message") or f"error code {code}"
            raise ConfigError(f"could not create the model topic {topic}: {message}")
        if code == 0:
            log.info("created the model topic %s (1 partition, compacted)", topic)
    admin.wait_for_topics([topic], timeout_ms=15_000)


class ModelTopicWriter:
    """Publishes bundles to the model topic (checked, or created, when built)."""

    def __init__(self, connection: Connection, hint: str, topic: str,
                 replication: int = 1) -> None:
        self.topic = topic
        self.limit = ensure_model_topic(connection, hint, topic, replication)
        self.producer = connect("producer", KafkaProducer, connection, hint, acks="all",
                                max_request_size=max(self.limit, 1 << 20),
                                enable_idempotence=False)

    def publish(self, path: str | Path, timeout: float = 30.0) -> str:
        """Send the bundle in `path` as one record and wait for the broker; its version."""
        value, headers, version = bundle_record(path, self.limit)
        self.producer.send(self.topic, key=KEY, value=value, headers=headers).get(timeout=timeout)
        log.info("published bundle %s to %s (%d bytes)", version, self.topic, len(value))
        return version

    def close(self) -> None:
        self.producer.close(timeout=10)


class ModelTopicReader:
    """Reads the model topic's one partition with no consumer group."""

    def __init__(self, connection: Connection, hint: str, topic: str, client_id: str) -> None:
        self.topic = topic
        self.partition = TopicPartition(topic, 0)
        self.consumer = connect("model-topic consumer", KafkaConsumer, connection, hint,
                                group_id=None, client_id=client_id, enable_auto_commit=False,
                                max_partition_fetch_bytes=MAX_RECORD_BYTES,
                                fetch_max_bytes=MAX_RECORD_BYTES, reconnect_backoff_max_ms=5000)

    def read_to_end(self, timeout: float = 60.0) -> ModelRecord | None:
        """From the beginning to the end offset at call time: the newest record, if any."""
        self.consumer.assign([self.partition])
        self.consumer.seek_to_beginning(self.partition)
        end = self.consumer.end_offsets([self.partition])[self.partition]
        newest, deadline = None, time.monotonic() + timeout
        while self.consumer.position(self.partition) < end:
            if time.monotonic() > deadline:
                raise ConfigError(f"could not read the model topic {self.topic} to its end "
                                  f"(offset {end}) within {timeout:.0f} s")
            polled = self.poll(500)
            newest = polled[-1] if polled else newest
        log.info("read the model topic %s to its end (offset %d)", self.topic, end)
        return newest

    def poll(self, timeout_ms: int) -> list[ModelRecord]:
        """The records that arrived since the last poll, in order."""
        polled = self.consumer.poll(timeout_ms=timeout_ms)
        return [ModelRecord(r.offset, version_of(r.headers), r.value)
                for records in polled.values() for r in records]

    def close(self) -> None:
        self.consumer.close()


def version_of(headers: Sequence[tuple[str, bytes]] | None) -> str | None:
    """The bundle.version header as text (None when absent)."""
    for key, value in headers or ():
        if key == VERSION_HEADER and value is not None:
            return bytes(value).decode("utf-8", "replace")
    return None
