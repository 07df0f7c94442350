"""Hostile input to the decoder: any bytes end as a reading or a named rejection, on either path."""

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector.stream.decode import MAX_DEVICE_LENGTH, REASONS, Decoder

CHANNELS = ["col_1", "col_2", "col_3", "col_4", "col_5"]
DECODER = Decoder(CHANNELS)
GOOD = b'{"device":"pump-1","seq":1,"ts":1.5,"values":[1,2,3,4,5]}'

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                               max_size=4),
    max_leaves=20,
)
numbers = st.integers() | st.floats() | st.integers(min_value=-(10**400), max_value=10**400)
readings = st.fixed_dictionaries(
    {},
    optional={
        "device": st.text(max_size=200) | json_values,
        "seq": numbers | json_values,
        "ts": numbers | json_values,
        "values": st.lists(numbers, min_size=4, max_size=6) | json_values
        | st.dictionaries(st.sampled_from([*CHANNELS, "speed"]), numbers, max_size=6),
        "extra": json_values,
    },
)


def as_bytes(obj: object) -> bytes:
    """JSON bytes of anything hypothesis built (NaN and Infinity as Python's json writes them)."""
    return json.dumps(obj).encode()


def nested(depth: int) -> bytes:
    """A good reading with an extra field nested `depth` lists deep."""
    return GOOD[:-1] + b',"x":' + b"[" * depth + b"]" * depth + b"}"


def outcome(raw: bytes | None, readings_of=DECODER.decode) -> tuple:
    """('ok', device, seq, ts, values) or ('rejected', reason) for one record alone."""
    out = readings_of([raw])
    if out.rejected:
        (rejection,) = out.rejected
        assert rejection.reason in REASONS and rejection.message
        return ("rejected", rejection.reason)
    assert len(out) == 1
    return ("ok", out.device[0], int(out.seq[0]), float(out.ts[0]), out.values[0].tolist())


def assert_same_fate_everywhere(raw: bytes | None) -> None:
    """Alone, between good neighbours, and on the careful path the record meets one fate."""
    alone = outcome(raw)
    assert outcome(raw, DECODER.decode_each) == alone
    batch = DECODER.decode([GOOD, raw, GOOD])
    kept = batch.index.tolist()
    if alone[0] == "ok":
        assert kept == [0, 1, 2] and batch.values[1].tolist() == alone[4]
    else:
        assert kept == [0, 2] and [(r.index, r.reason) for r in batch.rejected] == [(1, alone[1])]
    assert np.isfinite(batch.values).all() and np.isfinite(batch.ts).all()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_any_bytes_give_a_reading_or_a_reason(raw):
    assert_same_fate_everywhere(raw)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_any_json_gives_a_reading_or_a_reason(obj):
    assert_same_fate_everywhere(as_bytes(obj))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(readings)
def test_any_reading_shaped_object_gives_a_reading_or_a_reason(obj):
    assert_same_fate_everywhere(as_bytes(obj))


@pytest.mark.parametrize("depth", [10, 500, 990, 1000, 1024, 1025, 1100, 20_000])
def test_deep_nesting_in_an_extra_field_is_never_an_exception(depth):
    assert_same_fate_everywhere(nested(depth))


def test_nesting_orjson_refuses_is_a_decode_error():
    assert outcome(nested(20_000)) == ("rejected", "decode")


def test_a_huge_integer_in_an_extra_field_is_ignored_on_both_paths():
    raw = GOOD[:-1] + b',"x":' + b"9" * 60_000 + b"}"
    assert_same_fate_everywhere(raw)
    assert outcome(raw)[0] == "ok"


@given(st.text(min_size=1, max_size=300))
def test_device_names_follow_one_rule(name):
    raw = as_bytes({"device": name, "seq": 1, "ts": 1.0, "values": [1, 2, 3, 4, 5]})
    assert_same_fate_everywhere(raw)
    allowed = len(name) <= MAX_DEVICE_LENGTH and all(c.isalnum() or c in "_.:@/#+-" for c in name)
    assert (outcome(raw)[0] == "ok") == allowed


@pytest.mark.parametrize("name", ["x" * 65_000, "pump\x1b]0;owned\x07", "a b", "pump-1\n",
                                  "evil\u202etxt", "line\rforged"])
def test_hostile_device_names_are_schema_errors_with_an_escaped_message(name):
    raw = as_bytes({"device": name, "seq": 1, "ts": 1.0, "values": [1, 2, 3, 4, 5]})
    (rejection,) = DECODER.decode([raw]).rejected
    assert rejection.reason == "schema"
    assert rejection.message.isprintable() and len(rejection.message) < 300


def test_unknown_channel_names_are_escaped_and_bounded_in_the_message():
    values = {f"\x1b[31m{'n' * 1000}{i}": 1 for i in range(50)}
    raw = as_bytes({"device": "d", "seq": 1, "ts": 1.0, "values": values})
    (rejection,) = DECODER.decode([raw]).rejected
    assert rejection.reason == "channels"
    assert rejection.message.isprintable() and len(rejection.message) < 600
