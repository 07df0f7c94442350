"""/livez beside /healthz: a replica that is not ready (no partitions, a rebalance, no broker)
is still alive, so a restart probe on /livez leaves it alone."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Iterator

import pytest
from prometheus_client import CollectorRegistry

from detector.stream.http import HealthServer, Liveness


@pytest.fixture
def serve() -> Iterator[Callable[..., int]]:
    """Start a real server on a free port with the given callables; its port. Stopped after."""
    started: list[HealthServer] = []

    def start(ready: bool, liveness: Liveness | None = None) -> int:
        detail = {"partitions": [0] if ready else [], "broker": "ok"}
        server = HealthServer(CollectorRegistry(), lambda: (ready, detail), "127.0.0.1", 0,
                              liveness=liveness)
        server.start()
        started.append(server)
        return server.port

    yield start
    for server in started:
        server.stop()


def get(port: int, path: str) -> tuple[int, str, dict]:
    """Status, content type and JSON body of a GET."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        reply = conn.getresponse()
        return reply.status, reply.getheader("Content-Type"), json.loads(reply.read())
    finally:
        conn.close()


def test_a_standby_replica_is_alive_but_not_ready(serve: Callable[..., int]) -> None:
    port = serve(ready=False)
    assert get(port, "/healthz") == (503, "application/json",
                                     {"ready": False, "partitions": [], "broker": "ok"})
    assert get(port, "/livez") == (200, "application/json", {"alive": True})


def test_a_ready_replica_is_alive_and_ready(serve: Callable[..., int]) -> None:
    port = serve(ready=True)
    assert get(port, "/healthz")[0] == 200
    assert get(port, "/livez")[0] == 200


def test_livez_says_what_its_liveness_callable_says(serve: Callable[..., int]) -> None:
    verdict = {"alive": True}
    port = serve(ready=True, liveness=lambda: (verdict["alive"], {"loop": "stuck"}))
    assert get(port, "/livez") == (200, "application/json", {"alive": True, "loop": "stuck"})
    verdict["alive"] = False
    assert get(port, "/livez") == (503, "application/json", {"alive": False, "loop": "stuck"})
    assert get(port, "/healthz")[0] == 200, "readiness does not follow liveness"


def test_livez_ignores_a_query_string_like_the_other_endpoints(serve: Callable[..., int]) -> None:
    port = serve(ready=False)
    assert get(port, "/livez?probe=kubelet")[0] == 200
