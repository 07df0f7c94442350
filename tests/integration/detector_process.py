"""`detector serve` as a real subprocess for the tests: its log, /metrics, /healthz and signals."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[2]
PORT_LINE = re.compile(r"serving /metrics and /healthz on http://[^:]+:(\d+)")


class DetectorProcess:
    """A running `python -m detector serve ...`; stderr is collected line by line."""

    def __init__(self, args: Sequence[str], env: dict | None = None) -> None:
        self.args = list(args)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "detector", "serve", *self.args],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self._port: int | None = None

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)

    @property
    def log(self) -> str:
        return "".join(self.lines)

    @property
    def port(self) -> int:
        """The metrics port the daemon logged (it is started with --metrics-port 0)."""
        if self._port is None:
            match = self.wait_for(lambda: PORT_LINE.search(self.log), "the metrics port", 60)
            self._port = int(match.group(1))
        return self._port

    def wait_for(self, check: Callable[[], Any], what: str, timeout: float = 120.0) -> Any:
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
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}:\n{self.log[-4000:]}")

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

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until /healthz says ready (model loaded, partitions assigned)."""
        self.wait_for(lambda: self.healthz()[0] == 200, "/healthz to say ready", timeout)

    def wait_records(self, count: int, timeout: float = 120.0) -> None:
        """Until detector_records_total reaches count."""
        self.wait_for(lambda: (self.sample("detector_records_total") or 0) >= count,
                      f"{count} readings scored", timeout)

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
            tail = self.log[-4000:]
            raise AssertionError(f"still running after {timeout:.0f} s:\n{tail}") from None
        self.reader.join(timeout=10)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
