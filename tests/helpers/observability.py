"""Prometheus, Alertmanager and the webhook receiver behind it, as the e2e tests see them."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from tests.helpers.processes import free_port


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
    webhook.url = f"http://127.0.0.1:{server.server_port}/"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, webhook


@dataclass(frozen=True)
class Observability:
    """Where Prometheus and Alertmanager answer, and the receiver behind Alertmanager."""

    prometheus: str
    alertmanager: str
    webhook: Webhook
    targets: Path

    def scrape(self, job: str, port: int) -> Path:
        """Make Prometheus scrape 127.0.0.1:port as `job`; the file_sd file that says so."""
        path = self.targets / f"{job}-{port}.json"
        path.write_text(json.dumps([{"targets": [f"127.0.0.1:{port}"]}]))
        return path

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


def eventually(
    check: Callable[[], object],
    timeout: float,
    every: float = 2.0,
    what: str | Callable[[], str] = "",
):
    """Call `check` until it returns something truthy; fail after `timeout` seconds, saying what."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            said = what() if callable(what) else what
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {said}", pytrace=False)
        time.sleep(every)
