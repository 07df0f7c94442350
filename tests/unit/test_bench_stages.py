"""bench/performance/stages.py's loop on the in-memory broker: it ends, and prints its figures.

No broker, no TensorFlow: the bench's own `run` and `report` on a real serve loop.
"""

from __future__ import annotations

import gc
from dataclasses import replace

import pytest
from prometheus_client import CollectorRegistry

import detector.stream.daemon as loop_module
from bench.performance import stages
from detector.brokers.inmemory import InMemoryBroker, InMemoryConsumer, InMemoryProducer
from detector.stream.daemon import Daemon
from detector.stream.metrics import Metrics
from detector.stream.reloader import Model
from shared.wire import encode_reading
from tests.helpers.dense import dense_bundle
from tests.helpers.serve_loop import FAST

DEVICES, EACH = 4, 6  # readings interleaved: seq 0 of every device, then seq 1, ...


@pytest.fixture
def gc_restored():
    """The bench sets the collector as serve does (collect_rarely): undone for the other tests."""
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.parametrize("window", [1, 3])
def test_the_stages_bench_ends_after_count_readings_and_prints_its_figures(
        window, monkeypatch, capsys, gc_restored):
    """A windowed model scores none of a device's first window - 1 readings: the bench once waited
    for `--count` scored readings and so never ended."""
    for name in ("event_messages", "dead_letter_messages", "labels_of"):  # instrument wraps them
        monkeypatch.setattr(loop_module, name, getattr(loop_module, name))
    broker = InMemoryBroker({"readings": 1, "anomalies": 1, "readings.dlq": 1})
    for seq in range(EACH):
        for d in range(DEVICES):
            broker.append("readings", encode_reading(f"pump-{d}", seq, 1.7e9 + seq, [0.1, -0.1]),
                          f"pump-{d}".encode(), [("label", b"normal")], 0)
    daemon = Daemon(InMemoryConsumer(broker), InMemoryProducer(broker),
                    Model.of(dense_bundle(window, {"k": 2, "n": 3})), Metrics(CollectorRegistry()),
                    options=replace(FAST, max_records=5))
    stages.instrument(daemon)
    steps = 0
    step = daemon.step

    def bounded_step() -> None:
        nonlocal steps
        steps += 1
        if steps > 100:
            raise AssertionError("the bench did not end: it waits for readings that never come")
        step()

    daemon.step = bounded_step  # type: ignore[method-assign]
    offer = stages.Offer("readings", 0.0, DEVICES * EACH, 0.002, DEVICES)

    n, scored, batches, *_ = stages.run(daemon, DEVICES * EACH, None, offer)

    assert n == DEVICES * EACH - 5  # all but the first batch
    assert batches == 4  # its 19 readings in batches of at most 5
    filling = DEVICES * (window - 1) - 5 if window > 1 else 0  # the rest of the seq-1 readings
    assert scored == n - filling
    stages.report(n, scored, batches, 1.0, 1.0, 1.0, 100_000.0, 1.0)
    out = capsys.readouterr().out
    assert f"{n} readings ({scored} scored) after the first batch in 4 batches" in out
    assert "score" in out and "the process, all threads" in out
