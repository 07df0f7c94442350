"""Static checks of the Docker deployment: docker-compose.yml, the Dockerfile and the Prometheus,
Alertmanager and Grafana files it mounts (no Docker engine needed)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.helpers import REPO, unavailable
from tests.helpers.compose import DOCKERFILE, compose_file

SCHEMA = REPO.parent / "shared" / "data" / "compose-spec" / "compose-spec.json"
POM = REPO / "deploy" / "kafka" / "pom.xml"
PROMETHEUS = REPO / "deploy" / "prometheus"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return compose_file()


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def load_yaml(path: Path) -> Any:
    """A YAML file of the repository."""
    return yaml.safe_load(path.read_text())


def test_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    if not SCHEMA.exists():
        unavailable(f"no Compose schema at {SCHEMA} (CI must provide ../shared/data)")
    schema = yaml.safe_load(SCHEMA.read_text())
    # The spec declares draft-07 (spelled so that jsonschema does not recognise it by itself).
    assert "draft-07" in schema["$schema"]
    validator = jsonschema.Draft7Validator(schema)
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(compose)]
    assert errors == []


def test_every_image_is_pinned_to_a_version(services: dict[str, Any]) -> None:
    for name, service in services.items():
        image = service["image"]
        repo, _, tag = image.rpartition(":")
        assert repo and "/" not in tag, f"{name}: image {image} has no tag"
        assert tag != "latest" and re.search(r"\d+\.\d+", tag), f"{name}: {image} is not a version"


def kafka_version_of_pom() -> str:
    """Kafka's version in deploy/kafka/pom.xml: its kafka_2.13 dependency, properties resolved."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    root = ET.parse(POM).getroot()
    props = {el.tag.split("}")[1]: (el.text or "").strip() for el in root.find("m:properties", ns)}
    for dep in root.iterfind("m:dependencies/m:dependency", ns):
        if dep.findtext("m:artifactId", namespaces=ns) == "kafka_2.13":
            version = dep.findtext("m:version", namespaces=ns).strip()
            return re.sub(r"\$\{([^}]+)\}", lambda m: props[m.group(1)], version)
    raise AssertionError(f"{POM} has no kafka_2.13 dependency")


def test_kafka_image_is_the_local_stack_version(services: dict[str, Any]) -> None:
    version = kafka_version_of_pom()
    kafka_images = {s["image"] for s in services.values() if s["image"].startswith("apache/kafka:")}
    assert kafka_images == {f"apache/kafka:{version}"}


def test_kafka_has_a_healthcheck_that_starts_no_jvm(services: dict[str, Any]) -> None:
    check = services["kafka"]["healthcheck"]
    assert not check.get("disable", False)
    assert "/dev/tcp/127.0.0.1/9092" in " ".join(check["test"])
    assert "/opt/kafka/bin" not in " ".join(check["test"]), "every Kafka tool starts a JVM"


def test_detector_scales_and_waits_for_its_model_and_kafka(services: dict[str, Any]) -> None:
    detector = services["detector"]
    assert "container_name" not in detector
    assert "ports" not in detector, "a fixed host port would stop `--scale detector=N`"
    assert detector["depends_on"]["trainer"]["condition"] == "service_completed_successfully"
    assert detector["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert detector["environment"]["DETECTOR_MODEL"] == "/models/current"
    assert detector["environment"]["DETECTOR_BOOTSTRAP"] == "kafka:9092"


def test_trainer_trains_once_into_the_shared_volume(services: dict[str, Any]) -> None:
    trainer, detector = services["trainer"], services["detector"]
    script = " ".join(trainer["command"])
    assert "[ -f /models/current/bundle.json ]" in script
    assert "detector train --simulate 20000 --out /models/current" in script
    assert trainer["restart"] == "no"
    assert "models:/models" in trainer["volumes"]
    assert "models:/models:ro" in detector["volumes"]


def test_one_retrainer_promotes_into_the_volume_the_detectors_serve(
    services: dict[str, Any],
) -> None:
    retrainer, detector = services["retrainer"], services["detector"]
    assert retrainer["command"] == ["detector", "retrain"]
    assert retrainer["environment"]["DETECTOR_MODEL"] == detector["environment"]["DETECTOR_MODEL"]
    assert "models:/models" in retrainer["volumes"], "it writes promoted bundles there"
    assert retrainer["environment"]["DETECTOR_GROUP"] != detector["environment"]["DETECTOR_GROUP"]
    assert retrainer["depends_on"]["trainer"]["condition"] == "service_completed_successfully"
    assert "deploy" not in retrainer, "one retrainer per consumer group: never replicated"
    jobs = {job["job_name"]: job for job in
            load_yaml(PROMETHEUS / "prometheus.yml")["scrape_configs"]}
    port = retrainer["environment"]["DETECTOR_METRICS_PORT"]
    assert jobs["retrainer"]["static_configs"] == [{"targets": [f"retrainer:{port}"]}]


def test_prometheus_scrapes_each_detector_replica(services: dict[str, Any]) -> None:
    config = load_yaml(PROMETHEUS / "prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    port = int(services["detector"]["environment"]["DETECTOR_METRICS_PORT"])
    assert jobs["detector"]["dns_sd_configs"] == [
        {"names": ["detector"], "type": "A", "port": port, "refresh_interval": "15s"}
    ]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "alertmanager:9093"
    ]
    assert config["rule_files"] == ["rules/*.yml"]


def without_targets(config: Any) -> Any:
    """A Prometheus config with its targets, service discovery and intervals taken out."""
    if isinstance(config, dict):
        drop = {"static_configs", "dns_sd_configs", "file_sd_configs"}
        drop |= {"scrape_interval", "scrape_timeout", "evaluation_interval"}
        return {k: without_targets(v) for k, v in config.items() if k not in drop}
    if isinstance(config, list):
        return [without_targets(v) for v in config]
    return config


def test_local_prometheus_config_differs_only_in_targets_and_intervals() -> None:
    compose = load_yaml(PROMETHEUS / "prometheus.yml")
    local = load_yaml(PROMETHEUS / "prometheus.local.yml")
    assert without_targets(local) == without_targets(compose)
    assert local["global"]["scrape_interval"] == local["global"]["evaluation_interval"] == "5s"
    assert local["scrape_configs"][0]["file_sd_configs"][0]["files"] == [
        "../../.stack/prometheus/targets/detector*.json"
    ]


def test_files_mounted_from_the_repository_exist(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (REPO / source).exists(), f"{name} mounts {source}, which does not exist"


def test_alerts_go_to_the_webhook_service(services: dict[str, Any]) -> None:
    config = load_yaml(REPO / "deploy" / "alertmanager" / "alertmanager.yml")
    urls = {c["url"] for r in config["receivers"] for c in r.get("webhook_configs", [])}
    # deploy/local/services/alertmanager.sh replaces exactly this URL for the local stack.
    assert urls == {"http://webhook:5001/"}
    webhook = services["webhook"]
    assert webhook["command"][:2] == ["python", "/opt/anomaly-detector/webhook_log.py"]
    assert webhook["command"][webhook["command"].index("--port") + 1] == "5001"


def test_grafana_provisioning_matches_the_mounts(services: dict[str, Any]) -> None:
    mounts = dict(v.split(":")[:2] for v in services["grafana"]["volumes"])
    provisioning = REPO / "deploy" / "grafana" / "provisioning"
    provider = load_yaml(provisioning / "dashboards" / "dashboards.yml")
    assert provider["providers"][0]["options"]["path"] == mounts["./deploy/grafana/dashboards"]
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    source = load_yaml(provisioning / "datasources" / "prometheus.yml")
    assert source["datasources"][0]["url"] == "http://prometheus:9090"
    assert "prometheus" in services


def test_dockerfile_runs_as_a_user_with_a_healthcheck_and_pinned_base() -> None:
    text = DOCKERFILE.read_text()
    base = re.search(r"^FROM (\S+)", text, re.M).group(1)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base), base
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n.*/livez", text, re.M)
    assert "pip install --no-cache-dir --require-hashes -r requirements.lock" in text
    assert "pip install --no-cache-dir --no-deps ." in text


def test_dockerignore_lets_in_what_the_dockerfile_copies() -> None:
    allowed = {
        line[1:].rstrip("/")
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    sources = re.findall(r"^COPY (?:--\S+ )*(.+) \S+$", DOCKERFILE.read_text(), re.M)
    copied = {src.rstrip("/") for line in sources for src in line.split()}
    assert copied <= allowed, f"excluded from the build context: {copied - allowed}"
    for path in copied:
        assert (REPO / path).exists(), path


def tool_or_skip(name: str) -> str:
    """The path of a command-line tool; skip without it, but fail under CI=true."""
    return shutil.which(name) or unavailable(
        f"{name} is not installed (make system-deps installs it)")


@pytest.mark.parametrize("name", ["prometheus.yml", "prometheus.local.yml"])
def test_prometheus_accepts_its_configuration(name: str) -> None:
    promtool = tool_or_skip("promtool")
    result = subprocess.run(
        [promtool, "check", "config", name], cwd=PROMETHEUS, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def render_local(service: str, tmp_path: Path, **env: str) -> Path:
    """Run NAME_prepare of a local-stack plug-in with its state in tmp_path; the rendered file."""
    script = (
        f'source deploy/local/lib.sh && source deploy/local/services/{service}.sh '
        f"&& {service}_prepare"
    )
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=REPO,
        env={**os.environ, "STACK_STATE_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return tmp_path / service / f"{service}.yml"


def test_local_alertmanager_runs_the_same_file_with_only_the_webhook_url_changed(
    tmp_path: Path,
) -> None:
    tool_or_skip("prometheus-alertmanager")
    url = "http://127.0.0.1:5999/hook"
    rendered = render_local("alertmanager", tmp_path, ALERTMANAGER_WEBHOOK_URL=url)
    source = (REPO / "deploy" / "alertmanager" / "alertmanager.yml").read_text()
    assert yaml.safe_load(rendered.read_text()) == yaml.safe_load(
        source.replace("url: http://webhook:5001/", f"url: {url}")
    )


def test_local_prometheus_runs_the_local_file_with_only_paths_and_ports_filled_in(
    tmp_path: Path,
) -> None:
    tool_or_skip("prometheus")
    rendered = render_local(
        "prometheus", tmp_path, PROMETHEUS_PORT="19090", ALERTMANAGER_PORT="19093"
    )
    config = yaml.safe_load(rendered.read_text())
    local = yaml.safe_load((PROMETHEUS / "prometheus.local.yml").read_text())
    assert without_targets(config) | {"rule_files": []} == without_targets(local) | {
        "rule_files": []
    }
    assert config["rule_files"] == [f"{PROMETHEUS}/rules/*.yml"]
    assert config["global"] == local["global"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["detector"]["file_sd_configs"][0]["files"] == [
        f"{tmp_path}/prometheus/targets/detector*.json"
    ]
    assert jobs["prometheus"]["static_configs"][0]["targets"] == ["127.0.0.1:19090"]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "127.0.0.1:19093"
    ]
    targets = json.loads((tmp_path / "prometheus" / "targets" / "detector.json").read_text())
    assert targets == [{"targets": ["127.0.0.1:8000"]}]
