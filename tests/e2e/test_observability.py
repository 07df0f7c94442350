"""The whole picture: producer → Kafka → detector → Prometheus → Alertmanager → a webhook.

With anomalies injected, every query of the Grafana dashboards (its variables set to "All")
returns data, the live detector's /metrics passes `promtool check metrics`, the anomaly alert
reaches the test's webhook with its labels and annotations, and a stopped detector raises
DetectorDown.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest
import requests

from tests.helpers import REPO
from tests.helpers.broker import unique_name
from tests.helpers.dashboards import dashboard_queries
from tests.helpers.observability import Observability, eventually
from tests.helpers.processes import (
    DetectorProcess,
    ServeTopics,
    free_port,
    producer_command,
    terminate,
)

# How long the dashboard test waits for the last query to have data. It polls, so a pass takes
# as long as the data does; the bound only ends a failing run. The firing-alert query needs a
# channel's anomaly counter scraped twice and the rule evaluated after it: 150 s was once too
# short for it on a machine under a load of 20.
DATA_WITHIN = 300


@pytest.fixture(scope="module")
def running(kafka_bootstrap, kafka_admin, serve_bundle, tmp_path_factory) -> Iterator[dict]:
    """A producer and a detector on fresh topics, both scraped by Prometheus."""
    topics = ServeTopics(*(unique_name(f"e2e-{part}") for part in ("readings", "anomalies",
                                                                    "dlq", "group")))
    ports = {"producer": free_port()}
    logs = tmp_path_factory.mktemp("e2e-logs")
    detector = DetectorProcess.serve(serve_bundle, topics, kafka_bootstrap)
    producer = subprocess.Popen(
        producer_command(kafka_bootstrap, topics.readings, rate=300, anomaly_rate=0.01,
                         devices=6, metrics_port=ports["producer"]),
        cwd=REPO, stdout=(logs / "producer.log").open("w"), stderr=subprocess.STDOUT,
    )
    try:
        detector.wait_ready()
        ports["detector"] = detector.port
        yield {"ports": ports, "detector": detector}
    finally:
        terminate(detector.proc, producer, timeout=30)
        kafka_admin.delete_topics([topics.readings, topics.anomalies, topics.dlq],
                                  raise_errors=False)


def wait_scraped(observability: Observability, port: int) -> str:
    """Until Prometheus has scraped the detector on port; its instance label."""
    instance = f"127.0.0.1:{port}"
    eventually(
        lambda: observability.query(f'up{{instance="{instance}"}} == 1'),
        60,
        what=f"Prometheus to scrape {instance}",
    )
    return instance


@pytest.fixture(scope="module")
def stopped(kafka_bootstrap, kafka_admin, serve_bundle, observability) -> Iterator[dict]:
    """A second detector (topics and group of its own), scraped, then stopped with SIGTERM: the
    instance DetectorDown must name. It stops before the other tests run, so that the alert's
    minute (`for: 1m`) passes while they do rather than after them."""
    topics = ServeTopics(*(unique_name(f"e2e-down-{part}") for part in ("readings", "anomalies",
                                                                         "dlq", "group")))
    detector = DetectorProcess.serve(serve_bundle, topics, kafka_bootstrap)
    try:
        detector.wait_ready()
        scrape = observability.scrape("detector", detector.port)
        instance = wait_scraped(observability, detector.port)
        yield {"instance": instance, "status": detector.stop(timeout=30)}
        scrape.unlink(missing_ok=True)
    finally:
        detector.kill()
        kafka_admin.delete_topics([topics.readings, topics.anomalies, topics.dlq],
                                  raise_errors=False)


@pytest.fixture(scope="module")
def scraped(running, stopped, observability: Observability) -> dict:
    """The running processes once Prometheus scrapes both of them (and the stopped detector
    stopped)."""
    files = [observability.scrape(job, port) for job, port in running["ports"].items()]
    wait_scraped(observability, running["ports"]["detector"])
    yield running
    for path in files:
        path.unlink(missing_ok=True)


def test_every_dashboard_query_returns_data(scraped, observability: Observability):
    # An annotation that marks events (`... > 0`: a model promoted) has data only when one
    # happens, and no retrainer runs here; promtool still parses it (tests/unit).
    queries = [(where, expr) for where, expr in dashboard_queries()
               if not (" / annotation " in where and expr.rstrip().endswith("> 0"))]
    assert len(queries) >= 15
    empty = set(queries)
    deadline = time.monotonic() + DATA_WITHIN
    while empty and time.monotonic() < deadline:
        empty = {(title, expr) for title, expr in empty if not observability.query(expr)}
        time.sleep(5)
    assert not empty, f"dashboard queries without data after {DATA_WITHIN} s: {sorted(empty)}"


def test_live_metrics_pass_promtool_check_metrics(scraped):
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing (make system-deps installs it)"
    url = f"http://127.0.0.1:{scraped['ports']['detector']}/metrics"

    def calibrated() -> str | None:
        text = requests.get(url, timeout=10).text
        return text if "detector_calibration_error_quantile{" in text else None

    exposed = eventually(calibrated, 60, what="the calibration quantiles on /metrics")
    result = subprocess.run([promtool, "check", "metrics"], input=exposed, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'detector_calibration_error_quantile{level="0.5"}' in exposed


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


def test_a_stopped_detector_raises_detector_down(scraped, stopped, observability: Observability):
    instance = stopped["instance"]
    assert stopped["status"] == 0

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
