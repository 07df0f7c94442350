"""The Sink on confluent-kafka's Producer (detector.brokers.confluent has the Source): each
produce() answered by its delivery report, which the producer's poll() and flush() serve.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from detector.brokers.confluent import AUTHORIZATION, E, broker_error, error_of
from detector.stream.ports import Ack, BrokerError, BrokerUnavailable, Header, SendRefused

HOPELESS = {E.INVALID_RECORD, E.TOPIC_EXCEPTION, E._INVALID_ARG}  # refused however often sent


def send_error(exc: BaseException | KafkaError, at_once: bool) -> BrokerError:
    """The seam's error for a refused send: refused by produce() itself (`at_once`) only a
    retriable one may pass later; from the broker, all but HOPELESS ones may."""
    error = error_of(exc)
    code = error.code() if error is not None else None
    if code in AUTHORIZATION:
        return broker_error(exc)
    retriable = code not in HOPELESS and (
        not at_once or (error is not None and error.retriable()) or code == E._QUEUE_FULL)
    text = f"{error.name()}: {error.str()}" if error is not None else str(exc)
    return SendRefused(text, retriable)


class ConfluentAck:
    """The Ack of one produce(): answered by its delivery report, served by the producer's poll."""

    __slots__ = ("answered", "failure", "sink")

    def __init__(self, sink: ConfluentSink) -> None:
        self.sink = sink
        self.answered = False
        self.failure: KafkaError | None = None

    def delivered(self, error: KafkaError | None, message: Any) -> None:
        self.failure, self.answered = error, True

    def done(self) -> bool:
        if not self.answered:
            self.sink.serve()
        return self.answered

    def error(self) -> BrokerError | None:
        return None if self.failure is None else send_error(self.failure, at_once=False)


class ConfluentSink:
    """The Sink on a librdkafka Producer."""

    def __init__(self, producer: Producer, serve_every: float = 0.001) -> None:
        self.producer = producer
        self.serve_every = serve_every
        self.served = 0.0

    def serve(self) -> None:
        """Serve the delivery reports that have arrived (the producer's poll), at most once per
        `serve_every` seconds: one poll answers every pending Ack, and the outbox asks each."""
        now = time.monotonic()
        if now - self.served >= self.serve_every:
            self.served = now
            self.producer.poll(0)

    def send(self, topic: str, key: bytes | None, value: bytes | None,
             headers: Sequence[Header] | None) -> Ack:
        ack = ConfluentAck(self)
        for attempt in (1, 2):
            try:
                self.producer.produce(topic, value, key, on_delivery=ack.delivered,
                                      headers=headers)  # type: ignore[arg-type]
                return ack
            except BufferError as exc:  # its queue is full: serve reports, then once more
                if attempt == 2:
                    raise SendRefused(f"the producer's queue is full: {exc}") from exc
                self.producer.poll(1.0)
            except KafkaException as exc:
                raise send_error(exc, at_once=True) from exc
        raise AssertionError("unreachable")

    def flush(self, timeout: float) -> None:
        remaining = self.producer.flush(timeout)
        if remaining:
            raise BrokerUnavailable(f"{remaining} message(s) not acknowledged within {timeout:g} s")

    def close(self) -> None:
        remaining = self.producer.flush(10)
        self.producer.close()
        if remaining:
            raise BrokerUnavailable(f"{remaining} message(s) unacknowledged at close")
