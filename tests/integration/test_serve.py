"""`detector serve` on a real broker: producer → Kafka → detector → anomaly events and metrics."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
from collections import Counter

from kafka import KafkaAdminClient

from shared.wire import LABELS
from tests.helpers import REPO
from tests.helpers.broker import committed, end_offsets

EVENT_FIELDS = {"event_id", "device", "seq", "ts", "values", "reconstruction", "error",
                "threshold", "score", "channel_errors", "top_channel", "model_version",
                "detected_at"}
COUNT = 10_000


def labels_of(records) -> dict[str, str]:
    """event id → label header of each reading record."""
    return {f"{r.topic}:{r.partition}:{r.offset}": dict(r.headers)["label"].decode()
            for r in records}


def test_ten_thousand_readings_are_scored_flagged_and_counted(
    start_detector, serve_topics, simulate, consume_all, serve_bundle, kafka_bootstrap
):
    topics = serve_topics(partitions=3)
    detector = start_detector(topics)
    detector.wait_ready()

    simulate(topics.readings, COUNT, anomaly_rate=0.01, seed=5)
    detector.wait_records(COUNT)
    detector.wait_for(lambda: all(
        detector.sample("detector_consumer_lag_records", partition=str(p)) == 0
        for p in range(3)), "no consumer lag")

    readings = consume_all(topics.readings, min_records=COUNT)
    labels = labels_of(readings)
    by_id = {f"{r.topic}:{r.partition}:{r.offset}": json.loads(r.value) for r in readings}
    injected = {i for i, label in labels.items() if label in ("spike", "correlation_break")}
    assert len(readings) == COUNT and injected
    events = [json.loads(r.value) for r in consume_all(topics.anomalies,
                                                       min_records=len(injected))]
    ids = [e["event_id"] for e in events]

    assert detector.sample("detector_records_total") == COUNT
    assert len(ids) == len(set(ids)), "an event was published twice"
    assert injected <= set(ids), f"no event for {sorted(injected - set(ids))[:5]}"
    meta = json.loads((serve_bundle / "bundle.json").read_text())
    for event in events:
        reading = by_id[event["event_id"]]
        assert set(event) >= EVENT_FIELDS
        assert (event["device"], event["seq"], event["ts"]) == (
            reading["device"], reading["seq"], reading["ts"])
        assert event["values"] == reading["values"]
        assert event["model_version"] == meta["version"]
        assert event["threshold"] == meta["calibration"]["threshold"]
        assert event["score"] > 1 and event["top_channel"] in meta["channels"]
        assert event["score"] == event["error"] / event["threshold"]
        assert event["detected_at"] >= event["ts"]
        numbers = [event["error"], event["score"], *event["reconstruction"],
                   *event["channel_errors"].values()]
        assert all(math.isfinite(x) for x in numbers)

    sent = Counter(labels.values())
    flagged = Counter(labels[i] for i in ids)
    for label in LABELS:
        assert detector.sample("detector_labelled_records_total", label=label,
                               flagged="true") == flagged[label], label
        assert detector.sample("detector_labelled_records_total", label=label,
                               flagged="false") == sent[label] - flagged[label], label
    assert sum(detector.sample("detector_anomalies_total", channel=c) for c in
               meta["channels"]) == len(events)
    assert detector.sample("detector_anomaly_score_count") == COUNT
    assert detector.sample("detector_rejected_total", reason="decode") == 0

    status, health = detector.healthz()
    assert status == 200 and health["ready"] and health["partitions"] == [0, 1, 2]
    assert detector.stop() == 0
    assert f"{COUNT} readings scored" in detector.log

    watch = subprocess.run(
        [sys.executable, "-m", "detector", "watch", "--bootstrap", kafka_bootstrap, "--topic",
         topics.anomalies, "--from-beginning", "--count", "3"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )
    assert watch.returncode == 0, watch.stderr
    lines = watch.stdout.splitlines()
    assert len(lines) == 3
    for line in lines:
        event = next(e for e in events if e["event_id"] in line)
        assert event["device"] in line and event["top_channel"] in line
        assert f"{event['score']:.2f}" in line


def test_missing_topics_are_created_with_the_partitions_asked_for(
    start_detector, serve_topics, kafka_bootstrap, make_group
):
    base = serve_topics()
    suffix = make_group("new")
    topics = type(base)(f"readings-{suffix}", f"anomalies-{suffix}", f"dlq-{suffix}", base.group)
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        detector = start_detector(topics, "--partitions", "4")
        detector.wait_ready()
        described = {t["name"]: t for t in admin.describe_topics(
            [topics.readings, topics.anomalies, topics.dlq])}
        assert len(described[topics.readings]["partitions"]) == 4
        assert len(described[topics.anomalies]["partitions"]) == 4
        assert len(described[topics.dlq]["partitions"]) == 1
        assert detector.healthz()[1]["partitions"] == [0, 1, 2, 3]
        assert detector.stop() == 0
    finally:
        admin.delete_topics([topics.readings, topics.anomalies, topics.dlq], raise_errors=False)
        admin.close()


def test_ctrl_c_is_a_clean_stop_with_every_scored_reading_committed(
    start_detector, serve_topics, simulate, kafka_bootstrap, kafka_admin
):
    topics = serve_topics(partitions=2)
    detector = start_detector(topics)
    detector.wait_ready()
    simulate(topics.readings, 600, seed=3)
    detector.wait_records(600)
    assert detector.stop(signal.SIGINT) == 0, detector.state()
    assert "SIGINT: finishing the batch, committing, closing" in detector.log
    assert committed(kafka_admin, topics.group, topics.readings) == end_offsets(
        kafka_bootstrap, topics.readings)
