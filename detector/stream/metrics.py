"""Every `detector_` metric of the design, on a registry given by the caller, updated per batch.

Histograms of per-reading values (error, score, event lag) are filled from bucket counts that NumPy
computes for the whole batch, not by one `observe()` per reading.
"""

from __future__ import annotations

import threading
from collections import Counter as Tally
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from detector.stream.decode import REASONS
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


class BatchHistogram(Collector):
    """A label-less histogram filled with whole arrays at once."""

    def __init__(self, name: str, documentation: str, buckets: Sequence[float],
                 registry: CollectorRegistry) -> None:
        self.name = name
        self.documentation = documentation
        self.bounds = np.array([*sorted(buckets), np.inf])
        self.counts = np.zeros(len(self.bounds), dtype=np.int64)
        self.sum = 0.0
        self.lock = threading.Lock()
        registry.register(self)

    def observe_many(self, values: np.ndarray) -> None:
        """Count every value of the array (NaN counts in +Inf and is left out of the sum)."""
        values = np.asarray(values, dtype=np.float64).ravel()
        if not len(values):
            return
        counts = np.bincount(np.searchsorted(self.bounds, values, side="left"),
                             minlength=len(self.bounds))[: len(self.bounds)]
        total = float(values.sum())  # NaN only when a value is (nansum costs 4 sums' time)
        if total != total:
            counts[-1] += np.count_nonzero(np.isnan(values))
            total = float(np.nansum(values))
        with self.lock:
            self.counts += counts
            self.sum += total

    def collect(self) -> Iterable[HistogramMetricFamily]:
        with self.lock:
            cumulative = np.cumsum(self.counts).tolist()
            total = self.sum
        family = HistogramMetricFamily(self.name, self.documentation)
        family.add_metric(
            [], [(go_float(b), c) for b, c in zip(self.bounds, cumulative, strict=True)],
            total,
        )
        yield family

    def describe(self) -> Iterable[HistogramMetricFamily]:
        yield HistogramMetricFamily(self.name, self.documentation)


class Metrics:
    """The detector's metrics. Labelled series that must exist from start-up are made at 0."""

    def __init__(self, registry: CollectorRegistry, labels: Sequence[str] = LABELS) -> None:
        self.labels = [*labels, OTHER_LABEL]
        self.known_labels = set(self.labels)
        self.add_scoring(registry)
        self.add_state(registry)
        self.add_warmup(registry)
        for reason in REASONS:
            self.rejected.labels(reason=reason)
        for result in RELOAD_RESULTS:
            self.reloads.labels(result=result)
        self.labelled_series = {(label, flagged): self.labelled.labels(label=label, flagged=flagged)
                                for label in self.labels for flagged in ("false", "true")}
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
            LAG_BUCKETS, registry)
        self.batch_duration = Histogram(
            "detector_batch_duration_seconds",
            "Time to decode, score, publish and commit one batch.",
            buckets=BATCH_BUCKETS, registry=registry)

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
        """Count one batch of scored readings (all arrays row-aligned)."""
        n = len(error)
        if n == 0:
            return
        self.records.inc(n)
        self.error.observe_many(error)
        self.score.observe_many(score)
        self.event_lag.observe_many(np.maximum(lag, 0.0))
        self.last_record.set(now)
        if flagged.any():
            per_channel = np.bincount(top_channel[flagged], minlength=len(self.channels))
            for series, count in zip(self.anomaly_series, per_channel.tolist(), strict=False):
                if count:
                    series.inc(count)
        self.count_labels(labels, flagged)

    def count_labels(self, labels: Sequence[bytes | str | None], flagged: np.ndarray) -> None:
        """Add readings with a `label` header (raw bytes or text) to the labelled counters.

        Counts every label at once, then only the few flagged rows: no per-reading pairs.
        """
        if len(labels) != len(flagged):
            raise ValueError(f"{len(labels)} labels for {len(flagged)} readings")
        if not any(labels):
            return
        hits = Tally([labels[i] for i in np.flatnonzero(flagged).tolist()])
        for label, count in Tally(labels).items():
            if not label:
                continue
            name = label.decode("utf-8", "replace") if isinstance(label, bytes) else label
            if name not in self.known_labels:
                name = OTHER_LABEL
            hit = hits.get(label, 0)
            if count > hit:
                self.labelled_series[name, "false"].inc(count - hit)
            if hit:
                self.labelled_series[name, "true"].inc(hit)

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


def go_float(value: float) -> str:
    """A bucket bound as Prometheus writes it (prometheus_client's helper is untyped)."""
    return str(floatToGoString(value))  # type: ignore[no-untyped-call]
