"""Anomaly events and dead-letter headers: the design's fields, finite numbers, readable lines."""

import json

import msgspec
import numpy as np
import orjson
import pytest

from detector.cli.watch import describe
from detector.stream.messages import Flagged, anomaly_events, dead_letter_headers
from shared.wire import event_id

CHANNELS = ["col_1", "col_2", "col_3", "col_4", "col_5"]
FIELDS = {"event_id", "device", "seq", "ts", "values", "reconstruction", "error", "threshold",
          "score", "channel_errors", "top_channel", "model_version", "detected_at"}


def flagged(n: int = 2, **overrides) -> Flagged:
    """n flagged readings with plain numbers, fields replaced by overrides."""
    fields = dict(
        topic="readings",
        partition=np.arange(n),
        offset=np.arange(n) + 100,
        device=[f"pump-{i}" for i in range(n)],
        seq=np.arange(n) + 7,
        ts=np.full(n, 1764301234.125),
        values=np.tile([10.0, 1000.0, 10.0, 1000.0, 10.0], (n, 1)),
        reconstruction=np.tile([9.5, 1000.6, 10.0, 999.5, 10.3], (n, 1)),
        error=np.full(n, 0.02),
        channel_errors=np.tile([0.001, 0.002, 0.0, 0.09, 0.003], (n, 1)),
        score=np.full(n, 4.0),
        top_channel=np.full(n, 3),
    )
    fields.update(overrides)
    return Flagged(**fields)


def test_an_event_carries_every_field_of_the_design_keyed_by_device():
    [(key, value)] = anomaly_events(flagged(1), CHANNELS, 0.005, "abc123", 1764301235.5)
    event = json.loads(value)
    assert key == b"pump-0"
    assert set(event) >= FIELDS
    assert event["event_id"] == "readings:0:100"
    assert event["device"] == "pump-0" and event["seq"] == 7
    assert event["ts"] == 1764301234.125 and event["detected_at"] == 1764301235.5
    assert event["values"] == [10.0, 1000.0, 10.0, 1000.0, 10.0]
    assert event["reconstruction"] == [9.5, 1000.6, 10.0, 999.5, 10.3]
    assert event["error"] == 0.02 and event["threshold"] == 0.005 and event["score"] == 4.0
    assert event["channel_errors"] == dict(zip(CHANNELS, [0.001, 0.002, 0.0, 0.09, 0.003],
                                               strict=True))
    assert event["top_channel"] == "col_4"
    assert event["model_version"] == "abc123"


@pytest.mark.parametrize("channels", [CHANNELS, ['a"b', "back\\slash", "tab\t", "é", "x"]])
def test_an_event_is_the_json_of_the_design_fields_in_order_whatever_the_channel_names(channels):
    found = flagged(2, values=np.tile([1e-7, 3.5e300, -0.0, 12.0, 1 / 3], (2, 1)))
    events = anomaly_events(found, channels, 0.005, 'ab"c', 1764301235.5)
    for i, (key, value) in enumerate(events):
        assert key == f"pump-{i}".encode()
        assert value == msgspec.json.encode({
            "event_id": f"readings:{i}:{100 + i}", "device": f"pump-{i}", "seq": 7 + i,
            "ts": 1764301234.125, "values": found.values[i].tolist(),
            "reconstruction": found.reconstruction[i].tolist(), "error": 0.02,
            "threshold": 0.005, "score": 4.0,
            "channel_errors": dict(zip(channels, found.channel_errors[i].tolist(), strict=True)),
            "top_channel": channels[3], "channels": channels, "model_version": 'ab"c',
            "detected_at": 1764301235.5})


def test_one_event_per_flagged_reading_with_its_own_id():
    events = anomaly_events(flagged(3), CHANNELS, 0.005, "v", 1.0)
    ids = [json.loads(v)["event_id"] for _, v in events]
    assert ids == ["readings:0:100", "readings:1:101", "readings:2:102"]


def test_event_ids_are_stable_for_a_reading():
    assert event_id("readings", 3, 17) == event_id("readings", 3, 17) == "readings:3:17"


def test_non_finite_numbers_never_reach_an_event():
    overflow = flagged(
        1,
        error=np.array([np.inf]),
        score=np.array([np.nan]),
        reconstruction=np.array([[np.nan, -np.inf, 1, 2, 3]]),
        channel_errors=np.array([[np.inf, 0, 0, 0, 0]]),
    )
    [(_, value)] = anomaly_events(overflow, CHANNELS, 0.005, "v", 1.0)
    assert b"NaN" not in value and b"Infinity" not in value and b"null" not in value
    event = orjson.loads(value)  # orjson refuses NaN and Infinity
    numbers = [event["error"], event["score"], *event["reconstruction"],
               *event["channel_errors"].values()]
    assert all(np.isfinite(numbers))
    assert event["error"] > 1e300 and event["reconstruction"][1] < -1e300


def test_dead_letter_headers_say_why_and_where_and_keep_the_originals():
    headers = dead_letter_headers("channels", "4 values, expected 5", "readings", 2, 99,
                                  [("label", b"spike")])
    assert headers == [
        ("label", b"spike"),
        ("error.reason", b"channels"),
        ("error.message", b"4 values, expected 5"),
        ("source.topic", b"readings"),
        ("source.partition", b"2"),
        ("source.offset", b"99"),
    ]


def test_dead_letter_headers_replace_stale_error_headers_of_a_replayed_record():
    headers = dead_letter_headers("decode", "bad", "readings", 0, 1,
                                  [("error.reason", b"schema"), ("source.offset", b"5")])
    assert [k for k, _ in headers].count("error.reason") == 1
    assert dict(headers)["error.reason"] == b"decode"
    assert dict(headers)["source.offset"] == b"1"


def test_describe_prints_time_device_score_and_top_channel_on_one_line():
    [(_, value)] = anomaly_events(flagged(1), CHANNELS, 0.005, "abc123", 1.0)
    line = describe(json.loads(value))
    assert "\n" not in line
    assert "2025-11-28T03:40:34.125Z" in line
    assert "pump-0" in line and "4.00" in line and "col_4" in line and "readings:0:100" in line


def test_describe_copes_with_what_is_not_an_event():
    assert "not an anomaly event" in describe(b"garbage")
    assert "?" in describe({"device": "x", "ts": "never", "score": None})
