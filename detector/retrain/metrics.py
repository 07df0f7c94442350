"""The retrainer's metrics: how each retrain cycle ended, and the age of the model it guards."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

OUTCOMES = ("promoted", "rejected", "failed")


class RetrainMetrics:
    """`detector_retrain_*` on a registry given by the caller; every outcome at 0 from start."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.retrains = Counter(
            "detector_retrain", "Retrain cycles by outcome: a challenger promoted, rejected by "
            "the gate (the log says why) or failed (too few clean readings, training failed).",
            ["outcome"], registry=registry)
        self.duration = Histogram(
            "detector_retrain_duration_seconds", "Time to train and judge one challenger.",
            buckets=(1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800), registry=registry)
        self.model_age = Gauge(
            "detector_model_age_seconds",
            "Seconds since the model in use was written (its bundle.json's time).",
            registry=registry)
        self.held = Gauge(
            "detector_retrain_window_records",
            "Readings held for the next retrain cycle, all devices together.", registry=registry)
        self.memory = Gauge(
            "detector_retrain_memory_records",
            "Rows the cleaning kept that left the window, remembered for the next retrain "
            "cycles' training (--retrain-memory per device), all devices together.",
            registry=registry)
        for outcome in OUTCOMES:
            self.retrains.labels(outcome=outcome)

    def count(self, outcome: str) -> None:
        """Count one cycle's outcome (one of OUTCOMES)."""
        self.retrains.labels(outcome=outcome).inc()
