"""Warm-up: rebuild each device's windows, persistence bits and follow history from the partition.

A windowed model, a persistence rule or a threshold that follows the usual error needs each
partition next (after a rebalance, a restart, a crash, a replica joining or leaving) would start
every device empty and leave its next window − 1 readings unscored. So on every new assignment,
and after a hot reload, the serve loop seeks each partition back at most `bound` records before
where it resumes and replays that stretch into device memory only: no events, no dead letters,
no scored metrics, no commits. The replayed readings were scored by whoever read them first.
A partition is not ready while it warms up; `/healthz` and `detector_partitions_warming` say so,
and the time each took is logged and exported. A device whose history lies beyond the bound
starts its windows afresh: counted in `detector_warmup_short_devices_total` and logged.
"""

from __future__ import annotations

import logging
import time
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Collection, Hashable, Mapping
from dataclasses import dataclass, field

import numpy as np

from detector.stream.memory import DeviceMemory
from detector.stream.metrics import Metrics
from detector.stream.ports import Batch, BrokerError, Partition, Record, Source
from detector.stream.reloader import Model

log = logging.getLogger(__name__)


@dataclass
class Warming:
    """One partition on its way back: replay records before `until`, the offset it resumes at."""

    until: int
    cut: bool  # the bound left older records of the partition unread
    started: float = field(default_factory=time.monotonic)
    replayed: int = 0
    devices: set[str] = field(default_factory=set)  # of the replayed readings, when cut


class Warmup:
    """Which assigned partitions warm up, and which records of a batch are replayed."""

    def __init__(self, consumer: Source, bound: int, metrics: Metrics) -> None:
        self.consumer = consumer
        self.bound = bound
        self.metrics = metrics
        self.arrived: deque[Partition] = deque()  # assigned, told by the rebalance listener
        self.live: set[Partition] = set()  # partitions whose device memory is this process's
        self.warming: dict[Partition, Warming] = {}

    @property
    def partitions(self) -> list[int]:
        """The numbers of the partitions warming up."""
        return sorted(tp.partition for tp in self.warming)

    def revoked(self, numbers: Collection[int]) -> None:
        """Partitions taken away (by number): a later assignment of them warms up again."""
        for tp in [tp for tp in self.live if tp.partition in numbers]:
            self.live.discard(tp)
            self.warming.pop(tp, None)

    def assigned(self, batch: Batch) -> Batch:
        """After a poll: start warming the partitions assigned since (as the rebalance listener
        told); the batch without them (they are read again from where the replay starts). A
        partition no longer assigned stops warming."""
        if not self.bound:
            return batch
        current = self.consumer.assignment()
        for tp in [tp for tp in self.warming if tp not in current]:
            del self.warming[tp]
        new = set()
        while self.arrived:
            new.add(self.arrived.popleft())
        new = (new & current) - self.live
        if not new:
            return batch
        firsts = {tp: part[0].offset for tp, part in batch.items() if tp in new and part}
        try:
            sought = self.begin({tp: self.resume_offset(tp, firsts.get(tp)) for tp in new},
                                firsts)
            self.live |= new
        except BrokerError as exc:  # the broker did not answer: warm them up after the next poll
            log.warning("warm-up of partition(s) %s waits for the broker: %s",
                        ", ".join(str(tp.partition) for tp in sorted(new)), exc)
            self.arrived.extend(new)
            for tp, first in firsts.items():
                self.consumer.seek(tp, first)  # read again then
            sought = new
        return {tp: part for tp, part in batch.items() if tp not in sought}

    def resume_offset(self, partition: Partition, polled: int | None) -> int:
        """Where the group resumes a partition: its committed offset; without one, where the
        poll began (`polled`, the first offset it returned) or the position.

        Not the position first: a warm-up cut short by a rebalance leaves the position back in
        the replayed stretch when the same member gets the partition again.
        """
        committed = self.consumer.committed(partition)
        if committed is not None:
            return committed
        return polled if polled is not None else self.consumer.position(partition)

    def again(self) -> None:
        """Warm every assigned partition up again from where it is (a model with new windows);
        if the broker does not answer now, after the next poll."""
        try:
            self.begin({tp: self.consumer.position(tp) for tp in self.consumer.assignment()})
        except BrokerError as exc:
            log.warning("warm-up after the reload waits for the broker: %s", exc)
            self.arrived.extend(self.live)
            self.live.clear()

    def begin(self, resume: Mapping[Partition, int], polled: Mapping[Partition, int] | None = None
              ) -> set[Partition]:
        """Seek each partition to replay what lies before its resume offset, at most `bound`
        records; `polled` gives the first offset of records a poll already returned for it. The
        partitions sought elsewhere (their polled records are read again). Asks the broker first
        and changes nothing when it raises."""
        if not self.bound or not resume:
            return set()
        firsts = self.consumer.first_offsets(list(resume))
        polled, sought = polled or {}, set()
        for tp, until in resume.items():
            start = max(firsts[tp], until - self.bound)
            at = polled.get(tp)
            if at != start and (at is not None or self.consumer.position(tp) != start):
                self.consumer.seek(tp, start)
                sought.add(tp)
            if start < until:
                self.warming[tp] = Warming(until, cut=start > firsts[tp])
                log.info("partition %d: replaying offsets %d-%d into memory before scoring",
                         tp.partition, start, until - 1)
        self.metrics.warming.set(len(self.warming))
        return sought

    def split(self, batch: Batch) -> tuple[Batch, Batch]:
        """(replay, live): the records of a batch to replay, and those to process."""
        if not self.warming:
            return {}, batch  # the hot path: nothing warms up, nothing copied
        replay, live = {}, {}
        for tp, part in batch.items():
            state = self.warming.get(tp)
            cut = 0 if state is None else bisect_left(part, state.until, key=offset_of)
            if state is not None and cut:
                replay[tp] = part[:cut]
                state.replayed += cut
            if cut < len(part):
                live[tp] = part[cut:]
        return replay, live

    def replay(self, batch: Batch, model: Model, memory: DeviceMemory) -> None:
        """Rebuild `memory` from records read before, with the served `model`: windows, and
        persistence bits and a follow rule's history where a rule needs them; nothing else."""
        for tp, part in batch.items():
            readings = model.decoder.decode(part.values())
            partitions = np.full(len(readings), tp.partition)
            windows, rows = memory.windows(readings.device, partitions, readings.values)
            if memory.keeps_flags:
                scores = model.scorer.score(windows)
                memory.flags(readings.device, rows, model.rule.above(scores.score), scores.error)
            state = self.warming[tp]
            if state.cut:
                state.devices.update(readings.device)

    def finish(self, held: Callable[[Hashable], int], needed: int) -> None:
        """Partitions whose replay is done: log, export and forget them. `held(device)` says how
        many readings a device holds, `needed` how many the next window takes."""
        for tp, state in list(self.warming.items()):
            if self.consumer.position(tp) < state.until:
                continue
            del self.warming[tp]
            seconds = time.monotonic() - state.started
            short = sum(1 for device in state.devices if held(device) < needed)
            self.metrics.warmup_duration.observe(seconds)
            self.metrics.warmup_records.inc(state.replayed)
            self.metrics.warmup_short.inc(short)
            log.info("partition %d warmed up: %d record(s) replayed in %.2f s%s", tp.partition,
                     state.replayed, seconds,
                     f"; {short} device(s) start afresh, their history lies beyond the bound "
                     f"of {self.bound} records" if short else "")
        self.metrics.warming.set(len(self.warming))


def offset_of(record: Record) -> int:
    """A record's offset (the key that orders a partition's records)."""
    return record.offset
