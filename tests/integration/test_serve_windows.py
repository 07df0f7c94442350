"""A windowed model with a persistence rule served from Kafka flags what `detector score` does;
so does one whose slow channels are centred and whose error is its worst channel's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.bundles import SERVE, Bundles, assert_same_alarms

pytestmark = pytest.mark.both_clients  # docs/kafka.md: what runs on both clients

WINDOW, DEVICES, COUNT = 5, 6, 3000


@pytest.fixture(scope="session", params=["levels", "centred"])
def window_bundle(trained_bundle: Bundles, request) -> Path:
    """The serve bundle's training on windows of five readings, alarming on 2 of the last 3; and
    the same with `--slow-channels centre --combine max`."""
    extra = ("--slow-channels", "centre", "--combine", "max") if request.param == "centred" else ()
    return trained_bundle(*SERVE, "--window", str(WINDOW), "--persistence", "2/3", *extra)


def test_windowed_persistent_alarms_online_match_offline(
    start_detector, serve_topics, simulate, consume_all, window_bundle, tmp_path
):
    topics = serve_topics(partitions=3)
    detector = start_detector(topics, model=window_bundle)
    detector.wait_ready()

    simulate(topics.readings, COUNT, anomaly_rate=0.01, seed=11, devices=DEVICES)
    filling = DEVICES * (WINDOW - 1)
    detector.wait_records(COUNT - filling)
    detector.wait_for(lambda: detector.sample("detector_window_filling_records_total")
                      == filling, "every device's first readings held")

    readings = [json.loads(r.value) for r in consume_all(topics.readings, min_records=COUNT)]
    assert_same_alarms(window_bundle, readings, lambda n: consume_all(topics.anomalies,
                                                                       min_records=n), tmp_path)
    assert detector.sample("detector_records_total") == COUNT - filling
    assert detector.sample("detector_model_info", version=json.loads(
        (window_bundle / "bundle.json").read_text())["version"], channels=",".join(
        f"col_{i}" for i in range(1, 6)), window=str(WINDOW), calibration="pot") == 1
    assert detector.stop() == 0
