"""What a batch publishes: events only for flagged readings, dead letters untouched, labels."""

from collections import namedtuple
from types import SimpleNamespace

import numpy as np
import orjson

from detector.core.scoring import Scores
from detector.stream.decode import Decoder
from detector.stream.messages import dead_letter_messages, event_messages, labels_of
from detector.stream.ports import RecordList

Record = namedtuple("Record", "topic partition offset key value headers")
CHANNELS = ["a", "b"]


def record(offset: int, value: bytes, headers: list | None = None) -> Record:
    return Record("readings", 3, offset, b"pump-%d" % offset, value, headers or [])


def reading(i: int) -> bytes:
    return orjson.dumps({"device": f"pump-{i}", "seq": i, "ts": 100.0 + i, "values": [i, i]})


def scores_for(n: int) -> Scores:
    return Scores(reconstruction=np.zeros((n, 2)), error=np.arange(n, dtype=float),
                  channel_errors=np.zeros((n, 2)), score=np.arange(n, dtype=float),
                  top_channel=np.zeros(n, dtype=int))


def test_events_go_to_the_flagged_readings_with_their_record_ids():
    records = RecordList([record(10, reading(0)), record(11, b"not json"), record(12, reading(2))])
    readings = Decoder(CHANNELS).decode(records.values())
    model = SimpleNamespace(channels=CHANNELS, scorer=SimpleNamespace(threshold=2.0),
                            version="v1")
    flagged = np.array([False, True])  # readings 0 and 2 were valid; the second is flagged
    out = event_messages("readings", "anomalies", records, readings, scores_for(2), flagged,
                         model, now=500.0)
    assert [(topic, key, headers) for topic, key, _, headers in out] == [
        ("anomalies", b"pump-2", None)]
    event = orjson.loads(out[0][2])
    assert event["event_id"] == "readings:3:12" and event["seq"] == 2
    assert event["model_version"] == "v1" and event["detected_at"] == 500.0
    assert event_messages("readings", "anomalies", records, readings, scores_for(2),
                          np.zeros(2, dtype=bool), model, 500.0) == []


def test_dead_letters_keep_the_original_bytes_and_headers_and_say_why():
    bad = record(11, b"\xff not json", [("label", b"spike")])
    records = [record(10, reading(0)), bad]
    readings = Decoder(CHANNELS).decode([r.value for r in records])
    [(topic, key, value, headers)] = dead_letter_messages("readings.dlq", records, readings)
    assert (topic, key, value) == ("readings.dlq", bad.key, bad.value)
    named = dict(headers)
    assert named["label"] == b"spike" and named["error.reason"] == b"decode"
    assert (named["source.topic"], named["source.offset"]) == (b"readings", b"11")


def test_labels_come_from_the_label_header_wherever_it_is():
    records = [record(0, b"", [("label", b"normal")]),
               record(1, b"", [("trace", b"x"), ("label", b"spike")]),
               record(2, b"", []), record(3, b"", None)]
    assert labels_of(RecordList(records).headers()) == [b"normal", b"spike", None, None]


def test_a_dead_letter_is_bounded_whatever_came_in_and_says_the_original_sizes():
    from detector.stream.decode import MAX_VALUE_BYTES
    from detector.stream.messages import MAX_HEADER_BYTES, MAX_KEY_BYTES

    huge = b"{" + b"x" * (1024 * 1024) + b"}"
    many_headers = [(f"h{i}", b"v" * 1000) for i in range(100)]
    bad = Record("readings", 3, 7, b"k" * 100_000, huge, many_headers)
    readings = Decoder(CHANNELS).decode([bad.value])
    ((_, key, value, headers),) = dead_letter_messages("readings.dlq", [bad], readings)
    named = dict(headers)
    assert named["error.reason"] == b"too_large"
    assert value == huge[:MAX_VALUE_BYTES] and named["error.value_bytes"] == b"%d" % len(huge)
    assert key == bad.key[:MAX_KEY_BYTES] and named["error.key_bytes"] == b"100000"
    assert sum(len(k) + len(v) for k, v in headers) < MAX_HEADER_BYTES + 2000
    assert len(key) + len(value) + sum(len(k) + len(v) for k, v in headers) < 100_000
