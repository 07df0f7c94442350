"""The outbox: publish each batch's events and dead letters without waiting, and tell, in batch
order, which batches the broker has acknowledged, so only their offsets get committed.

Nothing here waits while the loop runs: waiting for acknowledgements overlaps with polling and
scoring the next batch, and a failed send is sent again on the first call after its backoff
(`backoff` s, doubling, capped at `backoff_max`), not waited out. `blocked()` tells the loop to
take no more batches (more than `depth` in flight, or the oldest backing off): it then pauses its
partitions and goes on polling (detector.stream.backpressure). After `attempts` attempts the
outbox raises DeliveryError and no later batch is reported as done. A send that can never succeed
(a message too large for the broker, a topic the client may not write, an invalid topic or
record) is not retried: DeliveryError is raised at once, naming the real error.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from detector.errors import DetectorError
from detector.stream.ports import Ack, BrokerError, Header, NotAuthorized, Offsets, Sink

log = logging.getLogger(__name__)
Message = tuple[str, bytes | None, bytes | None, list[Header] | None]  # topic, key, value, headers
Send = tuple[Message, Ack]


class DeliveryError(DetectorError):
    """Events or dead letters could not be published: their batch stays uncommitted."""

    exit_code = 3


class Refused:
    """A send that raised at once, shaped like the Ack it did not return."""

    def __init__(self, error: BrokerError) -> None:
        self.refusal = error

    def done(self) -> bool:
        return True

    def error(self) -> BrokerError:
        return self.refusal


def acknowledged(ack: Ack) -> bool:
    """Answered, and not with a refusal."""
    return ack.done() and ack.error() is None


def unsettled(sends: list[Send]) -> tuple[list[Send], list[Send]]:
    """(refused, waiting) of a batch's sends, the acknowledged left out (an acknowledgement is
    final); the waiting looked at once more, as asking an ack may serve the client's answers."""
    refused: list[Send] = []
    waiting: list[Send] = []
    for look in (1, 2):
        still: list[Send] = []
        for send in sends if look == 1 else waiting:
            ack = send[1]
            if not ack.done():
                still.append(send)
            elif ack.error() is not None:
                refused.append(send)
        waiting = still
        if not waiting:
            break
    return refused, waiting


@dataclass
class Pending:
    """One batch: its offsets to commit, its sends, each (message, ack), when it was sent, its
    attempt and, while a refused send waits to be sent again, when."""

    offsets: Offsets
    sends: list[Send]
    since: float = field(default_factory=time.monotonic)
    attempt: int = 1
    retry_at: float | None = None


class Outbox:
    """Batches in flight, oldest first."""

    def __init__(self, producer: Sink, stopping: threading.Event, attempts: int = 6,
                 backoff: float = 1.0, backoff_max: float = 30.0, timeout: float = 30.0,
                 depth: int = 2, clock: Callable[[], float] = time.monotonic) -> None:
        self.producer = producer
        self.stopping = stopping
        self.attempts = attempts
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.timeout = timeout
        self.depth = depth
        self.clock = clock  # when a backoff is over
        self.queue: deque[Pending] = deque()
        self.failure: DeliveryError | None = None  # once delivery gave up: raised on every call
        self.lock = threading.Lock()  # done() runs in the loop and in the rebalance listener

    def __len__(self) -> int:
        return len(self.queue)

    def submit(self, messages: Sequence[Message], offsets: Offsets) -> None:
        """Send a batch's messages (no waiting) and queue its offsets behind them."""
        self.queue.append(Pending(offsets, self.send(messages)))

    def send(self, messages: Sequence[Message]) -> list[Send]:
        """(message, ack) of each message; a send that raises gets a Refused ack."""
        sends: list[Send] = []
        for message in messages:
            topic, key, value, headers = message
            try:
                ack: Ack = self.producer.send(topic, key, value, headers)
            except BrokerError as exc:
                log.debug("send to %s failed at once: %s", topic, exc)
                ack = Refused(exc)
            sends.append((message, ack))
        return sends

    def full(self) -> bool:
        """More batches in flight than its depth."""
        return len(self.queue) > self.depth

    def blocked(self) -> bool:
        """Whether the loop should take no more batches: full, or the oldest backing off."""
        return self.full() or (bool(self.queue) and self.queue[0].retry_at is not None)

    def stalled(self) -> float:
        """Seconds the oldest batch with a send not acknowledged yet has waited (0: none)."""
        for head in list(self.queue):  # a copy: /healthz asks from another thread
            if not all(acknowledged(f) for _, f in head.sends):
                return time.monotonic() - head.since
        return 0.0

    def done(self, wait: float = 0.0) -> Offsets:
        """Offsets of the acknowledged batches, merged, oldest first, after waiting at most `wait`
        seconds for the broker's answers (a flush; none when 0). A refused send of the oldest
        batch is sent again once its backoff is over; no call waits for that."""
        with self.lock:
            if self.failure is not None:  # also when the rebalance listener met it first
                raise self.failure
            if wait:
                self.flush(wait)
            offsets: Offsets = {}
            while self.queue and self.delivered(self.queue[0]):
                offsets.update(self.queue.popleft().offsets)
            return offsets

    def acknowledged(self, within: float) -> Offsets:
        """Offsets of the batches acknowledged within `within` seconds, merged, oldest first: no
        retry, no longer wait (the rebalance listener, which must not keep the consumer from its
        heartbeats). A batch not acknowledged by then, and every later one, stays queued."""
        deadline = time.monotonic() + within
        if not self.lock.acquire(timeout=within):
            return {}
        try:
            if self.failure is not None:
                raise self.failure
            self.flush(max(0.0, deadline - time.monotonic()))
            offsets: Offsets = {}
            while self.queue and all(acknowledged(f) for _, f in self.queue[0].sends):
                offsets.update(self.queue.popleft().offsets)
            return offsets
        finally:
            self.lock.release()

    def flush(self, timeout: float) -> None:
        """Push every queued message out now and wait for the broker, at most `timeout` s."""
        try:
            self.producer.flush(timeout)
        except BrokerError as exc:
            log.log(logging.WARNING if timeout >= self.timeout else logging.DEBUG, "flush: %s", exc)

    def delivered(self, head: Pending) -> bool:
        """Whether every send of a batch is acknowledged; its refused sends are given up on, or
        sent again once their backoff is over (at once when it is 0)."""
        while True:
            refused, waiting = unsettled(head.sends)
            head.sends = refused + waiting  # the next look skips the acknowledged ones
            if not refused and not waiting:
                return True
            if head.retry_at is None:
                if not refused:
                    return False  # the client answers each send within its delivery timeout
                head.retry_at = self.clock() + self.backoff_after(head, refused)
            if self.stopping.is_set():
                raise self.give_up(head, refused + waiting, None)
            if self.clock() < head.retry_at:
                return False
            refused, waiting = unsettled(head.sends)
            head.sends = waiting + self.send([m for m, _ in refused])
            head.attempt += 1
            head.retry_at = None

    def backoff_after(self, head: Pending, refused: list[Send]) -> float:
        """The wait before a batch's refused sends go again (logged), or DeliveryError when they
        never may: a refusal retrying cannot mend, the attempts used up, or the loop stopping."""
        errors = [e for _, f in refused if (e := f.error()) is not None]
        hopeless = next((e for e in errors if not e.retriable), None)
        topics = ", ".join(sorted({m[0] for m, _ in refused}))
        if hopeless is not None:
            log.error("cannot publish to %s, retrying would not help: %r", topics, hopeless)
        if head.attempt >= self.attempts or self.stopping.is_set() or hopeless is not None:
            raise self.give_up(head, refused, hopeless)
        delay: float = min(self.backoff * 2.0 ** (head.attempt - 1), self.backoff_max)
        log.warning("could not publish %d message(s) to %s (%s); attempt %d of %d in %.0f s, "
                    "offsets stay uncommitted", len(refused), topics, errors[0], head.attempt + 1,
                    self.attempts, delay)
        return delay

    def give_up(self, head: Pending, failed: list[Send], hopeless: BrokerError | None
                ) -> DeliveryError:
        """The DeliveryError of a batch whose failed sends will not go again (kept: raised by
        every later call)."""
        errors = [e for _, f in failed if (e := f.error()) is not None]
        error = hopeless or next(iter(errors), None) or "not acknowledged in time"
        topics = ", ".join(sorted({m[0] for m, _ in failed}))
        self.failure = DeliveryError(
            f"could not publish {len(failed)} message(s) to {topics} after {head.attempt} "
            f"attempt(s): {error}; nothing was committed past them, a restart reads them again"
            + (f" (grant this detector's Kafka user WRITE on {topics})"
               if isinstance(hopeless, NotAuthorized) else ""))
        return self.failure
