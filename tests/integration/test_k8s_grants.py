"""The Strimzi KafkaUser `detector` of deploy/k8s grants enough, and each grant is needed: on the
local stack's secured broker (SCRAM-SHA-512 over TLS, as Strimzi's listener), the detector with
exactly those ACLs (on fresh topics and a fresh group standing for the manifests' names) follows
the model topic, scores every reading, takes the bundle the retrainer's code publishes as the same
user, and stops cleanly; without the model topic's DESCRIBE_CONFIGS it stops at start with
status 3."""

from __future__ import annotations

from typing import Any

from kafka.admin import ACLOperation, NewTopic, ResourceType

from detector.brokers.kafka_models import ModelTopicWriter
from shared.kafka_client import connection_from
from tests.helpers.broker import unique_name
from tests.helpers.k8s import container, environment, one, rendered
from tests.helpers.processes import DetectorProcess, ServeTopics
from tests.helpers.secure import SecureKafka, run_cli

COUNT = 500
RETRAINED = ("--simulate", "10000", "--epochs", "10", "--seed", "1")


def fresh_names(kafka: SecureKafka, serve: dict[str, str]) -> dict[str, str]:
    """A fresh stand-in for each name of the detector's ConfigMap, its topics made as admin the
    way the KafkaTopics make them (the model topic compacted, with one partition)."""
    names = {serve["DETECTOR_TOPIC"]: kafka.topic("readings", 2),
             serve["DETECTOR_ANOMALIES_TOPIC"]: kafka.topic("anomalies", 2),
             serve["DETECTOR_DLQ_TOPIC"]: kafka.topic("dlq"),
             serve["DETECTOR_GROUP"]: unique_name("detector"),
             settings_of("retrainer")["DETECTOR_GROUP"]: unique_name("retrainer"),
             f'{settings_of("retrainer")["DETECTOR_GROUP"]}.anomalies': unique_name("retrainer")}
    model_topic = unique_name("models")
    admin = kafka.admin()
    try:
        admin.create_topics([NewTopic(model_topic, 1, 1,
                                      topic_configs={"cleanup.policy": "compact"})])
    finally:
        admin.close()
    return {**names, serve["DETECTOR_MODEL_TOPIC"]: model_topic}


def manifest_grants(names: dict[str, str]) -> list[tuple[Any, Any, str]]:
    """The KafkaUser `detector`'s ACLs as (operation, resource type, fresh name)."""
    user = one(rendered("overlays/strimzi"), "KafkaUser", "detector")
    grants = []
    for acl in user["spec"]["authorization"]["acls"]:
        kind = ResourceType[acl["resource"]["type"].upper()]
        for operation in acl["operations"]:
            snake = "".join(f"_{c}" if c.isupper() else c for c in operation).lstrip("_")
            grants.append((ACLOperation[snake.upper()], kind, names[acl["resource"]["name"]]))
    return grants


def settings_of(app: str) -> dict[str, str]:
    """A Deployment's environment (its ConfigMap) as the strimzi overlay renders it."""
    objects = rendered("overlays/strimzi")
    return environment(objects, container(one(objects, "Deployment", app), app))


def detector_settings() -> dict[str, str]:
    """The detector's ConfigMap as the strimzi overlay renders it."""
    return settings_of("detector")


def serve(kafka: SecureKafka, bundle: Any, names: dict[str, str],
          settings: dict[str, str]) -> DetectorProcess:
    """`detector serve` as user detector, SCRAM-SHA-512 over TLS, following the model topic."""
    topics = ServeTopics(names[settings["DETECTOR_TOPIC"]],
                         names[settings["DETECTOR_ANOMALIES_TOPIC"]],
                         names[settings["DETECTOR_DLQ_TOPIC"]], names[settings["DETECTOR_GROUP"]])
    env = {"DETECTOR_SECURITY_PROTOCOL": settings["DETECTOR_SECURITY_PROTOCOL"],
           "DETECTOR_SASL_MECHANISM": settings["DETECTOR_SASL_MECHANISM"],
           "DETECTOR_SASL_USERNAME": settings["DETECTOR_SASL_USERNAME"],
           "DETECTOR_SASL_PASSWORD": kafka.password("detector"),
           "DETECTOR_SSL_CAFILE": str(kafka.file("ca.pem"))}
    return DetectorProcess.serve(bundle, topics, kafka.sasl, "--metrics-host", "127.0.0.1",
                                 "--model-topic", names[settings["DETECTOR_MODEL_TOPIC"]],
                                 env=env)


def publish_as_detector(kafka: SecureKafka, topic: str, bundle: Any) -> str:
    """Publish a bundle as `detector retrain` does, as the user it runs as; its version."""
    connection = connection_from({"kafka_config": str(kafka.file("detector.properties"))},
                                 "TEST", kafka.sasl)
    writer = ModelTopicWriter(connection, "secure broker", topic)
    try:
        return writer.publish(bundle)
    finally:
        writer.close()


def test_the_manifests_grants_let_the_detector_follow_the_model_topic_and_score(
    secure_kafka: SecureKafka, serve_bundle: Any, trained_bundle: Any
) -> None:
    settings = detector_settings()
    names = fresh_names(secure_kafka, settings)
    secure_kafka.grant("detector", *manifest_grants(names))
    readings = names[settings["DETECTOR_TOPIC"]]
    secure_kafka.grant("producer", (ACLOperation.WRITE, ResourceType.TOPIC, readings))
    with serve(secure_kafka, serve_bundle, names, settings) as detector:
        detector.wait_ready()
        produced = run_cli(["producer", "simulate", "--kafka-config",
                            str(secure_kafka.file("producer.properties")), "--topic", readings,
                            "--count", str(COUNT), "--rate", "0", "--metrics-port", "0"],
                           timeout=120)
        assert produced.returncode == 0, produced.stderr[-3000:]
        detector.wait_records(COUNT)
        model_topic = names[settings["DETECTOR_MODEL_TOPIC"]]
        new = publish_as_detector(secure_kafka, model_topic, trained_bundle(*RETRAINED))
        detector.wait_for(lambda: detector.healthz()[1]["model"] == new,
                          "the published bundle served", 60)
        assert detector.stop() == 0, detector.log[-3000:]


def test_without_the_model_topics_describe_configs_the_detector_stops_with_status_3(
    secure_kafka: SecureKafka, serve_bundle: Any
) -> None:
    settings = detector_settings()
    names = fresh_names(secure_kafka, settings)
    grants = [g for g in manifest_grants(names) if g[0] != ACLOperation.DESCRIBE_CONFIGS]
    assert len(grants) == len(manifest_grants(names)) - 1
    secure_kafka.grant("detector", *grants)
    with serve(secure_kafka, serve_bundle, names, settings) as detector:
        assert detector.proc.wait(timeout=120) == 3, detector.log[-3000:]
    model_topic = names[settings["DETECTOR_MODEL_TOPIC"]]
    last = detector.log.splitlines()[-1]
    assert model_topic in last and "DESCRIBE_CONFIGS" in last, detector.log[-2000:]
