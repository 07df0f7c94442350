"""A group member on kafka-python (3.0.12) joins once, and finishes every rebalance it starts.

Both failures made the storm benchmark's detector stall (bench/RESULTS.md, 2026-12-07, "the
stalled storm"): a lone member revoked its first assignment and rebalanced again when the
metadata its join asked for arrived (kafka-python notes the subscribed topics' partitions only on
a refresh); and a rebalance started by changed partitions was left half done by a poll whose
timeout ended between the leader's assignment and the SyncGroup answer, after which the member
held nothing and its polls spun for ever.
"""

from __future__ import annotations

import time

from kafka.admin import NewPartitions

from detector.brokers.kafka import KafkaSource
from detector.brokers.kafka_clients import open_source
from detector.cli.serve import consumer_settings
from detector.stream.ports import BrokerError, Offsets, Partition
from shared.kafka_client import Connection


class Recorder:
    """A seam Listener that writes down what it is told."""

    def __init__(self) -> None:
        self.events: list[tuple[str, frozenset[Partition]]] = []

    def revoked(self, partitions: frozenset[Partition]) -> Offsets:
        self.events.append(("revoked", partitions))
        return {}

    def committed(self, offsets: Offsets, error: BrokerError | None) -> None:
        pass

    def assigned(self, partitions: frozenset[Partition]) -> None:
        self.events.append(("assigned", partitions))

    def lost(self, partitions: frozenset[Partition]) -> None:
        self.events.append(("lost", partitions))


def joining_source(bootstrap: str, group: str) -> KafkaSource:
    """A kafka-python source in its own group, as serve opens it."""
    return open_source(Connection(bootstrap), "", group, "join-test", "earliest",
                       consumer_settings(500), 300_000)


def subscribe_until_assigned(source: KafkaSource, topic: str, listener: Recorder,
                             deadline: float) -> None:
    """Subscribe and poll until the first assignment arrives; fail at the deadline."""
    source.subscribe(topic, listener)
    while not source.assignment():
        assert time.monotonic() < deadline, "never assigned"
        source.poll(200, 500)


def test_a_lone_member_keeps_its_first_assignment(make_topic, make_group, kafka_bootstrap):
    topic = make_topic()
    source, listener = joining_source(kafka_bootstrap, make_group()), Recorder()
    try:
        deadline = time.monotonic() + 60
        subscribe_until_assigned(source, topic, listener, deadline)
        # Metadata newer than the join (as the refresh the leader asks for when it assigns): a
        # leader that assigned with stale partitions rebalances in the next polls.
        source.consumer.topics()
        for _ in range(5):
            source.poll(200, 500)
        seen = list(listener.events)  # before close, which revokes too
    finally:
        source.close()

    moves = [event for event in seen if event[1]]  # the first join revokes nothing
    assert moves == [("assigned", frozenset({Partition(topic, 0)}))]


def test_a_rebalance_for_added_partitions_completes_under_zero_timeout_polls(
    make_topic, make_group, kafka_admin, kafka_bootstrap
):
    topic = make_topic()
    source, listener = joining_source(kafka_bootstrap, make_group()), Recorder()
    try:
        deadline = time.monotonic() + 60
        subscribe_until_assigned(source, topic, listener, deadline)
        kafka_admin.create_partitions({topic: NewPartitions(total_count=2)})
        source.consumer.topics()  # the refresh that shows the leader the new partition
        # serve's polls while events wait are short; zero makes every one end mid-rebalance
        both = {Partition(topic, 0), Partition(topic, 1)}
        while source.assignment() != both:
            assert time.monotonic() < deadline, (
                f"the rebalance never completed: assigned {source.assignment()}")
            source.poll(0, 500)
            time.sleep(0.01)
        seen = list(listener.events)
    finally:
        source.close()

    assert seen[-1] == ("assigned", frozenset(both))
