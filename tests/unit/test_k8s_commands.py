"""Each container of deploy/k8s that runs the project's commands, as its process would start:
the command and arguments with the environment its ConfigMaps, env and mounted Secrets give it,
parsed by the real click command. Nothing runs and no cluster is needed, yet a renamed option, a
misspelt DETECTOR_* variable, a bad value or a Secret mounted where the option does not look
fails here, not in a pod."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click
import pytest

from tests.helpers.k8s import (
    CLIS,
    argv,
    container,
    environment,
    kustomizations,
    mounted_secret,
    of_kind,
    one,
    parse,
    rendered,
    secret_files,
)

# Read from the environment by the Kafka client code itself, not through a click option.
SECRET_VARIABLES = {f"{p}_{n}" for p in ("DETECTOR", "PRODUCER")
                    for n in ("SASL_PASSWORD", "SSL_KEY_PASSWORD")}


def calls(name: str) -> list[tuple[str, str]]:
    """(Deployment, container) of every container of a rendering that runs our commands."""
    return [(deployment["metadata"]["name"], box["name"])
            for deployment in of_kind(rendered(name), "Deployment")
            for box in (deployment["spec"]["template"]["spec"]["containers"]
                        + deployment["spec"]["template"]["spec"].get("initContainers", []))
            if argv(box) is not None]


def started(name: str, deployment: str, box: str, folder: Path,
            monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The options the container's command gets, with stand-ins for its mounted Secret files."""
    objects = rendered(name)
    owner = one(objects, "Deployment", deployment)
    spec = container(owner, box)
    environ = secret_files(owner, spec, environment(objects, spec), folder)
    command = argv(spec)
    assert command is not None
    return parse(command, environ, monkeypatch)


def declared_variables(argv: list[str]) -> set[str]:
    """Every environment variable the command reads: its options' and the secret ones."""
    group = CLIS[argv[0]]
    command = group.get_command(click.Context(group), argv[1])
    assert command is not None
    return {p.envvar for p in command.params if isinstance(p.envvar, str)} | SECRET_VARIABLES


def test_the_detector_the_retrainer_their_trainers_and_the_producer_are_all_checked() -> None:
    assert {call for name in kustomizations() for call in calls(name)} == {
        ("detector", "detector"), ("detector", "model"), ("retrainer", "retrainer"),
        ("retrainer", "model"), ("producer", "producer")}


@pytest.mark.parametrize("name", kustomizations())
def test_the_cli_accepts_every_container_command_and_environment(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for deployment, box in calls(name):
        params = started(name, deployment, box, tmp_path, monkeypatch)
        spec = container(one(rendered(name), "Deployment", deployment), box)
        variables = environment(rendered(name), spec)
        command = argv(spec)
        assert command is not None
        prefix = f"{command[0].upper()}_"
        unknown = {v for v in variables if v.startswith(prefix)} - declared_variables(command)
        assert not unknown, f"{deployment}/{box}: variables no option reads: {sorted(unknown)}"
        if "metrics_port" in params:
            ports = {p["name"]: p["containerPort"] for p in spec["ports"]}
            assert params["metrics_port"] == ports["metrics"]
        if params.get("security_protocol"):
            assert params["security_protocol"] == "SASL_SSL" and params["sasl_password_file"]


@pytest.mark.parametrize("name", kustomizations())
def test_the_detector_serves_the_model_its_init_container_writes(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve = started(name, "detector", "detector", tmp_path, monkeypatch)
    train = started(name, "detector", "model", tmp_path, monkeypatch)
    assert train["out"] == serve["model"] == "/models/current"
    assert train["simulate"] and train["seed"] == 0, "replicas must train the same bundle"
    deployment = one(rendered(name), "Deployment", "detector")
    mounts = {box: {m["mountPath"]: m for m in container(deployment, box)["volumeMounts"]}
              for box in ("detector", "model")}
    assert mounts["detector"]["/models"]["name"] == mounts["model"]["/models"]["name"]
    assert mounts["detector"]["/models"].get("readOnly") is True
    assert serve["metrics_host"] == "0.0.0.0", "the kubelet probes the pod's own address"


@pytest.mark.parametrize("name", ["overlays/strimzi", "overlays/keda", "overlays/demo"])
def test_the_kafka_secrets_are_the_files_strimzi_makes_for_each_user(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = rendered(name)
    clusters = {user["metadata"]["labels"]["strimzi.io/cluster"]
                for user in of_kind(objects, "KafkaUser")}
    assert len(clusters) == 1
    cluster = clusters.pop()
    users = {"detector": "detector", "retrainer": "detector", "producer": "producer"}
    for deployment in of_kind(objects, "Deployment"):
        app = deployment["metadata"]["name"]
        user = users[app]  # the retrainer reads as the detector's user, as on the local stack
        box = container(deployment, app)
        environ = environment(objects, box)
        prefix = (argv(box) or [""])[0].upper()
        params = started(name, app, app, tmp_path, monkeypatch)
        assert params["bootstrap"] == f"{cluster}-kafka-bootstrap:9093"  # its TLS listener
        assert params["sasl_username"] == user
        assert one(objects, "KafkaUser", user)["spec"]["authentication"]["type"] == \
            params["sasl_mechanism"].lower()
        assert mounted_secret(deployment, box, environ[f"{prefix}_SASL_PASSWORD_FILE"]) == (
            user, "password")
        assert mounted_secret(deployment, box, environ[f"{prefix}_SSL_CAFILE"]) == (
            f"{cluster}-cluster-ca-cert", "ca.crt")


def test_the_base_reads_kafka_credentials_as_the_cli_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The optional Secret `detector-kafka` holds DETECTOR_* variables: with a SCRAM user in it
    the detector's options come out secured (the password never as an option)."""
    objects = rendered("base")
    box = container(one(objects, "Deployment", "detector"), "detector")
    assert {"secretRef": {"name": "detector-kafka", "optional": True}} in box["envFrom"]
    secret = {"DETECTOR_SECURITY_PROTOCOL": "SASL_SSL", "DETECTOR_SASL_MECHANISM": "SCRAM-SHA-512",
              "DETECTOR_SASL_USERNAME": "detector", "DETECTOR_SASL_PASSWORD": "s3cret"}
    assert set(secret) <= declared_variables(box["command"])
    params = parse(box["command"], {**environment(objects, box), **secret}, monkeypatch)
    assert (params["security_protocol"], params["sasl_username"]) == ("SASL_SSL", "detector")
    assert "s3cret" not in repr(params)


def test_a_bad_value_a_typo_or_a_secret_file_not_mounted_would_fail_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = rendered("base")
    box = container(one(objects, "Deployment", "detector"), "detector")
    with pytest.raises(click.BadParameter, match="not a valid integer"):
        parse(box["command"], {**environment(objects, box), "DETECTOR_METRICS_PORT": "http"},
              monkeypatch)
    assert "DETECTOR_GRUOP" not in declared_variables(box["command"])
    objects = rendered("overlays/strimzi")
    deployment = one(objects, "Deployment", "detector")
    box = container(deployment, "detector")
    environ = {**environment(objects, box), "DETECTOR_SSL_CAFILE": "/etc/kafka/cert/ca.crt"}
    with pytest.raises(click.BadParameter, match=re.escape("/etc/kafka/cert/ca.crt")):
        parse(box["command"], secret_files(deployment, box, environ, tmp_path), monkeypatch)
