"""Fault suite: a rebalance while the broker is slow to acknowledge a member's events.

The rebalance listener runs in kafka-python's IO thread, where the heartbeats are sent: had it
waited for the events in flight as long as a send may take (30 s), the group would expel the member
after its 10 s session and go on without it. The slow broker is real broker behaviour: a produce
quota on the member's client id, overrun by a burst sent under that id, so the broker throttles
the member's producer (and only it) for about 30 s. The serve loop runs in this process on
kafka-python's clients, stepped by the test, so the rebalance reaches it while its events wait;
its polls wait long enough for a join to complete within them (with serve's short poll while
events wait, a join left half done while the loop waits for acknowledgements is another way out of
the group, not covered here).
"""

from __future__ import annotations

import logging
import threading
import time

import orjson
from kafka import KafkaConsumer, KafkaProducer
from prometheus_client import CollectorRegistry

from detector.brokers.kafka_clients import open_sink, open_source
from detector.cli.serve import consumer_settings
from detector.stream.daemon import Daemon
from detector.stream.metrics import Metrics
from detector.stream.reloader import Model
from detector.stream.settings import Options, Topics
from shared.kafka_client import Connection
from shared.wire import encode_reading
from tests.helpers.broker import (
    committed,
    consume_records,
    end_offsets,
    produce_quota,
    unique_name,
)
from tests.helpers.dense import dense_bundle
from tests.helpers.faults import assignments
from tests.helpers.serve_loop import HIGH


def until(check, what: str, step=lambda: None, timeout: float = 120.0) -> None:
    """Call `step` until `check()` holds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        step()


class Joiner(threading.Thread):
    """A bare member of the group that polls, never committing, until stopped."""

    def __init__(self, bootstrap: str, topic: str, group: str) -> None:
        super().__init__(daemon=True)
        self.consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                                      enable_auto_commit=False)
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.consumer.poll(timeout_ms=200)

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=60)
        self.consumer.close(autocommit=False)


def stable_members(admin, group: str) -> int:
    """How many members the group has when Stable (0 while it rebalances)."""
    state, owned = assignments(admin, group)
    return len(owned) if state == "Stable" else 0


def test_a_member_whose_events_stall_during_a_rebalance_stays_in_the_group(
    make_topic, make_group, kafka_admin, kafka_bootstrap, caplog
):
    caplog.set_level(logging.INFO, logger="detector")
    caplog.set_level(logging.INFO, logger="kafka.coordinator")
    topics = Topics(make_topic(2, prefix="readings"), make_topic(prefix="anomalies"),
                    make_topic(prefix="dlq"))
    group, client_id = make_group("detector"), unique_name("detector-slow")
    connection = Connection(kafka_bootstrap)
    daemon = Daemon(open_source(connection, "", group, client_id, "earliest",
                                consumer_settings(50), 300_000),
                    open_sink(connection, "", client_id), Model.of(dense_bundle(1)),
                    Metrics(CollectorRegistry()), topics,
                    Options(max_records=50, poll_timeout_ms=15_000, settle_poll_ms=15_000))
    feeder = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    sent = 0

    def feed(count: int) -> None:
        nonlocal sent
        for _ in range(count):
            device = f"pump-{sent % 4}"  # keys on both partitions
            feeder.send(topics.readings, encode_reading(device, sent, time.time(), HIGH),
                        key=device.encode())
            sent += 1
        feeder.flush()

    daemon.join()
    joiner = None
    try:
        feed(40)
        until(lambda: daemon.scored == 40 and not daemon.outbox, "the first readings", daemon.step)
        [first] = assignments(kafka_admin, group)[1]
        produce_quota(kafka_admin, client_id, 1000)
        burst = KafkaProducer(bootstrap_servers=kafka_bootstrap, client_id=client_id)
        burst.send(make_topic(prefix="burst"), b"x" * 32_000).get(timeout=30)  # over the quota
        burst.close()
        # each step publishes a batch's events: the first is answered with a throttle of about
        # 30 s, the next waits that long
        until(lambda: daemon.outbox.stalled() > 1.0, "an event left unacknowledged",
              lambda: (feed(2), daemon.step(), time.sleep(1.5)))
        produce_quota(kafka_admin, client_id, None)  # the throttle given stands
        joiner = Joiner(kafka_bootstrap, topics.readings, group)
        joiner.start()  # joins: the group rebalances
        until(lambda: assignments(kafka_admin, group)[0] == "PreparingRebalance",
              "the rebalance", lambda: time.sleep(0.1))
        coordinator = daemon.consumer.consumer._coordinator  # type: ignore[attr-defined]
        until(coordinator.need_rejoin, "the member to hear of it", lambda: time.sleep(0.1))
        feed(2)
        daemon.step()  # the revocation runs inside this poll, the events still waiting
        until(lambda: stable_members(kafka_admin, group) == 2, "both members", daemon.step)
        members = assignments(kafka_admin, group)[1]
    finally:
        produce_quota(kafka_admin, client_id, None)
        if joiner is not None:
            joiner.stop()
    until(lambda: committed(kafka_admin, group, topics.readings)
          == end_offsets(kafka_bootstrap, topics.readings), "everything committed", daemon.step)
    daemon.close()
    feeder.close()

    waited = [r.getMessage() for r in caplog.records if "the revocation waited" in r.getMessage()]
    print(f"members {members}; {waited}")
    assert first in members, "the member with the slow producer was expelled"
    assert any("not acknowledged within" in r.getMessage() for r in caplog.records)
    events = {orjson.loads(r.value)["event_id"]
              for r in consume_records(kafka_bootstrap, topics.anomalies, min_records=sent)}
    assert len(events) == sent  # every reading flagged once at least, none lost
