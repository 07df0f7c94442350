"""A gzip bomb on a real broker: a small batch that would inflate to 100 MB is refused past the
64 MiB cap, its record dead-lettered as too_large, and the readings after it are scored."""

from __future__ import annotations

import json

import pytest
from kafka import KafkaProducer

from detector.stream.decode import INFLATED

pytestmark = pytest.mark.both_clients  # docs/testing.md: what runs on both clients

GOOD = {"device": "pump-1", "seq": 1, "ts": 1764301234.125, "values": [50, 50, 50, 50, 50]}


def test_a_gzip_bomb_is_dead_lettered_and_the_readings_after_it_are_scored(
    start_detector, serve_topics, kafka_bootstrap, consume_all
):
    topics = serve_topics()
    detector = start_detector(topics)
    detector.wait_ready()
    bomb = KafkaProducer(bootstrap_servers=kafka_bootstrap, compression_type="gzip",
                         max_request_size=200_000_000, acks="all", linger_ms=0)
    try:  # 100 MB of zeros: about 100 KB on the wire
        at = bomb.send(topics.readings, key=b"bomb", value=b"0" * 100_000_000).get(timeout=120)
        for seq in range(20):
            good = json.dumps({**GOOD, "seq": 100 + seq}).encode()
            bomb.send(topics.readings, key=b"pump-1", value=good).get(timeout=30)
    finally:
        bomb.close(timeout=10)

    detector.wait_records(20)
    (letter,) = consume_all(topics.dlq, min_records=1)
    headers = dict(letter.headers)
    assert headers["error.reason"] == b"too_large"
    assert int(headers["source.offset"]) == at.offset
    assert b"inflates past 64 MiB" in headers["error.message"]
    assert letter.value == INFLATED  # the stand-in: the 100 MB were never held
    assert detector.wait_for(lambda: detector.sample("detector_consumer_lag_records",
                                                     partition="0") == 0,
                             "the group to catch up", timeout=60)
    assert detector.sample("detector_rejected_total", reason="too_large") == 1
    assert detector.proc.poll() is None and detector.healthz()[0] == 200
    assert detector.stop() == 0
