"""Fixtures for the integration tests (real Kafka); the broker comes from tests/conftest.py.

`detector serve` and `producer simulate` run as subprocesses (tests/helpers/processes.py) on a
bundle trained once per session and on fresh topics.

A test (or a module) marked `both_clients` runs once per Kafka client library (the
`kafka_client` fixture puts DETECTOR_KAFKA_CLIENT and PRODUCER_KAFKA_CLIENT in the environment
the commands inherit); every other test runs on the default, kafka-python. docs/testing.md says
which tests run twice and why (tests/unit/test_both_clients.py keeps it true).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaProducer

from tests.helpers import REPO
from tests.helpers.broker import kafka_from_local_stack
from tests.helpers.models import ModelTopics
from tests.helpers.processes import KAFKA_CLIENTS, DetectorProcess, ServeTopics, producer_command
from tests.helpers.secure import SecureKafka


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Both Kafka clients for the tests marked `both_clients` (or in a module so marked)."""
    if "kafka_client" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
            "both_clients"):
        metafunc.parametrize("kafka_client", KAFKA_CLIENTS, indirect=True)


@pytest.fixture(autouse=True)
def kafka_client(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The Kafka client library the commands a test starts use (kafka-python unless the test is
    marked `both_clients`)."""
    client = getattr(request, "param", KAFKA_CLIENTS[0])
    if client != KAFKA_CLIENTS[0]:
        monkeypatch.setenv("DETECTOR_KAFKA_CLIENT", client)
        monkeypatch.setenv("PRODUCER_KAFKA_CLIENT", client)
    return client


@pytest.fixture
def kafka_producer(kafka_bootstrap: str) -> Iterator[KafkaProducer]:
    """A producer on the session's broker that waits for every write (acks=all); closed after."""
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=0)
    yield producer
    producer.close(timeout=10)


@pytest.fixture
def model_topics(kafka_bootstrap: str, kafka_admin) -> Iterator[ModelTopics]:
    """Fresh compacted model topics (deleted afterwards), and bundles published to them."""
    topics = ModelTopics(kafka_bootstrap, kafka_admin)
    yield topics
    topics.close()


@pytest.fixture
def serve_topics(make_topic, make_group):
    """Factory: serve_topics(partitions=1) -> fresh readings, anomaly and dead-letter topics."""

    def make(partitions: int = 1) -> ServeTopics:
        return ServeTopics(make_topic(partitions, prefix="readings"),
                           make_topic(prefix="anomalies"), make_topic(prefix="dlq"),
                           make_group("detector"))

    return make


@pytest.fixture
def start_detector(kafka_bootstrap: str, serve_bundle: Path) -> Iterator:
    """Factory: start_detector(topics, *options, model=bundle) -> a running DetectorProcess.

    Metrics on a free port; every process still running at the end is killed.
    """
    started: list[DetectorProcess] = []

    def start(topics: ServeTopics, *options: str, model: Path | None = None) -> DetectorProcess:
        process = DetectorProcess.serve(model or serve_bundle, topics, kafka_bootstrap, *options)
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()


@pytest.fixture
def simulate(kafka_bootstrap: str) -> Iterator:
    """Helper: simulate(topic, count, anomaly_rate, seed, rate) runs `producer simulate`.

    With wait=False it returns the running process (waited for at the end of the test).
    """
    running: list[subprocess.Popen] = []

    def run(topic: str, count: int, anomaly_rate: float = 0.01, seed: int = 0,
            rate: float = 0, devices: int = 8, wait: bool = True) -> subprocess.Popen:
        process = subprocess.Popen(
            producer_command(kafka_bootstrap, topic, count=count, rate=rate,
                             anomaly_rate=anomaly_rate, seed=seed, devices=devices),
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        running.append(process)
        if wait:
            _, err = process.communicate(timeout=300)
            assert process.returncode == 0, err[-3000:]
        return process

    yield run
    for process in running:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


@pytest.fixture(scope="session")
def secure_kafka() -> Iterator[SecureKafka]:
    """The local stack's secured broker (deploy/local/stack up kafka --secure) for the session."""
    for address in kafka_from_local_stack("--secure"):
        host = address.rsplit(":", 1)[0]
        yield SecureKafka(address, f"{host}:{os.environ.get('KAFKA_MTLS_PORT', '9097')}")
