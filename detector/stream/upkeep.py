"""What the serve loop does between batches on a timer: the lag probe and a full collection."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable

from detector.stream.metrics import Metrics
from detector.stream.ports import BrokerError, Source

log = logging.getLogger(__name__)


class Upkeep:
    """Every lag_interval, the consumer lag (which also probes the broker); every
    collect_interval, a full garbage collection."""

    def __init__(self, consumer: Source, metrics: Metrics, lag_interval: float,
                 collect_interval: float, broker_answered: Callable[[bool], None]) -> None:
        self.consumer = consumer
        self.metrics = metrics
        self.lag_interval = lag_interval
        self.collect_interval = collect_interval
        self.broker_answered = broker_answered
        self.next_lag = 0.0
        self.next_collect = time.monotonic() + collect_interval

    def tick(self) -> None:
        """Do what is due."""
        now = time.monotonic()
        if now >= self.next_lag:
            self.next_lag = now + self.lag_interval
            self.update_lag()
        if now >= self.next_collect:
            # serve makes young collections rare (detector.cli.serve.collect_rarely), so without
            # this the cycles that reach the oldest generation wait long and the RSS creeps up
            self.next_collect = now + self.collect_interval
            gc.collect()

    def update_lag(self) -> None:
        """Readings behind on each assigned partition; tells whether the broker answers."""
        try:
            ends = self.consumer.end_offsets(self.consumer.assignment())
            lag = {tp.partition: end - self.consumer.position(tp) for tp, end in ends.items()}
        except BrokerError as exc:
            log.debug("lag: %s", exc)
            self.broker_answered(False)
            return
        self.broker_answered(True)
        self.metrics.set_lag(lag)
