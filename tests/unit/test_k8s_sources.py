"""deploy/k8s/ agrees with what it restates: the PrometheusRule with deploy/prometheus/rules/,
the KafkaUsers with the local stack's grants, the topics with its topics, the ScaledObject with
the detector's own consumer group and the partitions of `readings`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import REPO, load_script
from tests.helpers.k8s import container, environment, one, parse, rendered
from tests.helpers.secure import GRANTS as GRANTS_SCRIPT

GENERATE = load_script(REPO / "deploy" / "k8s" / "generate.py")
RULES = REPO / "deploy" / "prometheus" / "rules"
KEDA_SASL = {"PLAIN": "plaintext", "SCRAM-SHA-256": "scram_sha256", "SCRAM-SHA-512": "scram_sha512"}


def daemon_options(name: str, deployment: str, monkeypatch: pytest.MonkeyPatch
                   ) -> dict[str, Any]:
    """The options of the command a Deployment's container of the same name runs, in a
    rendering, Secret files aside (they are not read here)."""
    objects = rendered(name)
    box = container(one(objects, "Deployment", deployment), deployment)
    environ = {k: v for k, v in environment(objects, box).items()
               if not k.endswith(("_FILE", "_CAFILE"))}
    return parse(box["command"], environ, monkeypatch)


def serve_options(name: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """`detector serve`'s options in a rendering."""
    return daemon_options(name, "detector", monkeypatch)


def test_the_generated_files_are_what_the_generator_writes_now() -> None:
    assert GENERATE.main(["--check"]) == 0, "run: python deploy/k8s/generate.py"


def test_the_prometheus_rule_holds_exactly_the_groups_of_the_rule_files() -> None:
    groups = [group for path in sorted(RULES.glob("*.yml"))
              for group in yaml.safe_load(path.read_text())["groups"]]
    rule = one(rendered("overlays/prometheus-operator"), "PrometheusRule")
    assert rule["spec"]["groups"] == groups
    assert len(groups) >= 3


def test_the_pod_monitor_names_the_job_the_rules_select() -> None:
    objects = rendered("overlays/prometheus-operator")
    monitor = one(objects, "PodMonitor", "detector")["spec"]
    pods = one(objects, "Deployment", "detector")["spec"]["template"]["metadata"]["labels"]
    job = pods[monitor["jobLabel"]]
    assert job == "detector"
    assert 'up{job="detector"}' in (RULES / "detector-alerts.yml").read_text()
    assert monitor["selector"]["matchLabels"].items() <= pods.items()
    ports = [p["name"] for p in container(one(objects, "Deployment", "detector"),
                                          "detector")["ports"]]
    assert [e["port"] for e in monitor["podMetricsEndpoints"]] == ["metrics"]
    assert "metrics" in ports


def acl_set(users: list[dict[str, Any]]) -> set[tuple[str, str, str, str]]:
    """Every (user, operation, resource type, name) the KafkaUsers allow, as kafka-python names
    them (READ, DESCRIBE_CONFIGS, TOPIC) without the underscores."""
    found = set()
    for user in users:
        for acl in user["spec"]["authorization"]["acls"]:
            assert acl.get("type", "allow") == "allow"
            assert acl["resource"].get("patternType", "literal") == "literal"
            assert acl.get("host", "*") == "*"
            for operation in acl["operations"]:
                found.add((user["metadata"]["name"], operation.upper(),
                           acl["resource"]["type"].upper(), acl["resource"]["name"]))
    return found


def plain(grants: list[tuple[str, Any, Any, str]]) -> set[tuple[str, str, str, str]]:
    """kafka_grants-style grants in acl_set's spelling."""
    return {(user, operation.name.replace("_", ""), kind.name.replace("_", ""), name)
            for user, operation, kind, name in grants}


def test_the_kafka_users_allow_the_local_stacks_grants_and_the_model_topics(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    users = [o for o in rendered("overlays/strimzi") if o["kind"] == "KafkaUser"]
    extra = GENERATE.model_topic_grants()
    assert acl_set(users) == plain(GRANTS_SCRIPT.GRANTS) | plain(extra)
    assert all(u["spec"]["authentication"]["type"] == "scram-sha-512" for u in users)
    # Beyond the local stack's: only what following the model topic needs, on that topic.
    serve = serve_options("overlays/strimzi", monkeypatch)
    assert {(user, op.name, kind.name, name) for user, op, kind, name in extra} == {
        ("detector", operation, "TOPIC", serve["model_topic"])
        for operation in ("READ", "WRITE", "DESCRIBE_CONFIGS")}


def test_the_topics_are_the_local_stacks_and_the_model_topic(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topics = {t["metadata"]["name"]: t["spec"]
              for t in rendered("overlays/strimzi") if t["kind"] == "KafkaTopic"}
    serve = serve_options("overlays/strimzi", monkeypatch)
    model = topics.pop(serve["model_topic"])
    assert model["partitions"] == 1 and model["config"]["cleanup.policy"] == "compact"
    assert {name: spec["partitions"] for name, spec in topics.items()} == GRANTS_SCRIPT.TOPICS
    assert all(int(spec["config"]["retention.ms"]) > 0 for spec in topics.values())
    assert {serve["topic"], serve["anomalies_topic"], serve["dlq_topic"]} == set(topics)
    assert serve["partitions"] == topics[serve["topic"]]["partitions"]


def test_the_scaled_object_follows_the_detectors_own_group(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    objects = rendered("overlays/keda")
    scaled = one(objects, "ScaledObject")["spec"]
    serve = serve_options("overlays/keda", monkeypatch)
    (trigger,) = scaled["triggers"]
    meta = trigger["metadata"]
    assert trigger["type"] == "kafka"
    assert meta["consumerGroup"] == serve["group"]
    assert meta["topic"] == serve["topic"]
    assert meta["bootstrapServers"] == serve["bootstrap"]
    assert meta["offsetResetPolicy"] == serve["offset_reset"]
    assert meta["sasl"] == KEDA_SASL[serve["sasl_mechanism"]]
    assert meta["tls"] == ("enable" if serve["security_protocol"].endswith("SSL") else "disable")
    assert scaled["scaleTargetRef"]["name"] == "detector"
    assert "replicas" not in one(objects, "Deployment", "detector")["spec"], "the HPA owns it"


def test_the_scaled_object_stays_within_the_partitions_and_above_a_replicas_own_lag(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    objects = rendered("overlays/keda")
    scaled = one(objects, "ScaledObject")["spec"]
    serve = serve_options("overlays/keda", monkeypatch)
    partitions = one(objects, "KafkaTopic", serve["topic"])["spec"]["partitions"]
    assert 1 <= scaled["minReplicaCount"] <= scaled["maxReplicaCount"] <= partitions
    assert partitions == serve["partitions"] == GRANTS_SCRIPT.TOPICS["readings"]
    # A replica keeping up holds up to two batches in flight before it commits them: a lower
    # threshold would add replicas with no backlog at all.
    assert int(scaled["triggers"][0]["metadata"]["lagThreshold"]) > 2 * serve["batch_size"]


def test_keda_authenticates_as_the_detector_with_the_secrets_it_mounts() -> None:
    objects = rendered("overlays/keda")
    auth = one(objects, "TriggerAuthentication", "detector-kafka")["spec"]
    trigger = one(objects, "ScaledObject")["spec"]["triggers"][0]
    assert trigger["authenticationRef"]["name"] == "detector-kafka"
    deployment = one(objects, "Deployment", "detector")
    volumes = {(v["secret"]["secretName"], i["key"])
               for v in deployment["spec"]["template"]["spec"]["volumes"] if "secret" in v
               for i in v["secret"]["items"]}
    refs = {r["parameter"]: (r["name"], r["key"]) for r in auth["secretTargetRef"]}
    assert set(refs) == {"password", "ca"} and set(refs.values()) == volumes
    (username,) = auth["env"]
    box = container(deployment, username["containerName"])
    assert username["parameter"] == "username"
    assert environment(objects, box)[username["name"]] == "detector"


def test_docs_name_every_file_under_deploy_k8s() -> None:
    text = (REPO / "docs" / "kubernetes.md").read_text()
    folders = {str(p.parent.relative_to(REPO)) for p in
               (REPO / "deploy" / "k8s").rglob("kustomization.yaml")}
    missing = {f for f in folders if f.removeprefix("deploy/k8s/") not in text}
    assert not missing, missing


def retrain_options(name: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """`detector retrain`'s options in a rendering."""
    return daemon_options(name, "retrainer", monkeypatch)


@pytest.mark.parametrize("name", ["base", "overlays/strimzi"])
def test_one_retrainer_feeds_the_model_topic_the_detectors_follow(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = rendered(name)
    serve, retrain = serve_options(name, monkeypatch), retrain_options(name, monkeypatch)
    assert retrain["model_topic"] == serve["model_topic"] is not None
    assert (retrain["topic"], retrain["bootstrap"]) == (serve["topic"], serve["bootstrap"])
    assert retrain["group"] != serve["group"], "in the detectors' group it would take partitions"
    deployment = one(objects, "Deployment", "retrainer")["spec"]
    assert deployment["replicas"] == 1 and deployment["strategy"] == {"type": "Recreate"}
    pod = deployment["template"]["spec"]
    mounts = {m["mountPath"]: m["name"] for m in container(
        one(objects, "Deployment", "retrainer"), "retrainer")["volumeMounts"]}
    volume = {v["name"]: v for v in pod["volumes"]}[mounts[str(Path(retrain["model"]).parent)]]
    claim = one(objects, "PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    first = container(one(objects, "Deployment", "retrainer"), "model")["command"]
    assert first[:2] == ["sh", "-c"] and first[2].startswith(
        f"test -f {retrain['model']}/bundle.json ||"), "a restart keeps what was promoted"


def test_the_pod_monitors_name_the_jobs_the_rules_select() -> None:
    objects = rendered("overlays/prometheus-operator")
    jobs = {one(objects, "Deployment", m["metadata"]["name"])["spec"]["template"]["metadata"][
        "labels"][m["spec"]["jobLabel"]] for m in objects if m["kind"] == "PodMonitor"}
    assert jobs == {"detector", "retrainer"}
    rules = "".join(p.read_text() for p in RULES.glob("*.yml"))
    assert 'job="detector"' in rules and "detector_retrain_total" in rules
