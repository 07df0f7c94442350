"""The model topic: promoted bundles travel on a compacted Kafka topic, one whole bundle a record.

Like Kafka Connect's config topic and Schema Registry's store: one partition, cleanup.policy
compact, one writer (the retrainer), a fixed key, so compaction keeps the newest bundle. A bundle
is never chunked: a packed bundle larger than the topic's max.message.bytes is refused with one
line naming the limit (raise it, or keep bundles in shared storage; docs/streaming.md). The
client side is detector.brokers.kafka_models; here are the record's layout and the checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from detector.core.bundle import read_meta
from detector.core.bundle_archive import pack
from detector.errors import ConfigError

KEY = b"bundle"  # one fixed key: compaction keeps the newest record
VERSION_HEADER = "bundle.version"
FORMAT_HEADER = "bundle.format"
FORMAT = b"zip"
RECORD_OVERHEAD = 512  # batch and record headers around the value, generously
DEFAULT_MAX_MESSAGE_BYTES = 1_048_588  # Kafka's default max.message.bytes


class BundleTooLarge(ConfigError):
    """A packed bundle does not fit in one record of the model topic."""


def check_topic(topic: str, partitions: int, configs: Mapping[str, str]) -> int:
    """The topic's max.message.bytes, or a ConfigError unless it has 1 partition and is
    compacted (so that every replica reads the newest bundle, in order)."""
    policy = configs.get("cleanup.policy", "delete")
    if partitions != 1 or "compact" not in policy.split(","):
        raise ConfigError(
            f"the model topic {topic} has {partitions} partition(s) and cleanup.policy={policy}: "
            "it must have 1 partition and cleanup.policy=compact (so every replica reads the "
            "newest bundle in order): delete it or name another with --model-topic")
    return int(configs.get("max.message.bytes", DEFAULT_MAX_MESSAGE_BYTES))


def bundle_record(path: str | Path, max_message_bytes: int
                  ) -> tuple[bytes, list[tuple[str, bytes]], str]:
    """(value, headers, version) of the bundle in `path` as one record, or BundleTooLarge."""
    version = str(read_meta(path)["version"])
    value = pack(path)
    headers = [(VERSION_HEADER, version.encode()), (FORMAT_HEADER, FORMAT)]
    size = len(value) + len(KEY) + sum(len(k) + len(v) for k, v in headers) + RECORD_OVERHEAD
    if size > max_message_bytes:
        raise BundleTooLarge(
            f"bundle {version} is {len(value)} bytes packed, over the model topic's "
            f"max.message.bytes ({max_message_bytes}): raise it on the topic (and the clients' "
            "max.request.size and max.partition.fetch.bytes) or keep bundles in shared storage "
            "(docs/streaming.md); bundles are never split across records")
    return value, headers, version
