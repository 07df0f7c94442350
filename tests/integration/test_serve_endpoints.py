"""The running daemon's endpoints against slow clients, on a real broker."""

from __future__ import annotations

import json
import socket


def test_slowloris_connections_do_not_stop_metrics_answering_others(start_detector, serve_topics,
                                                                     simulate):
    topics = serve_topics()
    detector = start_detector(topics)
    detector.wait_ready()
    slow = []
    for _ in range(8):  # each sends half a request line, then nothing
        sock = socket.create_connection(("127.0.0.1", detector.port), timeout=30)
        sock.sendall(b"GET /metr")
        slow.append(sock)
    try:
        simulate(topics.readings, 200)
        detector.wait_records(200)  # /metrics answered while the slow ones hang on
        status, body = detector.get("/metrics")
        assert status == 200 and b"detector_records_total 200.0" in body
        assert detector.healthz()[0] == 200
        for sock in slow:  # the daemon closes each slow one at its request deadline (5 s)
            assert sock.recv(1024) == b""
    finally:
        for sock in slow:
            sock.close()
    assert detector.stop() == 0


def test_livez_follows_the_serve_loop(start_detector, serve_topics):
    detector = start_detector(serve_topics())
    detector.wait_ready()
    status, body = detector.get("/livez")
    alive = json.loads(body)
    assert status == 200 and alive["alive"] is True and alive["since_step_s"] < 60
    assert detector.stop() == 0
