"""`detector serve` hot reload: a bad new bundle keeps the old model, a good one takes over.

(Start and stop under faults, and bad configuration, are the fault suite's: test_faults_*.py.)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

SPIKE = {"device": "pump-9", "seq": 1, "ts": 1764301234.0, "values": [10, 1000, 10, 1000, 10]}


# The serve bundle's training with another seed: a retrained model with a version of its own.
RETRAINED = ("--simulate", "10000", "--epochs", "10", "--seed", "1")


def swap_in(source: Path, target: Path) -> dict:
    """Put a copy of the bundle source in target's place at once; its bundle.json."""
    staged = target.with_name(target.name + ".new")
    shutil.copytree(source, staged)
    shutil.rmtree(target)
    staged.rename(target)
    return json.loads((target / "bundle.json").read_text())


def test_hot_reload_keeps_the_old_model_on_a_bad_bundle_and_swaps_in_a_good_one(
    start_detector, serve_topics, serve_bundle, trained_bundle, tmp_path, kafka_producer,
    consume_all
):
    retrained = trained_bundle(*RETRAINED)
    model = tmp_path / "model"
    shutil.copytree(serve_bundle, model)
    old = json.loads((model / "bundle.json").read_text())
    topics = serve_topics()
    detector = start_detector(topics, "--reload-interval", "0.2", model=model)
    detector.wait_ready()

    (model / "bundle.json").write_text("{ this is not json")
    detector.wait_for(lambda: detector.sample("detector_model_reloads_total",
                                              result="error") == 1, "a failed reload")
    info = {dict(labels).get("version") for (name, labels) in detector.metrics()
            if name == "detector_model_info"}
    assert info == {old["version"]}

    new = swap_in(retrained, model)
    detector.wait_for(lambda: detector.sample("detector_model_reloads_total",
                                              result="success") == 1, "a reload")
    kafka_producer.send(topics.readings, key=b"pump-9", value=json.dumps(SPIKE).encode())
    [event] = [json.loads(r.value) for r in consume_all(topics.anomalies, min_records=1)]

    assert event["model_version"] == new["version"] != old["version"]
    assert event["threshold"] == pytest.approx(new["calibration"]["threshold"])
    assert detector.sample("detector_threshold") == pytest.approx(event["threshold"])
    assert detector.sample("detector_model_reloads_total", result="error") == 1
    assert detector.stop() == 0
