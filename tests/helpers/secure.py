"""The local stack's secured Kafka (`deploy/local/stack up kafka --secure`), for the tests:
its addresses, its users' credentials, and an admin that makes topics and grants ACLs."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import ACLOperation, NewTopic, ResourceType

from shared.kafka_client import Connection, connect, connection_from
from tests.helpers import REPO, load_script
from tests.helpers.broker import drain, unique_name

STATE = Path(os.environ.get("STACK_STATE_DIR", REPO / ".stack")) / "kafka-secure"
READ, WRITE, DESCRIBE = ACLOperation.READ, ACLOperation.WRITE, ACLOperation.DESCRIBE
TOPIC, GROUP = ResourceType.TOPIC, ResourceType.GROUP
GRANTS = load_script(REPO / "deploy" / "local" / "kafka_grants.py")  # the stack's own grant code


@dataclass(frozen=True)
class SecureKafka:
    """The secured broker: SASL_SSL (SCRAM) on `sasl`, mutual TLS on `mtls`."""

    sasl: str
    mtls: str
    secrets: Path = STATE / "secrets"

    def file(self, name: str) -> Path:
        """A file of the stack's secrets folder (ca.pem, detector.crt, producer.properties ...)."""
        return self.secrets / name

    def password(self, user: str) -> str:
        return self.file(f"{user}.password").read_text().strip()

    def secret_texts(self) -> dict[str, str]:
        """What must never show: each user's password and each private key's body."""
        texts = {f"{u} password": self.password(u) for u in ("admin", "detector", "producer")}
        for key in self.secrets.glob("*.key"):
            body = "".join(key.read_text().splitlines()[1:-1])
            texts[key.name] = body[64:128]  # a line's worth from inside the key
        return texts

    def admin_connection(self) -> Connection:
        return connection_from({"kafka_config": str(self.file("admin.properties"))}, "TEST",
                               self.sasl)

    def admin(self) -> KafkaAdminClient:
        return connect("admin", KafkaAdminClient, self.admin_connection(), "secure broker")

    def topic(self, prefix: str, partitions: int = 1) -> str:
        """A fresh topic, made as admin."""
        name = unique_name(prefix)
        admin = self.admin()
        try:
            admin.create_topics([NewTopic(name, partitions, 1)])
        finally:
            admin.close()
        return name

    def grant(self, user: str, *grants: tuple[ACLOperation, ResourceType, str]) -> None:
        """Allow `user` each (operation, resource type, name)."""
        admin = self.admin()
        try:
            GRANTS.allow(admin, [(user, op, kind, name) for op, kind, name in grants])
        finally:
            admin.close()

    def records(self, topic: str, min_records: int = 0, timeout: float = 60.0) -> list:
        """Every record of topic (read as admin), once caught up."""
        import time

        consumer = connect("consumer", KafkaConsumer, self.admin_connection(), "secure broker",
                           group_id=None, enable_auto_commit=False,
                           auto_offset_reset="earliest")
        try:
            parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
            consumer.assign(parts)
            consumer.seek_to_beginning(*parts)
            return drain(consumer, parts, min_records, 1.0, time.monotonic() + timeout)
        finally:
            consumer.close()

    def committed(self, group: str, topic: str) -> dict[int, int]:
        """The group's committed offsets on topic (admin's view)."""
        admin = self.admin()
        try:
            offsets = admin.list_group_offsets(group).get(group, {})
            return {tp.partition: o.offset for tp, o in offsets.items() if tp.topic == topic}
        finally:
            admin.close()


def run_cli(args: list[str], env: dict[str, str] | None = None,
            timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """A command of ours (python -m ...), its output captured; a hang past `timeout` fails."""
    import sys

    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})},
                          check=False)
