"""Offset commits: only acknowledged batches, asynchronously while busy, and on revocation.

The serve loop hands in the offsets of batches whose events and dead letters the broker has
acknowledged. While busy they are committed without waiting; idle or closing, with waiting. When
partitions go to another member, the listener first waits for the outstanding acknowledgements and
commits them, so the new owner starts where this one stopped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection

from detector.stream.ports import (
    BrokerError,
    BrokerUnavailable,
    Offsets,
    Partition,
    RebalanceInProgress,
    Source,
)

log = logging.getLogger(__name__)


class Committer:
    """Acknowledged offsets per partition, and what was asked for and known committed."""

    def __init__(self, consumer: Source, report: Callable[[bool], None],
                 async_interval: float = 0.2) -> None:
        self.consumer = consumer
        self.report = report  # told whether the broker answered a commit
        self.async_interval = async_interval  # seconds between asynchronous commits
        self.next_async = 0.0
        self.acked: Offsets = {}
        self.asked: Offsets = {}
        self.committed: Offsets = {}

    def add(self, offsets: Offsets) -> None:
        """Offsets of newly acknowledged batches (later ones win)."""
        self.acked.update(offsets)

    def pending(self) -> bool:
        """Whether some acknowledged offset is not known to be committed yet."""
        return any(self.committed.get(tp) != o for tp, o in list(self.acked.items()))

    def uncommitted(self, done: Offsets) -> Offsets:
        """Acknowledged offsets of assigned partitions that are not in `done` yet."""
        assigned = self.consumer.assignment()
        for tp in [tp for tp in list(self.acked) if tp not in assigned]:
            self.acked.pop(tp, None)  # no longer ours: its new owner reads from the last commit
        return {tp: o for tp, o in list(self.acked.items()) if done.get(tp) != o}

    def commit_async(self) -> None:
        """Ask for a commit of the new acknowledged offsets without waiting for the answer.

        At most one every async_interval: small batches at a low rate would otherwise each cost
        a commit request (a crash may then read up to that much again, which it may anyway).
        """
        now = time.monotonic()
        if now < self.next_async:
            return
        offsets = self.uncommitted(self.asked)
        if not offsets:
            return
        self.next_async = now + self.async_interval
        self.asked.update(offsets)
        try:
            self.consumer.commit_async(offsets, self.answered)
        except BrokerError as exc:
            self.answered(offsets, exc)

    def answered(self, offsets: Offsets, error: BrokerError | None) -> None:
        """The answer to an asynchronous commit (the consumer calls it in the loop's thread)."""
        if error is not None:
            for tp, o in offsets.items():
                if self.asked.get(tp) == o:
                    self.asked.pop(tp)  # asked again at the next step
            log.warning("offset commit failed (%s); will retry", error)
            self.report(not isinstance(error, BrokerUnavailable))
            return
        self.committed.update(offsets)

    def commit(self) -> None:
        """Commit the acknowledged offsets and wait for the answer (kept to retry on failure)."""
        offsets = self.uncommitted(self.committed)
        if not offsets:
            return
        try:
            self.consumer.commit(offsets)
        except RebalanceInProgress as exc:
            log.warning("offset commit refused while the group rebalances (%s); will retry", exc)
            return
        except BrokerError as exc:
            self.report(False)
            log.warning("offset commit failed (%s); will retry", exc)
            return
        self.committed.update(offsets)
        self.asked.update(offsets)
        self.report(True)

    def forget(self, partitions: Collection[Partition]) -> None:
        """Drop the offsets of partitions that went to another member."""
        for tp in partitions:
            for offsets in (self.acked, self.asked, self.committed):
                offsets.pop(tp, None)


class Rebalance:
    """The loop's rebalance Listener: commits the acknowledged offsets of partitions before they
    go to another member.

    `drain` waits a bounded while for the acknowledgements of the batches in flight (it blocks the
    consumer's IO loop meanwhile, heartbeats included) and returns the offsets acknowledged.
    `gone` is told the numbers of the partitions revoked or lost, `arrived` the partitions
    assigned (from the consumer's thread: they must only queue them).
    """

    def __init__(self, committer: Committer, drain: Callable[[], Offsets],
                 gone: Callable[[list[int]], None] = lambda partitions: None,
                 arrived: Callable[[list[Partition]], None] = lambda partitions: None) -> None:
        self.committer = committer
        self.drain = drain
        self.gone = gone
        self.arrived = arrived

    def revoked(self, partitions: frozenset[Partition]) -> Offsets:
        committer = self.committer
        began = time.monotonic()
        try:
            committer.add(self.drain())
        except Exception as exc:
            log.warning("before revocation: %s", exc)
        waited = time.monotonic() - began
        if waited >= 1.0:
            log.warning("the revocation waited %.1f s for acknowledgements (heartbeats wait "
                        "meanwhile)", waited)
        offsets = {tp: o for tp, o in list(committer.acked.items())
                   if tp in partitions and committer.committed.get(tp) != o}
        committer.forget(partitions)
        self.gone([tp.partition for tp in partitions])
        return offsets

    def committed(self, offsets: Offsets, error: BrokerError | None) -> None:
        if error is None:
            log.info("committed %d partition(s) on revocation", len(offsets))
        else:
            log.warning("commit on revocation failed (%s): these records may be read again",
                        error)

    def assigned(self, partitions: frozenset[Partition]) -> None:
        log.info("assigned partition(s) %s",
                 ", ".join(str(tp.partition) for tp in sorted(partitions)) or "none")
        self.arrived(list(partitions))

    def lost(self, partitions: frozenset[Partition]) -> None:
        log.warning("partition(s) %s lost (membership expired): they may be read again",
                    ", ".join(str(tp.partition) for tp in sorted(partitions)))
        self.committer.forget(partitions)
        self.gone([tp.partition for tp in partitions])
