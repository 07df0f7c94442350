"""A windowed model with a persistence rule served from Kafka flags what `detector score` does;
so does one whose slow channels are centred and whose error is its worst channel's.

The first runs on both Kafka clients (the windows hold each device's readings in the order the
client hands them over); the second only on kafka-python: centring and the worst channel are the
model's arithmetic above the seam, the same with either client (docs/testing.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.bundles import SERVE, Bundles, assert_same_alarms

WINDOW, DEVICES, COUNT = 5, 6, 3000


def window_bundle(trained_bundle: Bundles, *extra: str) -> Path:
    """The serve bundle's training on windows of five readings, alarming on 2 of the last 3."""
    return trained_bundle(*SERVE, "--window", str(WINDOW), "--persistence", "2/3", *extra)


def assert_online_matches_offline(bundle: Path, start_detector, serve_topics, simulate,
                                  consume_all, tmp_path: Path) -> None:
    """Served from three partitions, the bundle flags what `detector score` flags offline."""
    topics = serve_topics(partitions=3)
    detector = start_detector(topics, model=bundle)
    detector.wait_ready()

    simulate(topics.readings, COUNT, anomaly_rate=0.01, seed=11, devices=DEVICES)
    filling = DEVICES * (WINDOW - 1)
    detector.wait_records(COUNT - filling)
    detector.wait_for(lambda: detector.sample("detector_window_filling_records_total")
                      == filling, "every device's first readings held")

    readings = [json.loads(r.value) for r in consume_all(topics.readings, min_records=COUNT)]
    assert_same_alarms(bundle, readings, lambda n: consume_all(topics.anomalies,
                                                                min_records=n), tmp_path)
    assert detector.sample("detector_records_total") == COUNT - filling
    assert detector.sample("detector_model_info", version=json.loads(
        (bundle / "bundle.json").read_text())["version"], channels=",".join(
        f"col_{i}" for i in range(1, 6)), window=str(WINDOW), calibration="pot") == 1
    assert detector.stop() == 0


@pytest.mark.both_clients  # docs/testing.md: what runs on both clients
def test_windowed_persistent_alarms_online_match_offline(
    trained_bundle, start_detector, serve_topics, simulate, consume_all, tmp_path
):
    assert_online_matches_offline(window_bundle(trained_bundle), start_detector, serve_topics,
                                  simulate, consume_all, tmp_path)


def test_centred_slow_channels_and_the_worst_channel_online_match_offline(
    trained_bundle, start_detector, serve_topics, simulate, consume_all, tmp_path
):
    bundle = window_bundle(trained_bundle, "--slow-channels", "centre", "--combine", "max")
    assert_online_matches_offline(bundle, start_detector, serve_topics, simulate, consume_all,
                                  tmp_path)
