"""The HTTP endpoints: /metrics (Prometheus text format), /healthz (readiness: 200 ready, 503
not) and /livez (liveness: 200 while the process serves, 503 if its liveness callable says no).

Readiness and liveness answer different questions: a stand-by replica (more replicas than
partitions) or one in a rebalance or a broker outage is alive but not ready; restarting it
would not help, so only /livez belongs in a restart probe or a container healthcheck.

Hardened against slow or hostile clients: one GET per connection, the request line and headers
must arrive whole within `timeout` seconds and `max_request_bytes`, and at most
`max_connections` connections are served at once (past that a client gets 503 at once).
"""

from __future__ import annotations

import io
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from detector.errors import ConfigError

log = logging.getLogger(__name__)

Detail = dict[str, object]
Readiness = Callable[[], tuple[bool, Detail]]
Liveness = Callable[[], tuple[bool, Detail]]
Request = socket.socket | tuple[bytes, socket.socket]  # socketserver's: a TCP socket here
TIMEOUT = 5.0
MAX_REQUEST_BYTES = 8 * 1024
MAX_CONNECTIONS = 32
BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n"
             b"Connection: close\r\n\r\n")


class HealthServer:
    """Serves /metrics from a registry, /healthz and /livez from callables, in a thread."""

    def __init__(self, registry: CollectorRegistry, readiness: Readiness, host: str = "0.0.0.0",
                 port: int = 8000, timeout: float = TIMEOUT, max_connections: int = MAX_CONNECTIONS,
                 max_request_bytes: int = MAX_REQUEST_BYTES,
                 liveness: Liveness | None = None) -> None:
        handler = make_handler(registry, readiness, timeout, max_request_bytes,
                               liveness or serving)
        try:
            self.server = BoundedServer((host, port), handler, max_connections)
        except OSError as exc:
            raise ConfigError(
                f"cannot serve metrics on {host}:{port} ({exc.strerror or exc}): pass another "
                "--metrics-port (0 picks a free one) or stop what uses it"
            ) from exc
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


class BoundedServer(ThreadingHTTPServer):
    """A thread per connection, but at most `max_connections` of them; the rest get 503."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type, max_connections: int) -> None:
        self.max_connections = max_connections
        self.slots = threading.BoundedSemaphore(max_connections)
        super().__init__(address, handler)

    def process_request(self, request: Request, client_address: object) -> None:
        if not self.slots.acquire(blocking=False):
            log.debug("http: %d connections open, refusing %s", self.max_connections,
                      client_address)
            try:
                connection = request if isinstance(request, socket.socket) else request[1]
                connection.setblocking(False)
                connection.send(BUSY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Request, client_address: object) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


def read_head(sock: socket.socket, limit: int, timeout: float) -> bytes | None:
    """Request line and headers within `timeout` in all (None if not); ValueError past `limit`."""
    deadline = time.monotonic() + timeout
    data = b""
    while b"\r\n\r\n" not in data and len(data) <= limit:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(4096)
        except (TimeoutError, ConnectionError):
            return None
        if not chunk:
            return None
        data += chunk
    end = data.find(b"\r\n\r\n") + 4
    if not 4 <= end <= limit:
        raise ValueError(f"request head over {limit} bytes")
    return data[:end]


def serving() -> tuple[bool, Detail]:
    """The default liveness: a process whose HTTP thread answers is alive."""
    return True, {}


def make_handler(registry: CollectorRegistry, readiness: Readiness, timeout: float = TIMEOUT,
                 max_request_bytes: int = MAX_REQUEST_BYTES,
                 liveness: Liveness = serving) -> type:
    """A request handler class bound to the registry, the two health callables and the limits."""

    class Handler(BaseHTTPRequestHandler):
        def handle(self) -> None:
            """Read the whole head within the limits, then answer one request and close."""
            self.close_connection = True
            try:
                head = read_head(self.connection, max_request_bytes, timeout)
            except ValueError as exc:
                log.debug("http: %s from %s", exc, self.client_address)
                self.connection.settimeout(timeout)
                self.wfile.write(TOO_LARGE)
                return
            if head is None:
                log.debug("http: no whole request from %s in %.1f s", self.client_address, timeout)
                return
            self.connection.settimeout(timeout)  # for writing the reply
            self.rfile = io.BytesIO(head)
            self.handle_one_request()
            self.close_connection = True

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self.reply(200, CONTENT_TYPE_LATEST, generate_latest(registry))
            elif path == "/healthz":
                self.health("ready", readiness)
            elif path == "/livez":
                self.health("alive", liveness)
            else:
                self.reply(404, "text/plain", b"not found: try /metrics, /healthz or /livez\n")

        def health(self, key: str, check: Callable[[], tuple[bool, Detail]]) -> None:
            """200 with {key: true, ...} when the check passes, else 503 with {key: false, ...}."""
            ok, detail = check()
            body = json.dumps({key: ok, **detail}, sort_keys=True).encode() + b"\n"
            self.reply(200 if ok else 503, "application/json", body)

        def reply(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("http: " + format, *args)

    Handler.timeout = timeout
    return Handler
