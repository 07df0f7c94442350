"""Fixtures for the integration tests (real Kafka); the broker comes from tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kafka import KafkaProducer


@pytest.fixture
def kafka_producer(kafka_bootstrap: str) -> Iterator[KafkaProducer]:
    """A producer on the session's broker that waits for every write (acks=all); closed after."""
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=0)
    yield producer
    producer.close(timeout=10)


# --- `detector serve` as a subprocess: a trained bundle, topics, the daemon, the producer --------
# (section added with detector/stream/daemon.py; the helper class lives in detector_process.py)

import subprocess  # noqa: E402
import sys  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

from tests.integration.detector_process import REPO, DetectorProcess  # noqa: E402


@dataclass(frozen=True)
class ServeTopics:
    """The topics and group one detector test uses (fresh, deleted afterwards)."""

    readings: str
    anomalies: str
    dlq: str
    group: str

    def args(self, bootstrap: str) -> list[str]:
        """The `detector serve` options that point at them."""
        return ["--bootstrap", bootstrap, "--topic", self.readings, "--group", self.group,
                "--anomalies-topic", self.anomalies, "--dlq-topic", self.dlq]


@pytest.fixture(scope="session")
def serve_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle trained once per session on simulated normal readings, with few epochs."""
    out = tmp_path_factory.mktemp("serve") / "bundle"
    result = subprocess.run(
        [sys.executable, "-m", "detector", "train", "--simulate", "10000", "--epochs", "10",
         "--seed", "0", "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out


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
        process = DetectorProcess(["--model", str(model or serve_bundle), "--metrics-port", "0",
                                   *topics.args(kafka_bootstrap), *options])
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
            [sys.executable, "-m", "producer", "simulate", "--bootstrap", kafka_bootstrap,
             "--topic", topic, "--count", str(count), "--rate", str(rate), "--anomaly-rate",
             str(anomaly_rate), "--seed", str(seed), "--devices", str(devices),
             "--metrics-port", "0"],
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
