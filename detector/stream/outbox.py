"""The outbox: publish each batch's events and dead letters without waiting, and tell, in batch
order, which batches the broker has acknowledged, so only their offsets get committed.

Waiting for acknowledgements overlaps with polling and scoring the next batch. A failed send is
retried with exponential backoff (`backoff` s, doubling, capped at `backoff_max`); after
`attempts` attempts the outbox raises DeliveryError and no later batch is reported as done. A send
that can never succeed (a message too large for the broker, a topic the client may not write, an
invalid topic or record) is not retried: DeliveryError is raised at once, naming the real error.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
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


@dataclass
class Pending:
    """One batch: its offsets to commit, its sends, each (message, ack), and when it was sent."""

    offsets: Offsets
    sends: list[Send]
    since: float = field(default_factory=time.monotonic)


class Outbox:
    """Batches in flight, oldest first."""

    def __init__(self, producer: Sink, stopping: threading.Event, attempts: int = 6,
                 backoff: float = 1.0, backoff_max: float = 30.0, timeout: float = 30.0,
                 depth: int = 2) -> None:
        self.producer = producer
        self.stopping = stopping
        self.attempts = attempts
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.timeout = timeout
        self.depth = depth
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

    def stalled(self) -> float:
        """Seconds the oldest batch with a send not acknowledged yet has waited (0: none)."""
        for head in list(self.queue):  # a copy: /healthz asks from another thread
            if not all(acknowledged(f) for _, f in head.sends):
                return time.monotonic() - head.since
        return 0.0

    def done(self, wait: bool = False) -> Offsets:
        """Offsets of the acknowledged batches, merged, oldest first; waits when asked or full.

        A batch with a failed send is retried here (blocking) before any later batch counts.
        """
        with self.lock:
            if self.failure is not None:  # also when the rebalance listener met it first
                raise self.failure
            if wait or len(self.queue) > self.depth:
                self.flush()
            offsets: Offsets = {}
            while self.queue:
                head = self.queue[0]
                if not all(f.done() for _, f in head.sends):
                    if any(f.done() and f.error() is not None for _, f in head.sends):
                        self.retry(head)
                    else:
                        break
                elif any(f.error() is not None for _, f in head.sends):
                    self.retry(head)
                offsets.update(head.offsets)
                self.queue.popleft()
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

    def flush(self, timeout: float | None = None) -> None:
        """Push every queued message out now and wait for the broker (up to `timeout`, by
        default the outbox's)."""
        try:
            self.producer.flush(self.timeout if timeout is None else timeout)
        except BrokerError as exc:
            log.warning("flush: %s", exc)

    def retry(self, head: Pending) -> None:
        """Send a batch's failed messages again with backoff until all are acknowledged."""
        self.flush()
        attempt = 1
        while True:
            failed = [(m, f) for m, f in head.sends if not acknowledged(f)]
            if not failed:
                return
            errors = [e for _, f in failed if (e := f.error()) is not None]
            hopeless = next((e for e in errors if not e.retriable), None)
            error = hopeless or next(iter(errors), None) or "not acknowledged in time"
            topics = ", ".join(sorted({m[0] for m, _ in failed}))
            if hopeless is not None:
                log.error("cannot publish to %s, retrying would not help: %r", topics, hopeless)
            if attempt >= self.attempts or self.stopping.is_set() or hopeless is not None:
                self.failure = DeliveryError(
                    f"could not publish {len(failed)} message(s) to {topics} after {attempt} "
                    f"attempt(s): {error}; nothing was committed past them, a restart reads "
                    "them again"
                    + (f" (grant this detector's Kafka user WRITE on {topics})"
                       if isinstance(hopeless, NotAuthorized) else "")
                )
                raise self.failure
            delay = min(self.backoff * 2 ** (attempt - 1), self.backoff_max)
            log.warning("could not publish %d message(s) to %s (%s); attempt %d of %d in %.0f s, "
                        "offsets stay uncommitted", len(failed), topics, error, attempt + 1,
                        self.attempts, delay)
            self.stopping.wait(delay)
            ok = [(m, f) for m, f in head.sends if acknowledged(f)]
            head.sends = ok + self.send([m for m, _ in failed])
            self.flush()
            attempt += 1
