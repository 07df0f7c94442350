"""What the default model promises on fresh simulated data: its false-alarm rate and its recall."""

import numpy as np
import pytest

from detector.core.alarm import above_threshold
from detector.core.bundle import load_bundle
from detector.core.scoring import Scorer
from producer.simulator import Simulator, normal_values


@pytest.mark.parametrize("method", ["pot", "quantile"])
def test_false_alarm_rate_on_fresh_normal_readings_meets_the_target(bundles, method):
    scorer = Scorer(load_bundle(bundles[method]))
    fresh = normal_values(100_000, devices=10, seed=2026)
    far = np.mean(above_threshold(scorer.score(fresh).score))
    assert 0.0005 <= far <= 0.002, far


@pytest.mark.parametrize("kind", ["spike", "correlation_break"])
def test_spikes_and_correlation_breaks_are_caught(bundles, kind):
    scorer = Scorer(load_bundle(bundles["pot"]))
    block = Simulator(devices=10, anomaly_rate=0.01, seed=77).block(10_000)
    rows = np.asarray(block.label) == kind
    assert rows.sum() >= 100
    recall = np.mean(above_threshold(scorer.score(block.values[rows]).score))
    assert recall >= 0.99, recall
