"""A label-less Prometheus histogram filled with whole arrays at once.

prometheus_client's Histogram takes one value per `observe()`, a lock and a Python loop over the
buckets each. Here a batch's array joins a list; the values waiting are counted together, with
NumPy, at the next scrape or once FOLD_AT of them wait. So the serve loop pays an append per
batch, however small, and a scrape sees every value given before it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

import numpy as np
from prometheus_client import CollectorRegistry
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

FOLD_AT = 16_384  # values waiting to be counted before they are counted without a scrape


class BatchHistogram(Collector):
    """A label-less histogram filled with whole arrays at once (values below `floor` count as
    `floor`). The arrays wait until a scrape or until FOLD_AT values wait, then are counted in one
    pass: they must not change once given."""

    def __init__(self, name: str, documentation: str, buckets: Sequence[float],
                 registry: CollectorRegistry, floor: float | None = None) -> None:
        self.name = name
        self.documentation = documentation
        self.bounds = np.array([*sorted(buckets), np.inf])
        self.floor = floor
        self.counts = np.zeros(len(self.bounds), dtype=np.int64)
        self.sum = 0.0
        self.waiting: list[np.ndarray] = []
        self.singles: list[float] = []  # observe()'s values
        self.held = 0  # values waiting
        self.lock = threading.Lock()
        registry.register(self)

    def observe_many(self, values: np.ndarray) -> None:
        """Count every value of the array (NaN counts in +Inf and is left out of the sum)."""
        values = np.asarray(values)
        if not values.size:
            return
        with self.lock:
            self.waiting.append(values)
            self.held += values.size
            if self.held >= FOLD_AT:
                self.fold()

    def observe(self, value: float) -> None:
        """Count one value."""
        with self.lock:
            self.singles.append(value)
            self.held += 1
            if self.held >= FOLD_AT:
                self.fold()

    def fold(self) -> None:
        """Count the values waiting (the lock held)."""
        if not self.held:
            return
        values = np.concatenate([np.asarray(v, dtype=np.float64).ravel() for v in self.waiting]
                                + [np.asarray(self.singles, dtype=np.float64)])
        self.waiting, self.singles, self.held = [], [], 0
        if self.floor is not None:
            np.maximum(values, self.floor, out=values)
        counts = np.bincount(np.searchsorted(self.bounds, values, side="left"),
                             minlength=len(self.bounds))[: len(self.bounds)]
        total = float(values.sum())  # NaN only when a value is (nansum costs 4 sums' time)
        if total != total:
            counts[-1] += np.count_nonzero(np.isnan(values))
            total = float(np.nansum(values))
        self.counts += counts
        self.sum += total

    def collect(self) -> Iterable[HistogramMetricFamily]:
        with self.lock:
            self.fold()
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


def go_float(value: float) -> str:
    """A bucket bound as Prometheus writes it (prometheus_client's helper is untyped)."""
    return str(floatToGoString(value))  # type: ignore[no-untyped-call]
