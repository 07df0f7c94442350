"""The serve loop: poll a batch, decode, score it in one call, publish, commit once acknowledged.

Delivery is at-least-once. A batch's offsets (the next offset of each partition) are committed
only once the broker has acknowledged every anomaly event and dead letter of the batch and of
every batch before it (detector.stream.outbox: the wait overlaps with the next batch). A send that
fails is retried with exponential backoff (1 s, 2 s, 4 s ... capped at 30 s); after
`send_attempts` attempts the daemon stops with DeliveryError (exit status 3) and commits nothing
past the failed batch. The loop never waits for the broker longer than a tick without polling:
while the outbox is full or backing off it pauses its partitions and polls on
(detector.stream.backpressure), so the group keeps the member. A rebalance waits a bounded while
for the acknowledgements and commits before the partitions go; SIGTERM does the same before
leaving. So a record may be read twice (after a crash or a lost membership) but is never skipped;
consumers of the anomaly topic de-duplicate by `event_id`.

The broker is behind detector.stream.ports: kafka-python's clients in production, the in-memory
ones of detector.brokers.inmemory in unit tests.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

import numpy as np

from detector.core.inference import one_blas_thread
from detector.errors import NotAllowed
from detector.stream.backpressure import Backpressure
from detector.stream.memory import DeviceMemory
from detector.stream.messages import dead_letter_messages, event_messages, labels_of
from detector.stream.metrics import Metrics
from detector.stream.offsets import Committer, Rebalance
from detector.stream.outbox import Outbox
from detector.stream.ports import (
    Batch,
    BrokerError,
    Joined,
    NotAuthorized,
    Offsets,
    Sink,
    Source,
)
from detector.stream.reloader import Model, Reloader
from detector.stream.settings import Options, Topics
from detector.stream.upkeep import Upkeep
from detector.stream.warmup import Warmup

log = logging.getLogger(__name__)


class Daemon:
    """Consumes readings and publishes events with the collaborators it is given."""

    def __init__(self, consumer: Source, producer: Sink, model: Model, metrics: Metrics,
                 topics: Topics = Topics(), options: Options = Options(),
                 reloader: Reloader | None = None) -> None:
        self.consumer = consumer
        self.producer = producer
        self.model = model
        self.metrics = metrics
        self.topics = topics
        self.options = options
        self.reloader = reloader
        self.partitions: list[int] = []
        self.max_records = options.max_records  # halved when a batch outlasts the poll interval
        self.scored = 0  # readings scored by this process
        self.rejected = 0  # records it sent to the dead-letter topic
        self.broker_ok = True
        self.stepped = time.monotonic()  # when the loop last began a step (liveness)
        self.stopping = threading.Event()
        self.outbox = Outbox(producer, self.stopping, options.send_attempts, options.backoff,
                             options.backoff_max, options.send_timeout)
        self.backpressure = Backpressure(consumer, self.outbox)
        self.offsets = Committer(consumer, self.broker_answered)
        self.memory = memory_for(model, options.max_devices)
        self.warmup = Warmup(consumer, self.warmup_bound(), metrics)
        self.revoked: deque[int] = deque()  # partitions taken away (from the consumer's thread)
        self.upkeep = Upkeep(consumer, metrics, options.lag_interval, options.collect_interval,
                             self.broker_answered)
        metrics.set_model(model.bundle.meta)

    def stop(self) -> None:
        """Ask the loop to finish its batch, commit and return (safe from a signal handler)."""
        self.stopping.set()

    def readiness(self) -> tuple[bool, dict[str, object]]:
        """Ready when a model is loaded, partitions are assigned and warmed up, the broker
        answers and events are acknowledged (none waits longer than ack_patience)."""
        parts, ok, stalled = self.partitions, self.broker_ok, self.outbox.stalled()
        warming = self.warmup.partitions
        publishing = stalled <= self.options.ack_patience
        ready = bool(parts) and ok and publishing and not warming and not self.stopping.is_set()
        delivery = "ok" if publishing else f"no acknowledgement for {stalled:.0f} s"
        return ready, {"model": self.model.version, "partitions": parts, "warming": warming,
                       "broker": "ok" if ok else "unreachable", "delivery": delivery}

    def liveness(self) -> tuple[bool, dict[str, object]]:
        """Alive while the loop steps: a step longer than max.poll.interval plus a minute (past
        every retry's wait) is a wedged loop, which only a restart mends."""
        quiet = time.monotonic() - self.stepped
        return quiet <= self.options.max_poll_interval + 60, {"since_step_s": round(quiet, 1)}

    def run(self) -> None:
        """Join the group and process batches until stop(); then commit and close."""
        one_blas_thread()  # the model's small matrix products: worker threads only wait for cores
        self.join()
        try:
            while not self.stopping.is_set():
                self.step()
            self.settle(closing=True)  # the last batches' acknowledgements, then their commit
        finally:
            self.close()

    def join(self) -> None:
        """Subscribe to the readings with the listener that commits before partitions go."""
        listener = Rebalance(self.offsets, self.handover, self.revoked.extend,
                             self.warmup.arrived.extend)
        self.consumer.subscribe(self.topics.readings, listener)

    def handover(self) -> Offsets:
        """Before partitions go (in the consumer's thread): the offsets of the batches the broker
        acknowledges within revoke_wait. The consumer sends no heartbeat meanwhile, so no longer:
        past the session timeout the group would expel this member. The other batches stay with
        the outbox; their offsets are committed only for partitions this member still holds once
        they are acknowledged, so a departed partition's new owner reads those records again."""
        offsets = self.outbox.acknowledged(self.options.revoke_wait)
        if self.outbox:
            log.warning("on revocation: %d batch(es) not acknowledged within %g s; the departing "
                        "partitions' records among them are left to their next owner",
                        len(self.outbox), self.options.revoke_wait)
        return offsets

    def step(self) -> None:
        """One poll and the processing of what it returns."""
        self.swap_model()
        started = self.stepped = time.monotonic()
        # With batches sent but not committed, a poll that finds nothing returns soon, so their
        # commit follows the end of a burst within settle_poll_ms rather than a full poll timeout.
        pending = bool(self.outbox) or self.offsets.pending()
        timeout = self.options.settle_poll_ms if pending else self.options.poll_timeout_ms
        try:
            batch = self.consumer.poll(timeout, self.max_records)
        except NotAuthorized as exc:  # an ACL missing: waiting does not help
            raise NotAllowed(f"the broker refuses to let this detector read {self.topics.readings}"
                             f" in its group ({exc}): grant its Kafka user READ on"
                             " the topic and the group (docs/operations.md, ACLs)") from None
        except BrokerError as exc:
            log.warning("poll failed (%s); retrying in %g s", exc, self.options.backoff)
            self.broker_answered(False)  # the next lag probe or commit says when it is back
            self.stopping.wait(self.options.backoff)
            return
        self.forget_revoked()  # a rebalance runs inside poll: before any reading is scored
        batch = self.warmup.assigned(batch)  # new partitions first replay what came before
        self.partitions = sorted(tp.partition for tp in self.consumer.assignment())
        if batch:
            began = time.monotonic()
            self.handle(batch)
            self.fit_batch(sum(map(len, batch.values())), time.monotonic() - began)
        elif time.monotonic() - started < min(0.05, timeout / 4000):  # gave up at once
            self.stopping.wait(self.options.idle)
        self.settle(idle=not batch)
        self.backpressure.apply()  # before the next poll: hold back while the outbox is blocked
        self.upkeep.tick()

    def fit_batch(self, size: int, seconds: float) -> None:
        """Halve the batch when one took over half of max.poll.interval.ms, so the next fits.

        Past that interval the group counts this member as gone and its uncommitted batch is read
        again: without a smaller batch a slow model would redo the same work forever.
        """
        limit = self.options.max_poll_interval
        if seconds <= limit / 2 or self.max_records <= 1:
            return
        self.max_records = max(1, min(self.max_records, size) // 2)
        log.warning("a batch of %d readings took %.1f s, over half of max.poll.interval.ms "
                    "(%.0f s): polling at most %d readings per batch from now on",
                    size, seconds, limit, self.max_records)

    def settle(self, idle: bool = False, closing: bool = False) -> None:
        """Commit the offsets of the batches the broker has acknowledged.

        While busy the commit is asynchronous; idle or closing it waits for the commit. Only
        closing waits for the acknowledgements (up to the send timeout); otherwise a full outbox
        waits a tick at most, and the loop polls on (paused while the outbox stays blocked).
        """
        if self.outbox:
            wait = (self.outbox.timeout if closing
                    else self.options.tick if self.outbox.full() else 0.0)
            self.offsets.add(self.outbox.done(wait))
        if idle or closing:
            self.offsets.commit()
        else:
            self.offsets.commit_async()

    def broker_answered(self, ok: bool) -> None:
        """Note whether the broker answers (for /healthz), saying so when it changes."""
        if ok and not self.broker_ok:
            log.info("the broker answers again")
        elif not ok and self.broker_ok:
            log.warning("the broker does not answer; waiting for it")
        self.broker_ok = ok

    def handle(self, batch: Batch) -> None:
        """Replay what a warming partition read before where it resumes; process the rest."""
        replay, live = self.warmup.split(batch)
        if replay:
            self.warmup.replay(replay, self.model, self.memory)
        if self.warmup.warming:  # before the live readings join the memory
            self.warmup.finish(self.memory.history.held, self.model.scorer.window - 1)
        if live:
            self.process(live)

    def process(self, batch: Batch) -> None:
        """Score a polled batch, hand its events and dead letters to the outbox, count it."""
        started = time.perf_counter()
        parts = list(batch.values())
        records = parts[0] if len(parts) == 1 else Joined(parts)
        model = self.model
        readings = model.decoder.decode(records.values())
        if self.options.score_delay:
            time.sleep(self.options.score_delay * len(readings))
        partitions = None
        if self.memory.active:  # it remembers each device's partition
            partitions = np.repeat([tp.partition for tp in batch],
                                   [len(p) for p in parts])[readings.index]
        windows, rows = self.memory.windows(readings.device, partitions, readings.values)
        scores = model.scorer.score(windows)
        flagged = self.memory.flags(readings.device, rows, model.rule.above(scores.score),
                                    scores.error)
        scored = readings if len(rows) == len(readings) else readings.take(rows)
        now = time.time()
        topics = self.topics
        messages = event_messages(topics.readings, topics.anomalies, records, scored, scores,
                                  flagged, model, now)
        messages += dead_letter_messages(topics.dlq, records, readings)
        self.outbox.submit(messages, {tp: part[-1].offset + 1 for tp, part in batch.items()})
        labels = labels_of(records.headers())
        if len(scored) < len(records):
            labels = [labels[i] for i in scored.index.tolist()]
        self.metrics.record_batch(scores.error, scores.score, flagged, scores.top_channel,
                                  now - scored.ts, labels, now)
        if readings.rejected:
            self.metrics.count_rejected(r.reason for r in readings.rejected)
        if len(scored) < len(readings):
            self.metrics.window_filling.inc(len(readings) - len(scored))
        self.scored += len(scored)
        self.rejected += len(readings.rejected)
        self.metrics.batch_duration.observe(time.perf_counter() - started)

    def forget_revoked(self) -> None:
        """Drop what is remembered of the devices of partitions revoked since the last poll."""
        if not self.revoked:
            return
        gone = set()
        while self.revoked:
            gone.add(self.revoked.popleft())
        self.warmup.revoked(gone)
        forgotten = self.memory.forget_partitions(gone)
        if forgotten:
            log.info("forgot the windows of %d device(s) of revoked partition(s)", forgotten)

    def swap_model(self) -> None:
        """Between batches: take a newly loaded model from the reloader."""
        model = self.reloader.take() if self.reloader is not None else None
        if model is None:
            return
        old, self.model = self.model.version, model
        self.memory = memory_for(model, self.options.max_devices)  # windows of the old model go
        self.warmup.bound = self.warmup_bound()
        self.warmup.again()  # rebuilt from the log for the new model's windows
        self.metrics.set_model(model.bundle.meta)
        self.metrics.reloads.labels(result="success").inc()
        log.info("now serving model %s (was %s)", model.version, old)

    def warmup_bound(self) -> int:
        """Records to replay per partition: none when the model keeps nothing per device."""
        return self.options.warmup_records if self.memory.active else 0

    def close(self) -> None:
        """Close the clients (also after a failure: nothing more is committed)."""
        if self.reloader is not None:
            self.reloader.stop()
        try:
            self.consumer.close()
        except Exception as exc:  # closing must not hide why the loop ended
            log.warning("closing the consumer: %s", exc)
        try:
            self.producer.close()
        except Exception as exc:
            log.warning("closing the producer: %s", exc)


def memory_for(model: Model, max_devices: int) -> DeviceMemory:
    """A fresh per-device memory for a model's window, persistence and follow rule."""
    return DeviceMemory(model.scorer.window, len(model.channels), model.rule.persistence,
                        max_devices, model.rule.follow)
