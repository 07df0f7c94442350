"""Each Python service of docker-compose.yml, as its container would start it (the Dockerfile's
environment, then the service's), parsed by the real click command it calls: nothing runs and
no Docker engine is needed, yet a renamed option, a bad value or a port that Prometheus and the
healthcheck do not use fails here instead of in a container."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from detector.cli import main as detector_main
from producer.cli import main as producer_main
from tests.helpers import REPO
from tests.helpers.compose import DOCKERFILE, compose_file, dockerfile_env

GROUPS = {"detector": detector_main, "producer": producer_main}
SERVICES = compose_file()["services"]
SEPARATORS = {";", "&&", "||", "if", "then", "else", "fi", "&", "|"}


def invocations(command: list[str]) -> list[list[str]]:
    """The detector and producer command lines in a service's command (also inside `sh -c`)."""
    if command[:2] != ["sh", "-c"]:
        return [command] if command[0] in GROUPS else []
    lexer = shlex.shlex(command[2], posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    found: list[list[str]] = [[]]
    for token in lexer:
        if token in SEPARATORS:
            found.append([])
        else:
            found[-1].append(token)
    return [words for words in found if words and words[0] in GROUPS]


IMAGE_CMD = yaml.safe_load(re.search(r"^CMD (\[.*\])$", DOCKERFILE.read_text(), re.M)[1])
BUILT = {s["image"] for s in SERVICES.values() if "build" in s}
CALLS = [
    (name, argv)
    for name, service in SERVICES.items()
    if service["image"] in BUILT
    for argv in invocations(service.get("command") or IMAGE_CMD)
]


def parse(argv: list[str], environ: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict:
    """The option values click gives the subcommand for this command line and environment."""
    for key in [k for k in os.environ if k.startswith(("DETECTOR_", "PRODUCER_"))]:
        monkeypatch.delenv(key)
    for key, value in environ.items():
        monkeypatch.setenv(key, str(value))
    group = GROUPS[argv[0]]
    parent = click.Context(group, info_name=argv[0])
    command = group.get_command(parent, argv[1])
    assert command is not None, f"{argv[0]} has no command {argv[1]!r}"
    return command.make_context(argv[1], argv[2:], parent=parent).params


def container_env(service: dict[str, Any]) -> dict[str, str]:
    """What the container's process sees: the image's ENV, then the service's environment."""
    return {**dockerfile_env(), **(service.get("environment") or {})}


def healthcheck_port(service: dict[str, Any]) -> int:
    """The port of the http://127.0.0.1:PORT/ URL the service's healthcheck asks."""
    test = " ".join(service["healthcheck"]["test"])
    return int(re.search(r"http://127\.0\.0\.1:(\d+)/", test)[1])


def test_every_python_service_runs_a_known_command() -> None:
    assert {name for name, _ in CALLS} == {"trainer", "producer", "detector", "retrainer",
                                           "producer-secure", "detector-secure"}
    assert [argv[:2] for _, argv in CALLS] == [
        ["detector", "train"], ["producer", "simulate"], ["detector", "serve"],
        ["detector", "retrain"], ["producer", "simulate"], ["detector", "serve"]]


@pytest.mark.parametrize(("name", "argv"), CALLS, ids=[name for name, _ in CALLS])
def test_the_cli_accepts_the_service_command_and_environment(
    name: str, argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    params = parse(argv, container_env(SERVICES[name]), monkeypatch)
    if params.get("kafka_config"):  # the secure profile: its client file on the secrets volume
        mounts = {v.split(":")[1]: v.split(":")[0] for v in SERVICES[name]["volumes"]}
        assert mounts[str(Path(params["kafka_config"]).parent)] == "kafka-secrets"
    elif "bootstrap" in params:
        listeners = SERVICES["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
        assert f"PLAINTEXT://{params['bootstrap']}" in listeners.split(",")


def test_the_detector_serves_the_trained_model_where_prometheus_and_the_healthcheck_look(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    detector = SERVICES["detector"]
    params = parse(["detector", "serve"], container_env(detector), monkeypatch)
    trainer = dict(CALLS)["trainer"]
    trained = parse(trainer, container_env(SERVICES["trainer"]), monkeypatch)
    assert params["model"] == trained["out"] == "/models/current"
    assert params["metrics_host"] == "0.0.0.0", "Prometheus scrapes from another container"
    assert params["metrics_port"] == healthcheck_port(detector)
    assert str(params["metrics_port"]) in detector["expose"]
    scrape = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in scrape["scrape_configs"]}
    assert jobs["detector"]["dns_sd_configs"][0]["port"] == params["metrics_port"]


def test_the_detector_healthcheck_asks_liveness_not_readiness() -> None:
    test = " ".join(SERVICES["detector"]["healthcheck"]["test"])
    assert "/livez" in test and "/healthz" not in test


def test_the_producer_serves_metrics_where_prometheus_and_the_healthcheck_look(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    producer = SERVICES["producer"]
    params = parse(producer["command"], container_env(producer), monkeypatch)
    assert params["metrics_port"] == healthcheck_port(producer)
    assert str(params["metrics_port"]) in producer["expose"]
    scrape = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in scrape["scrape_configs"]}
    assert jobs["producer"]["static_configs"][0]["targets"] == [
        f"producer:{params['metrics_port']}"]


def test_the_image_default_command_is_accepted_too(monkeypatch: pytest.MonkeyPatch) -> None:
    params = parse(IMAGE_CMD, dockerfile_env(), monkeypatch)
    assert params["model"] == "/models/current"


def test_a_bad_option_in_a_service_would_fail_here(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(click.BadParameter):
        parse(["detector", "serve"], {"DETECTOR_MODEL": "/m", "DETECTOR_METRICS_PORT": "http"},
              monkeypatch)
    with pytest.raises(click.NoSuchOption):
        parse(["producer", "simulate", "--rate-per-second", "5"], {}, monkeypatch)
