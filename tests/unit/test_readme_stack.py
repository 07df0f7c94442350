"""The README's promises about the running stack, read from the files that make it: where to
look (ports and addresses of Compose and the local stack, the dashboard, the notification log and
its bound), the model the stack trains, the Python versions, the make targets it names, and the
simulator's four labelled devices of the offline quick start."""

from __future__ import annotations

import csv
import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml
from click.testing import CliRunner

from detector.core.training_settings import TrainingSettings
from producer.cli import main as producer
from tests.helpers import REPO, unavailable

README = " ".join((REPO / "README.md").read_text().split())
UP = (REPO / "deploy" / "local" / "up").read_text()
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]


def shell_default(path: str, variable: str) -> str:
    """The default a deploy/local script gives `VARIABLE=${NAME:-default}`."""
    found = re.search(rf"^{variable}=\$\{{\w+:-([^}}]+)\}}", (REPO / path).read_text(), re.M)
    assert found, f"{path} sets no {variable}"
    return found[1]


def test_compose_publishes_what_the_where_to_look_table_names():
    assert "http://localhost:3000/d/anomaly-detector" in README
    assert "127.0.0.1:3000:3000" in COMPOSE["grafana"]["ports"]
    dashboard = json.loads((REPO / "deploy/grafana/dashboards/detector.json").read_text())
    assert dashboard["uid"] == "anomaly-detector"
    grafana = COMPOSE["grafana"]["environment"]
    assert "anonymous view; admin / `$GRAFANA_ADMIN_PASSWORD`, default `admin`" in README
    assert grafana["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert grafana["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    assert grafana["GF_SECURITY_ADMIN_PASSWORD"] == "${GRAFANA_ADMIN_PASSWORD:-admin}"
    assert "| http://localhost:9090 | http://127.0.0.1:9090 |" in README
    assert "127.0.0.1:9090:9090" in COMPOSE["prometheus"]["ports"]
    assert "| http://localhost:9093 | http://127.0.0.1:9093 |" in README
    assert "127.0.0.1:9093:9093" in COMPOSE["alertmanager"]["ports"]
    assert "`127.0.0.1:9092` from the host, `kafka:9092` inside" in README
    advertised = COMPOSE["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert "PLAINTEXT://kafka:9092" in advertised and "HOST://127.0.0.1:${KAFKA_HOST_PORT:-9092}" \
        in advertised


def test_the_local_stack_listens_where_the_table_says():
    assert shell_default("deploy/local/services/prometheus.sh", "PROMETHEUS_PORT") == "9090"
    assert shell_default("deploy/local/services/alertmanager.sh", "ALERTMANAGER_PORT") == "9093"
    assert shell_default("deploy/local/kafka-secure.sh", "KAFKA_PORT") == "9096"
    assert "with `make up SECURE=1` `127.0.0.1:9096`" in README
    assert shell_default("deploy/local/up", "BOOTSTRAP").startswith("127.0.0.1")
    assert shell_default("deploy/local/up", "PRODUCER_PORT") == "8001"
    assert "http://127.0.0.1:8001/metrics" in README
    assert shell_default("deploy/local/up", "RETRAINER_PORT") == "8100"  # operations.md's


def test_local_replicas_take_8000_8002_8003_and_leave_8001_to_the_producer():
    function = re.search(r"^replica_port\(\) \{.*?^\}", UP, re.S | re.M)
    assert function, "deploy/local/up has no replica_port"
    script = (f"say() {{ echo \"$@\"; }}\n{function[0]}\n"
              f"METRICS_PORT={shell_default('deploy/local/up', 'METRICS_PORT')}\n"
              f"PRODUCER_PORT={shell_default('deploy/local/up', 'PRODUCER_PORT')}\n"
              "for i in 0 1 2 3; do replica_port $i; done\n")
    ports = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True,
                           timeout=30).stdout.split()
    assert ports == ["8000", "8002", "8003", "8004"]
    assert "(replicas on 8000, 8002, 8003 …; 8001 is the producer's)" in README


def test_alert_notifications_go_to_a_log_rotated_at_10_mib():
    spec = importlib.util.spec_from_file_location(
        "webhook_log", REPO / "deploy" / "alertmanager" / "webhook_log.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.LOG_BYTES == 10 * 1024 * 1024
    assert '--log "$APP/notifications.log"' in UP and 'APP=$STACK_STATE/app' in UP
    assert "`.stack/app/notifications.log` (rotated at 10 MiB)" in README


def test_the_stack_trains_train_s_default_on_20000_simulated_readings():
    local = UP.replace('"$BIN/detector"', "detector")
    assert 'detector train --simulate 20000 --out "$MODEL_DIR"' in local
    trainer = " ".join(str(word) for word in COMPOSE["trainer"]["command"])
    assert "detector train --simulate ${TRAIN_SAMPLES:-20000} --out /models/current;" in trainer
    defaults = TrainingSettings()
    assert (str(defaults.architecture), defaults.window) == ("dense", 1)  # point-wise dense
    assert (str(defaults.calibration), defaults.target_far) == ("pot", 0.001)
    assert ("a point-wise dense autoencoder, POT threshold at a target FAR of 0.001) trained on "
            "20,000 simulated normal readings") in README


def test_the_python_versions_are_pyproject_s():
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'requires-python = ">=3.11,<3.14"' in pyproject
    assert "Python 3.11 to 3.13" in README


def test_make_help_lists_the_targets_the_readme_names():
    if shutil.which("make") is None:
        unavailable("no make on PATH")
    shown = subprocess.run(["make", "-s", "-C", str(REPO), "help"], capture_output=True,
                           text=True, check=True, timeout=60).stdout
    targets = dict(line.split("\t", 1) for line in shown.splitlines())
    for target in ("up", "test", "install", "down", "help"):
        assert f"make {target}" in README and target in targets, target
    assert "make test # everything: lint, config checks, unit, model, integration and e2e" \
        in README and targets["test"].strip().startswith("everything: lint, config checks, unit")


def test_the_quick_start_simulates_four_devices_with_labelled_anomalies(tmp_path: Path):
    assert "--output readings.csv --count 20000 # 4 devices, labelled anomalies" in README
    out = tmp_path / "readings.csv"
    result = CliRunner().invoke(producer, ["simulate", "--output", str(out), "--count", "20000"],
                                env={"PRODUCER_DEVICES": None}, prog_name="producer")
    assert result.exit_code == 0, result.output
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 20000
    assert len({r["device"] for r in rows}) == 4
    assert {r["label"] for r in rows} - {"normal"}, "no labelled anomaly"

