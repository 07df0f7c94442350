"""deploy/alertmanager/webhook_log.py: any request is answered or dropped, never a crash."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import REPO, load_script

SCRIPT = REPO / "deploy" / "alertmanager" / "webhook_log.py"
PATIENCE = 10.0


webhook_log = load_script(SCRIPT)  # the receiver script (it is not in a package)


class Lines(logging.Handler):
    """Keeps every logged notification line."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[int, Lines]]:
    """The real receiver on a free port, in a thread, with a short socket timeout."""
    lines = Lines()
    sink = logging.getLogger("test_webhook_log")
    sink.handlers[:] = [lines]
    sink.setLevel(logging.INFO)
    sink.propagate = False
    server = webhook_log.make_server("127.0.0.1", 0, sink, timeout=1.0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], lines
    server.shutdown()
    server.server_close()


def exchange(port: int, data: bytes) -> bytes:
    """Send raw bytes, half-close, and read the reply (b"" if the server dropped us)."""
    with socket.create_connection(("127.0.0.1", port), timeout=PATIENCE) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
        except (ConnectionResetError, BrokenPipeError):
            return b""
    return reply


def post(port: int, body: bytes, length: str | None = None) -> bytes:
    """A POST with the given body and Content-Length header (the true length by default)."""
    head = "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    head += f"Content-Length: {len(body) if length is None else length}\r\n\r\n"
    return exchange(port, head.encode("utf-8", "surrogatepass") + body)


def status(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/") else 0


def still_answers(port: int, lines: Lines) -> None:
    """A good notification is still logged as one line and answered 200."""
    note = {"status": "firing", "alerts": [{"labels": {"alertname": "Test\nline"}}]}
    assert status(post(port, json.dumps(note).encode())) == 200
    assert json.loads(lines.lines[-1]) == note
    assert "\n" not in lines.lines[-1]


def test_a_notification_is_logged_as_one_line(receiver: tuple[int, Lines]) -> None:
    still_answers(*receiver)
    assert status(exchange(receiver[0], b"GET / HTTP/1.0\r\n\r\n")) == 200


@pytest.mark.parametrize(("body", "length", "expected"), [
    (b"{}", "abc", 400),
    (b"{}", "-5", 400),
    (b"{}", "+2", 400),
    (b"{}", "2, 2", 400),
    (b"{}", "\u00b2", 400),  # a superscript two is a digit to str.isdigit, not to int()
    (b"{}", "99999999999999999999999", 400),
    (b"{}", str(2 << 20), 413),
    (b"", "0", 400),
    (b"[1, 2]", None, 400),
    (b"not json", None, 400),
    (b"[" * 100_000, None, 400),
    (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, None, 400),
    (b'{"n": 1' + b"0" * 10_000 + b"}", None, 400),
    (b"\xff\xfe\x00garbage", None, 400),
])
def test_bad_requests_are_refused(
    receiver: tuple[int, Lines], body: bytes, length: str | None, expected: int
) -> None:
    port, lines = receiver
    before = len(lines.lines)
    reply = post(port, body, length)
    assert status(reply) in (expected, 0)  # 0: dropped before the reply could be read
    assert len(lines.lines) == before
    still_answers(port, lines)


def test_a_short_body_times_out_and_the_receiver_goes_on(receiver: tuple[int, Lines]) -> None:
    port, lines = receiver
    with socket.create_connection(("127.0.0.1", port), timeout=PATIENCE) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
        try:
            reply = sock.recv(65536)  # the server gives up after its 1 s timeout
        except ConnectionResetError:
            reply = b""
        assert status(reply) in (0, 400)
    still_answers(port, lines)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(length=st.one_of(st.none(), st.text(max_size=30), st.integers().map(str)),
       body=st.binary(max_size=2000))
def test_any_length_and_body_is_answered_or_dropped(
    receiver: tuple[int, Lines], length: str | None, body: bytes
) -> None:
    port, lines = receiver
    length = None if length is None else length.replace("\r", "").replace("\n", "")
    reply = post(port, body, length)
    assert status(reply) in (0, 200, 400, 413)
    still_answers(port, lines)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(depth=st.integers(min_value=1, max_value=200_000),
       opener=st.sampled_from([b"[", b'{"a":', b'{"a":[']))
def test_any_nesting_is_answered(receiver: tuple[int, Lines], depth: int, opener: bytes) -> None:
    port, lines = receiver
    body = opener * min(depth, (1 << 20) // len(opener))
    reply = post(port, body)
    assert status(reply) in (0, 400, 413)
    still_answers(port, lines)


def test_the_log_file_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "notifications.log"
    sink = webhook_log.notification_logger(str(path), max_bytes=10_000)
    try:
        for i in range(1000):
            sink.info(json.dumps({"n": i, "pad": "x" * 100}))
    finally:
        for handler in sink.handlers:
            handler.close()
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["notifications.log", "notifications.log.1"]
    assert all(f.stat().st_size <= 10_000 for f in files)
    assert json.loads(path.read_text().splitlines()[-1])["n"] == 999
