"""Fault suite, the detector's own process: kill -9, SIGTERM mid-batch, scoring slower than
max.poll.interval.ms. Each ends with the group committed to the end and every injected anomaly
found (tests/integration/faults.py)."""

from __future__ import annotations

import re
import signal

import pytest

from tests.helpers.broker import consume_records
from tests.helpers.faults import assert_complete, committed_now, event_ids, offset_of, settle

pytestmark = pytest.mark.both_clients  # docs/testing.md: what runs on both clients

GRACE = 30  # seconds: the stop grace period of docker-compose.yml (and Kubernetes' default)


def scored_before_exit(log: str) -> int:
    """The readings a stopped detector says it scored."""
    match = re.search(r"stopped cleanly: (\d+) readings scored", log)
    assert match, log[-3000:]
    return int(match.group(1))


def test_kill_9_mid_stream_then_restart_loses_nothing(
    start_detector, serve_topics, simulate, kafka_admin, kafka_bootstrap
):
    total = 12_000
    topics = serve_topics(partitions=3)
    first = start_detector(topics, "--batch-size", "500")
    first.wait_ready()
    producer = simulate(topics.readings, total, anomaly_rate=0.02, seed=11, rate=3000,
                        wait=False)
    first.wait_records(3000)
    seen = first.sample("detector_records_total")
    first.proc.kill()  # SIGKILL: no batch finished, nothing committed on the way out
    first.wait()
    assert producer.wait(timeout=120) == 0
    at_kill, _ = committed_now(kafka_admin, kafka_bootstrap, topics)
    published_first = set(event_ids(consume_records(kafka_bootstrap, topics.anomalies)))

    second = start_detector(topics)
    outcome = settle(kafka_admin, kafka_bootstrap, topics, total)
    print(f"first scored >= {seen:.0f}, committed {at_kill} when killed")
    assert_complete(outcome, total)
    assert 0 < sum(at_kill.values()) < total, "the kill was not mid-stream"
    # The restart starts at the commit and reads each record after it once.
    assert second.sample("detector_records_total") == total - sum(at_kill.values())
    # Only the uncommitted tail is read twice: duplicates are allowed there, nowhere else.
    for event in outcome.duplicates:
        partition, offset = offset_of(event)
        assert offset >= at_kill[partition], f"{event} was committed, then published again"
    # Nothing was committed past an event the first process had not published.
    below = {i for i in outcome.injected if offset_of(i)[1] < at_kill[offset_of(i)[0]]}
    assert below <= published_first
    assert second.stop() == 0


def test_sigterm_mid_batch_exits_0_and_a_restart_reads_nothing_twice(
    start_detector, serve_topics, simulate, kafka_admin, kafka_bootstrap
):
    total = 6000
    topics = serve_topics(partitions=2)
    simulate(topics.readings, total, anomaly_rate=0.02, seed=12)  # a backlog to chew on
    # Scoring made slow (4 ms a reading, 2 s a batch) so the signal lands inside a batch.
    first = start_detector(topics, "--batch-size", "500", "--score-delay-ms", "4")
    first.wait_records(1000)
    before = first.sample("detector_records_total")
    first.proc.send_signal(signal.SIGTERM)
    assert first.wait(timeout=GRACE) == 0
    scored = scored_before_exit(first.log)
    at_stop, _ = committed_now(kafka_admin, kafka_bootstrap, topics)
    print(f"scored {before:.0f} at SIGTERM, {scored} at exit, committed {at_stop}")
    assert scored > before, "the batch in progress at SIGTERM was not finished"
    assert sum(at_stop.values()) == scored, "what it scored is not what it committed"

    second = start_detector(topics)
    outcome = settle(kafka_admin, kafka_bootstrap, topics, total)
    assert_complete(outcome, total)
    assert second.sample("detector_records_total") == total - scored
    assert not outcome.duplicates, "a clean stop left events to be published twice"
    assert second.stop() == 0


def test_scoring_slower_than_max_poll_interval_recovers_without_a_crash_loop(
    start_detector, serve_topics, simulate, kafka_admin, kafka_bootstrap, kafka_client
):
    total = 4000
    topics = serve_topics(partitions=1)
    simulate(topics.readings, total, anomaly_rate=0.02, seed=13)  # one poll can take them all
    # 1 ms a reading: a batch of 4000 takes 4 s, twice max.poll.interval.ms. librdkafka's
    # interval is at least the broker's shortest session, 6 s: 3 ms a reading, 12 s a batch.
    interval, delay = ("6000", "3") if kafka_client == "confluent" else ("2000", "1")
    detector = start_detector(topics, "--max-poll-interval-ms", interval,
                              "--score-delay-ms", delay)
    outcome = settle(kafka_admin, kafka_bootstrap, topics, total, timeout=180)
    print("".join(line for line in detector.lines if "WARNING" in line))
    assert detector.proc.poll() is None, "the detector exited"
    assert "lost (membership expired)" in detector.log, "no batch outlasted the poll interval"
    assert "polling at most" in detector.log  # it fits its batches to the interval since
    assert_complete(outcome, total)
    assert detector.stop() == 0
