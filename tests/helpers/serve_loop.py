"""The serve loop wired to an in-memory broker, for unit tests: feed it, step it, read it."""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson
from prometheus_client import CollectorRegistry

from detector.brokers.inmemory import InMemoryBroker, InMemoryConsumer, InMemoryProducer
from detector.core.bundle import Bundle
from detector.stream.daemon import Daemon
from detector.stream.metrics import Metrics
from detector.stream.reloader import Model
from detector.stream.settings import Options
from shared.wire import encode_reading
from tests.helpers.dense import dense_bundle

FAST = Options(max_records=100, poll_timeout_ms=0, idle=0.0, send_attempts=3, send_timeout=0.0,
               backoff=0.0, backoff_max=0.0, lag_interval=0.0)
NORMAL, HIGH = [0.1, -0.1], [3.0, 3.0]  # errors 0.01 and 9 against a threshold of 1


@dataclass
class Loop:
    """A daemon wired to an in-memory broker, with helpers to feed it and read what it wrote."""

    broker: InMemoryBroker
    consumer: InMemoryConsumer
    producer: InMemoryProducer
    registry: CollectorRegistry
    daemon: Daemon
    seq: dict[str, int] = field(default_factory=dict)

    def read(self, device: str, values: list[float], partition: int = 0) -> None:
        """Append a reading of `device` to the readings topic."""
        seq = self.seq[device] = self.seq.get(device, -1) + 1
        self.broker.append("readings", encode_reading(device, seq, 1.7e9 + seq, values),
                           device.encode(), [("label", b"normal")], partition)

    def raw(self, value: bytes, partition: int = 0) -> None:
        """Append a record as it comes, whatever it holds."""
        self.broker.append("readings", value, b"poison", None, partition)

    def events(self) -> list[dict]:
        return [orjson.loads(r.value) for r in self.broker.records("anomalies")]

    def committed(self) -> dict[int, int]:
        return self.broker.offsets("detector")

    def sample(self, name: str, **labels: str) -> float | None:
        return self.registry.get_sample_value(name, labels)


def loop(partitions: int = 1, window: int = 1, options: Options = FAST,
         persistence: dict | None = None, broker: InMemoryBroker | None = None,
         follow: dict | None = None) -> Loop:
    """A joined daemon on a fresh registry, and a fresh broker unless one is given (a restart:
    the new member of the same group resumes from its commits); `follow`: the bundle's
    `threshold_follow`."""
    if broker is None:
        broker = InMemoryBroker({"readings": partitions, "anomalies": 1, "readings.dlq": 1})
    consumer, producer = InMemoryConsumer(broker), InMemoryProducer(broker)
    registry = CollectorRegistry()
    bundle = dense_bundle(window, persistence, version="v1")
    if follow is not None:
        bundle = Bundle(bundle.path, {**bundle.meta, "threshold_follow": follow}, bundle.arrays)
    model = Model.of(bundle)
    daemon = Daemon(consumer, producer, model, Metrics(registry), options=options)
    daemon.join()
    return Loop(broker, consumer, producer, registry, daemon)


class Offer:
    """A reloader stand-in: take() hands over the model it was given, once."""

    def __init__(self) -> None:
        self.model: Model | None = None
        self.stopped = False

    def take(self) -> Model | None:
        model, self.model = self.model, None
        return model

    def stop(self) -> None:
        self.stopped = True


def drain(t: Loop, steps: int = 200) -> None:
    """Step until the loop has read and committed everything there is."""
    for _ in range(steps):
        t.daemon.step()
        ends = {p: len(log) for p, log in enumerate(t.broker.topics["readings"])}
        if t.committed() == {p: n for p, n in ends.items() if n} and not t.daemon.warmup.warming:
            return
    raise AssertionError(f"not drained: committed {t.committed()}")


def events(t: Loop) -> dict[str, float]:
    """event_id -> score of every event on the anomalies topic (duplicates collapse)."""
    return {e["event_id"]: e["score"] for e in map(orjson.loads, (
        r.value for r in t.broker.records("anomalies")))}


def copy(records: list, t: Loop) -> None:
    """Append these records to the loop's readings topic, as they are."""
    for r in records:
        t.broker.append("readings", r.value, r.key, r.headers, r.partition)
