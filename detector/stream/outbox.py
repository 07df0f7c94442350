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
from typing import Any

from detector.errors import DetectorError
from detector.stream.kafka import HOPELESS, AuthorizationError, KafkaError
from detector.stream.ports import Sink

log = logging.getLogger(__name__)
Message = tuple[str, bytes | None, bytes | None, list | None]  # topic, key, value, headers


class DeliveryError(DetectorError):
    """Events or dead letters could not be published: their batch stays uncommitted."""

    exit_code = 3


class Refused:
    """A send that raised at once, shaped like the future it did not return."""

    is_done = True

    def __init__(self, exception: KafkaError) -> None:
        self.exception = exception

    def failed(self) -> bool:
        return True


def never_succeeds(future: Any) -> bool:
    """A failed send no retry can help: an error of HOPELESS, or one the client raised at once
    that is not retriable (e.g. a message over the producer's own max_request_size)."""
    error = future.exception
    return isinstance(error, HOPELESS) or (isinstance(future, Refused)
                                           and not getattr(error, "retriable", False))


@dataclass
class Pending:
    """One batch: its offsets to commit, its sends, each (message, future), and when it was sent."""

    offsets: dict
    sends: list
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

    def submit(self, messages: Sequence[Message], offsets: dict) -> None:
        """Send a batch's messages (no waiting) and queue its offsets behind them."""
        self.queue.append(Pending(offsets, self.send(messages)))

    def send(self, messages: Sequence[Message]) -> list:
        """(message, future) of each message; a send that raises gets a Refused future."""
        sends = []
        for message in messages:
            topic, key, value, headers = message
            try:
                future = self.producer.send(topic, key=key, value=value, headers=headers)
            except KafkaError as exc:
                log.debug("send to %s failed at once: %s", topic, exc)
                future = Refused(exc)
            sends.append((message, future))
        return sends

    def stalled(self) -> float:
        """Seconds the oldest batch with a send not acknowledged yet has waited (0: none)."""
        for head in list(self.queue):  # a copy: /healthz asks from another thread
            if not all(f.is_done and not f.failed() for _, f in head.sends):
                return time.monotonic() - head.since
        return 0.0

    def done(self, wait: bool = False) -> dict:
        """Offsets of the acknowledged batches, merged, oldest first; waits when asked or full.

        A batch with a failed send is retried here (blocking) before any later batch counts.
        """
        with self.lock:
            if self.failure is not None:  # also when the rebalance listener met it first
                raise self.failure
            if wait or len(self.queue) > self.depth:
                self.flush()
            offsets: dict = {}
            while self.queue:
                head = self.queue[0]
                if not all(f.is_done for _, f in head.sends):
                    if any(f.is_done and f.failed() for _, f in head.sends):
                        self.retry(head)
                    else:
                        break
                elif any(f.failed() for _, f in head.sends):
                    self.retry(head)
                offsets.update(head.offsets)
                self.queue.popleft()
            return offsets

    def flush(self) -> None:
        """Push every queued message out now and wait for the broker (up to timeout)."""
        try:
            self.producer.flush(timeout=self.timeout)
        except KafkaError as exc:
            log.warning("flush: %s", exc)

    def retry(self, head: Pending) -> None:
        """Send a batch's failed messages again with backoff until all are acknowledged."""
        self.flush()
        attempt = 1
        while True:
            failed = [(m, f) for m, f in head.sends if not f.is_done or f.failed()]
            if not failed:
                return
            errors = [f.exception for _, f in failed if f.is_done]
            hopeless = next((f.exception for _, f in failed if f.is_done and never_succeeds(f)),
                            None)
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
                       if isinstance(hopeless, AuthorizationError) else "")
                )
                raise self.failure
            delay = min(self.backoff * 2 ** (attempt - 1), self.backoff_max)
            log.warning("could not publish %d message(s) to %s (%s); attempt %d of %d in %.0f s, "
                        "offsets stay uncommitted", len(failed), topics, error, attempt + 1,
                        self.attempts, delay)
            self.stopping.wait(delay)
            ok = [(m, f) for m, f in head.sends if f.is_done and not f.failed()]
            head.sends = ok + self.send([m for m, _ in failed])
            self.flush()
            attempt += 1
