"""Fault suite: the broker stops for 30 s while the detector runs, then starts again.

The test runs its own broker (the local stack's Kafka with its own state folder and free ports),
so stopping it disturbs no other test. The detector must come back by itself, lose nothing, stay
quiet on the CPU while the broker is gone and say so on /healthz.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaAdminClient

from tests.helpers import REPO
from tests.helpers.broker import run_stack, unavailable, unique_name
from tests.helpers.faults import assert_complete, settle
from tests.helpers.processes import DetectorProcess, ServeTopics, free_port, producer_command

pytestmark = pytest.mark.both_clients  # docs/testing.md: what runs on both clients

OUTAGE = 30.0  # seconds without a broker
CPU_BOUND = 0.20  # of one core, averaged over the outage: generous, a busy loop takes ~1.0


class PrivateKafka:
    """The local stack's Kafka in a state folder of its own, on free ports."""

    def __init__(self, state: Path) -> None:
        port = free_port()
        self.bootstrap = f"127.0.0.1:{port}"
        self.env = {"STACK_STATE_DIR": str(state), "KAFKA_PORT": str(port),
                    "KAFKA_CONTROLLER_PORT": str(free_port())}
        shared = Path(os.environ.get("STACK_STATE_DIR", REPO / ".stack")) / "lib"
        jars = sorted(shared.glob("kafka-*/.complete"))
        if jars:  # the jars the shared stack fetched already: no second Maven run
            self.env["KAFKA_LIBS_DIR"] = str(jars[-1].parent)

    def run(self, action: str) -> subprocess.CompletedProcess[str]:
        """deploy/local/stack <action> kafka on this broker's state and ports."""
        return run_stack(action, "kafka", env=self.env)

    def up(self) -> None:
        result = self.run("up")
        assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]

    def down(self) -> None:
        result = self.run("down")
        assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]


@pytest.fixture
def private_kafka(tmp_path: Path) -> Iterator[PrivateKafka]:
    """A broker this test alone uses and may stop; stopped at the end."""
    broker = PrivateKafka(tmp_path / "stack")
    result = broker.run("up")
    if result.returncode != 0:
        broker.run("down")
        unavailable("a private broker (deploy/local/stack up kafka, own state and ports) did "
                    f"not start:\n{(result.stdout + result.stderr)[-3000:]}")
    try:
        yield broker
    finally:
        broker.run("down")


def simulate_to(bootstrap: str, topic: str, count: int, seed: int) -> None:
    """`producer simulate` of count readings as fast as it can, to its end."""
    result = subprocess.run(
        producer_command(bootstrap, topic, count=count, anomaly_rate=0.02, seed=seed, devices=8),
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]


def make_topics(bootstrap: str) -> ServeTopics:
    """Readings (three partitions), anomaly and dead-letter topics on the private broker."""
    topics = ServeTopics(unique_name("readings"), unique_name("anomalies"), unique_name("dlq"),
                         unique_name("detector"))
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30_000)
    try:
        admin.create_topics({topics.readings: {"num_partitions": 3, "replication_factor": 1},
                             topics.anomalies: {"num_partitions": 1, "replication_factor": 1},
                             topics.dlq: {"num_partitions": 1, "replication_factor": 1}},
                            wait_for_metadata=True)
    finally:
        admin.close()
    return topics


def test_broker_down_30_s_the_detector_waits_quietly_and_recovers_by_itself(
    private_kafka, serve_bundle
):
    bootstrap = private_kafka.bootstrap
    topics = make_topics(bootstrap)
    before, after = 6000, 4000
    simulate_to(bootstrap, topics.readings, before, seed=15)
    # Scoring slowed to 1 ms a reading, so the broker goes while batches are in flight.
    detector = DetectorProcess.serve(serve_bundle, topics, bootstrap, "--batch-size", "500",
                                     "--score-delay-ms", "1")
    try:
        detector.wait_records(2000)
        private_kafka.down()
        cpu0, t0 = detector.cpu(), time.monotonic()
        health = []
        while time.monotonic() - t0 < OUTAGE:
            health.append(detector.healthz())
            time.sleep(0.5)
        busy = (detector.cpu() - cpu0) / (time.monotonic() - t0)
        private_kafka.up()

        detector.wait_ready(timeout=180)  # the same process, no restart
        simulate_to(bootstrap, topics.readings, after, seed=16)
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30_000)
        try:
            outcome = settle(admin, bootstrap, topics, before + after, timeout=240)
        finally:
            admin.close()
        statuses = [status for status, _ in health]
        print(f"outage {OUTAGE:.0f} s: CPU {busy:.1%} of one core; /healthz {statuses.count(503)}"
              f" x 503, {statuses.count(200)} x 200, last {health[-1]}")
        assert detector.proc.poll() is None, "the detector exited"
        assert busy < CPU_BOUND, f"{busy:.0%} of a core while the broker was down: a busy loop"
        assert 503 in statuses and statuses[-1] == 503, "/healthz said ready without a broker"
        assert health[-1][1]["broker"] == "unreachable" or health[-1][1]["delivery"] != "ok"
        assert_complete(outcome, before + after)
        assert detector.stop() == 0
    finally:
        detector.kill()
