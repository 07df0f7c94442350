"""deploy/k8s/ validated offline, as rendered by `kubectl kustomize`: every core object by
Kubernetes 1.32's strict schemas (kubernetes-validate, no unknown field), every custom resource
by its CRD's structural schema with no field the API server would silently drop. A typo fails."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import kubernetes_validate
import pytest

from tests.helpers.crd import resource_problems, schemas
from tests.helpers.k8s import kustomizations, one, rendered

KUBERNETES = "1.32"
KUSTOMIZATIONS = kustomizations()


@cache
def has_schema(api_version: str, kind: str) -> bool:
    """Whether kubernetes-validate knows the kind (else it is a custom resource)."""
    try:
        kubernetes_validate.validate({"apiVersion": api_version, "kind": kind}, KUBERNETES)
    except kubernetes_validate.SchemaNotFoundError:
        return False
    except kubernetes_validate.ValidationError:
        pass
    return True


def is_core(obj: dict[str, Any]) -> bool:
    """Whether the object is one of Kubernetes' own."""
    return has_schema(obj["apiVersion"], obj["kind"])


def test_the_base_and_the_overlays_are_all_rendered() -> None:
    assert {"base", "overlays/keda", "overlays/prometheus-operator",
            "overlays/strimzi", "overlays/demo"} <= set(KUSTOMIZATIONS)


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_every_core_object_validates_strictly(name: str) -> None:
    for obj in rendered(name):
        if is_core(obj):
            kubernetes_validate.validate(obj, KUBERNETES, strict=True)


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_every_custom_resource_matches_its_crd(name: str) -> None:
    found = [f"{obj['kind']}/{obj['metadata']['name']}{line}"
             for obj in rendered(name) if not is_core(obj)
             for line in resource_problems(obj)]
    assert not found, found


def test_every_kept_crd_is_used_and_every_custom_resource_has_one() -> None:
    used = {(obj["apiVersion"], obj["kind"]) for name in KUSTOMIZATIONS
            for obj in rendered(name) if not is_core(obj)}
    assert used == set(schemas())


def edit(obj: dict[str, Any], path: list[Any], new_key: str | None = None,
         value: Any = None) -> dict[str, Any]:
    """A copy of obj with the field at path renamed to new_key, or set to value."""
    changed = copy.deepcopy(obj)
    *parents, last = path
    holder = changed
    for step in parents:
        holder = holder[step]
    if new_key is not None:
        holder[new_key] = holder.pop(last)
    else:
        holder[last] = value
    return changed


TYPOS = [  # rendering, kind/name, path, misspelt key (or None and a bad value), what is said
    ("overlays/keda", "ScaledObject/detector", ["spec", "pollingInterval"], "pollingIntervall",
     None, ".spec.pollingIntervall: unknown field"),
    ("overlays/keda", "ScaledObject/detector",
     ["spec", "triggers", 0, "authenticationRef", "name"], "nmae", None,
     ".spec.triggers[0].authenticationRef.nmae: unknown field"),
    ("overlays/keda", "ScaledObject/detector", ["spec", "minReplicaCount"], None, "1",
     ".spec.minReplicaCount: str where the schema wants integer"),
    ("overlays/keda", "TriggerAuthentication/detector-kafka", ["spec", "secretTargetRef"],
     "secretTargetRefs", None, ".spec.secretTargetRefs: unknown field"),
    ("overlays/strimzi", "KafkaUser/detector",
     ["spec", "authorization", "acls", 0, "operations"], None, ["Reed"],
     ".spec.authorization.acls[0].operations[0]: 'Reed' is not one of"),
    ("overlays/strimzi", "KafkaTopic/readings", ["spec", "partitions"], None, 0,
     ".spec.partitions: 0 is below the minimum 1"),
    ("overlays/prometheus-operator", "PodMonitor/detector",
     ["spec", "podMetricsEndpoints", 0, "port"], "prot", None,
     ".spec.podMetricsEndpoints[0].prot: unknown field"),
    ("overlays/prometheus-operator", "PrometheusRule/detector", ["spec", "groups", 0, "rules"],
     "rule", None, ".spec.groups[0].rule: unknown field"),
    ("overlays/prometheus-operator", "PodMonitor/detector", ["metadata", "labels"], "lables",
     None, ".metadata: Additional properties are not allowed ('lables' was unexpected)"),
]


@pytest.mark.parametrize(("name", "which", "path", "new_key", "value", "said"), TYPOS,
                         ids=[f"{t[1].split('/')[0]}-{t[3] or t[2][-1]}" for t in TYPOS])
def test_a_typo_in_a_custom_resource_fails(name: str, which: str, path: list[Any],
                                           new_key: str | None, value: Any, said: str) -> None:
    obj = one(rendered(name), *which.split("/"))
    assert resource_problems(obj) == []
    found = resource_problems(edit(obj, path, new_key, value))
    assert any(line.startswith(said) for line in found), found


def test_a_typo_in_a_core_object_fails() -> None:
    deployment = one(rendered("base"), "Deployment", "detector")
    kubernetes_validate.validate(deployment, KUBERNETES, strict=True)
    assert deployment["spec"]["template"]["spec"]["containers"][0]["name"] == "detector"
    bad = edit(deployment, ["spec", "template", "spec", "containers", 0, "livenessProbe"],
               "livenessProbes")
    with pytest.raises(kubernetes_validate.ValidationError, match="livenessProbes"):
        kubernetes_validate.validate(bad, KUBERNETES, strict=True)
