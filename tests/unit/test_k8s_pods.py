"""The pods deploy/k8s/ makes, as the kubelet and the scheduler see them: non-root with a
read-only root file system and no privilege escalation, probes on /livez and /healthz, resources
sized by the measured figures (docs/kubernetes.md, "Sizing a pod"), rollouts and disruptions that
keep the consumer group whole, and the image the Compose file builds."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest
from kafka import KafkaConsumer

from detector.cli.serve import consumer_settings
from tests.helpers import REPO
from tests.helpers.compose import DOCKERFILE
from tests.helpers.k8s import (
    container,
    environment,
    kustomizations,
    of_kind,
    one,
    quantity_cores,
    quantity_mib,
    rendered,
)

KUSTOMIZATIONS = kustomizations()
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
# Measured (bench/RESULTS.md, memory per device): a replica serving a windowed bundle (window 20)
# held 236 MiB RSS with 100,000 devices on one partition, 1.47 KiB more a device; kafka-python
# may hold a whole fetch response (fetch_max_bytes) where that run fetched one partition's.
MEASURED_MIB, MEASURED_DEVICES, PER_DEVICE_KIB = 236, 100_000, 1.5
FETCH_MIB = (KafkaConsumer.DEFAULT_CONFIG["fetch_max_bytes"]
             - consumer_settings(5000)["max_partition_fetch_bytes"]) / 2**20
TRAIN_PEAK_MIB = 606  # the init container's training, at its highest (bench/RESULTS.md)


def pods(name: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(Deployment, container) for every container and init container of a rendering."""
    return [(d, box) for d in of_kind(rendered(name), "Deployment")
            for box in (d["spec"]["template"]["spec"]["containers"]
                        + d["spec"]["template"]["spec"].get("initContainers", []))]


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_every_container_runs_unprivileged_on_a_read_only_root(name: str) -> None:
    uid = re.search(r"--uid (\d+)", DOCKERFILE.read_text())[1]
    for deployment, box in pods(name):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert str(pod["securityContext"]["runAsUser"]) == uid
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert pod["automountServiceAccountToken"] is False
        context = box["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["readOnlyRootFilesystem"] is True
        assert context["capabilities"]["drop"] == ["ALL"]


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_every_container_runs_this_version_with_requests_and_limits(name: str) -> None:
    for _, box in pods(name):
        assert box["image"].rsplit(":", 1) == ["anomaly-detector", VERSION]
        for what in ("cpu", "memory"):
            request, limit = box["resources"]["requests"][what], box["resources"]["limits"][what]
            convert = quantity_cores if what == "cpu" else quantity_mib
            assert 0 < convert(request) <= convert(limit)


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_the_detector_is_sized_for_its_max_devices(name: str) -> None:
    objects = rendered(name)
    box = container(one(objects, "Deployment", "detector"), "detector")
    devices = int(environment(objects, box)["DETECTOR_MAX_DEVICES"])
    needed = (MEASURED_MIB + (devices - MEASURED_DEVICES) * PER_DEVICE_KIB / 1024 + FETCH_MIB)
    assert quantity_mib(box["resources"]["requests"]["memory"]) >= needed
    assert quantity_mib(box["resources"]["limits"]["memory"]) >= 1.5 * needed
    # A replica at full speed uses about one core (docs/performance.md): the limit allows it.
    assert quantity_cores(box["resources"]["limits"]["cpu"]) >= 1


def test_the_init_container_asks_what_training_takes() -> None:
    box = container(one(rendered("base"), "Deployment", "detector"), "model")
    assert quantity_mib(box["resources"]["requests"]["memory"]) >= TRAIN_PEAK_MIB
    assert quantity_mib(box["resources"]["limits"]["memory"]) >= 1.5 * TRAIN_PEAK_MIB


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_liveness_asks_livez_and_readiness_healthz_on_the_metrics_port(name: str) -> None:
    box = container(one(rendered(name), "Deployment", "detector"), "detector")
    assert box["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "metrics"}
    assert box["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert "startupProbe" not in box, "/livez answers from the start"
    assert [p["name"] for p in box["ports"]] == ["metrics"]


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_rollouts_and_drains_take_one_replica_at_a_time(name: str) -> None:
    objects = rendered(name)
    deployment = one(objects, "Deployment", "detector")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    rolling = deployment["spec"]["strategy"]["rollingUpdate"]
    assert (rolling["maxSurge"], rolling["maxUnavailable"]) == (0, 1)
    budget = one(objects, "PodDisruptionBudget")["spec"]
    assert budget["maxUnavailable"] == 1
    assert budget["selector"]["matchLabels"].items() <= labels.items()
    replicas = deployment["spec"].get("replicas", 1)
    box = container(deployment, "detector")
    assert replicas <= int(environment(objects, box)["DETECTOR_PARTITIONS"])
    assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= 30


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_a_service_reaches_every_replicas_metrics(name: str) -> None:
    objects = rendered(name)
    service = one(objects, "Service", "detector")["spec"]
    pod = one(objects, "Deployment", "detector")["spec"]["template"]
    assert service["selector"].items() <= pod["metadata"]["labels"].items()
    assert service["ports"] == [{"name": "metrics", "port": 8000, "targetPort": "metrics"}]
    assert service["publishNotReadyAddresses"] is True, "stand-by replicas report too"
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == "8000"


def test_the_producer_is_only_in_the_demo() -> None:
    with_producer = {name for name in KUSTOMIZATIONS
                     if any(d["metadata"]["name"] == "producer"
                            for d in of_kind(rendered(name), "Deployment"))}
    assert with_producer == {"overlays/demo"}
