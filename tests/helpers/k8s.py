"""deploy/k8s/ as a cluster would receive it: each kustomization rendered by `kubectl kustomize`,
the objects it makes, and a container's command line and environment as its process gets them.

Without kubectl the tests that render skip with one line, except under CI=true, where they fail.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from detector.cli import main as detector_main
from producer.cli import main as producer_main
from tests.helpers import REPO, unavailable

K8S = REPO / "deploy" / "k8s"
CLIS = {"detector": detector_main, "producer": producer_main}
Object = dict[str, Any]


def kustomizations() -> list[str]:
    """Every buildable kustomization under deploy/k8s (base and overlays, not components)."""
    found = []
    for path in sorted(K8S.rglob("kustomization.yaml")):
        if yaml.safe_load(path.read_text()).get("kind", "Kustomization") == "Kustomization":
            found.append(str(path.parent.relative_to(K8S)))
    return found


def kubectl() -> str:
    """The kubectl binary; a one-line skip where it is missing (a failure under CI=true)."""
    return shutil.which("kubectl") or unavailable(
        "kubectl is not installed: deploy/k8s is not rendered")


@cache
def rendered(name: str) -> tuple[Object, ...]:
    """The objects `kubectl kustomize deploy/k8s/NAME` prints."""
    done = subprocess.run([kubectl(), "kustomize", str(K8S / name)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def one(objects: tuple[Object, ...], kind: str, name: str | None = None) -> Object:
    """The only object of that kind (and name)."""
    found = [o for o in objects
             if o["kind"] == kind and name in (None, o["metadata"]["name"])]
    assert len(found) == 1, f"{len(found)} {kind} {name or ''} objects"
    return found[0]


def of_kind(objects: tuple[Object, ...], kind: str) -> list[Object]:
    """Every object of that kind."""
    return [o for o in objects if o["kind"] == kind]


def container(deployment: Object, name: str) -> Object:
    """A container (or init container) of a Deployment's pod template."""
    spec = deployment["spec"]["template"]["spec"]
    found = [c for c in spec["containers"] + spec.get("initContainers", []) if c["name"] == name]
    assert len(found) == 1, f"{deployment['metadata']['name']} has no container {name}"
    return found[0]


def argv(box: Object) -> list[str] | None:
    """The command line of ours a container runs: its command and args, or the one its
    `sh -c` script runs (between `||`, `&&` or `;`, after an `exec`); None for another."""
    words = box.get("command", []) + box.get("args", [])
    if words[:2] == ["sh", "-c"]:
        lexer = shlex.shlex(words[2], posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        found: list[list[str]] = [[]]
        for token in lexer:
            if token in {";", "&&", "||"}:
                found.append([])
            elif not (token == "exec" and not found[-1]):
                found[-1].append(token)
        ours = [line for line in found if line and line[0] in CLIS]
        assert len(ours) <= 1, f"{box['name']} runs {len(ours)} commands of ours"
        return ours[0] if ours else None
    return words if words and words[0] in CLIS else None


def environment(objects: tuple[Object, ...], box: Object) -> dict[str, str]:
    """What a container's process finds in its environment: envFrom (ConfigMaps rendered here;
    optional Secrets made elsewhere are left out), then env. A value from a Secret's key becomes
    `<secret NAME/KEY>`."""
    found: dict[str, str] = {}
    for source in box.get("envFrom", []):
        if "configMapRef" in source:
            found.update(one(objects, "ConfigMap", source["configMapRef"]["name"])["data"])
        else:
            assert source["secretRef"].get("optional"), "a Secret made outside must be optional"
    for item in box.get("env", []):
        if "value" in item:
            found[item["name"]] = item["value"]
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            found[item["name"]] = f"<secret {ref['name']}/{ref['key']}>"
    return found


def mounted_secret(deployment: Object, box: Object, path: str) -> tuple[str, str] | None:
    """(Secret, key) whose file a path in the container is, or None when no Secret is there."""
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    for mount in box.get("volumeMounts", []):
        folder = mount["mountPath"].rstrip("/") + "/"
        secret = volumes[mount["name"]]
        if path.startswith(folder) and "secret" in secret:
            file = path[len(folder):]
            items = secret["secret"].get("items")
            keys = {i["path"]: i["key"] for i in items} if items else {file: file}
            if file in keys:
                return secret["secret"]["secretName"], keys[file]
    return None


def parse(argv: list[str], environ: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict:
    """The option values the real click command gets from this command line and environment."""
    for key in [k for k in os.environ if k.startswith(("DETECTOR_", "PRODUCER_"))]:
        monkeypatch.delenv(key)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    group = CLIS[argv[0]]
    parent = click.Context(group, info_name=argv[0])
    command = group.get_command(parent, argv[1])
    assert command is not None, f"{argv[0]} has no command {argv[1]!r}"
    return command.make_context(argv[1], argv[2:], parent=parent).params


def secret_files(deployment: Object, box: Object, environ: dict[str, str],
                 folder: Path) -> dict[str, str]:
    """The environment with each path into a mounted Secret replaced by a file in `folder`, so
    that options that want an existing file accept it; a *_FILE path that is no mounted Secret
    key stays as it is (and the CLI refuses it)."""
    swapped = dict(environ)
    for name, value in environ.items():
        source = mounted_secret(deployment, box, value) if value.startswith("/") else None
        if source is not None:
            stand_in = folder / "-".join(source)
            stand_in.write_text("stand-in\n")
            swapped[name] = str(stand_in)
    return swapped


def quantity_mib(text: str) -> float:
    """A memory quantity (Mi, Gi, M, G or bytes) in MiB."""
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "M": 1e6 / 2**20, "G": 1e9 / 2**20}
    for unit, factor in units.items():
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text) / 2**20


def quantity_cores(text: str) -> float:
    """A CPU quantity (500m or 1) in cores."""
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)
