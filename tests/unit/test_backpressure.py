"""Backpressure on the in-memory broker: a blocked outbox pauses the partitions while the loop
polls on, a rebalance's new partitions are paused too, and nothing is skipped or read twice."""

from __future__ import annotations

from dataclasses import replace

from detector.stream.ports import Partition, SendRefused
from tests.helpers.serve_loop import FAST, HIGH, loop

P0, P1 = Partition("readings", 0), Partition("readings", 1)


def test_a_full_outbox_pauses_the_partitions_and_the_loop_polls_on_until_it_has_room():
    t = loop(partitions=2, options=replace(FAST, max_records=1))
    t.producer.hold = True  # the broker stops acknowledging
    for _ in range(5):
        t.read("pump-a", HIGH, partition=0)
    for _ in range(3):
        t.daemon.step()  # three batches in flight: over the outbox's depth of two
    assert t.consumer.paused == {P0, P1} and t.daemon.scored == 3
    for _ in range(3):
        t.daemon.step()  # polls, takes nothing
    assert t.daemon.scored == 3 and t.committed() == {}

    t.consumer.rebalance([P0, P1], eager=True)  # every partition handed over anew, unpaused
    t.daemon.step()
    assert t.consumer.paused == {P0, P1}

    t.producer.hold = False
    t.producer.answer()
    for _ in range(4):
        t.daemon.step()
    assert not t.consumer.paused
    assert t.daemon.scored == 5
    assert sorted(e["event_id"] for e in t.events()) == [f"readings:0:{n}" for n in range(5)]
    assert t.committed() == {0: 5}


def test_a_batch_backing_off_pauses_the_partitions_until_its_retry_is_acknowledged():
    t = loop(options=replace(FAST, backoff=60.0, backoff_max=60.0))
    t.producer.failures.append(SendRefused("KafkaTimeoutError: Batch expired"))
    t.read("pump-a", HIGH)
    t.read("pump-a", HIGH)
    t.daemon.step()
    assert t.consumer.paused == {P0} and t.producer.sent == 2
    t.read("pump-a", HIGH)
    t.daemon.step()  # within the backoff: the loop polls, reads nothing, sends nothing
    assert t.daemon.scored == 2 and t.producer.sent == 2
    t.daemon.outbox.queue[0].retry_at = 0.0  # the backoff is over
    t.daemon.step()
    assert not t.consumer.paused and t.producer.sent == 3 and t.committed() == {0: 2}
    t.daemon.step()
    assert t.daemon.scored == 3 and t.committed() == {0: 3} and len(t.events()) == 3


def test_a_partition_paused_then_revoked_is_resumed_when_it_comes_back():
    t = loop(partitions=2, options=replace(FAST, max_records=1))
    t.consumer.keep_paused = True  # as librdkafka: the pause outlives the rebalance
    t.producer.hold = True
    for _ in range(3):
        t.read("pump-a", HIGH, partition=0)
        t.daemon.step()
    assert t.consumer.paused == {P0, P1}
    t.consumer.rebalance([])  # every partition goes (an outage, a lost membership)
    t.daemon.step()
    t.producer.hold = False
    t.producer.answer()
    t.daemon.step()  # the outbox empties while nothing is assigned
    t.consumer.rebalance([P0, P1])
    t.read("pump-a", HIGH, partition=0)
    for _ in range(6):
        t.daemon.step()
    assert not t.consumer.paused
    assert {e["event_id"] for e in t.events()} == {f"readings:0:{n}" for n in range(4)}
    assert t.committed() == {0: 4}
