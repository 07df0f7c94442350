"""Write the Kubernetes files that restate another file of the repository, from that file.

    python deploy/k8s/generate.py           rewrite them
    python deploy/k8s/generate.py --check   exit 1 when a committed one differs (what a test runs)

- components/prometheus-operator/prometheusrule.yaml: the groups of deploy/prometheus/rules/*.yml,
  unchanged, as one PrometheusRule (the rule files stay the one source);
- components/strimzi/users.yaml: one KafkaUser per principal of deploy/local/kafka_grants.py's
  GRANTS (SCRAM-SHA-512), with exactly those grants as ACLs, plus what the model topic of
  base/detector.env needs (the local stack shares a model directory instead).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
RULES = REPO / "deploy" / "prometheus" / "rules"
GRANTS_SCRIPT = REPO / "deploy" / "local" / "kafka_grants.py"
DETECTOR_ENV = HERE / "base" / "detector.env"
CLUSTER = "kafka"  # the Strimzi Kafka resource the users belong to
HEADER = "# Written by deploy/k8s/generate.py from {source}: edit the source, then run it.\n"


class Dumper(yaml.SafeDumper):
    """YAML with multi-line strings as literal blocks, lists indented under their key."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> Any:
        return super().increase_indent(flow, False)


def literal(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    """A string, as a `|` block when it spans lines."""
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


Dumper.add_representer(str, literal)


def dump(documents: list[dict[str, Any]], source: str) -> str:
    """The documents as one YAML stream under the header naming their source."""
    body = yaml.dump_all(documents, Dumper=Dumper, sort_keys=False, width=100,
                         allow_unicode=True)
    return HEADER.format(source=source) + body


def rule_files() -> list[Path]:
    """The rule files Prometheus loads, in a fixed order."""
    return sorted(RULES.glob("*.yml"))


def prometheus_rule() -> str:
    """One PrometheusRule holding every group of every rule file."""
    groups = [group for path in rule_files()
              for group in yaml.safe_load(path.read_text())["groups"]]
    rule = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
            "metadata": {"name": "detector", "labels": {"app.kubernetes.io/name": "detector"}},
            "spec": {"groups": groups}}
    return dump([rule], "deploy/prometheus/rules/*.yml")


def load_grants() -> ModuleType:
    """deploy/local/kafka_grants.py, imported as a module (it needs the repository on the path)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    spec = importlib.util.spec_from_file_location("kafka_grants", GRANTS_SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def detector_env() -> dict[str, str]:
    """The variables of base/detector.env (the detector's ConfigMap)."""
    lines = [line.strip() for line in DETECTOR_ENV.read_text().splitlines()]
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def model_topic_grants() -> list[tuple[str, Any, Any, str]]:
    """What the model topic needs beyond the local stack's grants (which share a directory):
    READ for `detector serve --model-topic` to follow it, WRITE for `detector retrain` (the same
    user) to publish on it, DESCRIBE_CONFIGS for both to check that it is compacted (Strimzi's
    KafkaTopic makes it)."""
    from kafka.admin import ACLOperation, ResourceType

    topic = detector_env()["DETECTOR_MODEL_TOPIC"]
    return [("detector", operation, ResourceType.TOPIC, topic) for operation in
            (ACLOperation.READ, ACLOperation.WRITE, ACLOperation.DESCRIBE_CONFIGS)]


def camel(name: str, first_upper: bool) -> str:
    """An enum name (DESCRIBE_CONFIGS, TOPIC) as Strimzi spells it (DescribeConfigs, topic)."""
    words = [word.capitalize() for word in name.lower().split("_")]
    text = "".join(words)
    return text if first_upper else text[0].lower() + text[1:]


def acl_entries(grants: list[tuple[str, Any, Any, str]], user: str) -> list[dict[str, Any]]:
    """A user's grants as Strimzi ACL rules, one per resource, operations in grant order."""
    entries: dict[tuple[str, str], list[str]] = {}
    for principal, operation, kind, name in grants:
        if principal == user:
            key = (camel(kind.name, False), name)
            entries.setdefault(key, []).append(camel(operation.name, True))
    return [{"resource": {"type": kind, "name": name, "patternType": "literal"},
             "operations": operations, "host": "*"}
            for (kind, name), operations in entries.items()]


def kafka_users() -> str:
    """One KafkaUser per principal of the local stack's grants, with those grants and the
    model topic's."""
    grants = load_grants().GRANTS + model_topic_grants()
    users = list(dict.fromkeys(principal for principal, *_ in grants))
    documents = [
        {"apiVersion": "kafka.strimzi.io/v1", "kind": "KafkaUser",
         "metadata": {"name": user, "labels": {"strimzi.io/cluster": CLUSTER}},
         "spec": {"authentication": {"type": "scram-sha-512"},
                  "authorization": {"type": "simple", "acls": acl_entries(grants, user)}}}
        for user in users]
    return dump(documents, "deploy/local/kafka_grants.py's GRANTS and base/detector.env")


def outputs() -> dict[Path, str]:
    """Each generated file and the text it must hold."""
    return {HERE / "components" / "prometheus-operator" / "prometheusrule.yaml": prometheus_rule(),
            HERE / "components" / "strimzi" / "users.yaml": kafka_users()}


def main(argv: list[str]) -> int:
    stale = [path for path, text in outputs().items()
             if not path.is_file() or path.read_text() != text]
    if argv[:1] == ["--check"]:
        for path in stale:
            print(f"{path.relative_to(REPO)} is stale: run python deploy/k8s/generate.py",
                  file=sys.stderr)
        return 1 if stale else 0
    for path, text in outputs().items():
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
