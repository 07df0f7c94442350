"""The retrain loop on the in-memory broker: readings held with their labels, a cycle every N
readings per device (never two at once), every outcome counted, a promotion installed and
published, a failed child or store never stopping the loop."""

import logging
from concurrent.futures import Future

import numpy as np
import orjson
from prometheus_client import CollectorRegistry

from detector.brokers.inmemory import InMemoryBroker, InMemoryConsumer
from detector.lifecycle.memory import Memory
from detector.retrain.challenger import Job, Result
from detector.retrain.daemon import Actions, Events, Retrainer
from detector.retrain.held import HeldReadings
from detector.retrain.metrics import RetrainMetrics
from shared.wire import encode_reading

CHANNELS = ["col_1", "col_2"]


class Harness:
    """A Retrainer on an in-memory topic, its child replaced by futures the test resolves."""

    def __init__(self, tmp_path, every: int = 10, memory: int = 0) -> None:
        self.broker = InMemoryBroker({"readings": 1})
        self.registry = CollectorRegistry()
        self.metrics = RetrainMetrics(self.registry)
        self.jobs: list[tuple[Job, Future]] = []
        self.promoted: list[tuple[str, str]] = []
        self.published: list = []
        self.abandoned: list[bool] = []
        actions = Actions(self.submit, self.promote, self.published.append,
                          lambda: self.abandoned.append(True))
        self.retrainer = Retrainer(
            InMemoryConsumer(self.broker, "retrainer"), "readings", tmp_path / "model", CHANNELS,
            HeldReadings(50, 2), every, actions, self.metrics, tmp_path, memory=Memory(memory))
        self.retrainer.consumer.subscribe("readings", None)
        self.seq = 0

    def submit(self, job: Job) -> Future:
        future: Future = Future()
        self.jobs.append((job, future))
        return future

    def promote(self, path: str, reason: str) -> str:
        self.promoted.append((path, reason))
        return "new"

    def send(self, count: int, devices=("a",), label: str = "normal") -> None:
        for _ in range(count):
            for device in devices:
                value = encode_reading(device, self.seq, 1.0, [float(self.seq), 1.0])
                self.broker.append("readings", value, device.encode(), [("label", label.encode())])
            self.seq += 1

    def count(self, outcome: str) -> float:
        return self.metrics.retrains.labels(outcome=outcome)._value.get()


def test_a_cycle_starts_every_n_readings_per_device_with_the_labels_held(tmp_path):
    h = Harness(tmp_path, every=10)
    h.send(9, devices=("a", "b"))
    h.retrainer.step(0)
    assert h.jobs == []  # 18 readings < 10 x 2 devices
    h.send(1, devices=("a", "b"), label="spike")
    h.retrainer.step(0)
    [(job, _)] = h.jobs
    assert job.values.shape == (20, 2) and job.labels.sum() == 2
    assert sorted(set(job.devices.tolist())) == ["a", "b"]
    h.send(20, devices=("a", "b"))
    h.retrainer.step(0)
    assert len(h.jobs) == 1  # one cycle at a time


def test_a_promotion_is_installed_published_and_counted(tmp_path):
    h = Harness(tmp_path)
    h.send(10)
    h.retrainer.step(0)
    challenger = tmp_path / "challenger-1"
    challenger.mkdir()
    h.jobs[0][1].set_result(Result("promoted", "fewer-flags", "old", "new", str(challenger),
                                   "kept 9 of 10"))
    h.retrainer.step(0)
    assert h.promoted == [(str(challenger), "fewer-flags; kept 9 of 10")]
    assert h.published == [tmp_path / "model"]
    assert not challenger.exists()
    assert (h.count("promoted"), h.count("rejected"), h.count("failed")) == (1, 0, 0)


def test_rejections_and_failures_are_counted_and_the_loop_goes_on(tmp_path):
    h = Harness(tmp_path)
    h.send(10)
    h.retrainer.step(0)
    h.jobs[0][1].set_result(Result("rejected", "erases-incident", "old", "new"))
    h.send(10)
    h.retrainer.step(0)
    h.retrainer.step(0)
    h.jobs[1][1].set_exception(RuntimeError("the child died"))
    h.retrainer.step(0)
    assert (h.count("promoted"), h.count("rejected"), h.count("failed")) == (0, 1, 1)
    assert h.promoted == [] and h.published == []


def test_a_promotion_the_store_refuses_is_a_failure_and_nothing_is_published(tmp_path):
    h = Harness(tmp_path)

    def refuse(path: str, reason: str) -> str:
        raise ValueError("not a bundle")

    h.retrainer.actions = Actions(h.submit, refuse, h.published.append)
    h.send(10)
    h.retrainer.step(0)
    h.jobs[0][1].set_result(Result("promoted", "fewer-flags", "old", "new", str(tmp_path / "x")))
    h.retrainer.step(0)
    assert (h.count("promoted"), h.count("failed")) == (0, 1)
    assert h.published == []


def test_readings_that_do_not_decode_are_not_held(tmp_path):
    h = Harness(tmp_path)
    h.broker.append("readings", b"not json", b"a")
    h.send(3)
    h.retrainer.step(0)
    assert h.retrainer.held.held() == 3
    assert np.array_equal(h.retrainer.held.snapshot().values[:, 0], [0.0, 1.0, 2.0])


def test_stopping_abandons_a_cycle_still_running_and_promotes_nothing(tmp_path):
    h = Harness(tmp_path)
    h.send(10)
    h.retrainer.step(0)
    assert len(h.jobs) == 1
    h.retrainer.stop()
    h.retrainer.run()
    assert h.abandoned == [True] and h.promoted == []
    assert h.retrainer.consumer.closed


def test_the_readings_the_replicas_flagged_reach_the_cycle(tmp_path):
    h = Harness(tmp_path)
    h.retrainer.events = Events(InMemoryConsumer(h.broker, "retrainer.anomalies"), "anomalies")
    h.broker.create_topic("anomalies")
    h.retrainer.events.consumer.subscribe("anomalies", None)
    h.send(6)
    for event_id in ("readings:0:2", "other:0:3", "readings:0:x"):
        h.broker.append("anomalies", orjson.dumps({"event_id": event_id}), b"a")
    h.broker.append("anomalies", b"not json", b"a")
    h.retrainer.step(0)
    h.send(4)
    h.retrainer.step(0)
    [(job, _)] = h.jobs
    assert np.flatnonzero(job.served).tolist() == [2]  # only our topic's reading at offset 2
    assert job.window == 50
    assert h.retrainer.events.consumer.commits[-1] == {0: 4}


def test_the_kept_readings_leaving_the_window_reach_the_next_cycles_training(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="detector.retrain.daemon")
    h = Harness(tmp_path, every=10, memory=100)
    h.send(50)
    h.retrainer.step(0)
    [(job, future)] = h.jobs
    assert job.every == 10 and job.memory is None
    assert "; memory: 0 rows of 0 device(s)" in caplog.text
    kept = np.array([True] * 3 + [False] * 2 + [True] * 5)  # the child kept all but 3 and 4
    future.set_result(Result("rejected", "not-better", "old", "new", leaving=np.arange(10),
                             leaving_kept=kept))
    h.send(10)
    h.retrainer.step(0)
    h.retrainer.step(0)
    job = h.jobs[1][0]
    assert job.memory is not None and job.memory_segments is not None
    assert job.memory[:, 0].tolist() == [0, 1, 2, 5, 6, 7, 8, 9]  # col_1 is the sequence
    assert job.memory_segments.tolist() == [0, 0, 0, 1, 1, 1, 1, 1]  # the hole splits them


def test_the_memory_is_reported_in_the_cycle_log_health_and_metrics(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="detector.retrain.daemon")
    h = Harness(tmp_path, every=10, memory=100)
    memory = h.retrainer.health
    assert h.registry.get_sample_value("detector_retrain_memory_records") == 0
    assert (memory()["memory_rows"], memory()["memory_devices"]) == (0, 0)
    h.send(25, devices=("a", "b"))
    h.retrainer.step(0)
    [(_, future)] = h.jobs
    kept = np.arange(20) % 4 != 0  # 10 rows leave per device (a, b in turn): a keeps 5, b 10
    future.set_result(Result("rejected", "not-better", "old", "new", leaving=np.arange(20),
                             leaving_kept=kept))
    h.send(10, devices=("a", "b"))
    h.retrainer.step(0)
    assert h.registry.get_sample_value("detector_retrain_memory_records") == 15
    assert (memory()["memory_rows"], memory()["memory_devices"]) == (15, 2)
    h.retrainer.step(0)
    assert len(h.jobs) == 2
    assert "retrain cycle 2: " in caplog.text
    assert "; memory: 15 rows of 2 device(s)" in caplog.text.split("retrain cycle 2: ")[1]
