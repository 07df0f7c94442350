"""Windowed state survives restarts, rebalances and reloads; a keyless tombstone is no crash.

The reference is one daemon that reads the whole stream without interruption: whatever happens in
between, the events published (de-duplicated by event id) are the same readings with the same
scores, and no reading past each device's first window − 1 is left unscored.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import orjson

from detector.stream.ports import BrokerUnavailable, Partition
from detector.stream.reloader import Model
from tests.helpers.dense import dense_bundle
from tests.helpers.serve_loop import FAST, HIGH, NORMAL, Loop, Offer, copy, drain, events, loop

WINDOW, RULE, DEVICES = 3, {"k": 2, "n": 3}, ("pump-a", "pump-b", "pump-c")
SLOW = replace(FAST, max_records=7)  # small batches: a warm-up takes several steps


def stream(t: Loop, count: int, seed: int = 0, partitions: int = 1) -> None:
    """`count` readings of three devices, a few of them high, device i on partition i % n."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        i = int(rng.integers(len(DEVICES)))
        t.read(DEVICES[i], HIGH if rng.random() < 0.15 else NORMAL, partition=i % partitions)


def reference(count: int, partitions: int = 1) -> dict[str, float]:
    """The events of one daemon reading the whole stream at once."""
    t = loop(partitions, WINDOW, SLOW, RULE)
    stream(t, count, partitions=partitions)
    drain(t)
    return events(t)


def test_a_restarted_replica_rebuilds_the_windows_before_it_scores():
    whole, second = restart()
    second.daemon.step()  # joins, seeks back, starts replaying
    assert second.daemon.readiness()[0] is False
    assert second.daemon.readiness()[1]["warming"] == [0]
    drain(second)

    assert events(second) == events(whole)
    assert second.sample("detector_window_filling_records_total") == 0
    assert second.sample("detector_records_total") == 60
    assert second.sample("detector_warmup_records_total") == 60
    assert second.sample("detector_partitions_warming") == 0
    assert second.daemon.readiness()[0] is True


def restart() -> tuple[Loop, Loop]:
    """(a daemon that read 120 readings at once, a second member of a group whose first member
    scored and committed the first 60 of them and was then killed with no goodbye); the second
    has not stepped yet."""
    whole = loop(1, WINDOW, SLOW, RULE)
    stream(whole, 120)
    drain(whole)
    records = whole.broker.topics["readings"][0]
    first = loop(1, WINDOW, SLOW, RULE)
    copy(records[:60], first)
    drain(first)
    copy(records[60:], first)
    return whole, loop(1, WINDOW, SLOW, RULE, broker=first.broker)


def test_a_partition_taken_away_and_given_back_is_warmed_up_again():
    expected = reference(90, partitions=2)
    t = loop(2, WINDOW, SLOW, RULE)
    stream(t, 90, partitions=2)
    for _ in range(4):
        t.daemon.step()
    t.consumer.rebalance([Partition("readings", 0)])  # partition 1 goes to another replica
    t.daemon.step()
    t.consumer.rebalance([Partition("readings", 0), Partition("readings", 1)])
    drain(t)
    assert events(t) == expected
    filling = t.sample("detector_window_filling_records_total")
    assert filling == len(DEVICES) * (WINDOW - 1)  # only each device's very first readings


def test_a_reload_to_a_longer_window_warms_up_instead_of_holding_readings():
    t = loop(1, WINDOW, SLOW, RULE)
    stream(t, 40)
    drain(t)
    t.daemon.reloader = offer = Offer()
    offer.model = Model.of(dense_bundle(5, RULE, version="v2"))
    stream(t, 40, seed=1)
    drain(t)
    assert t.sample("detector_window_filling_records_total") == len(DEVICES) * (WINDOW - 1)
    assert t.sample("detector_records_total") == 80 - len(DEVICES) * (WINDOW - 1)
    assert {e["model_version"] for e in map(orjson.loads, (
        r.value for r in t.broker.records("anomalies")))} >= {"v2"}


def test_a_device_whose_history_lies_beyond_the_bound_is_counted():
    first = loop(1, WINDOW, SLOW, RULE)
    stream(first, 60)
    first.read("pump-a", NORMAL)
    first.read("pump-b", NORMAL)  # the bound of 2 reaches back to here: one reading each
    drain(first)
    stream(first, 30, seed=2)
    second = loop(1, WINDOW, replace(SLOW, warmup_records=2), RULE, broker=first.broker)
    drain(second)
    assert second.sample("detector_warmup_records_total") == 2
    assert second.sample("detector_warmup_short_devices_total") == 2  # pump-a and pump-b


def test_a_keyless_tombstone_is_dead_lettered_not_a_crash():
    t = loop()
    t.broker.append("readings", None, None, None, 0)
    t.read("pump-1", NORMAL)
    drain(t)
    (letter,) = t.broker.records("readings.dlq")
    assert dict(letter.headers)["error.reason"] == b"empty" and letter.key is None
    assert t.sample("detector_records_total") == 1


def test_a_warm_up_the_broker_cannot_answer_yet_is_tried_again_not_a_crash():
    whole, second = restart()
    answers = second.consumer.first_offsets
    calls = []

    def slow_broker(partitions):
        calls.append(1)
        if len(calls) == 1:
            raise BrokerUnavailable("no answer in time")
        return answers(partitions)

    second.consumer.first_offsets = slow_broker
    drain(second)
    assert len(calls) == 2
    assert events(second) == events(whole)
    assert second.sample("detector_window_filling_records_total") == 0


def test_a_warm_up_cut_short_by_a_rebalance_starts_again_from_the_commit():
    whole, second = restart()
    second.daemon.step()
    second.daemon.step()  # replaying, its position far back in the stretch
    assert second.daemon.warmup.warming
    second.consumer.rebalance([Partition("readings", 0)], eager=True)  # revoked, given back
    drain(second)
    assert events(second) == events(whole)
    assert second.sample("detector_window_filling_records_total") == 0
    assert second.sample("detector_records_total") == 60
