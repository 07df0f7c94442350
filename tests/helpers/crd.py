"""Custom resources checked offline against their CRD's structural schema, as the API server would.

The API server silently prunes every field a structural schema does not declare (unless the
schema says `x-kubernetes-preserve-unknown-fields` or gives `additionalProperties`), so a typo
such as `pollingIntervall` would be accepted and do nothing. `problems` walks the resource with
its `openAPIV3Schema` and reports those fields, plus what a schema check refuses: a wrong type,
a value outside `enum`, `minimum`/`maximum`, `pattern` or the length bounds, a missing `required`
field. `metadata` is checked as Kubernetes 1.32's ObjectMeta (kubernetes-validate's strict
schema). Not evaluated: CEL rules (`x-kubernetes-validations`) and `anyOf`/`oneOf` value checks
other than int-or-string.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml
from referencing import Registry, Resource

from tests.helpers import REPO

CRDS = REPO / "tests" / "data" / "k8s-crds"
K8S_SCHEMAS = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
TYPES: dict[str, tuple[type, ...]] = {"object": (dict,), "array": (list,), "string": (str,),
                                      "integer": (int,), "number": (int, float),
                                      "boolean": (bool,)}


@cache
def schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) → the openAPIV3Schema of every served version of every CRD kept."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(CRDS.rglob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            spec = crd["spec"]
            for version in spec["versions"]:
                if version.get("served"):
                    key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                    found[key] = version["schema"]["openAPIV3Schema"]
    return found


@cache
def object_meta() -> jsonschema.Validator:
    """A validator of ObjectMeta by Kubernetes 1.32's strict schema (no unknown fields)."""
    folder = K8S_SCHEMAS / "v1.32.0-local-strict"
    definitions = json.loads((folder / "_definitions.json").read_text())
    registry = Resource.from_contents(definitions) @ Registry()
    return jsonschema.Draft202012Validator(
        {"$ref": f"{definitions['$id']}#/$defs/{OBJECT_META}"}, registry=registry)


def has_type(value: Any, schema: dict[str, Any]) -> bool:
    """Whether the value has the schema's type (a bool is no number here, as in JSON)."""
    if schema.get("x-kubernetes-int-or-string"):
        return isinstance(value, int | str) and not isinstance(value, bool)
    kind = schema.get("type")
    if kind is None:
        return True
    if isinstance(value, bool) and kind != "boolean":
        return False
    return isinstance(value, TYPES[kind])


def value_problems(value: Any, schema: dict[str, Any], path: str) -> list[str]:
    """What the schema's value checks (enum, bounds, pattern, lengths) refuse in one value."""
    found = []
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            found.append(f"{path}: {value} is below the minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            found.append(f"{path}: {value} is above the maximum {schema['maximum']}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            found.append(f"{path}: {value!r} does not match {schema['pattern']!r}")
        if len(value) < schema.get("minLength", 0):
            found.append(f"{path}: shorter than {schema['minLength']} characters")
        if len(value) > schema.get("maxLength", len(value)):
            found.append(f"{path}: longer than {schema['maxLength']} characters")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            found.append(f"{path}: fewer than {schema['minItems']} items")
        if len(value) > schema.get("maxItems", len(value)):
            found.append(f"{path}: more than {schema['maxItems']} items")
    return found


def object_problems(value: dict[str, Any], schema: dict[str, Any], path: str) -> list[str]:
    """An object's missing required fields, the fields it would lose, and its fields' problems."""
    found = [f"{path}.{name}: required" for name in schema.get("required", [])
             if name not in value]
    declared = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    keeps_unknown = schema.get("x-kubernetes-preserve-unknown-fields") or extra is True
    for name, item in value.items():
        if name in declared:
            found += problems(item, declared[name], f"{path}.{name}")
        elif isinstance(extra, dict):
            found += problems(item, extra, f"{path}.{name}")
        elif not keeps_unknown:
            found.append(f"{path}.{name}: unknown field (the API server would drop it)")
    return found


def problems(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """Everything the structural schema refuses or would prune in the value, one line each."""
    if value is None:
        return [] if schema.get("nullable") else [f"{path}: null"]
    if not has_type(value, schema):
        return [f"{path}: {type(value).__name__} where the schema wants "
                f"{schema.get('type', 'int-or-string')}"]
    found = value_problems(value, schema, path)
    if isinstance(value, dict):
        found += object_problems(value, schema, path)
    elif isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            found += problems(item, schema["items"], f"{path}[{index}]")
    return found


def resource_problems(resource: dict[str, Any]) -> list[str]:
    """A custom resource's problems against its CRD; its metadata against ObjectMeta."""
    key = (resource.get("apiVersion", ""), resource.get("kind", ""))
    schema = schemas().get(key)
    if schema is None:
        return [f"no CRD in {CRDS.relative_to(REPO)} serves {key[0]} {key[1]}"]
    body = {name: item for name, item in resource.items() if name != "metadata"}
    found = problems(body, schema)
    found += [f".metadata{''.join(f'.{p}' for p in error.absolute_path)}: {error.message}"
              for error in object_meta().iter_errors(resource.get("metadata", {}))]
    if "name" not in resource.get("metadata", {}):
        found.append(".metadata.name: required")
    return found
