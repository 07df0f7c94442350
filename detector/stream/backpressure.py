"""Backpressure: while the outbox takes no more batches (more in flight than its depth, or its
oldest batch backing off after a refused send), the serve loop pauses its partitions and goes on
polling; it resumes them once the outbox has room.

Waiting in the outbox instead would stop the polls: past max.poll.interval.ms the group counts
the member gone, and while a rebalance is under way (kafka-python sends no heartbeat between
joining and the next poll) past the session timeout. Paused, a poll returns no record of those
partitions but keeps the membership, the heartbeats and the rebalance listener going; the
position stays, so nothing is skipped or read twice.
"""

from __future__ import annotations

import logging

from detector.stream.outbox import Outbox
from detector.stream.ports import BrokerError, Partition, Source

log = logging.getLogger(__name__)


class Backpressure:
    """Pauses the consumer's assigned partitions while the outbox is blocked."""

    def __init__(self, consumer: Source, outbox: Outbox) -> None:
        self.consumer = consumer
        self.outbox = outbox
        self.paused: set[Partition] = set()  # paused by this loop, not resumed since

    def apply(self) -> None:
        """After a step: pause every assigned partition while the outbox is blocked (again each
        step: a rebalance hands new partitions over unpaused), resume them once it is not.

        A partition paused, then revoked, is resumed when it is assigned again: librdkafka keeps
        a partition's pause across a rebalance (kafka-python does not; resuming is harmless)."""
        blocked = self.outbox.blocked()
        if not blocked and not self.paused:
            return
        try:
            assigned = self.consumer.assignment()
            change = assigned if blocked else self.paused & assigned
            if change:
                (self.consumer.pause if blocked else self.consumer.resume)(change)
        except BrokerError as exc:  # tried again after the next poll
            log.warning("could not %s the partitions: %s", "pause" if blocked else "resume", exc)
            return
        if blocked:
            fresh = change - self.paused
            self.paused |= change
        else:
            fresh = change
            self.paused -= change
        if fresh:
            log.debug("%s partition(s) %s: %d batch(es) in flight", "paused" if blocked
                      else "resumed", ", ".join(str(tp.partition) for tp in sorted(fresh)),
                      len(self.outbox))
