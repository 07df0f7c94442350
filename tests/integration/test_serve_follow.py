"""A bundle trained with `--threshold-follow` served from Kafka: a plant whose usual error grows
raises far fewer alarms than the same stream under the same model with a fixed threshold, a step
fault after the drift is still flagged whole, and the alarms are those `detector score` raises."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from producer.simulator import Simulator
from tests.helpers.bundles import TINY, Bundles, offline_flags

WINDOW, DEVICES, PER_DEVICE, FAULT = 4, 2, 1500, 60
OPTIONS = (*TINY, "--window", str(WINDOW))


def drifting_readings() -> list[dict]:
    """Two devices drifting 2 units per 1,000 readings; each one's last 60 a step of +20 on
    col_1 (a fault after the drift)."""
    block = Simulator(devices=DEVICES, seed=5, drift=2.0).block(PER_DEVICE)
    values, devices = block.values.copy(), np.asarray(block.device)
    seqs = np.zeros(len(devices), dtype=int)
    for device in set(devices.tolist()):
        own = np.flatnonzero(devices == device)
        seqs[own] = np.arange(len(own))
        values[own[-FAULT:], 0] += 20.0
    return [{"device": str(d), "seq": int(s), "ts": 1.0e9 + i, "values": v.tolist()}
            for i, (d, s, v) in enumerate(zip(devices, seqs, values, strict=True))]


def served_alarms(bundle: Path, readings: list[dict], start_detector, serve_topics,
                  kafka_producer, consume_all, tmp_path: Path) -> set[tuple[str, int]]:
    """(device, seq) of every alarm `detector serve` of the bundle raises on the readings, which
    are those `detector score` raises offline on the same readings."""
    expected = offline_flags(bundle, readings, tmp_path)
    topics = serve_topics(partitions=1)
    detector = start_detector(topics, model=bundle)
    detector.wait_ready()
    for reading in readings:
        kafka_producer.send(topics.readings, key=reading["device"].encode(),
                            value=json.dumps(reading).encode())
    kafka_producer.flush()
    detector.wait_records(len(readings) - DEVICES * (WINDOW - 1))
    events = [json.loads(r.value) for r in consume_all(topics.anomalies,
                                                       min_records=len(expected))]
    assert detector.stop() == 0
    alarms = {(e["device"], e["seq"]) for e in events}
    assert alarms == set(expected)
    return alarms


def test_a_drifting_plant_raises_far_fewer_alarms_and_a_fault_after_it_is_still_flagged(
    trained_bundle: Bundles, start_detector, serve_topics, kafka_producer, consume_all, tmp_path
):
    following = trained_bundle(*OPTIONS, "--threshold-follow", "200/100")
    fixed = trained_bundle(*OPTIONS)
    metas = [json.loads((b / "bundle.json").read_text()) for b in (following, fixed)]
    assert metas[0]["calibration"] == metas[1]["calibration"]  # the same model and threshold
    readings = drifting_readings()
    faults = {(r["device"], r["seq"]) for r in readings if r["seq"] >= PER_DEVICE - FAULT}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()

    alarms = served_alarms(following, readings, start_detector, serve_topics, kafka_producer,
                           consume_all, tmp_path / "a")
    without = served_alarms(fixed, readings, start_detector, serve_topics, kafka_producer,
                            consume_all, tmp_path / "b")

    assert faults <= alarms and faults <= without  # the step after the drift, flagged whole
    assert len(without - faults) > 1000  # the drift alone: alarms without end
    assert len(alarms - faults) < len(without - faults) / 5
    assert alarms <= without  # the threshold only ever rises
