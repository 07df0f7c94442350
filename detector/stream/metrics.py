"""Every `detector_` metric of the design, on a registry given by the caller, updated per batch.

Histograms of per-reading values (error, score, event lag) and of batch durations are
detector.stream.histogram's, filled with whole arrays: a small batch costs an append, not a
dozen NumPy calls.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from detector.stream.decode import REASONS
from detector.stream.histogram import BatchHistogram
from shared.wire import LABELS

OTHER_LABEL = "other"  # a `label` header the simulator never sends
RELOAD_RESULTS = ("success", "error")


def decades(low: int, high: int) -> tuple[float, ...]:
    """1-2-5 steps from 10**low to 10**high."""
    steps = [float(f"{m}e{e}") for e in range(low, high) for m in (1, 2, 5)]
    return (*steps, float(f"1e{high}"))


ERROR_BUCKETS = decades(-5, 3)  # in (squared, or for --residual absolute plain) standard units
SCORE_BUCKETS = (0.1, 0.25, 0.5, 0.75, 0.9, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 100.0, 1000.0)
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
               30.0, 60.0, 300.0)
BATCH_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

class Metrics:
    """The detector's metrics. Labelled series that must exist from start-up are made at 0."""

    def __init__(self, registry: CollectorRegistry, labels: Sequence[str] = LABELS) -> None:
        self.labels = [*labels, OTHER_LABEL]
        self.add_scoring(registry)
        self.add_state(registry)
        self.add_warmup(registry)
        for reason in REASONS:
            self.rejected.labels(reason=reason)
        for result in RELOAD_RESULTS:
            self.reloads.labels(result=result)
        self.labelled_series = {(label, flagged): self.labelled.labels(label=label, flagged=flagged)
                                for label in self.labels for flagged in ("false", "true")}
        # each known label, as bytes (a header's) and as text: its (not flagged, flagged) series
        self.label_series = {key: (self.labelled_series[name, "false"],
                                   self.labelled_series[name, "true"])
                             for name in self.labels for key in (name, name.encode())}
        self.lag_partitions: set[str] = set()
        self.channels: list[str] = []
        self.anomaly_series: list[Any] = []  # of each channel, in the model's order

    def add_scoring(self, registry: CollectorRegistry) -> None:
        """What each batch adds: readings, anomalies, rejections, errors, scores, lag, time."""
        self.records = Counter("detector_records", "Readings scored.", registry=registry)
        self.anomalies = Counter(
            "detector_anomalies", "Readings flagged as anomalous, by their top channel.",
            ["channel"], registry=registry)
        self.rejected = Counter(
            "detector_rejected", "Records sent to the dead-letter topic, by reason.",
            ["reason"], registry=registry)
        self.error = BatchHistogram(
            "detector_reconstruction_error",
            "Reconstruction error of each reading, in training standard units (squared unless the "
            "bundle says residual absolute).",
            ERROR_BUCKETS, registry)
        self.score = BatchHistogram(
            "detector_anomaly_score", "Anomaly score of each reading (error / threshold).",
            SCORE_BUCKETS, registry)
        self.event_lag = BatchHistogram(
            "detector_event_lag_seconds", "Detection time minus the reading's ts.",
            LAG_BUCKETS, registry, floor=0.0)
        self.batch_duration = BatchHistogram(
            "detector_batch_duration_seconds",
            "Time to decode, score, publish and commit one batch.", BATCH_BUCKETS, registry)

    def add_state(self, registry: CollectorRegistry) -> None:
        """What the service is at: threshold, freshness, lag, model, reloads, labelled counts."""
        self.threshold = Gauge(
            "detector_threshold", "The model's calibrated error threshold.", registry=registry)
        self.last_record = Gauge(
            "detector_last_record_timestamp_seconds",
            "Unix time at which the latest reading was scored.", registry=registry)
        self.consumer_lag = Gauge(
            "detector_consumer_lag_records", "Readings not yet processed, by partition.",
            ["partition"], registry=registry)
        self.model_info = Gauge(
            "detector_model_info", "The model in use (value 1).",
            ["version", "channels", "window", "calibration"], registry=registry)
        self.model_age = Gauge(
            "detector_model_age_seconds",
            "Seconds since the model in use was written (its bundle.json's time).",
            registry=registry)
        self.reloads = Counter(
            "detector_model_reloads", "Attempts to load a changed model bundle, by result.",
            ["result"], registry=registry)
        self.labelled = Counter(
            "detector_labelled_records",
            "Readings that carry a `label` header, by label and whether they were flagged.",
            ["label", "flagged"], registry=registry)
        self.window_filling = Counter(
            "detector_window_filling_records",
            "Valid readings held, not scored: their device's window was not full yet.",
            registry=registry)

    def add_warmup(self, registry: CollectorRegistry) -> None:
        """The warm-up after an assignment, and the calibration the model came with."""
        self.warming = Gauge(
            "detector_partitions_warming",
            "Assigned partitions whose device memory is being rebuilt from the log (not ready).",
            registry=registry)
        self.warmup_duration = Histogram(
            "detector_warmup_duration_seconds",
            "Time to rebuild one partition's device memory from the log.",
            buckets=(0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0), registry=registry)
        self.warmup_records = Counter(
            "detector_warmup_records", "Records replayed into device memory, not scored again.",
            registry=registry)
        self.warmup_short = Counter(
            "detector_warmup_short_devices",
            "Devices left short of a full window because the warm-up bound cut their history.",
            registry=registry)
        self.calibration_quantile = Gauge(
            "detector_calibration_error_quantile",
            "Quantiles of the reconstruction error on held-out normal data at calibration, by "
            "level (0.5 the median, 1 the largest); the label is not `quantile`, which "
            "Prometheus keeps for summaries.",
            ["level"], registry=registry)

    def set_model(self, meta: Mapping[str, Any]) -> None:
        """Describe the model in use: info, threshold, calibration quantiles, channel series."""
        calibration = meta.get("calibration", {})
        self.channels = list(meta["channels"])
        self.model_info.clear()
        self.model_info.labels(
            version=str(meta["version"]),
            channels=",".join(self.channels),
            window=str(meta.get("window", 1)),
            calibration=str(calibration.get("method", "")),
        ).set(1)
        self.threshold.set(float(calibration["threshold"]))
        self.calibration_quantile.clear()
        for key, value in (calibration.get("quantiles") or {}).items():
            name = "1" if key == "max" else str(key)
            if isinstance(value, int | float):
                self.calibration_quantile.labels(level=name).set(float(value))
        self.anomaly_series = [self.anomalies.labels(channel=c) for c in self.channels]

    def record_batch(
        self,
        error: np.ndarray,
        score: np.ndarray,
        flagged: np.ndarray,
        top_channel: np.ndarray,
        lag: np.ndarray,
        labels: Sequence[bytes | str | None],
        now: float,
    ) -> None:
        """Count one batch of scored readings (all arrays row-aligned; kept until counted, so
        they must not change afterwards)."""
        n = len(error)
        if n == 0:
            return
        self.records.inc(n)
        self.error.observe_many(error)
        self.score.observe_many(score)
        self.event_lag.observe_many(lag)  # a negative lag (a clock ahead) counts as 0
        self.last_record.set(now)
        rows = np.flatnonzero(flagged).tolist()
        if rows:
            per_channel = np.bincount(top_channel[rows], minlength=len(self.channels))
            for series, count in zip(self.anomaly_series, per_channel.tolist(), strict=False):
                if count:
                    series.inc(count)
        if len(labels) != n:
            raise ValueError(f"{len(labels)} labels for {n} readings")
        self.count_labels(labels, rows)

    def count_labels(self, labels: Sequence[bytes | str | None], rows: list[int]) -> None:
        """Add readings with a `label` header (raw bytes or text) to the labelled counters;
        `rows` are the flagged ones.

        Counts every label at once, then only the few flagged rows: no per-reading pairs.
        """
        if not any(labels):
            return
        hits = Tally([labels[i] for i in rows]) if rows else {}
        for label, count in Tally(labels).items():
            if not label:
                continue
            series = self.label_series.get(label) or self.label_series[OTHER_LABEL]
            hit = hits.get(label, 0)
            if count > hit:
                series[0].inc(count - hit)
            if hit:
                series[1].inc(hit)

    def count_rejected(self, reasons: Iterable[str]) -> None:
        """Count dead-lettered records by reason."""
        counts: dict[str, int] = {}
        for reason in reasons:
            counts[reason] = counts.get(reason, 0) + 1
        for reason, count in counts.items():
            self.rejected.labels(reason=reason).inc(count)

    def set_lag(self, lag: Mapping[int, int]) -> None:
        """Set the lag of each assigned partition; drop the series of partitions now gone."""
        current = {str(p) for p in lag}
        for gone in self.lag_partitions - current:
            self.consumer_lag.remove(gone)
        for partition, records in lag.items():
            self.consumer_lag.labels(partition=str(partition)).set(max(int(records), 0))
        self.lag_partitions = current
