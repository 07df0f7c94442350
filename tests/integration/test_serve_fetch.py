"""`--fetch-min-bytes` / `--fetch-wait-ms` on a real broker: fewer, larger batches, nothing lost."""

from __future__ import annotations

import time

COUNT = 3000
WAIT_MS = 300



def held_run(start_detector, serve_topics, simulate, seed: int, *options: str) -> tuple[int, float]:
    """COUNT readings at 2,000/s through a detector with `options`: its batches, the seconds."""
    topics = serve_topics(partitions=2)
    detector = start_detector(topics, *options)
    detector.wait_ready()
    began = time.monotonic()
    simulate(topics.readings, COUNT, rate=2000, seed=seed)
    detector.wait_records(COUNT)
    elapsed = time.monotonic() - began
    assert detector.sample("detector_records_total") == COUNT
    return detector.sample("detector_batch_duration_seconds_count"), elapsed


def test_a_held_fetch_gathers_readings_into_fewer_batches_and_scores_every_one(
    start_detector, serve_topics, simulate
):
    # 100 MB never gathers from a stream of 3,000 readings: every fetch is held the full wait.
    batches, elapsed = held_run(start_detector, serve_topics, simulate, 3, "--fetch-min-bytes",
                                str(100 * 1024 * 1024), "--fetch-wait-ms", str(WAIT_MS))
    # A held fetch answers no sooner than the wait, so at most one batch per wait went by
    # (plus the fetch in flight when the stream began); unheld, every few milliseconds' worth.
    assert 1 <= batches <= elapsed / (WAIT_MS / 1000) + 2, (batches, elapsed)


def test_librdkafka_holds_a_fetch_for_its_bytes_or_wait_and_scores_every_reading(
    start_detector, serve_topics, simulate
):
    # the scale-out setting of docs/performance.md on librdkafka
    batches, elapsed = held_run(start_detector, serve_topics, simulate, 4, "--kafka-client",
                                "confluent", "--fetch-min-bytes", "12000", "--fetch-wait-ms", "40")
    # At 2,000 readings/s, 12,000 bytes take longer than the 40-ms hold, so each fetch is held
    # the whole 40 ms: at most one batch per 40 ms went by. Unheld, the broker would answer each
    # of the producer's batches (one every 5 ms or so).
    assert 1 <= batches <= elapsed / 0.040 + 2, (batches, elapsed)
