"""The secured local Kafka's topics and ACLs, made as admin (deploy/local/kafka-secure.sh).

    python deploy/local/kafka_grants.py ADMIN.properties          create what is missing
    python deploy/local/kafka_grants.py --check ADMIN.properties  exit 0 when the broker answers

Idempotent: a topic that exists is kept, an ACL granted twice is one ACL.
"""

from __future__ import annotations

import sys
from contextlib import suppress
from typing import Any

from kafka import KafkaAdminClient
from kafka.admin import (
    ACL,
    ACLOperation,
    ACLPermissionType,
    NewTopic,
    ResourcePattern,
    ResourceType,
)
from kafka.errors import TopicAlreadyExistsError

from shared.kafka_client import connect, connection_from

TOPICS = {"readings": 6, "anomalies": 6, "readings.dlq": 1}
GRANTS = [  # principal, operation, resource type, resource name
    ("detector", ACLOperation.READ, ResourceType.TOPIC, "readings"),
    ("detector", ACLOperation.READ, ResourceType.GROUP, "detector"),
    ("detector", ACLOperation.READ, ResourceType.GROUP, "detector-retrainer"),  # make up's
    ("detector", ACLOperation.READ, ResourceType.GROUP, "detector-retrainer.anomalies"),
    ("detector", ACLOperation.READ, ResourceType.TOPIC, "anomalies"),  # the retrainer's
    ("detector", ACLOperation.WRITE, ResourceType.TOPIC, "anomalies"),
    ("detector", ACLOperation.WRITE, ResourceType.TOPIC, "readings.dlq"),
    ("producer", ACLOperation.WRITE, ResourceType.TOPIC, "readings"),
]


def allow(admin: KafkaAdminClient, grants: list[tuple[str, Any, Any, str]]) -> None:
    """Grant each (user, operation, resource type, name) (also for the tests' own topics)."""
    result = admin.create_acls([
        ACL(f"User:{user}", "*", operation, ACLPermissionType.ALLOW, ResourcePattern(kind, name))
        for user, operation, kind, name in grants])
    if result["failed"]:
        raise RuntimeError(f"ACLs refused: {result['failed']}")


def admin_client(properties: str) -> KafkaAdminClient:
    """An admin client connected with the properties file's settings."""
    connection = connection_from({"kafka_config": properties}, "KAFKA_ADMIN", None)
    return connect("admin", KafkaAdminClient, connection, "is the secured broker up?",
                   request_timeout_ms=10_000)


def main(argv: list[str]) -> int:
    check = argv[:1] == ["--check"]
    admin = admin_client(argv[-1])
    try:
        if check:
            admin.describe_cluster()
            return 0
        new = [NewTopic(name, count, 1) for name, count in TOPICS.items()]
        for topic in new:
            with suppress(TopicAlreadyExistsError):
                admin.create_topics([topic])
        allow(admin, GRANTS)
        print(f"kafka: topics {', '.join(TOPICS)}; ACLs for detector and producer in place")
        return 0
    finally:
        admin.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
