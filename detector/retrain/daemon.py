"""The retrain loop: hold the newest readings, run a cycle every N, promote what the gate passes.

The retrainer reads the readings in a consumer group of its own (one retrainer per serving
group, not one per replica) through the serve loop's seam (detector.stream.ports) and commits
what it has held without waiting: a reading it misses or reads twice only changes one window.
When given the anomalies topic it also reads, in a group of its own, the events the serving
replicas published, and remembers which held readings they flagged (by the reading's partition
and offset, from the event's id): those are incidents to the cleaning rule as the champion's
own flags are (docs/lifecycle.md). Every `every` readings per held device it hands the held
window to the child process (detector.retrain.challenger) unless a cycle still runs; the poll
loop never waits for one. A promoted challenger goes into the model directory through the store
(the serving replicas hot-reload it) and, when a model topic is given, onto the topic. Every
outcome is logged with its reason and counted in `detector_retrain_total{outcome}`.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

from detector.lifecycle.memory import Memory
from detector.retrain.challenger import Job, Result
from detector.retrain.held import HeldReadings, Served, Snapshot
from detector.retrain.metrics import RetrainMetrics
from detector.stream.decode import Decoder
from detector.stream.messages import labels_of
from detector.stream.ports import BrokerError, Offsets, Partition, Source

log = logging.getLogger(__name__)
NORMAL_LABELS = ("", "normal")
MAX_RECORDS = 5000  # records per poll
EVENTS_WAIT_MS = 50  # the longest a step waits for anomaly events


class Membership:
    """The retrainer's rebalance listener: nothing to commit first, nothing to rebuild."""

    def revoked(self, partitions: frozenset[Partition]) -> Offsets:
        return {}

    def committed(self, offsets: Offsets, error: BrokerError | None) -> None:
        if error is not None:
            log.info("commit before a rebalance failed: %s", error)

    def assigned(self, partitions: frozenset[Partition]) -> None:
        log.info("reading partition(s) %s", ", ".join(str(p.partition) for p in partitions))

    def lost(self, partitions: frozenset[Partition]) -> None:
        return None


@dataclass(frozen=True)
class Actions:
    """What the retrainer does with the world: run a cycle in the child, end it, install a
    promoted bundle in the model directory, publish the directory's bundle (optional)."""

    submit: Callable[[Job], Future]
    promote: Callable[[str, str], object]
    publish: Callable[[Path], object] | None = None
    abandon: Callable[[], None] = lambda: None


@dataclass(frozen=True)
class Events:
    """Where the serving replicas' anomaly events come from: a consumer and its topic."""

    consumer: Source
    topic: str


class Retrainer:
    """Consumes readings and runs retrain cycles with the collaborators it is given."""

    def __init__(self, consumer: Source, topic: str, model: Path, channels: list[str],
                 held: HeldReadings, every: int, actions: Actions, metrics: RetrainMetrics,
                 work: Path, events: Events | None = None, memory: Memory | None = None
                 ) -> None:
        self.consumer = consumer
        self.topic = topic
        self.events = events
        self.served = Served()
        self.model = model
        self.decoder = Decoder(channels)
        self.held = held
        self.memory = Memory(0) if memory is None else memory  # kept rows that left the window
        self.snap: Snapshot | None = None  # the window the running cycle was given
        self.every = every
        self.actions = actions
        self.metrics = metrics
        self.work = work
        self.since = 0  # readings since the last cycle began
        self.cycles = 0
        self.started = time.monotonic()  # when the running cycle began
        self.running: Future | None = None
        self.stopping = threading.Event()

    def stop(self) -> None:
        """Ask the loop to return after its poll (safe from a signal handler)."""
        self.stopping.set()

    def run(self) -> None:
        """Subscribe and loop until stop(); a cycle still running is abandoned (the champion
        stays, nothing half-promoted: the store installs whole bundles only)."""
        self.consumer.subscribe(self.topic, Membership())
        if self.events is not None:
            self.events.consumer.subscribe(self.events.topic, Membership())
        try:
            while not self.stopping.is_set():
                self.step()
        finally:
            if self.running is not None:
                log.info("stopping: the challenger in training is abandoned")
                self.actions.abandon()
            self.consumer.close()
            if self.events is not None:
                self.events.consumer.close()

    def step(self, timeout_ms: int = 500) -> None:
        """One poll: hold its readings; collect a finished cycle; start one when due."""
        try:
            batch = self.consumer.poll(timeout_ms, MAX_RECORDS)
        except BrokerError as exc:
            if not exc.retriable:
                raise
            log.warning("poll failed (%s); retrying", exc)
            self.stopping.wait(1.0)
            return
        records = [r for part in batch.values() for r in part]
        if records:
            self.hold(records)
            self.consumer.commit_async({tp: part[-1].offset + 1 for tp, part in batch.items()
                                        if part}, self.committed)
        if self.events is not None:
            self.read_events(self.events.consumer)
        if self.running is not None and self.running.done():
            future, self.running = self.running, None
            try:
                self.finish(future.result())
            except Exception as exc:  # the child died or raised: the champion stays
                self.report(Result("failed", f"{type(exc).__name__}: {exc}", "?"))
        devices = max(1, len(self.held.rings))
        if self.running is None and self.since >= self.every * devices:
            self.start()

    def committed(self, offsets: Offsets, error: BrokerError | None) -> None:
        """A commit's answer: a failed one is retried with the next batch's."""
        if error is not None:
            log.debug("commit failed: %s", error)

    def read_events(self, consumer: Source) -> None:
        """Remember which readings of our topic the replicas' anomaly events flagged (a short
        wait: a poll of no time never finishes joining the group)."""
        try:
            batch = consumer.poll(EVENTS_WAIT_MS, MAX_RECORDS)
        except BrokerError as exc:
            if not exc.retriable:
                raise
            log.warning("poll of the anomalies failed (%s); retrying", exc)
            return
        for part in batch.values():
            for record in part:
                where = reading_of(record.value, self.topic)
                if where is not None:
                    self.served.add(*where)
        if batch:
            consumer.commit_async({tp: part[-1].offset + 1 for tp, part in batch.items() if part},
                                  self.committed)
        if len(self.served) > 2 * self.held.held() + MAX_RECORDS:
            self.served.prune(self.held.oldest())

    def hold(self, records: list) -> None:
        """Decode a batch and hold its valid readings with their labels and offsets."""
        readings = self.decoder.decode([r.value for r in records])
        if not len(readings):
            return
        raw = labels_of([r.headers for r in records])
        rows = readings.index.tolist()
        labels = [(raw[i] or b"").decode("utf-8", "replace") for i in rows]
        where = np.array([(records[i].partition, records[i].offset) for i in rows],
                         dtype=np.int64).reshape(-1, 2)
        self.held.add(readings.device, readings.values, labels, where)
        self.since += len(readings)
        self.metrics.held.set(self.held.held())

    def start(self) -> None:
        """Hand the held window to the child."""
        snap = self.held.snapshot(self.served)
        self.served.prune(self.held.oldest())
        anomalous = ~np.isin(snap.labels.astype(str), NORMAL_LABELS)
        self.cycles += 1
        out = self.work / f"challenger-{self.cycles}"
        log.info("retrain cycle %d: %d readings of %d device(s) held, %d labelled anomalous, "
                 "%d flagged by the serving replicas; memory: %d rows of %d device(s)",
                 self.cycles, len(snap), len(self.held.rings), int(anomalous.sum()),
                 int(snap.served.sum()), len(self.memory), self.memory.devices())
        self.since = 0
        self.started = time.monotonic()
        rows, segments = self.memory.rows(self.held.width)
        job = Job(str(self.model), snap.values, anomalous, snap.devices, str(out),
                  self.held.per_device, snap.served, self.every,
                  rows if len(rows) else None, segments if len(rows) else None)
        self.snap = snap
        self.running = self.actions.submit(job)

    def finish(self, result: Result) -> None:
        """Promote a passed challenger (then publish it); log and count every outcome."""
        self.metrics.duration.observe(time.monotonic() - self.started)
        self.remember(result)
        path = result.path
        if result.outcome == "promoted" and path:
            try:
                self.actions.promote(path, f"{result.reason}; {result.cleaning}")
            except Exception as exc:  # the store refused it: nothing served changes
                result = Result("failed", f"promotion refused: {exc}", result.champion,
                                result.challenger)
        if path:
            shutil.rmtree(path, ignore_errors=True)
        self.report(result)
        if result.outcome == "promoted" and self.actions.publish is not None:
            try:
                self.actions.publish(self.model)
            except Exception as exc:  # too large, broker away: the directory still serves it
                log.error("promoted bundle %s not published to the model topic: %s",
                          result.challenger, str(exc).splitlines()[0] if str(exc) else exc)

    def remember(self, result: Result) -> None:
        """The kept readings leaving the window join the memory (detector.lifecycle.memory)."""
        snap, self.snap = self.snap, None
        if snap is None or result.leaving is None or result.leaving_kept is None:
            return
        rows = np.asarray(result.leaving, dtype=np.int64)
        self.memory.add(snap.values[rows], result.leaving_kept, snap.arrival[rows],
                        snap.devices[rows])
        self.memory.forget_except(set(self.held.rings))
        self.metrics.memory.set(len(self.memory))

    def health(self) -> dict[str, object]:
        """What /healthz says: the window held, the flags known, the memory, the cycles."""
        return {"held": self.held.held(), "flagged": len(self.served),
                "memory_rows": len(self.memory), "memory_devices": self.memory.devices(),
                "cycles": self.cycles, "training": self.running is not None}

    def report(self, result: Result) -> None:
        """One log line per cycle, and the count."""
        self.metrics.count(result.outcome)
        cleaning = f" ({result.cleaning})" if result.cleaning else ""
        if result.outcome == "promoted":
            log.info("challenger %s promoted over %s: %s%s", result.challenger,
                     result.champion, result.reason, cleaning)
        elif result.outcome == "rejected":
            log.warning("challenger %s rejected, %s stays: %s%s", result.challenger,
                        result.champion, result.reason, cleaning)
        else:
            log.warning("retrain cycle failed, %s stays: %s%s", result.champion, result.reason,
                        cleaning)


def reading_of(event: bytes | None, topic: str) -> tuple[int, int] | None:
    """(partition, offset) of the reading of `topic` an anomaly event is about (its event_id,
    `topic:partition:offset`), or None for an event of another topic or not one of ours."""
    try:
        name, partition, offset = str(orjson.loads(event or b"")["event_id"]).rsplit(":", 2)
        return (int(partition), int(offset)) if name == topic else None
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
