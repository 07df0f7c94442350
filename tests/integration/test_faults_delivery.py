"""Fault suite: the anomaly or the dead-letter topic refuses every write.

The refusing topic is real broker behaviour: its `max.message.bytes` is set below the size of any
event or dead letter, so the broker answers every produce request to it with MESSAGE_TOO_LARGE.
The detector must keep the failing batch uncommitted, retry with backoff, exit with status 3
after --send-attempts, and, once the topic is fixed, a restart must publish what was missed.
"""

from __future__ import annotations

import json
import re
import time

import pytest
from kafka.admin import ConfigResource, ConfigResourceType

from tests.helpers.broker import committed, consume_records, unique_name
from tests.helpers.faults import assert_complete, settle
from tests.helpers.processes import ServeTopics

pytestmark = pytest.mark.both_clients  # docs/testing.md: what runs on both clients

TOTAL = 600
SPIKE_AT = 300  # the offset of the one injected spike
BAD_AT = 310  # the offset of the one undecodable record (a dead letter)
ATTEMPT = re.compile(r"attempt (\d+) of (\d+) in (\d+) s")


def reading(seq: int) -> dict:
    """A noise-free normal reading: channels 1, 3, 5 at the level, 2 and 4 at its mirror."""
    level = seq % 100
    return {"device": "pump-1", "seq": seq, "ts": time.time(),
            "values": [level, 100 - level, level, 100 - level, level]}


def send_stream(producer, topic: str) -> None:
    """TOTAL records on partition 0: normal readings, a spike at SPIKE_AT, junk at BAD_AT."""
    for seq in range(TOTAL):
        value, label = json.dumps(reading(seq)).encode(), b"normal"
        if seq == SPIKE_AT:
            spiked = reading(seq)
            spiked["values"][2] += 15.0  # the simulator's spike: one channel, +15
            value, label = json.dumps(spiked).encode(), b"spike"
        elif seq == BAD_AT:
            value = b"{this is not json"
        producer.send(topic, key=b"pump-1", value=value, partition=0, headers=[("label", label)])
    producer.flush()


@pytest.fixture
def refusing_topics(kafka_admin, make_topic, make_group):
    """Factory: topics where `refuse` ("anomalies" or "dlq") takes no message of any real size."""
    created: list[str] = []

    def make(refuse: str) -> ServeTopics:
        tiny = unique_name(f"{refuse}-refusing")
        kafka_admin.create_topics(
            {tiny: {"num_partitions": 1, "replication_factor": 1,
                    "configs": {"max.message.bytes": "100"}}}, wait_for_metadata=True)
        created.append(tiny)
        anomalies = tiny if refuse == "anomalies" else make_topic(prefix="anomalies")
        dlq = tiny if refuse == "dlq" else make_topic(prefix="dlq")
        return ServeTopics(make_topic(prefix="readings"), anomalies, dlq, make_group("detector"))

    yield make
    if created:
        kafka_admin.delete_topics(created, raise_errors=False)


@pytest.mark.parametrize(("refuse", "fails_at"), [("anomalies", SPIKE_AT), ("dlq", BAD_AT)])
def test_an_unwritable_topic_keeps_the_batch_uncommitted_and_stops_serve(
    refuse, fails_at, refusing_topics, start_detector, kafka_producer, kafka_admin,
    kafka_bootstrap
):
    topics = refusing_topics(refuse)
    refusing = topics.anomalies if refuse == "anomalies" else topics.dlq
    send_stream(kafka_producer, topics.readings)
    first = start_detector(topics, "--batch-size", "50", "--send-attempts", "3")
    assert first.wait(timeout=120) == 3, first.log[-3000:]
    at_exit = committed(kafka_admin, topics.group, topics.readings).get(0, 0)
    retries = [(int(a), int(d)) for a, _, d in ATTEMPT.findall(first.log)]
    [error] = [line for line in first.lines if line.startswith("error:")]
    print(f"committed {at_exit} of {TOTAL}; retries (attempt, delay s) {retries}; {error.strip()}")
    assert 0 < at_exit <= fails_at, "committed past the message it failed to send"
    assert retries == [(2, 1), (3, 2)], "no retries with a growing backoff"
    assert "could not publish" in error and refusing in error
    healthy = topics.dlq if refuse == "anomalies" else topics.anomalies
    assert healthy not in error, "one refusing topic stopped the writes to the other"

    default = {"max.message.bytes": "1048588"}  # the broker's default: the topic takes events
    kafka_admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, refusing, default)])
    second = start_detector(topics)
    outcome = settle(kafka_admin, kafka_bootstrap, topics, TOTAL)
    assert_complete(outcome, TOTAL)
    # It reads on from the commit: the junk record again (to the dead letters), every reading once.
    assert second.sample("detector_rejected_total", reason="decode") == 1
    assert second.sample("detector_records_total") == TOTAL - at_exit - 1
    letters = consume_records(kafka_bootstrap, topics.dlq, min_records=1)
    assert letters and {(dict(r.headers)["source.offset"], r.value) for r in letters} == {
        (str(BAD_AT).encode(), b"{this is not json")}
    assert second.stop() == 0


def test_a_topic_fixed_during_the_backoff_is_written_without_a_restart(
    refusing_topics, start_detector, kafka_producer, kafka_admin, kafka_bootstrap
):
    topics = refusing_topics("anomalies")
    send_stream(kafka_producer, topics.readings)
    detector = start_detector(topics, "--batch-size", "50")  # 6 attempts: 31 s of backoff
    detector.wait_for(lambda: ATTEMPT.search(detector.log), "a refused send and its retry")
    at_failure = committed(kafka_admin, topics.group, topics.readings).get(0, 0)
    default = {"max.message.bytes": "1048588"}
    kafka_admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topics.anomalies, default)])
    outcome = settle(kafka_admin, kafka_bootstrap, topics, TOTAL)
    retries = [(int(a), int(d)) for a, _, d in ATTEMPT.findall(detector.log)]
    print(f"committed {at_failure} at the first refusal; retries (attempt, delay s) {retries}")
    assert at_failure <= SPIKE_AT
    assert detector.proc.poll() is None, "it gave up although the topic takes events again"
    assert_complete(outcome, TOTAL)
    assert detector.sample("detector_records_total") == TOTAL - 1  # each reading once
    assert detector.stop() == 0
