"""Warm-up, one rule at a time, on the in-memory broker: where a partition's replay starts and
ends, which polled records are read again, what happens when the broker does not answer, and what
is counted when it is done."""

from __future__ import annotations

import logging
import re
import time

import orjson
import pytest
from prometheus_client import CollectorRegistry

from detector.brokers.inmemory import InMemoryBroker, InMemoryConsumer
from detector.stream.daemon import memory_for
from detector.stream.metrics import Metrics
from detector.stream.ports import Partition, RecordList
from detector.stream.reloader import Model
from detector.stream.warmup import Warming, Warmup
from tests.helpers.dense import dense_bundle

P0, P1 = Partition("readings", 0), Partition("readings", 1)


class Rig:
    """A consumer of a two-partition topic with `records` records in each, and its Warmup."""

    def __init__(self, records: int = 20, bound: int = 5, committed: dict | None = None) -> None:
        self.broker = InMemoryBroker({"readings": 2})
        for p in (0, 1):
            for i in range(records):
                self.broker.append("readings", b"%d" % i, partition=p)
        self.broker.committed["detector"] = dict(committed or {})
        self.consumer = InMemoryConsumer(self.broker)
        self.consumer.assigned = frozenset({P0, P1})
        self.consumer.positions = {tp: self.broker.committed["detector"].get(tp, 0)
                                   for tp in (P0, P1)}
        self.registry = CollectorRegistry()
        self.warmup = Warmup(self.consumer, bound, Metrics(self.registry))

    def arrive(self, *partitions: Partition) -> dict:
        """The rebalance listener tells of them; the next poll's batch goes through assigned()."""
        self.warmup.arrived.extend(partitions)
        return self.warmup.assigned(self.consumer.poll(0, 6))

    def sample(self, name: str) -> float | None:
        return self.registry.get_sample_value(name)


def test_a_new_partition_replays_at_most_bound_records_before_its_commit():
    rig = Rig(committed={P0: 12})
    rest = rig.arrive(P0)
    assert P0 not in rest  # its polled records are read again from the replay's start
    assert rig.consumer.position(P0) == 7  # 12 - 5
    assert rig.warmup.partitions == [0]
    assert rig.warmup.warming[P0].until == 12 and rig.warmup.warming[P0].cut
    assert rig.sample("detector_partitions_warming") == 1


def test_a_replay_never_starts_before_the_oldest_record_and_is_then_whole():
    rig = Rig(committed={P0: 3})
    rig.arrive(P0)
    assert rig.consumer.position(P0) == 0 and not rig.warmup.warming[P0].cut


def test_without_a_commit_the_replay_ends_where_the_poll_began():
    rig = Rig(bound=5)
    rig.consumer.positions[P0] = 9  # e.g. auto.offset.reset latest: no commit yet
    rig.arrive(P0)
    assert rig.warmup.warming[P0].until == 9 and rig.consumer.position(P0) == 4


def test_without_a_commit_or_a_polled_record_the_replay_ends_at_the_position():
    rig = Rig(bound=5)
    rig.consumer.positions[P0] = 9
    rig.warmup.arrived.append(P0)
    assert rig.warmup.assigned({}) == {}
    assert rig.warmup.warming[P0].until == 9 and rig.consumer.position(P0) == 4


def test_a_partition_with_nothing_before_its_resume_point_is_processed_at_once():
    rig = Rig()
    rest = rig.arrive(P0, P1)
    assert [r.offset for r in rest[P0]] == [0, 1, 2, 3, 4, 5]  # kept, not read again
    assert rig.warmup.warming == {} and rig.sample("detector_partitions_warming") == 0


def test_a_bound_of_zero_warms_nothing_up():
    rig = Rig(bound=0, committed={P0: 12})
    batch = rig.consumer.poll(0, 6)
    rig.warmup.arrived.append(P0)
    assert rig.warmup.assigned(batch) is batch
    assert rig.warmup.warming == {} and rig.consumer.position(P0) == 18
    rig.warmup.again()
    assert rig.warmup.warming == {}


def test_a_warm_up_the_broker_cannot_answer_reads_the_polled_records_again_later():
    rig = Rig(committed={P0: 12})
    rig.broker.committed["detector"][P1] = 0
    batch = rig.consumer.poll(0, 20)
    assert rig.consumer.position(P0) == 20
    rig.warmup.arrived.extend([P0])
    rig.broker.down = True
    assert rig.warmup.assigned(batch) == {P1: batch[P1]}
    assert rig.consumer.positions[P0] == 12  # sought back to what it polled: read again
    assert rig.warmup.warming == {}
    rig.broker.down = False
    rig.warmup.assigned({})  # after the next poll: warmed up then
    assert rig.warmup.warming[P0].until == 12 and rig.consumer.position(P0) == 7


def test_a_live_partition_is_not_warmed_again_until_it_is_revoked():
    rig = Rig(committed={P0: 12})
    rig.arrive(P0)
    del rig.warmup.warming[P0]
    rig.arrive(P0)  # told again, e.g. by a cooperative rebalance that kept it
    assert rig.warmup.warming == {}
    rig.warmup.revoked([1])  # another partition: no change
    rig.arrive(P0)
    assert rig.warmup.warming == {}
    rig.warmup.revoked([0])
    rig.arrive(P0)
    assert P0 in rig.warmup.warming


def test_a_partition_that_goes_stops_warming_and_one_not_assigned_is_not_warmed():
    rig = Rig(committed={P0: 12, P1: 12})
    rig.arrive(P0)
    rig.consumer.assigned = frozenset({P1})
    rig.arrive(P0)
    assert rig.warmup.partitions == []
    rig.warmup.revoked([0])
    rig.arrive(P0, P1)
    assert rig.warmup.partitions == [1]


def test_split_replays_what_lies_before_the_resume_offset_and_processes_the_rest():
    rig = Rig(committed={P0: 12})
    rig.arrive(P0)
    replay, live = rig.warmup.split(rig.consumer.poll(0, 40))
    assert [r.offset for r in replay[P0]] == [7, 8, 9, 10, 11]
    assert [r.offset for r in live[P0]] == list(range(12, 20))
    assert P1 not in replay and [r.offset for r in live[P1]] == list(range(20))
    assert rig.warmup.warming[P0].replayed == 5


def test_finish_ends_a_warm_up_at_its_resume_offset_and_counts_it():
    rig = Rig(committed={P0: 12})
    rig.arrive(P0)
    rig.warmup.warming[P0].devices = {"a", "b", "c"}
    rig.warmup.warming[P0].replayed = 4
    rig.consumer.positions[P0] = 11
    rig.warmup.finish(lambda device: 3, 3)
    assert rig.warmup.partitions == [0]  # one record short
    rig.consumer.positions[P0] = 12
    rig.warmup.finish({"a": 1, "b": 3, "c": 2}.__getitem__, 3)
    assert rig.warmup.partitions == []
    assert rig.sample("detector_partitions_warming") == 0
    assert rig.sample("detector_warmup_records_total") == 4
    assert rig.sample("detector_warmup_short_devices_total") == 2  # a and c
    assert rig.sample("detector_warmup_duration_seconds_count") == 1


def test_after_a_reload_every_assigned_partition_warms_up_from_where_it_is():
    rig = Rig(committed={P0: 12, P1: 3})
    rig.warmup.again()
    assert rig.warmup.partitions == [0, 1]
    assert rig.consumer.position(P0) == 7 and rig.consumer.position(P1) == 0


def test_a_reload_the_broker_cannot_answer_warms_up_after_the_next_poll():
    rig = Rig(committed={P0: 12})
    rig.arrive(P0)
    del rig.warmup.warming[P0]
    rig.broker.down = True
    rig.warmup.again()
    assert rig.warmup.warming == {} and list(rig.warmup.arrived) == [P0]
    rig.broker.down = False
    rig.consumer.positions[P0] = 12
    rig.warmup.assigned({})
    assert rig.warmup.partitions == [0] and rig.consumer.position(P0) == 7


@pytest.mark.parametrize("committed", [0, 1])
def test_a_commit_at_the_first_records_replays_what_lies_before_it(committed):
    rig = Rig(committed={P0: committed})
    rig.arrive(P0)
    assert (P0 in rig.warmup.warming) == (committed > 0)


def test_a_revoked_partition_stops_warming():
    rig = Rig(committed={P0: 12})
    rig.arrive(P0)
    rig.warmup.revoked([0])
    assert rig.warmup.partitions == []


def test_partitions_live_before_stay_live_when_others_arrive():
    rig = Rig(committed={P0: 12, P1: 12})
    rig.arrive(P0)
    rig.arrive(P1)
    rig.warmup.warming.clear()
    rig.arrive(P0, P1)  # both told again: both are this process's already
    assert rig.warmup.partitions == []


def test_an_outage_reads_again_only_the_records_of_the_partitions_that_wait():
    rig = Rig(committed={P0: 12, P1: 0})
    batch = rig.consumer.poll(0, 20)  # P0 12-19, P1 0-11
    rig.warmup.arrived.append(P0)
    rig.broker.down = True
    assert rig.warmup.assigned(batch) == {P1: batch[P1]}
    assert rig.consumer.positions == {P0: 12, P1: 12}  # P1 goes on where it was


def test_a_partition_not_done_does_not_hold_up_another_that_is():
    rig = Rig(committed={P0: 12, P1: 12})
    rig.arrive(P0, P1)
    rig.consumer.positions = {P0: 10, P1: 12}
    rig.warmup.warming[P1].started = time.monotonic() - 5.0
    rig.warmup.finish(lambda device: 3, 3)
    assert rig.warmup.partitions == [0]
    assert 5.0 <= rig.sample("detector_warmup_duration_seconds_sum") < 3600.0


def test_replayed_devices_belong_to_their_partition():
    rig = Rig(committed={P1: 12})
    rig.arrive(P1)
    model = Model.of(dense_bundle(3, {"k": 2, "n": 3}))
    memory = memory_for(model, 100)
    records = [rig.broker.append("readings", orjson.dumps(
        {"device": "pump-1", "seq": i, "ts": 1.0, "values": [0.0, 0.0]}), partition=1)
        for i in range(2)]
    rig.warmup.replay({P1: RecordList(records)}, model, memory)
    assert memory.forget_partitions([1]) == 1 and len(memory) == 0


def test_a_warm_up_says_where_it_replays_what_it_waits_for_and_what_it_did(caplog):
    rig = Rig(committed={P0: 12, P1: 12})
    with caplog.at_level(logging.INFO, "detector.stream.warmup"):
        rig.arrive(P0)
        rig.warmup.warming[P0].devices = {"a", "b"}
        rig.warmup.warming[P0].replayed = 5
        rig.consumer.positions[P0] = 12
        rig.warmup.finish({"a": 1, "b": 3}.__getitem__, 3)
        rig.broker.down = True
        rig.warmup.arrived.append(P1)
        rig.warmup.assigned({})
        rig.warmup.again()
    assert caplog.messages[0] == "partition 0: replaying offsets 7-11 into memory before scoring"
    assert re.fullmatch(r"partition 0 warmed up: 5 record\(s\) replayed in \d+\.\d\d s; 1 "
                        r"device\(s\) start afresh, their history lies beyond the bound of 5 "
                        r"records", caplog.messages[1])
    assert caplog.messages[2:] == [
        "warm-up of partition(s) 1 waits for the broker: the in-memory broker is down",
        "warm-up after the reload waits for the broker: the in-memory broker is down"]
    rig.broker.down = False
    caplog.clear()
    with caplog.at_level(logging.INFO, "detector.stream.warmup"):
        rig.consumer.positions[P1] = 20
        rig.warmup.warming[P1] = rig.warmup.warming.get(P1) or Warming(12, cut=False)
        rig.warmup.finish(lambda device: 3, 3)
    assert re.fullmatch(r"partition 1 warmed up: 0 record\(s\) replayed in \d+\.\d\d s",
                        caplog.messages[-1])


def test_an_outage_names_every_partition_that_waits(caplog):
    rig = Rig(committed={P0: 12, P1: 12})
    rig.warmup.arrived.extend([P1, P0])
    rig.broker.down = True
    with caplog.at_level(logging.INFO, "detector.stream.warmup"):
        rig.warmup.assigned({})
    assert caplog.messages == [
        "warm-up of partition(s) 0, 1 waits for the broker: the in-memory broker is down"]
