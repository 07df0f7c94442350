"""Windowed state across replicas on a real broker: whatever happens mid-stream (a replica joins
and leaves, the only replica or one of three is killed with -9), the anomaly events published are
the readings `detector score` flags over the whole stream, with the same scores, and no reading
past each device's first window − 1 is left unscored."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from kafka import KafkaProducer

from producer.simulator import Simulator
from shared.wire import encode_reading
from tests.helpers.broker import consume_records
from tests.helpers.bundles import SERVE, Bundles, assert_same_alarms
from tests.helpers.faults import wait_committed

WINDOW, RULE, DEVICES, PHASE = 10, "3/5", 6, 600  # readings per phase


@pytest.fixture(scope="session")
def warm_bundle(trained_bundle: Bundles) -> Path:
    """Windows of ten readings, alarming on 3 of the last 5."""
    return trained_bundle(*SERVE, "--window", str(WINDOW), "--persistence", RULE)


class Stream:
    """One simulated stream of DEVICES devices, sent to a topic a phase at a time."""

    def __init__(self, bootstrap: str, topic: str, phases: int) -> None:
        block = Simulator(devices=DEVICES, anomaly_rate=0.02, seed=5).block(PHASE * phases
                                                                             // DEVICES)
        self.readings = [{"device": d, "seq": s, "ts": 1.7e9 + s, "values": v}
                         for d, s, v in zip(block.device, block.seq.tolist(),
                                            block.values.tolist(), strict=True)]
        self.topic = topic
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
        self.sent = 0

    def phase(self) -> None:
        """Send the next PHASE readings, keyed by device."""
        for r in self.readings[self.sent:self.sent + PHASE]:
            self.producer.send(self.topic, key=r["device"].encode(), value=encode_reading(
                r["device"], r["seq"], r["ts"], r["values"]))
        self.producer.flush()
        self.sent += PHASE

    def close(self) -> None:
        self.producer.close(timeout=10)


def caught_up(admin, bootstrap: str, topics, *processes) -> None:
    """Until the group has committed every record of the readings topic (else the logs)."""
    done, ends = wait_committed(admin, bootstrap, topics)
    logs = "\n".join(f"--- {p.shown}\n{p.log[-4000:]}" for p in processes)
    assert done == ends, f"the group did not catch up: committed {done} of {ends}\n{logs}"


def held(process) -> float:
    """Readings a running detector held without a full window (they are not scored)."""
    return process.sample("detector_window_filling_records_total") or 0.0


@pytest.mark.parametrize("case", ["join-then-leave", "kill-the-only-one", "kill-one-of-three"])
def test_windows_survive_what_happens_mid_stream(case, start_detector, serve_topics, warm_bundle,
                                                 kafka_admin, kafka_bootstrap, tmp_path):
    topics = serve_topics(partitions=3)
    stream = Stream(kafka_bootstrap, topics.readings, 3 if case == "join-then-leave" else 2)
    try:
        first = [start_detector(topics, model=warm_bundle)
                 for _ in range(3 if case == "kill-one-of-three" else 1)]
        for p in first:
            p.wait_ready()
        stream.phase()
        caught_up(kafka_admin, kafka_bootstrap, topics, *first)
        assert sum(held(p) for p in first) == DEVICES * (WINDOW - 1)  # first readings, once
        before = {id(p): held(p) for p in first}
        if case == "join-then-leave":
            joined = start_detector(topics, model=warm_bundle)
            joined.wait_ready(timeout=120)  # joined and warmed up
            stream.phase()
            caught_up(kafka_admin, kafka_bootstrap, topics, *first, joined)
            assert held(joined) == 0
            assert joined.stop(signal.SIGTERM) == 0
            survivors = first
        elif case == "kill-the-only-one":
            first[0].proc.send_signal(signal.SIGKILL)
            first[0].proc.wait(timeout=30)
            survivors = [start_detector(topics, model=warm_bundle)]
            survivors[0].wait_ready(timeout=120)
        else:
            first[1].proc.send_signal(signal.SIGKILL)
            first[1].proc.wait(timeout=30)
            survivors = [first[0], first[2]]
        stream.phase()
        caught_up(kafka_admin, kafka_bootstrap, topics, *survivors)
        for p in survivors:  # nothing held since: every device's windows were rebuilt
            assert held(p) == before.get(id(p), 0), p.log[-3000:]
    finally:
        stream.close()

    assert_same_alarms(warm_bundle, stream.readings[:stream.sent], lambda n: consume_records(
        kafka_bootstrap, topics.anomalies, min_records=n), tmp_path)
