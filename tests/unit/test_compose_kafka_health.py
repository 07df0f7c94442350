"""The Kafka service's healthcheck, run as Docker runs it (argv, `$$` already turned into `$`)
against a stand-in broker on a free port: healthy only when a Kafka ApiVersions request gets its
answer. (Checked by hand against the local stack's real broker, the Compose image's version.)"""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import threading
from collections.abc import Callable, Iterator

import pytest

from tests.helpers.compose import compose_file

CHECK: list[str] = compose_file()["services"]["kafka"]["healthcheck"]["test"]
API_VERSIONS = 18


def check(port: int) -> int:
    """The exit status of the healthcheck aimed at 127.0.0.1:port."""
    kind, *argv = CHECK
    assert kind == "CMD" and shutil.which(argv[0]), CHECK
    argv = [a.replace("/dev/tcp/127.0.0.1/9092", f"/dev/tcp/127.0.0.1/{port}") for a in argv]
    return subprocess.run(argv, capture_output=True, timeout=30).returncode


def request(conn: socket.socket) -> tuple[int, int, int, bytes]:
    """API key, version, correlation id and client id of one size-prefixed Kafka request."""
    size = struct.unpack(">i", conn.recv(4, socket.MSG_WAITALL))[0]
    body = conn.recv(size, socket.MSG_WAITALL)
    key, version, correlation, length = struct.unpack(">hhih", body[:10])
    return key, version, correlation, body[10:10 + length]


@pytest.fixture
def broker() -> Iterator[Callable[[Callable[[int], bytes]], int]]:
    """A one-connection stand-in: reads a request, answers `reply(correlation id)`; its port."""
    servers: list[socket.socket] = []
    seen: list[tuple[int, int, int, bytes]] = []

    def start(reply: Callable[[int], bytes]) -> int:
        server = socket.create_server(("127.0.0.1", 0))
        servers.append(server)

        def serve() -> None:
            conn, _ = server.accept()
            with conn:
                seen.append(request(conn))
                answer = reply(seen[-1][2])
                conn.sendall(struct.pack(">i", len(answer)) + answer)

        threading.Thread(target=serve, daemon=True).start()
        return server.getsockname()[1]

    start.seen = seen  # type: ignore[attr-defined]
    yield start
    for server in servers:
        server.close()


def versions(correlation: int) -> bytes:
    """An ApiVersions v0 response: no error, one API listed."""
    return struct.pack(">ihihhh", correlation, 0, 1, API_VERSIONS, 0, 4)


def test_healthy_when_the_broker_answers_api_versions(broker) -> None:
    port = broker(versions)
    assert check(port) == 0
    assert broker.seen == [(API_VERSIONS, 0, 7, b"hc")], "a well-formed ApiVersions v0 request"


def test_unhealthy_when_the_answer_is_not_to_this_request(broker) -> None:
    assert check(broker(lambda correlation: versions(correlation + 1))) != 0


def test_unhealthy_when_nothing_listens() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
    assert check(port) != 0
