"""Kafka helpers shared by the streaming benchmarks: scratch topics, filling, `detector serve`.

`detector serve`, training and the broker's offsets come from the tests' helpers (tests/helpers/).

The broker is 127.0.0.1:9092 unless BENCH_BOOTSTRAP says otherwise. Every topic and group a
benchmark makes has a fresh random name and is deleted when the benchmark ends.
"""

from __future__ import annotations

import multiprocessing
import os
import shlex
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic

from bench.common import BIN
from producer.simulator import Simulator
from shared.wire import encode_reading
from tests.helpers import REPO
from tests.helpers.broker import committed, end_offsets, unique_name
from tests.helpers.bundles import train_bundles
from tests.helpers.processes import DetectorProcess, ServeTopics

BOOTSTRAP = os.environ.get("BENCH_BOOTSTRAP", "127.0.0.1:9092")


def fresh(prefix: str) -> str:
    """A new random name for a topic or group."""
    return unique_name(f"bench-{prefix}")


class Scratch:
    """Topics and groups made for one benchmark, deleted at the end (a context manager)."""

    def __init__(self, bootstrap: str = BOOTSTRAP) -> None:
        self.bootstrap = bootstrap
        self.admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        self.topics: list[str] = []
        self.groups: list[str] = []

    def __enter__(self) -> Scratch:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.groups:
                self.admin.delete_groups(self.groups)
        except Exception as error:  # a group that never committed does not exist
            print(f"(deleting groups: {error})")
        try:
            if self.topics:
                self.admin.delete_topics(self.topics)
        finally:
            self.admin.close()

    def topic(self, prefix: str, partitions: int = 1, configs: dict | None = None) -> str:
        """A fresh topic with `partitions` partitions (and topic configs)."""
        name = fresh(prefix)
        self.admin.create_topics([NewTopic(name, partitions, 1, topic_configs=configs or {})])
        self.topics.append(name)
        return name

    def name(self, prefix: str) -> str:
        """A fresh topic name for the detector to create (deleted at the end)."""
        name = fresh(prefix)
        self.topics.append(name)
        return name

    def group(self, prefix: str = "detector") -> str:
        """A fresh consumer-group id (deleted at the end)."""
        name = fresh(prefix)
        self.groups.append(name)
        return name

    def committed(self, group: str, topic: str) -> int:
        """The sum of the group's committed offsets on the topic's partitions."""
        return sum(committed(self.admin, group, topic).values())


def bench_producer() -> KafkaProducer:
    """A producer tuned for filling topics quickly."""
    return KafkaProducer(bootstrap_servers=BOOTSTRAP, acks=1, linger_ms=50,
                         batch_size=1024 * 1024, max_request_size=16 * 1024 * 1024)


def fill(topic: str, count: int, partitions: int = 1, devices: int = 100, seed: int = 1,
         anomaly_rate: float = 0.002, workers: int = 2) -> float:
    """Write `count` simulated readings (the producer's wire format and label header); seconds.

    `workers` processes share the work (devices split between them); each device stays on one
    partition (device i on partition i mod partitions).
    """
    started = time.perf_counter()
    share = [count // workers + (w < count % workers) for w in range(workers)]
    jobs = [(topic, share[w], partitions, devices // workers, seed + w, anomaly_rate,
             w * (devices // workers)) for w in range(workers)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pool.starmap(fill_part, jobs)
    return time.perf_counter() - started


def fill_part(topic: str, count: int, partitions: int, devices: int, seed: int,
              anomaly_rate: float, first: int) -> None:
    """One filling worker: devices device-(first+1) ... device-(first+devices)."""
    producer = bench_producer()
    sim = Simulator(devices=devices, anomaly_rate=anomaly_rate, seed=seed)
    names = {f"device-{i + 1}": f"device-{first + i + 1}" for i in range(devices)}
    home = {name: (first + i) % partitions for i, name in enumerate(names)}
    send = producer.send
    for block in sim.blocks(total=count):
        now = time.time()
        rows = block.values.round(4).tolist()
        for device, seq, values, label in zip(block.device, block.seq.tolist(), rows,
                                              block.label, strict=True):
            send(topic, partition=home[device], key=names[device].encode(),
                 value=encode_reading(names[device], seq, now, values),
                 headers=[("label", label.encode())])
    producer.flush()
    producer.close()


def written(topic: str) -> int:
    """How many records the topic holds: the sum of its partitions' end offsets."""
    return sum(end_offsets(BOOTSTRAP, topic).values())


def train(out: Path, rows: int = 20_000, epochs: int = 20) -> Path:
    """A model bundle trained on simulated normal readings, in a process of its own (so that
    TensorFlow stays out of the benchmark's process)."""
    return train_bundles([(out, ("--simulate", str(rows), "--epochs", str(epochs), "--seed",
                                 "0"))])[0]


@contextmanager
def workbench(count: int = 0, partitions: int = 1,
              configs: dict | None = None) -> Iterator[tuple[Scratch, Path, str]]:
    """(scratch, model, topic): scratch topics and groups, a freshly trained model, and a readings
    topic filled with `count` simulated readings (none for 0); all removed at the end."""
    with tempfile.TemporaryDirectory() as tmp, Scratch() as scratch:
        print("training a model ...", flush=True)
        model = train(Path(tmp) / "model")
        topic = scratch.topic("readings", partitions, configs)
        if count:
            seconds = fill(topic, count, partitions=partitions)
            assert written(topic) == count
            print(f"filled {topic} ({partitions} partition(s)) with {count:,} readings in "
                  f"{seconds:.1f} s", flush=True)
        yield scratch, model, topic


def serve(model: Path, topic: str, group: str, scratch: Scratch, *options: str,
          partitions: int = 1, outputs: tuple[str, str] | None = None,
          checkout: Path | None = None) -> DetectorProcess:
    """`detector serve` of model on topic in group (the tests' DetectorProcess): metrics on a free
    port, no hot reload; anomaly and dead-letter topics fresh unless given, deleted at the end.
    `checkout`: run the `detector` package of another checkout (another version) instead."""
    anomalies, dlq = outputs or (scratch.name("anomalies"), scratch.name("dlq"))
    env = None if checkout is None else {"PYTHONSAFEPATH": "1", "PYTHONPATH": str(checkout)}
    return DetectorProcess.serve(model, ServeTopics(topic, anomalies, dlq, group),
                                 scratch.bootstrap, "--partitions", str(partitions),
                                 "--metrics-host", "127.0.0.1", "--reload-interval", "0",
                                 *options, env=env)


def peak_rss_while_scoring(process: DetectorProcess, scratch: Scratch, group: str, topic: str,
                           count: int, timeout: float) -> int:
    """Wait until group has committed count readings of topic; the largest RSS seen meanwhile."""
    peak = 0

    def done() -> bool:
        nonlocal peak
        peak = max(peak, process.rss())
        return scratch.committed(group, topic) >= count

    process.wait_for(done, "the backlog to be scored", timeout=timeout, every=0.2)
    return peak


def bare_command(topic: str, count: int, partitions: int = 1, batch_size: int = 5000,
                 collect_rarely: bool = False, kafka_client: str = "kafka-python") -> list[str]:
    """The command line of the bare-consumer baseline (bench/performance/bare_consumer.py)."""
    return [str(BIN / "python"), "-m", "bench.performance.bare_consumer", topic, str(count),
            "--partitions", str(partitions), "--batch-size", str(batch_size),
            *(["--collect-rarely"] if collect_rarely else []), "--kafka-client", kafka_client]


def run_bare(command: list[str]) -> tuple[float, float]:
    """Records/s and CPU microseconds per record that the bare consumer reports."""
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"failed: {shlex.join(command)}\n{done.stderr[-3000:]}")
    words = done.stdout.split()
    return float(words[1]), float(words[3])
