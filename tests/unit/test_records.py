"""Decoding and validation of raw readings: every good form accepted, every bad one named."""

import json

import numpy as np
import orjson
import pytest

from detector.stream.decode import CHUNK, MAX_VALUE_BYTES, REASONS, Decoder

CHANNELS = ["col_1", "col_2", "col_3", "col_4", "col_5"]


def reading(**overrides) -> bytes:
    """A valid reading's bytes, with fields replaced or (value None) removed."""
    body = {"device": "pump-1", "seq": 42, "ts": 1764301234.125, "values": [1, 2.5, 3, 4, 5]}
    body.update(overrides)
    return json.dumps({k: v for k, v in body.items() if v is not None}).encode()


@pytest.fixture
def decoder() -> Decoder:
    return Decoder(CHANNELS)


def test_a_clean_batch_becomes_arrays_in_order(decoder):
    raws = [reading(device=f"d-{i}", seq=i, ts=100.0 + i, values=[i, i, i, i, i])
            for i in range(3)]
    out = decoder.decode(raws)
    assert out.rejected == []
    assert out.index.tolist() == [0, 1, 2]
    assert out.device == ["d-0", "d-1", "d-2"]
    assert out.seq.tolist() == [0, 1, 2]
    assert out.ts.tolist() == [100.0, 101.0, 102.0]
    assert out.values.shape == (3, 5) and out.values.dtype == np.float64
    assert out.values[2].tolist() == [2.0] * 5


def test_values_may_be_an_object_keyed_by_channel_in_any_order(decoder):
    values = {"col_5": 5, "col_4": 4, "col_3": 3, "col_2": 2, "col_1": 1}
    out = decoder.decode([reading(values=values)])
    assert out.rejected == []
    assert out.values.tolist() == [[1.0, 2.0, 3.0, 4.0, 5.0]]


def test_extra_fields_are_ignored_and_integer_timestamps_accepted(decoder):
    out = decoder.decode([reading(site="north", ts=1764301234)])
    assert out.rejected == [] and out.ts.tolist() == [1764301234.0]


BAD = {
    "empty": [None, b""],
    "too_large": [b"{" + b" " * MAX_VALUE_BYTES + b"}"],
    "decode": [b'{"device": "pump-1", "seq": ', b"\xff\xfe\x00garbage", b"not json at all",
               b"   "],
    "schema": [
        b"[1, 2, 3]",
        b'"a string"',
        reading(seq="42"),
        reading(seq=1.5),
        reading(seq=-1),
        reading(seq=2**63),
        reading(seq=True),
        reading(ts="yesterday"),
        reading(device=7),
        reading(device=""),
        reading(values=[1, 2, "3", 4, 5]),
        reading(values=[1, 2, None, 4, 5]),
        reading(values=[1, 2, True, 4, 5]),
        reading(values="1,2,3,4,5"),
        reading(device=None),
        reading(values=None),
        reading(ts=None),
    ],
    "channels": [
        reading(values=[1, 2, 3, 4]),
        reading(values=[1, 2, 3, 4, 5, 6]),
        reading(values={"col_1": 1, "col_2": 2, "col_3": 3, "col_4": 4, "col_6": 5}),
        reading(values={"col_1": 1, "col_2": 2, "col_3": 3, "col_4": 4}),
    ],
    "non_finite": [
        b'{"device": "pump-1", "seq": 1, "ts": 1.0, "values": [NaN, 2, 3, 4, 5]}',
        b'{"device": "pump-1", "seq": 1, "ts": 1.0, "values": [1, Infinity, 3, 4, 5]}',
        b'{"device": "pump-1", "seq": 1, "ts": 1.0, "values": [1, 2, -Infinity, 4, 5]}',
        b'{"device": "pump-1", "seq": 1, "ts": 1.0, "values": [1e999, 2, 3, 4, 5]}',
        b'{"device": "pump-1", "seq": 1, "ts": NaN, "values": [1, 2, 3, 4, 5]}',
        reading(values=[1e300, 2, 3, 4, 5]),
    ],
}


@pytest.mark.parametrize(
    ("reason", "raw"), [(reason, raw) for reason, raws in BAD.items() for raw in raws]
)
def test_each_bad_record_is_rejected_with_its_reason_and_its_neighbours_kept(
    decoder, reason, raw
):
    good = reading()
    out = decoder.decode([good, raw, good])
    assert [(r.index, r.reason) for r in out.rejected] == [(1, reason)]
    assert out.rejected[0].message
    assert out.index.tolist() == [0, 2]
    assert out.values.shape == (2, 5)


def test_every_reason_is_covered():
    assert set(BAD) == set(REASONS)


def test_messages_say_what_is_wrong(decoder):
    out = decoder.decode([reading(values=[1, 2, 3, 4]), reading(seq="x"),
                          reading(values={"col_1": 1, "col_2": 2, "col_3": 3, "col_4": 4,
                                          "speed": 5})])
    messages = [r.message for r in out.rejected]
    assert "4 entries" in messages[0] and "expects 5" in messages[0]
    assert "'seq'" in messages[1] and "string" in messages[1]
    assert "speed" in messages[2] and "col_5" in messages[2]


def test_a_mixed_batch_keeps_valid_readings_aligned_with_their_positions(decoder):
    raws = [reading(seq=0), b"{", reading(seq=2), None, reading(seq=4, values=[9] * 5)]
    out = decoder.decode(raws)
    assert out.index.tolist() == [0, 2, 4]
    assert out.seq.tolist() == [0, 2, 4]
    assert out.values[2].tolist() == [9.0] * 5
    assert [(r.index, r.reason) for r in out.rejected] == [(1, "decode"), (3, "empty")]


def test_an_empty_batch(decoder):
    out = decoder.decode([])
    assert len(out) == 0 and out.values.shape == (0, 5) and out.rejected == []


def test_what_the_simulator_sends_is_accepted(decoder):
    from shared.wire import encode_reading

    raws = [encode_reading("device-1", 3, 1.5, [1.0, 2.0, 3.0, 4.0, 5.0]),
            orjson.dumps({"device": "device-2", "seq": 4, "ts": 2.5,
                          "values": dict(zip(CHANNELS, [5, 4, 3, 2, 1], strict=True))})]
    out = decoder.decode(raws)
    assert out.rejected == [] and out.device == ["device-1", "device-2"]


GOOD = b'{"device":"d","seq":1,"ts":1.5,"values":[1,2,3,4,5]}'


@pytest.mark.parametrize(
    "raws",
    [
        # two records that are only valid JSON together (a string hides the braces between them)
        [b'{"device":"x}', b'{", "device":"d","seq":1,"ts":1.5,"values":[1,2,3,4,5]}', GOOD],
        # one record holding two objects beside a good one
        [GOOD, GOOD[:-1] + b"}," + GOOD],
        # an object split over two records
        [GOOD[:20], GOOD[20:], GOOD],
        # both at once: as many objects as records, none of them a record's own
        [b'{"device":"x}', b'{", "device":"d","seq":1,"ts":1.5,"values":[1,2,3,4,5]}',
         GOOD[:-1] + b"}," + GOOD],
    ],
)
def test_records_that_only_parse_together_are_each_rejected(decoder, raws):
    out = decoder.decode(raws)
    bad = [i for i, raw in enumerate(raws) if raw != GOOD]
    assert [(r.index, r.reason) for r in out.rejected] == [(i, "decode") for i in bad]
    assert out.index.tolist() == [i for i, raw in enumerate(raws) if raw == GOOD]


def test_a_large_clean_batch_matches_record_by_record_decoding(decoder):
    from producer.simulator import Simulator
    from shared.wire import encode_reading

    block = next(Simulator(devices=7, anomaly_rate=0.05, seed=3).blocks(total=2000))
    raws = [encode_reading(d, s, 1e9 + s, v) for d, s, v in
            zip(block.device, block.seq.tolist(), block.values.tolist(), strict=True)]
    fast, careful = decoder.decode(raws), decoder.decode_each(raws)
    assert fast.rejected == careful.rejected == []
    assert fast.device == careful.device
    assert np.array_equal(fast.seq, careful.seq) and np.array_equal(fast.ts, careful.ts)
    assert np.array_equal(fast.values, careful.values)


def many_good(n: int) -> list[bytes]:
    """n distinct good readings (seq i, values from i)."""
    return [reading(seq=i, device=f"pump-{i % 7}", values=[i, i + 0.5, 3, 4, 5])
            for i in range(n)]


@pytest.mark.parametrize("at", [0, CHUNK - 1, CHUNK, 2 * CHUNK + 5, 3 * CHUNK + 9])
@pytest.mark.parametrize(("reason", "raw"), [
    ("decode", b'{"device":"pump-1","seq":'), ("schema", reading(device="a b")),
    ("channels", reading(values=[1, 2, 3, 4])), ("non_finite", reading(values=[1e39, 2, 3, 4, 5])),
    ("empty", None), ("too_large", b"{" + b" " * MAX_VALUE_BYTES + b"}")])
def test_one_bad_record_among_many_chunks_of_good_ones_is_the_only_one_rejected(
    decoder, at, reason, raw
):
    raws = many_good(3 * CHUNK + 10)
    clean = decoder.decode(raws)
    raws[at] = raw
    out = decoder.decode(raws)
    assert [(r.index, r.reason) for r in out.rejected] == [(at, reason)]
    kept = [i for i in range(len(raws)) if i != at]
    assert out.index.tolist() == kept
    assert out.device == [clean.device[i] for i in kept]
    assert np.array_equal(out.seq, clean.seq[kept]) and np.array_equal(out.ts, clean.ts[kept])
    assert np.array_equal(out.values, clean.values[kept])


def test_a_clean_batch_of_many_chunks_decodes_as_its_records_one_by_one(decoder):
    raws = many_good(2 * CHUNK + 3)
    out = decoder.decode(raws)
    alone = [decoder.decode([raw]) for raw in raws]
    assert out.rejected == [] and out.index.tolist() == list(range(len(raws)))
    assert out.device == [a.device[0] for a in alone]
    assert out.seq.tolist() == [int(a.seq[0]) for a in alone]
    assert out.values.tolist() == [a.values[0].tolist() for a in alone]
