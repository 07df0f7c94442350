"""The project's commands as real processes, for the tests and the benchmarks.

`DetectorProcess` runs `detector serve` and reads its log, /metrics, /healthz, CPU time and
memory; `producer_command` is the `producer simulate` command line; `ServeTopics` the topics and
group one detector reads and writes.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import REPO

KAFKA_CLIENTS = ("kafka-python", "confluent")  # --kafka-client's values, the default first
PORT_LINE = re.compile(r"serving /metrics and /healthz on http://[^:]+:(\d+)")


def free_port() -> int:
    """A local TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far, all threads (/proc/<pid>/stat), seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    """Resident memory of a process in bytes (VmRSS of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def terminate(*processes: subprocess.Popen, timeout: float = 60.0) -> None:
    """SIGTERM every process still running, then wait for each; killed after timeout."""
    running = [p for p in processes if p.poll() is None]
    for process in running:
        process.terminate()
    for process in running:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def producer_command(bootstrap: str, topic: str, *, count: int = 0, rate: float = 0,
                     anomaly_rate: float = 0.002, seed: int = 0, devices: int = 4,
                     metrics_port: int = 0) -> list[str]:
    """`producer simulate` to a topic: count readings (0 = forever) at rate per second (0 = as
    fast as it can); metrics_port 0 serves no /metrics."""
    return [sys.executable, "-m", "producer", "simulate", "--bootstrap", bootstrap,
            "--topic", topic, "--count", str(count), "--rate", f"{rate:g}",
            "--anomaly-rate", f"{anomaly_rate:g}", "--seed", str(seed),
            "--devices", str(devices), "--metrics-port", str(metrics_port)]


@dataclass(frozen=True)
class ServeTopics:
    """The topics and group one detector reads and writes."""

    readings: str
    anomalies: str
    dlq: str
    group: str

    def args(self, bootstrap: str) -> list[str]:
        """The `detector serve` options that point at them."""
        return ["--bootstrap", bootstrap, "--topic", self.readings, "--group", self.group,
                "--anomalies-topic", self.anomalies, "--dlq-topic", self.dlq]


class DetectorProcess:
    """A running `python -m detector serve ...` (or another daemon: `command="retrain"`); stderr
    is collected line by line.

    As a context manager it kills the process on the way out if it still runs.
    """

    def __init__(self, args: Sequence[str], env: dict[str, str] | None = None,
                 topics: ServeTopics | None = None, command: str = "serve") -> None:
        self.command = [sys.executable, "-m", "detector", command, *args]
        self.topics = topics
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            self.command, cwd=REPO, env={**os.environ, **(env or {})},
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self._port: int | None = None

    @classmethod
    def serve(cls, model: Path, topics: ServeTopics, bootstrap: str, *options: str,
              env: dict[str, str] | None = None) -> DetectorProcess:
        """`detector serve` of model on topics, its metrics on a free port (logged)."""
        return cls(["--model", str(model), "--metrics-port", "0", *topics.args(bootstrap),
                    *options], env=env, topics=topics)

    def __enter__(self) -> DetectorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()

    def _read(self) -> None:
        for line in self.proc.stderr:  # type: ignore[union-attr]
            self.lines.append(line)

    @property
    def log(self) -> str:
        return "".join(self.lines)

    @property
    def shown(self) -> str:
        """The command as a shell line."""
        return shlex.join(self.command)

    @property
    def port(self) -> int:
        """The metrics port the daemon logged (it is started with --metrics-port 0)."""
        if self._port is None:
            match = self.wait_for(lambda: PORT_LINE.search(self.log), "the metrics port", 60)
            self._port = int(match.group(1))
        return self._port

    def wait_for(self, check: Callable[[], Any], what: str, timeout: float = 120.0,
                 every: float = 0.1) -> Any:
        """Poll check() until it returns something truthy; fail with the log after timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = check()
            if result:
                return result
            if self.proc.poll() is not None and not self.reader.is_alive():
                result = check()
                if result:
                    return result
                raise AssertionError(f"detector exited ({self.proc.returncode}) waiting for "
                                     f"{what}:\n{self.log[-4000:]}")
            time.sleep(every)
        raise AssertionError(f"timed out waiting for {what}:\n{self.state()}")

    def state(self) -> str:
        """Its /healthz (once its port is known) and its log's tail, for a failure's message."""
        health = ""
        if self._port is not None:
            try:
                health = f"/healthz: {self.get('/healthz')[1].decode(errors='replace')}\n"
            except OSError as exc:
                health = f"/healthz: no answer ({exc})\n"
        return f"{health}{self.log[-4000:]}"

    def get(self, path: str) -> tuple[int, bytes]:
        """Status and body of GET path on the metrics port."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def metrics(self) -> dict[tuple[str, frozenset], float]:
        """Every sample of /metrics, keyed by (name, labels)."""
        status, body = self.get("/metrics")
        assert status == 200
        return {
            (s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(body.decode())
            for s in family.samples
        }

    def sample(self, name: str, **labels: str) -> float | None:
        """One sample of /metrics, or None."""
        return self.metrics().get((name, frozenset(labels.items())))

    def healthz(self) -> tuple[int, dict]:
        status, body = self.get("/healthz")
        return status, json.loads(body)

    def ready(self) -> bool:
        """/healthz says 200 (False while nothing answers)."""
        try:
            return self.get("/healthz")[0] == 200
        except OSError:
            return False

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until /healthz says ready (model loaded, partitions assigned)."""
        self.wait_for(self.ready, "/healthz to say ready", timeout)

    def wait_records(self, count: int, timeout: float = 120.0) -> None:
        """Until detector_records_total reaches count."""
        self.wait_for(lambda: (self.sample("detector_records_total") or 0) >= count,
                      f"{count} readings scored", timeout)

    def cpu(self) -> float:
        """CPU seconds the process has used so far (user + system, all threads)."""
        return cpu_seconds(self.proc.pid)

    def rss(self) -> int:
        """Its resident memory in bytes."""
        return rss_bytes(self.proc.pid)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        """Send a signal and wait for the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        return self.wait(timeout)

    def wait(self, timeout: float = 60.0) -> int:
        """The exit status; fails with the log's tail if the process outlives `timeout`."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running after {timeout:.0f} s:\n{self.state()}") from None
        self.reader.join(timeout=10)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
