"""Real Prometheus and Alertmanager for the e2e tests, with a webhook receiver run by the test.

They come from PROMETHEUS_URL and ALERTMANAGER_URL when both are set (then the receiver must be
reachable from that Alertmanager: set ALERTMANAGER_WEBHOOK_HOST), else from the local stack
(`deploy/local/stack up prometheus alertmanager`, Debian's packages), with Alertmanager pointed at
the receiver. Targets are added as file_sd files the local Prometheus reads within seconds.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO, run_stack, unavailable

TARGETS = Path(os.environ.get("STACK_STATE_DIR", REPO / ".stack")) / "prometheus" / "targets"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Webhook:
    """Notifications Alertmanager posted to the test's receiver."""

    url: str
    received: list[dict] = field(default_factory=list)


def start_webhook() -> tuple[ThreadingHTTPServer, Webhook]:
    """An HTTP server on a free port that keeps every JSON body posted to it."""
    webhook = Webhook(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            webhook.received.append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    host = os.environ.get("ALERTMANAGER_WEBHOOK_HOST", "127.0.0.1")
    webhook.url = f"http://{host}:{server.server_port}/"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, webhook


@dataclass(frozen=True)
class Observability:
    """Where Prometheus and Alertmanager answer, and the receiver behind Alertmanager."""

    prometheus: str
    alertmanager: str
    webhook: Webhook

    def query(self, expr: str) -> list[dict]:
        """The result of an instant PromQL query."""
        reply = requests.get(f"{self.prometheus}/api/v1/query", params={"query": expr}, timeout=10)
        reply.raise_for_status()
        return reply.json()["data"]["result"]

    def alerts(self) -> list[dict]:
        """The alerts Prometheus holds (pending and firing)."""
        reply = requests.get(f"{self.prometheus}/api/v1/alerts", timeout=10)
        return reply.json()["data"]["alerts"]

    def alertmanager_alerts(self) -> list[dict]:
        """The alerts Alertmanager received."""
        return requests.get(f"{self.alertmanager}/api/v2/alerts", timeout=10).json()


@pytest.fixture(scope="session")
def observability() -> Iterator[Observability]:
    """Prometheus and Alertmanager for the session, Alertmanager posting to our receiver."""
    server, webhook = start_webhook()
    prometheus, alertmanager = os.environ.get("PROMETHEUS_URL"), os.environ.get("ALERTMANAGER_URL")
    started = False
    if not (prometheus and alertmanager):
        os.environ["ALERTMANAGER_WEBHOOK_URL"] = webhook.url
        result = run_stack("up", "prometheus", "alertmanager")
        os.environ.pop("ALERTMANAGER_WEBHOOK_URL")
        if result.returncode != 0:
            unavailable(
                f"cannot start Prometheus and Alertmanager:\n{result.stdout}{result.stderr}"
            )
        prometheus = f"http://127.0.0.1:{os.environ.get('PROMETHEUS_PORT', '9090')}"
        alertmanager = f"http://127.0.0.1:{os.environ.get('ALERTMANAGER_PORT', '9093')}"
        started = True
    try:
        yield Observability(prometheus, alertmanager, webhook)
    finally:
        server.shutdown()
        if started:
            run_stack("down", "alertmanager", "prometheus")


def eventually(check: Callable[[], object], timeout: float, every: float = 2.0, what: str = ""):
    """Call `check` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}", pytrace=False)
        time.sleep(every)
