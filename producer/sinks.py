"""Where readings go: a Kafka topic (key = device, JSON value, `label` header) or a CSV file."""

from __future__ import annotations

import csv
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from producer.signal import CHANNELS
from shared.outputs import AtomicFile
from shared.wire import InputError, encode_reading


class Sink(Protocol):
    """Anything that takes readings and can be flushed and closed."""

    def send(self, device: str, seq: int, ts: float, values: Any, label: str | None) -> None: ...

    def close(self) -> None: ...


class NotDelivered(InputError):
    """Readings could not be written to Kafka (exit status 3, as the detector's)."""

    exit_code = 3


class KafkaSink:
    """Sends readings to a topic through a kafka-python producer handed in by the caller.

    The first send the broker refuses (or that fails at once) ends the stream: the next `send`
    or `close` raises NotDelivered, naming the error.
    """

    def __init__(self, producer: Any, topic: str) -> None:
        self.producer = producer
        self.topic = topic
        self.failure: BaseException | None = None

    def send(self, device: str, seq: int, ts: float, values: Any, label: str | None) -> None:
        if self.failure is not None:
            raise self.not_delivered()
        headers = [("label", label.encode())] if label is not None else []
        try:
            future = self.producer.send(
                self.topic,
                key=device.encode(),
                value=encode_reading(device, seq, ts, values),
                headers=headers,
            )
        except Exception as exc:  # the client refused at once (no metadata, not authorised ...)
            self.failure = exc
            raise self.not_delivered() from None
        future.add_errback(self.failed)

    def failed(self, exc: BaseException) -> None:
        """Remember the first refused send."""
        if self.failure is None:
            self.failure = exc

    def not_delivered(self) -> NotDelivered:
        """The error that ends the stream, with what to do about it."""
        exc = self.failure
        name = type(exc).__name__
        advice = (f"; this user may not write {self.topic}: grant it WRITE on the topic "
                  "(docs/operations.md)" if "AUTHORIZATION" in f"{name} {exc}".upper() else "")
        return NotDelivered(f"could not write readings to {self.topic}: {name}: {exc}{advice}")

    def close(self) -> None:
        try:
            self.producer.flush()
        finally:
            self.producer.close()
        if self.failure is not None:
            raise self.not_delivered()


class ConfluentSink(KafkaSink):
    """Sends readings to a topic through a confluent-kafka (librdkafka) producer handed in by the
    caller, with KafkaSink's promise: the first refused send ends the stream."""

    serve_every = 1000  # sends between services of the delivery reports

    def send(self, device: str, seq: int, ts: float, values: Any, label: str | None) -> None:
        if self.failure is not None:
            raise self.not_delivered()
        headers = [("label", label.encode())] if label is not None else []
        value = encode_reading(device, seq, ts, values)
        for attempt in (1, 2):
            try:
                self.producer.produce(self.topic, value, device.encode(), headers=headers,
                                      on_delivery=self.delivered)
                break
            except BufferError:  # its queue is full: serve the reports, then once more
                self.producer.poll(1.0 if attempt == 1 else 0)
                if attempt == 2:
                    raise
            except Exception as exc:  # refused at once (too large, unknown partition ...)
                self.failure = exc
                raise self.not_delivered() from None
        if seq % self.serve_every == 0:
            self.producer.poll(0)

    def delivered(self, error: Any, message: Any) -> None:
        """A delivery report: remember the first refusal."""
        if error is not None:
            from confluent_kafka import KafkaException

            self.failed(KafkaException(error))


class CsvSink:
    """Writes readings as `ts, device, seq, col_1 … col_5, label` rows (or only the channels).

    The rows go to a temporary file beside `path`, renamed to `path` by `close()`; `abort()`
    removes it, so an interrupted or failed write leaves nothing behind.
    """

    def __init__(
        self,
        path: str | Path,
        channels: Sequence[str] = CHANNELS,
        columns: Sequence[str] = ("ts", "device", "seq"),
    ) -> None:
        self._atomic = AtomicFile(path, "w", newline="")
        self.file = self._atomic.file
        self.writer = csv.writer(self.file)
        self.writer.writerow([*columns, *channels, *(["label"] if columns else [])])

    def send(self, device: str, seq: int, ts: float, values: Any, label: str | None) -> None:
        self.writer.writerow([f"{ts:.3f}", device, seq, *(f"{v:.4f}" for v in values), label])

    def write_rows(self, rows: Iterable[Sequence[Any]]) -> None:
        """Write many prepared rows at once (the fast path for large files)."""
        self.writer.writerows(rows)

    def close(self) -> None:
        """Finish the file: rename it into place."""
        self._atomic.commit()

    def abort(self) -> None:
        """Give up: remove the temporary file."""
        self._atomic.discard()


class Pacer:
    """Keeps an average rate of `rate` records per second (0 = as fast as possible)."""

    def __init__(self, rate: float, clock: Any = time.monotonic, sleep: Any = time.sleep) -> None:
        self.rate = rate
        self.clock = clock
        self.sleep = sleep
        self.start = clock()
        self.sent = 0

    def wait(self, count: int = 1) -> None:
        """Block until `count` more records are due, then count them as sent."""
        if self.rate > 0:
            due = self.start + self.sent / self.rate
            delay = due - self.clock()
            if delay > 0:
                self.sleep(delay)
        self.sent += count
