"""The serve loop on the in-memory broker: commits, retries, rebalances, reloads, poison, outages.

No broker, no TensorFlow, no sleeping: the test decides what the broker does between two steps.
"""

from __future__ import annotations

from dataclasses import replace

import orjson
import pytest

from detector.brokers.inmemory import InMemoryBroker, InMemoryConsumer, InMemoryProducer
from detector.brokers.kafka import KafkaSink, KafkaSource
from detector.stream.outbox import DeliveryError
from detector.stream.ports import NotAuthorized, Partition, SendRefused, Sink, Source
from detector.stream.reloader import Model
from tests.helpers.dense import dense_bundle
from tests.helpers.serve_loop import FAST, HIGH, NORMAL, Offer, loop


def test_both_implementations_fit_the_ports():
    broker = InMemoryBroker()
    assert isinstance(InMemoryConsumer(broker), Source)
    assert isinstance(InMemoryProducer(broker), Sink)
    assert issubclass(KafkaSource, Source)
    assert issubclass(KafkaSink, Sink)


def test_offsets_are_committed_only_once_the_events_are_acknowledged():
    t = loop()
    t.producer.hold = True
    for values in (NORMAL, HIGH, NORMAL):
        t.read("pump-1", values)

    t.daemon.step()  # scored and sent; the send waits for the broker
    t.daemon.step()  # idle: waits for the acknowledgement in vain
    assert t.committed() == {}
    assert t.events() == []
    assert t.daemon.readiness()[1]["delivery"] == "ok"  # not yet past ack_patience

    assert t.producer.answer() == 1
    t.daemon.step()
    assert t.committed() == {0: 3}
    assert [e["event_id"] for e in t.events()] == ["readings:0:1"]
    assert t.sample("detector_records_total") == 3


def test_a_send_that_fails_then_succeeds_is_published_once_and_committed_once():
    t = loop()
    t.producer.failures.append(SendRefused("KafkaTimeoutError: Batch expired"))
    for values in (HIGH, NORMAL, HIGH):
        t.read("pump-1", values)

    t.daemon.step()
    assert t.producer.sent == 3  # two events, the refused one again
    assert [e["event_id"] for e in t.events()] == ["readings:0:2", "readings:0:0"]
    assert t.committed() == {0: 3}
    assert t.consumer.commits == [{0: 3}]
    assert t.sample("detector_records_total") == 3


@pytest.mark.parametrize("refusal", ["retriable", "hopeless", "refused at send"])
def test_a_send_that_fails_for_good_stops_the_loop_and_commits_nothing_past_it(refusal):
    t = loop(options=replace(FAST, max_records=2))
    t.read("pump-1", NORMAL)
    t.read("pump-1", NORMAL)  # the first batch: nothing to publish, committed
    t.read("pump-1", HIGH)
    t.read("pump-1", NORMAL)
    if refusal == "retriable":
        t.producer.failures.extend([SendRefused("KafkaTimeoutError: Batch expired")] * 10)
    elif refusal == "hopeless":
        t.producer.failures.append(NotAuthorized("TopicAuthorizationFailedError: anomalies"))
    else:
        t.broker.max_message_bytes = 10

    with pytest.raises(DeliveryError) as failure:
        t.daemon.run()

    assert failure.value.exit_code == 3
    assert t.producer.sent == (3 if refusal == "retriable" else 1 if refusal == "hopeless" else 0)
    assert t.committed() == {0: 2}
    assert t.events() == []
    assert t.consumer.closed and t.producer.closed


@pytest.mark.parametrize("acknowledged", [True, False])
def test_a_rebalance_commits_what_is_acknowledged_before_the_partitions_go(acknowledged):
    t = loop(partitions=2, window=2)
    t.producer.hold = True
    for _ in range(2):
        t.read("pump-a", HIGH, partition=0)
        t.read("pump-b", HIGH, partition=1)
    t.daemon.step()  # a batch of both partitions, its two events pending
    assert t.committed() == {}
    assert sorted(t.daemon.memory.partition_of) == ["pump-a", "pump-b"]
    if acknowledged:
        t.producer.answer()

    t.consumer.rebalance([Partition("readings", 0)])
    t.daemon.step()  # partition 1 is revoked inside the poll

    assert t.daemon.memory.partition_of == {"pump-a": 0}  # pump-b's window is forgotten
    assert t.daemon.readiness()[1]["partitions"] == [0]
    if acknowledged:
        assert t.consumer.commits[0] == {1: 2}  # before it went
        assert t.committed() == {0: 2, 1: 2}
    else:  # its events were not acknowledged: its new owner reads it again
        assert t.committed() == {}
        t.producer.answer()
        t.daemon.step()
        assert t.committed() == {0: 2}


def test_a_model_reloaded_between_batches_scores_the_next_batch():
    t = loop()
    t.daemon.reloader = offer = Offer()
    t.read("pump-1", HIGH)
    t.daemon.step()
    offer.model = Model.of(dense_bundle(1, threshold=4.0, version="v2"))
    t.read("pump-1", HIGH)
    t.daemon.step()

    events = t.events()
    assert [(e["model_version"], e["threshold"], e["score"]) for e in events] == [
        ("v1", 1.0, 9.0), ("v2", 4.0, 2.25)]
    assert t.sample("detector_model_reloads_total", result="success") == 1
    assert t.sample("detector_threshold") == 4.0
    assert t.daemon.readiness()[1]["model"] == "v2"


def test_poison_records_go_to_the_dead_letter_topic_and_the_readings_around_them_are_scored():
    t = loop()
    t.read("pump-1", NORMAL)
    t.raw(b"[" * 60_000)  # deeply nested
    t.raw(b"\xff\xfe{}")  # not UTF-8
    t.raw(orjson.dumps({"device": "d" * 65_000, "seq": 1, "ts": 1.0, "values": NORMAL}))
    t.read("pump-1", HIGH)
    t.daemon.step()

    dead = t.broker.records("readings.dlq")
    assert [dict(r.headers)["error.reason"] for r in dead] == [b"decode", b"decode", b"schema"]
    assert [dict(r.headers)["source.offset"] for r in dead] == [b"1", b"2", b"3"]
    assert dead[1].value == b"\xff\xfe{}"
    assert [e["event_id"] for e in t.events()] == ["readings:0:4"]
    assert t.sample("detector_records_total") == 2
    assert t.sample("detector_rejected_total", reason="decode") == 2
    assert t.sample("detector_rejected_total", reason="schema") == 1
    assert t.committed() == {0: 5}


def test_readiness_follows_the_broker_away_and_back():
    t = loop()
    t.read("pump-1", NORMAL)
    t.daemon.step()
    assert t.daemon.readiness() == (True, {"model": "v1", "partitions": [0], "warming": [],
                                           "broker": "ok", "delivery": "ok"})

    t.broker.down = True
    t.daemon.step()
    ready, detail = t.daemon.readiness()
    assert not ready and detail["broker"] == "unreachable"

    t.broker.down = False
    t.read("pump-1", NORMAL)
    t.daemon.step()
    assert t.daemon.readiness()[0]
    assert t.sample("detector_consumer_lag_records", partition="0") == 0
    t.daemon.step()  # idle: commits at once (busy, commits are asynchronous and spaced out)
    assert t.committed() == {0: 2}


def test_a_loop_that_stops_stepping_is_not_alive_and_one_that_steps_again_is():
    t = loop()
    t.daemon.step()
    alive, detail = t.daemon.liveness()
    assert alive and detail["since_step_s"] < 60
    t.daemon.stepped -= t.daemon.options.max_poll_interval + 61  # a step begun long ago
    assert t.daemon.liveness()[0] is False
    assert t.daemon.readiness()[0] is True  # readiness asks other questions
    t.daemon.step()
    assert t.daemon.liveness()[0] is True


def test_a_revocation_stalled_by_unacknowledged_events_keeps_the_member_in_the_group():
    """The listener runs where the heartbeats are sent: a broker slow to acknowledge must not
    keep it past the session timeout, and what it could not wait for is read again elsewhere."""
    t = loop(partitions=2, options=replace(FAST, send_timeout=30.0, max_records=2))
    t.read("pump-a", NORMAL, partition=0)
    t.read("pump-b", NORMAL, partition=1)
    t.daemon.step()  # nothing to publish: acknowledged, committed
    t.producer.hold = True  # the broker stops acknowledging
    t.read("pump-a", HIGH, partition=0)
    t.read("pump-b", HIGH, partition=1)
    t.daemon.step()  # both events pending

    t.consumer.rebalance([Partition("readings", 0)])
    t.daemon.step()  # partition 1 is revoked inside the poll while its event waits

    assert not t.consumer.expelled
    assert t.daemon.readiness()[1]["partitions"] == [0]
    assert t.committed() == {0: 1, 1: 1}  # the unacknowledged batch is not committed
    t.producer.answer()
    for _ in range(3):
        t.daemon.step()
    assert t.committed() == {0: 2, 1: 1}  # partition 1's new owner reads offset 1 again
    assert len(t.events()) == 2
