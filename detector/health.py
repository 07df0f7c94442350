"""The HTTP endpoints: /metrics (Prometheus text format) and /healthz (200 ready, 503 not)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from detector.errors import ConfigError

log = logging.getLogger(__name__)

Readiness = Callable[[], tuple[bool, dict]]


class HealthServer:
    """Serves /metrics from a registry and /healthz from a readiness callable, in a thread."""

    def __init__(self, registry: CollectorRegistry, readiness: Readiness, host: str = "0.0.0.0",
                 port: int = 8000) -> None:
        handler = make_handler(registry, readiness)
        try:
            self.server = ThreadingHTTPServer((host, port), handler)
        except OSError as exc:
            raise ConfigError(
                f"cannot serve metrics on {host}:{port} ({exc.strerror or exc}): pass another "
                "--metrics-port (0 picks a free one) or stop what uses it"
            ) from exc
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="http",
                                       daemon=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def make_handler(registry: CollectorRegistry, readiness: Readiness) -> type:
    """A request handler class bound to the registry and the readiness callable."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self.reply(200, CONTENT_TYPE_LATEST, generate_latest(registry))
            elif path == "/healthz":
                ready, detail = readiness()
                body = json.dumps({"ready": ready, **detail}, sort_keys=True).encode() + b"\n"
                self.reply(200 if ready else 503, "application/json", body)
            else:
                self.reply(404, "text/plain", b"not found: try /metrics or /healthz\n")

        def reply(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("http: " + format, *args)

    return Handler
