"""The /metrics and /healthz server against slow, oversized and too many connections."""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Callable, Iterator

import pytest
from prometheus_client import CollectorRegistry, Counter

from detector.stream.http import HealthServer

TIMEOUT = 0.5  # the server's per-connection deadline in these tests
PATIENCE = 10.0  # how long a test waits for something that should take about TIMEOUT


@pytest.fixture
def state() -> dict:
    return {"ready": True}


@pytest.fixture
def make_server(state: dict) -> Iterator[Callable[..., HealthServer]]:
    """Start a real server on a free port with a fresh registry; stopped after the test."""
    started: list[HealthServer] = []

    def make(timeout: float = TIMEOUT, max_connections: int = 4) -> HealthServer:
        registry = CollectorRegistry()
        Counter("detector_records", "Readings scored.", registry=registry).inc(3)
        health = HealthServer(registry, lambda: (state["ready"], {"state": "test"}),
                              "127.0.0.1", 0, timeout=timeout, max_connections=max_connections)
        health.start()
        started.append(health)
        return health

    yield make
    for health in started:
        health.stop()


@pytest.fixture
def server(make_server: Callable[..., HealthServer]) -> HealthServer:
    return make_server()


def get(port: int, path: str) -> tuple[int, bytes]:
    """Status and body of a GET."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=PATIENCE)
    try:
        conn.request("GET", path)
        reply = conn.getresponse()
        return reply.status, reply.read()
    finally:
        conn.close()


def status(port: int, path: str) -> int | None:
    """The status of a GET, None if the connection was dropped."""
    try:
        return get(port, path)[0]
    except (ConnectionError, http.client.HTTPException):
        return None


def raw(port: int, data: bytes) -> socket.socket:
    """A raw connection that has sent `data`."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=PATIENCE)
    sock.sendall(data)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (a reset counts as closed)."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def test_metrics_answers_while_a_slowloris_connection_is_open(server: HealthServer) -> None:
    slow = raw(server.port, b"GET /metr")
    try:
        status, body = get(server.port, "/metrics")
        assert status == 200
        assert b"detector_records_total 3.0" in body
        started = time.monotonic()
        assert read_all(slow) == b""  # dropped without an answer
        assert time.monotonic() - started < PATIENCE
    finally:
        slow.close()


def test_a_trickling_client_is_dropped_at_the_deadline(server: HealthServer) -> None:
    slow = raw(server.port, b"G")
    try:
        deadline = time.monotonic() + PATIENCE
        closed = False
        while not closed and time.monotonic() < deadline:
            try:
                slow.sendall(b"E")  # a byte at a time never resets the deadline
            except OSError:
                closed = True
                break
            slow.settimeout(0.1)
            try:
                closed = slow.recv(1) == b""
            except TimeoutError:
                pass
            except ConnectionResetError:
                closed = True
        assert closed
    finally:
        slow.close()


@pytest.mark.parametrize("request_bytes", [
    b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\n" + b"X-Pad: " + b"b" * 9000 + b"\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\n" + b"X: y\r\n" * 2000 + b"\r\n",
])
def test_oversized_requests_are_refused_and_the_server_goes_on(
    server: HealthServer, request_bytes: bytes
) -> None:
    sock = raw(server.port, request_bytes)
    try:
        reply = read_all(sock)
    finally:
        sock.close()
    assert reply == b"" or reply.startswith(b"HTTP/1.1 4")
    assert get(server.port, "/metrics")[0] == 200


def test_only_get_is_served(server: HealthServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=PATIENCE)
    try:
        conn.request("POST", "/metrics", body=b"x" * 1000)
        assert conn.getresponse().status == 501
    finally:
        conn.close()
    assert get(server.port, "/nowhere")[0] == 404


def test_healthz_follows_readiness(server: HealthServer, state: dict) -> None:
    status, body = get(server.port, "/healthz")
    assert (status, body) == (200, b'{"ready": true, "state": "test"}\n')
    state["ready"] = False
    assert get(server.port, "/healthz") == (503, b'{"ready": false, "state": "test"}\n')
    state["ready"] = True
    assert get(server.port, "/healthz")[0] == 200


def test_connections_past_the_bound_are_refused_then_served_again(
    make_server: Callable[..., HealthServer],
) -> None:
    server = make_server(timeout=PATIENCE, max_connections=2)
    idle = [raw(server.port, b"") for _ in range(2)]
    try:
        deadline = time.monotonic() + PATIENCE
        while True:  # once the server has taken the idle two, a third is refused at once
            extra = raw(server.port, b"GET /metrics HTTP/1.1\r\n\r\n")
            try:
                reply = read_all(extra)
            finally:
                extra.close()
            if not reply.startswith(b"HTTP/1.1 200"):
                break
            assert time.monotonic() < deadline, "a third connection was never refused"
            time.sleep(0.05)
        assert reply == b"" or reply.startswith(b"HTTP/1.1 503")
    finally:
        for sock in idle:
            sock.close()
    deadline = time.monotonic() + PATIENCE
    while status(server.port, "/metrics") != 200:
        assert time.monotonic() < deadline, "never served again after the idle ones closed"
        time.sleep(0.05)
