"""Bad records on a real broker: each dead-lettered with its reason (bounded), and counted;
hostile records never stop the daemon."""

from __future__ import annotations

import json

from detector.stream.decode import MAX_VALUE_BYTES

GOOD = {"device": "pump-1", "seq": 1, "ts": 1764301234.125, "values": [50, 50, 50, 50, 50]}
CORPUS = [  # (key, value, expected error.reason)
    (b"malformed", b'{"device": "pump-1", "seq": 2, "ts": 1.0, "values": [1, 2', "decode"),
    (b"not-utf8", b'{"device": "\xff\xfe", "seq": 3, "ts": 1.0, "values": [1,2,3,4,5]}', "decode"),
    (b"not-json", b"hello, world", "decode"),
    (b"four", json.dumps({**GOOD, "values": [1, 2, 3, 4]}).encode(), "channels"),
    (b"unknown-channel", json.dumps({**GOOD, "values": {"col_1": 1, "col_2": 2, "col_3": 3,
                                                         "col_4": 4, "speed": 5}}).encode(),
     "channels"),
    (b"nan", b'{"device": "pump-1", "seq": 4, "ts": 1.0, "values": [NaN, 1, 2, 3, 4]}',
     "non_finite"),
    (b"infinity", b'{"device": "pump-1", "seq": 5, "ts": 1.0, "values": [1, Infinity, 2, 3, 4]}',
     "non_finite"),
    (b"string-seq", json.dumps({**GOOD, "seq": "six"}).encode(), "schema"),
    (b"string-value", json.dumps({**GOOD, "values": [1, "2", 3, 4, 5]}).encode(), "schema"),
    (b"no-device", json.dumps({k: v for k, v in GOOD.items() if k != "device"}).encode(),
     "schema"),
    (b"null", None, "empty"),
    (b"empty", b"", "empty"),
    (b"oversized", json.dumps({**GOOD, "pad": "x" * MAX_VALUE_BYTES}).encode(), "too_large"),
]


def test_each_bad_record_lands_on_the_dead_letter_topic_and_the_next_reading_is_scored(
    start_detector, serve_topics, kafka_producer, consume_all
):
    topics = serve_topics()
    detector = start_detector(topics)
    detector.wait_ready()

    sent = {}
    for key, value, _ in CORPUS:
        meta = kafka_producer.send(topics.readings, key=key, value=value,
                                   headers=[("label", b"normal")]).get(timeout=30)
        sent[key] = meta.offset
    anomalous = {**GOOD, "seq": 99, "values": [10, 1000, 10, 1000, 10]}
    last = kafka_producer.send(topics.readings, key=b"pump-1",
                               value=json.dumps(anomalous).encode()).get(timeout=30)

    detector.wait_records(1)
    dead = consume_all(topics.dlq, min_records=len(CORPUS))
    events = [json.loads(r.value) for r in consume_all(topics.anomalies, min_records=1)]

    assert [e["event_id"] for e in events] == [f"{topics.readings}:0:{last.offset}"]
    assert events[0]["seq"] == 99
    assert len(dead) == len(CORPUS)
    by_key = {r.key: r for r in dead}
    for key, value, reason in CORPUS:
        record = by_key[key]
        headers = dict(record.headers)
        if value is not None and len(value) > MAX_VALUE_BYTES:  # a bounded copy, and the size
            assert record.value == value[:MAX_VALUE_BYTES], key
            assert int(headers["error.value_bytes"]) == len(value), key
        else:
            assert record.value == value, key  # the original bytes, untouched
        assert headers["error.reason"].decode() == reason, key
        assert headers["error.message"], key
        assert headers["source.topic"].decode() == topics.readings
        assert headers["source.partition"] == b"0"
        assert int(headers["source.offset"]) == sent[key]
        assert headers["label"] == b"normal"
    expected = {reason: sum(1 for *_, r in CORPUS if r == reason) for *_, reason in CORPUS}
    for reason, count in expected.items():
        assert detector.sample("detector_rejected_total", reason=reason) == count, reason
    assert detector.sample("detector_records_total") == 1
    assert detector.proc.poll() is None and detector.healthz()[0] == 200
    assert detector.stop() == 0


def nested(depth: int) -> bytes:
    """A good reading with an extra field nested `depth` lists deep."""
    return json.dumps(GOOD)[:-1].encode() + b', "x": ' + b"[" * depth + b"]" * depth + b"}"


HOSTILE = [  # (key, value, expected error.reason or None when the reading is scored)
    (b"nested-1000", nested(1000), None),  # crashed every replica before msgspec was guarded
    (b"nested-30000", nested(30_000), "decode"),
    (b"near-limit", json.dumps({**GOOD, "pad": "x" * 1_000_000}).encode(), "too_large"),
    (b"long-device", json.dumps({**GOOD, "device": "d" * 65_000}).encode(), "schema"),
    (b"escape-device", json.dumps({**GOOD, "device": "pump\x1b]0;owned\x07"}).encode(),
     "schema"),
    (b"huge-integer", json.dumps(GOOD)[:-1].encode() + b', "x": ' + b"9" * 60_000 + b"}", None),
]


def test_hostile_records_never_stop_the_daemon_and_the_good_readings_after_them_are_scored(
    start_detector, serve_topics, kafka_bootstrap, consume_all
):
    from kafka import KafkaProducer

    topics = serve_topics()
    detector = start_detector(topics)
    detector.wait_ready()
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=0,
                             max_request_size=1_040_000)
    try:
        for key, value, _ in HOSTILE:
            producer.send(topics.readings, key=key, value=value).get(timeout=30)
        for seq in range(20):
            good = json.dumps({**GOOD, "seq": 100 + seq}).encode()
            producer.send(topics.readings, key=b"pump-1", value=good).get(timeout=30)
    finally:
        producer.close(timeout=10)

    scored = 20 + sum(1 for *_, reason in HOSTILE if reason is None)
    detector.wait_records(scored)
    dead = {r.key: r for r in consume_all(topics.dlq, min_records=len(HOSTILE) - 2)}
    expected = {key: reason for key, _, reason in HOSTILE if reason is not None}
    assert {k: dict(r.headers)["error.reason"].decode() for k, r in dead.items()} == expected
    near = dict(dead[b"near-limit"].headers)
    assert len(dead[b"near-limit"].value) == MAX_VALUE_BYTES
    assert int(near["error.value_bytes"]) == len(HOSTILE[2][1])
    assert detector.wait_for(lambda: detector.sample("detector_consumer_lag_records",
                                                     partition="0") == 0,
                             "the group to catch up", timeout=60)
    assert detector.sample("detector_records_total") == scored
    assert detector.proc.poll() is None and detector.healthz()[0] == 200
    assert detector.stop() == 0
