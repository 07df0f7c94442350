"""A tiny Alertmanager webhook receiver: logs every notification as one JSON line.

Standard library only. Compose runs it as the `webhook` service with `--host 0.0.0.0` (see
`docker compose logs webhook`); without Docker: `python deploy/alertmanager/webhook_log.py`
(127.0.0.1:5001, notifications on stdout, or in a rotated file with `--log FILE`).
GET answers 200 (health check); a POST of a JSON object is logged and answered 200, else 4xx.
Any body is safe: a bad or huge Content-Length, invalid or deeply nested JSON get 400 or 413,
bodies are capped at 1 MiB and every socket operation times out.
"""

from __future__ import annotations

import argparse
import json
import logging
import logging.handlers
import os
import re
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 1 << 20
TIMEOUT = 10.0
LOG_BYTES = 10 << 20  # the log file rotates at this size, keeping one older file
DIGITS = re.compile(r"[0-9]{1,12}")


def notification_line(body: bytes) -> str:
    """The notification as one compact JSON line; ValueError if the body is not a JSON object."""
    try:
        payload = json.loads(body)
        if not isinstance(payload, dict):
            raise ValueError("a notification is a JSON object")
        return json.dumps(payload, separators=(",", ":"), sort_keys=True)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def body_length(values: list[str]) -> int:
    """The one Content-Length of a request; ValueError if missing, repeated or not a number."""
    if len(set(values)) != 1 or not DIGITS.fullmatch(values[0].strip()):
        raise ValueError("expected one numeric Content-Length")
    return int(values[0])


def make_handler(sink: logging.Logger, timeout: float = TIMEOUT) -> type[BaseHTTPRequestHandler]:
    """A request handler class that logs notifications to `sink`, one whole line each."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._reply(200, b"ok\n")

        def do_POST(self) -> None:
            if "Transfer-Encoding" in self.headers:
                self._reply(411, b"send a Content-Length, not a Transfer-Encoding\n")
                return
            try:
                length = body_length(self.headers.get_all("Content-Length") or [])
            except ValueError as exc:
                self._reply(400, f"{exc}\n".encode())
                return
            if length > MAX_BODY:
                self._reply(413, b"a notification is at most 1 MiB\n")
                return
            body = self.rfile.read(length)
            try:
                if len(body) < length:
                    raise ValueError("body shorter than its Content-Length")
                line = notification_line(body)
            except ValueError as exc:
                self._reply(400, f"not a notification: {exc}\n".encode())
                return
            sink.info(line)
            self._reply(200, b"ok\n")

        def log_message(self, format: str, *args: object) -> None:
            """Keep the log for notifications only (request logs go nowhere)."""

        def _reply(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    Handler.timeout = timeout
    return Handler


def notification_logger(path: str | None, max_bytes: int = LOG_BYTES) -> logging.Logger:
    """Where notifications go: the file at `path` (rotated, so bounded) or else stdout."""
    handler: logging.Handler = (
        logging.handlers.RotatingFileHandler(path, maxBytes=max_bytes, backupCount=1)
        if path else logging.StreamHandler(sys.stdout))
    handler.setFormatter(logging.Formatter("%(message)s"))
    sink = logging.getLogger("webhook_log.notifications")
    sink.handlers[:] = [handler]
    sink.setLevel(logging.INFO)
    sink.propagate = False
    return sink


def make_server(host: str, port: int, sink: logging.Logger,
                timeout: float = TIMEOUT) -> ThreadingHTTPServer:
    """The receiver, bound but not yet serving."""
    server = ThreadingHTTPServer((host, port), make_handler(sink, timeout))
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> None:
    """Serve until interrupted."""
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=env("WEBHOOK_HOST", "127.0.0.1"),
                        help="address to listen on (env WEBHOOK_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=int(env("WEBHOOK_PORT", "5001")),
                        help="port to listen on (env WEBHOOK_PORT, default 5001)")
    parser.add_argument("--log", default=env("WEBHOOK_LOG"),
                        help="file for the notifications, rotated at 10 MiB keeping one older "
                             "(env WEBHOOK_LOG; default stdout)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # `docker stop` ends it at once
    server = make_server(args.host, args.port, notification_logger(args.log))
    print(f"webhook_log: listening on {args.host}:{args.port}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
