"""Kafka helpers shared by the streaming benchmarks: scratch topics, filling, `detector serve`.

The broker is 127.0.0.1:9092 unless BENCH_BOOTSTRAP says otherwise. Every topic and group a
benchmark makes has a fresh random name and is deleted when the benchmark ends.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import shlex
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from bench.common import BIN, REPO
from producer.simulator import Simulator
from producer.wire import encode_reading

BOOTSTRAP = os.environ.get("BENCH_BOOTSTRAP", "127.0.0.1:9092")
TICKS = os.sysconf("SC_CLK_TCK")
PORT_LINE = re.compile(r"serving /metrics and /healthz on http://[^:]+:(\d+)")


def fresh(prefix: str) -> str:
    """A new random name for a topic or group."""
    return f"bench-{prefix}-{uuid.uuid4().hex[:8]}"


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
        offsets = self.admin.list_group_offsets(group).get(group, {})
        return sum(o.offset for tp, o in offsets.items() if tp.topic == topic and o.offset > 0)


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


def end_offsets(topic: str, partitions: int) -> int:
    """The sum of the end offsets of the topic's partitions."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=BOOTSTRAP)
    try:
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in range(partitions)])
    finally:
        consumer.close()
    return sum(ends.values())


def train(out: Path, rows: int = 20_000, epochs: int = 20) -> Path:
    """A model bundle trained on simulated normal readings."""
    command = [str(BIN / "detector"), "train", "--simulate", str(rows), "--epochs", str(epochs),
               "--seed", "0", "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"failed: {shlex.join(command)}\n{done.stderr[-3000:]}")
    return out


class Detector:
    """A running `detector serve` with its metrics on a free port; its log kept."""

    def __init__(self, model: Path, topic: str, group: str, scratch: Scratch,
                 extra: Sequence[str] = (), partitions: int = 1,
                 env: dict[str, str] | None = None, outputs: tuple[str, str] | None = None,
                 ) -> None:
        self.anomalies, self.dlq = outputs or (scratch.name("anomalies"), scratch.name("dlq"))
        self.command = [
            str(BIN / "detector"), "serve", "--model", str(model),
            "--bootstrap", scratch.bootstrap, "--topic", topic, "--group", group,
            "--anomalies-topic", self.anomalies, "--dlq-topic", self.dlq,
            "--partitions", str(partitions), "--metrics-port", "0",
            "--metrics-host", "127.0.0.1", "--reload-interval", "0", *extra,
        ]
        self.started = time.monotonic()
        self.proc = subprocess.Popen(self.command, cwd=REPO, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, **(env or {})})
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self._port: int | None = None

    @property
    def shown(self) -> str:
        """The command as a shell line."""
        return shlex.join(self.command)

    def _read(self) -> None:
        for line in self.proc.stderr:  # type: ignore[union-attr]
            self.lines.append(line)

    def wait_for(self, check: Callable[[], Any], what: str, timeout: float = 120.0,
                 every: float = 0.05) -> Any:
        """Poll check() until truthy; exit with the log if the process dies or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = check()
            if result:
                return result
            if self.proc.poll() is not None:
                raise SystemExit(f"detector exited ({self.proc.returncode}) waiting for {what}:\n"
                                 + "".join(self.lines)[-3000:])
            time.sleep(every)
        raise SystemExit(f"timed out waiting for {what}:\n" + "".join(self.lines)[-3000:])

    @property
    def port(self) -> int:
        if self._port is None:
            found = self.wait_for(lambda: PORT_LINE.search("".join(self.lines)), "its port")
            self._port = int(found.group(1))
        return self._port

    def get(self, path: str) -> tuple[int, bytes]:
        """Status and body of GET path on the metrics port (0 when it does not answer)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError:
            return 0, b""

    def ready(self) -> bool:
        """/healthz says 200."""
        return self.get("/healthz")[0] == 200

    def health(self) -> dict:
        """/healthz's JSON body."""
        status, body = self.get("/healthz")
        return json.loads(body) if status else {}

    def metrics(self) -> str:
        """The /metrics text."""
        return self.get("/metrics")[1].decode()

    def cpu(self) -> float:
        """CPU seconds the process has used (user + system, all threads), from /proc."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def rss(self) -> int:
        """Resident memory in bytes, from /proc."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM and wait for the exit status (killed after timeout)."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=30)


def bare_command(topic: str, count: int, partitions: int = 1, batch_size: int = 5000,
                 collect_rarely: bool = False) -> list[str]:
    """The command line of the bare-consumer baseline (bench/bare_consumer.py)."""
    return [str(BIN / "python"), "-m", "bench.bare_consumer", topic, str(count),
            "--partitions", str(partitions), "--batch-size", str(batch_size),
            *(["--collect-rarely"] if collect_rarely else [])]


def run_bare(command: list[str]) -> tuple[float, float]:
    """Records/s and CPU microseconds per record that the bare consumer reports."""
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"failed: {shlex.join(command)}\n{done.stderr[-3000:]}")
    words = done.stdout.split()
    return float(words[1]), float(words[3])
