"""A tiny Alertmanager webhook receiver: prints every notification as one JSON line on stdout.

Standard library only. Compose runs it as the `webhook` service (see `docker compose logs webhook`);
without Docker: `python deploy/alertmanager/webhook_log.py --port 5001`.
GET answers 200 (health check); a POST of a JSON object is printed and answered 200, else 400.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TextIO

MAX_BODY = 1 << 20


def notification_line(body: bytes) -> str:
    """The notification as one compact JSON line; ValueError if the body is not a JSON object."""
    payload = json.loads(body)
    if not isinstance(payload, dict):
        raise ValueError("a notification is a JSON object")
    return json.dumps(payload, separators=(",", ":"), sort_keys=True)


def make_handler(out: TextIO) -> type[BaseHTTPRequestHandler]:
    """A request handler class that writes notifications to `out`, one whole line at a time."""
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._reply(200, b"ok\n")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY:
                self._reply(400, b"expected a JSON body of at most 1 MiB\n")
                return
            try:
                line = notification_line(self.rfile.read(length))
            except ValueError as exc:
                self._reply(400, f"not a notification: {exc}\n".encode())
                return
            with lock:
                out.write(line + "\n")
                out.flush()
            self._reply(200, b"ok\n")

        def log_message(self, format: str, *args: object) -> None:
            """Keep stdout for notifications only (request logs go nowhere)."""

        def _reply(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def main(argv: list[str] | None = None) -> None:
    """Serve until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    parser.add_argument("--port", type=int, default=5001, help="port to listen on (default 5001)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # `docker stop` ends it at once
    server = ThreadingHTTPServer((args.host, args.port), make_handler(sys.stdout))
    print(f"webhook_log: listening on {args.host}:{args.port}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
