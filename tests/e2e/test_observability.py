"""The whole picture: producer → Kafka → detector → Prometheus → Alertmanager → a webhook.

With anomalies injected, every query of the Grafana dashboards returns data, the anomaly alert
reaches the test's webhook with its labels and annotations, and a stopped detector raises
DetectorDown.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO
from tests.e2e.conftest import Observability, eventually, free_port

DASHBOARDS = sorted((REPO / "deploy" / "grafana" / "dashboards").glob("*.json"))


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, expr) of every target of every dashboard panel, and of the annotations."""
    queries = []
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        panels = [p for row in board["panels"] for p in [row, *row.get("panels", [])]]
        for panel in panels:
            for target in panel.get("targets", []):
                if target.get("expr"):
                    queries.append((f"{path.stem}: {panel.get('title')}", target["expr"]))
        for note in board.get("annotations", {}).get("list", []):
            if note.get("expr"):
                queries.append((f"{path.stem}: annotation {note['name']}", note["expr"]))
    return queries


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    """A small default model trained on simulated normal data."""
    out = tmp_path_factory.mktemp("e2e") / "model"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "detector",
            "train",
            "--simulate",
            "20000",
            "--epochs",
            "30",
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    return out


@pytest.fixture(scope="module")
def running(kafka_bootstrap, kafka_admin, bundle, tmp_path_factory) -> Iterator[dict]:
    """A producer and a detector on fresh topics, both scraped by Prometheus."""
    suffix = free_port()
    topics = {
        "readings": f"e2e-readings-{suffix}",
        "anomalies": f"e2e-anomalies-{suffix}",
        "dlq": f"e2e-dlq-{suffix}",
    }
    ports = {"detector": free_port(), "producer": free_port()}
    logs = tmp_path_factory.mktemp("e2e-logs")
    detector = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "detector",
            "serve",
            "--model",
            str(bundle),
            "--bootstrap",
            kafka_bootstrap,
            "--topic",
            topics["readings"],
            "--anomalies-topic",
            topics["anomalies"],
            "--dlq-topic",
            topics["dlq"],
            "--group",
            f"e2e-{suffix}",
            "--metrics-port",
            str(ports["detector"]),
        ],
        stdout=(logs / "detector.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    producer = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "producer",
            "simulate",
            "--bootstrap",
            kafka_bootstrap,
            "--topic",
            topics["readings"],
            "--rate",
            "300",
            "--anomaly-rate",
            "0.01",
            "--devices",
            "6",
            "--metrics-port",
            str(ports["producer"]),
        ],
        stdout=(logs / "producer.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    processes = {"detector": detector, "producer": producer}
    try:
        eventually(lambda: healthy(ports["detector"]), 60, 1, "the detector's /healthz")
        yield {"ports": ports, "processes": processes, "logs": logs}
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        kafka_admin.delete_topics(list(topics.values()), raise_errors=False)


def healthy(port: int) -> bool:
    """True when /healthz answers 200."""
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


@pytest.fixture(scope="module")
def scraped(running, observability: Observability) -> dict:
    """The running processes once Prometheus scrapes both of them."""
    files = [observability.scrape(job, port) for job, port in running["ports"].items()]
    detector = f"127.0.0.1:{running['ports']['detector']}"
    eventually(
        lambda: observability.query(f'up{{instance="{detector}"}} == 1'),
        60,
        what=f"Prometheus to scrape {detector}",
    )
    yield running
    for path in files:
        path.unlink(missing_ok=True)


def test_every_dashboard_query_returns_data(scraped, observability: Observability):
    queries = dashboard_queries()
    assert len(queries) >= 15
    empty = set(queries)
    deadline = time.monotonic() + 150
    while empty and time.monotonic() < deadline:
        empty = {(title, expr) for title, expr in empty if not observability.query(expr)}
        time.sleep(5)
    assert not empty, f"dashboard queries without data after 150 s: {sorted(empty)}"


def test_anomaly_alert_reaches_the_webhook_with_labels_and_annotations(
    scraped, observability: Observability
):
    def notified() -> list[dict]:
        return [
            alert
            for message in observability.webhook.received
            for alert in message.get("alerts", [])
            if alert["labels"].get("alertname") == "AnomalyDetected" and alert["status"] == "firing"
        ]

    alerts = eventually(
        notified,
        150,
        2,
        lambda: (
            f"AnomalyDetected at the webhook (Prometheus: {observability.alerts()}, "
            f"Alertmanager: {observability.alertmanager_alerts()}, "
            f"webhook: {observability.webhook.received})"
        ),
    )
    firing = [a for a in observability.alerts() if a["labels"]["alertname"] == "AnomalyDetected"]
    assert any(a["state"] == "firing" for a in firing)
    assert any(
        a["labels"]["alertname"] == "AnomalyDetected" for a in observability.alertmanager_alerts()
    )
    labels, annotations = alerts[0]["labels"], alerts[0]["annotations"]
    assert labels["severity"] == "warning"
    assert labels["channel"] in {f"col_{i}" for i in range(1, 6)}
    assert annotations["summary"] == f"Anomaly detected on channel {labels['channel']}"
    assert "flagged as anomalous" in annotations["description"]


def test_a_stopped_detector_raises_detector_down(scraped, observability: Observability):
    detector = scraped["processes"]["detector"]
    instance = f"127.0.0.1:{scraped['ports']['detector']}"
    detector.send_signal(signal.SIGTERM)
    assert detector.wait(timeout=30) == 0

    def down_firing() -> list[dict]:
        return [
            a
            for a in observability.alerts()
            if a["labels"]["alertname"] == "DetectorDown"
            and a["labels"].get("instance") == instance
            and a["state"] == "firing"
        ]

    alert = eventually(down_firing, 150, 3, f"DetectorDown for {instance}")[0]
    assert alert["labels"]["severity"] == "critical"
    assert instance in alert["annotations"]["summary"]
