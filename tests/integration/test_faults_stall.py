"""Fault suite: the broker stops acknowledging a member's events while readings keep coming.

The stall is real broker behaviour: a produce quota on the detector's client id, overrun by a
burst sent under that id, so the broker throttles the detector's producer (and only it) for about
20-30 s; the quota is lifted once the detector's events wait, and the throttle given stands. The
detector runs with a 6 s max.poll.interval.ms: a serve loop that waited in its outbox (a full
outbox, the idle flush, a retry's backoff) longer than that without polling would be counted gone
by the group, which rebalances; it must pause its partitions and keep polling instead, and stay.
"""

from __future__ import annotations

import socket

import pytest
from kafka import KafkaProducer

from tests.helpers.broker import produce_quota
from tests.helpers.faults import assert_complete, assignments, committed_now, settle

pytestmark = pytest.mark.both_clients  # docs/testing.md: what runs on both clients

MAX_POLL_INTERVAL_S = 6  # the least the broker's session bounds allow librdkafka


def test_a_member_whose_events_stall_keeps_polling_and_stays_in_the_group(
    start_detector, serve_topics, simulate, make_topic, kafka_admin, kafka_bootstrap
):
    total = 3000
    topics = serve_topics(partitions=2)
    detector = start_detector(topics, "--batch-size", "100",
                              "--max-poll-interval-ms", str(MAX_POLL_INTERVAL_S * 1000))
    detector.wait_ready()
    client_id = f"detector-{socket.gethostname()}-{detector.proc.pid}"  # detector.cli.serve's
    members: list[set[str]] = []  # the group's members at each look
    stalls = [0.0]  # how long the oldest event had waited, at each look

    def look() -> float:
        """Sample the group's members and the detector's stall; the stall."""
        members.append(set(assignments(kafka_admin, topics.group)[1]))
        delivery = detector.healthz()[1]["delivery"]
        stalls.append(float(delivery.split()[3]) if delivery != "ok" else 0.0)
        return stalls[-1]

    produce_quota(kafka_admin, client_id, 1000)  # bytes/s
    try:
        burst = KafkaProducer(bootstrap_servers=kafka_bootstrap, client_id=client_id)
        burst.send(make_topic(prefix="burst"), b"x" * 30_000).get(timeout=30)  # over the quota
        burst.close()
        # 150 readings/s for 20 s: batches keep arriving while the events wait
        producer = simulate(topics.readings, total, anomaly_rate=0.05, seed=29, rate=150,
                            devices=8, wait=False)
        detector.wait_for(lambda: look() > 1, "the detector's events to wait", 60, 0.5)
        stalled = len(detector.lines)  # kafka-python's start, which joins twice, is long over
    finally:
        produce_quota(kafka_admin, client_id, None)  # the throttle given stands

    def caught_up() -> bool:
        look()
        done, ends = committed_now(kafka_admin, kafka_bootstrap, topics)
        return producer.poll() is not None and done == ends and sum(ends.values()) == total

    detector.wait_for(caught_up, "every reading committed", 150, 0.5)
    outcome = settle(kafka_admin, kafka_bootstrap, topics, total)

    print(f"longest stall {max(stalls):.0f} s; members seen {[sorted(m) for m in members]}")
    assert max(stalls) >= 2 * MAX_POLL_INTERVAL_S, "the events did not wait long enough"
    assert all(m == members[0] and len(m) == 1 for m in members), \
        "the stalled member left the group"
    log = "".join(detector.lines[stalled:])
    assert "assigned partition(s)" not in log, f"the group rebalanced:\n{log[-4000:]}"
    assert_complete(outcome, total)
    assert detector.sample("detector_records_total") == total  # each reading scored once
    assert not outcome.duplicates, f"events published twice: {list(outcome.duplicates)[:3]}"
    assert detector.stop() == 0
