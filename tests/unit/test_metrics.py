"""The detector's metrics on a fresh registry: names, start-up series, per-batch updates."""

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from detector.stream.decode import REASONS
from detector.stream.metrics import SCORE_BUCKETS, Metrics
from producer.anomalies import KINDS

CHANNELS = ["col_1", "col_2", "col_3", "col_4", "col_5"]
META = {
    "version": "abc123",
    "channels": CHANNELS,
    "window": 1,
    "calibration": {"method": "pot", "threshold": 0.002,
                    "quantiles": {"0.5": 0.0005, "0.99": 0.0015, "max": 0.0021}},
}


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(registry) -> Metrics:
    m = Metrics(registry)
    m.set_model(META)
    return m


def value(registry, name, **labels):
    return registry.get_sample_value(name, labels)


def batch(metrics, score, labels=None, top=None, lag=None, now=1000.0):
    """Record a batch whose errors are score * threshold."""
    score = np.asarray(score, dtype=float)
    n = len(score)
    metrics.record_batch(
        error=score * 0.002,
        score=score,
        flagged=~(score <= 1.0),
        top_channel=np.asarray(top if top is not None else [0] * n),
        lag=np.asarray(lag if lag is not None else [0.01] * n, dtype=float),
        labels=labels if labels is not None else [None] * n,
        now=now,
    )


def test_every_labelled_series_exists_at_zero_from_start_up(registry, metrics):
    for label in ("normal", *KINDS):
        for flagged in ("true", "false"):
            assert value(registry, "detector_labelled_records_total", label=label,
                         flagged=flagged) == 0.0
    for reason in REASONS:
        assert value(registry, "detector_rejected_total", reason=reason) == 0.0
    for result in ("success", "error"):
        assert value(registry, "detector_model_reloads_total", result=result) == 0.0
    for channel in CHANNELS:
        assert value(registry, "detector_anomalies_total", channel=channel) == 0.0
    assert value(registry, "detector_records_total") == 0.0


def test_the_model_is_described(registry, metrics):
    assert value(registry, "detector_threshold") == 0.002
    assert value(registry, "detector_model_info", version="abc123",
                 channels=",".join(CHANNELS), window="1", calibration="pot") == 1.0
    assert value(registry, "detector_calibration_error_quantile", level="0.5") == 0.0005
    assert value(registry, "detector_calibration_error_quantile", level="0.99") == 0.0015
    assert value(registry, "detector_calibration_error_quantile", level="1") == 0.0021


def test_a_new_model_replaces_the_info_series(registry, metrics):
    metrics.set_model({**META, "version": "def456",
                       "calibration": {**META["calibration"], "threshold": 0.003}})
    assert value(registry, "detector_model_info", version="abc123",
                 channels=",".join(CHANNELS), window="1", calibration="pot") is None
    assert value(registry, "detector_model_info", version="def456",
                 channels=",".join(CHANNELS), window="1", calibration="pot") == 1.0
    assert value(registry, "detector_threshold") == 0.003


def test_a_batch_counts_records_and_anomalies_by_top_channel(registry, metrics):
    batch(metrics, [0.2, 3.0, 0.5, 7.0, 1.5], top=[0, 1, 2, 1, 4], now=1234.5)
    assert value(registry, "detector_records_total") == 5
    assert value(registry, "detector_anomalies_total", channel="col_2") == 2
    assert value(registry, "detector_anomalies_total", channel="col_5") == 1
    assert value(registry, "detector_anomalies_total", channel="col_1") == 0
    assert value(registry, "detector_last_record_timestamp_seconds") == 1234.5


def test_histograms_have_the_right_buckets_count_and_sum(registry, metrics):
    batch(metrics, [0.2, 1.0, 1.0000001, 7.0], lag=[0.003, 0.02, 0.02, 2.0])
    assert 1.0 in SCORE_BUCKETS
    assert value(registry, "detector_anomaly_score_bucket", le="1.0") == 2  # le is inclusive
    assert value(registry, "detector_anomaly_score_bucket", le="0.1") == 0
    assert value(registry, "detector_anomaly_score_bucket", le="+Inf") == 4
    assert value(registry, "detector_anomaly_score_count") == 4
    assert value(registry, "detector_anomaly_score_sum") == pytest.approx(9.2000001)
    assert value(registry, "detector_reconstruction_error_count") == 4
    assert value(registry, "detector_reconstruction_error_sum") == pytest.approx(9.2000001 * 0.002)
    assert value(registry, "detector_event_lag_seconds_bucket", le="0.005") == 1
    assert value(registry, "detector_event_lag_seconds_bucket", le="0.025") == 3
    assert value(registry, "detector_event_lag_seconds_count") == 4


def test_bulk_histograms_agree_with_observing_one_by_one(registry, metrics):
    from prometheus_client import Histogram

    rng = np.random.default_rng(0)
    scores = np.concatenate([rng.exponential(0.5, 1000), [1.0, 0.1, 1000.0, 5000.0]])
    reference = Histogram("reference", "r", buckets=SCORE_BUCKETS, registry=registry)
    for s in scores:
        reference.observe(s)
    batch(metrics, scores)
    for le in [*map(str, SCORE_BUCKETS), "+Inf"]:
        assert value(registry, "detector_anomaly_score_bucket", le=le) == value(
            registry, "reference_bucket", le=le)


def test_labelled_counters_split_by_label_and_flag(registry, metrics):
    batch(metrics, [0.1, 5.0, 5.0, 0.3, 2.0, 0.4],
          labels=[b"normal", b"spike", b"spike", b"drift", b"normal", None])
    assert value(registry, "detector_labelled_records_total", label="normal", flagged="false") == 1
    assert value(registry, "detector_labelled_records_total", label="normal", flagged="true") == 1
    assert value(registry, "detector_labelled_records_total", label="spike", flagged="true") == 2
    assert value(registry, "detector_labelled_records_total", label="drift", flagged="false") == 1
    total = sum(
        value(registry, "detector_labelled_records_total", label=label, flagged=f)
        for label in ("normal", *KINDS, "other") for f in ("true", "false")
    )
    assert total == 5  # the reading without a label header is not counted


def test_an_unknown_label_is_counted_as_other(registry, metrics):
    batch(metrics, [3.0], labels=["made-up"])
    assert value(registry, "detector_labelled_records_total", label="other", flagged="true") == 1
    assert value(registry, "detector_labelled_records_total", label="made-up",
                 flagged="true") is None


def test_rejections_are_counted_by_reason(registry, metrics):
    metrics.count_rejected(["decode", "schema", "decode", "too_large"])
    assert value(registry, "detector_rejected_total", reason="decode") == 2
    assert value(registry, "detector_rejected_total", reason="schema") == 1
    assert value(registry, "detector_rejected_total", reason="too_large") == 1
    assert value(registry, "detector_rejected_total", reason="empty") == 0


def test_consumer_lag_follows_the_assigned_partitions(registry, metrics):
    metrics.set_lag({0: 10, 1: 0})
    assert value(registry, "detector_consumer_lag_records", partition="0") == 10
    metrics.set_lag({1: 3})
    assert value(registry, "detector_consumer_lag_records", partition="0") is None
    assert value(registry, "detector_consumer_lag_records", partition="1") == 3


def test_an_empty_batch_changes_nothing(registry, metrics):
    batch(metrics, [])
    assert value(registry, "detector_records_total") == 0
    assert value(registry, "detector_anomaly_score_count") == 0


def test_the_exposition_is_valid_text_with_every_design_metric(registry, metrics):
    batch(metrics, [0.5, 2.0])
    text = generate_latest(registry).decode()
    for name in ("detector_records_total", "detector_anomalies_total", "detector_rejected_total",
                 "detector_reconstruction_error_bucket", "detector_anomaly_score_bucket",
                 "detector_threshold", "detector_batch_duration_seconds_bucket",
                 "detector_event_lag_seconds_bucket", "detector_last_record_timestamp_seconds",
                 "detector_model_info", "detector_model_reloads_total",
                 "detector_labelled_records_total", "detector_calibration_error_quantile"):
        assert f"\n{name}" in text, name
    metrics.set_lag({0: 1})
    assert "detector_consumer_lag_records{" in generate_latest(registry).decode()
