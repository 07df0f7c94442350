"""What a dead letter says: each bad record's reason and the whole message an operator reads, and
the careful path's edges (names shown cut short, NaN looked for at a bounded depth)."""

import json
import re

import numpy as np
import pytest

from detector.stream.decode import INFLATED, Decoder
from detector.stream.record_checks import Invalid, has_non_finite, shown

CHANNELS = ["a", "b", "c"]
NAME_RULE = "must be 1 to 128 letters, digits or _ . : @ / # + - (no spaces or control characters)"


def reading(**overrides) -> bytes:
    """A valid reading's bytes, with fields replaced or (value None) removed."""
    body = {"device": "pump-1", "seq": 1, "ts": 1.5, "values": [1, 2, 3]}
    body.update(overrides)
    return json.dumps({k: v for k, v in body.items() if v is not None}).encode()


def unknown(count: int) -> dict:
    """Values naming every channel and `count` unknown ones."""
    return {"a": 1, "b": 2, "c": 3, **{f"x{i}": i for i in range(count)}}


CASES = [
    (None, "empty", "the record has no value (null or zero bytes)"),
    (b"", "empty", "the record has no value (null or zero bytes)"),
    (INFLATED, "too_large", "its gzip record batch inflates past 64 MiB; the record is not kept"),
    (b"x" * 201, "too_large", "the value is 201 bytes, more than the limit 200"),
    (b"[1, 2]", "schema", "a reading must be a JSON object, got a list"),
    (b'"pump"', "schema", "a reading must be a JSON object, got a string"),
    (b"null", "schema", "a reading must be a JSON object, got null"),
    (b'{"device": "p", "seq": 1, "ts": NaN, "values": [1, 2, 3]}', "non_finite",
     "the reading holds NaN or Infinity"),
    (reading(device=None), "schema", "field 'device' is missing"),
    (reading(device=7), "schema", "'device' must be a non-empty string, got the number 7"),
    (reading(device="bad name"), "schema", f"'device' 'bad name' {NAME_RULE}"),
    (reading(device="x" * 39 + " "), "schema", f"'device' '{'x' * 39} ' {NAME_RULE}"),
    (reading(device="x" * 40 + " "), "schema", f"'device' '{'x' * 40}…' {NAME_RULE}"),
    (reading(device="a\x1bb"), "schema", f"'device' 'a\\x1bb' {NAME_RULE}"),
    (reading(seq=-1), "schema", "'seq' must be an integer ≥ 0, got the number -1"),
    (reading(seq=True), "schema", "'seq' must be an integer ≥ 0, got the boolean true"),
    (reading(ts="now"), "schema", "'ts' must be a number, got a string"),
    (reading(ts=None), "schema", "field 'ts' is missing"),
    (reading(values=[1, 2]), "channels", "'values' has 2 entries, the model expects 3 (a, b, c)"),
    (reading(values="1,2,3"), "schema", "'values' must be a list or an object, got a string"),
    (reading(values=[1, None, 3]), "schema", "every value must be a number, got null"),
    (reading(values=[1, False, 3]), "schema",
     "every value must be a number, got the boolean false"),
    (reading(values=[1, [2], 3]), "schema", "every value must be a number, got a list"),
    (reading(values=[1, {}, 3]), "schema", "every value must be a number, got an object"),
    (reading(values={"a": 1, "b": "2", "c": 3}), "schema",
     "every value must be a number, got a string"),
    (reading(values={"a": 1, "b": 2}), "channels",
     "'values' has missing channel(s) c (the model expects a, b, c)"),
    (reading(values={"a": 1, "c": 3, "zz": 2, "b\n": 2}), "channels",
     "'values' has unknown channel(s) 'zz', 'b\\x0a'; missing channel(s) b "
     "(the model expects a, b, c)"),
    (reading(values={"c": 3}), "channels",
     "'values' has missing channel(s) a, b (the model expects a, b, c)"),
    (reading(values=unknown(6)), "channels", "'values' has unknown channel(s) 'x0', 'x1', 'x2', "
     "'x3', 'x4' and 1 more (the model expects a, b, c)"),
    (reading(values=unknown(5)), "channels",
     "'values' has unknown channel(s) 'x0', 'x1', 'x2', 'x3', 'x4' (the model expects a, b, c)"),
    (reading(values=unknown(7)), "channels", "'values' has unknown channel(s) 'x0', 'x1', 'x2', "
     "'x3', 'x4' and 2 more (the model expects a, b, c)"),
    (reading(values=[1e300, 2, 3]), "non_finite",
     "value 1e+300 is beyond the model's float32 range (±3.403e+38)"),
]


@pytest.mark.parametrize(("raw", "reason", "message"), CASES)
def test_the_dead_letter_names_the_reason_and_says_exactly_what_is_wrong(raw, reason, message):
    out = Decoder(CHANNELS, max_bytes=200).decode([reading(), raw])
    assert [(r.index, r.reason, r.message) for r in out.rejected] == [(1, reason, message)]


def test_text_that_is_not_json_is_a_decode_error_naming_the_parser_s_complaint():
    out = Decoder(CHANNELS).decode([b"{not json", b"\xff\xfe"])
    assert [r.reason for r in out.rejected] == ["decode", "decode"]
    assert all(re.match(r"^not valid UTF-8 JSON: .*: line 1 column \d+", r.message)
               for r in out.rejected)


def test_json_only_python_accepts_but_without_nan_is_a_decode_error():
    raw = b'{"device": "p", "seq": 1, "ts": 1, "values": [1, 2, 3], "x": "\\ud800"}'
    (rejection,) = Decoder(CHANNELS).decode([raw]).rejected
    assert rejection.reason == "decode"
    assert rejection.message.startswith("not valid JSON: ")


def test_values_keyed_by_channel_may_be_fractions():
    out = Decoder(CHANNELS).decode([reading(values={"c": 3.5, "a": 1.25, "b": 2})])
    assert out.values.tolist() == [[1.25, 2.0, 3.5]] and out.rejected == []


def test_a_reading_beyond_float32_leaves_its_neighbours_with_their_own_devices():
    raws = [reading(device="a"), reading(device="b", values=[1e300, 2, 3]), reading(device="c"),
            reading(device="d")]
    out = Decoder(CHANNELS).decode(raws)
    assert out.device == ["a", "c", "d"] and out.index.tolist() == [0, 2, 3]
    assert [r.index for r in out.rejected] == [1]


def nested(value: object, depth: int) -> object:
    """`value` inside `depth` lists, alternating with objects."""
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def test_nan_is_looked_for_33_levels_deep_and_no_deeper():
    assert has_non_finite(nested(float("nan"), 33))
    assert not has_non_finite(nested(float("nan"), 34))
    assert not has_non_finite(nested(1.0, 34)) and not has_non_finite(nested("x", 3))
    assert not has_non_finite(nested(1.0, 10_000))  # hostile nesting costs nothing


def test_a_rejection_reads_as_its_message():
    assert str(Invalid("schema", "why")) == "why"
    assert shown("abc") == "'abc'" and shown("x" * 41, limit=40) == "'" + "x" * 40 + "…'"


@pytest.mark.parametrize("fine", [
    reading(seq=0, values={"a": 1, "b": 2, "c": 3}),  # an object: the careful checks decide
    reading(seq=2**63 - 1, values={"a": 1, "b": 2, "c": 3}),
    reading(device="p" * 100, values={"a": 1, "b": 2, "c": 3.0}),
])
def test_a_record_at_the_edge_of_a_limit_is_kept_beside_a_bad_one(fine):
    limit = len(fine)  # a record exactly as long as the limit is within it
    out = Decoder(CHANNELS, max_bytes=limit).decode([b"[]", fine])
    assert out.index.tolist() == [1] and [r.index for r in out.rejected] == [0]


def test_taking_readings_keeps_the_batch_s_rejections_whole():
    out = Decoder(CHANNELS).decode([reading(device="a"), b"[]", reading(device="c")])
    taken = out.take(np.array([False, True]))
    assert taken.device == ["c"] and taken.rejected == out.rejected


def test_a_batch_of_only_bad_records_gives_empty_arrays_of_the_documented_types():
    out = Decoder(CHANNELS).decode([b"[]", b"{"])
    assert out.index.dtype == out.seq.dtype == np.int64
    assert out.ts.dtype == out.values.dtype == np.float64 and out.values.shape == (0, 3)
    assert np.arange(5)[out.index].tolist() == []  # usable as positions


def test_integer_values_read_by_the_careful_path_are_float64():
    out = Decoder(CHANNELS).decode([b"[]", reading(values={"a": 1, "b": 2, "c": 3})])
    assert out.values.dtype == np.float64 and out.values.tolist() == [[1.0, 2.0, 3.0]]


def test_float32_s_largest_value_is_kept_and_the_value_beyond_it_is_named():
    biggest = float(np.finfo(np.float32).max)
    raws = [reading(values=[1, biggest, -biggest]), reading(values=[1, 1e300, 3]), b"[]"]
    out = Decoder(CHANNELS).decode(raws)
    assert out.index.tolist() == [0]
    assert [(r.index, r.reason) for r in out.rejected] == [(1, "non_finite"), (2, "schema")]
    assert out.rejected[0].message.startswith("value 1e+300 is beyond")


def test_a_clean_batch_keeps_each_seq_an_exact_integer():
    big = 2**53 + 1  # no float64 holds it: an event would carry another seq
    out = Decoder(CHANNELS).decode([reading(seq=big), reading(seq=7)])
    assert out.rejected == [] and out.seq.dtype == np.int64
    assert out.seq.tolist() == [big, 7]


def test_a_reading_holding_float32_s_largest_value_names_the_value_beyond_it():
    biggest = float(np.finfo(np.float32).max)
    out = Decoder(CHANNELS).decode([reading(values=[biggest, 1e300, 3])])
    assert [r.reason for r in out.rejected] == ["non_finite"]
    assert out.rejected[0].message.startswith("value 1e+300 is beyond")


def test_a_value_just_beyond_float32_is_refused_in_a_batch_of_good_readings():
    beyond = float(np.finfo(np.float32).max) * 1.0001  # finite in float64, not in float32
    raws = [reading(seq=1), reading(seq=2, values=[1, beyond, 3]), reading(seq=3)]
    out = Decoder(CHANNELS).decode(raws)
    assert out.index.tolist() == [0, 2]
    assert [(r.index, r.reason) for r in out.rejected] == [(1, "non_finite")]
