"""`--fetch-min-bytes` / `--fetch-wait-ms` on a real broker: fewer, larger batches, nothing lost."""

from __future__ import annotations

import time

COUNT = 3000
WAIT_MS = 300


def test_a_held_fetch_gathers_readings_into_fewer_batches_and_scores_every_one(
    start_detector, serve_topics, simulate
):
    topics = serve_topics(partitions=2)
    # 100 MB never gathers from a stream of 3,000 readings: every fetch is held the full wait.
    detector = start_detector(topics, "--fetch-min-bytes", str(100 * 1024 * 1024),
                              "--fetch-wait-ms", str(WAIT_MS))
    detector.wait_ready()
    began = time.monotonic()
    simulate(topics.readings, COUNT, rate=2000, seed=3)
    detector.wait_records(COUNT)
    elapsed = time.monotonic() - began

    batches = detector.sample("detector_batch_duration_seconds_count")
    assert detector.sample("detector_records_total") == COUNT
    # A held fetch answers no sooner than the wait, so at most one batch per wait went by
    # (plus the fetch in flight when the stream began); unheld, every few milliseconds' worth.
    assert 1 <= batches <= elapsed / (WAIT_MS / 1000) + 2, (batches, elapsed)


def test_librdkafka_holds_a_fetch_for_its_bytes_or_wait_and_scores_every_reading(
    start_detector, serve_topics, simulate
):
    topics = serve_topics(partitions=2)
    # the scale-out setting of docs/performance.md on librdkafka
    detector = start_detector(topics, "--kafka-client", "confluent", "--fetch-min-bytes", "12000",
                              "--fetch-wait-ms", "40")
    detector.wait_ready()
    began = time.monotonic()
    simulate(topics.readings, COUNT, rate=2000, seed=4)
    detector.wait_records(COUNT)
    elapsed = time.monotonic() - began

    batches = detector.sample("detector_batch_duration_seconds_count")
    assert detector.sample("detector_records_total") == COUNT
    # At 2,000 readings/s, 12,000 bytes take longer than the 40-ms hold, so each fetch is held
    # the whole 40 ms: at most one batch per 40 ms went by. Unheld, the broker would answer each
    # of the producer's batches (one every 5 ms or so).
    assert 1 <= batches <= elapsed / 0.040 + 2, (batches, elapsed)
