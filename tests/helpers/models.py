"""The model topic for the tests: fresh compacted topics, and bundles published to them with the
project's own code (detector.brokers.model_topic, as the retrainer publishes)."""

from __future__ import annotations

from pathlib import Path

from kafka import KafkaAdminClient, KafkaProducer

from detector.brokers.kafka_models import ModelTopicWriter
from shared.kafka_client import Connection
from tests.helpers.broker import unique_name


class ModelTopics:
    """Makes model topics on a broker (deleted by close()) and publishes bundles to them."""

    def __init__(self, bootstrap: str, admin: KafkaAdminClient) -> None:
        self.bootstrap = bootstrap
        self.admin = admin
        self.created: list[str] = []
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                      max_request_size=16 * 1024 * 1024)

    def make(self, **configs: str) -> str:
        """A fresh topic; compacted with one partition unless `configs` say otherwise."""
        name = unique_name("models")
        settings = {"cleanup.policy": "compact", **{k.replace("_", "."): v
                                                    for k, v in configs.items()}}
        self.admin.create_topics({name: {"num_partitions": 1, "replication_factor": 1,
                                          "configs": settings}}, wait_for_metadata=True)
        self.created.append(name)
        return name

    def publish(self, topic: str, bundle: Path) -> str:
        """Publish a bundle directory as the retrainer does; its version."""
        writer = ModelTopicWriter(Connection(self.bootstrap), "is the broker running?", topic)
        try:
            return writer.publish(bundle)
        finally:
            writer.close()

    def send_raw(self, topic: str, value: bytes, version: str = "junk") -> None:
        """Put any bytes on the topic as if they were a bundle."""
        self.producer.send(topic, key=b"bundle", value=value,
                           headers=[("bundle.version", version.encode())]).get(timeout=30)

    def close(self) -> None:
        self.producer.close(timeout=10)
        if self.created:
            self.admin.delete_topics(self.created, raise_errors=False)



def retrainer_args(model: Path, bootstrap: str, readings: str, group: str,
                   *options: str) -> list[str]:
    """`detector retrain` options for a test: its own group, metrics on a free port, the readings
    from their start."""
    return ["--model", str(model), "--bootstrap", bootstrap, "--topic", readings,
            "--group", group, "--metrics-port", "0", "--offset-reset", "earliest", *options]
